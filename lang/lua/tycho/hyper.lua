-- tycho.hyper (the global `hyper` at the prompt): hypernetworks, networks
-- whose outputs are the weights of another ("target") network, and
-- continual learning with them (von Oswald et al., ICLR 2020).
--
--   local target = nn.Sequential(nn.Linear(784, 100), nn.ReLU(), nn.Linear(100, 10))
--   local h = hyper.HMLP(target:param_shapes(), {num_cond = 5, cond_dim = 8, layers = {100, 100}})
--   local weights = h({cond_id = 2})                 -- a list of tensors, one per target tensor
--   local logits = nn.functional_call(target, weights, x)  -- gradients flow back into h
--
--   hyper.HMLP          one output head per target tensor
--   hyper.ChunkedHMLP   one small network emits the target in fixed-size chunks
--   hyper.ContinualRegularizer   keeps the outputs for earlier conditions fixed
--
-- Both hypernetworks are nn modules: parameters(), state_dict(), printing
-- and functional_call work on them as on any layer. Their input is the
-- concatenation [condition, unconditional input]: the condition is either a
-- learned embedding picked by {cond_id = i} (one per task, num_cond of
-- them) or a tensor given by the caller ({cond = t}); the unconditional
-- input (uncond_dim > 0) is always given by the caller ({uncond = t}, noise
-- for instance). A condition or input with a leading batch dim makes every
-- output carry that batch dim.
local tycho = require("tycho")
local nn = require("tycho.nn")
local raise = require("tycho.errors").raise

local Module = nn.Module
local init = nn.init

local hyper = {}

-- ---------------------------------------------------------------- checking arguments

local function shape_str(shape)
  return "(" .. table.concat(shape, ", ") .. ")"
end

local function numel_of(shape)
  local n = 1
  for i = 1, #shape do n = n * shape[i] end
  return n
end

-- Rejects option names the function does not know (a typo would otherwise
-- silently fall back to a default).
local function check_opts(fn, opts, allowed)
  if opts == nil then return {} end
  if type(opts) ~= "table" or tycho.is_tensor(opts) then
    raise("%s: options must be a table, got %s", fn, type(opts))
  end
  for k in pairs(opts) do
    if not allowed[k] then raise("%s: unknown option '%s'", fn, tostring(k)) end
  end
  return opts
end

local function int_opt(fn, opts, key, default, min)
  local v = opts[key]
  if v == nil then return default end
  if math.type(v) ~= "integer" or v < min then
    raise("%s: %s must be an integer >= %d, got %s", fn, key, min, tostring(v))
  end
  return v
end

local function num_opt(fn, opts, key, default)
  local v = opts[key]
  if v == nil then return default end
  if type(v) ~= "number" or v ~= v or v < 0 then
    raise("%s: %s must be a number >= 0, got %s", fn, key, tostring(v))
  end
  return v
end

local function layers_opt(fn, opts, default)
  local layers = opts.layers
  if layers == nil then return default end
  if type(layers) ~= "table" then
    raise("%s: layers must be a list of hidden sizes (e.g. {100, 100}), got %s", fn, type(layers))
  end
  for i, n in ipairs(layers) do
    if math.type(n) ~= "integer" or n < 1 then
      raise("%s: layers[%d] must be a positive integer, got %s", fn, i, tostring(n))
    end
  end
  return layers
end

local ACTIVATIONS = {relu = true, tanh = true, sigmoid = true, silu = true, gelu = true,
                     softplus = true}
local INITS = {hyperfan = true, default = true}

-- The targets as a list of {shape = {...}, name = string or nil, numel = n}.
-- target_shapes is a list of shapes ({{100, 784}, {100}}), the output of
-- m:param_shapes() (entries {name =, shape =}), or a module (its
-- param_shapes()).
local function normalize_targets(fn, target_shapes)
  if Module.is_module(target_shapes) then target_shapes = target_shapes:param_shapes() end
  if type(target_shapes) ~= "table" or tycho.is_tensor(target_shapes) or #target_shapes == 0 then
    raise("%s: target_shapes must be a non-empty list of shapes (e.g. {{4, 3}, {4}}) or "
          .. "m:param_shapes(), got %s", fn,
          type(target_shapes) == "table" and "an empty table" or type(target_shapes))
  end
  local out = {}
  for i, e in ipairs(target_shapes) do
    local shape, name = e, nil
    if type(e) == "table" and e.shape ~= nil then shape, name = e.shape, e.name end
    if type(shape) ~= "table" or tycho.is_tensor(shape) or #shape == 0 then
      raise("%s: target_shapes[%d] must be a shape (a list of positive integers) or "
            .. "{name =, shape =}, got %s", fn, i,
            type(shape) == "table" and "an empty shape" or type(shape))
    end
    local copy = {}
    for d = 1, #shape do
      local n = shape[d]
      if math.type(n) ~= "integer" or n < 1 then
        raise("%s: target_shapes[%d] has a bad size %s in dim %d (every size must be a "
              .. "positive integer)", fn, i, tostring(n), d)
      end
      copy[d] = n
    end
    if name ~= nil and type(name) ~= "string" then
      raise("%s: target_shapes[%d].name must be a string, got %s", fn, i, type(name))
    end
    out[i] = {shape = copy, name = name, numel = numel_of(copy)}
  end
  return out
end

-- ---------------------------------------------------------------- what the target should start as

-- The mean and variance each target tensor should have at initialisation,
-- as hyperfan-in (Chang, Flokas & Lipson, ICLR 2020) asks for a ReLU
-- target network initialised the Kaiming way:
--   weight (>= 2 dims, fan_in = product of all dims but the first):
--       Var = 2 / (c_bias * fan_in), c_bias = 2 when the layer has a bias
--       (weight and bias then share the variance a layer should pass on);
--   bias (the 1-D tensor of the same layer): Var = 2 / 2 = 1;
--   gain (a 1-D tensor named "...weight", e.g. LayerNorm): mean 1, std 0.1
--       (a little spread so that conditions can differ), and its layer's
--       bias (the shift): mean 0, std 0.1;
--   other tensors with names (position embeddings, class tokens): std 0.02
--       as timm initialises them.
-- Names come from m:param_shapes(); without names a tensor of >= 2 dims is
-- a weight and a 1-D tensor is the bias of the weight just before it.
local function target_stats(targets)
  local stats, layer_of = {}, {}
  -- which layer (prefix or index of its weight) each tensor belongs to
  local prev_weight = nil
  for i, t in ipairs(targets) do
    local nd, name = #t.shape, t.name
    local leaf = name and name:match("([^%.]+)$")
    local prefix = name and (name:match("^(.*)%.[^%.]+$") or "")
    local role
    if nd >= 2 and (name == nil or leaf == "weight") then
      role = "weight"
      prev_weight = i
    elseif nd == 1 and name == nil then
      role = "bias"
    elseif nd == 1 and leaf == "bias" then
      role = "bias"
    elseif nd == 1 and leaf == "weight" then
      role = "gain"
    else
      role = "other"
    end
    local layer
    if role == "weight" then
      layer = name and prefix or i
    elseif role == "bias" then
      layer = name and prefix or prev_weight
    elseif role == "gain" then
      layer = prefix
    end
    stats[i] = {role = role, layer = layer}
    if layer ~= nil then
      layer_of[layer] = layer_of[layer] or {}
      layer_of[layer][role] = i
    end
  end
  for i, t in ipairs(targets) do
    local s = stats[i]
    if s.role == "weight" then
      local fan_in = t.numel // t.shape[1]
      local c_bias = layer_of[s.layer].bias and 2 or 1
      s.mean, s.var = 0, 2 / (c_bias * fan_in)
    elseif s.role == "bias" and s.layer ~= nil and layer_of[s.layer].gain then
      s.role = "shift"        -- the bias of a normalisation: kept as small as its gain's spread
      s.mean, s.var = 0, 0.01
    elseif s.role == "bias" then
      s.mean, s.var = 0, 1
    elseif s.role == "gain" then
      s.mean, s.var = 1, 0.01
    else
      s.mean, s.var = 0, 0.02 * 0.02
    end
  end
  return stats
end
hyper._target_stats = target_stats

-- Kaiming fan-in (ReLU) for hidden layers, zero biases: the mean square
-- of the last hidden layer then equals that of the hypernetwork's input.
local function kaiming_hidden(lin)
  local fan_in = lin.weight.shape[2]
  local bound = math.sqrt(6 / fan_in)
  init.uniform_(lin.weight, -bound, bound)
  if lin.bias ~= nil then init.zeros_(lin.bias) end
end

-- U(-a, a) with variance var.
local function uniform_var(t, var)
  local a = math.sqrt(3 * var)
  return init.uniform_(t, -a, a)
end

-- ---------------------------------------------------------------- learned condition embeddings

-- One parameter per condition (cond_embs.1, cond_embs.2, ...), so that an
-- optimizer can be given the current task's embedding alone.
local Embeddings = Module:extend("ConditionEmbeddings")
hyper._Embeddings = Embeddings

function Embeddings:init(n, dim, std)
  rawset(self, "n", n)
  rawset(self, "dim", dim)
  for i = 1, n do self[i] = (tycho.randn(dim) * std):requires_grad_(true) end
end

function Embeddings:extra_repr()
  return string.format("%d x %d", self.n, self.dim)
end

function Embeddings:forward()
  error("ConditionEmbeddings: has no forward; index it (e[i])", 2)
end

-- ---------------------------------------------------------------- inputs shared by both hypernetworks

local FORWARD_KEYS = {cond_id = true, cond = true, uncond = true, ret_format = true}

local function need_vector(fn, what, t, dim)
  if not tycho.is_tensor(t) then raise("%s: %s must be a tensor, got %s", fn, what, type(t)) end
  if (t:dim() ~= 1 and t:dim() ~= 2) or t:size(-1) ~= dim then
    raise("%s: %s must have shape (%d) or (batch, %d), got %s", fn, what, dim, dim,
          shape_str(t.shape))
  end
end

-- The learned embeddings of ids (an integer, or a list of them: a batch).
local function learned_conditions(self, fn, ids)
  local list = type(ids) == "table" and ids or {ids}
  if type(ids) == "table" and #ids == 0 then raise("%s: cond_id is an empty list", fn) end
  local rows = {}
  for i, id in ipairs(list) do
    if math.type(id) ~= "integer" then
      raise("%s: cond_id must be an integer or a list of integers, got %s", fn, tostring(id))
    end
    if id < 1 or id > self.num_cond then
      raise("%s: cond_id %d is out of range (the conditions are 1..%d)", fn, id, self.num_cond)
    end
    rows[i] = self.cond_embs[id]
  end
  return type(ids) == "table" and tycho.stack(rows, 1) or rows[1]
end

-- The hypernetwork input for forward's argument: a tensor (in) or
-- (batch, in), whether it is batched, and the output format.
-- arg: an integer (a cond_id) or {cond_id =, cond =, uncond =, ret_format =};
-- cond_id is an integer or a list of integers (a batch).
local function hnet_input(self, fn, arg)
  if math.type(arg) == "integer" then arg = {cond_id = arg} end
  if type(arg) ~= "table" or tycho.is_tensor(arg) then
    raise("%s: expected {cond_id = i}, {cond = tensor} or a condition id, got %s", fn,
          tycho.is_tensor(arg) and "a tensor" or type(arg))
  end
  for k in pairs(arg) do
    if not FORWARD_KEYS[k] then
      raise("%s: unknown input '%s' (expected cond_id, cond, uncond, ret_format)", fn, tostring(k))
    end
  end
  local ret = arg.ret_format or self.ret_format
  if ret ~= "list" and ret ~= "flat" then
    raise("%s: ret_format must be 'list' or 'flat', got %s", fn, tostring(ret))
  end
  local parts = {}
  local cond = arg.cond
  if arg.cond_id ~= nil then
    if cond ~= nil then raise("%s: give either cond_id or cond, not both", fn) end
    if self.num_cond == 0 then
      raise("%s: cond_id given, but this hypernetwork has no learned condition embeddings "
            .. "(num_cond = 0); pass {cond = tensor}", fn)
    end
    cond = learned_conditions(self, fn, arg.cond_id)
  elseif self.cond_dim > 0 then
    if cond == nil then
      raise("%s: a condition is needed: {cond_id = i}%s", fn,
            self.num_cond > 0 and " or {cond = tensor}" or " (there are no learned embeddings: "
            .. "num_cond = 0) or {cond = tensor}")
    end
    need_vector(fn, "cond", cond, self.cond_dim)
  elseif cond ~= nil then
    raise("%s: this hypernetwork takes no condition (cond_dim = 0)", fn)
  end
  if cond ~= nil then parts[#parts + 1] = cond end
  local uncond = arg.uncond
  if self.uncond_dim > 0 then
    if uncond == nil then
      raise("%s: the unconditional input is missing: {uncond = tensor of size %d}", fn,
            self.uncond_dim)
    end
    need_vector(fn, "uncond", uncond, self.uncond_dim)
    parts[#parts + 1] = uncond
  elseif uncond ~= nil then
    raise("%s: this hypernetwork takes no unconditional input (uncond_dim = 0)", fn)
  end
  if #parts == 0 then return nil, false, ret end
  -- a batched part makes the whole input batched; 1-D parts are repeated
  local batch = nil
  for _, p in ipairs(parts) do
    if p:dim() == 2 then
      if batch ~= nil and p:size(1) ~= batch then
        raise("%s: cond and uncond have different batch sizes (%d and %d)", fn, batch, p:size(1))
      end
      batch = p:size(1)
    end
  end
  if batch ~= nil then
    for i, p in ipairs(parts) do
      if p:dim() == 1 then parts[i] = p:unsqueeze(1):expand(batch, p:size(1)) end
    end
  end
  local x = #parts == 1 and parts[1] or tycho.cat(parts, -1)
  return x, batch ~= nil, ret
end

-- The list of target tensors cut out of flat ((total) or (batch, total)).
local function split_flat(targets, flat, batched)
  local out, offset = {}, 1
  for i, t in ipairs(targets) do
    local piece = flat:narrow(batched and 2 or 1, offset, t.numel)
    if batched then
      local shape = {flat:size(1)}
      for d = 1, #t.shape do shape[d + 1] = t.shape[d] end
      out[i] = piece:reshape(shape)
    else
      out[i] = piece:reshape(t.shape)
    end
    offset = offset + t.numel
  end
  return out
end

-- The hidden layers: Linear then the activation, for each.
local function hidden_forward(self, x)
  local act = self.activation
  for i = 1, #self.hidden do
    local y = self.hidden[i](x)
    x = y[act](y)
  end
  return x
end

-- Common options of both classes.
local function common_opts(fn, self, opts, default_layers)
  self.num_cond = int_opt(fn, opts, "num_cond", 0, 0)
  self.cond_dim = int_opt(fn, opts, "cond_dim", self.num_cond > 0 and 8 or 0, 0)
  if self.num_cond > 0 and self.cond_dim == 0 then
    raise("%s: num_cond = %d learned embeddings need cond_dim >= 1", fn, self.num_cond)
  end
  self.uncond_dim = int_opt(fn, opts, "uncond_dim", 0, 0)
  self.layers = layers_opt(fn, opts, default_layers)
  self.activation = opts.activation or "relu"
  if not ACTIVATIONS[self.activation] then
    raise("%s: activation must be one of relu, tanh, sigmoid, silu, gelu, softplus; got %s", fn,
          tostring(self.activation))
  end
  self.ret_format = opts.ret_format or "list"
  if self.ret_format ~= "list" and self.ret_format ~= "flat" then
    raise("%s: ret_format must be 'list' or 'flat', got %s", fn, tostring(self.ret_format))
  end
  self.init_method = opts.init or "hyperfan"
  if not INITS[self.init_method] then
    raise("%s: init must be 'hyperfan' or 'default', got %s", fn, tostring(self.init_method))
  end
  self.emb_std = num_opt(fn, opts, "emb_std", 1)
  -- the variance the hyperfan formulas assume for external inputs
  self.cond_var = num_opt(fn, opts, "cond_var", self.num_cond > 0 and self.emb_std ^ 2 or 1)
  self.uncond_var = num_opt(fn, opts, "uncond_var", 1)
  if opts.bias ~= nil and type(opts.bias) ~= "boolean" then
    raise("%s: bias must be true or false, got %s", fn, tostring(opts.bias))
  end
  self.use_bias = opts.bias ~= false
  if self.num_cond > 0 then
    self.cond_embs = Embeddings(self.num_cond, self.cond_dim, self.emb_std)
  end
end

local function ratio_line(self)
  local n = self:num_parameters()
  return string.format("target: %d tensors, %d values; compression ratio %.4g "
                       .. "(hypernetwork parameters / target values)",
                       #self.targets, self.target_numel, n / self.target_numel)
end

-- Shared methods of both classes.
local function add_common_methods(cls, fn)
  -- The learned embedding of condition i (a parameter), e.g. to optimise
  -- only the current task's embedding.
  function cls:embedding(i)
    if self.num_cond == 0 then raise("%s:embedding: there are no learned embeddings", fn) end
    if math.type(i) ~= "integer" or i < 1 or i > self.num_cond then
      raise("%s:embedding: cond_id %s is out of range (the conditions are 1..%d)", fn,
            tostring(i), self.num_cond)
    end
    return self.cond_embs[i]
  end

  -- Every parameter except the condition embeddings: the weights shared by
  -- all conditions.
  function cls:shared_parameters()
    local list = {}
    for name, p in pairs(self:named_parameters()) do
      if not name:match("^cond_embs%.") then list[#list + 1] = p end
    end
    return list
  end

  -- The shapes the outputs have, as given (a list of shapes).
  function cls:target_shapes()
    local out = {}
    for i, t in ipairs(self.targets) do out[i] = {table.unpack(t.shape)} end
    return out
  end

  function cls:compression_ratio()
    return self:num_parameters() / self.target_numel
  end

  cls.__tostring = function(self)
    return Module.__tostring(self) .. "\n" .. ratio_line(self)
  end
end

-- ---------------------------------------------------------------- HMLP

-- hyper.HMLP(target_shapes, opts): an MLP from the condition (and the
-- unconditional input) to every target tensor, with one linear output
-- head per target tensor.
-- opts: num_cond (learned condition embeddings, 0), cond_dim (8 with
-- num_cond, else 0: the size of an external condition), uncond_dim (0),
-- layers ({100, 100}), activation ("relu"), bias (true), ret_format
-- ("list" or "flat"), init ("hyperfan" or "default": nn.Linear's init),
-- emb_std (1: embeddings start N(0, emb_std^2)), cond_var and uncond_var
-- (1: the variance hyperfan assumes for external inputs).
local HMLP = Module:extend("HMLP")
hyper.HMLP = HMLP

local HMLP_OPTS = {num_cond = true, cond_dim = true, uncond_dim = true, layers = true,
                   activation = true, bias = true, ret_format = true, init = true, emb_std = true,
                   cond_var = true, uncond_var = true}

function HMLP:init(target_shapes, opts)
  local fn = "hyper.HMLP"
  opts = check_opts(fn, opts, HMLP_OPTS)
  self.targets = normalize_targets(fn, target_shapes)
  self.target_numel = 0
  for _, t in ipairs(self.targets) do self.target_numel = self.target_numel + t.numel end
  common_opts(fn, self, opts, {100, 100})
  local n_in = self.cond_dim + self.uncond_dim
  if n_in == 0 then
    raise("%s: the hypernetwork has no input: set num_cond/cond_dim or uncond_dim", fn)
  end
  self.hidden = nn.ModuleList()
  local width = n_in
  for _, n in ipairs(self.layers) do
    self.hidden:append(nn.Linear(width, n, {bias = self.use_bias}))
    width = n
  end
  self.heads = nn.ModuleList()
  for _, t in ipairs(self.targets) do
    self.heads:append(nn.Linear(width, t.numel, {bias = self.use_bias}))
  end
  if self.init_method == "hyperfan" then self:_hyperfan_init() end
end

-- Hyperfan-in: hidden layers Kaiming fan-in with zero biases, so the last
-- hidden layer's mean square equals the input's (var_in, the size-weighted
-- mean of the condition's and the unconditional input's variances); head i
-- then gets Var(head weight) = Var(target i) / (width * var_in), which
-- gives target tensor i the variance target_stats asks for, and a head
-- bias equal to its mean.
function HMLP:_hyperfan_init()
  local n_in = self.cond_dim + self.uncond_dim
  local var_in = (self.cond_dim * self.cond_var + self.uncond_dim * self.uncond_var) / n_in
  for i = 1, #self.hidden do kaiming_hidden(self.hidden[i]) end
  local width = #self.layers > 0 and self.layers[#self.layers] or n_in
  for i, s in ipairs(target_stats(self.targets)) do
    local head = self.heads[i]
    uniform_var(head.weight, s.var / (width * math.max(var_in, 1e-12)))
    if head.bias ~= nil then init.constant_(head.bias, s.mean) end
  end
end

-- h({cond_id = i}) or h({cond = t [, uncond = u]}) or h(i): the target
-- tensors, a list shaped like target_shapes (ret_format "list") or one
-- flat tensor (ret_format "flat"); with a batched input every output has
-- the batch as its first dim.
function HMLP:forward(arg)
  local x, batched, ret = hnet_input(self, "hyper.HMLP", arg)
  x = hidden_forward(self, x)
  local outs = {}
  for i, t in ipairs(self.targets) do
    local y = self.heads[i](x)
    if ret == "list" then
      local shape = t.shape
      if batched then shape = {x:size(1), table.unpack(t.shape)} end
      y = y:reshape(shape)
    end
    outs[i] = y
  end
  if ret == "flat" then return #outs == 1 and outs[1] or tycho.cat(outs, -1) end
  return outs
end

function HMLP:extra_repr()
  return string.format("conditions=%d, cond_dim=%d, uncond_dim=%d, layers={%s}, %s, init=%s",
                       self.num_cond, self.cond_dim, self.uncond_dim,
                       table.concat(self.layers, ", "), self.activation, self.init_method)
end

add_common_methods(HMLP, "hyper.HMLP")

-- ---------------------------------------------------------------- ChunkedHMLP

-- hyper.ChunkedHMLP(target_shapes, opts): one small MLP makes the target
-- in chunks of `chunk` values. Its input for chunk j is [condition,
-- unconditional input, chunk embedding j] (the chunk embeddings are
-- learned); the chunks, laid end to end, are cut into the target tensors
-- and what is left of the last chunk is discarded. Far fewer parameters
-- than an HMLP when the target is large: print(h) shows the ratio.
-- opts: those of HMLP (layers default {100, 100}), plus chunk (1024) and
-- chunk_emb (8, the size of a chunk embedding).
local ChunkedHMLP = Module:extend("ChunkedHMLP")
hyper.ChunkedHMLP = ChunkedHMLP

local CHUNKED_OPTS = {chunk = true, chunk_emb = true}
for k in pairs(HMLP_OPTS) do CHUNKED_OPTS[k] = true end

function ChunkedHMLP:init(target_shapes, opts)
  local fn = "hyper.ChunkedHMLP"
  opts = check_opts(fn, opts, CHUNKED_OPTS)
  self.targets = normalize_targets(fn, target_shapes)
  self.target_numel = 0
  for _, t in ipairs(self.targets) do self.target_numel = self.target_numel + t.numel end
  common_opts(fn, self, opts, {100, 100})
  self.chunk = int_opt(fn, opts, "chunk", 1024, 1)
  self.chunk_emb_dim = int_opt(fn, opts, "chunk_emb", 8, 1)
  self.num_chunks = (self.target_numel + self.chunk - 1) // self.chunk
  -- chunk embeddings, one row per chunk: (num_chunks, chunk_emb)
  self.chunk_embs = (tycho.randn(self.num_chunks, self.chunk_emb_dim) * self.emb_std)
      :requires_grad_(true)
  local width = self.cond_dim + self.uncond_dim + self.chunk_emb_dim
  self.hidden = nn.ModuleList()
  for _, n in ipairs(self.layers) do
    self.hidden:append(nn.Linear(width, n, {bias = self.use_bias}))
    width = n
  end
  self.head = nn.Linear(width, self.chunk, {bias = self.use_bias})
  if self.init_method == "hyperfan" then self:_hyperfan_init() end
end

-- Chunked hyperfan-in. One head makes every chunk, so its variance cannot
-- be chosen per target tensor as in HMLP (hypnettorch works around that
-- through the variance of each chunk embedding, which has to be clipped
-- whenever a chunk mixes tensors of different fan-in). Here the network is
-- initialised to emit values of unit variance (Kaiming fan-in hidden
-- layers, zero biases, head variance 1 / (width * var_in)), and a fixed
-- per-value scale and shift (buffers, not trained) give each target tensor
-- the mean and variance target_stats asks for: out = raw * scale + shift.
function ChunkedHMLP:_hyperfan_init()
  local e2 = self.emb_std ^ 2
  local n_in = self.cond_dim + self.uncond_dim + self.chunk_emb_dim
  local var_in = (self.cond_dim * self.cond_var + self.uncond_dim * self.uncond_var +
                  self.chunk_emb_dim * e2) / n_in
  for i = 1, #self.hidden do kaiming_hidden(self.hidden[i]) end
  local width = #self.layers > 0 and self.layers[#self.layers] or n_in
  uniform_var(self.head.weight, 1 / (width * math.max(var_in, 1e-12)))
  if self.head.bias ~= nil then init.zeros_(self.head.bias) end
  local scales, shifts = {}, {}
  for i, s in ipairs(target_stats(self.targets)) do
    local n = self.targets[i].numel
    scales[#scales + 1] = tycho.full({n}, math.sqrt(s.var))
    shifts[#shifts + 1] = tycho.full({n}, s.mean)
  end
  self:register_buffer("out_scale", tycho.cat(scales, 1))
  self:register_buffer("out_shift", tycho.cat(shifts, 1))
end

-- Same inputs and outputs as HMLP:forward.
function ChunkedHMLP:forward(arg)
  local x, batched, ret = hnet_input(self, "hyper.ChunkedHMLP", arg)
  local nc, ce = self.num_chunks, self.chunk_emb_dim
  local chunks = self.chunk_embs
  local inp
  if x == nil then
    inp = chunks
  elseif batched then
    -- (batch, chunks, in): every chunk of every batch item sees its own input
    local b = x:size(1)
    inp = tycho.cat({x:unsqueeze(2):expand(b, nc, x:size(2)),
                     chunks:unsqueeze(1):expand(b, nc, ce)}, 3)
  else
    inp = tycho.cat({x:unsqueeze(1):expand(nc, x:size(1)), chunks}, 2)
  end
  local raw = self.head(hidden_forward(self, inp))
  local flat
  if batched then
    flat = raw:reshape(x:size(1), nc * self.chunk):narrow(2, 1, self.target_numel)
  else
    flat = raw:reshape(nc * self.chunk):narrow(1, 1, self.target_numel)
  end
  local scale = self.out_scale
  if scale ~= nil then flat = flat * scale + self.out_shift end
  if ret == "flat" then return flat end
  return split_flat(self.targets, flat, batched)
end

function ChunkedHMLP:extra_repr()
  return string.format("conditions=%d, cond_dim=%d, uncond_dim=%d, chunks=%d x %d, chunk_emb=%d, "
                       .. "layers={%s}, %s, init=%s", self.num_cond, self.cond_dim,
                       self.uncond_dim, self.num_chunks, self.chunk, self.chunk_emb_dim,
                       table.concat(self.layers, ", "), self.activation, self.init_method)
end

add_common_methods(ChunkedHMLP, "hyper.ChunkedHMLP")

-- ---------------------------------------------------------------- continual learning

-- hyper.ContinualRegularizer(h, opts): the output regulariser of von Oswald
-- et al. (ICLR 2020, "Continual learning with hypernetworks"). After task t
-- is learned, store(t) records the hypernetwork's output for t (detached:
-- a fixed target) together with t's condition. While later tasks are
-- learned, penalty() is
--     beta / |S| * sum over stored t in S of || h(e_t; Theta + dTheta) - target_t ||^2
-- so the weights h generates for earlier tasks stay where they were, while
-- the hypernetwork is free to change everywhere else. dTheta is zero, or
-- with lookahead = true the step the optimizer is about to take for the
-- current task's loss (the paper's lookahead: the penalty is evaluated
-- where the parameters are going). opts: beta (0.01), lookahead (false),
-- batch (regularise a random subset of this many stored tasks per call;
-- default all of them).
--
-- One training step:
--   opt:zero_grad()
--   local loss = task_loss(h({cond_id = t}))
--   loss:backward()
--   reg:penalty({optimizer = opt}):backward()   -- lookahead needs the gradients above
--   opt:step()
-- (without lookahead, (loss + reg:penalty()):backward() does the same).
local Regularizer = {}
Regularizer.__index = Regularizer
Regularizer.__name = "ContinualRegularizer"

local REG_OPTS = {beta = true, lookahead = true, batch = true}

local function is_hnet(h)
  local mt = getmetatable(h)
  return Module.is_module(h) and (mt == HMLP or mt == ChunkedHMLP or h.targets ~= nil)
end

function hyper.ContinualRegularizer(h, opts)
  local fn = "hyper.ContinualRegularizer"
  if not is_hnet(h) then
    raise("%s: argument 1 must be a hypernetwork (hyper.HMLP or hyper.ChunkedHMLP), got %s", fn,
          Module.is_module(h) and getmetatable(h).__name or type(h))
  end
  opts = check_opts(fn, opts, REG_OPTS)
  local beta = num_opt(fn, opts, "beta", 0.01)
  if opts.lookahead ~= nil and type(opts.lookahead) ~= "boolean" then
    raise("%s: lookahead must be true or false, got %s", fn, tostring(opts.lookahead))
  end
  local batch = opts.batch
  if batch ~= nil and (math.type(batch) ~= "integer" or batch < 1) then
    raise("%s: batch must be a positive integer, got %s", fn, tostring(batch))
  end
  return setmetatable({hnet = h, beta = beta, lookahead = opts.lookahead == true, batch = batch,
                       _stored = {}}, Regularizer)
end

-- The detached copy of an input table's tensors.
local function detached_inputs(inputs)
  local out = {}
  for k, v in pairs(inputs) do out[k] = tycho.is_tensor(v) and v:detach():clone() or v end
  return out
end

-- Records the hypernetwork's current output for a task as its fixed
-- target. store(i) uses learned condition i; store(key, {cond = t
-- [, uncond = u]}) an external condition (key names the task). Storing a
-- task again replaces its target. Returns the regulariser.
function Regularizer:store(id, inputs)
  local fn = "ContinualRegularizer:store"
  local h = self.hnet
  if inputs == nil then
    if math.type(id) ~= "integer" then
      raise("%s: a task id (an integer condition) is needed, got %s", fn, tostring(id))
    end
    if h.num_cond == 0 then
      raise("%s: the hypernetwork has no learned conditions; use store(key, {cond = tensor})", fn)
    end
    if id < 1 or id > h.num_cond then
      raise("%s: cond_id %d is out of range (the conditions are 1..%d)", fn, id, h.num_cond)
    end
    inputs = {cond = h:embedding(id)}
  elseif type(inputs) ~= "table" or tycho.is_tensor(inputs) then
    raise("%s: inputs must be a table {cond =, uncond =}, got %s", fn, type(inputs))
  end
  inputs = detached_inputs(inputs)
  inputs.ret_format = "flat"
  local target = tycho.no_grad(function() return h:forward(inputs) end)
  for i, s in ipairs(self._stored) do
    if s.id == id then
      self._stored[i] = {id = id, inputs = inputs, target = target}
      return self
    end
  end
  self._stored[#self._stored + 1] = {id = id, inputs = inputs, target = target}
  return self
end

function Regularizer:__len()
  return #self._stored
end

-- The stored ids, in the order they were stored.
function Regularizer:ids()
  local out = {}
  for i, s in ipairs(self._stored) do out[i] = s.id end
  return out
end

-- The stored target of task id as a list shaped like the hypernetwork's
-- targets (nil when id was not stored).
function Regularizer:target(id)
  for _, s in ipairs(self._stored) do
    if s.id == id then return split_flat(self.hnet.targets, s.target, false) end
  end
  return nil
end

-- The step opt would take now (from the gradients the parameters hold),
-- without taking it: a dry run of opt:step() whose parameter values and
-- optimizer state are put back afterwards. {name = step} for the
-- hypernetwork parameters that have a gradient.
local function lookahead_steps(h, opt)
  local fn = "ContinualRegularizer:penalty"
  if type(opt) ~= "table" or type(opt.step) ~= "function" or type(opt.state_dict) ~= "function" then
    raise("%s: lookahead needs {optimizer = opt} (an optim.SGD/Adam/AdamW)", fn)
  end
  local named, before = {}, {}
  for name, p in pairs(h:named_parameters()) do
    if p.grad ~= nil then
      named[name] = p
      before[name] = p:detach():clone()
    end
  end
  if next(named) == nil then return nil end
  local state = opt:state_dict()
  opt:step()
  local steps = {}
  tycho.no_grad(function()
    for name, p in pairs(named) do
      steps[name] = p:detach() - before[name]
      p:copy_(before[name])
    end
  end)
  opt:load_state_dict(state)
  return steps
end

-- beta / |S| * sum of squared differences between the hypernetwork's
-- outputs and the stored targets (S: the stored tasks, or a random subset
-- of `batch` of them). opts: optimizer (for lookahead), exclude (an id to
-- leave out, e.g. the task being learned when it was stored before).
-- A scalar tensor; zero (and without history) when nothing is stored.
function Regularizer:penalty(opts)
  local fn = "ContinualRegularizer:penalty"
  opts = check_opts(fn, opts, {optimizer = true, exclude = true})
  local h = self.hnet
  local chosen = {}
  for _, s in ipairs(self._stored) do
    if opts.exclude == nil or s.id ~= opts.exclude then chosen[#chosen + 1] = s end
  end
  if self.batch ~= nil and #chosen > self.batch then
    local order = tycho.randperm(#chosen):tolist()
    local subset = {}
    for i = 1, self.batch do subset[i] = chosen[order[i]] end
    chosen = subset
  end
  if #chosen == 0 then return tycho.zeros({}, {dtype = h:parameters()[1].dtype}) end
  local params = nil
  if self.lookahead then
    local steps = lookahead_steps(h, opts.optimizer)
    if steps ~= nil then
      params = {}
      for name, p in pairs(h:named_parameters()) do
        if steps[name] ~= nil then params[name] = p + steps[name] end
      end
    end
  end
  local total
  for _, s in ipairs(chosen) do
    local out
    if params ~= nil then
      out = nn.functional_call(h, params, s.inputs)
    else
      out = h:forward(s.inputs)
    end
    local d = out - s.target
    local sq = (d * d):sum()
    total = total and total + sq or sq
  end
  return total * (self.beta / #chosen)
end

function Regularizer:__tostring()
  return string.format("ContinualRegularizer(beta=%g, lookahead=%s%s): %d stored task(s)",
                       self.beta, tostring(self.lookahead),
                       self.batch and ", batch=" .. self.batch or "", #self._stored)
end

return hyper
