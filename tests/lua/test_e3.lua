-- The e3 front end: Irrep and Irreps, rotations, and every layer checked
-- for equivariance under random elements of O(3) (rotations, and rotations
-- composed with the inversion): outputs must transform by D_from_matrix to
-- 1e-5 in f32 and 1e-10 in f64. Gradients of the layers pass gradcheck and
-- gradgradcheck in f64. (Numbers against e3nn: test_e3_reference.lua.)
local H = dofile((arg and arg[0] or ""):match("(.*/)") .. "harness.lua")
local test, eq, near, raises, ok = H.test, H.eq, H.near, H.raises, H.ok
local tycho = rawget(_G, "tycho") or require("tycho")
local e3 = require("tycho.e3")
local nn = require("tycho.nn")

tycho.manual_seed(7)

-- ---------------------------------------------------------------- irreps

test("Irrep: parsing, fields, products, order", function()
  local ir = e3.Irrep("2o")
  eq({ir.l, ir.p, ir.dim}, {2, -1, 5})
  eq(tostring(e3.Irrep(3, 1)), "3e")
  eq(tostring(e3.Irrep("3y")), "3o")
  ok(e3.Irrep("0e"):is_scalar() and not e3.Irrep("0o"):is_scalar())
  local prod = e3.Irrep("1o") * e3.Irrep("2e")
  eq(#prod, 3)
  eq({tostring(prod[1]), tostring(prod[2]), tostring(prod[3])}, {"1o", "2o", "3o"})
  ok(e3.Irrep("0o") < e3.Irrep("0e") and e3.Irrep("0e") < e3.Irrep("1o"))
  ok(e3.Irrep("1o") == e3.Irrep(1, -1))
  raises(function() e3.Irrep("1q") end, "parity must be e, o or y")
  raises(function() e3.Irrep(1, 0) end, "parity must be 1 or -1")
  raises(function() e3.Irrep(-1, 1) end, "non-negative integer")
end)

test("Irreps: parsing, dim, num_irreps, lmax, tostring, indexing", function()
  local irs = e3.Irreps("16x0e + 8x1o + 4x2e")
  eq(tostring(irs), "16x0e+8x1o+4x2e")
  eq({irs.dim, irs.num_irreps, irs.lmax, #irs}, {60, 28, 2, 3})
  eq({irs[2].mul, irs[2].ir.l, irs[2].dim}, {8, 1, 24})
  eq(tostring(e3.Irreps("1o")), "1x1o")
  eq(e3.Irreps("").dim, 0)
  eq(tostring(e3.Irreps({{2, "1e"}, "0o", {3, {2, 1}}})), "2x1e+1x0o+3x2e")
  eq(e3.Irreps(irs), irs)
  eq(tostring(e3.Irreps.spherical_harmonics(3)), "1x0e+1x1o+1x2e+1x3o")
  eq(tostring(e3.Irreps.spherical_harmonics(2, 1)), "1x0e+1x1e+1x2e")
  eq(irs:ls(), (function() local t = {} for _ = 1, 16 do t[#t + 1] = 0 end
    for _ = 1, 8 do t[#t + 1] = 1 end for _ = 1, 4 do t[#t + 1] = 2 end return t end)())
end)

test("Irreps: parse errors point at the bad term", function()
  local msg = raises(function() e3.Irreps("16x0e + 8x1q + 2e") end, "cannot read '8x1q'")
  ok(msg:find("16x0e %+ 8x1q %+ 2e\n          %^%^%^%^"), "a caret line under the term: " .. msg)
  raises(function() e3.Irreps("16x0e + + 2e") end, "an empty term")
  raises(function() e3.Irreps("3x1") end, "a parity (e, o or y) is missing")
  raises(function() e3.Irreps("-2x1e") end, "negative multiplicity")
  raises(function() e3.Irreps("ax1e") end, "cannot read 'ax1e'")
  raises(function() e3.Irreps(42) end, "cannot make irreps from a number")
end)

test("Irreps: simplify, sort, slices, +, * n, count", function()
  eq(tostring(e3.Irreps("1e + 1e + 0e + 0x2o + 1e"):simplify()), "2x1e+1x0e+1x1e")
  local sorted, p, inv = e3.Irreps("2o + 1e + 0e + 1e"):sort()
  eq(tostring(sorted), "1x0e+1x1e+1x1e+1x2o")
  eq(p, {4, 2, 1, 3})
  eq(inv, {3, 2, 4, 1})
  eq(e3.Irreps("2x0e + 1x1o + 1x2e"):slices(), {{1, 2}, {3, 5}, {6, 10}})
  eq(tostring(e3.Irreps("1x0e") + "2x1o"), "1x0e+2x1o")
  eq(tostring(e3.Irreps("1x0e+1x1o") * 2), "1x0e+1x1o+1x0e+1x1o")
  eq(tostring(2 * e3.Irrep("1o")), "2x1o")
  eq(e3.Irreps("2x1o + 0e + 3x1o"):count("1o"), 5)
  eq(e3.Irreps("2x1o"):randn(4, {dtype = "f64"}).shape, {4, 6})
  raises(function() return e3.Irreps("1o") * 1.5 end, "non-negative integer")
end)

-- ---------------------------------------------------------------- rotations

-- A random element of O(3): a rotation, times -1 when improper.
local function rand_o3(improper, dtype)
  local R = e3.rand_rotation({dtype = dtype or "f64"})
  return improper and -R or R
end

test("rotations: rand_rotation, angles, quaternions, axis-angle round trips", function()
  local R = e3.rand_rotation(5, {dtype = "f64"})
  eq(R.shape, {5, 3, 3})
  near(R:matmul(R:transpose(2, 3)), tycho.eye(3, {dtype = "f64"}):expand(5, 3, 3), 1e-12)
  local a, b, c = e3.matrix_to_angles(R)
  near(e3.angles_to_matrix(a, b, c), R, 1e-12)
  local q = e3.matrix_to_quaternion(R)
  near(q:norm(2, -1), tycho.ones(5, {dtype = "f64"}), 1e-12)
  near(e3.quaternion_to_matrix(q), R, 1e-12)
  local axis, angle = e3.matrix_to_axis_angle(R)
  near(e3.axis_angle_to_matrix(axis, angle), R, 1e-12)
  local qa = e3.angles_to_quaternion(a, b, c)
  near(e3.quaternion_to_matrix(qa), R, 1e-12)
  local q2 = e3.matrix_to_quaternion(R:flip({1}))
  near(e3.quaternion_to_matrix(e3.compose_quaternion(q, q2)), R:matmul(R:flip({1})), 1e-12)
  -- one rotation from plain numbers
  near(e3.angles_to_matrix(0, math.pi / 2, 0), tycho.tensor({{1, 0, 0}, {0, 0, -1}, {0, 1, 0}}), 1e-6)
  raises(function() e3.matrix_to_angles(-R) end, "determinant")
end)

test("D_from_matrix is a representation of O(3), parity included", function()
  local irs = e3.Irreps("2x0e + 0o + 1o + 1e + 2o + 3e")
  for _, imp in ipairs({{false, false}, {true, false}, {true, true}}) do
    local R1, R2 = rand_o3(imp[1]), rand_o3(imp[2])
    local D12 = irs:D_from_matrix(R1:matmul(R2))
    near(D12, irs:D_from_matrix(R1):matmul(irs:D_from_matrix(R2)), 1e-10)
  end
  local R = rand_o3(true)
  local D = irs:D_from_matrix(R)
  near(D:narrow(1, 3, 1):narrow(2, 3, 1), tycho.tensor({{-1}}, {dtype = "f64"}), 1e-12)
  near(D:narrow(1, 4, 3):narrow(2, 4, 3), R, 1e-12) -- 1o is the matrix itself
  near(D:narrow(1, 7, 3):narrow(2, 7, 3), -R, 1e-12) -- 1e: a pseudovector
end)

test("wigner_D and wigner_3j from Lua", function()
  local D = e3.wigner_D(2, 0.1, 0.2, 0.3)
  eq(D.shape, {5, 5})
  eq(e3.wigner_D(1, tycho.zeros(4, {dtype = "f64"}), 0, 0).shape, {4, 3, 3})
  eq(e3.wigner_3j(1, 2, 3).shape, {3, 5, 7})
  raises(function() e3.wigner_3j(1, 1, 3) end, "cannot couple")
  raises(function() e3.wigner_3j(20, 1, 20) end, "out of range")
end)

-- ---------------------------------------------------------------- equivariance

-- f(inputs rotated) == f(inputs) rotated, for rotations and improper ones.
-- ins: list of {tensor, irreps}; f returns a tensor with irreps_out.
local function check_equivariant(f, ins, irreps_out, dtype, tol)
  for _, improper in ipairs({false, true}) do
    local R = rand_o3(improper, dtype)
    local rotated = {}
    for i, x in ipairs(ins) do
      rotated[i] = x[1]:matmul(e3.Irreps(x[2]):D_from_matrix(R):t())
    end
    local plain_in = {}
    for i, x in ipairs(ins) do plain_in[i] = x[1] end
    local y = f(table.unpack(plain_in))
    local y_rot = f(table.unpack(rotated))
    near(y_rot, y:matmul(e3.Irreps(irreps_out):D_from_matrix(R):t()), tol,
         (improper and "improper " or "") .. dtype)
  end
end

local CASES = {{"f32", 1e-5}, {"f64", 1e-10}}

test("equivariance: spherical harmonics", function()
  for _, c in ipairs(CASES) do
    local x = tycho.randn(6, 3, {dtype = c[1]})
    check_equivariant(function(v) return e3.spherical_harmonics(4, v, {normalization = "norm"}) end,
                      {{x, "1o"}}, e3.Irreps.spherical_harmonics(4), c[1], c[2])
  end
end)

test("equivariance: FullyConnectedTensorProduct and a uvu TensorProduct", function()
  for _, c in ipairs(CASES) do
    local fc = e3.FullyConnectedTensorProduct("3x0e+2x1o+1x2e", "0e+1o+2e", "2x0e+2x1o+2x1e+1x2e+1x3o",
                                              {dtype = c[1]})
    local x1 = fc.irreps_in1:randn(4, {dtype = c[1]})
    local x2 = fc.irreps_in2:randn(4, {dtype = c[1]})
    check_equivariant(function(a, b) return fc(a, b) end, {{x1, fc.irreps_in1}, {x2, fc.irreps_in2}},
                      fc.irreps_out, c[1], c[2])
    local uvu = e3.TensorProduct("2x0e+2x1o", "0e+1o", "2x0e+2x1o+2x1e",
      {{1, 1, 1, "uvu", true}, {2, 2, 1, "uvu", true}, {1, 2, 2, "uvu", true}, {2, 1, 2, "uvu", true},
       {2, 2, 3, "uvu", true}}, {shared_weights = false, internal_weights = false, dtype = c[1]})
    local w = tycho.randn(4, uvu.weight_numel, {dtype = c[1]})
    local y1 = uvu.irreps_in1:randn(4, {dtype = c[1]})
    local y2 = uvu.irreps_in2:randn(4, {dtype = c[1]})
    check_equivariant(function(a, b) return uvu(a, b, w) end, {{y1, uvu.irreps_in1}, {y2, uvu.irreps_in2}},
                      uvu.irreps_out, c[1], c[2])
  end
end)

test("equivariance: Linear, Gate, Norm", function()
  for _, c in ipairs(CASES) do
    local lin = e3.Linear("3x0e+2x1o+1x1e+1x2e", "2x0e+3x1o+1x2e", {biases = true, dtype = c[1]})
    lin.bias = tycho.randn(2, {dtype = c[1], requires_grad = true})
    local x = lin.irreps_in:randn(5, {dtype = c[1]})
    check_equivariant(function(a) return lin(a) end, {{x, lin.irreps_in}}, lin.irreps_out, c[1], c[2])
    local gate = e3.Gate("2x0e+1x0o", {"silu", "tanh"}, "3x0e", {"sigmoid"}, "1x1o+2x2e")
    local xg = gate.irreps_in:randn(5, {dtype = c[1]})
    check_equivariant(function(a) return gate(a) end, {{xg, gate.irreps_in}}, gate.irreps_out, c[1], c[2])
    local norm = e3.Norm("2x0e+1x1o+2x2e")
    local xn = norm.irreps_in:randn(5, {dtype = c[1]})
    check_equivariant(function(a) return norm(a) end, {{xn, norm.irreps_in}}, norm.irreps_out, c[1], c[2])
  end
end)

test("equivariance: graph convolution on a point cloud", function()
  for _, c in ipairs(CASES) do
    local conv = e3.Convolution("4x0e+2x1o", "0e+1o+2e", "4x0e+2x1o+1x2e",
                                {r_max = 2.5, num_basis = 6, hidden = 8, num_neighbors = 3, dtype = c[1]})
    local pos = tycho.randn(7, 3, {dtype = c[1]})
    local x = conv.irreps_node:randn(7, {dtype = c[1]})
    local src, dst = e3.radius_graph(pos, 2.5)
    ok(src.shape[1] > 0, "the cloud has edges")
    check_equivariant(function(a, p) return conv(a, p, src, dst) end,
                      {{x, conv.irreps_node}, {pos, "1o"}}, conv.irreps_out, c[1], c[2])
  end
end)

-- ---------------------------------------------------------------- gradients

test("gradcheck and gradgradcheck (f64) through the layers", function()
  local F64 = {dtype = "f64"}
  local fc = e3.FullyConnectedTensorProduct("2x0e+1x1o", "0e+1o", "1x0e+1x1o+1x1e", F64)
  local x1 = fc.irreps_in1:randn(2, {dtype = "f64", requires_grad = true})
  local x2 = fc.irreps_in2:randn(2, {dtype = "f64", requires_grad = true})
  local w = tycho.randn(fc.weight_numel, {dtype = "f64", requires_grad = true})
  local function f(a, b, ww)
    fc.weight = ww
    return fc(a, b)
  end
  eq(tycho.gradcheck(f, {x1, x2, w}), true)
  eq(tycho.gradgradcheck(f, {x1, x2, w}), true)
  local v = tycho.randn(3, 3, {dtype = "f64", requires_grad = true})
  eq(tycho.gradgradcheck(function(a) return e3.spherical_harmonics(3, a) end, {v}), true)
  local gate = e3.Gate("1x0e", {"tanh"}, "1x0e", {"sigmoid"}, "1x1o")
  local xg = gate.irreps_in:randn(2, {dtype = "f64", requires_grad = true})
  eq(tycho.gradgradcheck(function(a) return gate(a) end, {xg}), true)
  local lin = e3.Linear("2x0e+1x1o", "1x0e+2x1o", {biases = true, dtype = "f64"})
  local xl = lin.irreps_in:randn(2, {dtype = "f64", requires_grad = true})
  eq(tycho.gradgradcheck(function(a) return lin(a) end, {xl}), true)
  local a, b, c = tycho.tensor(0.3, F64):requires_grad_(), tycho.tensor(1.1, F64):requires_grad_(),
                  tycho.tensor(-0.7, F64):requires_grad_()
  eq(tycho.gradgradcheck(function(p, q, r) return e3.wigner_D(2, p, q, r) end, {a, b, c}), true)
end)

test("forces: gradients of an equivariant energy rotate with the input", function()
  local fc = e3.FullyConnectedTensorProduct("4x0e+2x1o", "0e+1o+2e", "3x0e", {dtype = "f64"})
  local x1 = fc.irreps_in1:randn(6, {dtype = "f64"})
  local function forces(x, r)
    r = r:detach():requires_grad_(true)
    local e = fc(x, e3.spherical_harmonics(2, r, {normalization = "component"})):sum()
    return -tycho.grad({e}, {r}, {create_graph = true})[1]
  end
  local r = tycho.randn(6, 3, {dtype = "f64"})
  local R = e3.rand_rotation({dtype = "f64"})
  local x1r = x1:matmul(fc.irreps_in1:D_from_matrix(R):t())
  near(forces(x1r, r:matmul(R:t())), forces(x1, r):matmul(R:t()), 1e-10)
  -- the weights' gradient of sum(F^2) (the e3-tp-double-backward workload)
  local rr = r:clone():requires_grad_(true)
  local e = fc(x1, e3.spherical_harmonics(2, rr, {normalization = "component"})):sum()
  local g = tycho.grad({e}, {rr}, {create_graph = true})[1]
  local gw = tycho.grad({(g * g):sum()}, {fc.weight})[1]
  eq(gw.shape, {fc.weight_numel})
  ok(gw:abs():sum():item() > 0, "the second derivative reaches the weights")
end)

-- ---------------------------------------------------------------- radial bases and graphs

test("bessel_basis, polynomial_cutoff, radius_graph", function()
  local r = tycho.tensor({0.5, 1.0, 2.0}, {dtype = "f64"})
  local b = e3.bessel_basis(r, 3, 2.0)
  eq(b.shape, {3, 3})
  near(b[{1, 2}]:item(), math.sqrt(2 / 2.0) * math.sin(2 * math.pi * 0.5 / 2.0) / 0.5, 1e-12)
  local f = e3.polynomial_cutoff(tycho.tensor({0, 1, 1.999, 2, 3}, {dtype = "f64"}), 2.0)
  near(f[1]:item(), 1, 1e-12)
  ok(f[3]:item() > 0 and f[3]:item() < 1e-6, "smooth at the cutoff")
  eq({f[4]:item(), f[5]:item()}, {0, 0})
  local pos = tycho.tensor({{0, 0, 0}, {1, 0, 0}, {0, 3, 0}, {0, 3.5, 0}})
  local src, dst = e3.radius_graph(pos, 1.2)
  eq(src:tolist(), {1, 2, 3, 4})
  eq(dst:tolist(), {2, 1, 4, 3})
  local s2 = e3.radius_graph(pos, 1.2, tycho.tensor({1, 2, 3, 3}, {dtype = "i64"}))
  eq(s2:tolist(), {3, 4})
  local none = e3.radius_graph(pos, 0.1)
  eq(none.shape, {0})
end)

-- ---------------------------------------------------------------- modules and errors

test("layers are nn modules: parameters, state_dict, printing, dtype", function()
  local fc = e3.FullyConnectedTensorProduct("2x0e+1x1o", "0e+1o", "1x0e+1x1o")
  eq(#fc:parameters(), 1)
  eq(fc:num_parameters(), fc.weight_numel)
  ok(tostring(fc):find("2x0e%+1x1o x 1x0e%+1x1o %-> 1x0e%+1x1o | 4 paths | 6 weights"), tostring(fc))
  local sd = fc:state_dict()
  ok(sd.weight ~= nil, "the weight is in the state dict")
  fc:double()
  eq(fc.weight.dtype, "f64")
  local conv = e3.Convolution("2x0e", "0e+1o", "2x0e+1x1o")
  ok(#conv:parameters() >= 5, "tp has no weights of its own, fc and linear do")
end)

test("errors name the layer and the values", function()
  raises(function() e3.TensorProduct("1o", "1o", "1o", {{1, 1, 1, "uvw", true}}) end,
         "instruction 1: 1o x 1o cannot give 1o")
  raises(function() e3.TensorProduct("1o", "1o", "0e", {{1, 2, 1, "uvw", true}}) end,
         "index 2 is not an entry of irreps_in2")
  raises(function() e3.TensorProduct("1o", "1o", "0e", {{1, 1, 1, "uvx", true}}) end,
         "unknown mode 'uvx'")
  raises(function() e3.TensorProduct("2x1o", "1o", "3x0e", {{1, 1, 1, "uvu", true}}) end,
         "mulo 3 must be 2")
  raises(function() e3.TensorProduct("1o", "1o", "0e", {}, {irrep_normalization = "x"}) end,
         "irrep_normalization")
  local fc = e3.FullyConnectedTensorProduct("2x0e", "0e", "1x0e")
  raises(function() fc(tycho.randn(3, 3), tycho.randn(3, 1)) end, "x1 has shape (3,3), expected (..., 2)")
  raises(function() fc(tycho.randn(3, 2), tycho.randn(3, 1), tycho.randn(2)) end, "internal weights")
  local tp = e3.TensorProduct("2x0e", "0e", "2x0e", {{1, 1, 1, "uvu", true}},
                              {shared_weights = false, internal_weights = false})
  raises(function() tp(tycho.randn(3, 2), tycho.randn(3, 1)) end, "weights are required")
  raises(function() tp(tycho.randn(3, 2), tycho.randn(3, 1), tycho.randn(3, 5)) end, "expected (..., 2)")
  raises(function() e3.Gate("1x1o", {"silu"}, "", {}, "") end, "irreps_scalars must be scalars")
  raises(function() e3.Gate("1x0e", {"silu"}, "1x0e", {"sigmoid"}, "2x1o") end, "1 gates for 2 gated")
  raises(function() e3.Gate("1x0o", {"silu"}, "", {}, "") end, "neither even nor odd")
  raises(function() e3.spherical_harmonics(2, tycho.randn(4, 2)) end, "(..., 3)")
  raises(function() e3.spherical_harmonics(2, tycho.randn(4, 3), {normalisation = "norm"}) end,
         "unknown option 'normalisation'")
  raises(function() e3.spherical_harmonics(2, tycho.randn(4, 3), {normalization = "nrm"}) end,
         "unknown normalization 'nrm'")
end)

test("leading batch dims broadcast like e3nn", function()
  local fc = e3.FullyConnectedTensorProduct("2x0e+1x1o", "0e+1o", "1x0e+1x1o")
  local x1 = fc.irreps_in1:randn(2, 3)
  local x2 = fc.irreps_in2:randn(3)
  local y = fc(x1, x2)
  eq(y.shape, {2, 3, 4})
  near(y[1], fc(x1[1], x2), 1e-6)
end)

H.done()
