-- Help texts of the e3 module (?e3.Irreps at the prompt): {key, signature,
-- text, example}. The examples run in tests/lua/test_repl_magics.lua.
local E3NN = " Conventions are e3nn's, so the numbers can be checked against it."

return {
  {"e3.Irrep", "e3.Irrep(l, p) | e3.Irrep('1o')",
   "An irreducible representation of O(3): degree l >= 0 and parity p (1 even, -1 odd; 'y' in a "
   .. "string means (-1)^l). Fields l, p, dim = 2l+1; ir1 * ir2 lists the irreps of their "
   .. "product; n * ir gives Irreps; methods is_scalar(), D_from_angles(a, b, c [, k]), "
   .. "D_from_matrix(R).",
   "print(e3.Irrep('1o') * e3.Irrep(2, 1))"},
  {"e3.Irreps", "e3.Irreps('16x0e + 8x1o + 4x2e')",
   "A list of (multiplicity, irrep): features are stored block after block, each block mul x "
   .. "(2l+1) with the copy index major, as in e3nn. Parsing errors show the string with a caret "
   .. "under the bad term. Fields dim, num_irreps, lmax; irreps[i].mul, .ir, .dim; methods "
   .. "simplify(), sort() (-> sorted, p, inv), slices() (1-based {start, stop}), count(ir), ls(), "
   .. "remove_zero_multiplicities(), randn(n...), D_from_angles, D_from_matrix(R) (the "
   .. "block-diagonal representation of an element of O(3), parity included); + and * n. "
   .. "e3.Irreps.spherical_harmonics(lmax [, p]) gives 0e+1o+2e+...",
   "local irreps = e3.Irreps('16x0e + 8x1o + 4x2e')\nprint(irreps, irreps.dim, irreps:sort())"},
  {"e3.wigner_D", "e3.wigner_D(l, alpha, beta, gamma)",
   "The real Wigner D matrix of degree l for YXY Euler angles (numbers or tensors that broadcast): "
   .. "(..., 2l+1, 2l+1), differentiable in the angles to any order, for any l up to 48. "
   .. "D(R1 R2) = D(R1) D(R2); for l = 1 it is the rotation matrix." .. E3NN,
   "print(e3.wigner_D(1, 0.1, 0.2, 0.3))"},
  {"e3.wigner_3j", "e3.wigner_3j(l1, l2, l3 [, {dtype = 'f64'}])",
   "The real Clebsch-Gordan tensor (2l1+1, 2l2+1, 2l3+1) of unit Frobenius norm, invariant under "
   .. "rotations; computed once per triple (l up to 16) and cached." .. E3NN,
   "print(e3.wigner_3j(1, 1, 1))"},
  {"e3.spherical_harmonics", "e3.spherical_harmonics(lmax | {l...} | irreps, x, {normalize = true, "
   .. "normalization = 'integral'})",
   "Real spherical harmonics of vectors x (..., 3). A number gives every degree 0..lmax (e3nn's "
   .. "function gives only degree l: pass {l} for that); a list of degrees or irreps like "
   .. "'0e+1o+2e' gives those. normalize projects x on the unit sphere first; normalization "
   .. "'component' (|Y^l|^2 = 2l+1), 'norm' (|Y^l| = 1) or 'integral' (unit L2 norm on the "
   .. "sphere). Up to l = 16, differentiable to any order." .. E3NN,
   "print(e3.spherical_harmonics(2, tycho.tensor({{0, 1, 0}}), {normalization = 'component'}))"},
  {"e3.angles_to_matrix", "e3.angles_to_matrix(alpha, beta, gamma)",
   "The rotation Ry(alpha) Rx(beta) Ry(gamma) (e3nn's YXY Euler angles), (..., 3, 3), "
   .. "differentiable.",
   "print(e3.angles_to_matrix(0, math.pi / 2, 0))"},
  {"e3.matrix_to_angles", "alpha, beta, gamma = e3.matrix_to_angles(R)",
   "The YXY Euler angles of rotation matrices (..., 3, 3), beta in [0, pi]; an error for a "
   .. "determinant other than 1. Not differentiable.",
   "print(e3.matrix_to_angles(e3.rand_rotation()))"},
  {"e3.rand_angles", "alpha, beta, gamma = e3.rand_angles([n...] [, {dtype =}])",
   "Euler angles of uniformly random rotations (beta = acos(u), u uniform in [-1, 1]).",
   "print(e3.rand_angles(2))"},
  {"e3.rand_rotation", "e3.rand_rotation([n...] [, {dtype =}])",
   "A uniformly random rotation matrix (3, 3), or a batch (n..., 3, 3); -R is an improper "
   .. "element of O(3).",
   "local R = e3.rand_rotation()\nprint(R:matmul(R:t()))"},
  {"e3.compose_quaternion", "e3.compose_quaternion(q1, q2)",
   "The Hamilton product of quaternions (w, x, y, z): the rotation q2 first, then q1.",
   "local q = e3.matrix_to_quaternion(e3.rand_rotation())\nprint(e3.compose_quaternion(q, q))"},
  {"e3.axis_angle_to_quaternion", "e3.axis_angle_to_quaternion(axis, angle)",
   "(cos(angle/2), axis sin(angle/2)), the axis normalised.",
   "print(e3.axis_angle_to_quaternion(tycho.tensor({0, 0, 2}), tycho.tensor(math.pi)))"},
  {"e3.angles_to_quaternion", "e3.angles_to_quaternion(alpha, beta, gamma)",
   "The quaternion of the YXY Euler angles.",
   "print(e3.angles_to_quaternion(0.1, 0.2, 0.3))"},
  {"e3.quaternion_to_matrix", "e3.quaternion_to_matrix(q)",
   "The rotation matrix of quaternions (normalised first), differentiable.",
   "print(e3.quaternion_to_matrix(tycho.tensor({1, 0, 0, 0})))"},
  {"e3.matrix_to_quaternion", "e3.matrix_to_quaternion(R)",
   "The quaternion (w >= 0) of rotation matrices.",
   "print(e3.matrix_to_quaternion(e3.rand_rotation()))"},
  {"e3.matrix_to_axis_angle", "axis, angle = e3.matrix_to_axis_angle(R)",
   "The unit axis and the angle in [0, pi] of rotation matrices (e3nn's formula).",
   "print(e3.matrix_to_axis_angle(e3.rand_rotation()))"},
  {"e3.axis_angle_to_matrix", "e3.axis_angle_to_matrix(axis, angle)",
   "The rotation by angle about axis, differentiable.",
   "print(e3.axis_angle_to_matrix(tycho.tensor({0, 1, 0}), tycho.tensor(0.5)))"},
  {"e3.quaternion_to_axis_angle", "axis, angle = e3.quaternion_to_axis_angle(q)",
   "The axis and angle (in [0, pi]) of the rotation of q.",
   "print(e3.quaternion_to_axis_angle(tycho.tensor({0.8, 0.6, 0, 0})))"},
  {"e3.quaternion_to_angles", "alpha, beta, gamma = e3.quaternion_to_angles(q)",
   "The YXY Euler angles of the rotation of q.",
   "print(e3.quaternion_to_angles(tycho.tensor({0.8, 0, 0.6, 0})))"},
  {"e3.axis_angle_to_angles", "alpha, beta, gamma = e3.axis_angle_to_angles(axis, angle)",
   "The YXY Euler angles of an axis-angle rotation.",
   "print(e3.axis_angle_to_angles(tycho.tensor({0, 1, 0}), tycho.tensor(0.5)))"},
  {"e3.angles_to_axis_angle", "axis, angle = e3.angles_to_axis_angle(alpha, beta, gamma)",
   "The axis and angle of the YXY Euler angles.",
   "print(e3.angles_to_axis_angle(0.5, 0, 0))"},
  {"e3.TensorProduct", "e3.TensorProduct(irreps_in1, irreps_in2, irreps_out, instructions [, opts])",
   "e3nn's general tensor product, an nn module. instructions: {i1, i2, i_out, mode, has_weight "
   .. "[, path_weight]} with 1-based indices into the irreps and mode 'uvw', 'uvu', 'uvv', 'uuw' "
   .. "or 'uuu' (how the copies connect). opts: irrep_normalization ('component', 'norm', "
   .. "'none'), path_normalization ('element', 'path', 'none'), in1_var, in2_var, out_var, "
   .. "shared_weights (true), internal_weights (= shared_weights), dtype. forward(x1, x2 [, w]): "
   .. "leading dims broadcast; w is (weight_numel) or per sample (..., weight_numel) in e3nn's "
   .. "flat layout. C kernels over the nonzero Clebsch-Gordan coefficients, all paths in one "
   .. "call, differentiable to any order (forces and their training).",
   "local tp = e3.TensorProduct('8x0e+8x1o', '0e+1o', '8x0e+8x1o',\n"
   .. "  {{1, 1, 1, 'uvu', true}, {2, 2, 1, 'uvu', true}, {1, 2, 2, 'uvu', true}, {2, 1, 2, 'uvu', true}},\n"
   .. "  {shared_weights = false, internal_weights = false})\n"
   .. "local x, y = tp.irreps_in1:randn(5), e3.spherical_harmonics(1, tycho.randn(5, 3))\n"
   .. "print(tp(x, y, tycho.randn(5, tp.weight_numel)).shape)"},
  {"e3.FullyConnectedTensorProduct", "e3.FullyConnectedTensorProduct(irreps_in1, irreps_in2, "
   .. "irreps_out [, opts])",
   "Every path of irreps_in1 x irreps_in2 into every output irrep it can reach, 'uvw' with "
   .. "weights (internal by default). opts as for e3.TensorProduct.",
   "local tp = e3.FullyConnectedTensorProduct('4x0e+2x1o', '0e+1o', '3x0e+1x1o')\nprint(tp)"},
  {"e3.Linear", "e3.Linear(irreps_in, irreps_out [, {biases = false, dtype =}])",
   "e3nn's equivariant linear map: each output block is a weighted sum of the input blocks of "
   .. "the same irrep, scaled by 1/sqrt(fan-in); biases (zero at first) only on 0e outputs.",
   "local lin = e3.Linear('4x0e+2x1o', '2x0e+3x1o', {biases = true})\n"
   .. "print(lin(lin.irreps_in:randn(3)).shape)"},
  {"e3.Norm", "e3.Norm(irreps [, {squared = false}])",
   "The norm of every irrep copy: (..., dim) -> (..., num_irreps), invariant.",
   "print(e3.Norm('2x1o')(tycho.tensor({{3, 4, 0, 1, 0, 0}})))"},
  {"e3.norm", "e3.norm(x, irreps [, opts])",
   "e3.Norm(irreps, opts)(x) in one call.",
   "print(e3.norm(tycho.tensor({{3, 4, 0}}), '1o'))"},
  {"e3.Gate", "e3.Gate(irreps_scalars, act_scalars, irreps_gates, act_gates, irreps_gated)",
   "e3nn's gated nonlinearity: the input is scalars + gates + gated; scalars go through their "
   .. "activations, each gated irrep copy is multiplied by the activation of its gate. "
   .. "Activations (one per entry of the irreps) are functions of a tensor or names: silu, tanh, "
   .. "sigmoid, relu, gelu, abs; they are rescaled to unit second moment under a standard "
   .. "normal input as in e3nn (by quadrature here, by sampling there). Odd scalars need an odd "
   .. "or even activation.",
   "local g = e3.Gate('4x0e', {'silu'}, '2x0e', {'sigmoid'}, '2x1o')\n"
   .. "print(g.irreps_in, g.irreps_out, g(g.irreps_in:randn(3)).shape)"},
  {"e3.bessel_basis", "e3.bessel_basis(r, num, r_max)",
   "Radial Bessel functions sqrt(2/r_max) sin(n pi r / r_max) / r, n = 1..num: (..., num).",
   "print(e3.bessel_basis(tycho.tensor({0.5, 1.5}), 4, 2.0))"},
  {"e3.polynomial_cutoff", "e3.polynomial_cutoff(r, r_max [, p = 6])",
   "NequIP's smooth cutoff envelope: 1 at r = 0, 0 from r_max on, with p-1 continuous derivatives "
   .. "at r_max.",
   "print(e3.polynomial_cutoff(tycho.tensor({0, 1, 1.9, 2}), 2.0))"},
  {"e3.radius_graph", "src, dst = e3.radius_graph(pos, r_max [, batch])",
   "The directed edges between points of pos (N, 3) closer than r_max, no self loops, as 1-based "
   .. "i64 index tensors; batch (N) keeps edges inside each graph of a batch.",
   "local src, dst = e3.radius_graph(tycho.tensor({{0, 0, 0}, {1, 0, 0}, {5, 0, 0}}), 1.5)\n"
   .. "print(src, dst)"},
  {"e3.Convolution", "e3.Convolution(irreps_node, irreps_sh, irreps_out [, {r_max = 5, num_basis = 8, "
   .. "hidden = 16, num_neighbors = 1, dtype}])",
   "A NequIP-style interaction layer: messages are the channel-wise ('uvu') product of the "
   .. "source node's features with the spherical harmonics of the edge vector, weighted per edge "
   .. "by an MLP of Bessel features times the cutoff, summed into the destination node "
   .. "(index_add) over sqrt(num_neighbors), then an e3.Linear to irreps_out. "
   .. "forward(x, pos, src, dst).",
   "local conv = e3.Convolution('4x0e', '0e+1o', '4x0e+2x1o', {r_max = 2})\n"
   .. "local pos = tycho.randn(5, 3)\nlocal src, dst = e3.radius_graph(pos, 2)\n"
   .. "print(conv(conv.irreps_node:randn(5), pos, src, dst).shape)"},
}
