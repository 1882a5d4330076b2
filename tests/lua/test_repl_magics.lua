-- The Lua half of the REPL (lang/lua/tycho/repl.lua) and the help texts
-- (docs.lua), driven directly: chunk compilation, the `local` rewriting,
-- Out/_/__, magics, pretty printing, and that every public function has
-- documentation whose example runs. The terminal side (readline, Ctrl-C,
-- completion, history) is tested through a pseudo-terminal by
-- tests/repl_test.py.
local here = (arg and arg[0] or ""):match("(.*/)") or "./"
local H = dofile(here .. "harness.lua")
local test, eq, ok, raises = H.test, H.eq, H.ok, H.raises
local tycho = rawget(_G, "tycho") or require("tycho")
package.path = here .. "../../lang/lua/?.lua;" .. package.path

local repl = require("tycho.repl")
local docs = require("tycho.docs")

-- Runs fn with io.stdout/io.stderr captured; returns stdout, stderr.
local function capture(fn)
  local o, e = {}, {}
  local real_out, real_err = io.stdout, io.stderr
  local function sink(buf)
    return {write = function(self, ...)
      for _, s in ipairs({...}) do buf[#buf + 1] = tostring(s) end
      return self
    end, flush = function() end}
  end
  local real_print = print
  rawset(io, "stdout", sink(o))
  rawset(io, "stderr", sink(e))
  rawset(_G, "print", function(...)
    local t = table.pack(...)
    for i = 1, t.n do t[i] = tostring(t[i]) end
    o[#o + 1] = table.concat(t, "\t", 1, t.n) .. "\n"
  end)
  local okc, err = pcall(fn)
  rawset(io, "stdout", real_out)
  rawset(io, "stderr", real_err)
  rawset(_G, "print", real_print)
  if not okc then error(err, 0) end
  return table.concat(o), table.concat(e)
end

repl.init({color = false, banner = false, now = os.clock,
           cputimes = function() return os.clock(), 0 end, isdir = function() return false end,
           lazy = {}})

-- Types one input; returns what it printed.
local function input(src)
  local r
  local o, e = capture(function() r = repl.input(src) end)
  return o, e, r
end

test("expressions print as Out[n] and are kept in Out, _, __", function()
  local n = repl.count
  local o = input("1 + 1")
  eq(o, "Out[" .. n .. "]: 2\n")
  eq(Out[n], 2)
  input("'a' .. 'b'")
  eq(_, "ab")
  eq(__, 2)
  eq(repl.count, n + 2)
end)

test("a trailing ; runs without printing or keeping", function()
  local before = _
  local o = input("40 + 2;")
  eq(o, "")
  eq(_, before)
end)

test("statements print nothing; several values are kept as one table", function()
  eq(input("repl_t1 = 5"), "")
  eq(rawget(_G, "repl_t1"), 5)
  local o = input("1, 'x'")
  ok(o:find(': 1, "x"\n', 1, true), o)
  eq(_[1], 1)
  eq(_[2], "x")
  eq(_.n, 2)
end)

test("local at the prompt stays defined for the next input", function()
  input("local repl_a, repl_b <const> = 3, 4")
  eq(input("repl_a + repl_b"):match(": (%d+)"), "7")
  input("local function repl_f(x) return x * 2 end")
  eq(repl_f(4), 8)
  input("local repl_z")
  eq(rawget(_G, "repl_z"), nil)
  -- locals inside blocks stay local
  input("do local repl_inner = 1 end")
  eq(rawget(_G, "repl_inner"), nil)
  input("function repl_g() local repl_inner2 = 1 return repl_inner2 end")
  eq(repl_g(), 1)
  eq(rawget(_G, "repl_inner2"), nil)
end)

test("rewrite_locals keeps strings, comments, nested blocks and line numbers", function()
  local rw = repl.rewrite_locals
  eq(rw("local x = 1"), " x = 1")
  eq(rw("local x"), " x = nil")
  eq(rw("local a, b"), " a, b = nil")
  eq(rw("local c <close> = f()"), " c  = f()")
  eq(rw("local function f() local y = 2 end"), " function f() local y = 2 end")
  eq(rw("s = 'local x = 1' -- local y\nlocal z = [[local]]"), "s = 'local x = 1' -- local y\n z = [[local]]")
  eq(rw("if a then local b = 1 end local c = 2"), "if a then local b = 1 end  c = 2")
  eq(rw("while x do local y = 1 end"), "while x do local y = 1 end")
  eq(rw("repeat local r = 1 until r"), "repeat local r = 1 until r")
  eq(rw("local x = 1\nlocal y = 2\n"), " x = 1\n y = 2\n")
  eq(rw("x = 1e-5 local y = 2"), "x = 1e-5  y = 2")
  eq(rw("local x == 1"), " x = nil == 1") -- not Lua either way: stays an error
end)

test("incomplete chunks ask for more; an empty line forces them", function()
  local n = repl.count
  local _, _, r = input("function repl_h()")
  eq(r, "more")
  eq(repl.count, n, "no number used")
  _, _, r = input("function repl_h()\n  return 5")
  eq(r, "more")
  _, _, r = input("function repl_h()\n  return 5\nend")
  eq(r, nil)
  eq(repl_h(), 5)
  _, _, r = input("x = {1,")
  eq(r, "more")
  local o, e
  o, e, r = capture(function() return repl.input("repl_q = (1 +", true) end)
  ok(e:find("incomplete") or e:find("<eof>"), e)
  _, e, r = input('print("abc')
  eq(r, nil, "an unfinished short string is an error, not a continuation")
  ok(e:find("unfinished string"), e)
end)

test("an error is reported and the next input works; state intact", function()
  input("repl_keep = 11")
  local o, e = input("error('boom')")
  eq(o, "")
  ok(e:find("In%[%d+%]:1: boom"), e)
  ok(not e:find("stack traceback"), "no traceback for an error in the chunk itself: " .. e)
  input("function repl_bad() error('deep') end")
  o, e = input("repl_bad()")
  ok(e:find("deep") and e:find("stack traceback") and e:find("in function 'repl_bad'"), e)
  ok(not e:find("repl.lua"), "the REPL's own frames are cut: " .. e)
  eq(input("repl_keep"):match(": (%d+)"), "11")
  o, e = input("1 +* 2")
  ok(e:find("unexpected symbol"), e)
  o, e = input("tycho.zeros(2):matmul(tycho.zeros(3))")
  ok(e:find("matmul"), e)
end)

test("pretty printing: nested tables, cycles, strings, tensors", function()
  local p = repl.pretty
  eq(p({1, 2, {a = 1, b = "s"}}), '{1, 2, {a = 1, b = "s"}}')
  local t = {name = "x"}
  t.self = t
  eq(p(t), '{name = "x", self = <cycle>}')
  eq(p("a\nb\"c"), '"a\\nb\\"c"')
  eq(p({[10] = true, ["not ident"] = 1, [true] = 0}), '{[10] = true, ["not ident"] = 1, [true] = 0}')
  eq(p({}), "{}")
  local s = p({w = tycho.zeros(2, 3)})
  eq(s, "{w = tensor(shape=(2,3), dtype=f32, device=cpu)}")
  eq(p(tycho.zeros(2)), tostring(tycho.zeros(2)))
  local big = {}
  for i = 1, 150 do big[i] = i end
  ok(p(big):find("... (50 more)", 1, true))
  local long = {}
  for i = 1, 30 do long["key" .. i] = i end
  ok(p(long):find("\n  key1 = 1,\n", 1, true), "long tables go one entry a line")
  ok(p({1, 2}, true):find("\27%[36m1"), "colours when asked")
  local shared = {1}
  eq(p({shared, shared}), "{{1}, {1}}", "a shared table is not a cycle")
end)

test("%time prints times and the value", function()
  local n = repl.count
  local o = input("%time 6 * 7")
  ok(o:find("CPU times: user [%d.]+ %a+, sys: [%d.]+ %a+, total: [%d.]+ %a+\nWall time: "), o)
  ok(o:find("Out%[" .. n .. "%]: 42"), o)
  eq(Out[n], 42)
  local _, e = input("%time error('x')")
  ok(e:find("x"), e)
end)

test("%timeit: loop count, 7 runs, mean +- std", function()
  local o = input("%timeit repl_tt = 1 + 1")
  ok(o:match("^[%d.]+ [mun]?s %+%- [%d.]+ [mun]?s per loop %(mean %+%- std%. dev%. of 7 runs, "
             .. "[%d,]+ loops? each%)\n$"), o)
  o = input("%timeit -n 3 -r 2 tycho.zeros(2)")
  ok(o:find("of 2 runs, 3 loops each", 1, true), o)
  local _, e = input("%timeit 1 +")
  ok(e ~= "", "a syntax error is reported")
end)

test("fmt_time picks the unit", function()
  eq(repl.fmt_time(1.5), "1.5 s")
  eq(repl.fmt_time(0.0123), "12.3 ms")
  eq(repl.fmt_time(4.56e-6), "4.56 us")
  eq(repl.fmt_time(7e-9), "7 ns")
  eq(repl.fmt_time(0.001), "1 ms")
end)

test("%run runs a file in the session with arg; its locals stay", function()
  local path = os.tmpname()
  local f = assert(io.open(path, "w"))
  f:write("#!/usr/bin/env tycho\nlocal repl_r1 = ...\nrepl_r2 = arg[2]\nlocal function repl_r3() return arg[0] end\n")
  f:close()
  local o, e = input("%run " .. path .. " one 'two words'")
  eq(e, "")
  eq(repl_r1, "one")
  eq(repl_r2, "two words")
  eq(repl_r3 and repl_r3(), arg[0], "arg is restored after the run")
  f = assert(io.open(path, "w"))
  f:write("x_ok = 1\n\nerror('in script')\n")
  f:close()
  o, e = input("%run " .. path)
  ok(e:find(path .. ":3: in script", 1, true), e)
  os.remove(path)
  o, e = input("%run /nonexistent/file.lua")
  ok(e:find("cannot open"), e)
end)

test("%who lists user variables with type and shape; %reset removes them", function()
  input("repl_w = tycho.zeros(2, 3)")
  local o = input("%who")
  ok(o:find("Variable"), o)
  ok(o:find("repl_w%s+tensor%s+%(2,3%) f32 cpu"), o)
  ok(o:find("repl_keep%s+number%s+11"), o)
  ok(not o:find("\ntycho%s"), "tycho is not a user variable")
  ok(not o:find("\nOut%s"), "Out is not listed")
  o = input("%reset")
  ok(o:find("reset: %d+ variables removed"), o)
  eq(rawget(_G, "repl_w"), nil)
  eq(rawget(_G, "repl_keep"), nil)
  ok(rawget(_G, "tycho") ~= nil, "tycho stays")
  eq(#Out, 0)
  eq(input("%who"), "Interactive namespace is empty.\n")
end)

test("%hist and %save: the session as a runnable script", function()
  input("repl_s = 2")
  input("repl_s * 3")
  input("local repl_s2 = repl_s + 1")
  input("print(repl_s2)")
  input("error('skipped')")
  local o = input("%hist")
  ok(o:find("repl_s = 2\nrepl_s %* 3\n"), o)
  o = input("%hist -n")
  ok(o:find("%d+: repl_s = 2\n"), o)
  local path = os.tmpname()
  o = input("%save " .. path)
  ok(o:find("saved %d+ inputs"), o)
  local f = assert(io.open(path))
  local script = f:read("a")
  f:close()
  os.remove(path)
  ok(script:find("print(repl_s * 3)", 1, true), script)
  ok(script:find("local repl_s2 = repl_s + 1\nprint(repl_s2)", 1, true), script)
  ok(not script:find("skipped"), "failed inputs are left out")
  ok(script:find("-- %hist", 1, true), "magics become comments")
  -- it runs on its own and prints what the session printed
  local printed = {}
  local env = setmetatable({print = function(...) printed[#printed + 1] = table.concat({...}, " ") end},
                           {__index = _G})
  local chunk = assert(load(script, "=saved", "t", env))
  chunk()
  eq(printed[#printed], "3")
end)

test("?name and %help show documentation", function()
  local o = input("?tycho.randn")
  ok(o:find("tycho.randn(size...", 1, true) and o:find("Example:"), o)
  eq(input("tycho.randn?"), o)
  eq(input("%help tycho.randn"), o)
  ok(input("?randn"):find("tycho.randn", 1, true))
  input("repl_x = tycho.zeros(2)")
  o = input("?repl_x:matmul")
  ok(o:find("a:matmul(b)", 1, true), o)
  ok(input("?Tensor:sum"):find("x:sum(", 1, true))
  ok(input("?tycho.exp_"):find("In place", 1, true) or input("?repl_x:exp_"):find("In place", 1, true))
  input("repl_fn = tycho.eye")
  ok(input("?repl_fn"):find("tycho.eye(n", 1, true), "found by value")
  ok(input("?nn"):find("Neural%-network"))
  ok(input("?%timeit"):find("7 times", 1, true))
  ok(input("?repl_x"):find("tensor(shape=(2)", 1, true))
  ok(input("?no_such_thing"):find("no documentation"))
  ok(input("%help"):find("Magics:", 1, true))
  local _, e = input("%nosuchmagic")
  ok(e:find("unknown magic"), e)
end)

-- Every function a user can reach from tycho, tycho.Tensor and tycho.cuda.
local function public_names()
  local names = {}
  for k, v in pairs(tycho) do
    if type(v) == "function" and not k:match("^_") then names[#names + 1] = "tycho." .. k end
  end
  for k in pairs(tycho.Tensor) do names[#names + 1] = "Tensor:" .. k end
  for k in pairs(tycho.cuda) do names[#names + 1] = "tycho.cuda." .. k end
  -- the front-end modules: every public function or class (names starting
  -- with _ are internal), and the functions of nn.functional
  for _, m in ipairs({"nn", "optim", "data", "viz", "e3", "hyper"}) do
    if package.searchpath("tycho." .. m, package.path) then
      local mod = require("tycho." .. m)
      for k, v in pairs(mod) do
        if type(k) == "string" and not k:match("^_") and
           (type(v) == "function" or type(v) == "table") then
          names[#names + 1] = m .. "." .. k
        end
      end
      if m == "nn" then
        for k in pairs(mod.functional) do names[#names + 1] = "nn.functional." .. k end
      end
    end
  end
  table.sort(names)
  return names
end

test("every public function and module has documentation", function()
  local missing = {}
  for _, k in ipairs(public_names()) do
    if not docs.has(k) then missing[#missing + 1] = k end
  end
  for _, k in ipairs({"tycho", "Tensor", "nn", "optim", "data", "viz", "e3", "hyper",
                      "Tensor.shape", "Tensor.grad"}) do
    if not docs.has(k) then missing[#missing + 1] = k end
  end
  eq(table.concat(missing, " "), "", "undocumented")
end)

test("every example in the documentation runs", function()
  local failures, ran = {}, 0
  local modules = {}
  for _, m in ipairs({"nn", "optim", "data", "viz", "e3", "hyper"}) do
    local okm, mod = pcall(require, "tycho." .. m)
    if okm then modules[m] = mod end
  end
  for _, key in ipairs(docs.keys()) do
    local e = docs.entry(key)
    local top = key:match("^(%a[%w_]*)")
    local needs = (top ~= "tycho" and top ~= "Tensor" and modules[top] == nil and
                   ({nn = 1, optim = 1, data = 1, viz = 1, e3 = 1, hyper = 1})[top])
    -- a function documented ahead of the binding (or renamed there) is
    -- caught by the test above, not here
    local fname = key:match("^tycho%.([%w_]+)$") or key:match("^Tensor:([%w_]+)$")
    if fname and tycho[fname] == nil and tycho.Tensor[fname] == nil then needs = true end
    if e.example and not needs then
      local env = setmetatable({print = function() end}, {__index = function(_, k)
        return modules[k] or _G[k]
      end})
      local chunk, msg = load(e.example, "=" .. key, "t", env)
      local okr, err = chunk ~= nil, msg
      if chunk then okr, err = pcall(chunk) end
      if okr then ran = ran + 1 else failures[#failures + 1] = key .. ": " .. tostring(err) end
    end
  end
  ok(ran > 150, "ran " .. ran .. " examples")
  eq(table.concat(failures, "\n"), "", "failing examples")
end)

test("split_args groups quotes", function()
  eq(repl.split_args([[a "b c" 'd e' f\ g]]), {"a", "b c", "d e", "f g"})
  eq(repl.split_args(""), {})
end)

test("bad input to the REPL itself never breaks it", function()
  local _, e = input("%run")
  ok(e:find("usage"), e)
  _, e = input("%save")
  ok(e:find("usage"), e)
  _, e = input("%save /nonexistent/dir/x.lua")
  ok(e:find("cannot write"), e)
  -- a failing __tostring falls back to the table's contents
  eq(repl.pretty(setmetatable({1}, {__tostring = function() error("no") end})), "{1}")
  eq(input("1"):match("Out%[%d+%]: 1"), "Out[" .. (repl.count - 1) .. "]: 1")
end)

H.done()
