-- nn.init: in-place initialisers, the ones PyTorch and timm use. Each fills
-- a tensor without recording history (parameters are leaves) and returns it.
-- Random numbers come from tycho's seeded generator: tycho.manual_seed(s)
-- makes a model's initial weights reproducible.
local tycho = require("tycho")

local init = {}

local function check(t, fn)
  if not tycho.is_tensor(t) then
    error(string.format("nn.init.%s: expected a tensor, got %s", fn, type(t)), 3)
  end
end

local function fill_from(t, values)
  tycho.no_grad(function() t:copy_(values) end)
  return t
end

function init.zeros_(t)
  check(t, "zeros_")
  tycho.no_grad(function() t:zero_() end)
  return t
end

function init.ones_(t)
  check(t, "ones_")
  tycho.no_grad(function() t:fill_(1) end)
  return t
end

function init.constant_(t, v)
  check(t, "constant_")
  tycho.no_grad(function() t:fill_(v) end)
  return t
end

-- U(a, b)
function init.uniform_(t, a, b)
  check(t, "uniform_")
  a, b = a or 0, b or 1
  return fill_from(t, tycho.rand(t.shape, {dtype = t.dtype}) * (b - a) + a)
end

-- N(mean, std^2)
function init.normal_(t, mean, std)
  check(t, "normal_")
  mean, std = mean or 0, std or 1
  return fill_from(t, tycho.randn(t.shape, {dtype = t.dtype}) * std + mean)
end

-- N(mean, std^2) restricted to [a, b] by redrawing the values outside
-- (timm's trunc_normal_(std = .02) has a = -2, b = 2 in absolute units).
function init.trunc_normal_(t, opts)
  check(t, "trunc_normal_")
  opts = opts or {}
  local mean, std = opts.mean or 0, opts.std or 1
  local a, b = opts.a or -2, opts.b or 2
  if not (a < b) then
    error(string.format("nn.init.trunc_normal_: empty interval [%g, %g]", a, b), 2)
  end
  if mean + 6 * std < a or mean - 6 * std > b then
    error(string.format("nn.init.trunc_normal_: [%g, %g] is more than 6 std from the mean %g",
                        a, b, mean), 2)
  end
  local x = tycho.randn(t.shape, {dtype = t.dtype}) * std + mean
  for _ = 1, 100 do
    local outside = x:lt(a):logical_or(x:gt(b))
    if not outside:any():item() then break end
    x = tycho.where(outside, tycho.randn(t.shape, {dtype = t.dtype}) * std + mean, x)
  end
  return fill_from(t, x:clamp(a, b))
end

-- fan_in and fan_out of a weight (out, in, k...) as PyTorch computes them.
function init.fans(t)
  local shape = t.shape
  if #shape < 2 then
    error(string.format("nn.init: fan in and fan out need a tensor of at least 2 dims, got %d",
                        #shape), 3)
  end
  local receptive = 1
  for i = 3, #shape do receptive = receptive * shape[i] end
  return shape[2] * receptive, shape[1] * receptive
end

-- He/Kaiming uniform with negative slope a (PyTorch's Linear default is
-- a = sqrt(5), which gives U(-1/sqrt(fan_in), 1/sqrt(fan_in))).
function init.kaiming_uniform_(t, opts)
  check(t, "kaiming_uniform_")
  opts = opts or {}
  local a = opts.a or 0
  local fan_in, fan_out = init.fans(t)
  local fan = (opts.mode == "fan_out") and fan_out or fan_in
  local gain = math.sqrt(2 / (1 + a * a))
  local bound = gain * math.sqrt(3 / fan)
  return init.uniform_(t, -bound, bound)
end

function init.xavier_uniform_(t, gain)
  check(t, "xavier_uniform_")
  local fan_in, fan_out = init.fans(t)
  local bound = (gain or 1) * math.sqrt(6 / (fan_in + fan_out))
  return init.uniform_(t, -bound, bound)
end

function init.xavier_normal_(t, gain)
  check(t, "xavier_normal_")
  local fan_in, fan_out = init.fans(t)
  return init.normal_(t, 0, (gain or 1) * math.sqrt(2 / (fan_in + fan_out)))
end

return init
