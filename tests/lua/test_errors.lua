-- Bad input gives Lua errors that name the function, the problem and the
-- values, never crashes; and the tensors involved are unchanged afterwards.
-- Also run under valgrind (no leaks on error paths):
--   valgrind --leak-check=full tylua tests/lua/test_errors.lua
local H = dofile((arg and arg[0] or ""):match("(.*/)") .. "harness.lua")
local test, eq, raises, ok = H.test, H.eq, H.raises, H.ok
local tycho = rawget(_G, "tycho") or require("tycho")
local T = tycho.tensor
local I64 = {dtype = "i64"}

test("C errors become 'fn: message' with the values", function()
  local a, b = tycho.zeros(2, 3), tycho.zeros(4, 5)
  raises(function() return a:matmul(b) end, "matmul: shapes (2,3) and (4,5) cannot be multiplied")
  raises(function() return a + tycho.zeros(4) end, "add: shapes (2,3) and (4) do not broadcast")
  raises(function() return a:reshape(4, 2) end, "reshape: shape (4,2) is invalid")
  raises(function() return tycho.cat({a, b}) end, "cat")
  raises(function() return T({1, 2}, I64):mean() end, "mean")
  raises(function() return a:view(3, -1, -1) end, "view: only one dim can be -1")
  eq(a.shape, {2, 3}, "inputs intact")
end)

test("error messages carry the caller's position", function()
  local msg = raises(function() return tycho.zeros(2):matmul(tycho.zeros(3)) end, "matmul")
  ok(msg:find("test_errors.lua:%d+:"), msg)
end)

test("wrong Lua types give argument errors", function()
  raises(function() return tycho.matmul("x", tycho.zeros(2)) end,
         "bad argument #1 to 'matmul' (tensor expected, got string)")
  raises(function() return tycho.zeros(2):matmul({}) end, "tensor expected, got table")
  raises(function() return tycho.zeros(2) + "a" end, "tensor or number expected")
  raises(function() return tycho.zeros(2) + {} end, "tensor or number expected")
  raises(function() return tycho.add(1, 2) end, "add: expected a tensor operand")
  raises(function() return tycho.zeros(2, 3):sum(1.5) end, "number has no integer representation")
  raises(function() return tycho.zeros(2.5) end, "no integer representation")
  raises(function() return tycho.zeros(2):select("a", 1) end, "integer expected")
  raises(function() return tycho.exp(nil) end, "tensor expected, got nil")
  raises(function() return tycho.zeros(2, {dtype = "f13"}) end, "unknown dtype 'f13'")
  raises(function() return tycho.zeros(2, {dtpye = "f32"}) end, "unknown option 'dtpye'")
  raises(function() return tycho.zeros(2, {device = "tpu"}) end, "bad device 'tpu'")
  raises(function() return tycho.zeros(-1) end, "negative size -1")
  raises(function() return tycho.zeros(2, {requires_grad = "yes"}) end,
         "option 'requires_grad' must be a boolean")
end)

test("tensor(): mixed types, ragged tables and bad elements", function()
  raises(function() return T({1, true}) end,
         "mixed element types: number at [1] but boolean at [2]")
  raises(function() return T({{1, 2}, {3}}) end,
         "ragged nested table: [2] has 1 elements, expected 2")
  raises(function() return T({{1, 2}, 3}) end, "ragged nested table: element [2] is a number")
  raises(function() return T({1, {2}}) end, "ragged nested table")
  raises(function() return T({1, "x"}) end, "element [2] is a string")
  raises(function() return T({tycho.zeros(2)}) end, "tycho.stack")
  raises(function() return T({1.5}, I64) end, "1.5 at [1] is not a valid i64 value")
  raises(function() return T({300}, {dtype = "u8"}) end, "does not fit dtype u8")
  raises(function() return T("abc") end, "table, number, boolean or tensor expected")
end)

test("dims and indices are 1-based; 0 and out of range are errors", function()
  local x = T({{1, 2, 3}, {4, 5, 6}})
  raises(function() return x:sum(3) end, "sum: dim 3 is out of range for a tensor with 2 dims")
  raises(function() return x:sum(0) end, "dim 0 is out of range")
  raises(function() return x:size(-3) end, "size: dim -3 is out of range")
  raises(function() return x[3] end, "index: index 3 is out of range for dim 1 of size 2")
  raises(function() return x[0] end,
         "index 0 is out of range for dim 1 of size 2 (indices are 1-based)")
  raises(function() return x[{1, 4}] end, "index 4 is out of range for dim 2 of size 3")
  raises(function() return x[{1, 2, 3}] end, "index: 3 indices for a tensor with 2 dims")
  raises(function() return x[{{}, {2, 5}}] end, "range {2, 5} is out of range for dim 2 of size 3")
  raises(function() return x[{{0, 1}}] end, "(indices are 1-based)")
  raises(function() return x[1.5] end, "no integer representation")
  raises(function() return x[{"a"}] end,
         "entry 1 must be an integer, a range table or an index tensor")
  raises(function() return x:select(1, 3) end,
         "select: index 3 is out of range for dim 1 of size 2")
  raises(function() return x:narrow(2, 2, 3) end, "narrow: start 2 and length 3 are out of range")
  raises(function() return x:transpose(1, 3) end, "transpose: dim 3 is out of range")
  raises(function() return x:permute(1, 1) end, "permute: dim 1 is given twice")
  raises(function() return x:unsqueeze(4) end, "unsqueeze: dim 4 is out of range: expected 1..3")
  raises(function() return T(5)[1] end, "a 0-d tensor cannot be indexed")
  raises(function() return #T(5) end, "len: a 0-d tensor has no length")
  eq(x, {{1, 2, 3}, {4, 5, 6}}, "x intact")
end)

test("index tensors: i64 and 1-based, checked before anything is written", function()
  local x = T({{1, 2, 3}, {4, 5, 6}})
  raises(function() return x:gather(2, T({{0}, {1}}, I64)) end,
         "gather: index 0 is out of range 1..3 (indices are 1-based)")
  raises(function() return x:gather(2, T({{4}, {1}}, I64)) end,
         "gather: index 4 is out of range 1..3")
  raises(function() return x:gather(2, T({{1}, {1}})) end,
         "gather: index tensor must be i64, got f32")
  raises(function() return x:index_select(1, T({3}, I64)) end,
         "index_select: index 3 is out of range 1..2")
  raises(function() x:scatter_(2, T({{1, 9}}, I64), 7) end, "scatter_: index 9 is out of range")
  raises(function() x:scatter_add_(1, T({{1, 3, 1}}, I64), T({{1, 1, 1}})) end,
         "index 3 is out of range 1..2")
  raises(function() return x[T({0}, I64)] end, "index: index 0 is out of range 1..2")
  raises(function() x[T({5}, I64)] = 1 end, "index 5 is out of range 1..2")
  raises(function() return tycho.cross_entropy(x, T({0, 1}, I64)) end,
         "cross_entropy: label 0 is out of range 1..3")
  raises(function() return tycho.cross_entropy(x, T({1, 4}, I64)) end,
         "label 4 is out of range 1..3")
  raises(function() return T({0}, I64):one_hot(3) end, "one_hot: label 0 is out of range")
  eq(x, {{1, 2, 3}, {4, 5, 6}}, "x intact after the failed in-place ops")
end)

test("assignment errors leave the tensor unchanged", function()
  local x = T({{1, 2}, {3, 4}})
  raises(function() x[1] = T({1, 2, 3}) end, "broadcast")
  raises(function() x[1] = "a" end, "cannot assign a string to tensor elements")
  raises(function() x[{1, 5}] = 1 end, "index 5 is out of range for dim 2 of size 2")
  raises(function() x[{{}, T({1}, I64)}] = 1 end, "not supported")
  raises(function() x[{{}, {}, 1}] = 1 end, "index: 3 indices for a tensor with 2 dims")
  eq(x, {{1, 2}, {3, 4}})
end)

test("in-place ops that fail change nothing", function()
  local x = T({1, 2, 3}, I64)
  raises(function() x:add_(0.5) end, "add_")
  raises(function() x:div_(2) end, "div_")
  local y = T({1, 2, 3})
  raises(function() y:add_(tycho.zeros(2, 3)) end, "add_")
  raises(function() y:copy_(tycho.zeros(4)) end, "copy_")
  eq(x, {1, 2, 3})
  eq(y, {1, 2, 3})
end)

test("closed tensors are errors, not crashes", function()
  local x = tycho.zeros(2)
  do
    local y <close> = tycho.ones(3)
    eq(y:sum():item(), 3)
    x = y
  end
  raises(function() return x:sum() end, "tensor has been closed")
  raises(function() return x + 1 end, "tensor has been closed")
  raises(function() return x.shape end, "tensor has been closed")
  eq(tostring(x), "tensor(closed)")
  ok(tycho.is_tensor(x))
end)

test("save and load refuse bad input and never run code", function()
  local dir = os.getenv("TY_TEST_TMPDIR") or os.getenv("TMPDIR") or "/tmp"
  raises(function() tycho.save(dir .. "/x.pt", tycho.zeros(2)) end, "save: unknown file type")
  raises(function() tycho.save(dir .. "/x.npy", {}) end, "save: a .npy file holds one tensor")
  raises(function() tycho.save(dir .. "/x.safetensors", tycho.zeros(2)) end,
         "wrap one tensor as {x = x}")
  raises(function() tycho.save(dir .. "/x.safetensors", {a = 1}) end, "value 'a' is a number")
  raises(function() tycho.save(dir .. "/x.safetensors", {tycho.zeros(1)}) end,
         "keys must be strings")
  raises(function() tycho.load(dir .. "/does_not_exist.safetensors") end, "load")
  raises(function() tycho.load(dir .. "/x.lua") end, "load: unknown file type")
  local bad = dir .. "/tycho_bad_" .. tostring(os.time()) .. ".safetensors"
  local f = assert(io.open(bad, "wb"))
  f:write("return os.exit(3)")
  f:close()
  raises(function() tycho.load(bad) end, "load")
  os.remove(bad)
end)

test("misuse of functions: options and argument counts", function()
  raises(function() tycho.no_grad(42) end, "function expected")
  raises(function() tycho.cross_entropy(tycho.zeros(2, 3), T({1, 1}, I64), {reduction = "avg"}) end,
         "unknown reduction 'avg'")
  local q = tycho.zeros(1, 2, 4)
  raises(function() tycho.attention(q, q, q, {mask = 3}) end, "option 'mask' must be a tensor")
  raises(function() tycho.layer_norm(tycho.zeros(2, 3), 4) end, "does not match")
  raises(function() tycho.zeros(2):clamp() end, "at least one of min and max")
  raises(function() tycho.cat({}) end, "cat: the list of tensors is empty")
  raises(function() tycho.cat({tycho.zeros(1), 5}) end, "element 2 of the list is a number")
  raises(function() tycho.einsum("ij->ji") end, "einsum: no operands given")
  raises(function() tycho.zeros(2, 3):t():view(6) end, "view")
  raises(function() tycho.randint(5, 1, {2}) end, "randint")
  raises(function() tycho.zeros(2):max(5) end, "max: dim 5 is out of range")
  raises(function() tycho.zeros(0):max() end, "max")
  raises(function() tycho.zeros(2):item() end, "item: the tensor has 2 elements")
  raises(function() tycho.set_printoptions({precision = 99}) end, "set_printoptions")
end)

test("nothing leaks when errors are raised", function()
  H.no_leak(function()
    for _ = 1, 50 do
      pcall(function() return tycho.zeros(2, 3):matmul(tycho.zeros(4, 5)) end)
      pcall(function() return T({{1, 2}, {3}}) end)
      pcall(function() return T({1, 2, true}) end)
      pcall(function() return tycho.zeros(2, 3)[{1, 9}] end)
      pcall(function() return tycho.zeros(2, 3):gather(2, T({{7}}, I64)) end)
      pcall(function() return tycho.cross_entropy(tycho.zeros(2, 3), T({0, 1}, I64)) end)
      pcall(function() local x = tycho.zeros(2); x[{{1, 5}}] = 1 end)
      pcall(function() tycho.save("/nonexistent/dir/x.safetensors", {a = tycho.zeros(1)}) end)
      local input = tycho.zeros(2, {dtype = "f64", requires_grad = true})
      pcall(function() tycho.gradcheck(function() error("x") end, {input}) end)
    end
  end)
end)

H.done()
