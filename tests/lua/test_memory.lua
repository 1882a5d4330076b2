-- The Lua GC knows how big tensors are: loops that drop big tensors stay
-- within a few hundred MB without any collectgarbage() call (Torch7's
-- runaway-memory problem). Memory is read from /proc/self/statm.
--
-- Iteration counts: API.md's example loop is `for i = 1, 1e5 do local x =
-- tycho.randn(1000, 1000) end`. Drawing 1e6 normals takes milliseconds, so
-- 1e5 of them would take minutes; the randn loop here runs 100 times (400 MB
-- made in all: without the GC being told it would all stay alive, since the
-- Lua heap itself barely grows), and the full 1e5 iterations run with
-- tycho.empty, which costs microseconds (400 GB made in all; address space,
-- which empty tensors occupy even untouched, is what is measured there).
-- Under AddressSanitizer freed memory sits in a quarantine, so resident
-- sizes say nothing about the GC: the sanitizer build skips this file
-- (exit status 77 is automake's "skipped").
if os.getenv("TYCHO_SANITIZERS") == "yes" then
  print("test_memory.lua: skipped under sanitizers (ASan's quarantine holds freed memory)")
  os.exit(77)
end

local H = dofile((arg and arg[0] or ""):match("(.*/)") .. "harness.lua")
local test, ok, eq = H.test, H.ok, H.eq
local tycho = rawget(_G, "tycho") or require("tycho")

local PAGE = 4096
local MB = 2 ^ 20

-- Resident and virtual size of this process in MB.
local function statm()
  local f = assert(io.open("/proc/self/statm"))
  local s = f:read("a")
  f:close()
  local size, resident = s:match("^(%d+)%s+(%d+)")
  return tonumber(resident) * PAGE / MB, tonumber(size) * PAGE / MB
end

test("randn(1000, 1000) in a loop stays under a few hundred MB resident", function()
  local base = statm()
  local peak = 0
  for i = 1, 100 do
    local x = tycho.randn(1000, 1000)
    if i % 10 == 0 then peak = math.max(peak, (statm())) end
  end
  ok(peak - base < 250, string.format("resident grew by %.0f MB (peak %.0f MB)", peak - base, peak))
end)

test("1e5 iterations of empty(1000, 1000): address space stays bounded", function()
  local _, vbase = statm()
  local vpeak = 0
  for i = 1, 1e5 do
    local x = tycho.empty(1000, 1000)
    if i % 1000 == 0 then vpeak = math.max(vpeak, select(2, statm())) end
  end
  ok(vpeak - vbase < 1000, string.format("virtual size grew by %.0f MB", vpeak - vbase))
end)

test("big temporaries of arithmetic and autograd graphs are reclaimed", function()
  local base = statm()
  local peak = 0
  local w = tycho.ones(500, 500, {requires_grad = true})
  for i = 1, 200 do
    local y = ((w * 2) + 1):sum() -- two 1 MB temporaries, one kept by the graph
    y:backward()
    if i % 10 == 0 then peak = math.max(peak, (statm())) end
  end
  eq(w.grad[{1, 1}]:item(), 400)
  ok(peak - base < 250, string.format("resident grew by %.0f MB", peak - base))
end)

test("many small tensors: memory bounded, nothing leaks", function()
  H.no_leak(function()
    local a, b = tycho.tensor({1, 2, 3, 4}), tycho.tensor({5, 6, 7, 8})
    local base = statm()
    local peak = 0
    for i = 1, 3e5 do
      local c = a + b
      if i % 3e4 == 0 then peak = math.max(peak, (statm())) end
    end
    ok(peak - base < 100, string.format("resident grew by %.0f MB", peak - base))
  end)
end)

test("views of a big tensor do not count as new memory", function()
  local big = tycho.zeros(1000, 1000)
  local t0 = os.clock()
  for i = 1, 1e5 do
    local row = big[(i % 1000) + 1]
  end
  -- counted as 4 MB each, 1e5 views would force 1e5 full collections
  ok(os.clock() - t0 < 5, string.format("1e5 views took %.2f s", os.clock() - t0))
end)

test("a stopped collector stays stopped", function()
  collectgarbage("stop")
  for _ = 1, 20 do
    local x = tycho.empty(1000, 1000)
  end
  ok(not collectgarbage("isrunning"), "tensor creation must not restart the GC")
  collectgarbage("restart")
  ok(collectgarbage("isrunning"))
end)

test("__close releases a tensor's memory at once", function()
  collectgarbage("collect")
  local before = tycho.live_tensors()
  do
    local x <close> = tycho.zeros(1000, 1000)
    eq(tycho.live_tensors(), before + 1)
  end
  eq(tycho.live_tensors(), before)
end)

H.done()
