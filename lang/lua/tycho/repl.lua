-- The Lua half of tycho's REPL (the C half, lang/repl.c, owns the terminal,
-- Ctrl-C and the history file). repl.c calls M.input(chunk, force) for
-- every chunk typed at the prompt; M.input compiles it, runs it and prints
-- the result, or answers "more" when the chunk is incomplete.
--
-- How a chunk runs:
--   * It is first compiled as `return <chunk>`: if that works it is an
--     expression, and its values are printed as Out[n] and kept in the
--     global table Out (Out[n]) and in the globals _ (last), __ and ___.
--     A trailing `;` runs it without printing or keeping it. Several values
--     are kept as one table {v1, v2, n = k}.
--   * Otherwise it is compiled as statements. Each chunk is its own Lua
--     function, so a `local` would vanish at the end of the line; instead
--     every `local` at the top level of the chunk (not inside a function,
--     do, if, loop) is rewritten into a global assignment before compiling:
--       local x, y = 1, 2      ->  x, y = 1, 2
--       local z                ->  z = nil
--       local function f() end ->  function f() end
--       local c <const> = 3    ->  c = 3
--     so the variable stays defined for the following inputs. Note that
--     `local print = 1` at the prompt therefore replaces the global print.
--     %run applies the same rewriting to a script's top level, so its
--     variables stay in the session.
--   * A chunk that Lua reports as incomplete (its error ends in <eof>)
--     makes the prompt continue with `...:`; an empty line ends it.
--   * Lines starting with % are magics, ?name and name? show help.
local M = {}

local C = {}          -- helpers from repl.c: now(), cputimes(), isdir(path)
local color = false   -- colours only when stdout is a terminal
local lazy = {}       -- globals created on first use (nn, optim...)
local baseline = {}   -- globals that exist before the user types anything
local inputs = {}     -- inputs[n] = {src = chunk, kind = "expr"|"stmt"|"magic"|"error"}
M.count = 1           -- the number of the next input: In [count]:

local unpack = table.unpack
-- The real pcall and xpcall: init replaces the globals (see there).
local pcall, xpcall = pcall, xpcall

-- ---------------------------------------------------------------- output

local function paint(code, s)
  if color then return "\27[" .. code .. "m" .. s .. "\27[0m" end
  return s
end

local function visible_len(s)
  return #(s:gsub("\27%[[%d;]*m", ""))
end

local function out(s)
  io.stdout:write(s)
end

local function err_out(s)
  io.stdout:flush()
  io.stderr:write(paint("31", s), "\n")
  io.stderr:flush()
end

-- ---------------------------------------------------------------- pretty printing

local function is_tensor(v)
  if type(v) ~= "userdata" then return false end
  local mt = getmetatable(v)
  return type(mt) == "table" and rawget(mt, "__name") == "tycho.Tensor"
end

-- One line for a tensor: tensor(shape=(2,3), dtype=f32, device=cpu).
local function tensor_summary(x)
  local ok, s = pcall(function()
    return string.format("tensor(shape=(%s), dtype=%s, device=%s)",
                         table.concat(x.shape, ","), x.dtype, x.device)
  end)
  return ok and s or "tensor(closed)"
end
M.tensor_summary = tensor_summary

local escapes = {["\n"] = "\\n", ["\t"] = "\\t", ["\r"] = "\\r", ['"'] = '\\"', ["\\"] = "\\\\"}

local function quote(s)
  return '"' .. s:gsub('[%c"\\]', function(c)
    return escapes[c] or string.format("\\%03d", c:byte())
  end) .. '"'
end

local function is_ident(k)
  return type(k) == "string" and k:match("^[%a_][%w_]*$") ~= nil and not ({
    ["and"] = 1, ["break"] = 1, ["do"] = 1, ["else"] = 1, ["elseif"] = 1, ["end"] = 1,
    ["false"] = 1, ["for"] = 1, ["function"] = 1, ["goto"] = 1, ["if"] = 1, ["in"] = 1,
    ["local"] = 1, ["nil"] = 1, ["not"] = 1, ["or"] = 1, ["repeat"] = 1, ["return"] = 1,
    ["then"] = 1, ["true"] = 1, ["until"] = 1, ["while"] = 1,
  })[k]
end

local MAX_ITEMS = 100 -- entries shown per table
local MAX_DEPTH = 8   -- nesting shown
local WIDTH = 80      -- a table fitting in this is printed on one line

local key_order = {number = 1, string = 2}
local function key_less(a, b)
  local ta, tb = key_order[type(a)] or 3, key_order[type(b)] or 3
  if ta ~= tb then return ta < tb end
  if ta == 3 then return tostring(a) < tostring(b) end
  return a < b
end

local pretty

local function pretty_table(t, indent, ancestors, depth)
  if ancestors[t] then return paint("35", "<cycle>") end
  if depth >= MAX_DEPTH then return "{...}" end
  ancestors[t] = true
  local parts = {}
  local n = 0
  while rawget(t, n + 1) ~= nil do n = n + 1 end
  local inner = indent .. "  "
  for i = 1, math.min(n, MAX_ITEMS) do
    parts[#parts + 1] = pretty(rawget(t, i), inner, ancestors, depth + 1)
  end
  local keys = {}
  for k in next, t do
    if not (math.type(k) == "integer" and k >= 1 and k <= n) then keys[#keys + 1] = k end
  end
  table.sort(keys, key_less)
  local shown = math.min(n, MAX_ITEMS)
  for _, k in ipairs(keys) do
    if shown >= MAX_ITEMS then break end
    shown = shown + 1
    local ks = is_ident(k) and k or ("[" .. pretty(k, inner, ancestors, depth + 1) .. "]")
    parts[#parts + 1] = ks .. " = " .. pretty(rawget(t, k), inner, ancestors, depth + 1)
  end
  local total = n + #keys
  if total > shown then parts[#parts + 1] = string.format("... (%d more)", total - shown) end
  ancestors[t] = nil
  if #parts == 0 then return "{}" end
  local one = "{" .. table.concat(parts, ", ") .. "}"
  if not one:find("\n") and visible_len(one) + #indent <= WIDTH then return one end
  return "{\n" .. inner .. table.concat(parts, ",\n" .. inner) .. "\n" .. indent .. "}"
end

-- A readable text for any value; nested tables indented, cycles marked,
-- tensors inside tables as a one-line summary.
function pretty(v, indent, ancestors, depth)
  local t = type(v)
  if t == "string" then return paint("32", quote(v)) end
  if t == "number" then return paint("36", tostring(v)) end
  if t == "boolean" or t == "nil" then return paint("35", tostring(v)) end
  if is_tensor(v) then
    if depth == 0 then return tostring(v) end
    return tensor_summary(v)
  end
  if t == "table" then
    local mt = getmetatable(v)
    if type(mt) == "table" and rawget(mt, "__tostring") then
      local ok, s = pcall(tostring, v)
      if ok then return s end
    end
    return pretty_table(v, indent, ancestors, depth)
  end
  if t == "function" and depth == 0 then
    local info = debug.getinfo(v, "S")
    if info.what ~= "C" then
      return string.format("%s (%s:%d)", tostring(v), info.short_src, info.linedefined)
    end
  end
  local ok, s = pcall(tostring, v)
  return ok and s or t
end

-- The text of a value as the REPL shows it (no colours unless asked).
function M.pretty(v, use_color)
  local saved = color
  color = use_color or false
  local ok, s = pcall(pretty, v, "", {}, 0)
  color = saved
  if not ok then error(s, 0) end
  return s
end

-- Shows the values r[1..r.n] as Out[n] and keeps them in Out, _, __, ___.
local function display(n, r)
  if r.n == 0 then return end
  local value = r[1]
  if r.n > 1 then value = {unpack(r, 1, r.n)}; value.n = r.n end
  if value ~= nil then
    local O = rawget(_G, "Out")
    if type(O) == "table" then O[n] = value end
    _G.___, _G.__, _G._ = rawget(_G, "__"), rawget(_G, "_"), value
  end
  local texts, multi = {}, false
  for i = 1, r.n do
    texts[i] = pretty(r[i], "", {}, 0)
    multi = multi or texts[i]:find("\n") ~= nil
  end
  local text = table.concat(texts, multi and "\n" or ", ")
  local label = paint("31", "Out[" .. n .. "]:")
  out(label .. (text:find("\n") and "\n" or " ") .. text .. "\n")
end

-- ---------------------------------------------------------------- errors

local function is_exit(e)
  -- exit() unwinds with a light userdata (lang/repl.c); let it through.
  return type(e) == "userdata" and getmetatable(e) == nil
end

-- The message handler of user code: the message and the user's part of
-- the traceback (the REPL's own frames cut off); nothing more when the
-- error is in the typed chunk itself.
local function handler(e)
  if is_exit(e) then return e end
  if type(e) ~= "string" then
    local mt = getmetatable(e)
    if mt and mt.__tostring then e = tostring(e)
    else return string.format("(error object is a %s value)", type(e)) end
  end
  if e:match("interrupted$") then return e end
  local tb = debug.traceback("", 2)
  local lines = {}
  for line in tb:gmatch("[^\n]+") do
    if line:find("tycho/repl.lua", 1, true) then break end -- the REPL's own frames
    if line ~= "stack traceback:" and line ~= "\t[C]: in ?" then lines[#lines + 1] = line end
  end
  if #lines > 0 and lines[#lines]:find("^%s*%[C%]: in .*'xpcall'") then
    lines[#lines] = nil -- the REPL's call of the user's code
  end
  local own = 0 -- frames of Lua code (not C functions like error)
  for _, line in ipairs(lines) do
    if not line:find("^%s*%[C%]") then own = own + 1 end
  end
  if own <= 1 then return e end
  return e .. "\nstack traceback:\n" .. table.concat(lines, "\n")
end

-- Runs f(...) for the user; returns a packed result {ok, values..., n}.
-- exit() goes on up to repl.c.
local function run(f, ...)
  local r = table.pack(xpcall(f, handler, ...))
  if not r[1] and is_exit(r[2]) then error(r[2], 0) end
  return r
end

local tty = false -- stdin is a terminal: it echoed ^C on the current line

local function show_error(msg)
  msg = tostring(msg)
  if tty and msg:match("interrupted$") then msg = "\n" .. msg end
  err_out(msg)
end

-- ---------------------------------------------------------------- compiling

-- Where each top-level `local` of src is: a small Lua lexer that skips
-- strings and comments and counts block depth (function, do, if, repeat
-- open a block; end and until close one; while and for open theirs with
-- `do`). Returns src with every top-level `local` rewritten into a global
-- assignment (see the top of this file); lines keep their numbers.
local function rewrite_locals(src)
  local len = #src
  local edits = {} -- {from, to, replacement}
  local depth = 0
  local i = 1

  -- The position of the next token after i (spaces and comments skipped).
  local function skip(j)
    while j <= len do
      local c = src:sub(j, j)
      if c:match("%s") then
        j = j + 1
      elseif src:sub(j, j + 1) == "--" then
        local eq = src:match("^%[(=*)%[", j + 2)
        if eq then
          local _, close = src:find("]" .. eq .. "]", j + 2, true)
          j = (close or len) + 1
        else
          local nl = src:find("\n", j, true)
          j = (nl or len) + 1
        end
      else
        return j
      end
    end
    return j
  end

  local function name_at(j)
    return src:match("^[%a_][%w_]*", j)
  end

  -- Rewrites the `local` at [s, e]; returns where scanning goes on.
  local function rewrite(s, e)
    local j = skip(e + 1)
    if name_at(j) == "function" then
      edits[#edits + 1] = {s, e, ""}
      return j
    end
    local last_end
    while true do
      local name = name_at(j)
      if not name or is_ident(name) == false then return e + 1 end -- not a local statement
      last_end = j + #name - 1
      j = skip(last_end + 1)
      local attrib_end = select(2, src:find("^<%s*[%a_][%w_]*%s*>", j))
      if attrib_end then
        edits[#edits + 1] = {j, attrib_end, ""}
        last_end = attrib_end
        j = skip(attrib_end + 1)
      end
      if src:sub(j, j) ~= "," then break end
      j = skip(j + 1)
    end
    edits[#edits + 1] = {s, e, ""}
    if src:sub(j, j) ~= "=" or src:sub(j, j + 1) == "==" then
      edits[#edits + 1] = {last_end + 1, last_end, " = nil"}
    end
    return j
  end

  while i <= len do
    i = skip(i)
    if i > len then break end
    local c = src:sub(i, i)
    if c == '"' or c == "'" then
      local j = i + 1
      while j <= len do
        local d = src:sub(j, j)
        if d == "\\" then j = j + 2
        elseif d == c or d == "\n" then break
        else j = j + 1 end
      end
      i = j + 1
    elseif c == "[" and src:match("^%[=*%[", i) then
      local eq = src:match("^%[(=*)%[", i)
      local _, close = src:find("]" .. eq .. "]", i, true)
      i = (close or len) + 1
    elseif c:match("[%a_]") then
      local word = name_at(i)
      local e = i + #word - 1
      if word == "function" or word == "do" or word == "repeat" or word == "if" then
        depth = depth + 1
      elseif word == "end" or word == "until" then
        depth = depth - 1
      end
      if word == "local" and depth == 0 then
        i = rewrite(i, e)
      else
        i = e + 1
      end
    elseif c:match("%d") then
      local num = src:match("^%d*%.?[%w_]*", i)
      i = i + math.max(#num, 1)
      if src:sub(i - 1, i - 1):match("[eEpP]") and src:sub(i, i):match("[+-]") then i = i + 1 end
    elseif c == "." then
      i = i + (src:match("^%.+", i) and #src:match("^%.+", i) or 1)
    else
      i = i + 1
    end
  end

  if #edits == 0 then return src end
  table.sort(edits, function(a, b) return a[1] < b[1] end)
  local parts, pos = {}, 1
  for _, ed in ipairs(edits) do
    parts[#parts + 1] = src:sub(pos, ed[1] - 1)
    parts[#parts + 1] = ed[3]
    pos = ed[2] + 1
  end
  parts[#parts + 1] = src:sub(pos)
  return table.concat(parts)
end
M.rewrite_locals = rewrite_locals

-- Whether a compile error means "type more": Lua reports the end of the
-- chunk as <eof>. A short string cannot go on to the next line (unless
-- the line ends with a backslash), so an unfinished one is an error.
local function incomplete(msg, src)
  if type(msg) ~= "string" or msg:sub(-5) ~= "<eof>" then return false end
  return not msg:find("unfinished string", 1, true) or src:sub(-1) == "\\"
end

-- Compiles a chunk typed at the prompt. Returns f, "expr" | "stmt"; or
-- nil, "more" when incomplete; or nil, message.
local function compile(src, name)
  local f = load("return " .. src, name, "t")
  if f then return f, "expr" end
  local g, msg = load(rewrite_locals(src), name, "t")
  if g then return g, "stmt" end
  if incomplete(msg, src) then return nil, "more" end
  return nil, msg
end
M.compile = compile

-- ---------------------------------------------------------------- magics

local magics = {}
local magic_help = {}

local function user_globals()
  local names = {}
  for k, v in next, _G do
    if type(k) == "string" and not baseline[k] and not lazy[k] and
       k ~= "In" and k ~= "Out" and k ~= "_" and k ~= "__" and k ~= "___" then
      names[#names + 1] = k
    end
    local _ = v
  end
  table.sort(names)
  return names
end

-- "1.23 ms": 3 significant digits in the largest unit that keeps the
-- number >= 1, as IPython prints times.
local function fmt_time(t)
  if t >= 60 then
    local m = math.floor(t / 60)
    return string.format("%dmin %.3g s", m, t - 60 * m)
  end
  local units = {"s", "ms", "us", "ns"}
  local order = 0
  if t > 0 then order = math.max(0, math.min(3, math.ceil(-math.log(t, 10) / 3))) end
  if t > 0 and t * 1000 ^ order < 1 and order < 3 then order = order + 1 end
  return string.format("%.3g %s", t * 1000 ^ order, units[order + 1])
end
M.fmt_time = fmt_time

-- Splits magic arguments like a shell: spaces separate, quotes group.
local function split_args(s)
  local args, cur, q, i = {}, nil, nil, 1
  while i <= #s do
    local c = s:sub(i, i)
    if q then
      if c == q then q = nil
      elseif c == "\\" and q == '"' and i < #s then i = i + 1; cur = cur .. s:sub(i, i)
      else cur = cur .. c end
    elseif c == '"' or c == "'" then
      q = c; cur = cur or ""
    elseif c:match("%s") then
      if cur then args[#args + 1] = cur; cur = nil end
    elseif c == "\\" and i < #s then
      i = i + 1; cur = (cur or "") .. s:sub(i, i)
    else
      cur = (cur or "") .. c
    end
    i = i + 1
  end
  if cur then args[#args + 1] = cur end
  return args
end
M.split_args = split_args

magic_help.time = "%time expr: runs expr once and prints its CPU (user, sys) and wall time, "
  .. "then its value as Out[n].\n  %time x:matmul(x):sum()"
magics.time = function(arg, n)
  local f, kind = compile(arg, "=In[" .. n .. "]")
  if not f then return show_error(kind == "more" and "%time: incomplete expression" or kind) end
  local w0 = C.now()
  local u0, s0 = C.cputimes()
  local r = run(f)
  local u1, s1 = C.cputimes()
  local w1 = C.now()
  out(string.format("CPU times: user %s, sys: %s, total: %s\nWall time: %s\n",
                    fmt_time(u1 - u0), fmt_time(s1 - s0), fmt_time(u1 - u0 + s1 - s0),
                    fmt_time(w1 - w0)))
  if not r[1] then return show_error(r[2]) end
  if kind == "expr" then return table.pack(unpack(r, 2, r.n)) end
end

-- The loop %timeit times: the statement (or `local _ = expr`) n times.
local function timer_for(arg)
  local body = arg
  if load("local _ = " .. arg, "=%timeit", "t") then body = "local _ = " .. arg end
  local code = "local __now = ...\nreturn function(__n)\nlocal __t0 = __now()\n" ..
               "for __i = 1, __n do\n" .. body .. "\nend\nreturn __now() - __t0\nend"
  local gen, msg = load(code, "=%timeit", "t")
  if not gen then return nil, msg end
  return gen(C.now)
end

local function thousands(n)
  local s = tostring(math.tointeger(n) or n)
  repeat
    local k
    s, k = s:gsub("^(%d+)(%d%d%d)", "%1,%2")
  until k == 0
  return s
end

magic_help.timeit = "%timeit [-n N] [-r R] expr: times expr in a loop, choosing the loop count so "
  .. "that one run takes at least 0.2 s, repeated 7 times (R), and prints the mean and standard "
  .. "deviation per loop, like IPython.\n  %timeit a + b"
magics.timeit = function(arg)
  local number, repeats = nil, 7
  while true do
    local flag, v, rest = arg:match("^%s*%-([nr])%s*(%d+)%s+(.*)$")
    if not flag then break end
    if flag == "n" then number = tonumber(v) else repeats = math.max(1, tonumber(v)) end
    arg = rest
  end
  local timer, msg = timer_for(arg)
  if not timer then return show_error(msg) end
  local r = run(function()
    if not number then -- 1, 2, 5, 10, 20, 50, ... until a run takes 0.2 s
      local k = 1
      while true do
        for _, m in ipairs({1, 2, 5}) do
          number = k * m
          if timer(number) >= 0.2 then return end
        end
        k = k * 10
        if k > 1e9 then return end -- a clock that does not move
      end
    end
  end)
  if not r[1] then return show_error(r[2]) end
  local times = {}
  r = run(function()
    for i = 1, repeats do times[i] = timer(number) / number end
  end)
  if not r[1] then return show_error(r[2]) end
  local mean = 0
  for _, t in ipairs(times) do mean = mean + t end
  mean = mean / repeats
  local var = 0
  for _, t in ipairs(times) do var = var + (t - mean) ^ 2 end
  local std = math.sqrt(var / repeats)
  out(string.format("%s +- %s per loop (mean +- std. dev. of %d run%s, %s loop%s each)\n",
                    fmt_time(mean), fmt_time(std), repeats, repeats == 1 and "" or "s",
                    thousands(number), number == 1 and "" or "s"))
end

-- Runs a Lua file in the session: its top-level locals become globals.
local function run_file(path, args)
  if C.isdir and C.isdir(path) then return show_error("%run: " .. path .. " is a directory") end
  local f, ioerr = io.open(path, "rb")
  if not f then return show_error("%run: cannot open " .. tostring(ioerr)) end
  local src = f:read("a")
  f:close()
  if src:sub(1, 1) == "#" then src = "--" .. src end -- a #! line
  local chunk, msg = load(rewrite_locals(src), "@" .. path, "t")
  if not chunk then return show_error(msg) end
  local saved = rawget(_G, "arg")
  local a = {[0] = path}
  for i, v in ipairs(args) do a[i] = v end
  rawset(_G, "arg", a)
  local ok, r = pcall(run, chunk, unpack(args))
  rawset(_G, "arg", saved)
  if not ok then error(r, 0) end
  if not r[1] then show_error(r[2]) end
end
M.run_file = run_file

magic_help.run = "%run file.lua [args...]: runs a script in this session: `arg` is set as for "
  .. "`tycho file.lua args`, and its variables (top-level locals too) stay defined.\n"
  .. "  %run examples/quickstart.lua"
magics.run = function(arg)
  local args = split_args(arg)
  if #args == 0 then return show_error("%run: usage: %run file.lua [args...]") end
  local path = table.remove(args, 1)
  return run_file(path, args)
end

local function describe(v)
  local t = type(v)
  if is_tensor(v) then
    local ok, s = pcall(function()
      return string.format("(%s) %s %s", table.concat(v.shape, ","), v.dtype, v.device)
    end)
    return "tensor", ok and s or "closed"
  elseif t == "table" then
    local n = 0
    for _ in next, v do n = n + 1 end
    return "table", n .. (n == 1 and " entry" or " entries")
  elseif t == "string" then
    local s = quote(v)
    if #s > 40 then s = s:sub(1, 37) .. '..."' end
    return "string", s
  elseif t == "number" or t == "boolean" then
    return t, tostring(v)
  elseif t == "function" then
    local info = debug.getinfo(v, "S")
    return "function", info.what == "C" and "" or (info.short_src .. ":" .. info.linedefined)
  end
  return t, ""
end

magic_help.who = "%who: lists the variables you defined, with their type (and shape, dtype, "
  .. "device for tensors).\n  %who"
magics.who = function()
  local names = user_globals()
  if #names == 0 then return out("Interactive namespace is empty.\n") end
  local rows, w1, w2 = {}, #"Variable", #"Type"
  for _, k in ipairs(names) do
    local ty, info = describe(rawget(_G, k))
    rows[#rows + 1] = {k, ty, info}
    w1, w2 = math.max(w1, #k), math.max(w2, #ty)
  end
  out(string.format("%-" .. w1 .. "s   %-" .. w2 .. "s   %s\n", "Variable", "Type", "Data/Info"))
  out(string.rep("-", w1 + w2 + 18) .. "\n")
  for _, r in ipairs(rows) do
    out(string.format("%-" .. w1 .. "s   %-" .. w2 .. "s   %s\n", r[1], r[2], r[3]))
  end
end

magic_help.reset = "%reset: removes every variable you defined and the Out history (tycho, the "
  .. "modules and the input numbering stay).\n  %reset"
magics.reset = function()
  local names = user_globals()
  for _, k in ipairs(names) do rawset(_G, k, nil) end
  rawset(_G, "Out", {})
  rawset(_G, "_", nil)
  rawset(_G, "__", nil)
  rawset(_G, "___", nil)
  collectgarbage("collect")
  out(string.format("reset: %d variable%s removed\n", #names, #names == 1 and "" or "s"))
end

magic_help.hist = "%hist [-n]: prints this session's inputs (-n: with their numbers).\n  %hist -n"
magics.hist = function(arg, n)
  local numbered = arg:match("%-n") ~= nil
  for i = 1, n - 1 do
    local e = inputs[i]
    if e then
      if numbered then
        local pad = string.rep(" ", #tostring(i) + 2)
        out(string.format("%d: %s\n", i, (e.src:gsub("\n", "\n" .. pad))))
      else
        out(e.src .. "\n")
      end
    end
  end
end

-- The session's inputs as a script: statements as typed, expressions as
-- statements (print(expr) when they are not calls), magics as comments;
-- inputs that failed are left out.
local function session_script(upto)
  local lines = {"-- tycho session saved by %save"}
  for i = 1, upto do
    local e = inputs[i]
    if e and e.kind == "stmt" then
      lines[#lines + 1] = e.src
    elseif e and e.kind == "expr" then
      local src = e.src:gsub(";%s*$", "")
      if load(src, "=save", "t") then lines[#lines + 1] = src
      else lines[#lines + 1] = "print(" .. src .. ")" end
    elseif e and e.kind == "magic" then
      lines[#lines + 1] = "-- " .. e.src:gsub("\n", "\n-- ")
    end
  end
  return table.concat(lines, "\n") .. "\n"
end
M.session_script = session_script

magic_help.save = "%save file.lua: writes this session's inputs as a runnable script (expressions "
  .. "become print(...), magics comments, failed inputs are left out).\n  %save session.lua"
magics.save = function(arg, n)
  local args = split_args(arg)
  if #args ~= 1 then return show_error("%save: usage: %save file.lua") end
  local f, ioerr = io.open(args[1], "w")
  if not f then return show_error("%save: cannot write " .. tostring(ioerr)) end
  f:write(session_script(n - 1))
  f:close()
  out(string.format("saved %d inputs to %s\n", n - 1, args[1]))
end

-- The documentation entry for an expression typed after ? (docs.lua holds
-- the texts; here a name is resolved to a key: x:matmul with x a tensor ->
-- Tensor:matmul, randn -> tycho.randn, a function value -> its name).
local function help_text(name)
  local docs = require("tycho.docs")
  name = name:gsub("^%s+", ""):gsub("%s+$", ""):gsub("%(%)$", "")
  if name == "" then return docs.overview() end
  if name:sub(1, 1) == "%" then
    local h = magic_help[name:sub(2)]
    if not h then return "no magic " .. name .. " (%help lists them)" end
    local text, example = h:match("^(.-)\n(.*)$")
    return docs.wrap(text, 78) .. "\n\nExample:\n" .. example
  end
  local text = docs.get(name) or docs.get("tycho." .. name)
  if text then return text end
  local prefix, sep, field = name:match("^(.-)([%.:])([%a_][%w_]*)$")
  local value
  local ok, v = pcall(function()
    local f = load("return " .. name, "=?", "t")
    return f and f()
  end)
  if ok then value = v end
  if prefix and prefix ~= "" then
    local pok, p = pcall(function()
      local f = load("return " .. prefix, "=?", "t")
      return f and f()
    end)
    if pok and is_tensor(p) then
      text = docs.get("Tensor:" .. field)
      if text then return text end
    end
    if pok and type(p) == "table" then
      for _, mod in ipairs({"tycho", "nn", "optim", "data", "viz", "e3", "hyper"}) do
        if rawget(_G, mod) == p or (mod == "tycho" and p == rawget(_G, "tycho")) then
          text = docs.get(mod .. "." .. field)
          if text then return text end
        end
      end
    end
  end
  if value ~= nil then
    local key = docs.name_of(value)
    if key then return docs.get(key) end
    if is_tensor(value) then
      return tensor_summary(value) .. "\n(a tensor; its methods: ?Tensor, or x:<TAB>)"
    end
    local ty, info = describe(value)
    return string.format("%s: %s %s\n(no documentation)", name, ty, info)
  end
  return "no documentation for '" .. name .. "' (try ?tycho, ?Tensor, %help)"
end
M.help_text = help_text

magic_help.help = "%help name, ?name, name?: documentation and an example for a function, "
  .. "method (?x:sum, ?Tensor:sum) or module (?nn); %help alone lists what there is.\n"
  .. "  ?tycho.randn"
magics.help = function(arg)
  out(help_text(arg) .. "\n")
end

-- Lists the magics (used by docs.overview).
function M.magic_list()
  local names = {}
  for k in pairs(magics) do names[#names + 1] = k end
  table.sort(names)
  local wrap = require("tycho.docs").wrap
  local lines = {}
  for _, k in ipairs(names) do
    lines[#lines + 1] = "  " .. wrap(magic_help[k]:match("^[^\n]*"), 76, 6)
  end
  return table.concat(lines, "\n")
end

-- ---------------------------------------------------------------- input

-- ?name, name?, %magic args -> magic name, argument; else nil.
local function parse_magic(src)
  local s = src:match("^%s*(.-)%s*$")
  if s:sub(1, 1) == "?" then return "help", s:sub(2) end
  if s:match("^[%a_][%w_%.:]*%?$") then return "help", s:sub(1, -2) end
  local name, arg = s:match("^%%(%a+)%s*(.*)$")
  if name then return name, arg end
  return nil
end

-- Numbers input n and keeps it for %hist, %save and the global In.
local function record(n, src, kind)
  M.count = n + 1
  inputs[n] = {src = src, kind = kind}
  local In = rawget(_G, "In")
  if type(In) == "table" then In[n] = src end
end

-- Called by repl.c with the chunk typed so far; force: the user ended it
-- with an empty line. Returns "more" to ask for another line.
function M.input(src, force)
  local n = M.count
  local magic, arg = parse_magic(src)
  if magic then
    record(n, src, "magic")
    local fn = magics[magic]
    if not fn then return show_error("unknown magic %" .. magic .. " (%help lists them)") end
    local r = fn(arg, n)
    if type(r) == "table" then display(n, r) end
    return
  end
  local trimmed = src:match("^%s*(.-)%s*$")
  if trimmed == "exit" or trimmed == "quit" then return exit() end

  local f, kind = compile(src, "=In[" .. n .. "]")
  if not f and kind == "more" and not force then return "more" end
  if not f then
    record(n, src, "error")
    return show_error(kind == "more" and "In[" .. n .. "]: incomplete input" or kind)
  end
  record(n, src, kind)
  local r = run(f)
  if not r[1] then
    inputs[n].kind = "error"
    return show_error(r[2])
  end
  if kind == "expr" and not trimmed:match(";$") then
    display(n, table.pack(unpack(r, 2, r.n)))
  end
end

-- Called once by repl.c before the first prompt.
function M.init(opts)
  C = opts
  color = opts.color and true or false
  tty = opts.tty and true or false
  lazy = opts.lazy or {}
  for k in next, _G do baseline[k] = true end
  rawset(_G, "In", {})
  rawset(_G, "Out", {})
  -- After a Ctrl-C, a pcall or xpcall in the user's code passes its error
  -- on instead of returning false, so that `for ... do pcall(step) end`
  -- stops too (opts.interrupting says whether Ctrl-C was pressed during
  -- the running command).
  local interrupting = opts.interrupting
  if interrupting then
    local function pass(okc, ...)
      if not okc and interrupting() then error((...), 0) end
      return okc, ...
    end
    rawset(_G, "pcall", function(f, ...) return pass(pcall(f, ...)) end)
    rawset(_G, "xpcall", function(f, h, ...) return pass(xpcall(f, h, ...)) end)
    baseline.pcall, baseline.xpcall = true, true
  end
  local tycho = rawget(_G, "tycho")
  if opts.banner == false then return end
  out(string.format("tycho %s (%s) -- ?name: help, %%help: magics, Tab: completion, "
                    .. "Ctrl-D: exit\n", tycho and tycho.version or "?", _VERSION))
end

-- For tests: the inputs recorded so far.
function M.inputs()
  return inputs
end

return M
