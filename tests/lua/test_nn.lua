-- nn: every layer's forward against hand-computed values, backward against
-- finite differences (tycho.gradcheck in f64 through nn.functional_call),
-- the Module API (parameters, names, modes, state_dict, functional_call,
-- printing), nn.init, the losses of nn.functional, the ViT of API.md against
-- PyTorch (tests/nn/gen_vit_reference.py) and a short training run whose
-- loss falls.
local H = dofile((arg and arg[0] or ""):match("(.*/)") .. "harness.lua")
local test, eq, near, raises, ok = H.test, H.eq, H.near, H.raises, H.ok
local tycho = rawget(_G, "tycho") or require("tycho")
local nn = require("tycho.nn")
local F = nn.functional
local T = tycho.tensor
local I64 = {dtype = "i64"}

-- Sets some of a module's parameters from a {name = nested table} map
-- (through load_state_dict, non-strict; a misspelt name is an error).
local function set(m, values)
  local sd = {}
  for k, v in pairs(values) do sd[k] = T(v) end
  local r = m:load_state_dict(sd, {strict = false})
  assert(#r.unexpected == 0, "set: no parameter " .. table.concat(r.unexpected, ", "))
  return m
end

local function keys(t)
  local out = {}
  for k in pairs(t) do out[#out + 1] = k end
  return out
end

local function shape_of(t) return t.shape end

-- The exact GELU, x * Phi(x), with erf from its Taylor series (|x| <= 2 here).
local function gelu(x)
  local z = x / math.sqrt(2)
  local s, term, n = 0, z, 0
  repeat
    s = s + term / (2 * n + 1)
    n = n + 1
    term = -term * z * z / n
  until math.abs(term) < 1e-18
  return 0.5 * x * (1 + 2 / math.sqrt(math.pi) * s)
end

local function sigmoid(x) return 1 / (1 + math.exp(-x)) end

-- Gradients of m's output (first result) with respect to the inputs that
-- require grad and to every parameter, against finite differences, in f64.
local function check_grads(m, inputs, what)
  m:to("f64")
  local all, ni = {}, #inputs
  for i, x in ipairs(inputs) do all[i] = x end
  for _, p in ipairs(m:parameters()) do all[#all + 1] = p end
  local good, msg = tycho.gradcheck(function(...)
    local args = table.pack(...)
    local ps = {}
    for i = ni + 1, args.n do ps[#ps + 1] = args[i] end
    return (nn.functional_call(m, ps, table.unpack(args, 1, ni)))
  end, all)
  ok(good, (what or "gradcheck") .. ": " .. tostring(msg))
end

local function f64(...)
  local size = table.pack(...)
  size[size.n + 1] = {dtype = "f64"}
  return tycho.randn(table.unpack(size, 1, size.n + 1)):requires_grad_(true)
end

-- Two state_dicts (or any {name = tensor} maps) have the same keys and values.
local function same_tensors(a, b, what)
  eq(keys(a), keys(b), (what or "") .. " keys")
  for k, v in pairs(a) do eq(v, b[k], (what or "") .. " " .. k) end
end

-- ---------------------------------------------------------------- layers: forward

test("Linear: x W^T + b, any leading dims, bias = false", function()
  local m = set(nn.Linear(2, 3), {weight = {{1, 2}, {3, 4}, {5, 6}}, bias = {0.5, -1, 2}})
  local x = T({{1, -1}, {2, 0.5}})
  eq(m(x), {{-0.5, -2, 1}, {3.5, 7, 15}})
  eq(m(x:reshape(2, 1, 2)), T({{{-0.5, -2, 1}}, {{3.5, 7, 15}}}))
  local nb = nn.Linear(2, 3, {bias = false})
  eq(nb.bias, nil)
  eq(#nb:parameters(), 1)
  set(nb, {weight = {{1, 2}, {3, 4}, {5, 6}}})
  eq(nb(x), {{-1, -1, -1}, {3, 8, 13}})
  eq(m.in_features, 2)
  eq(m.out_features, 3)
  eq(shape_of(nn.Linear(4, 8).weight), {8, 4})
  raises(function() m(T({1, 2, 3})) end, "Linear: input has 3 features")
  raises(function() nn.Linear(0, 3) end, "nn.Linear: in_features must be a positive integer")
  raises(function() nn.Linear(2, 3, {bais = false}) end, "nn.Linear: unknown option 'bais'")
end)

test("LayerNorm: normalises the trailing dims, then scale and shift", function()
  local m = set(nn.LayerNorm(4), {weight = {1, 2, 1, 1}, bias = {0, 0, 1, 0}})
  local x = T({{1, 2, 3, 4}, {2, 2, 2, 2}})
  local s = 1 / math.sqrt(1.25 + 1e-5)
  near(m(x), {{-1.5 * s, -0.5 * s * 2, 0.5 * s + 1, 1.5 * s}, {0, 0, 1, 0}}, 1e-6)
  -- a shape table: statistics over both dims
  local m2 = nn.LayerNorm({2, 2}, {eps = 0.1})
  local s2 = 1 / math.sqrt(1.25 + 0.1)
  near(m2(T({{{1, 2}, {3, 4}}})):reshape(-1), {-1.5 * s2, -0.5 * s2, 0.5 * s2, 1.5 * s2}, 1e-6)
  local m3 = nn.LayerNorm(2, {elementwise_affine = false})
  eq(#m3:parameters(), 0)
  near(m3(T({{0, 2}})), {{-1 / math.sqrt(1 + 1e-5), 1 / math.sqrt(1 + 1e-5)}}, 1e-6)
  raises(function() nn.LayerNorm({}) end, "nn.LayerNorm: normalized_shape")
end)

test("Embedding: rows picked by 1-based i64 ids, any index shape", function()
  local e = set(nn.Embedding(3, 2), {weight = {{1, 2}, {3, 4}, {5, 6}}})
  eq(e(T({1, 3, 3}, I64)), {{1, 2}, {5, 6}, {5, 6}})
  eq(e(T({{2, 1}, {3, 2}}, I64)), T({{{3, 4}, {1, 2}}, {{5, 6}, {3, 4}}}))
  eq(F.embedding(T({2}, I64), e.weight), {{3, 4}})
  raises(function() e(T({1, 2})) end, "Embedding: indices must be an i64 tensor")
  raises(function() e(T({4}, I64)) end, "out of range")
  raises(function() e(T({0}, I64)) end, "out of range")
  -- gradient: rows accumulate
  e:zero_grad()
  e(T({1, 3, 3}, I64)):sum():backward()
  eq(e.weight.grad, {{1, 1}, {0, 0}, {2, 2}})
end)

test("Dropout: zero fraction and 1/(1-p) scaling in training; identity in eval", function()
  tycho.manual_seed(7)
  local d = nn.Dropout(0.25)
  eq(d.training, true)
  local x = tycho.ones(200000)
  local y = d(x)
  local zeros = y:eq(0):sum():item() / 200000
  ok(math.abs(zeros - 0.25) < 0.01, "zero fraction " .. zeros)
  local kept = y:max():item()
  near(kept, 1 / 0.75, 1e-6, "kept values are scaled")
  near(y:min():item(), 0)
  near(y:mean():item(), 1, 0.01, "the mean is preserved")
  -- the same seed, the same mask
  tycho.manual_seed(7)
  eq(d(x), y)
  -- the gradient is the mask times the scale
  local xg = tycho.ones(1000):requires_grad_(true)
  local yg = d(xg)
  yg:sum():backward()
  eq(xg.grad, yg:detach())
  d:eval()
  ok(rawequal(d(x), x), "eval: the input itself")
  eq(F.dropout(x, 0.5, false), x)
  ok(rawequal(nn.Dropout(0)(x), x), "p = 0")
  raises(function() nn.Dropout(1) end, "nn.Dropout: p must be a number in [0, 1)")
end)

test("activations: GELU (exact and tanh), ReLU, SiLU, Tanh, Sigmoid, Softplus, Identity", function()
  local v = {-2, -1, -0.5, 0, 0.5, 1, 2}
  local x = T(v, {dtype = "f64"})
  local function map(fn) local r = {} for i, a in ipairs(v) do r[i] = fn(a) end return r end
  near(nn.GELU()(x), map(gelu), 1e-12)
  near(nn.GELU()(x)[6]:item(), 0.8413447460685429, 1e-12, "gelu(1)")
  local c = math.sqrt(2 / math.pi)
  near(nn.GELU({approximate = "tanh"})(x),
       map(function(a) return 0.5 * a * (1 + math.tanh(c * (a + 0.044715 * a ^ 3))) end), 1e-12)
  near(nn.ReLU()(x), map(function(a) return math.max(a, 0) end), 0)
  near(nn.SiLU()(x), map(function(a) return a * sigmoid(a) end), 1e-12)
  near(nn.Tanh()(x), map(math.tanh), 1e-12)
  near(nn.Sigmoid()(x), map(sigmoid), 1e-12)
  near(nn.Softplus()(x), map(function(a) return math.log(1 + math.exp(a)) end), 1e-12)
  ok(rawequal(nn.Identity()(x), x))
  near(F.gelu(x, "tanh"), nn.GELU({approximate = "tanh"})(x), 0)
  near(F.silu(x), nn.SiLU()(x), 0)
  raises(function() nn.GELU({approximate = "fast"}) end,
         "nn.GELU: approximate must be 'none' or 'tanh'")
  raises(function() F.gelu(x, "fast") end, "nn.functional.gelu")
  eq(tostring(nn.GELU({approximate = "tanh"})):match("^[^\n]*"), "GELU(approximate=tanh)")
end)

test("Flatten: dims start..stop into one (default 2..-1)", function()
  local x = tycho.arange(120):reshape(2, 3, 4, 5)
  eq(shape_of(nn.Flatten()(x)), {2, 60})
  eq(shape_of(nn.Flatten(2, 3)(x)), {2, 12, 5})
  eq(shape_of(nn.Flatten(1, -1)(x)), {120})
  eq(shape_of(nn.Flatten(-2, -1)(x)), {2, 3, 20})
  eq(nn.Flatten()(x)[2], x[2]:reshape(-1), "row-major order kept")
end)

test("Sequential and ModuleList: order, length, indexing, append", function()
  local l1 = set(nn.Linear(2, 2), {weight = {{1, 0}, {0, -1}}, bias = {0, 0}})
  local l2 = set(nn.Linear(2, 1), {weight = {{1, 1}}, bias = {1}})
  local s = nn.Sequential(l1, nn.ReLU(), l2)
  eq(#s, 3)
  ok(rawequal(s[1], l1) and rawequal(s[3], l2))
  -- relu({x1, -x2}) summed, plus 1
  eq(s(T({{2, 3}, {-1, -4}})), {{3}, {5}})
  s:append(nn.Tanh())
  eq(#s, 4)
  near(s(T({{2, 3}})), {{math.tanh(3)}}, 1e-6)
  eq(#nn.Sequential(), 0)
  local x = T({1, 2})
  ok(rawequal(nn.Sequential()(x), x), "an empty Sequential is the identity")
  raises(function() nn.Sequential(l1, 5) end, "nn.Sequential: argument 2 is not a module")
  raises(function() s:append("x") end, "Sequential:append: expected a module")
  local ml = nn.ModuleList({nn.Linear(2, 2), nn.Linear(2, 2)})
  eq(#ml, 2)
  local n = 0
  for i, m in ipairs(ml) do n = n + 1 ok(rawequal(m, ml[i])) end
  eq(n, 2)
  ml:append(nn.ReLU())
  eq(#ml, 3)
  eq(#ml:parameters(), 4)
  raises(function() ml(T({1, 2})) end, "ModuleList: has no forward")
  raises(function() nn.ModuleList({nn.ReLU(), {}}) end, "nn.ModuleList: argument 2 is not a module")
end)

-- Multi-head attention written out: x (B, N, D) -> (B, N, D), and the weights.
local function manual_attention(m, q_in, k_in, v_in, mask)
  local d, h = m.dim, m.heads
  local hd = d // h
  local w, b = m.qkv.weight, m.qkv.bias
  local function proj(x, i)
    return x:matmul(w:narrow(1, (i - 1) * d + 1, d):t()) + b:narrow(1, (i - 1) * d + 1, d)
  end
  local q, k, v = proj(q_in, 1), proj(k_in, 2), proj(v_in, 3)
  local outs, weights = {}, {}
  for j = 1, h do
    local qh = q:narrow(3, (j - 1) * hd + 1, hd)
    local kh = k:narrow(3, (j - 1) * hd + 1, hd)
    local vh = v:narrow(3, (j - 1) * hd + 1, hd)
    local scores = qh:matmul(kh:transpose(2, 3)) / math.sqrt(hd)
    if mask then scores = scores + mask end
    local a = scores:softmax(-1)
    weights[j] = a
    outs[j] = a:matmul(vh)
  end
  local out = tycho.cat(outs, 3):matmul(m.proj.weight:t()) + m.proj.bias
  return out, tycho.stack(weights, 2)
end

test("MultiheadAttention: matches matmul/softmax written out; weights, causal, mask, cross", function()
  tycho.manual_seed(3)
  local m = nn.MultiheadAttention(8, 2)
  -- make the biases non-zero so that they are tested too
  tycho.no_grad(function()
    m.qkv.bias:copy_(tycho.randn(24) * 0.5)
    m.proj.bias:copy_(tycho.randn(8) * 0.5)
  end)
  local x = tycho.randn(2, 5, 8)
  local y, w = m(x, {need_weights = true})
  local ry, rw = manual_attention(m, x, x, x)
  near(y, ry, 1e-5, "output")
  near(w, rw, 1e-5, "weights (B, heads, N, N)")
  eq(shape_of(w), {2, 2, 5, 5})
  local y0, w0 = m(x)
  near(y0, ry, 1e-5)
  eq(w0, nil, "no weights unless asked")
  -- causal: an upper-triangular -inf mask
  local maskt = {}
  for i = 1, 5 do
    maskt[i] = {}
    for j = 1, 5 do maskt[i][j] = j > i and -math.huge or 0 end
  end
  local mask = T(maskt)
  local cy, cw = m(x, {need_weights = true, causal = true})
  local rcy, rcw = manual_attention(m, x, x, x, mask)
  near(cy, rcy, 1e-5, "causal output")
  near(cw, rcw, 1e-5, "causal weights")
  eq(cw[{1, 1, 1, 2}]:item(), 0)
  local my = m(x, {mask = mask})
  near(my, rcy, 1e-5, "an explicit additive mask")
  -- cross-attention: queries of 3 tokens over 6 key/value tokens
  local q, kv = tycho.randn(2, 3, 8), tycho.randn(2, 6, 8)
  local vv = tycho.randn(2, 6, 8)
  local xy, xw = m(q, kv, vv, {need_weights = true})
  local rxy, rxw = manual_attention(m, q, kv, vv)
  near(xy, rxy, 1e-5, "cross output")
  near(xw, rxw, 1e-5, "cross weights")
  eq(shape_of(xw), {2, 2, 3, 6})
  near(m(q, kv), (manual_attention(m, q, kv, kv)), 1e-5, "v defaults to k")
  -- options and errors
  eq(#nn.MultiheadAttention(8, 2, {bias = false}):parameters(), 2)
  raises(function() nn.MultiheadAttention(8, 3) end,
         "nn.MultiheadAttention: dim 8 is not divisible by heads 3")
  raises(function() m(tycho.randn(5, 8)) end,
         "MultiheadAttention: input must be (batch, tokens, 8)")
  raises(function() m(tycho.randn(2, 5, 6)) end, "MultiheadAttention: input must be")
  raises(function() nn.MultiheadAttention(8, 2, {droput = 0.1}) end, "unknown option 'droput'")
end)

test("MultiheadAttention dropout acts in training only", function()
  tycho.manual_seed(5)
  local m = nn.MultiheadAttention(8, 2, {dropout = 0.5})
  local x = tycho.randn(1, 4, 8)
  m:eval()
  near(m(x), (manual_attention(m, x, x, x)), 1e-5)
  m:train()
  local a, b = m(x), m(x)
  ok(not tycho.allclose(a, b), "two training passes differ")
end)

test("TransformerBlock: x + attn(norm1(x)), then + mlp(norm2(x)) (pre-norm)", function()
  tycho.manual_seed(11)
  local blk = nn.TransformerBlock(8, 2, {mlp = 16})
  tycho.no_grad(function()
    for _, p in ipairs(blk:parameters()) do p:copy_(tycho.randn(p.shape) * 0.3) end
  end)
  local x = tycho.randn(2, 4, 8)
  local y, w = blk(x, true)
  local a, rw = manual_attention(blk.attn, blk.norm1(x), blk.norm1(x), blk.norm1(x))
  local h = x + a
  local mlp = blk.mlp.fc2(blk.mlp.fc1(blk.norm2(h)):gelu())
  near(y, h + mlp, 1e-5)
  near(w, rw, 1e-5)
  eq(blk(x, false) ~= nil, true)
  eq(select(2, blk(x)), nil)
  eq(blk.norm1.eps, 1e-6, "ViT blocks use eps 1e-6")
  eq(shape_of(blk.mlp.fc1.weight), {16, 8})
  eq(shape_of(nn.TransformerBlock(8, 2).mlp.fc1.weight), {32, 8}, "mlp defaults to 4 * dim")
  raises(function() nn.TransformerBlock(8, 2, {hidden = 3}) end,
         "nn.TransformerBlock: unknown option 'hidden'")
end)

test("PatchEmbed: row-major patches, each flattened as (C, p, p)", function()
  local pe = nn.PatchEmbed(4, 2, 1, 4)
  set(pe, {["proj.weight"] = tycho.eye(4):tolist(), ["proj.bias"] = {0, 0, 0, 0}})
  local img = tycho.arange(1, 17):reshape(1, 1, 4, 4):to("f32")
  -- image rows {1..4}, {5..8}, {9..12}, {13..16}
  eq(pe(img), {{{1, 2, 5, 6}, {3, 4, 7, 8}, {9, 10, 13, 14}, {11, 12, 15, 16}}})
  local pe2 = nn.PatchEmbed(2, 2, 2, 8)
  set(pe2, {["proj.weight"] = tycho.eye(8):tolist(), ["proj.bias"] = {0, 0, 0, 0, 0, 0, 0, 0}})
  local img2 = tycho.arange(1, 9):reshape(1, 2, 2, 2):to("f32")
  eq(pe2(img2), {{{1, 2, 3, 4, 5, 6, 7, 8}}}, "channel-major within a patch")
  local img3 = tycho.arange(1, 33):reshape(1, 2, 4, 4):to("f32")
  local pe3 = nn.PatchEmbed(4, 2, 2, 8)
  set(pe3, {["proj.weight"] = tycho.eye(8):tolist(), ["proj.bias"] = {0, 0, 0, 0, 0, 0, 0, 0}})
  eq(pe3(img3)[{1, 2}], {3, 4, 7, 8, 19, 20, 23, 24}, "second patch: both channels' top-right")
  raises(function() nn.PatchEmbed(5, 2, 1, 4) end, "nn.PatchEmbed: image size 5 is not a multiple")
  raises(function() pe(tycho.zeros(1, 2, 4, 4)) end, "images must be (batch, 1, 4, 4)")
end)

-- ---------------------------------------------------------------- the ViT

test("ViT: the API.md model has 139,018 parameters, timm's init, attention maps", function()
  tycho.manual_seed(0)
  local vit = nn.ViT({image = 28, patch = 4, channels = 1, dim = 64, depth = 4, heads = 4, mlp = 128,
                      classes = 10})
  eq(vit:num_parameters(), 139018)
  eq(vit.tokens, 50)
  eq(#vit:parameters(), 4 + 4 * 12 + 4)
  -- timm's init: truncated normal (std 0.02) weights, zero biases, tiny class token
  local qkv = vit.blocks[1].attn.qkv
  ok(math.abs(qkv.weight:std():item() - 0.02) < 0.002, "qkv weight std")
  eq(qkv.bias:abs():max():item(), 0)
  ok(vit.cls_token:abs():max():item() < 1e-5, "class token ~ N(0, 1e-6)")
  ok(math.abs(vit.pos_embed:std():item() - 0.02) < 0.003, "pos_embed std")
  eq(vit.norm.weight, tycho.ones(64))
  local x = tycho.rand(3, 1, 28, 28)
  local logits, attn = vit(x, {return_attention = true})
  eq(shape_of(logits), {3, 10})
  eq(#attn, 4)
  for i = 1, 4 do
    eq(shape_of(attn[i]), {3, 4, 50, 50})
    near(attn[i]:sum(-1), tycho.ones(3, 4, 50), 1e-5, "rows sum to 1")
  end
  local plain, none = vit(x)
  near(plain, logits, 1e-6)
  eq(none, nil)
  raises(function() nn.ViT({image = 28, patch = 4, depht = 2}) end,
         "nn.ViT: unknown option 'depht'")
  raises(function() nn.ViT({dim = 0}) end, "nn.ViT: dim must be a positive integer")
  raises(function() vit(tycho.zeros(2, 1, 32, 32)) end, "ViT: images must be (batch, 1, 28, 28)")
end)

-- from tests/nn/gen_vit_reference.py (PyTorch 1.13.0a0, float64)
local VIT_LOGITS = {
  {-1.79914833204, 0.286775123395, 0.240838615688, 0.767028937187, 0.718341652924,
   -0.440138951519, 0.316490070476, -0.0617535191215, 0.714011196739, -1.05985307444},
  {-1.18546678393, 0.202331316889, 0.183448220594, 0.472779956689, 0.675682137271,
   -0.402719214196, 0.57991380538, -0.197486348306, 1.11203947588, -1.03044643673},
}

-- The deterministic weights and images of gen_vit_reference.py.
local function reference_vit()
  local m = nn.ViT({image = 28, patch = 4, channels = 1, dim = 64, depth = 4, heads = 4, mlp = 128,
                    classes = 10})
  local sd, k = {}, 0
  for name, p in pairs(m:named_parameters()) do
    k = k + 1
    local gain = name:match("norm%d?%.weight$") and 1 or 0
    local v = {}
    for i = 1, p:numel() do v[i] = gain + 0.1 * math.sin(k + 0.37 * i + 0.0013 * i * i) end
    sd[name] = T(v):reshape(p.shape)
  end
  m:load_state_dict(sd)
  local xv = {}
  for j = 1, 2 * 28 * 28 do xv[j] = math.sin(0.003 * j * j) end
  return m, T(xv):reshape(2, 1, 28, 28)
end

test("ViT forward equals PyTorch's (f32 and f64)", function()
  local m, x = reference_vit()
  eq(#m:parameters(), 56)
  m:eval()
  near(m(x), VIT_LOGITS, 1e-5, "f32")
  m:train()
  near(m(x), VIT_LOGITS, 1e-5, "no dropout by default: train mode gives the same")
  m:to("f64")
  local y = m(x:to("f64"))
  eq(y.dtype, "f64")
  near(y, VIT_LOGITS, 1e-9, "f64")
end)

-- ---------------------------------------------------------------- backward

test("backward of Linear, LayerNorm, Embedding against finite differences", function()
  tycho.manual_seed(1)
  check_grads(nn.Linear(3, 2), {f64(4, 3)}, "Linear")
  check_grads(nn.Linear(3, 2, {bias = false}), {f64(2, 2, 3)}, "Linear without bias")
  local ln = nn.LayerNorm(5)
  tycho.no_grad(function()
    ln.weight:copy_(tycho.randn(5))
    ln.bias:copy_(tycho.randn(5))
  end)
  check_grads(ln, {f64(3, 5)}, "LayerNorm")
  check_grads(nn.LayerNorm({2, 3}), {f64(2, 2, 3)}, "LayerNorm over two dims")
  check_grads(nn.Embedding(4, 3), {T({{1, 4}, {4, 2}}, I64)}, "Embedding")
end)

test("backward of the activations and containers against finite differences", function()
  tycho.manual_seed(2)
  local x = T({-1.7, -0.8, -0.3, 0.2, 0.6, 1.4}, {dtype = "f64", requires_grad = true})
  for _, name in ipairs({"GELU", "ReLU", "SiLU", "Tanh", "Sigmoid", "Softplus", "Identity"}) do
    check_grads(nn[name](), {x}, name)
  end
  check_grads(nn.GELU({approximate = "tanh"}), {x}, "GELU tanh")
  check_grads(nn.Sequential(nn.Linear(3, 4), nn.GELU(), nn.Linear(4, 2), nn.Flatten(1)),
              {f64(2, 3)}, "Sequential")
  local d = nn.Dropout(0.3)
  d:eval()
  check_grads(d, {x}, "Dropout in eval")
end)

test("backward of MultiheadAttention, TransformerBlock, PatchEmbed, ViT", function()
  tycho.manual_seed(4)
  local m = nn.MultiheadAttention(4, 2)
  check_grads(m, {f64(2, 3, 4)}, "MultiheadAttention")
  check_grads(nn.MultiheadAttention(4, 2), {f64(1, 2, 4), f64(1, 3, 4), f64(1, 3, 4)},
              "MultiheadAttention, cross")
  local blk = nn.TransformerBlock(4, 2, {mlp = 6})
  tycho.no_grad(function()
    for _, p in ipairs(blk:parameters()) do p:copy_(tycho.randn(p.shape) * 0.5) end
  end)
  check_grads(blk, {f64(1, 3, 4)}, "TransformerBlock")
  check_grads(nn.PatchEmbed(4, 2, 2, 3), {f64(1, 2, 4, 4)}, "PatchEmbed")
  local vit = nn.ViT({image = 4, patch = 2, channels = 1, dim = 4, depth = 1, heads = 2, mlp = 6,
                      classes = 3})
  tycho.no_grad(function()
    for _, p in ipairs(vit:parameters()) do p:copy_(tycho.randn(p.shape) * 0.5) end
  end)
  check_grads(vit, {f64(1, 1, 4, 4)}, "ViT")
end)

-- ---------------------------------------------------------------- the Module API

local Net = nn.Module:extend("Net")
function Net:init()
  self.scale = nn.Parameter(tycho.ones(2))
  self.enc = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 2))
  self.drop = nn.Dropout(0.5)
  self.head = nn.Linear(2, 1)
  self:register_buffer("count", tycho.zeros(1))
  self.note = "a plain field"
end
function Net:forward(x)
  return self.head(self.drop(self.enc(x * self.scale)))
end

test("parameters / named_parameters: model order, dotted names, shared once", function()
  local m = Net()
  local names = keys(m:named_parameters())
  eq(names, {"scale", "enc.1.weight", "enc.1.bias", "enc.3.weight", "enc.3.bias", "head.weight",
             "head.bias"})
  local ps = m:parameters()
  eq(#ps, 7)
  ok(rawequal(ps[1], m.scale) and rawequal(ps[2], m.enc[1].weight) and rawequal(ps[7], m.head.bias))
  eq(m.note, "a plain field")
  eq(m:named_parameters().count, nil, "buffers are not parameters")
  eq(keys(m:named_buffers()), {"count"})
  -- a module used twice, a parameter shared: listed once
  local lin = nn.Linear(2, 2)
  local s = nn.Sequential(lin, nn.ReLU(), lin)
  eq(#s:parameters(), 2)
  eq(keys(s:named_parameters()), {"1.weight", "1.bias"})
  eq(s:num_parameters(), 6)
  -- assigning
  m.enc[1].bias = nil
  eq(#m:parameters(), 6, "a parameter set to nil is gone")
  raises(function() m.scale = 5 end, "Net: cannot assign a number to parameter 'scale'")
  raises(function() m.enc = 5 end, "Net: cannot assign a number to submodule 'enc'")
  raises(function() nn.Parameter(3) end, "nn.Parameter: expected a tensor")
  local p = nn.Parameter(tycho.ones(2) * 2)
  ok(p:is_leaf() and p.requires_grad, "a leaf that requires grad")
  ok(nn.is_module(m) and not nn.is_module({}) and not nn.is_module(tycho.ones(1)))
  raises(function() nn.Module:extend("Bare")():forward() end, "Bare: forward is not defined")
end)

test("named_modules, children, apply", function()
  local m = Net()
  eq(keys(m:named_modules()), {"", "enc", "enc.1", "enc.2", "enc.3", "drop", "head"})
  local kids = m:children()
  eq(#kids, 3)
  ok(rawequal(kids[1], m.enc) and rawequal(kids[2], m.drop) and rawequal(kids[3], m.head))
  local seen = {}
  m:apply(function(x) seen[#seen + 1] = getmetatable(x).__name end)
  eq(seen, {"Linear", "ReLU", "Linear", "Sequential", "Dropout", "Linear", "Net"},
     "children first")
end)

test("train / eval reach every descendant; dropout follows", function()
  local m = Net()
  for _, sub in pairs(m:named_modules()) do eq(sub.training, true) end
  ok(rawequal(m:eval(), m), "eval returns the module")
  for name, sub in pairs(m:named_modules()) do eq(sub.training, false, name) end
  local x = tycho.randn(8, 2)
  near(m(x), m(x), 0, "deterministic in eval")
  m:train()
  for _, sub in pairs(m:named_modules()) do eq(sub.training, true) end
  m:train(false)
  eq(m.enc[2].training, false)
end)

test("num_parameters and tostring show the tree", function()
  local m = Net()
  eq(m:num_parameters(), 2 + (6 + 3) + (6 + 2) + (2 + 1))
  local s = tostring(m)
  ok(s:find("^Net%(\n"), s)
  ok(s:find("  scale: (2)", 1, true), s)
  ok(s:find("  (enc): Sequential(\n    (1): Linear(2 -> 3)\n    (2): ReLU()\n"
            .. "    (3): Linear(3 -> 2)\n  )", 1, true), s)
  ok(s:find("(drop): Dropout(p=0.5)", 1, true), s)
  ok(s:find("(head): Linear(2 -> 1)", 1, true), s)
  ok(s:find("\n22 parameters$"), s)
  ok(tostring(nn.Linear(3, 4, {bias = false})):find("Linear(3 -> 4, bias=false)", 1, true))
  ok(tostring(nn.LayerNorm(4)):find("LayerNorm((4), eps=1e-05)", 1, true))
  eq(tostring(nn.Linear), "nn.Linear (class)")
end)

test("state_dict: parameters and buffers in order, detached, same memory", function()
  local m = Net()
  local sd = m:state_dict()
  -- a module's own parameters and buffers (registration order), then its children's
  eq(keys(sd), {"scale", "count", "enc.1.weight", "enc.1.bias", "enc.3.weight", "enc.3.bias",
                "head.weight", "head.bias"})
  eq(sd.scale.requires_grad, false)
  eq(sd["enc.1.weight"], m.enc[1].weight:detach())
  sd.scale:fill_(3)
  eq(m.scale, {3, 3}, "the same memory as the parameter")
end)

test("load_state_dict: strict errors (missing, unexpected, mis-shaped keys); nothing changes", function()
  tycho.manual_seed(1)
  local src = Net()
  local m = Net()
  local before = {}
  for k, v in pairs(m:state_dict()) do before[k] = v:clone() end
  local function unchanged()
    for k, v in pairs(m:state_dict()) do eq(v, before[k], k .. " unchanged") end
  end
  local function copy(sd) local t = {} for k, v in pairs(sd) do t[k] = v end return t end
  local sd = copy(src:state_dict())
  sd["head.bias"] = nil
  raises(function() m:load_state_dict(sd) end,
         "load_state_dict: missing keys: head.bias (nothing was loaded)")
  unchanged()
  sd = copy(src:state_dict())
  sd["head.extra"] = tycho.zeros(1)
  raises(function() m:load_state_dict(sd) end, "load_state_dict: unexpected keys: head.extra")
  unchanged()
  sd = copy(src:state_dict())
  sd["enc.1.weight"] = tycho.zeros(2, 3)
  raises(function() m:load_state_dict(sd) end,
         "load_state_dict: shape mismatch for enc.1.weight: checkpoint (2, 3), model (3, 2)")
  unchanged()
  sd["enc.1.weight"] = "x"
  raises(function() m:load_state_dict(sd) end, "enc.1.weight: expected a tensor, got string")
  unchanged()
  sd = copy(src:state_dict())
  sd["enc.3.bias"] = tycho.zeros(5)
  sd.scale = nil
  sd.junk = tycho.zeros(1)
  local msg = raises(function() m:load_state_dict(sd) end, "load_state_dict")
  ok(msg:find("shape mismatch for enc.3.bias") and msg:find("missing keys: scale") and
     msg:find("unexpected keys: junk"), "every problem at once: " .. msg)
  ok(msg:find("test_nn.lua", 1, true), "the error points at the caller: " .. msg)
  unchanged()
  raises(function() m:load_state_dict(5) end, "load_state_dict: expected a table of tensors")
  raises(function() m:load_state_dict({}, 5) end, "load_state_dict: opts must be a table")
  -- non-strict: loads what matches, reports the rest; shapes still checked
  sd = copy(src:state_dict())
  sd["head.bias"] = nil
  sd.junk = tycho.zeros(1)
  local r = m:load_state_dict(sd, {strict = false})
  eq(r.missing, {"head.bias"})
  eq(r.unexpected, {"junk"})
  eq(m.enc[1].weight, src.enc[1].weight)
  eq(m.head.bias, before["head.bias"], "missing: left as it was")
  sd["head.weight"] = tycho.zeros(9)
  raises(function() m:load_state_dict(sd, {strict = false}) end, "shape mismatch for head.weight")
  -- a full load copies values (not the tensors themselves)
  r = m:load_state_dict(src:state_dict())
  eq(r.missing, {})
  same_tensors(m:state_dict(), src:state_dict())
  ok(not rawequal(m.scale, src.scale))
  ok(m.scale:is_leaf() and m.scale.requires_grad, "still a trainable leaf")
end)

local function tmpdir()
  local d = os.getenv("TY_TEST_TMPDIR")
  if d and d ~= "" then return d end
  local base = os.tmpname()
  os.remove(base)
  assert(os.execute("mkdir -p '" .. base .. "'"))
  return base
end

test("state_dict round trip through tycho.save / tycho.load (safetensors)", function()
  tycho.manual_seed(21)
  local opts = {image = 8, patch = 4, channels = 1, dim = 8, depth = 2, heads = 2, mlp = 16,
                classes = 3}
  local a = nn.ViT(opts)
  local path = tmpdir() .. "/vit_state.safetensors"
  tycho.save(path, a:state_dict())
  tycho.manual_seed(22)
  local b = nn.ViT(opts)
  local x = tycho.rand(2, 1, 8, 8)
  ok(not tycho.allclose(a(x), b(x)), "different weights before loading")
  local sd = tycho.load(path)
  os.remove(path)
  eq(#keys(sd), #a:parameters())
  b:load_state_dict(sd)
  eq(b(x), a(x), "identical after loading")
  same_tensors(b:state_dict(), a:state_dict())
end)

test("functional_call: name map and list forms; the module keeps its own parameters", function()
  local m = set(nn.Linear(2, 1), {weight = {{1, 1}}, bias = {0}})
  local w, bias = m.weight, m.bias
  local x = T({{1, 2}})
  eq(nn.functional_call(m, {weight = T({{2, 0}})}, x), {{2}}, "partial map: bias kept")
  eq(nn.functional_call(m, {weight = T({{0, 1}}), bias = T({10})}, x), {{12}})
  eq(nn.functional_call(m, {T({{3, 0}}), T({1})}, x), {{4}}, "a list in parameters() order")
  eq(m(x), {{3}}, "own parameters afterwards")
  ok(rawequal(m.weight, w) and rawequal(m.bias, bias))
  -- nested modules, dotted names; gradients flow into the given tensors
  local s = nn.Sequential(nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 1))
  local gw = tycho.ones(1, 2):requires_grad_(true)
  nn.functional_call(s, {["3.weight"] = gw}, T({{1, 2}})):sum():backward()
  ok(gw.grad ~= nil, "gradient reached the given tensor")
  eq(s[3].weight.grad, nil, "not the module's own")
  -- errors: the module is untouched
  raises(function() nn.functional_call(s, {["3.wieght"] = gw}, x) end,
         "nn.functional_call: Sequential has no parameter named '3.wieght'")
  raises(function() nn.functional_call(s, {["3.weight"] = tycho.ones(2, 2)}, x) end,
         "nn.functional_call: '3.weight' has shape (2, 2), the module expects (1, 2)")
  raises(function() nn.functional_call(s, {["3.weight"] = 5}, x) end,
         "nn.functional_call: '3.weight' must be a tensor, got number")
  raises(function() nn.functional_call(s, {tycho.ones(1, 2)}, x) end,
         "nn.functional_call: 1 tensors given for 4 parameters of Sequential")
  raises(function() nn.functional_call({}, {}, x) end,
         "nn.functional_call: argument 1 must be a module")
  raises(function() nn.functional_call(s, 5, x) end,
         "nn.functional_call: argument 2 must be a table")
end)

test("functional_call restores the parameters even when forward raises", function()
  local s = nn.Sequential(nn.Linear(2, 3), nn.Linear(3, 1))
  local own = s:parameters()
  local given = {tycho.ones(3, 2), tycho.ones(3), tycho.ones(1, 3), tycho.ones(1)}
  raises(function() nn.functional_call(s, given, T({{1, 2, 3}})) end,
         "Linear: input has 3 features")
  local now = s:parameters()
  for i = 1, 4 do ok(rawequal(now[i], own[i]), "parameter " .. i .. " restored") end
  -- and several results come back
  local mha = nn.MultiheadAttention(4, 2)
  local y, w = nn.functional_call(mha, {}, tycho.randn(1, 3, 4), {need_weights = true})
  eq(shape_of(y), {1, 3, 4})
  eq(shape_of(w), {1, 2, 3, 3})
end)

-- Two Linears sharing one weight tensor (tied weights).
local Tied = nn.Module:extend("Tied")
function Tied:init()
  self.a = nn.Linear(2, 2)
  self.b = nn.Linear(2, 2)
  self.b.weight = self.a.weight
end
function Tied:forward(x) return self.b(self.a(x)) end

test("tied weights: one parameter in parameters(), functional_call and to()", function()
  local m = Tied()
  set(m, {["a.bias"] = {0, 0}, ["b.bias"] = {1, 1}})
  eq(keys(m:named_parameters()), {"a.weight", "a.bias", "b.bias"})
  eq(#m:param_shapes(), 3)
  local x = T({{1, 2}})
  local w = T({{1, 0}, {0, 2}})
  -- the list of parameters()/param_shapes() order fits, and the tied tensor is replaced everywhere
  eq(nn.functional_call(m, {w, tycho.zeros(2), tycho.zeros(2)}, x), {{1, 8}})
  eq(nn.functional_call(m, {["a.weight"] = w}, x), {{2, 9}}, "by its first name")
  eq(nn.functional_call(m, {["b.weight"] = w}, x), {{2, 9}}, "or by another of its names")
  ok(rawequal(m.a.weight, m.b.weight), "still tied afterwards")
  raises(function() nn.functional_call(m, {["a.weight"] = w, ["b.weight"] = w:clone()}, x) end,
         "are one (tied) parameter; give one tensor for it")
  m:to("f64")
  ok(rawequal(m.a.weight, m.b.weight), "to() keeps the tie")
  eq(m.a.weight.dtype, "f64")
end)

test("param_shapes: names and shapes in parameters() order", function()
  local m = Net()
  local shapes = m:param_shapes()
  eq(#shapes, 7)
  eq(shapes[1], {name = "scale", shape = {2}})
  eq(shapes[2], {name = "enc.1.weight", shape = {3, 2}})
  eq(shapes[7], {name = "head.bias", shape = {1}})
  local list = {}
  for i, s in ipairs(shapes) do list[i] = tycho.zeros(s.shape) end
  eq(nn.functional_call(m:eval(), list, tycho.ones(1, 2)), {{0}},
     "a list built from param_shapes fits")
end)

test("to(dtype) converts parameters and buffers, keeps them trainable leaves", function()
  local m = Net()
  local w = m.enc[1].weight:clone()
  m:to("f64")
  for name, p in pairs(m:named_parameters()) do
    eq(p.dtype, "f64", name)
    ok(p:is_leaf() and p.requires_grad, name)
  end
  eq(m.count.dtype, "f64")
  near(m.enc[1].weight, w, 1e-7)
  m:float()
  eq(m.scale.dtype, "f32")
  m:double()
  eq(m.head.bias.dtype, "f64")
end)

-- ---------------------------------------------------------------- nn.init

test("nn.init: uniform_, normal_, trunc_normal_ bounds and moments", function()
  tycho.manual_seed(123)
  local n = 200000
  local t = tycho.empty(n)
  ok(rawequal(nn.init.uniform_(t, -0.5, 1.5), t), "returns the tensor")
  ok(t:min():item() >= -0.5 and t:max():item() <= 1.5, "within [a, b]")
  near(t:mean():item(), 0.5, 0.01)
  near(t:var():item(), 4 / 12, 0.01)
  nn.init.normal_(t, 2, 3)
  near(t:mean():item(), 2, 0.05)
  near(t:std():item(), 3, 0.03)
  nn.init.trunc_normal_(t, {std = 0.02})
  ok(t:abs():max():item() <= 2)
  near(t:std():item(), 0.02, 0.0005)
  -- truncated at +-1 std: variance 1 - 2 phi(1) / (Phi(1) - Phi(-1)) = 0.29112
  nn.init.trunc_normal_(t, {mean = 0, std = 1, a = -1, b = 1})
  ok(t:min():item() >= -1 and t:max():item() <= 1, "within [a, b]")
  near(t:mean():item(), 0, 0.01)
  near(t:var():item(), 0.29112, 0.01)
  nn.init.trunc_normal_(t, {mean = 1, std = 1, a = 0.5, b = 3})
  ok(t:min():item() >= 0.5 and t:max():item() <= 3)
  raises(function() nn.init.trunc_normal_(t, {a = 1, b = 0}) end,
         "nn.init.trunc_normal_: empty interval")
  raises(function() nn.init.trunc_normal_(t, {mean = 0, std = 0.01, a = 1, b = 2}) end,
         "nn.init.trunc_normal_: [1, 2] is more than 6 std from the mean")
  raises(function() nn.init.uniform_(5) end, "nn.init.uniform_: expected a tensor")
  -- parameters: no history recorded
  local p = nn.Parameter(tycho.zeros(3))
  nn.init.normal_(p)
  ok(p:is_leaf(), "a parameter stays a leaf")
  eq(nn.init.zeros_(p), tycho.zeros(3))
  eq(nn.init.ones_(p), tycho.ones(3))
  eq(nn.init.constant_(p, 2.5), tycho.full({3}, 2.5))
end)

test("nn.init: kaiming_uniform_ and xavier bounds; Linear's init; seeded", function()
  tycho.manual_seed(9)
  local w = tycho.empty(400, 600)
  nn.init.kaiming_uniform_(w)
  local bound = math.sqrt(6 / 600)
  local mx = w:abs():max():item()
  ok(mx <= bound * (1 + 1e-6) and mx > 0.99 * bound, "kaiming bound sqrt(6/fan_in): " .. mx)
  nn.init.kaiming_uniform_(w, {mode = "fan_out"})
  mx = w:abs():max():item()
  bound = math.sqrt(6 / 400)
  ok(mx <= bound * (1 + 1e-6) and mx > 0.99 * bound, "fan_out: " .. mx)
  nn.init.kaiming_uniform_(w, {a = math.sqrt(5)})
  bound = 1 / math.sqrt(600)
  mx = w:abs():max():item()
  ok(mx <= bound * (1 + 1e-6) and mx > 0.99 * bound, "a = sqrt(5): 1/sqrt(fan_in)")
  nn.init.xavier_uniform_(w)
  bound = math.sqrt(6 / 1000)
  mx = w:abs():max():item()
  ok(mx <= bound * (1 + 1e-6) and mx > 0.99 * bound, "xavier")
  nn.init.xavier_normal_(w, 2)
  near(w:std():item(), 2 * math.sqrt(2 / 1000), 0.002)
  local fi, fo = nn.init.fans(tycho.empty(8, 3, 5, 5))
  eq({fi, fo}, {75, 200})
  raises(function() nn.init.kaiming_uniform_(tycho.empty(5)) end,
         "nn.init: fan in and fan out need a tensor of at least 2 dims")
  -- Linear: weight and bias in +-1/sqrt(in)
  local l = nn.Linear(300, 200)
  bound = 1 / math.sqrt(300)
  ok(l.weight:abs():max():item() <= bound and l.weight:abs():max():item() > 0.98 * bound)
  ok(l.bias:abs():max():item() <= bound)
  -- the same seed, the same model
  tycho.manual_seed(5)
  local a = nn.ViT({image = 8, patch = 4, dim = 8, depth = 1, heads = 2, classes = 3})
  tycho.manual_seed(5)
  local b = nn.ViT({image = 8, patch = 4, dim = 8, depth = 1, heads = 2, classes = 3})
  same_tensors(a:state_dict(), b:state_dict())
end)

-- ---------------------------------------------------------------- losses

test("mse_loss and l1_loss: mean, sum, none", function()
  local a, b = T({1, 2, 3}), T({0, 0, 1})
  near(F.mse_loss(a, b), 3)
  near(F.mse_loss(a, b, {reduction = "sum"}), 9)
  eq(F.mse_loss(a, b, {reduction = "none"}), {1, 4, 4})
  near(F.l1_loss(a, b), 5 / 3)
  near(F.l1_loss(T({{1, -2}}), T({{3, 2}}), {reduction = "sum"}), 6)
  raises(function() F.mse_loss(a, T({1, 2})) end,
         "nn.functional.mse_loss: input shape (3) and target shape (2) differ")
  raises(function() F.l1_loss(a, b, {reduction = "max"}) end,
         "nn.functional.l1_loss: unknown reduction 'max'")
  raises(function() F.mse_loss(a, 1) end, "nn.functional.mse_loss: the target must be a tensor")
  -- gradients
  local x = T({1, 2, 3}, {dtype = "f64", requires_grad = true})
  local y = T({0.5, 2.5, -1}, {dtype = "f64"})
  ok(tycho.gradcheck(function(v) return F.mse_loss(v, y) end, {x}))
  ok(tycho.gradcheck(function(v) return F.l1_loss(v, y) end, {x}))
end)

test("cross_entropy: hand values, label_smoothing, ignore_index, reductions", function()
  local logits = T({{1, 2, 3}, {1, 1, 1}, {0, 5, 0}})
  local labels = T({3, 1, 1}, I64)
  local lse1 = math.log(math.exp(1) + math.exp(2) + math.exp(3))
  local lse3 = math.log(2 + math.exp(5))
  local l = {lse1 - 3, math.log(3), lse3}
  near(F.cross_entropy(logits, labels), (l[1] + l[2] + l[3]) / 3, 1e-6)
  near(F.cross_entropy(logits, labels, {reduction = "sum"}), l[1] + l[2] + l[3], 1e-6)
  near(F.cross_entropy(logits, labels, {reduction = "none"}), l, 1e-6)
  -- label smoothing eps: (1 - eps) nll + eps * mean over classes of -log p
  local eps = 0.1
  local function smooth(row, lse, y)
    local all = 0
    for _, z in ipairs(row) do all = all + (lse - z) end
    return (1 - eps) * (lse - row[y]) + eps * all / #row
  end
  local s = {smooth({1, 2, 3}, lse1, 3), math.log(3), smooth({0, 5, 0}, lse3, 1)}
  near(F.cross_entropy(logits, labels, {label_smoothing = eps, reduction = "none"}), s, 1e-6)
  near(F.cross_entropy(logits, labels, {label_smoothing = eps}), (s[1] + s[2] + s[3]) / 3, 1e-6)
  -- ignore_index: the ignored rows count neither in the sum nor in the mean
  local ign = T({3, 2, -100}, I64)
  near(F.cross_entropy(logits, ign), (l[1] + math.log(3)) / 2, 1e-6)
  near(F.cross_entropy(logits, T({3, 2, 2}, I64), {ignore_index = 2}), l[1], 1e-6)
  near(F.cross_entropy(logits, ign, {reduction = "none"}), {l[1], math.log(3), 0}, 1e-6)
  -- (N, C, d) logits
  local l3 = logits:t():reshape(1, 3, 3)
  near(F.cross_entropy(l3, T({{3, 1, 1}}, I64), {reduction = "none"}), {l}, 1e-6)
  -- one_hot and nll_loss agree
  eq(F.one_hot(T({2, 1}, I64), 3), T({{0, 1, 0}, {1, 0, 0}}, I64))
  near(F.nll_loss(F.log_softmax(logits), labels), F.cross_entropy(logits, labels), 1e-6)
  -- gradients, with smoothing and ignore
  local x = tycho.randn(4, 3, {dtype = "f64", requires_grad = true})
  local y = T({1, 3, -100, 2}, I64)
  ok(tycho.gradcheck(function(v)
    return F.cross_entropy(v, y, {label_smoothing = 0.2})
  end, {x}))
  raises(function() F.cross_entropy(logits, T({4, 1, 1}, I64)) end, "cross_entropy")
  raises(function() F.cross_entropy(logits, labels, {smoothing = 0.1}) end, "cross_entropy")
end)

test("binary_cross_entropy_with_logits: stable form against the definition", function()
  local xs, ys = {0, 2, -1, 30, -30}, {1, 0, 0.5, 1, 0}
  local want = {}
  for i, x in ipairs(xs) do
    local y = ys[i]
    want[i] = math.max(x, 0) - x * y + math.log(1 + math.exp(-math.abs(x)))
  end
  near(want[1], math.log(2), 1e-15)
  near(want[3], -(0.5 * math.log(sigmoid(-1)) + 0.5 * math.log(1 - sigmoid(-1))), 1e-12)
  local x, y = T(xs, {dtype = "f64"}), T(ys, {dtype = "f64"})
  near(F.binary_cross_entropy_with_logits(x, y, {reduction = "none"}), want, 1e-12)
  local mean = 0
  for _, v in ipairs(want) do mean = mean + v / #want end
  near(F.binary_cross_entropy_with_logits(x, y), mean, 1e-12)
  ok(F.binary_cross_entropy_with_logits(T({100}), T({0})):item() == 100, "no overflow")
  local xg = T({-1.5, 0.3, 2}, {dtype = "f64", requires_grad = true})
  local y3 = y:narrow(1, 1, 3)
  ok(tycho.gradcheck(function(v) return F.binary_cross_entropy_with_logits(v, y3) end, {xg}))
  raises(function() F.binary_cross_entropy_with_logits(x, T({1})) end,
         "nn.functional.binary_cross_entropy_with_logits")
end)

test("functional: softmax, log_softmax, linear, layer_norm, attention are the layers' ops", function()
  local x = T({{1, 2, 3}})
  local e = {math.exp(1), math.exp(2), math.exp(3)}
  local z = e[1] + e[2] + e[3]
  near(F.softmax(x), {{e[1] / z, e[2] / z, e[3] / z}}, 1e-6)
  near(F.log_softmax(x, 2), {{1 - math.log(z), 2 - math.log(z), 3 - math.log(z)}}, 1e-6)
  eq(F.linear(x, T({{1, 1, 1}}), T({1})), {{7}})
  eq(F.linear(x, T({{1, 1, 1}})), {{6}})
  near(F.layer_norm(T({{0, 2}}), 2), {{-1, 1}}, 1e-4)
  local q = tycho.randn(1, 2, 3, 4)
  local out, w = F.scaled_dot_product_attention(q, q, q, {return_weights = true})
  near(out, w:matmul(q), 1e-5)
  near(w, (q:matmul(q:transpose(3, 4)) / 2):softmax(-1), 1e-5)
  near(F.relu(T({-1, 2})), {0, 2})
  near(F.tanh(T({0.5})), {math.tanh(0.5)}, 1e-6)
  near(F.sigmoid(T({0.5})), {sigmoid(0.5)}, 1e-6)
  near(F.softplus(T({0.5})), {math.log(1 + math.exp(0.5))}, 1e-6)
end)

-- ---------------------------------------------------------------- training

test("a 30-step training run of a small ViT: the loss falls", function()
  tycho.manual_seed(0)
  local optim = require("tycho.optim")
  local data = require("tycho.data")
  local images, labels, source
  local okd, ds = pcall(data.fashion_mnist, "test")
  if okd then
    local sub = data.subset(ds, tycho.arange(1, 513):to("i64"))
    images, labels, source = sub.images, sub.labels, "512 Fashion-MNIST images"
  else
    -- random images whose class is the quadrant of a bright square: learnable
    images, labels = tycho.rand(512, 1, 28, 28) * 0.2, tycho.randint(1, 5, {512})
    local lt = labels:tolist()
    for i = 1, 512 do
      local r, c = ((lt[i] - 1) // 2) * 14 + 1, ((lt[i] - 1) % 2) * 14 + 1
      images[{i, 1, {r, r + 13}, {c, c + 13}}] = 1
    end
    source = "512 random images (no Fashion-MNIST)"
  end
  local vit = nn.ViT({image = 28, patch = 7, channels = 1, dim = 32, depth = 2, heads = 2, mlp = 64,
                      classes = 10})
  local opt = optim.AdamW(vit:parameters(), {lr = 5e-3, weight_decay = 0.01})
  local sched = optim.cosine_schedule(opt, {warmup = 3, total = 30})
  local function full_loss()
    vit:eval()
    local l = tycho.no_grad(function() return F.cross_entropy(vit(images), labels):item() end)
    vit:train()
    return l
  end
  local first = full_loss()
  local loader = data.loader(data.dataset(images, labels), {batch = 32, shuffle = true})
  local steps = 0
  while steps < 30 do
    for x, y in loader do
      steps = steps + 1
      opt:zero_grad()
      local loss = F.cross_entropy(vit(x), y)
      loss:backward()
      optim.clip_grad_norm(vit:parameters(), 1.0)
      opt:step()
      sched:step()
      if steps == 30 then break end
    end
  end
  local last = full_loss()
  -- from ln(10) = 2.30 to about 1.8 (seeds 0..2) in under 2 epochs
  ok(last < 0.9 * first, string.format("%s: loss %.4f -> %.4f", source, first, last))
  ok(opt.param_groups[1].lr < 1e-4, "the schedule ran to its end")
end)

H.done()
