-- nn.Module: the base class of every layer.
--
-- A layer is a Lua table whose class is made with Module:extend(name):
--
--   local Scale = nn.Module:extend("Scale")
--   function Scale:init(n) self.weight = nn.Parameter(tycho.ones(n)) end
--   function Scale:forward(x) return x * self.weight end
--   local m = Scale(4)          -- constructs: a fresh instance, then init
--   m(x)                        -- calls m:forward(x)
--
-- Assigning to a field registers what is assigned: a module becomes a child,
-- a tensor that requires grad becomes a parameter, anything else is a plain
-- field. Children and parameters keep the order they were registered in,
-- which is the order of parameters(), named_parameters() and state_dict()
-- (a parameter's own module first, then its children, as in PyTorch).
-- Reading m.weight finds the parameter, so a layer's forward always uses the
-- tensor registered at call time: swapping it (functional_call, load) needs
-- no cooperation from the layer.
local tycho = require("tycho")

local Module = {}
Module.__name = "Module"
Module.__module = true

-- The registries live in raw fields of the instance; everything users see
-- goes through __index / __newindex below.
local function registries(m)
  return rawget(m, "_parameters"), rawget(m, "_modules"), rawget(m, "_buffers")
end

-- Whether v is a module instance (any class made by extend).
local function is_module(v)
  if type(v) ~= "table" then return false end
  local mt = getmetatable(v)
  return type(mt) == "table" and rawget(mt, "__module") == true and rawget(v, "_parameters") ~= nil
end
Module.is_module = is_module

local function instance_index(m, k)
  local p, c, b = registries(m)
  local v = p[k]
  if v ~= nil then return v end
  v = c[k]
  if v ~= nil then return v end
  v = b[k]
  if v ~= nil then return v end
  return getmetatable(m)[k]
end

local function remove_name(list, name)
  for i = 1, #list do
    if list[i] == name then
      table.remove(list, i)
      return
    end
  end
end

local function instance_newindex(m, k, v)
  local p, c, b = registries(m)
  local order = rawget(m, "_order")
  if p[k] ~= nil then
    if v ~= nil and not tycho.is_tensor(v) then
      error(string.format("%s: cannot assign a %s to parameter '%s' (a tensor or nil expected)",
                          getmetatable(m).__name, type(v), tostring(k)), 2)
    end
    p[k] = v
    if v == nil then remove_name(order, k) end
    return
  end
  if c[k] ~= nil then
    if v ~= nil and not is_module(v) then
      error(string.format("%s: cannot assign a %s to submodule '%s' (a module or nil expected)",
                          getmetatable(m).__name, type(v), tostring(k)), 2)
    end
    c[k] = v
    if v == nil then remove_name(order, k) end
    return
  end
  if b[k] ~= nil then
    b[k] = v
    if v == nil then remove_name(order, k) end
    return
  end
  if is_module(v) then
    c[k] = v
    order[#order + 1] = k
  elseif tycho.is_tensor(v) and v.requires_grad then
    p[k] = v
    order[#order + 1] = k
  else
    rawset(m, k, v)
  end
end

-- A new class deriving from self. Class fields are looked up through the
-- chain (Linear -> Module), so a subclass can override any method.
function Module:extend(name)
  assert(type(name) == "string", "Module:extend: the class needs a name")
  local cls = {}
  for _, mm in ipairs({"__call", "__tostring", "__close"}) do cls[mm] = rawget(Module, mm) end
  cls.__name = name
  cls.__module = true
  cls.__index = instance_index
  cls.__newindex = instance_newindex
  cls.super = self
  return setmetatable(cls, {
    __index = self,
    __call = function(c, ...) return c:new(...) end,
    __tostring = function() return "nn." .. name .. " (class)" end,
  })
end

-- Makes an instance and runs the class's init on it.
function Module:new(...)
  local m = {_parameters = {}, _modules = {}, _buffers = {}, _order = {}}
  rawset(m, "training", true)
  setmetatable(m, self)
  local init = self.init
  if init then init(m, ...) end
  return m
end

function Module:__call(...)
  return self:forward(...)
end

function Module:forward()
  error(getmetatable(self).__name .. ": forward is not defined for this module", 2)
end

-- Registers a tensor that is saved in state_dict but not trained.
function Module:register_buffer(name, t)
  if not tycho.is_tensor(t) then
    error(string.format("register_buffer: '%s' must be a tensor, got %s", tostring(name), type(t)), 2)
  end
  local p, c, b = registries(self)
  if p[name] ~= nil or c[name] ~= nil then
    error(string.format("register_buffer: '%s' is already a parameter or submodule", name), 2)
  end
  if b[name] == nil then table.insert(rawget(self, "_order"), name) end
  b[name] = t
  return t
end

-- Registers t as a parameter under name even when it does not require grad
-- (it is switched on).
function Module:register_parameter(name, t)
  if not tycho.is_tensor(t) then
    error(string.format("register_parameter: '%s' must be a tensor, got %s", tostring(name),
                        type(t)), 2)
  end
  if not t.requires_grad then t:requires_grad_(true) end
  self[name] = t
  return t
end

-- ---------------------------------------------------------------- walking the tree

-- Calls fn(prefix, module) for self and every descendant, depth first, in
-- registration order. A module reachable twice is visited once.
local function walk(m, prefix, fn, seen)
  if seen[m] then return end
  seen[m] = true
  fn(prefix, m)
  local _, c = registries(m)
  for _, k in ipairs(rawget(m, "_order")) do
    local child = c[k]
    if child ~= nil then walk(child, prefix .. tostring(k) .. ".", fn, seen) end
  end
end

-- A table that pairs() walks in insertion order (named_parameters and
-- state_dict return these, so loops and files see the model's order). Keys
-- a user adds later with plain assignment come after, in next() order.
local order_of = setmetatable({}, {__mode = "k"})
local Ordered = {}
function Ordered.__pairs(t)
  local keys, listed = order_of[t] or {}, {}
  for _, k in ipairs(keys) do listed[k] = true end
  local i, rest = 0, nil
  return function()
    while i < #keys do
      i = i + 1
      local k = keys[i]
      local v = rawget(t, k)
      if v ~= nil then return k, v end
    end
    repeat
      local v
      rest, v = next(t, rest)
      if rest ~= nil and not listed[rest] then return rest, v end
    until rest == nil
    return nil
  end, t, nil
end
local function ordered()
  local t = setmetatable({}, Ordered)
  order_of[t] = {}
  return t
end
local function ordered_set(t, k, v)
  if rawget(t, k) == nil then table.insert(order_of[t], k) end
  rawset(t, k, v)
end
Module._ordered = ordered
Module._ordered_set = ordered_set

-- The names in the order pairs() gives them.
local function ordered_names(t)
  local names = {}
  for k in pairs(t) do names[#names + 1] = k end
  return names
end
Module._ordered_names = ordered_names

-- {name = tensor} of every parameter, with dotted names ("blocks.1.attn.qkv.weight"),
-- iterated by pairs() in model order. A parameter shared by two modules appears once.
function Module:named_parameters()
  local out, seen = ordered(), {}
  walk(self, "", function(prefix, m)
    local p = rawget(m, "_parameters")
    for _, k in ipairs(rawget(m, "_order")) do
      local t = p[k]
      if t ~= nil and not seen[t] then
        seen[t] = true
        ordered_set(out, prefix .. tostring(k), t)
      end
    end
  end, {})
  return out
end

-- The parameters as a list, in model order.
function Module:parameters()
  local list = {}
  for _, t in pairs(self:named_parameters()) do list[#list + 1] = t end
  return list
end

-- {name = tensor} of the buffers, in model order.
function Module:named_buffers()
  local out = ordered()
  walk(self, "", function(prefix, m)
    local b = rawget(m, "_buffers")
    for _, k in ipairs(rawget(m, "_order")) do
      if b[k] ~= nil then ordered_set(out, prefix .. tostring(k), b[k]) end
    end
  end, {})
  return out
end

-- {name = module} of self ("") and every descendant.
function Module:named_modules()
  local out = ordered()
  walk(self, "", function(prefix, m) ordered_set(out, prefix:sub(1, -2), m) end, {})
  return out
end

-- The direct children, in order.
function Module:children()
  local list, _, c = {}, registries(self)
  c = rawget(self, "_modules")
  for _, k in ipairs(rawget(self, "_order")) do
    if c[k] ~= nil then list[#list + 1] = c[k] end
  end
  return list
end

-- Calls fn(m) on every module, children first; returns self.
function Module:apply(fn)
  for _, child in ipairs(self:children()) do child:apply(fn) end
  fn(self)
  return self
end

-- Training mode switches dropout on; eval() switches it off.
function Module:train(mode)
  if mode == nil then mode = true end
  walk(self, "", function(_, m) rawset(m, "training", mode and true or false) end, {})
  return self
end

function Module:eval()
  return self:train(false)
end

function Module:zero_grad()
  for _, p in ipairs(self:parameters()) do p:zero_grad() end
end

-- The number of trainable scalars.
function Module:num_parameters()
  local n = 0
  for _, p in ipairs(self:parameters()) do n = n + p:numel() end
  return n
end

-- The shapes a hypernetwork must produce to run this module through
-- functional_call: a list of {name = "blocks.1.attn.qkv.weight", shape = {192, 64}},
-- in the order of parameters() (model order: a module's own parameters in
-- the order it registered them, then its children's, depth first).
function Module:param_shapes()
  local list = {}
  for name, p in pairs(self:named_parameters()) do
    list[#list + 1] = {name = name, shape = p.shape}
  end
  return list
end

-- ---------------------------------------------------------------- state

-- {name = tensor} of parameters and buffers (detached: the same memory,
-- no history), in model order; tycho.save writes it as safetensors.
function Module:state_dict()
  local out = ordered()
  walk(self, "", function(prefix, m)
    local p, _, b = registries(m)
    for _, k in ipairs(rawget(m, "_order")) do
      local t = p[k] or b[k]
      if t ~= nil then ordered_set(out, prefix .. tostring(k), t:detach()) end
    end
  end, {})
  return out
end

local function shape_str(shape)
  return "(" .. table.concat(shape, ", ") .. ")"
end

-- Whether two shape tables are equal (nn.lua and functional.lua use it too).
local function same_shape(a, b)
  if #a ~= #b then return false end
  for i = 1, #a do
    if a[i] ~= b[i] then return false end
  end
  return true
end
Module._same_shape = same_shape

-- Copies the tensors of sd into the parameters and buffers. strict (the
-- default) refuses keys missing from sd and keys the model does not have;
-- a shape mismatch is always an error. Nothing is copied unless everything
-- checks out. Returns {missing = {...}, unexpected = {...}}.
function Module:load_state_dict(sd, opts)
  if type(sd) ~= "table" then
    error("load_state_dict: expected a table of tensors (a state_dict), got " .. type(sd), 2)
  end
  local strict = true
  if opts ~= nil then
    if type(opts) ~= "table" then error("load_state_dict: opts must be a table", 2) end
    if opts.strict ~= nil then strict = opts.strict end
  end
  local own = self:state_dict()
  local missing, unexpected, mismatched = {}, {}, {}
  for name, t in pairs(own) do
    local src = sd[name]
    if src == nil then
      missing[#missing + 1] = name
    elseif not tycho.is_tensor(src) then
      mismatched[#mismatched + 1] = string.format("%s: expected a tensor, got %s", name, type(src))
    elseif not same_shape(src.shape, t.shape) then
      mismatched[#mismatched + 1] = string.format("%s: checkpoint %s, model %s", name,
                                                  shape_str(src.shape), shape_str(t.shape))
    end
  end
  for name in pairs(sd) do
    if own[name] == nil then unexpected[#unexpected + 1] = tostring(name) end
  end
  table.sort(unexpected)
  local problems = {}
  if #mismatched > 0 then
    problems[#problems + 1] = "shape mismatch for " .. table.concat(mismatched, "; ")
  end
  if strict and #missing > 0 then
    problems[#problems + 1] = "missing keys: " .. table.concat(missing, ", ")
  end
  if strict and #unexpected > 0 then
    problems[#problems + 1] = "unexpected keys: " .. table.concat(unexpected, ", ")
  end
  if #problems > 0 then
    error("load_state_dict: " .. table.concat(problems, "; ") .. " (nothing was loaded)", 2)
  end
  tycho.no_grad(function()
    for name, t in pairs(own) do
      local src = sd[name]
      if src ~= nil then t:copy_(src) end
    end
  end)
  return {missing = missing, unexpected = unexpected}
end

-- Moves or casts every parameter and buffer in place of the old ones:
-- m:to("f64"), m:to("cuda"). Gradients are dropped. A tensor held in
-- several places (tied weights) stays one tensor.
function Module:to(...)
  local args = table.pack(...)
  local done = {}
  walk(self, "", function(_, m)
    local p, _, b = registries(m)
    for k, t in pairs(p) do
      if done[t] == nil then
        local moved = t:detach():to(table.unpack(args, 1, args.n))
        done[t] = moved ~= t and moved:requires_grad_(true) or t
      end
      p[k] = done[t]
    end
    for k, t in pairs(b) do
      if done[t] == nil then done[t] = t:to(table.unpack(args, 1, args.n)) end
      b[k] = done[t]
    end
  end, {})
  return self
end

function Module:double()
  return self:to("f64")
end

function Module:float()
  return self:to("f32")
end

-- ---------------------------------------------------------------- printing

-- A one-line description of the layer's own settings (subclasses override).
function Module:extra_repr()
  return nil
end

local function describe(m, indent)
  local cls = getmetatable(m)
  local head = cls.__name .. "("
  local extra = m:extra_repr()
  local p, c = registries(m)
  local lines = {}
  for _, k in ipairs(rawget(m, "_order")) do
    if c[k] ~= nil then
      lines[#lines + 1] = indent .. "  (" .. tostring(k) .. "): " .. describe(c[k], indent .. "  ")
    elseif p[k] ~= nil and (not extra or next(c) ~= nil) then
      lines[#lines + 1] = indent .. "  " .. tostring(k) .. ": " .. shape_str(p[k].shape)
    end
  end
  if #lines == 0 then return head .. (extra or "") .. ")" end
  if extra then head = head .. extra end
  return head .. "\n" .. table.concat(lines, "\n") .. "\n" .. indent .. ")"
end

-- The tree of modules with their settings, and the parameter count on top.
function Module:__tostring()
  local n = self:num_parameters()
  return describe(self, "") .. string.format("\n%d parameters", n)
end

return Module
