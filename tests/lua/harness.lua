-- A tiny test harness shared by tests/lua/*.lua.
--
--   local H = dofile((arg and arg[0] or ""):match("(.*/)") .. "harness.lua")
--   local test, eq, near, raises = H.test, H.eq, H.near, H.raises
--
--   test("name", function() eq(x:sum():item(), 10) end)
--   H.done()      -- prints "N passed, N failed" and exits non-zero on failure
--
-- eq(a, b [, what])        a == b; tensors and tables compare shape and values
-- near(a, b [, tol, what]) |a - b| <= tol (1e-6) elementwise, same shape
-- raises(fn, substr)       fn() fails with a message containing substr; returns it
-- ok(cond [, what])        cond is true
-- A test passes when it asserts at least once and nothing fails.

local H = {}
local passed, failed = 0, 0
local asserts = 0

local tycho = rawget(_G, "tycho") or require("tycho")

local function is_tensor(x) return tycho.is_tensor(x) end

-- Tensors become nested tables (plus their shape), so one comparison works
-- for tensors, tables and numbers.
local function plain(x)
  if is_tensor(x) then return x:tolist(), x.shape end
  return x, nil
end

local function show(x)
  if is_tensor(x) then return tostring(x) end
  if type(x) ~= "table" then return tostring(x) end
  local parts = {}
  for i = 1, #x do parts[#parts + 1] = show(x[i]) end
  return "{" .. table.concat(parts, ", ") .. "}"
end

-- Compares a and b elementwise with cmp(x, y); returns nil or a message.
local function compare(a, b, cmp, path)
  if type(a) == "table" and type(b) == "table" then
    if #a ~= #b then
      return string.format("%s: length %d ~= %d", path, #a, #b)
    end
    for i = 1, #a do
      local m = compare(a[i], b[i], cmp, path .. "[" .. i .. "]")
      if m then return m end
    end
    for k, v in pairs(a) do
      if type(k) ~= "number" then
        local m = compare(v, b[k], cmp, path .. "." .. tostring(k))
        if m then return m end
      end
    end
    for k in pairs(b) do
      if type(k) ~= "number" and a[k] == nil then
        return string.format("%s.%s: missing on the left", path, tostring(k))
      end
    end
    return nil
  end
  if type(a) == "table" or type(b) == "table" then
    return string.format("%s: %s vs %s", path, show(a), show(b))
  end
  if not cmp(a, b) then return string.format("%s: %s vs %s", path, tostring(a), tostring(b)) end
  return nil
end

local function fail(msg)
  error(msg, 3)
end

function H.ok(cond, what)
  asserts = asserts + 1
  if not cond then fail("not ok: " .. (what or "condition is false")) end
end

function H.eq(a, b, what)
  asserts = asserts + 1
  local pa, sa = plain(a)
  local pb, sb = plain(b)
  if sa and sb then
    local m = compare(sa, sb, function(x, y) return x == y end, "shape")
    if m then fail((what and what .. ": " or "") .. m) end
  end
  local m = compare(pa, pb, function(x, y) return x == y or (x ~= x and y ~= y) end, "value")
  if m then fail((what and what .. ": " or "") .. m) end
end

function H.near(a, b, tol, what)
  asserts = asserts + 1
  tol = tol or 1e-6
  local pa, sa = plain(a)
  local pb, sb = plain(b)
  if sa and sb then
    local m = compare(sa, sb, function(x, y) return x == y end, "shape")
    if m then fail((what and what .. ": " or "") .. m) end
  end
  local m = compare(pa, pb, function(x, y)
    if type(x) ~= "number" or type(y) ~= "number" then return x == y end
    if x ~= x or y ~= y then return x ~= x and y ~= y end
    if x == y then return true end -- infinities
    return math.abs(x - y) <= tol * math.max(1, math.abs(y))
  end, "value")
  if m then fail((what and what .. ": " or "") .. m) end
end

function H.raises(fn, substr)
  asserts = asserts + 1
  local okc, err = pcall(fn)
  if okc then fail("expected an error containing '" .. tostring(substr) .. "', got none") end
  local msg = tostring(err)
  if substr and not msg:find(substr, 1, true) then
    fail("expected an error containing '" .. substr .. "', got: " .. msg)
  end
  return msg
end

function H.test(name, fn)
  asserts = 0
  local okc, err = xpcall(fn, debug.traceback)
  if okc and asserts == 0 then
    okc, err = false, "the test asserted nothing"
  end
  if okc then
    passed = passed + 1
  else
    failed = failed + 1
    io.stderr:write("FAIL " .. name .. ": " .. tostring(err) .. "\n")
  end
end

-- Runs fn and checks that no C tensor outlives it (after a full collection).
function H.no_leak(fn)
  collectgarbage("collect")
  collectgarbage("collect")
  local before = tycho.live_tensors()
  fn()
  collectgarbage("collect")
  collectgarbage("collect")
  local after = tycho.live_tensors()
  asserts = asserts + 1
  if after ~= before then
    fail(string.format("%d tensors leaked (%d live before, %d after)", after - before, before,
                       after))
  end
end

function H.done()
  print(string.format("%d passed, %d failed", passed, failed))
  os.exit(failed == 0 and 0 or 1, true)
end

return H
