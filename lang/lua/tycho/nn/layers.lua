-- The basic layers: Linear, LayerNorm, Embedding, Dropout, the activations,
-- Identity, Flatten, and the containers Sequential and ModuleList. Each is
-- a small class over one functional op; read one to see how to write your
-- own.
local tycho = require("tycho")
local Module = require("tycho.nn.module")
local F = require("tycho.nn.functional")
local init = require("tycho.nn.init_fns")

local L = {}

-- A tensor as a parameter: a leaf that requires grad.
function L.Parameter(t)
  if not tycho.is_tensor(t) then
    error("nn.Parameter: expected a tensor, got " .. type(t), 2)
  end
  if t.grad_fn ~= nil then t = t:detach() end
  return t:requires_grad_(true)
end

local function positive_int(v, fn, what)
  if math.type(v) ~= "integer" or v < 1 then
    error(string.format("nn.%s: %s must be a positive integer, got %s", fn, what, tostring(v)), 3)
  end
end

local function check_opts(opts, fn, allowed)
  if opts == nil then return {} end
  if type(opts) ~= "table" then
    error(string.format("nn.%s: options must be a table, got %s", fn, type(opts)), 3)
  end
  for k in pairs(opts) do
    if not allowed[k] then
      error(string.format("nn.%s: unknown option '%s'", fn, tostring(k)), 3)
    end
  end
  return opts
end
L._check_opts = check_opts
L._positive_int = positive_int

-- ---------------------------------------------------------------- Linear

-- y = x W^T + b with W (out, in). PyTorch's initialisation: W and b
-- uniform in +-1/sqrt(in).
local Linear = Module:extend("Linear")
L.Linear = Linear

function Linear:init(n_in, n_out, opts)
  positive_int(n_in, "Linear", "in_features")
  positive_int(n_out, "Linear", "out_features")
  opts = check_opts(opts, "Linear", {bias = true, dtype = true})
  local dtype = opts.dtype or "f32"
  self.in_features, self.out_features = n_in, n_out
  self.weight = L.Parameter(tycho.empty(n_out, n_in, {dtype = dtype}))
  init.kaiming_uniform_(self.weight, {a = math.sqrt(5)})
  if opts.bias ~= false then
    local bound = 1 / math.sqrt(n_in)
    self.bias = L.Parameter(tycho.empty(n_out, {dtype = dtype}))
    init.uniform_(self.bias, -bound, bound)
  end
end

function Linear:forward(x)
  local shape = x.shape
  if shape[#shape] ~= self.in_features then
    error(string.format("Linear: input has %s features in its last dim (shape (%s)), expected %d",
                        tostring(shape[#shape]), table.concat(shape, ", "), self.in_features), 2)
  end
  return tycho.linear(x, self.weight, self.bias)
end

function Linear:extra_repr()
  return string.format("%d -> %d%s", self.in_features, self.out_features,
                       self.bias == nil and ", bias=false" or "")
end

-- ---------------------------------------------------------------- LayerNorm

local LayerNorm = Module:extend("LayerNorm")
L.LayerNorm = LayerNorm

-- normalized_shape: a number or a shape table. opts: eps (1e-5),
-- elementwise_affine (true), dtype.
function LayerNorm:init(shape, opts)
  opts = check_opts(opts, "LayerNorm", {eps = true, elementwise_affine = true, dtype = true})
  if type(shape) == "number" then shape = {shape} end
  if type(shape) ~= "table" or #shape == 0 then
    error("nn.LayerNorm: normalized_shape must be a number or a non-empty shape table", 2)
  end
  for i = 1, #shape do positive_int(shape[i], "LayerNorm", "normalized_shape[" .. i .. "]") end
  self.normalized_shape = shape
  self.eps = opts.eps or 1e-5
  if opts.elementwise_affine ~= false then
    self.weight = L.Parameter(tycho.ones(shape, {dtype = opts.dtype or "f32"}))
    self.bias = L.Parameter(tycho.zeros(shape, {dtype = opts.dtype or "f32"}))
  end
end

function LayerNorm:forward(x)
  return tycho.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
end

function LayerNorm:extra_repr()
  return string.format("(%s), eps=%g", table.concat(self.normalized_shape, ", "), self.eps)
end

-- ---------------------------------------------------------------- Embedding

-- A table of num vectors of size dim, looked up by 1-based i64 indices.
local Embedding = Module:extend("Embedding")
L.Embedding = Embedding

function Embedding:init(num, dim, opts)
  positive_int(num, "Embedding", "num_embeddings")
  positive_int(dim, "Embedding", "embedding_dim")
  opts = check_opts(opts, "Embedding", {dtype = true})
  self.num_embeddings, self.embedding_dim = num, dim
  self.weight = L.Parameter(tycho.randn(num, dim, {dtype = opts.dtype or "f32"}))
end

function Embedding:forward(idx)
  if not tycho.is_tensor(idx) or idx.dtype ~= "i64" then
    error("Embedding: indices must be an i64 tensor of numbers 1.." .. self.num_embeddings ..
          ", got " .. (tycho.is_tensor(idx) and idx.dtype .. " tensor" or type(idx)), 2)
  end
  return F.embedding(idx, self.weight)
end

function Embedding:extra_repr()
  return string.format("%d, %d", self.num_embeddings, self.embedding_dim)
end

-- ---------------------------------------------------------------- Dropout and activations

local Dropout = Module:extend("Dropout")
L.Dropout = Dropout

function Dropout:init(p)
  p = p or 0.5
  if type(p) ~= "number" or p < 0 or p >= 1 then
    error("nn.Dropout: p must be a number in [0, 1), got " .. tostring(p), 2)
  end
  self.p = p
end

function Dropout:forward(x)
  if not self.training or self.p == 0 then return x end
  return tycho.dropout(x, self.p, true)
end

function Dropout:extra_repr()
  return "p=" .. self.p
end

-- An activation class calling one method of the tensor.
local function activation(name, method, repr)
  local cls = Module:extend(name)
  cls.forward = function(_, x) return x[method](x) end
  if repr then cls.extra_repr = repr end
  L[name] = cls
  return cls
end

activation("ReLU", "relu")
activation("SiLU", "silu")
activation("Tanh", "tanh")
activation("Sigmoid", "sigmoid")
activation("Softplus", "softplus")

local GELU = Module:extend("GELU")
L.GELU = GELU
-- opts.approximate = "tanh" for the tanh formula.
function GELU:init(opts)
  opts = check_opts(opts, "GELU", {approximate = true})
  self.approximate = opts.approximate or "none"
  if self.approximate ~= "none" and self.approximate ~= "tanh" then
    error("nn.GELU: approximate must be 'none' or 'tanh', got " .. tostring(self.approximate), 2)
  end
end
function GELU:forward(x)
  return F.gelu(x, self.approximate)
end
function GELU:extra_repr()
  return self.approximate == "tanh" and "approximate=tanh" or nil
end

local Identity = Module:extend("Identity")
L.Identity = Identity
function Identity:forward(x) return x end

-- Flattens dims start..end_ (1-based, default 2..-1) into one.
local Flatten = Module:extend("Flatten")
L.Flatten = Flatten
function Flatten:init(start, stop)
  self.start, self.stop = start or 2, stop or -1
end
function Flatten:forward(x)
  local shape, n = x.shape, #x.shape
  local s = self.start < 0 and n + self.start + 1 or self.start
  local e = self.stop < 0 and n + self.stop + 1 or self.stop
  local out, size = {}, 1
  for i = 1, s - 1 do out[#out + 1] = shape[i] end
  for i = s, e do size = size * shape[i] end
  out[#out + 1] = size
  for i = e + 1, n do out[#out + 1] = shape[i] end
  return x:reshape(out)
end

-- ---------------------------------------------------------------- containers

-- Modules applied one after another: nn.Sequential(a, b, c)(x) = c(b(a(x))).
-- Children are named 1, 2, ...; s[i] is the i-th, #s the count.
local Sequential = Module:extend("Sequential")
L.Sequential = Sequential

local function add_numbered(self, list, fn)
  for i = 1, list.n or #list do
    local m = list[i]
    if not Module.is_module(m) then
      error(string.format("nn.%s: argument %d is not a module (got %s)", fn, i, type(m)), 3)
    end
    self[i] = m
  end
end

function Sequential:init(...)
  add_numbered(self, table.pack(...), "Sequential")
end

function Sequential:__len()
  return #rawget(self, "_order")
end

function Sequential:forward(x)
  for i = 1, #self do x = self[i](x) end
  return x
end

-- Adds m at the end; returns self.
function Sequential:append(m)
  if not Module.is_module(m) then
    error("Sequential:append: expected a module, got " .. type(m), 2)
  end
  self[#self + 1] = m
  return self
end

-- A list of modules registered as children (for loops you write yourself).
local ModuleList = Module:extend("ModuleList")
L.ModuleList = ModuleList

function ModuleList:init(list)
  add_numbered(self, list or {}, "ModuleList")
end

ModuleList.__len = Sequential.__len
ModuleList.append = Sequential.append

function ModuleList:forward()
  error("ModuleList: has no forward; loop over its modules instead", 2)
end

return L
