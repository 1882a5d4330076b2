-- tycho.e3 (the global `e3` at the prompt): E(3)-equivariant layers with
-- e3nn's conventions, so that any number can be checked against e3nn.
--
--   e3.Irrep(l, p), e3.Irreps("16x0e + 8x1o + 4x2e")   irreducible representations
--   e3.rand_rotation(), e3.angles_to_matrix, e3.matrix_to_angles, quaternions,
--   axis-angle                                          rotations (YXY Euler angles)
--   e3.wigner_D, e3.wigner_3j, e3.spherical_harmonics   the bases
--   e3.TensorProduct, e3.FullyConnectedTensorProduct,
--   e3.Linear, e3.Gate, e3.Norm / e3.norm               layers (nn modules)
--   e3.bessel_basis, e3.polynomial_cutoff, e3.radius_graph,
--   e3.Convolution                                      point clouds and graphs
--
-- The heavy lifting is in C (src/e3_*.c): Clebsch-Gordan coefficients,
-- Wigner D matrices, spherical harmonics and the sparse tensor-product
-- kernels, all differentiable to any order. Differences from e3nn: indices
-- of instructions and slices are 1-based; e3.spherical_harmonics(l, ...)
-- with a number gives every degree 0..l (pass {l} for degree l alone).
local tycho = require("tycho")
local nn = require("tycho.nn")
local C = tycho._e3

local e3 = {}

local function fail(fn, fmt, ...)
  error("e3." .. fn .. ": " .. string.format(fmt, ...), 3)
end

local function dtype_of(opts)
  return (opts and opts.dtype) or "f32"
end

-- ---------------------------------------------------------------- Irrep

local Irrep = {}
Irrep.__index = Irrep
Irrep.__name = "e3.Irrep"

local function new_irrep(l, p)
  return setmetatable({l = l, p = p, dim = 2 * l + 1}, Irrep)
end

local function is_irrep(v) return getmetatable(v) == Irrep end

-- "1o", "2e", "3y" (y: the parity of a spherical harmonic, (-1)^l), or nil
-- and the reason.
local function parse_irrep(s)
  local l, par = s:match("^%s*(%d+)%s*([eoy])%s*$")
  if not l then
    if s:match("^%s*%d+%s*$") then return nil, "a parity (e, o or y) is missing" end
    if s:match("^%s*%d+%s*%a") then return nil, "the parity must be e, o or y" end
    return nil, "expected a degree and a parity, like 1o"
  end
  l = tonumber(l)
  local p = par == "e" and 1 or par == "o" and -1 or (l % 2 == 0 and 1 or -1)
  return new_irrep(l, p)
end

-- e3.Irrep(l, p) with p = 1 (even) or -1 (odd), or e3.Irrep("1o").
function e3.Irrep(l, p)
  if is_irrep(l) then return l end
  if type(l) == "string" and p == nil then
    local ir, why = parse_irrep(l)
    if not ir then fail("Irrep", "cannot read '%s': %s", l, why) end
    return ir
  end
  if math.type(l) ~= "integer" or l < 0 then
    fail("Irrep", "l must be a non-negative integer, got %s", tostring(l))
  end
  if p ~= 1 and p ~= -1 then fail("Irrep", "parity must be 1 or -1, got %s", tostring(p)) end
  return new_irrep(l, p)
end

function Irrep.__tostring(ir) return ir.l .. (ir.p == 1 and "e" or "o") end
function Irrep.__eq(a, b) return a.l == b.l and a.p == b.p end
function Irrep.__lt(a, b) return a.l < b.l or (a.l == b.l and a.p < b.p) end
function Irrep.__le(a, b) return not Irrep.__lt(b, a) end

-- The irreps in the product of two irreps: |l1-l2| .. l1+l2 with p1 p2 (a
-- list); a number times an irrep gives Irreps.
function Irrep.__mul(a, b)
  if math.type(a) == "integer" then return e3.Irreps({{a, b}}) end
  if math.type(b) == "integer" then return e3.Irreps({{b, a}}) end
  a, b = e3.Irrep(a), e3.Irrep(b)
  local out = {}
  for l = math.abs(a.l - b.l), a.l + b.l do out[#out + 1] = new_irrep(l, a.p * b.p) end
  return out
end

function Irrep:is_scalar() return self.l == 0 and self.p == 1 end

-- D(alpha, beta, gamma) times p^k (k = 1 for an improper rotation).
function Irrep:D_from_angles(alpha, beta, gamma, k)
  local D = e3.wigner_D(self.l, alpha, beta, gamma)
  if k ~= nil and self.p == -1 then
    local s = 1 - 2 * (tycho.is_tensor(k) and k or tycho.tensor(k, {dtype = D.dtype}))
    D = D * s:unsqueeze(-1):unsqueeze(-1)
  end
  return D
end

function Irrep:D_from_matrix(R)
  return e3.Irreps({{1, self}}):D_from_matrix(R)
end

-- ---------------------------------------------------------------- Irreps

local Irreps = {}
Irreps.__index = Irreps
Irreps.__name = "e3.Irreps"

local MulIr = {}
MulIr.__index = MulIr
function MulIr.__tostring(m) return m.mul .. "x" .. tostring(m.ir) end
function MulIr.__eq(a, b) return a.mul == b.mul and a.ir == b.ir end

local function is_irreps(v) return getmetatable(v) == Irreps end

local function make_irreps(list)
  local t = setmetatable({}, Irreps)
  local dim, num, lmax = 0, 0, nil
  for i, m in ipairs(list) do
    t[i] = setmetatable({mul = m[1], ir = m[2], dim = m[1] * m[2].dim}, MulIr)
    dim = dim + m[1] * m[2].dim
    num = num + m[1]
    if m[1] > 0 then lmax = math.max(lmax or 0, m[2].l) end
  end
  rawset(t, "dim", dim)
  rawset(t, "num_irreps", num)
  rawset(t, "lmax", lmax)
  return t
end

-- The error for a bad term of an irreps string: the string, and a caret
-- line under the term.
local function parse_error(s, from, to, why)
  local where = string.rep(" ", from - 1) .. string.rep("^", math.max(1, to - from + 1))
  error(string.format("e3.Irreps: %s in\n  %s\n  %s", why, s, where), 4)
end

local function parse_irreps(s)
  local list = {}
  if s:match("^%s*$") then return list end
  local pos = 1
  while pos <= #s + 1 do
    local stop = s:find("+", pos, true) or (#s + 1)
    local term = s:sub(pos, stop - 1)
    local lead = #term:match("^%s*")
    local body = term:match("^%s*(.-)%s*$")
    local from, to = pos + lead, pos + lead + #body - 1
    if body == "" then parse_error(s, pos, stop, "an empty term") end
    local mul, ir = body:match("^(%d+)%s*x%s*(.+)$")
    if not mul then
      if body:match("^%-") then parse_error(s, from, to, "a negative multiplicity") end
      mul, ir = "1", body
    end
    local irrep, why = parse_irrep(ir)
    if not irrep then parse_error(s, from, to, string.format("cannot read '%s': %s", body, why)) end
    list[#list + 1] = {tonumber(mul), irrep}
    pos = stop + 1
  end
  return list
end

-- e3.Irreps("16x0e + 8x1o"), e3.Irreps({{16, "0e"}, {8, e3.Irrep(1, -1)}}),
-- e3.Irreps(irrep), e3.Irreps(irreps). e3.Irreps is a callable table that
-- also holds e3.Irreps.spherical_harmonics.
local function irreps_new(v)
  if is_irreps(v) then return v end
  if v == nil then return make_irreps({}) end
  if is_irrep(v) then return make_irreps({{1, v}}) end
  if type(v) == "string" then return make_irreps(parse_irreps(v)) end
  if type(v) ~= "table" then fail("Irreps", "cannot make irreps from a %s", type(v)) end
  local list = {}
  for i, m in ipairs(v) do
    if type(m) == "string" or is_irrep(m) then
      list[i] = {1, e3.Irrep(m)}
    elseif getmetatable(m) == MulIr then
      list[i] = {m.mul, m.ir}
    elseif type(m) == "table" and math.type(m[1]) == "integer" and m[1] >= 0 then
      local ir = m[2]
      if type(ir) == "table" and not is_irrep(ir) then ir = e3.Irrep(ir[1], ir[2]) end
      list[i] = {m[1], e3.Irrep(ir)}
    else
      fail("Irreps", "entry %d is not a (mul, irrep) pair", i)
    end
  end
  return make_irreps(list)
end

e3.Irreps = setmetatable({}, {__call = function(_, v) return irreps_new(v) end,
                              __name = "e3.Irreps"})

-- 1x0e + 1x1o + 1x2e + ... up to lmax: the irreps of the spherical
-- harmonics of a vector (p = -1) or of a pseudovector (p = 1: all even).
function e3.Irreps.spherical_harmonics(lmax, p)
  p = p or -1
  local list = {}
  for l = 0, lmax do list[#list + 1] = {1, new_irrep(l, (l % 2 == 1 and p == -1) and -1 or 1)} end
  return make_irreps(list)
end

function Irreps.__tostring(irs)
  local parts = {}
  for i, m in ipairs(irs) do parts[i] = tostring(m) end
  return table.concat(parts, "+")
end

function Irreps.__eq(a, b)
  if #a ~= #b then return false end
  for i = 1, #a do if a[i] ~= b[i] then return false end end
  return true
end

function Irreps.__add(a, b)
  a, b = e3.Irreps(a), e3.Irreps(b)
  local list = {}
  for _, m in ipairs(a) do list[#list + 1] = {m.mul, m.ir} end
  for _, m in ipairs(b) do list[#list + 1] = {m.mul, m.ir} end
  return make_irreps(list)
end

-- irreps * n repeats the list n times (as e3nn).
function Irreps.__mul(a, b)
  if is_irreps(b) then a, b = b, a end
  if math.type(b) ~= "integer" or b < 0 then
    fail("Irreps", "irreps can only be multiplied by a non-negative integer; use e3.TensorProduct")
  end
  local list = {}
  for _ = 1, b do for _, m in ipairs(a) do list[#list + 1] = {m.mul, m.ir} end end
  return make_irreps(list)
end

-- Neighbouring equal irreps merged, zero multiplicities dropped.
function Irreps:simplify()
  local list = {}
  for _, m in ipairs(self) do
    if #list > 0 and list[#list][2] == m.ir then
      list[#list][1] = list[#list][1] + m.mul
    elseif m.mul > 0 then
      list[#list + 1] = {m.mul, m.ir}
    end
  end
  return make_irreps(list)
end

function Irreps:remove_zero_multiplicities()
  local list = {}
  for _, m in ipairs(self) do if m.mul > 0 then list[#list + 1] = {m.mul, m.ir} end end
  return make_irreps(list)
end

-- Sorted by (l, p), stable. Returns the sorted irreps, p (p[i] is the new
-- position of entry i) and inv (inv[j] is the old position of entry j).
function Irreps:sort()
  local order = {}
  for i = 1, #self do order[i] = i end
  table.sort(order, function(i, j)
    if self[i].ir ~= self[j].ir then return self[i].ir < self[j].ir end
    return i < j
  end)
  local list, p = {}, {}
  for j, i in ipairs(order) do
    list[j] = {self[i].mul, self[i].ir}
    p[i] = j
  end
  return make_irreps(list), p, order
end

-- The total multiplicity of an irrep.
function Irreps:count(ir)
  ir = e3.Irrep(ir)
  local n = 0
  for _, m in ipairs(self) do if m.ir == ir then n = n + m.mul end end
  return n
end

function Irreps:ls()
  local ls = {}
  for _, m in ipairs(self) do for _ = 1, m.mul do ls[#ls + 1] = m.ir.l end end
  return ls
end

-- {start, stop} of each entry's features: 1-based and inclusive, ready
-- for x[{{}, {start, stop}}] or x:narrow(-1, start, stop - start + 1).
function Irreps:slices()
  local out, at = {}, 1
  for i, m in ipairs(self) do
    out[i] = {at, at + m.dim - 1}
    at = at + m.dim
  end
  return out
end

-- Offsets (0-based) of each entry: what the C plans take.
local function offsets(irs)
  local out, at = {}, 0
  for i, m in ipairs(irs) do
    out[i] = at
    at = at + m.dim
  end
  return out
end

-- Random features (..., dim): e3.Irreps("2x1o"):randn(5) is (5, 6).
function Irreps:randn(...)
  local shape = {...}
  local opts
  if type(shape[#shape]) == "table" then opts = table.remove(shape) end
  shape[#shape + 1] = self.dim
  return tycho.randn(shape, opts)
end

-- A block-diagonal matrix from square blocks (..., n_i, n_i): differentiable.
local function direct_sum(blocks, dim, batch, dtype)
  local rows, at = {}, 0
  for _, b in ipairs(blocks) do
    local n = b.shape[#b.shape]
    local parts = {}
    local function zeros(w)
      local s = {}
      for i, v in ipairs(batch) do s[i] = v end
      s[#s + 1] = n
      s[#s + 1] = w
      return tycho.zeros(s, {dtype = dtype})
    end
    if at > 0 then parts[#parts + 1] = zeros(at) end
    parts[#parts + 1] = b
    if dim - at - n > 0 then parts[#parts + 1] = zeros(dim - at - n) end
    rows[#rows + 1] = #parts == 1 and b or tycho.cat(parts, -1)
    at = at + n
  end
  if #rows == 0 then
    local s = {}
    for i, v in ipairs(batch) do s[i] = v end
    s[#s + 1] = 0
    s[#s + 1] = 0
    return tycho.zeros(s, {dtype = dtype})
  end
  return #rows == 1 and rows[1] or tycho.cat(rows, -2)
end

-- The block-diagonal representation of the rotation (alpha, beta, gamma),
-- composed with the inversion when k = 1.
function Irreps:D_from_angles(alpha, beta, gamma, k)
  local blocks, batch, dtype = {}, nil, nil
  for _, m in ipairs(self) do
    local D = m.ir:D_from_angles(alpha, beta, gamma, k)
    batch, dtype = D.shape, D.dtype
    for _ = 1, m.mul do blocks[#blocks + 1] = D end
  end
  if batch == nil then
    local a = tycho.is_tensor(alpha) and alpha or tycho.tensor(alpha)
    batch, dtype = a.shape, a.dtype
  else
    batch = {table.unpack(batch, 1, #batch - 2)}
  end
  return direct_sum(blocks, self.dim, batch, dtype)
end

-- The determinant of (..., 3, 3) matrices.
local function det3(R)
  local function e(i, j) return R:select(-2, i):select(-1, j) end
  return e(1, 1) * (e(2, 2) * e(3, 3) - e(2, 3) * e(3, 2))
       - e(1, 2) * (e(2, 1) * e(3, 3) - e(2, 3) * e(3, 1))
       + e(1, 3) * (e(2, 1) * e(3, 2) - e(2, 2) * e(3, 1))
end

-- The representation of an element R of O(3) ((3, 3) or (..., 3, 3)):
-- D of the rotation d R (d = det R), times p for odd irreps when d = -1.
function Irreps:D_from_matrix(R)
  local d = tycho.no_grad(function() return det3(R):sign() end)
  local rot = R * d:unsqueeze(-1):unsqueeze(-1)
  local a, b, c = e3.matrix_to_angles(rot)
  local k = (1 - d) / 2
  return self:D_from_angles(a, b, c, k)
end

-- ---------------------------------------------------------------- rotations

local function as_tensor(v, like, dtype)
  if tycho.is_tensor(v) then return v end
  return tycho.tensor(v, {dtype = dtype or (like and like.dtype) or "f32"})
end

-- Angles (numbers or tensors of one shape) as tensors of one dtype.
local function angle_tensors(a, b, c)
  local like = tycho.is_tensor(a) and a or tycho.is_tensor(b) and b or tycho.is_tensor(c) and c or nil
  return as_tensor(a, like), as_tensor(b, like), as_tensor(c, like)
end

-- e3nn's wigner_D(l, alpha, beta, gamma): (..., 2l+1, 2l+1).
function e3.wigner_D(l, alpha, beta, gamma)
  local a, b, c = angle_tensors(alpha, beta, gamma)
  return C.wigner_D(l, a, b, c)
end

-- e3nn's wigner_3j(l1, l2, l3): (2l1+1, 2l2+1, 2l3+1), unit Frobenius norm.
function e3.wigner_3j(l1, l2, l3, opts)
  return C.wigner_3j(l1, l2, l3, dtype_of(opts))
end

-- Ry(alpha) Rx(beta) Ry(gamma): (..., 3, 3), differentiable.
function e3.angles_to_matrix(alpha, beta, gamma)
  return e3.wigner_D(1, alpha, beta, gamma)
end

-- The YXY angles of rotation matrices: alpha, beta, gamma (tensors of
-- shape ...). Not differentiable.
function e3.matrix_to_angles(R)
  local abc = C.matrix_to_angles(R)
  return abc:select(-1, 1), abc:select(-1, 2), abc:select(-1, 3)
end

-- Uniformly random angles: alpha, gamma in [0, 2 pi), beta = acos(u), u in [-1, 1].
function e3.rand_angles(...)
  local shape = {...}
  local opts
  if type(shape[#shape]) == "table" then opts = table.remove(shape) end
  local a = tycho.rand(shape, opts) * (2 * math.pi)
  local c = tycho.rand(shape, opts) * (2 * math.pi)
  local u = tycho.rand(shape, opts):tolist()
  local function acos_all(v)
    if type(v) == "number" then return math.acos(2 * v - 1) end
    local out = {}
    for i, x in ipairs(v) do out[i] = acos_all(x) end
    return out
  end
  local b = tycho.tensor(acos_all(u), {dtype = a.dtype})
  return a, b, c
end

-- A uniformly random rotation matrix (3, 3), or a batch (n..., 3, 3).
function e3.rand_rotation(...)
  return e3.angles_to_matrix(e3.rand_angles(...))
end

-- Quaternions are (w, x, y, z), as e3nn's.
local function qparts(q) return q:select(-1, 1), q:select(-1, 2), q:select(-1, 3), q:select(-1, 4) end

-- The Hamilton product q1 q2 (the rotation q2 first).
function e3.compose_quaternion(q1, q2)
  local w1, x1, y1, z1 = qparts(q1)
  local w2, x2, y2, z2 = qparts(q2)
  return tycho.stack({w1 * w2 - x1 * x2 - y1 * y2 - z1 * z2,
                      x1 * w2 + w1 * x2 + y1 * z2 - z1 * y2,
                      w1 * y2 - x1 * z2 + y1 * w2 + z1 * x2,
                      w1 * z2 + x1 * y2 - y1 * x2 + z1 * w2}, -1)
end

-- (cos(angle / 2), axis sin(angle / 2)), the axis normalised.
function e3.axis_angle_to_quaternion(axis, angle)
  angle = as_tensor(angle, axis)
  local n = axis / axis:norm(2, -1, true):clamp(1e-12, math.huge)
  local h = angle:unsqueeze(-1) / 2
  return tycho.cat({h:cos(), n * h:sin()}, -1)
end

function e3.angles_to_quaternion(alpha, beta, gamma)
  local a, b, c = angle_tensors(alpha, beta, gamma)
  local function about(axis, t)
    local shape = {table.unpack(t.shape)}
    shape[#shape + 1] = 3
    local v = tycho.tensor(axis, {dtype = t.dtype})
    return e3.axis_angle_to_quaternion(#shape > 1 and v:expand(shape) or v, t)
  end
  return e3.compose_quaternion(about({0, 1, 0}, a),
                               e3.compose_quaternion(about({1, 0, 0}, b), about({0, 1, 0}, c)))
end

-- The rotation matrix of unit quaternions (normalised first).
function e3.quaternion_to_matrix(q)
  q = q / q:norm(2, -1, true)
  local w, x, y, z = qparts(q)
  local r = {
    {1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)},
    {2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)},
    {2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)},
  }
  local rows = {}
  for i = 1, 3 do rows[i] = tycho.stack(r[i], -1) end
  return tycho.stack(rows, -2)
end

-- Runs fn over every 3x3 matrix of R (plain Lua numbers) and stacks the
-- tables it returns into a tensor (..., n).
local function per_matrix(R, fn)
  local shape = R.shape
  local flat = R:reshape(-1, 3, 3):tolist()
  local out = {}
  for i, m in ipairs(flat) do out[i] = fn(m) end
  local t = tycho.tensor(out, {dtype = R.dtype})
  local s = {table.unpack(shape, 1, #shape - 2)}
  s[#s + 1] = t.shape[2]
  return t:reshape(s)
end

-- e3nn's matrix_to_axis_angle: the angle in [0, pi] and a unit axis.
function e3.matrix_to_axis_angle(R)
  local t = per_matrix(R, function(m)
    local tr = m[1][1] + m[2][2] + m[3][3]
    local angle = math.acos(math.max(-1, math.min(1, (tr - 1) / 2)))
    local x, y, z = m[3][2] - m[2][3], m[1][3] - m[3][1], m[2][1] - m[1][2]
    local n = math.max(math.sqrt(x * x + y * y + z * z), 1e-12)
    return {x / n, y / n, z / n, angle}
  end)
  return t:narrow(-1, 1, 3), t:select(-1, 4)
end

function e3.matrix_to_quaternion(R)
  return e3.axis_angle_to_quaternion(e3.matrix_to_axis_angle(R))
end

-- The axis and angle (in [0, pi]) of the rotation of q.
function e3.quaternion_to_axis_angle(q)
  return e3.matrix_to_axis_angle(e3.quaternion_to_matrix(q))
end

-- The rotation by angle about axis, differentiable.
function e3.axis_angle_to_matrix(axis, angle)
  return e3.quaternion_to_matrix(e3.axis_angle_to_quaternion(axis, angle))
end

function e3.quaternion_to_angles(q) return e3.matrix_to_angles(e3.quaternion_to_matrix(q)) end
function e3.axis_angle_to_angles(axis, angle)
  return e3.matrix_to_angles(e3.axis_angle_to_matrix(axis, angle))
end
function e3.angles_to_axis_angle(a, b, c) return e3.matrix_to_axis_angle(e3.angles_to_matrix(a, b, c)) end

-- ---------------------------------------------------------------- spherical harmonics

-- The degrees asked for: a number (0..l), a list of degrees, or irreps.
local function degrees(ls)
  if math.type(ls) == "integer" then
    local out = {}
    for l = 0, ls do out[#out + 1] = l end
    return out
  end
  if type(ls) == "string" or is_irreps(ls) then
    local out = {}
    for _, m in ipairs(e3.Irreps(ls)) do for _ = 1, m.mul do out[#out + 1] = m.ir.l end end
    return out
  end
  if type(ls) == "table" then return ls end
  fail("spherical_harmonics", "degrees must be a number, a list or irreps, got %s", type(ls))
end

-- e3nn's spherical harmonics of vectors x (..., 3). ls: lmax (every degree
-- 0..lmax), a list of degrees, or irreps like "0e+1o+2e". opts: normalize
-- (default true), normalization "integral" (default), "component" or "norm".
function e3.spherical_harmonics(ls, x, opts)
  opts = opts or {}
  for k in pairs(opts) do
    if k ~= "normalize" and k ~= "normalization" then
      fail("spherical_harmonics", "unknown option '%s'", tostring(k))
    end
  end
  local list = degrees(ls)
  local lmax, contiguous = 0, true
  for i, l in ipairs(list) do
    if math.type(l) ~= "integer" or l < 0 then
      fail("spherical_harmonics", "degree %s is not a non-negative integer", tostring(l))
    end
    lmax = math.max(lmax, l)
    contiguous = contiguous and l == i - 1
  end
  local normalize = opts.normalize ~= false
  local y = C.spherical_harmonics(lmax, x, normalize, opts.normalization or "integral")
  if contiguous and #list == lmax + 1 then return y end
  local parts = {}
  for i, l in ipairs(list) do parts[i] = y:narrow(-1, l * l + 1, 2 * l + 1) end
  return tycho.cat(parts, -1)
end

-- ---------------------------------------------------------------- tensor products

local modes = {uvw = true, uvu = true, uvv = true, uuw = true, uuu = true}

local function check_opts(fn, opts, allowed)
  opts = opts or {}
  if type(opts) ~= "table" then fail(fn, "options must be a table, got %s", type(opts)) end
  for k in pairs(opts) do
    if not allowed[k] then fail(fn, "unknown option '%s'", tostring(k)) end
  end
  return opts
end

-- e3nn's normalisation coefficient of each instruction.
local function path_coefs(ins, ir1, ir2, iro, opts)
  local inorm = opts.irrep_normalization or "component"
  local pnorm = opts.path_normalization or "element"
  local v1, v2, vo = opts.in1_var, opts.in2_var, opts.out_var
  local function var(v, i) return v and v[i] or 1 end
  local function num_elements(p)
    local m1, m2 = ir1[p.i1].mul, ir2[p.i2].mul
    return ({uvw = m1 * m2, uvu = m2, uvv = m1, uuw = m1, uuu = 1})[p.mode]
  end
  local coefs = {}
  for k, p in ipairs(ins) do
    local alpha = inorm == "component" and iro[p.io].ir.dim
               or inorm == "norm" and ir1[p.i1].ir.dim * ir2[p.i2].ir.dim or 1
    local x = 1
    if pnorm == "element" then
      x = 0
      for _, q in ipairs(ins) do
        if q.io == p.io then x = x + var(v1, q.i1) * var(v2, q.i2) * num_elements(q) end
      end
    elseif pnorm == "path" then
      local n = 0
      for _, q in ipairs(ins) do if q.io == p.io then n = n + 1 end end
      x = var(v1, p.i1) * var(v2, p.i2) * num_elements(p) * n
    end
    if x > 0 then alpha = alpha / x end
    alpha = alpha * var(vo, p.io) * p.path_weight
    coefs[k] = math.sqrt(alpha)
  end
  return coefs
end

local TensorProduct = nn.Module:extend("TensorProduct")
e3.TensorProduct = TensorProduct

-- e3.TensorProduct(irreps_in1, irreps_in2, irreps_out, instructions, opts):
-- instructions are {i1, i2, i_out, mode, has_weight[, path_weight]} with
-- 1-based indices into the irreps, mode one of uvw, uvu, uvv, uuw, uuu.
-- opts: irrep_normalization ("component", "norm", "none"),
-- path_normalization ("element", "path", "none"), in1_var, in2_var, out_var,
-- shared_weights (default true), internal_weights (default: shared_weights),
-- dtype. Weights are e3nn's flat layout: (weight_numel) shared or
-- (..., weight_numel) per sample, passed to forward when not internal.
function TensorProduct:init(irreps_in1, irreps_in2, irreps_out, instructions, opts)
  local fn = "TensorProduct"
  opts = check_opts(fn, opts, {irrep_normalization = true, path_normalization = true,
                               in1_var = true, in2_var = true, out_var = true, shared_weights = true,
                               internal_weights = true, dtype = true})
  local ir1, ir2, iro = e3.Irreps(irreps_in1), e3.Irreps(irreps_in2), e3.Irreps(irreps_out)
  self.irreps_in1, self.irreps_in2, self.irreps_out = ir1, ir2, iro
  local ins = {}
  for k, t in ipairs(instructions or {}) do
    local p = {i1 = t[1], i2 = t[2], io = t[3], mode = t[4], has_weight = t[5] ~= false,
               path_weight = t[6] or 1}
    for _, f in ipairs({{"i1", ir1, "irreps_in1"}, {"i2", ir2, "irreps_in2"}, {"io", iro, "irreps_out"}}) do
      local i = p[f[1]]
      if math.type(i) ~= "integer" or i < 1 or i > #f[2] then
        fail(fn, "instruction %d: index %s is not an entry of %s (1 to %d)", k, tostring(i), f[3], #f[2])
      end
    end
    if not modes[p.mode] then
      fail(fn, "instruction %d: unknown mode '%s' (uvw, uvu, uvv, uuw or uuu)", k, tostring(p.mode))
    end
    local a, b, o = ir1[p.i1].ir, ir2[p.i2].ir, iro[p.io].ir
    if a.p * b.p ~= o.p or o.l < math.abs(a.l - b.l) or o.l > a.l + b.l then
      fail(fn, "instruction %d: %s x %s cannot give %s", k, tostring(a), tostring(b), tostring(o))
    end
    ins[k] = p
  end
  local mode_inorm = opts.irrep_normalization or "component"
  if not ({component = true, norm = true, none = true})[mode_inorm] then
    fail(fn, "irrep_normalization must be component, norm or none, got '%s'", tostring(mode_inorm))
  end
  if not ({element = true, path = true, none = true})[opts.path_normalization or "element"] then
    fail(fn, "path_normalization must be element, path or none, got '%s'",
         tostring(opts.path_normalization))
  end
  local coefs = path_coefs(ins, ir1, ir2, iro, opts)
  local o1, o2, oo = offsets(ir1), offsets(ir2), offsets(iro)
  local paths = {}
  for k, p in ipairs(ins) do
    local a, b, o = ir1[p.i1], ir2[p.i2], iro[p.io]
    paths[k] = {l1 = a.ir.l, l2 = b.ir.l, lo = o.ir.l, off1 = o1[p.i1], mul1 = a.mul,
                off2 = o2[p.i2], mul2 = b.mul, offo = oo[p.io], mulo = o.mul, mode = p.mode,
                has_weight = p.has_weight, coef = coefs[k]}
    p.coef = coefs[k]
  end
  local ok, plan = pcall(C.tp_new, ir1.dim, ir2.dim, iro.dim, paths)
  if not ok then error("e3." .. tostring(plan):gsub("^.-e3_tp_new", fn), 2) end
  rawset(self, "_plan", plan)
  self.instructions = ins
  self.weight_numel = C.tp_weight_numel(plan)
  self.shared_weights = opts.shared_weights ~= false
  local internal = opts.internal_weights
  if internal == nil then internal = self.shared_weights end
  if internal and not self.shared_weights then
    fail(fn, "internal weights must be shared (shared_weights = false needs internal_weights = false)")
  end
  self.internal_weights = internal
  if internal and self.weight_numel > 0 then
    self.weight = nn.Parameter(tycho.randn(self.weight_numel, {dtype = dtype_of(opts)}))
  end
end

-- The leading shape of x (all dims but the last) and x as (n, last).
local function flatten(x, dim, what, fn)
  local s = x.shape
  if #s < 1 or s[#s] ~= dim then
    fail(fn, "%s has shape (%s), expected (..., %d)", what, table.concat(s, ","), dim)
  end
  local lead = {table.unpack(s, 1, #s - 1)}
  return lead, x:reshape(-1, dim)
end

local function same_shape(a, b)
  if #a ~= #b then return false end
  for i = 1, #a do if a[i] ~= b[i] then return false end end
  return true
end

-- Broadcast leading dims of x (..., d) to lead.
local function expand_lead(x, lead)
  local s = {table.unpack(lead)}
  s[#s + 1] = x.shape[#x.shape]
  return x:expand(s)
end

local function broadcast_lead(a, b)
  local n = math.max(#a, #b)
  local out = {}
  for i = 1, n do
    local x, y = a[#a - n + i] or 1, b[#b - n + i] or 1
    if x ~= y and x ~= 1 and y ~= 1 then return nil end
    out[i] = x == 1 and y or x
  end
  return out
end

-- The product of x1 (..., dim1) and x2 (..., dim2) (leading dims
-- broadcast): (..., dim_out). weight: when the weights are not internal,
-- (weight_numel) shared or (..., weight_numel) per sample.
function TensorProduct:forward(x1, x2, weight)
  local fn = "TensorProduct"
  local d1, d2 = self.irreps_in1.dim, self.irreps_in2.dim
  local s1, s2 = x1.shape, x2.shape
  if #s1 < 1 or s1[#s1] ~= d1 then
    fail(fn, "x1 has shape (%s), expected (..., %d) for %s", table.concat(s1, ","), d1,
         tostring(self.irreps_in1))
  end
  if #s2 < 1 or s2[#s2] ~= d2 then
    fail(fn, "x2 has shape (%s), expected (..., %d) for %s", table.concat(s2, ","), d2,
         tostring(self.irreps_in2))
  end
  local l1, l2 = {table.unpack(s1, 1, #s1 - 1)}, {table.unpack(s2, 1, #s2 - 1)}
  local lead = broadcast_lead(l1, l2)
  if not lead then
    fail(fn, "the batch dims of x1 (%s) and x2 (%s) do not broadcast", table.concat(l1, ","),
         table.concat(l2, ","))
  end
  if not same_shape(l1, lead) then x1 = expand_lead(x1, lead) end
  if not same_shape(l2, lead) then x2 = expand_lead(x2, lead) end
  local w = nil
  if self.weight_numel > 0 then
    if self.internal_weights then
      if weight ~= nil then fail(fn, "this product has internal weights; do not pass weights") end
      w = self.weight
    else
      if weight == nil then fail(fn, "weights are required (%d per sample or shared)", self.weight_numel) end
      w = weight
      local ws = w.shape
      if ws[#ws] ~= self.weight_numel then
        fail(fn, "weights have shape (%s), expected (..., %d)", table.concat(ws, ","), self.weight_numel)
      end
      if #ws > 1 then
        local wl = {table.unpack(ws, 1, #ws - 1)}
        local all = broadcast_lead(lead, wl)
        if not all then
          fail(fn, "the batch dims of the weights (%s) do not broadcast with (%s)",
               table.concat(wl, ","), table.concat(lead, ","))
        end
        if not same_shape(all, lead) then
          lead = all
          x1, x2 = expand_lead(x1, lead), expand_lead(x2, lead)
        end
        if not same_shape(wl, lead) then w = expand_lead(w, lead) end
        w = w:reshape(-1, self.weight_numel)
      end
    end
  end
  local y = C.tensor_product(self._plan, x1:reshape(-1, d1), x2:reshape(-1, d2), w)
  local s = {table.unpack(lead)}
  s[#s + 1] = self.irreps_out.dim
  return y:reshape(s)
end

function TensorProduct:extra_repr()
  return string.format("%s x %s -> %s | %d paths | %d weights", tostring(self.irreps_in1),
                       tostring(self.irreps_in2), tostring(self.irreps_out:simplify()),
                       #self.instructions, self.weight_numel)
end

-- Every path of irreps_in1 x irreps_in2 into every matching output, uvw,
-- with weights (e3nn's FullyConnectedTensorProduct).
function e3.FullyConnectedTensorProduct(irreps_in1, irreps_in2, irreps_out, opts)
  local ir1, ir2, iro = e3.Irreps(irreps_in1), e3.Irreps(irreps_in2), e3.Irreps(irreps_out)
  local ins = {}
  for i1, a in ipairs(ir1) do
    for i2, b in ipairs(ir2) do
      for io, o in ipairs(iro) do
        if a.ir.p * b.ir.p == o.ir.p and o.ir.l >= math.abs(a.ir.l - b.ir.l) and o.ir.l <= a.ir.l + b.ir.l then
          ins[#ins + 1] = {i1, i2, io, "uvw", true}
        end
      end
    end
  end
  return TensorProduct(ir1, ir2, iro, ins, opts)
end

-- ---------------------------------------------------------------- Linear

local Linear = nn.Module:extend("Linear")
e3.Linear = Linear

-- e3nn's o3.Linear: each output block a weighted sum of the input blocks
-- of the same irrep, normalised by 1/sqrt(fan-in); biases (zeros at first)
-- on the scalar (0e) outputs when opts.biases. Weights: (weight_numel), one
-- (mul_in, mul_out) matrix per path, in e3nn's order. Done with the C
-- tensor product against a constant 1 (an l x 0 -> l path per block).
function Linear:init(irreps_in, irreps_out, opts)
  opts = check_opts("Linear", opts, {biases = true, dtype = true})
  local iri, iro = e3.Irreps(irreps_in), e3.Irreps(irreps_out)
  self.irreps_in, self.irreps_out = iri, iro
  local oi, oo = offsets(iri), offsets(iro)
  local fan = {}
  for io, o in ipairs(iro) do
    fan[io] = 0
    for _, a in ipairs(iri) do if a.ir == o.ir then fan[io] = fan[io] + a.mul end end
  end
  local paths = {}
  for ii, a in ipairs(iri) do
    for io, o in ipairs(iro) do
      if a.ir == o.ir and a.mul > 0 and o.mul > 0 then
        -- wigner_3j(l, 0, l) is delta / sqrt(2l+1): undo that factor
        paths[#paths + 1] = {l1 = a.ir.l, l2 = 0, lo = a.ir.l, off1 = oi[ii], mul1 = a.mul, off2 = 0,
                             mul2 = 1, offo = oo[io], mulo = o.mul, mode = "uvw", has_weight = true,
                             coef = math.sqrt(a.ir.dim / fan[io])}
      end
    end
  end
  rawset(self, "_plan", C.tp_new(iri.dim, 1, iro.dim, paths))
  self.weight_numel = C.tp_weight_numel(self._plan)
  local dtype = dtype_of(opts)
  if self.weight_numel > 0 then
    self.weight = nn.Parameter(tycho.randn(self.weight_numel, {dtype = dtype}))
  end
  self.bias_numel = 0
  local where = {}
  if opts.biases then
    for io, o in ipairs(iro) do
      if o.ir:is_scalar() and o.mul > 0 then
        where[#where + 1] = {oo[io], o.mul}
        self.bias_numel = self.bias_numel + o.mul
      end
    end
    if self.bias_numel > 0 then self.bias = nn.Parameter(tycho.zeros(self.bias_numel, {dtype = dtype})) end
  end
  self._bias_at = where
end

-- The biases spread over the output features (dim_out), differentiable.
local function bias_vector(m, dim)
  local parts, at, k = {}, 0, 1
  for _, b in ipairs(m._bias_at) do
    if b[1] > at then parts[#parts + 1] = tycho.zeros(b[1] - at, {dtype = m.bias.dtype}) end
    parts[#parts + 1] = m.bias:narrow(1, k, b[2])
    at, k = b[1] + b[2], k + b[2]
  end
  if dim > at then parts[#parts + 1] = tycho.zeros(dim - at, {dtype = m.bias.dtype}) end
  return tycho.cat(parts, 1)
end

function Linear:forward(x)
  local lead, xf = flatten(x, self.irreps_in.dim, "the input", "Linear")
  local y
  if self.weight_numel > 0 then
    local one = tycho.ones(xf.shape[1], 1, {dtype = x.dtype})
    y = C.tensor_product(self._plan, xf, one, self.weight)
  else
    y = tycho.zeros(xf.shape[1], self.irreps_out.dim, {dtype = x.dtype})
  end
  if self.bias_numel > 0 then y = y + bias_vector(self, self.irreps_out.dim) end
  local s = {table.unpack(lead)}
  s[#s + 1] = self.irreps_out.dim
  return y:reshape(s)
end

function Linear:extra_repr()
  return string.format("%s -> %s | %d weights", tostring(self.irreps_in), tostring(self.irreps_out),
                       self.weight_numel)
end

-- ---------------------------------------------------------------- Norm

local Norm = nn.Module:extend("Norm")
e3.Norm = Norm

-- The norm of every irrep copy: (..., dim) -> (..., num_irreps), as
-- e3nn's o3.Norm (squared = true gives the squared norm).
function Norm:init(irreps, opts)
  opts = check_opts("Norm", opts, {squared = true})
  local irs = e3.Irreps(irreps)
  self.irreps_in = irs
  self.squared = opts.squared == true
  local off, out, paths = offsets(irs), 0, {}
  for i, m in ipairs(irs) do
    if m.mul > 0 then
      -- wigner_3j(l, l, 0)[i, i, 0] = +-1/sqrt(2l+1): the coefficient makes it sum x_i^2
      local c0 = C.wigner_3j(m.ir.l, m.ir.l, 0, "f64")[{1, 1, 1}]:item()
      paths[#paths + 1] = {l1 = m.ir.l, l2 = m.ir.l, lo = 0, off1 = off[i], mul1 = m.mul,
                           off2 = off[i], mul2 = m.mul, offo = out, mulo = m.mul, mode = "uuu",
                           has_weight = false, coef = 1 / c0}
    end
    out = out + m.mul
  end
  self.irreps_out = e3.Irreps({{irs.num_irreps, "0e"}}):simplify()
  rawset(self, "_plan", C.tp_new(irs.dim, irs.dim, irs.num_irreps, paths))
end

function Norm:forward(x)
  local lead, xf = flatten(x, self.irreps_in.dim, "the input", "Norm")
  local y = C.tensor_product(self._plan, xf, xf, nil)
  if not self.squared then y = y:relu():sqrt() end
  local s = {table.unpack(lead)}
  s[#s + 1] = self.irreps_in.num_irreps
  return y:reshape(s)
end

function e3.norm(x, irreps, opts) return Norm(irreps, opts)(x) end

-- ---------------------------------------------------------------- Gate

local activations = {
  silu = function(x) return x:silu() end, tanh = function(x) return x:tanh() end,
  sigmoid = function(x) return x:sigmoid() end, relu = function(x) return x:relu() end,
  gelu = function(x) return x:gelu() end, abs = function(x) return x:abs() end,
}

local function activation(f, fn)
  if type(f) == "string" then
    local a = activations[f]
    if not a then fail(fn, "unknown activation '%s'", f) end
    return a
  end
  if type(f) ~= "function" and not (type(f) == "table" and getmetatable(f) and getmetatable(f).__call) then
    fail(fn, "an activation must be a function or a name, got %s", type(f))
  end
  return f
end

-- e3nn rescales activations to unit second moment under a standard normal
-- input; here the integral is computed by quadrature (e3nn samples it, so
-- its constants differ in the third or fourth digit).
local moment_cache = setmetatable({}, {__mode = "k"})
local function second_moment_scale(f)
  if moment_cache[f] then return moment_cache[f] end
  local n, lo, hi = 4001, -10, 10
  local x = tycho.linspace(lo, hi, n, {dtype = "f64"})
  local y = tycho.no_grad(function() return f(x) end)
  local w = (-(x * x) / 2):exp() / math.sqrt(2 * math.pi) * ((hi - lo) / (n - 1))
  local m = (y * y * w):sum():item()
  local c = 1 / math.sqrt(m)
  moment_cache[f] = c
  return c
end

-- Whether f is even (1), odd (-1) or neither (0), checked at a few points.
local function parity_of(f)
  local x = tycho.tensor({0.3, 0.9, 1.7, 2.5}, {dtype = "f64"})
  local a, b = tycho.no_grad(function() return f(x), f(-x) end)
  if (a - b):abs():max():item() < 1e-9 then return 1 end
  if (a + b):abs():max():item() < 1e-9 then return -1 end
  return 0
end

-- Applies the activations to the scalar blocks of x (a list of (mul, ir)).
local function act_blocks(x, irs, acts, scales)
  local parts, at = {}, 1
  for i, m in ipairs(irs) do
    if m.dim > 0 then
      parts[#parts + 1] = acts[i](x:narrow(-1, at, m.dim)) * scales[i]
      at = at + m.dim
    end
  end
  return parts
end

local Gate = nn.Module:extend("Gate")
e3.Gate = Gate

-- e3nn's nn.Gate: the input is scalars + gates + gated; the output is
-- act_scalars(scalars) followed by the gated irreps, each copy multiplied
-- by act_gates of its gate. Activations: functions of a tensor, or names
-- (silu, tanh, sigmoid, relu, gelu, abs), one per entry of the irreps.
function Gate:init(irreps_scalars, act_scalars, irreps_gates, act_gates, irreps_gated)
  local fn = "Gate"
  local irs, irg, irx = e3.Irreps(irreps_scalars), e3.Irreps(irreps_gates), e3.Irreps(irreps_gated)
  for _, pair in ipairs({{irs, "irreps_scalars"}, {irg, "irreps_gates"}}) do
    for _, m in ipairs(pair[1]) do
      if m.ir.l ~= 0 then fail(fn, "%s must be scalars, got %s", pair[2], tostring(pair[1])) end
    end
  end
  if irg.num_irreps ~= irx.num_irreps then
    fail(fn, "there are %d gates for %d gated irreps (%s)", irg.num_irreps, irx.num_irreps, tostring(irx))
  end
  if #act_scalars ~= #irs or #act_gates ~= #irg then
    fail(fn, "one activation per entry: %d for %s and %d for %s", #act_scalars, tostring(irs),
         #act_gates, tostring(irg))
  end
  local function prepare(acts, irreps, what)
    local fs, sc, out = {}, {}, {}
    for i, m in ipairs(irreps) do
      fs[i] = activation(acts[i], fn)
      sc[i] = second_moment_scale(fs[i])
      local p = m.ir.p
      if p == -1 then
        local par = parity_of(fs[i])
        if par == 0 then fail(fn, "the activation of the odd %s %s is neither even nor odd", what, tostring(m)) end
        p = par == 1 and 1 or -1
      end
      out[i] = {m.mul, e3.Irrep(0, p)}
    end
    return fs, sc, e3.Irreps(out)
  end
  local fs, ss, outs = prepare(act_scalars, irs, "scalar")
  local fg, sg, outg = prepare(act_gates, irg, "gate")
  rawset(self, "_acts", {fs, ss, fg, sg})
  self.irreps_scalars, self.irreps_gates, self.irreps_gated = irs, irg, irx
  self.irreps_in = irs + irg + irx
  -- a gate of odd parity flips the parity of what it gates
  local gp = {}
  for _, m in ipairs(outg) do for _ = 1, m.mul do gp[#gp + 1] = m.ir.p end end
  local gated, k = {}, 1
  for _, m in ipairs(irx) do
    for _ = 1, m.mul do
      gated[#gated + 1] = {1, e3.Irrep(m.ir.l, m.ir.p * (gp[k] or 1))}
      k = k + 1
    end
  end
  self.irreps_out = (outs + e3.Irreps(gated)):simplify()
  -- the gate of every gated feature (1-based), to spread gates over features
  local idx = {}
  k = 1
  for _, m in ipairs(irx) do
    for _ = 1, m.mul do
      for _ = 1, m.ir.dim do idx[#idx + 1] = k end
      k = k + 1
    end
  end
  self:register_buffer("_gate_index", tycho.tensor(#idx > 0 and idx or {1}, {dtype = "i64"}))
  rawset(self, "_n_gated", #idx)
end

function Gate:forward(x)
  local s, g, d = self.irreps_scalars.dim, self.irreps_gates.dim, self.irreps_gated.dim
  local dim = x.shape[#x.shape]
  if dim ~= s + g + d then
    fail("Gate", "the input has %d features, expected %d (%s)", dim, s + g + d, tostring(self.irreps_in))
  end
  local fs, ss, fg, sg = table.unpack(self._acts)
  local parts = act_blocks(x:narrow(-1, 1, s), self.irreps_scalars, fs, ss)
  if d > 0 then
    local gates = tycho.cat(act_blocks(x:narrow(-1, s + 1, g), self.irreps_gates, fg, sg), -1)
    local spread = gates:index_select(-1, self._gate_index)
    parts[#parts + 1] = x:narrow(-1, s + g + 1, d) * spread
  end
  if #parts == 0 then return x:narrow(-1, 1, 0) end
  return #parts == 1 and parts[1] or tycho.cat(parts, -1)
end

function Gate:extra_repr()
  return string.format("%s -> %s", tostring(self.irreps_in), tostring(self.irreps_out))
end

-- ---------------------------------------------------------------- radial bases and graphs

-- Bessel functions sqrt(2/r_max) sin(n pi r / r_max) / r, n = 1..num: (..., num).
function e3.bessel_basis(r, num, r_max)
  local n = tycho.arange(1, num + 1, 1, {dtype = r.dtype}) * (math.pi / r_max)
  local ru = r:unsqueeze(-1)
  return (ru * n):sin() / ru * math.sqrt(2 / r_max)
end

-- NequIP's smooth cutoff: 1 - (p+1)(p+2)/2 u^p + p(p+2) u^(p+1) - p(p+1)/2 u^(p+2),
-- u = r / r_max, and 0 beyond r_max (p = 6 by default).
function e3.polynomial_cutoff(r, r_max, p)
  p = p or 6
  local u = r / r_max
  local f = 1 - (p + 1) * (p + 2) / 2 * u ^ p + p * (p + 2) * u ^ (p + 1) - p * (p + 1) / 2 * u ^ (p + 2)
  return f * u:lt(1):to(r.dtype)
end

-- The edges between points closer than r_max (no self loops): src and dst,
-- 1-based i64 tensors (E). pos: (N, 3). batch (optional, (N) i64) keeps
-- edges inside each graph of a batch.
function e3.radius_graph(pos, r_max, batch)
  return tycho.no_grad(function()
    local n = pos.shape[1]
    local d = pos:unsqueeze(2) - pos:unsqueeze(1)
    local close = (d * d):sum(-1):lt(r_max * r_max)
    close = close:logical_and(tycho.eye(n):eq(0))
    if batch ~= nil then close = close:logical_and(batch:unsqueeze(2):eq(batch:unsqueeze(1))) end
    local idx = tycho.nonzero(close)
    if idx.shape[1] == 0 then
      local e = tycho.zeros(0, {dtype = "i64"})
      return e, e
    end
    return idx:select(2, 1):contiguous(), idx:select(2, 2):contiguous()
  end)
end

local Convolution = nn.Module:extend("Convolution")
e3.Convolution = Convolution

-- A NequIP-style interaction: messages TP(x[src], Y(r_dst - r_src), w(|r|))
-- with the channel-wise (uvu) product of every path of irreps_node x
-- irreps_sh whose output is in irreps_out, weights per edge from an MLP of
-- Bessel features times the cutoff; summed into the destination nodes
-- (index_add) and divided by sqrt(num_neighbors); then an e3.Linear to
-- irreps_out. opts: r_max (5), num_basis (8), hidden (16), num_neighbors
-- (1), dtype.
function Convolution:init(irreps_node, irreps_sh, irreps_out, opts)
  opts = check_opts("Convolution", opts, {r_max = true, num_basis = true, hidden = true,
                                          num_neighbors = true, dtype = true})
  local irn, irsh, iro = e3.Irreps(irreps_node), e3.Irreps(irreps_sh), e3.Irreps(irreps_out)
  self.irreps_node, self.irreps_sh, self.irreps_out = irn, irsh, iro
  self.r_max, self.num_basis = opts.r_max or 5.0, opts.num_basis or 8
  self.num_neighbors = opts.num_neighbors or 1.0
  local mid, ins = {}, {}
  for i1, a in ipairs(irn) do
    for i2, b in ipairs(irsh) do
      for _, ir in ipairs(a.ir * b.ir) do
        if iro:count(ir) > 0 then
          mid[#mid + 1] = {a.mul, ir}
          ins[#ins + 1] = {i1, i2, #mid, "uvu", true}
        end
      end
    end
  end
  local irmid, perm = e3.Irreps(mid):sort()
  for _, t in ipairs(ins) do t[3] = perm[t[3]] end
  local dtype = dtype_of(opts)
  self.tp = TensorProduct(irn, irsh, irmid, ins, {shared_weights = false, internal_weights = false,
                                                  dtype = dtype})
  local h = opts.hidden or 16
  self.fc = nn.Sequential(nn.Linear(self.num_basis, h, {dtype = dtype}), nn.SiLU(),
                          nn.Linear(h, self.tp.weight_numel, {dtype = dtype}))
  self.linear = Linear(irmid, iro, {dtype = dtype})
end

-- x: node features (N, dim); pos: (N, 3); src, dst: edges (1-based i64).
function Convolution:forward(x, pos, src, dst)
  local vec = pos:index_select(1, dst) - pos:index_select(1, src)
  local r = vec:norm(2, -1)
  local sh = e3.spherical_harmonics(self.irreps_sh, vec, {normalize = true, normalization = "component"})
  local emb = e3.bessel_basis(r, self.num_basis, self.r_max) *
              e3.polynomial_cutoff(r, self.r_max):unsqueeze(-1)
  local w = self.fc(emb)
  local msg = self.tp(x:index_select(1, src), sh, w)
  local agg = tycho.zeros(x.shape[1], msg.shape[2], {dtype = msg.dtype}):index_add(1, dst, msg)
  return self.linear(agg / math.sqrt(self.num_neighbors))
end

return e3
