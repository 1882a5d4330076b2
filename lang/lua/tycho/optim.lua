-- tycho.optim (the global `optim` at the prompt): SGD, Adam and AdamW with
-- PyTorch's update rules, parameter groups, gradient clipping and a
-- warm-up + cosine learning-rate schedule. The updates run in C
-- (src/optim.c: in place, no temporaries, threaded for large tensors);
-- this file keeps the groups, the hyperparameters and the state_dict.
--
--   local opt = optim.AdamW(m:parameters(), {lr = 1e-3, weight_decay = 0.05})
--   opt:zero_grad(); loss:backward(); opt:step()
--   opt.param_groups[1].lr = 1e-4        -- change a hyperparameter at any time
local tycho = require("tycho")
local C = tycho._optim
local raise = require("tycho.errors").raise

local optim = {}

local Optimizer = {}
Optimizer.__index = Optimizer
optim.Optimizer = Optimizer

-- ---------------------------------------------------------------- groups

local function check_param(p, where)
  if not tycho.is_tensor(p) then
    raise("%s: expected a tensor, got %s", where, type(p))
  end
  if not p.requires_grad then
    raise("%s: the tensor does not require grad (make it a parameter with "
                        .. "requires_grad_(true))", where)
  end
  if not p:is_leaf() then
    raise("%s: the tensor is not a leaf (it was computed from other tensors; "
                        .. "optimise the leaves it came from, or detach it)", where)
  end
end

-- Validates a number option against its allowed range.
local function check_range(name, v, lo, hi, kind, fn)
  if type(v) ~= "number" or v ~= v or v < lo or (hi and v >= hi) then
    raise("%s: %s must be %s, got %s", fn, name, kind, tostring(v))
  end
end

-- Builds an optimizer of class cls from params (a list of tensors, or a
-- list of groups {params = {...}, lr = ..., ...}) and the defaults of opts.
local function new_optimizer(cls, params, opts, defaults, validate)
  local fn = "optim." .. cls.name
  if type(params) ~= "table" then
    raise("%s: argument 1 must be a list of parameters, got %s", fn, type(params))
  end
  opts = opts or {}
  if type(opts) ~= "table" then raise(fn .. ": options must be a table") end
  for k in pairs(opts) do
    if defaults[k] == nil then raise("%s: unknown option '%s'", fn, tostring(k)) end
  end
  local self = setmetatable({param_groups = {}, _states = {}, _seen = {}, defaults = {}}, cls)
  for k, v in pairs(defaults) do
    if opts[k] ~= nil then self.defaults[k] = opts[k] else self.defaults[k] = v end
  end
  self._validate = validate
  if #params == 0 then raise(fn .. ": no parameters given (an empty list)") end
  if tycho.is_tensor(params[1]) then
    self:add_param_group({params = params})
  else
    for _, g in ipairs(params) do self:add_param_group(g) end
  end
  return self
end

-- Adds a group {params = {...}, <option> = value ...}; options left out take
-- the optimizer's defaults.
function Optimizer:add_param_group(group)
  local fn = "optim." .. self.name
  if type(group) ~= "table" or type(group.params) ~= "table" then
    raise(fn .. ": a parameter group must be a table with a list 'params'")
  end
  local g, here = {params = {}}, {}
  for i, p in ipairs(group.params) do
    check_param(p, string.format("%s: group %d, parameter %d", fn, #self.param_groups + 1, i))
    if self._seen[p] or here[p] then
      raise("%s: parameter %d of group %d appears in more than one place", fn, i,
                          #self.param_groups + 1)
    end
    here[p] = true
    g.params[i] = p
  end
  if #g.params == 0 then raise(fn .. ": a parameter group has no parameters") end
  for k, v in pairs(group) do
    if k ~= "params" then
      if self.defaults[k] == nil then
        raise("%s: unknown group option '%s'", fn, tostring(k))
      end
      g[k] = v
    end
  end
  for k, v in pairs(self.defaults) do
    if g[k] == nil then g[k] = v end
  end
  self._validate(g, fn)
  for p in pairs(here) do self._seen[p] = true end   -- only once the group is accepted
  self.param_groups[#self.param_groups + 1] = g
  self._states[#self.param_groups] = C.new_state(#g.params)
  return self
end

-- Drops the gradients of every parameter (PyTorch's set_to_none=True): the
-- next backward writes fresh ones.
function Optimizer:zero_grad()
  for _, g in ipairs(self.param_groups) do
    for _, p in ipairs(g.params) do p:zero_grad() end
  end
end

-- One update of every group. closure, when given, is called first (with
-- gradients enabled) to recompute the loss, which step returns.
function Optimizer:step(closure)
  local loss
  if closure ~= nil then loss = tycho.enable_grad(closure) end
  for i, g in ipairs(self.param_groups) do
    self._validate(g, "optim." .. self.name)
    self:_update(self._states[i], g)
  end
  return loss
end

-- ---------------------------------------------------------------- state_dict

local BUFFERS = {"momentum_buffer", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"}

local function hyper_tensor(v)
  if type(v) == "boolean" then return tycho.tensor(v and 1 or 0, {dtype = "u8"}) end
  return tycho.tensor(v, {dtype = "f64"})
end

-- A flat table of tensors that tycho.save can write: the hyperparameters of
-- each group ("param_groups.G.lr", "param_groups.G.n" the parameter count)
-- and the state of each parameter numbered across the groups
-- ("state.K.step", "state.K.exp_avg", ...). Tensors are copies.
function Optimizer:state_dict()
  local sd, k = {}, 0
  for gi, g in ipairs(self.param_groups) do
    local prefix = "param_groups." .. gi .. "."
    sd[prefix .. "n"] = tycho.tensor(#g.params, {dtype = "i64"})
    for name, v in pairs(g) do
      if name ~= "params" and (type(v) == "number" or type(v) == "boolean") then
        sd[prefix .. name] = hyper_tensor(v)
      elseif name ~= "params" and type(v) == "table" then
        sd[prefix .. name] = tycho.tensor(v, {dtype = "f64"})   -- betas
      end
    end
    for i = 1, #g.params do
      k = k + 1
      local st = C.get(self._states[gi], i)
      sd["state." .. k .. ".step"] = tycho.tensor(st.step, {dtype = "i64"})
      for _, b in ipairs(BUFFERS) do
        if st[b] then sd["state." .. k .. "." .. b] = st[b]:clone() end
      end
    end
  end
  return sd
end

-- Loads what state_dict wrote. The groups must have the same sizes and the
-- buffers the parameters' shapes; everything is checked before anything
-- changes.
function Optimizer:load_state_dict(sd)
  local fn = "optim." .. self.name .. ":load_state_dict"
  if type(sd) ~= "table" then raise(fn .. ": expected a table of tensors, got " .. type(sd)) end
  local function number(key)
    local t = sd[key]
    if not tycho.is_tensor(t) then raise("%s: missing entry '%s'", fn, key) end
    return t:item()
  end
  local updates, states, k = {}, {}, 0
  for gi, g in ipairs(self.param_groups) do
    local prefix = "param_groups." .. gi .. "."
    local n = number(prefix .. "n")
    if n ~= #g.params then
      raise("%s: group %d has %d parameters, the saved state has %d", fn, gi,
                          #g.params, n)
    end
    local u = {}
    for name, v in pairs(g) do
      local t = sd[prefix .. name]
      if name ~= "params" and tycho.is_tensor(t) then
        local x
        if type(v) == "table" then x = t:tolist() else x = t:item() end
        if type(v) == "boolean" then x = x ~= 0 end
        u[name] = x
      end
    end
    updates[gi] = u
    for i = 1, #g.params do
      k = k + 1
      local st = {step = math.tointeger(number("state." .. k .. ".step"))}
      for _, b in ipairs(BUFFERS) do st[b] = sd["state." .. k .. "." .. b] end
      states[#states + 1] = {gi, i, st}
    end
  end
  if sd["param_groups." .. (#self.param_groups + 1) .. ".n"] ~= nil then
    raise("%s: the saved state has more than %d parameter groups", fn,
                        #self.param_groups)
  end
  -- C.set checks shapes; run the checks for every parameter before the first write
  for _, s in ipairs(states) do
    local p = self.param_groups[s[1]].params[s[2]]
    for _, b in ipairs(BUFFERS) do
      local t = s[3][b]
      if t ~= nil and (not tycho.is_tensor(t) or t.dtype ~= p.dtype or #t.shape ~= #p.shape) then
        raise("%s: %s of parameter %d does not match the parameter", fn, b, s[2])
      end
      if t ~= nil then
        for d = 1, #p.shape do
          if t.shape[d] ~= p.shape[d] then
            raise("%s: %s of parameter %d has shape (%s), the parameter (%s)", fn, b,
                                s[2], table.concat(t.shape, ", "), table.concat(p.shape, ", "))
          end
        end
      end
    end
  end
  for _, s in ipairs(states) do
    C.set(self._states[s[1]], s[2], self.param_groups[s[1]].params[s[2]], s[3])
  end
  for gi, u in pairs(updates) do
    for name, v in pairs(u) do self.param_groups[gi][name] = v end
  end
end

-- The state of parameter p: {step = n, exp_avg = tensor, ...} (the
-- optimizer's own buffers), or nil when p is not optimised here.
function Optimizer:state(p)
  for gi, g in ipairs(self.param_groups) do
    for i, q in ipairs(g.params) do
      if q == p then return C.get(self._states[gi], i) end
    end
  end
  return nil
end

function Optimizer:__tostring()
  local lines = {self.name .. " ("}
  for gi, g in ipairs(self.param_groups) do
    local opts, n = {}, 0
    for k, v in pairs(g) do
      if k ~= "params" then
        if type(v) == "table" then v = "{" .. table.concat(v, ", ") .. "}" end
        opts[#opts + 1] = k .. "=" .. tostring(v)
      end
    end
    for _, p in ipairs(g.params) do n = n + p:numel() end
    table.sort(opts)
    lines[#lines + 1] = string.format("  group %d: %d tensors, %d values; %s", gi, #g.params, n,
                                      table.concat(opts, ", "))
  end
  lines[#lines + 1] = ")"
  return table.concat(lines, "\n")
end

-- ---------------------------------------------------------------- the optimizers

local function subclass(name)
  local cls = setmetatable({}, {__index = Optimizer})
  cls.__index = cls
  cls.__tostring = Optimizer.__tostring
  cls.name = name
  return cls
end

-- SGD with momentum, dampening, Nesterov momentum and L2 weight decay.
local SGD = subclass("SGD")
local SGD_DEFAULTS = {lr = 1e-3, momentum = 0, dampening = 0, weight_decay = 0, nesterov = false}

local function validate_sgd(g, fn)
  check_range("lr", g.lr, 0, nil, "a number >= 0", fn)
  check_range("momentum", g.momentum, 0, nil, "a number >= 0", fn)
  check_range("dampening", g.dampening, -math.huge, nil, "a number", fn)
  check_range("weight_decay", g.weight_decay, 0, nil, "a number >= 0", fn)
  if g.nesterov and (g.momentum <= 0 or g.dampening ~= 0) then
    raise(fn .. ": nesterov needs momentum > 0 and dampening 0")
  end
end

function SGD:_update(state, g)
  C.sgd(state, g.params, g.lr, g.momentum, g.dampening, g.weight_decay, g.nesterov)
end

-- optim.SGD(params, {lr =, momentum =, dampening =, weight_decay =, nesterov =})
function optim.SGD(params, opts)
  return new_optimizer(SGD, params, opts, SGD_DEFAULTS, validate_sgd)
end

local function validate_adam(g, fn)
  check_range("lr", g.lr, 0, nil, "a number >= 0", fn)
  check_range("eps", g.eps, 0, nil, "a number >= 0", fn)
  check_range("weight_decay", g.weight_decay, 0, nil, "a number >= 0", fn)
  if type(g.betas) ~= "table" or #g.betas ~= 2 then
    raise(fn .. ": betas must be a pair {beta1, beta2}")
  end
  check_range("betas[1]", g.betas[1], 0, 1, "in [0, 1)", fn)
  check_range("betas[2]", g.betas[2], 0, 1, "in [0, 1)", fn)
end

-- Adam (L2 weight decay added to the gradient).
local Adam = subclass("Adam")
function Adam:_update(state, g)
  C.adam(state, g.params, g.lr, g.betas[1], g.betas[2], g.eps, g.weight_decay, g.amsgrad, false)
end

-- AdamW (decoupled weight decay: the parameter shrinks by lr * weight_decay).
local AdamW = subclass("AdamW")
function AdamW:_update(state, g)
  C.adam(state, g.params, g.lr, g.betas[1], g.betas[2], g.eps, g.weight_decay, g.amsgrad, true)
end

-- optim.Adam(params, {lr = 1e-3, betas = {0.9, 0.999}, eps = 1e-8, weight_decay = 0, amsgrad = false})
function optim.Adam(params, opts)
  return new_optimizer(Adam, params, opts, {lr = 1e-3, betas = {0.9, 0.999}, eps = 1e-8,
                                            weight_decay = 0, amsgrad = false}, validate_adam)
end

-- optim.AdamW(params, {lr = 1e-3, betas = {0.9, 0.999}, eps = 1e-8, weight_decay = 0.01, amsgrad = false})
function optim.AdamW(params, opts)
  return new_optimizer(AdamW, params, opts, {lr = 1e-3, betas = {0.9, 0.999}, eps = 1e-8,
                                             weight_decay = 1e-2, amsgrad = false}, validate_adam)
end

-- ---------------------------------------------------------------- clipping

-- Scales the gradients of params so that their joint norm is at most
-- max_norm; returns the norm they had. norm_type: 2 (default), any p > 0,
-- or math.huge / "inf" for the largest absolute value. Parameters without
-- a gradient are skipped.
function optim.clip_grad_norm(params, max_norm, norm_type)
  if tycho.is_tensor(params) then params = {params} end
  if type(params) ~= "table" then
    raise("optim.clip_grad_norm: argument 1 must be a list of tensors, got " .. type(params))
  end
  if type(max_norm) ~= "number" then
    raise("optim.clip_grad_norm: max_norm must be a number, got " .. type(max_norm))
  end
  if norm_type == "inf" then norm_type = math.huge end
  return C.clip_grad_norm(params, max_norm, norm_type or 2)
end

-- ---------------------------------------------------------------- schedules

local Schedule = {}
Schedule.__index = Schedule

-- Linear warm-up then cosine decay, applied to every group of opt:
--   step t < warmup:  lr = base * (t + 1) / warmup
--   afterwards:       lr = min + (base - min) * (1 + cos(pi * p)) / 2,
--                     p = (t - warmup) / (total - warmup), held at 1 after total
-- base is each group's lr when the schedule is made; min = base * min_ratio
-- (default 0) or opts.min_lr. The schedule sets step 0's rate at once;
-- call sched:step() after each opt:step().
function optim.cosine_schedule(opt, opts)
  if getmetatable(opt) == nil or type(opt.param_groups) ~= "table" then
    raise("optim.cosine_schedule: argument 1 must be an optimizer")
  end
  opts = opts or {}
  local total, warmup = opts.total, opts.warmup or 0
  if math.type(total) ~= "integer" or total < 1 then
    raise("optim.cosine_schedule: total must be a positive integer (the number of steps), got "
          .. tostring(total))
  end
  if math.type(warmup) ~= "integer" or warmup < 0 or warmup > total then
    raise("optim.cosine_schedule: warmup must be an integer in 0..total (%d), got %s",
                        total, tostring(warmup))
  end
  local s = setmetatable({opt = opt, total = total, warmup = warmup, last_step = 0,
                          min_ratio = opts.min_ratio or 0, min_lr = opts.min_lr, base = {}},
                         Schedule)
  for i, g in ipairs(opt.param_groups) do s.base[i] = g.lr end
  s:_apply()
  return s
end

-- The learning rate of group i (default 1) at step t (default the current step).
function Schedule:get_lr(t, i)
  t = t or self.last_step
  local base = self.base[i or 1]
  local min = self.min_lr or base * self.min_ratio
  if t < self.warmup then return base * (t + 1) / self.warmup end
  local span = self.total - self.warmup
  local p = span > 0 and math.min(1, (t - self.warmup) / span) or 1
  return min + (base - min) * 0.5 * (1 + math.cos(math.pi * p))
end

function Schedule:_apply()
  for i, g in ipairs(self.opt.param_groups) do
    if self.base[i] == nil then self.base[i] = g.lr end
    g.lr = self:get_lr(self.last_step, i)
  end
end

-- Advances one step and sets the groups' learning rates; returns group 1's.
function Schedule:step()
  self.last_step = self.last_step + 1
  self:_apply()
  return self.opt.param_groups[1].lr
end

-- The step and each group's base rate (a schedule made after
-- opt:load_state_dict would otherwise take the saved, scheduled lr as its base).
function Schedule:state_dict()
  return {last_step = tycho.tensor(self.last_step, {dtype = "i64"}),
          base_lrs = tycho.tensor(self.base, {dtype = "f64"})}
end

function Schedule:load_state_dict(sd)
  if type(sd) ~= "table" or not tycho.is_tensor(sd.last_step) then
    raise("cosine_schedule:load_state_dict: expected {last_step = tensor, base_lrs = tensor}")
  end
  if sd.base_lrs ~= nil then
    if not tycho.is_tensor(sd.base_lrs) or sd.base_lrs:numel() ~= #self.base then
      raise("cosine_schedule:load_state_dict: base_lrs must be a tensor of %d rates", #self.base)
    end
    self.base = sd.base_lrs:reshape(-1):tolist()
  end
  self.last_step = math.tointeger(sd.last_step:item())
  self:_apply()
end

function Schedule:__tostring()
  return string.format("cosine_schedule(step %d of %d, warmup %d, lr %g)", self.last_step,
                       self.total, self.warmup, self.opt.param_groups[1].lr)
end

return optim
