-- Attention and the vision transformer: MultiheadAttention (one fused
-- q/k/v projection), MLP, TransformerBlock (pre-norm), PatchEmbed and ViT
-- (Dosovitskiy et al. 2021, with timm's initialisation).
local tycho = require("tycho")
local Module = require("tycho.nn.module")
local L = require("tycho.nn.layers")
local init = require("tycho.nn.init_fns")

local T = {}

-- timm's init for the transformer's own Linears: weights from a normal
-- with std 0.02 truncated at +-2, biases zero.
local function timm_linear(lin)
  init.trunc_normal_(lin.weight, {std = 0.02})
  if lin.bias ~= nil then init.zeros_(lin.bias) end
  return lin
end
T._timm_linear = timm_linear

-- ---------------------------------------------------------------- MultiheadAttention

-- Self-attention (or attention of query over key/value) with `heads`
-- heads of size dim/heads. One Linear makes q, k and v for self-attention
-- in a single GEMM (its weight is PyTorch's in_proj_weight, rows q, k, v).
local MHA = Module:extend("MultiheadAttention")
T.MultiheadAttention = MHA

function MHA:init(dim, heads, opts)
  L._positive_int(dim, "MultiheadAttention", "dim")
  L._positive_int(heads, "MultiheadAttention", "heads")
  opts = L._check_opts(opts, "MultiheadAttention", {bias = true, dropout = true})
  if dim % heads ~= 0 then
    error(string.format("nn.MultiheadAttention: dim %d is not divisible by heads %d", dim, heads), 2)
  end
  self.dim, self.heads, self.head_dim = dim, heads, dim // heads
  self.dropout = opts.dropout or 0
  self.qkv = L.Linear(dim, 3 * dim, {bias = opts.bias})
  self.proj = L.Linear(dim, dim, {bias = opts.bias})
end

-- (B, N, dim) -> (B, heads, N, head_dim)
local function split_heads(x, b, n, h, d)
  return x:reshape(b, n, h, d):transpose(2, 3)
end

-- forward(x) is self-attention; forward(q, k, v) attends q over k/v.
-- The last argument may be opts: need_weights (also return the attention
-- weights, (B, heads, Nq, Nk)), mask (added to the scores; -inf masks),
-- causal. Inputs are (B, N, dim).
function MHA:forward(q, k, v, opts)
  if type(k) == "table" and not tycho.is_tensor(k) then opts, k, v = k, nil, nil end
  opts = opts or {}
  if not tycho.is_tensor(q) or q:dim() ~= 3 or q:size(3) ~= self.dim then
    error(string.format("MultiheadAttention: input must be (batch, tokens, %d), got %s", self.dim,
                        tycho.is_tensor(q) and "(" .. table.concat(q.shape, ", ") .. ")" or type(q)), 2)
  end
  local b, n, h, d = q:size(1), q:size(2), self.heads, self.head_dim
  local qh, kh, vh
  if k == nil then
    -- (B, N, 3, H, d) -> (3, B, H, N, d): q, k, v are views of one GEMM's output
    local qkv = self.qkv(q):reshape(b, n, 3, h, d):permute(3, 1, 4, 2, 5)
    qh, kh, vh = qkv[1], qkv[2], qkv[3]
  else
    local w, bias, dm = self.qkv.weight, self.qkv.bias, self.dim
    local function proj(x, i)
      local bi = bias and bias:narrow(1, (i - 1) * dm + 1, dm)
      return tycho.linear(x, w:narrow(1, (i - 1) * dm + 1, dm), bi)
    end
    local nk = k:size(2)
    qh = split_heads(proj(q, 1), b, n, h, d)
    kh = split_heads(proj(k, 2), b, nk, h, d)
    vh = split_heads(proj(v or k, 3), b, nk, h, d)
  end
  local out, weights = tycho.attention(qh, kh, vh, {mask = opts.mask, causal = opts.causal,
                                                    return_weights = opts.need_weights})
  out = out:transpose(2, 3):reshape(b, n, self.dim)
  if self.dropout > 0 and self.training then out = tycho.dropout(out, self.dropout, true) end
  return self.proj(out), weights
end

function MHA:extra_repr()
  return string.format("dim=%d, heads=%d", self.dim, self.heads)
end

-- ---------------------------------------------------------------- MLP and block

-- Linear -> GELU -> Linear (-> dropout).
local MLP = Module:extend("MLP")
T.MLP = MLP

function MLP:init(dim, hidden, opts)
  opts = opts or {}
  self.fc1 = L.Linear(dim, hidden)
  self.act = L.GELU()
  self.fc2 = L.Linear(hidden, dim)
  self.p = opts.dropout or 0
end

function MLP:forward(x)
  x = self.fc2(self.act(self.fc1(x)))
  if self.p > 0 and self.training then x = tycho.dropout(x, self.p, true) end
  return x
end

-- A pre-norm transformer block: x + attn(norm1(x)), then + mlp(norm2(x)).
local Block = Module:extend("TransformerBlock")
T.TransformerBlock = Block

-- opts: mlp (hidden size, default 4 * dim), eps (LayerNorm, 1e-6),
-- dropout (after attention and MLP, 0).
function Block:init(dim, heads, opts)
  opts = L._check_opts(opts, "TransformerBlock", {mlp = true, eps = true, dropout = true})
  local eps = opts.eps or 1e-6
  self.norm1 = L.LayerNorm(dim, {eps = eps})
  self.attn = MHA(dim, heads, {dropout = opts.dropout})
  self.norm2 = L.LayerNorm(dim, {eps = eps})
  self.mlp = MLP(dim, opts.mlp or 4 * dim, {dropout = opts.dropout})
end

-- Returns the new tokens and, with need_weights, the attention weights.
function Block:forward(x, need_weights)
  local a, w = self.attn(self.norm1(x), {need_weights = need_weights})
  x = x + a
  return x + self.mlp(self.norm2(x)), w
end

-- ---------------------------------------------------------------- ViT

-- Cuts (B, C, H, W) images into p x p patches and embeds each: (B, N, dim),
-- N = (H/p)(W/p), patches in row-major order, each flattened as (C, p, p).
local PatchEmbed = Module:extend("PatchEmbed")
T.PatchEmbed = PatchEmbed

function PatchEmbed:init(image, patch, channels, dim)
  if image % patch ~= 0 then
    error(string.format("nn.PatchEmbed: image size %d is not a multiple of the patch size %d",
                        image, patch), 3)
  end
  self.image, self.patch, self.channels, self.dim = image, patch, channels, dim
  self.grid = image // patch
  self.proj = L.Linear(channels * patch * patch, dim)   -- PyTorch's conv default init
end

function PatchEmbed:forward(x)
  local c, s, p = self.channels, self.image, self.patch
  if not tycho.is_tensor(x) or x:dim() ~= 4 or x:size(2) ~= c or x:size(3) ~= s or x:size(4) ~= s then
    error(string.format("ViT: images must be (batch, %d, %d, %d), got %s", c, s, s,
                        tycho.is_tensor(x) and "(" .. table.concat(x.shape, ", ") .. ")" or type(x)), 3)
  end
  local b, g = x:size(1), self.grid
  local patches
  if c == 1 then
    -- (B, 1, g, p, g, p) -> (B, g, g, p, p)
    patches = x:reshape(b, g, p, g, p):transpose(3, 4)
  else
    patches = x:reshape(b, c, g, p, g, p):permute(1, 3, 5, 2, 4, 6)
  end
  return self.proj(patches:reshape(b, g * g, c * p * p))
end

function PatchEmbed:extra_repr()
  return string.format("image=%d, patch=%d, channels=%d, dim=%d", self.image, self.patch,
                       self.channels, self.dim)
end

-- The vision transformer of API.md: nn.ViT{image = 28, patch = 4, channels = 1,
-- dim = 64, depth = 4, heads = 4, mlp = 128, classes = 10}. A class token and
-- learned position embeddings, pre-norm blocks with LayerNorm eps 1e-6, and
-- a linear head on the class token. timm's initialisation: position
-- embeddings and Linear weights truncated normal (std 0.02), class token
-- normal (std 1e-6), biases zero, the patch projection as PyTorch's conv.
local ViT = Module:extend("ViT")
T.ViT = ViT

local VIT_OPTS = {image = true, patch = true, channels = true, dim = true, depth = true,
                  heads = true, mlp = true, classes = true, dropout = true, eps = true}

function ViT:init(opts)
  opts = L._check_opts(opts or {}, "ViT", VIT_OPTS)
  local o = {image = 28, patch = 4, channels = 1, dim = 64, depth = 4, heads = 4, classes = 10}
  for k, v in pairs(opts) do o[k] = v end
  for _, k in ipairs({"image", "patch", "channels", "dim", "depth", "heads", "classes"}) do
    L._positive_int(o[k], "ViT", k)
  end
  o.mlp = o.mlp or 4 * o.dim
  self.image, self.patch, self.channels, self.dim = o.image, o.patch, o.channels, o.dim
  self.depth, self.heads, self.mlp_dim, self.classes = o.depth, o.heads, o.mlp, o.classes
  self.dropout_p = o.dropout or 0
  self.patch_embed = PatchEmbed(o.image, o.patch, o.channels, o.dim)
  local n = (o.image // o.patch) ^ 2 + 1
  self.tokens = math.tointeger(n)
  self.cls_token = L.Parameter(tycho.zeros(1, 1, o.dim))
  init.normal_(self.cls_token, 0, 1e-6)
  self.pos_embed = L.Parameter(tycho.zeros(1, self.tokens, o.dim))
  init.trunc_normal_(self.pos_embed, {std = 0.02})
  self.blocks = L.ModuleList()
  for _ = 1, o.depth do
    self.blocks:append(Block(o.dim, o.heads, {mlp = o.mlp, eps = o.eps, dropout = o.dropout}))
  end
  self.norm = L.LayerNorm(o.dim, {eps = o.eps or 1e-6})
  self.head = L.Linear(o.dim, o.classes)
  for _, blk in ipairs(self.blocks) do
    timm_linear(blk.attn.qkv)
    timm_linear(blk.attn.proj)
    timm_linear(blk.mlp.fc1)
    timm_linear(blk.mlp.fc2)
  end
  timm_linear(self.head)
end

-- logits (B, classes); with {return_attention = true} also a list of the
-- attention weights of every block, each (B, heads, tokens, tokens), token
-- 1 being the class token.
function ViT:forward(x, opts)
  local want = opts ~= nil and opts.return_attention
  local b = x:size(1)
  local tokens = self.patch_embed(x)
  x = tycho.cat({self.cls_token:expand(b, 1, self.dim), tokens}, 2) + self.pos_embed
  if self.dropout_p > 0 and self.training then x = tycho.dropout(x, self.dropout_p, true) end
  local attn = want and {} or nil
  for i = 1, self.depth do
    local w
    x, w = self.blocks[i](x, want)
    if want then attn[i] = w end
  end
  local logits = self.head(self.norm(x):select(2, 1))
  return logits, attn
end

function ViT:extra_repr()
  return string.format("image=%d, patch=%d, dim=%d, depth=%d, heads=%d, mlp=%d, classes=%d",
                       self.image, self.patch, self.dim, self.depth, self.heads, self.mlp_dim,
                       self.classes)
end

return T
