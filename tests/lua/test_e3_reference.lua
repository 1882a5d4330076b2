-- tycho's e3 against real e3nn: tests/e3/reference.safetensors was written
-- by tests/e3/gen_reference.py (e3nn from PyPI on Debian's torch). Every
-- comparison is in f64 and must agree to 1e-12 (absolute, on values of
-- order one; 1e-10 for the unnormalised spherical harmonics, which reach
-- |x|^8).
local H = dofile((arg and arg[0] or ""):match("(.*/)") .. "harness.lua")
local test, near, ok, eq = H.test, H.near, H.ok, H.eq
local tycho = rawget(_G, "tycho") or require("tycho")
local e3 = require("tycho.e3")

local dir = (arg and arg[0] or ""):match("(.*/)") or "./"
local ref = tycho.load(dir .. "../e3/reference.safetensors")
local F64 = {dtype = "f64"}

local function close(a, b, tol, what)
  near(a:to("f64"), b, tol or 1e-12, what)
end

test("wigner_3j: every triple in the file", function()
  local n = 0
  for k, v in pairs(ref) do
    local a, b, c = k:match("^w3j_(%d+)_(%d+)_(%d+)$")
    if a then
      close(e3.wigner_3j(tonumber(a), tonumber(b), tonumber(c), F64), v, 1e-12, k)
      n = n + 1
    end
  end
  ok(n >= 40, "the file has the triples")
end)

test("spherical harmonics l = 0..8, three normalizations, normalize or not", function()
  for _, nz in ipairs({"integral", "component", "norm"}) do
    for _, n in ipairs({1, 0}) do
      local y = e3.spherical_harmonics(8, ref.sh_x, {normalize = n == 1, normalization = nz})
      close(y, ref["sh_" .. nz .. "_" .. n], n == 1 and 1e-12 or 1e-10, nz .. " " .. n)
    end
  end
  -- a list of degrees and irreps select the same columns
  local y = e3.spherical_harmonics({2, 0}, ref.sh_x, {normalization = "component"})
  local full = ref.sh_component_1
  close(y, tycho.cat({full:narrow(2, 5, 5), full:narrow(2, 1, 1)}, 2))
  close(e3.spherical_harmonics("0e+1o+2e", ref.sh_x, {normalization = "norm"}),
        ref.sh_norm_1:narrow(2, 1, 9))
end)

test("wigner_D l = 0..6 and the rotation helpers", function()
  local a, b, c = ref.angles:select(2, 1), ref.angles:select(2, 2), ref.angles:select(2, 3)
  for l = 0, 6 do close(e3.wigner_D(l, a, b, c), ref["wigD_" .. l], 1e-12, "l = " .. l) end
  local al, be, ga = e3.matrix_to_angles(ref.rot_R)
  close(tycho.stack({al, be, ga}, -1), ref.rot_angles)
  close(e3.matrix_to_quaternion(ref.rot_R), ref.rot_quat)
  local axis, angle = e3.matrix_to_axis_angle(ref.rot_R)
  close(axis, ref.rot_axis)
  close(angle, ref.rot_angle)
  close(e3.Irreps("2x0e+1x1o+1x1e+1x2o+1x3e"):D_from_matrix(-ref.rot_R[1]), ref.rot_D)
end)

test("FullyConnectedTensorProduct with e3nn's weights", function()
  local fc = e3.FullyConnectedTensorProduct("2x0e+3x1o+1x2e", "1x0e+1x1o+1x2e",
                                            "3x0e+2x1o+2x1e+1x2e+1x3o", F64)
  eq(fc.weight_numel, ref.fctp_w.shape[1])
  fc.weight = ref.fctp_w:clone():requires_grad_(true)
  close(fc(ref.fctp_x1, ref.fctp_x2), ref.fctp_out)
end)

test("TensorProduct: every mode, norm/path normalisation, per-sample and no weights", function()
  local modes = e3.TensorProduct("3x0e+2x1o", "3x0e+2x1e", "3x0e+2x1o+3x0e+2x2o+1x1o+2x0o+2x1e+1x1o",
    {{1, 1, 1, "uvu", true}, {2, 2, 2, "uuu", true}, {1, 1, 3, "uvv", true},
     {2, 2, 4, "uuw", true}, {2, 1, 5, "uvw", true}, {2, 2, 6, "uvu", true},
     {1, 2, 7, "uvv", false}, {2, 2, 8, "uuw", false}, {2, 2, 6, "uvu", false}},
    {irrep_normalization = "norm", path_normalization = "path", shared_weights = false,
     internal_weights = false, dtype = "f64"})
  close(modes(ref.modes_x1, ref.modes_x2, ref.modes_w), ref.modes_out)
  local plain = e3.TensorProduct("2x1o+1x2e", "2x1o", "2x0e+2x2e+2x1o",
    {{1, 1, 1, "uuu", false}, {1, 1, 2, "uuu", false}, {2, 1, 3, "uvv", false}}, F64)
  eq(plain.weight_numel, 0)
  close(plain(ref.plain_x1, ref.plain_x2), ref.plain_out)
end)

test("Linear with biases, and Norm", function()
  local lin = e3.Linear("4x0e+2x1o+1x2e", "3x0e+2x1o+1x1e", {biases = true, dtype = "f64"})
  eq(lin.weight_numel, ref.linear_w.shape[1])
  lin.weight = ref.linear_w:clone():requires_grad_(true)
  lin.bias = ref.linear_b:clone():requires_grad_(true)
  close(lin(ref.linear_x), ref.linear_out)
  close(e3.norm(ref.linear_x, "4x0e+2x1o+1x2e"), ref.norm_out)
end)

H.done()
