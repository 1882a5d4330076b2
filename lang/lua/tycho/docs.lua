-- Help texts for ?name and %help name at the tycho prompt: every public
-- function of tycho (tycho.*), every tensor method (Tensor:name), the
-- tensor properties (Tensor.shape ...) and the modules nn, optim, data,
-- viz, e3, hyper. Each entry has a signature, what it does, and an example
-- that runs as it stands (tests/lua/test_repl_magics.lua runs them all).
--
-- Keys: "tycho.randn", "Tensor:matmul", "Tensor.shape", "nn", "nn.Linear".
-- A function that is both tycho.f and x:f() is written once; get() finds
-- it under either name, and in-place forms (x:exp_()) find their base.
local D = {}

local entries = {}

local function doc(key, sig, text, example)
  entries[key] = {sig = sig, text = text, example = example}
end

-- ---------------------------------------------------------------- overviews

doc("tycho", "tycho (the global table; require('tycho') outside the REPL)",
    "Tensors, autograd and kernels. Creation: tensor zeros ones full empty arange range "
    .. "linspace eye rand randn randint randperm normal bernoulli *_like. Math: every "
    .. "elementwise op, reduction and linear-algebra op is both tycho.f(x, ...) and x:f(...). "
    .. "Also: cat stack where einsum no_grad grad gradcheck save load manual_seed cuda. "
    .. "Methods: ?Tensor.",
    "x = tycho.randn(2, 3)\nprint(tycho.version, x:sum())")

doc("Tensor", "tycho.Tensor (the method table of every tensor)",
    "Methods of tensors, called as x:name(...): inspection (size dim numel item tolist), views "
    .. "(reshape view transpose permute select narrow ...), math (exp sum matmul softmax ...), "
    .. "in-place forms ending in _ (add_ mul_ zero_), autograd (backward detach zero_grad). "
    .. "Properties: x.shape x.dtype x.device x.grad x.requires_grad x.grad_fn x.ndim. "
    .. "Operators + - * / ^ and unary - broadcast and accept Lua numbers on either side. "
    .. "Indexing is 1-based: x[1], x[-1], x[{1, {2, 3}}], x[{{}, 2}] = 0.",
    "x = tycho.arange(6):reshape(2, 3)\nprint(x[{2, {2, 3}}], x:t().shape[1])")

doc("nn", "nn (global; the Lua module tycho.nn)",
    "Neural-network layers as Lua objects you can read and change: Linear, LayerNorm, "
    .. "Embedding, Dropout, GELU, ReLU, Sequential, MultiheadAttention, ViT; nn.functional "
    .. "(cross_entropy, mse_loss) and nn.functional_call. m(x) calls m:forward(x).",
    "m = nn.Linear(4, 8)\ny = m(tycho.randn(2, 4))")
doc("optim", "optim (global; the Lua module tycho.optim)",
    "Optimizers over a list of parameters: SGD (momentum, nesterov), Adam, AdamW; "
    .. "clip_grad_norm and cosine_schedule.",
    "w = tycho.randn(3, {requires_grad = true})\nopt = optim.SGD({w}, {lr = 0.1})\n"
    .. "loss = (w * w):sum()\nloss:backward()\nopt:step()")
doc("data", "data (global; the Lua module tycho.data)",
    "Data sets and loaders: fashion_mnist(split), loader(set, {batch =, shuffle =}) and "
    .. "idx(path) for IDX files (.gz or not).",
    "-- for images, labels in data.loader(data.fashion_mnist('train'), {batch = 128}) do end\n"
    .. "print(type(data.loader))")
doc("viz", "viz (global; the Lua module tycho.viz)",
    "Live plots in SDL windows (PNG files with --headless): plot(name, step, value [, "
    .. "{series =}]), heatmap, image, attention, save(name, file), close(name).",
    "-- viz.plot('loss', step, loss)\nprint(type(viz.plot))")
doc("e3", "e3 (global; the Lua module tycho.e3)",
    "E(3)-equivariant building blocks with e3nn's conventions: Irreps, spherical_harmonics, "
    .. "wigner_3j, wigner_D, rand_rotation, FullyConnectedTensorProduct, Linear, Gate, "
    .. "GauntTensorProduct.",
    "irreps = e3.Irreps('16x0e + 8x1o')\nprint(irreps)")
doc("hyper", "hyper (global; the Lua module tycho.hyper)",
    "Hypernetworks that output the weights of another network: HMLP and ChunkedHMLP; use "
    .. "the weights with nn.functional_call.",
    "h = hyper.HMLP({{4, 2}, {4}}, {cond_dim = 8, layers = {16}, num_cond = 2})\n"
    .. "weights = h:forward({cond_id = 1})")

-- ---------------------------------------------------------------- creation

local OPTS = "opts: {dtype = \"f32\", device = \"cpu\", requires_grad = false}"

doc("tycho.tensor", "tycho.tensor(data [, opts])",
    "A tensor from a number or nested Lua tables (the nesting gives the shape). f32 unless "
    .. "opts.dtype says else; booleans give a bool tensor. " .. OPTS,
    "x = tycho.tensor({{1, 2}, {3, 4}})\ni = tycho.tensor({1, 2, 3}, {dtype = \"i64\"})")
doc("tycho.zeros", "tycho.zeros(size... [, opts])  or  tycho.zeros({sizes} [, opts])",
    "A tensor of zeros. " .. OPTS, "x = tycho.zeros(2, 3)\ny = tycho.zeros({4}, {dtype = \"f64\"})")
doc("tycho.ones", "tycho.ones(size... [, opts])", "A tensor of ones. " .. OPTS,
    "x = tycho.ones(2, 3)")
doc("tycho.full", "tycho.full({sizes}, value [, opts])",
    "A tensor filled with value. " .. OPTS, "x = tycho.full({2, 3}, 7)")
doc("tycho.empty", "tycho.empty(size... [, opts])",
    "A tensor whose values are not set (fast; fill it before reading). " .. OPTS,
    "x = tycho.empty(2, 3):fill_(1)")
doc("tycho.arange", "tycho.arange([start,] stop [, step] [, opts])",
    "Numbers from start (0) up to but not including stop, as PyTorch; i64 when every "
    .. "argument is an integer, else f32. See tycho.range for Torch7's inclusive form.",
    "x = tycho.arange(1, 10, 2)   -- 1 3 5 7 9\ny = tycho.arange(4)          -- 0 1 2 3")
doc("tycho.range", "tycho.range(first, last [, step] [, opts])",
    "Torch7's inclusive range: first, first+step, ..., last.",
    "x = tycho.range(1, 4)   -- 1 2 3 4")
doc("tycho.linspace", "tycho.linspace(start, stop, n [, opts])",
    "n evenly spaced numbers from start to stop, both included.",
    "x = tycho.linspace(0, 1, 5)   -- 0 0.25 0.5 0.75 1")
doc("tycho.eye", "tycho.eye(n [, m] [, opts])", "The identity matrix (n x m).",
    "I = tycho.eye(3)")
doc("tycho.rand", "tycho.rand(size... [, opts])", "Uniform random numbers in [0, 1). " .. OPTS,
    "x = tycho.rand(2, 3)")
doc("tycho.randn", "tycho.randn(size... [, opts])",
    "Standard normal random numbers (mean 0, std 1). Same seed, same numbers on CPU and GPU. "
    .. OPTS, "x = tycho.randn(2, 3)\nw = tycho.randn(3, 3, {dtype = \"f64\", requires_grad = true})")
doc("tycho.randint", "tycho.randint([low,] high, {sizes} [, opts])",
    "Random integers in [low, high) (low defaults to 0), i64.",
    "x = tycho.randint(1, 10, {4})")
doc("tycho.randperm", "tycho.randperm(n [, opts])",
    "A random permutation of 1..n (i64, 1-based: ready to index with).",
    "p = tycho.randperm(5)\nx = tycho.arange(5):index_select(1, p)")
doc("tycho.normal", "tycho.normal(mean, std, size... [, opts])",
    "Normal random numbers with the given mean and standard deviation.",
    "x = tycho.normal(10, 2, 3, 3)")
doc("tycho.bernoulli", "tycho.bernoulli(p)  or  tycho.bernoulli(prob, size... [, opts])",
    "1 with probability p[i] (a tensor of probabilities), else 0; or one probability for "
    .. "every element of a new tensor.",
    "mask = tycho.bernoulli(tycho.full({4}, 0.5))\nm2 = tycho.bernoulli(0.3, 2, 2)")
doc("tycho.manual_seed", "tycho.manual_seed(seed)",
    "Seeds the random generator (Philox): same seed, same numbers, on CPU and GPU.",
    "tycho.manual_seed(42)\na = tycho.randn(3)\ntycho.manual_seed(42)\nassert(tycho.equal(a, tycho.randn(3)))")
doc("tycho.zeros_like", "tycho.zeros_like(x [, opts])  or  x:zeros_like()",
    "Zeros with x's shape, dtype and device (unless opts say else).",
    "x = tycho.randn(2, 3)\nz = x:zeros_like()")
doc("tycho.ones_like", "tycho.ones_like(x [, opts])", "Ones shaped like x.",
    "o = tycho.ones_like(tycho.randn(2, 3))")
doc("tycho.full_like", "tycho.full_like(x, value [, opts])", "value everywhere, shaped like x.",
    "f = tycho.full_like(tycho.randn(2, 3), 7)")
doc("tycho.empty_like", "tycho.empty_like(x [, opts])", "Unset values, shaped like x.",
    "e = tycho.empty_like(tycho.randn(2, 3)):zero_()")
doc("tycho.rand_like", "tycho.rand_like(x [, opts])", "Uniform [0, 1) numbers shaped like x.",
    "r = tycho.rand_like(tycho.zeros(2, 3))")
doc("tycho.randn_like", "tycho.randn_like(x [, opts])", "Normal numbers shaped like x.",
    "r = tycho.randn_like(tycho.zeros(2, 3))")

-- ---------------------------------------------------------------- inspection

doc("Tensor.shape", "x.shape", "The sizes of x as a plain Lua table: {2, 3}.",
    "x = tycho.zeros(2, 3)\nprint(x.shape[1], x.shape[2])")
doc("Tensor.dtype", "x.dtype", "The element type: \"f32\" \"f64\" \"bf16\" \"f16\" \"i64\" \"u8\" \"bool\".",
    "print(tycho.zeros(2).dtype)")
doc("Tensor.device", "x.device", "Where x lives: \"cpu\", \"cuda\", \"cuda:1\".",
    "print(tycho.zeros(2).device)")
doc("Tensor.grad", "x.grad  (x.grad = g  or  x.grad = nil)",
    "The gradient accumulated by backward() for a tensor that requires grad, or nil.",
    "w = tycho.randn(3, {requires_grad = true})\nloss = (w * 2):sum()\nloss:backward()\nprint(w.grad)")
doc("Tensor.requires_grad", "x.requires_grad",
    "Whether autograd records operations on x (set with x:requires_grad_()).",
    "w = tycho.randn(3):requires_grad_()\nprint(w.requires_grad)")
doc("Tensor.grad_fn", "x.grad_fn",
    "The name of the operation that made x in the autograd graph, or nil for a leaf.",
    "w = tycho.randn(3, {requires_grad = true})\nprint((w * 2).grad_fn)")
doc("Tensor.ndim", "x.ndim", "The number of dims (as x:dim()).", "print(tycho.zeros(2, 3).ndim)")
doc("Tensor:size", "x:size([dim])", "The size of dim (1-based; negative counts from the end), "
    .. "or the whole shape as a table.", "x = tycho.zeros(2, 3)\nprint(x:size(2), x:size(-1))")
doc("Tensor:stride", "x:stride([dim])", "Element strides of x (of one dim, or all as a table).",
    "print(tycho.zeros(2, 3):stride(1))")
doc("Tensor:dim", "x:dim()", "The number of dims.", "print(tycho.zeros(2, 3):dim())")
doc("Tensor:numel", "x:numel()", "The number of elements.", "print(tycho.zeros(2, 3):numel())")
doc("Tensor:nelement", "x:nelement()", "The number of elements (Torch7's name of numel).",
    "print(tycho.zeros(2, 3):nelement())")
doc("Tensor:element_size", "x:element_size()", "Bytes per element (4 for f32).",
    "print(tycho.zeros(2):element_size())")
doc("Tensor:is_contiguous", "x:is_contiguous()", "Whether x's elements are dense in row-major order.",
    "print(tycho.zeros(2, 3):t():is_contiguous())")
doc("Tensor:is_leaf", "x:is_leaf()", "Whether x was made by the user rather than by an op that "
    .. "autograd recorded.", "w = tycho.randn(2, {requires_grad = true})\nprint(w:is_leaf(), (w * 2):is_leaf())")
doc("tycho.is_tensor", "tycho.is_tensor(v)", "Whether v is a tensor.",
    "print(tycho.is_tensor(tycho.zeros(1)), tycho.is_tensor({}))")
doc("Tensor:item", "x:item()", "The one element of x as a Lua number (integer for integer dtypes, "
    .. "boolean for bool).", "print(tycho.tensor({{5}}):item())")
doc("Tensor:tolist", "x:tolist()", "x as nested Lua tables (a number for a 0-d tensor).",
    "t = tycho.tensor({{1, 2}, {3, 4}}):tolist()\nprint(t[2][1])")
doc("Tensor:equal", "tycho.equal(a, b)  or  a:equal(b)",
    "true when a and b have the same shape and every element is equal.",
    "print(tycho.equal(tycho.ones(2), tycho.ones(2)))")
doc("Tensor:allclose", "tycho.allclose(a, b [, rtol = 1e-5, atol = 1e-8])",
    "true when |a - b| <= atol + rtol |b| everywhere (shapes broadcast).",
    "print(tycho.allclose(tycho.ones(2), tycho.ones(2) + 1e-7))")

-- ---------------------------------------------------------------- conversion

doc("Tensor:to", "x:to(dtype_or_device)  or  x:to({dtype =, device =})  or  x:to(other)",
    "A copy with another dtype and/or device (x itself when nothing changes).",
    "d = tycho.randn(2):to(\"f64\")\ni = tycho.tensor({1.7, 2.2}):to({dtype = \"i64\"})")
doc("Tensor:cuda", "x:cuda([device])", "x on the GPU (an error without CUDA).",
    "if tycho.cuda.is_available() then y = tycho.randn(2):cuda() end")
doc("Tensor:cpu", "x:cpu()", "x in main memory.", "y = tycho.randn(2):cpu()")
doc("Tensor:float", "x:float()", "x as f32.", "print(tycho.arange(3):float().dtype)")
doc("Tensor:double", "x:double()", "x as f64.", "print(tycho.zeros(2):double().dtype)")
doc("Tensor:half", "x:half()", "x as f16 (stored in 16 bits, computed in f32).",
    "print(tycho.zeros(2):half().dtype)")
doc("Tensor:bfloat16", "x:bfloat16()", "x as bf16.", "print(tycho.zeros(2):bfloat16().dtype)")
doc("Tensor:long", "x:long()", "x as i64 (rounded toward zero).",
    "print(tycho.tensor({1.9}):long():item())")
doc("Tensor:byte", "x:byte()", "x as u8.", "print(tycho.tensor({200}):byte().dtype)")
doc("Tensor:bool", "x:bool()", "x as bool (nonzero is true).",
    "print(tycho.tensor({0, 2}):bool():tolist()[2])")
doc("tycho.cuda", "tycho.cuda", "GPU helpers: is_available(), device_count(), synchronize().",
    "print(tycho.cuda.is_available())")
doc("tycho.cuda.is_available", "tycho.cuda.is_available()",
    "true when tycho was built with CUDA and a GPU is present.", "print(tycho.cuda.is_available())")
doc("tycho.cuda.device_count", "tycho.cuda.device_count()", "The number of GPUs (0 without CUDA).",
    "print(tycho.cuda.device_count())")
doc("tycho.cuda.synchronize", "tycho.cuda.synchronize()",
    "Waits until the GPU has finished its queued work (for timing).",
    "tycho.cuda.synchronize()")

-- ---------------------------------------------------------------- views

doc("Tensor:select", "x:select(dim, i)", "The slice at index i of dim, without that dim (a view).",
    "x = tycho.arange(6):reshape(2, 3)\nrow = x:select(1, 2)   -- {3, 4, 5}")
doc("Tensor:narrow", "x:narrow(dim, start, length)",
    "length entries of dim from start (1-based), as a view.",
    "x = tycho.arange(10)\ny = x:narrow(1, 3, 4)   -- 2 3 4 5")
doc("Tensor:reshape", "x:reshape(size...)  or  x:reshape({sizes})",
    "x with another shape (a view when possible, else a copy); one size may be -1.",
    "y = tycho.arange(6):reshape(3, -1)")
doc("Tensor:view", "x:view(size...)", "x with another shape, always a view (x must be laid out "
    .. "compatibly, e.g. contiguous); one size may be -1.", "y = tycho.arange(6):view(-1, 2)")
doc("Tensor:reshape_as", "x:reshape_as(other)", "x reshaped to other's shape.",
    "y = tycho.arange(6):reshape_as(tycho.zeros(2, 3))")
doc("Tensor:view_as", "x:view_as(other)", "x viewed with other's shape.",
    "y = tycho.arange(6):view_as(tycho.zeros(3, 2))")
doc("Tensor:expand", "x:expand(size...)", "x broadcast to a larger shape without copying "
    .. "(sizes of 1 grow; -1 keeps a size).", "y = tycho.ones(1, 3):expand(4, 3)")
doc("Tensor:expand_as", "x:expand_as(other)", "x expanded to other's shape.",
    "y = tycho.ones(1, 3):expand_as(tycho.zeros(2, 3))")
doc("Tensor:transpose", "x:transpose(dim1, dim2)", "x with two dims swapped (a view).",
    "y = tycho.zeros(2, 3, 4):transpose(1, 3)   -- shape {4, 3, 2}")
doc("Tensor:t", "x:t()", "The transpose of a matrix (a view).", "y = tycho.zeros(2, 3):t()")
doc("Tensor:permute", "x:permute(dims...)", "x with its dims reordered (a view).",
    "y = tycho.zeros(2, 3, 4):permute(3, 1, 2)   -- shape {4, 2, 3}")
doc("Tensor:unsqueeze", "x:unsqueeze(dim)", "x with a new dim of size 1 at dim.",
    "y = tycho.zeros(3):unsqueeze(1)   -- shape {1, 3}")
doc("Tensor:squeeze", "x:squeeze([dim])", "x without its dims of size 1 (or only dim).",
    "y = tycho.zeros(1, 3, 1):squeeze()   -- shape {3}")
doc("Tensor:flatten", "x:flatten([start_dim = 1, end_dim = -1])", "The dims from start_dim to "
    .. "end_dim merged into one.", "y = tycho.zeros(2, 3, 4):flatten(2)   -- shape {2, 12}")
doc("Tensor:unfold", "x:unfold(dim, size, step)",
    "Every window of `size` entries along dim, `step` apart, as a new last dim (a view).",
    "w = tycho.arange(6):unfold(1, 2, 2)   -- {{0, 1}, {2, 3}, {4, 5}}")
doc("Tensor:diagonal", "x:diagonal([offset = 0, dim1 = 1, dim2 = 2])", "The diagonal (a view).",
    "d = tycho.eye(3):diagonal()")
doc("Tensor:contiguous", "x:contiguous()", "x itself if its memory is dense, else a dense copy.",
    "y = tycho.zeros(2, 3):t():contiguous()")
doc("Tensor:clone", "x:clone()", "A copy of x with its own memory.",
    "x = tycho.zeros(2)\ny = x:clone()\ny:fill_(1)   -- x is still zeros")
doc("Tensor:__index", "x[i]  x[-1]  x[{i, {a, b}}]  x[{{}, j}]  x[mask]  x[idx]  (and x[key] = v)",
    "Indexing is 1-based with inclusive ranges; negative indices count from the end. A number "
    .. "selects (drops the dim), {a, b} or {a, b, step} slices, {} keeps a dim whole; a bool "
    .. "mask or an i64 index tensor gathers. Assigning writes a number or a broadcast tensor.",
    "x = tycho.arange(12):reshape(3, 4)\nr = x[2]\nc = x[{{}, 2}]\nx[{1, {2, 3}}] = 0")
entries.indexing = entries["Tensor:__index"] -- ?indexing

-- ---------------------------------------------------------------- elementwise math

local unary = {
  abs = "|x|", neg = "-x", sign = "-1, 0 or 1", exp = "e^x", log = "the natural logarithm",
  log1p = "log(1 + x), exact for small x", expm1 = "e^x - 1, exact for small x",
  sqrt = "the square root", rsqrt = "1 / sqrt(x)", sin = "sine", cos = "cosine",
  tanh = "hyperbolic tangent", sigmoid = "1 / (1 + e^-x)", relu = "max(x, 0)",
  gelu = "GELU (the exact, erf form)", gelu_tanh = "GELU (the tanh approximation)",
  silu = "x * sigmoid(x)", floor = "rounded down", ceil = "rounded up",
  round = "rounded to nearest (halves to even)", reciprocal = "1 / x",
}
for name, what in pairs(unary) do
  doc("Tensor:" .. name, "x:" .. name .. "()  or  tycho." .. name .. "(x);  in place: x:" .. name .. "_()",
      "Elementwise " .. what .. ".",
      "x = tycho.linspace(0.5, 2, 4)\ny = x:" .. name .. "()\nx:" .. name .. "_()")
end

local binary = {
  add = {"a + b", "+"}, sub = {"a - b", "-"}, mul = {"a * b (elementwise)", "*"},
  div = {"a / b", "/"}, pow = {"a ^ b", "^"},
}
for name, w in pairs(binary) do
  doc("Tensor:" .. name, "a:" .. name .. "(b)  or  tycho." .. name .. "(a, b)  or  a " .. w[2]
      .. " b;  in place: a:" .. name .. "_(b)",
      "Elementwise " .. w[1] .. "; shapes broadcast and either side may be a Lua number.",
      "a, b = tycho.ones(2, 3), tycho.arange(1, 4)\nc = a:" .. name .. "(b)\nd = a " .. w[2]
      .. " 2\na:" .. name .. "_(b)")
end
doc("Tensor:maximum", "tycho.maximum(a, b)", "The elementwise larger of a and b (broadcast).",
    "m = tycho.maximum(tycho.randn(3), tycho.zeros(3))")
doc("Tensor:minimum", "tycho.minimum(a, b)", "The elementwise smaller of a and b (broadcast).",
    "m = tycho.minimum(tycho.randn(3), tycho.zeros(3))")
doc("Tensor:clamp", "x:clamp(min, max);  in place: x:clamp_(min, max)",
    "Values limited to [min, max]; either bound may be nil.",
    "y = tycho.randn(5):clamp(0, 1)\nz = tycho.randn(5):clamp(nil, 0)")
doc("Tensor:clamp_min", "x:clamp_min(min);  in place: x:clamp_min_(min)", "max(x, min) elementwise.",
    "y = tycho.randn(5):clamp_min(0)")
doc("Tensor:clamp_max", "x:clamp_max(max);  in place: x:clamp_max_(max)", "min(x, max) elementwise.",
    "y = tycho.randn(5):clamp_max(0)")
doc("Tensor:softplus", "x:softplus([beta = 1, threshold = 20])",
    "log(1 + e^(beta x)) / beta, linear above threshold.", "y = tycho.randn(3):softplus()")
doc("Tensor:axpb", "x:axpb(a, b)", "a * x + b in one pass.", "y = tycho.ones(3):axpb(2, 1)   -- 3 3 3")
doc("Tensor:lerp", "a:lerp(b, weight);  in place: a:lerp_(b, weight)",
    "a + weight * (b - a).", "c = tycho.zeros(3):lerp(tycho.ones(3), 0.25)")
doc("Tensor:addcmul_", "x:addcmul_(a, b [, value = 1])", "x += value * a * b, in place.",
    "x = tycho.zeros(3)\nx:addcmul_(tycho.ones(3), tycho.full({3}, 2), 0.5)")
doc("Tensor:addcdiv_", "x:addcdiv_(a, b [, value = 1])", "x += value * a / b, in place.",
    "x = tycho.zeros(3)\nx:addcdiv_(tycho.ones(3), tycho.full({3}, 2), 0.5)")
doc("Tensor:fill_", "x:fill_(value)", "Sets every element to value; returns x.",
    "x = tycho.empty(2, 2):fill_(3)")
doc("Tensor:zero_", "x:zero_()", "Sets every element to 0; returns x.", "x = tycho.ones(3):zero_()")
doc("Tensor:copy_", "x:copy_(src)", "Copies src (broadcast, converted) into x; returns x.",
    "x = tycho.zeros(2, 3)\nx:copy_(tycho.arange(3))")
doc("Tensor:where", "tycho.where(cond, a, b)  or  a:where(cond, b)",
    "a where cond is true, else b (broadcast; a or b may be numbers).",
    "x = tycho.randn(4)\ny = tycho.where(x:gt(0), x, 0)")
for name, what in pairs({eq = "==", ne = "~=", lt = "<", le = "<=", gt = ">", ge = ">="}) do
  doc("Tensor:" .. name, "a:" .. name .. "(b)  or  tycho." .. name .. "(a, b)",
      "Elementwise a " .. what .. " b as a bool tensor (b may be a number).",
      "m = tycho.arange(5):" .. name .. "(2)")
end
for name, what in pairs({logical_and = "and", logical_or = "or", logical_xor = "xor"}) do
  doc("Tensor:" .. name, "a:" .. name .. "(b)", "Elementwise logical " .. what .. " (bool result).",
      "m = tycho.arange(5):gt(1):" .. name .. "(tycho.arange(5):lt(4))")
end
doc("Tensor:logical_not", "x:logical_not()", "Elementwise not (bool result).",
    "m = tycho.arange(3):eq(1):logical_not()")

-- ---------------------------------------------------------------- reductions

local DIMS = "dims: one dim or a table of dims (1-based, negative from the end); none reduces "
  .. "everything; keepdim keeps reduced dims as size 1."
doc("Tensor:sum", "x:sum([dims] [, keepdim])", "The sum. " .. DIMS,
    "x = tycho.ones(2, 3)\nprint(x:sum():item(), x:sum(2), x:sum(2, true).shape[2])")
doc("Tensor:mean", "x:mean([dims] [, keepdim])", "The mean (floating dtypes). " .. DIMS,
    "m = tycho.randn(4, 5):mean(1)")
doc("Tensor:prod", "x:prod([dims] [, keepdim])", "The product. " .. DIMS,
    "print(tycho.arange(1, 5):prod():item())   -- 24")
doc("Tensor:var", "x:var([dims] [, keepdim] [, correction = 1])",
    "The variance (unbiased by default, as PyTorch). " .. DIMS, "v = tycho.randn(100):var()")
doc("Tensor:std", "x:std([dims] [, keepdim] [, correction = 1])", "The standard deviation. " .. DIMS,
    "s = tycho.randn(100):std()")
doc("Tensor:norm", "x:norm([p = 2] [, dims] [, keepdim])",
    "The p-norm (p may be math.huge). " .. DIMS, "n = tycho.tensor({3, 4}):norm()   -- 5")
doc("Tensor:max", "x:max()  or  x:max(dim [, keepdim]) -> values, indices  or  x:max(y)",
    "The largest element; along a dim, the largest values and their 1-based indices; with a "
    .. "tensor argument, the elementwise maximum.",
    "x = tycho.tensor({{1, 5}, {7, 2}})\nv, i = x:max(2)   -- v {5, 7}, i {2, 1}")
doc("Tensor:min", "x:min()  or  x:min(dim [, keepdim]) -> values, indices  or  x:min(y)",
    "The smallest element; along a dim, values and 1-based indices.",
    "v, i = tycho.tensor({{1, 5}, {7, 2}}):min(2)")
doc("Tensor:amax", "x:amax([dims] [, keepdim])", "The largest values (no indices). " .. DIMS,
    "m = tycho.randn(3, 4):amax(2)")
doc("Tensor:amin", "x:amin([dims] [, keepdim])", "The smallest values (no indices). " .. DIMS,
    "m = tycho.randn(3, 4):amin(2)")
doc("Tensor:argmax", "x:argmax([dim] [, keepdim])", "1-based indices of the largest values.",
    "i = tycho.tensor({{1, 5}, {7, 2}}):argmax(2)   -- {2, 1}")
doc("Tensor:argmin", "x:argmin([dim] [, keepdim])", "1-based indices of the smallest values.",
    "i = tycho.tensor({{1, 5}, {7, 2}}):argmin(2)")
doc("Tensor:all", "x:all([dims] [, keepdim])", "Whether every element is nonzero (bool tensor).",
    "print(tycho.ones(3):all():item())")
doc("Tensor:any", "x:any([dims] [, keepdim])", "Whether some element is nonzero (bool tensor).",
    "print(tycho.zeros(3):any():item())")
doc("Tensor:logsumexp", "x:logsumexp(dims [, keepdim])", "log(sum(exp(x))) computed stably.",
    "l = tycho.randn(2, 5):logsumexp(2)")
doc("Tensor:cumsum", "x:cumsum(dim)", "Running sums along dim.",
    "c = tycho.arange(1, 5):cumsum(1)   -- 1 3 6 10")
doc("Tensor:cumprod", "x:cumprod(dim)", "Running products along dim.",
    "c = tycho.arange(1, 5):cumprod(1)   -- 1 2 6 24")
doc("Tensor:sort", "x:sort([dim = -1] [, descending = false]) -> values, indices",
    "Sorted values and their 1-based indices.", "v, i = tycho.tensor({3, 1, 2}):sort()")
doc("Tensor:argsort", "x:argsort([dim = -1] [, descending = false])",
    "The 1-based indices that sort x.", "i = tycho.tensor({3, 1, 2}):argsort()   -- 2 3 1")
doc("Tensor:topk", "x:topk(k [, dim = -1] [, largest = true]) -> values, indices",
    "The k largest (or smallest) values and their 1-based indices.",
    "v, i = tycho.tensor({3, 1, 4, 1, 5}):topk(2)")

-- ---------------------------------------------------------------- linear algebra

doc("Tensor:matmul", "a:matmul(b)  or  tycho.matmul(a, b)",
    "Matrix product with NumPy's rules: vectors, matrices, and batches (broadcast).",
    "a, b = tycho.randn(2, 3), tycho.randn(3, 4)\nc = a:matmul(b)   -- shape {2, 4}")
doc("Tensor:mm", "a:mm(b)", "Product of two matrices.", "c = tycho.randn(2, 3):mm(tycho.randn(3, 2))")
doc("Tensor:bmm", "a:bmm(b)", "Batched product: (B, n, k) x (B, k, m).",
    "c = tycho.randn(5, 2, 3):bmm(tycho.randn(5, 3, 4))")
doc("Tensor:mv", "a:mv(v)", "Matrix times vector.", "y = tycho.randn(2, 3):mv(tycho.randn(3))")
doc("Tensor:dot", "a:dot(b)", "Dot product of two vectors (0-d tensor).",
    "print(tycho.ones(3):dot(tycho.ones(3)):item())   -- 3")
doc("Tensor:outer", "a:outer(b)", "Outer product of two vectors.",
    "m = tycho.linspace(1, 3, 3):outer(tycho.ones(2))")
doc("Tensor:linear", "tycho.linear(x, w [, b])", "x @ w^T + b with w of shape (out, in), as "
    .. "PyTorch's F.linear.", "y = tycho.linear(tycho.randn(4, 3), tycho.randn(5, 3), tycho.zeros(5))")
doc("tycho.einsum", "tycho.einsum(spec, a, b, ...)  or  tycho.einsum(spec, {a, b, ...})",
    "Einstein summation, as NumPy.",
    "c = tycho.einsum(\"ij,jk->ik\", tycho.randn(2, 3), tycho.randn(3, 4))")

-- ---------------------------------------------------------------- joining, indexing ops

doc("tycho.cat", "tycho.cat({a, b, ...} [, dim = 1])", "Joins tensors along an existing dim.",
    "c = tycho.cat({tycho.zeros(2, 3), tycho.ones(1, 3)}, 1)   -- shape {3, 3}")
doc("tycho.stack", "tycho.stack({a, b, ...} [, dim = 1])", "Joins tensors along a new dim.",
    "s = tycho.stack({tycho.zeros(3), tycho.ones(3)})   -- shape {2, 3}")
doc("Tensor:split", "x:split(size [, dim = 1])  or  x:split({sizes} [, dim])",
    "A table of views of `size` entries each (the last may be smaller).",
    "parts = tycho.arange(5):split(2)   -- {0 1}, {2 3}, {4}")
doc("Tensor:chunk", "x:chunk(n [, dim = 1])", "A table of n nearly equal views.",
    "parts = tycho.arange(6):chunk(3)")
doc("Tensor:repeat", "x[\"repeat\"](x, times...)  or  tycho[\"repeat\"](x, {times})",
    "x tiled: each dim repeated that many times (a copy). `repeat` is a Lua keyword, so "
    .. "x:repeat(3) does not parse: call it by its string key, or use x:tile(3).",
    "x = tycho.tensor({1, 2})\ny = x[\"repeat\"](x, 3)   -- 1 2 1 2 1 2")
doc("Tensor:tile", "x:tile(times...)", "The same as x:repeat.", "y = tycho.eye(2):tile(2, 2)")
doc("Tensor:flip", "x:flip(dims)", "x reversed along one dim or a table of dims.",
    "y = tycho.arange(4):flip(1)   -- 3 2 1 0")
doc("Tensor:roll", "x:roll(shift [, dim])", "Elements shifted cyclically (flattened without dim).",
    "y = tycho.arange(4):roll(1)   -- 3 0 1 2")
doc("Tensor:pad", "x:pad({left, right [, top, bottom, ...]} [, value = 0])",
    "Padding, the last dim first (as PyTorch's F.pad).", "y = tycho.ones(2, 2):pad({1, 1})   -- shape {2, 4}")
doc("Tensor:gather", "x:gather(dim, idx)", "out[i][j] = x[i][idx[i][j]] along dim (idx i64, 1-based).",
    "x = tycho.tensor({{1, 2}, {3, 4}})\ny = x:gather(2, tycho.tensor({{2}, {1}}, {dtype = \"i64\"}))   -- {{2}, {3}}")
doc("Tensor:index_select", "x:index_select(dim, idx)", "The entries of dim listed in idx (i64, 1-based).",
    "y = tycho.arange(5):index_select(1, tycho.tensor({5, 1}, {dtype = \"i64\"}))   -- 4 0")
doc("Tensor:scatter", "x:scatter(dim, idx, src);  in place: x:scatter_(dim, idx, src)",
    "A copy of x with src's values written at idx along dim (src a tensor or a number).",
    "y = tycho.zeros(3):scatter(1, tycho.tensor({3}, {dtype = \"i64\"}), 7)   -- 0 0 7")
doc("Tensor:scatter_add", "x:scatter_add(dim, idx, src);  in place: x:scatter_add_(...)",
    "A copy of x with src added at idx along dim (repeated indices add up).",
    "y = tycho.zeros(3):scatter_add(1, tycho.tensor({1, 1, 3}, {dtype = \"i64\"}), tycho.ones(3))   -- 2 0 1")
doc("Tensor:index_add", "x:index_add(dim, idx, src);  in place: x:index_add_(...)",
    "A copy of x with the slices of src added at the entries idx of dim.",
    "y = tycho.zeros(3, 2):index_add(1, tycho.tensor({1, 3}, {dtype = \"i64\"}), tycho.ones(2, 2))")
doc("Tensor:masked_fill", "x:masked_fill(mask, value);  in place: x:masked_fill_(mask, value)",
    "value where mask is true.", "x = tycho.randn(4)\ny = x:masked_fill(x:lt(0), 0)")
doc("Tensor:masked_select", "x:masked_select(mask)", "The elements where mask is true, as 1-D.",
    "x = tycho.randn(4)\npos = x:masked_select(x:gt(0))")
doc("Tensor:nonzero", "x:nonzero()", "(N, ndim) i64 1-based coordinates of the nonzero elements.",
    "c = tycho.tensor({0, 3, 0, 5}):nonzero()   -- {{2}, {4}}")
doc("Tensor:one_hot", "labels:one_hot(num_classes)", "Labels 1..C as one-hot rows (i64).",
    "y = tycho.tensor({1, 3}, {dtype = \"i64\"}):one_hot(3)")

-- ---------------------------------------------------------------- nn kernels

doc("Tensor:softmax", "x:softmax(dim)", "exp(x) / sum(exp(x)) along dim, computed stably.",
    "p = tycho.randn(2, 5):softmax(-1)")
doc("Tensor:log_softmax", "x:log_softmax(dim)", "log(softmax(x)) along dim, computed stably.",
    "l = tycho.randn(2, 5):log_softmax(-1)")
doc("Tensor:layer_norm", "tycho.layer_norm(x, normalized_shape [, weight, bias, eps = 1e-5])",
    "Layer normalization over the last dims (normalized_shape: a size or a table of sizes).",
    "y = tycho.layer_norm(tycho.randn(4, 8), 8)")
doc("Tensor:cross_entropy", "tycho.cross_entropy(logits, labels [, {reduction =, ignore_index =, "
    .. "label_smoothing =}])", "Softmax cross-entropy; labels are i64 class numbers 1..C.",
    "loss = tycho.cross_entropy(tycho.randn(4, 3), tycho.tensor({1, 2, 3, 1}, {dtype = \"i64\"}))")
doc("Tensor:nll_loss", "tycho.nll_loss(log_probs, labels [, opts])",
    "Negative log-likelihood of log-probabilities; labels 1..C.",
    "loss = tycho.nll_loss(tycho.randn(4, 3):log_softmax(2), tycho.tensor({1, 2, 3, 1}, {dtype = \"i64\"}))")
doc("tycho.attention", "tycho.attention(q, k, v [, {mask =, causal =, scale =, return_weights =}]) "
    .. "-> out [, weights]", "Scaled dot-product attention over the last two dims.",
    "q = tycho.randn(1, 2, 4, 8)\nout = tycho.attention(q, q, q, {causal = true})")
doc("Tensor:dropout", "tycho.dropout(x [, p = 0.5, train = true])",
    "Zeroes elements with probability p and scales the rest by 1 / (1 - p) when training.",
    "y = tycho.dropout(tycho.ones(8), 0.25)")

-- ---------------------------------------------------------------- autograd

doc("Tensor:backward", "loss:backward([grad] [, {retain_graph =, create_graph =}])",
    "Computes the gradients of loss with respect to every tensor that requires grad and adds "
    .. "them to their .grad.",
    "w = tycho.randn(3, {requires_grad = true})\nloss = (w * 2):sum()\nloss:backward()\nprint(w.grad)")
doc("Tensor:zero_grad", "x:zero_grad()", "Drops x.grad (sets it to nil).",
    "w = tycho.randn(3, {requires_grad = true})\nloss = (w * 2):sum()\nloss:backward()\nw:zero_grad()")
doc("Tensor:detach", "x:detach()", "x's values without autograd history (shares memory).",
    "w = tycho.randn(3, {requires_grad = true})\nd = (w * 2):detach()")
doc("Tensor:requires_grad_", "x:requires_grad_([on = true])",
    "Makes autograd record operations on x (a leaf); returns x.",
    "w = tycho.randn(3):requires_grad_()")
doc("tycho.no_grad", "tycho.no_grad(fn, ...)",
    "Calls fn with autograd off (nothing is recorded), and returns its results.",
    "w = tycho.randn(3, {requires_grad = true})\ny = tycho.no_grad(function() return w * 2 end)")
doc("tycho.enable_grad", "tycho.enable_grad(fn, ...)", "Calls fn with autograd on (inside no_grad).",
    "y = tycho.no_grad(function() return tycho.enable_grad(function() return 1 end) end)")
doc("tycho.set_grad_enabled", "tycho.set_grad_enabled(on)", "Turns autograd recording on or off.",
    "tycho.set_grad_enabled(false)\ntycho.set_grad_enabled(true)")
doc("tycho.is_grad_enabled", "tycho.is_grad_enabled()", "Whether autograd records operations now.",
    "print(tycho.is_grad_enabled())")
doc("tycho.grad", "tycho.grad({outputs}, {inputs} [, {grad_outputs =, retain_graph =, "
    .. "create_graph =, allow_unused =}])",
    "The gradients of outputs with respect to inputs, as a table (nothing is added to .grad). "
    .. "create_graph = true makes them differentiable again (higher order).",
    "x = tycho.randn(3, {requires_grad = true})\ng = tycho.grad({(x ^ 3):sum()}, {x}, {create_graph = true})\n"
    .. "gg = tycho.grad({g[1]:sum()}, {x})")
doc("tycho.gradcheck", "tycho.gradcheck(fn, {inputs} [, {eps =, atol =, rtol =}])",
    "Compares autograd's gradients with finite differences; true, or false and a message. "
    .. "Inputs that require grad must be f64.",
    "x = tycho.randn(3, {dtype = \"f64\", requires_grad = true})\n"
    .. "print(tycho.gradcheck(function(a) return (a * a):sum() end, {x}))")
doc("tycho.gradgradcheck", "tycho.gradgradcheck(fn, {inputs} [, opts])",
    "gradcheck of the second derivatives.",
    "x = tycho.randn(3, {dtype = \"f64\", requires_grad = true})\n"
    .. "print(tycho.gradgradcheck(function(a) return (a * a * a):sum() end, {x}))")

-- ---------------------------------------------------------------- io and settings

doc("tycho.save", "tycho.save(path, value)",
    "Writes a checkpoint; the extension picks the format: .safetensors (a table name -> "
    .. "tensor, e.g. m:state_dict()) or .npy (one tensor). Atomic: a crash keeps the old file.",
    "path = os.tmpname() .. \".safetensors\"\ntycho.save(path, {w = tycho.randn(2, 2)})\nos.remove(path)")
doc("tycho.load", "tycho.load(path)",
    "Reads a .safetensors file (a table of tensors, and its metadata), a .npy file or an IDX "
    .. "file. Never runs code.",
    "path = os.tmpname() .. \".npy\"\ntycho.save(path, tycho.arange(3))\nx = tycho.load(path)\nos.remove(path)")
doc("tycho.set_printoptions", "tycho.set_printoptions({threshold =, edgeitems =, precision =, "
    .. "linewidth =, sci_mode =})  or  tycho.set_printoptions(\"default\")",
    "How tensors print: summarized above threshold elements, edgeitems shown at each end.",
    "tycho.set_printoptions({precision = 2})\ntycho.set_printoptions(\"default\")")
doc("tycho.get_printoptions", "tycho.get_printoptions()", "The current print options as a table.",
    "print(tycho.get_printoptions().precision)")
doc("tycho.set_num_threads", "tycho.set_num_threads(n)", "CPU threads used by large kernels.",
    "tycho.set_num_threads(tycho.get_num_threads())")
doc("tycho.get_num_threads", "tycho.get_num_threads()", "CPU threads used by large kernels.",
    "print(tycho.get_num_threads())")
doc("tycho.live_tensors", "tycho.live_tensors()",
    "How many C tensors are alive (after collectgarbage(), to find leaks).",
    "collectgarbage()\nprint(tycho.live_tensors())")
doc("tycho.time", "tycho.time() -> seconds",
    "A monotonic wall clock in seconds, for timing code (os.clock adds up the CPU time of "
    .. "every thread).",
    "local t = tycho.time()\nlocal x = tycho.randn(100, 100):matmul(tycho.randn(100, 100))\n"
    .. "print(tycho.time() - t)")
doc("tycho.empty_cache", "tycho.empty_cache()", "Gives cached large CPU blocks back to the system.",
    "tycho.empty_cache()")
doc("tycho.version", "tycho.version", "The version string.", "print(tycho.version)")

-- ---------------------------------------------------------------- modules (API.md)

local function mod(key, sig, text, example) doc(key, sig, text, example) end
mod("nn.Linear", "nn.Linear(in, out [, {bias = true}])", "y = x W^T + b.",
    "m = nn.Linear(4, 8)\ny = m(tycho.randn(2, 4))")
mod("nn.LayerNorm", "nn.LayerNorm(dim)", "Layer normalization with learned scale and shift.",
    "y = nn.LayerNorm(8)(tycho.randn(2, 8))")
mod("nn.Embedding", "nn.Embedding(num, dim)", "A lookup table of num vectors (indices 1..num, i64).",
    "e = nn.Embedding(100, 8)\ny = e(tycho.tensor({1, 5}, {dtype = \"i64\"}))")
mod("nn.Dropout", "nn.Dropout(p)", "Dropout in training mode, identity after m:eval().",
    "y = nn.Dropout(0.1)(tycho.randn(4))")
mod("nn.GELU", "nn.GELU()", "The GELU activation as a module.", "y = nn.GELU()(tycho.randn(4))")
mod("nn.ReLU", "nn.ReLU()", "The ReLU activation as a module.", "y = nn.ReLU()(tycho.randn(4))")
mod("nn.Sequential", "nn.Sequential(m1, m2, ...)", "Modules applied one after the other.",
    "m = nn.Sequential(nn.Linear(4, 8), nn.GELU(), nn.Linear(8, 1))\ny = m(tycho.randn(2, 4))")
mod("nn.MultiheadAttention", "nn.MultiheadAttention(dim, heads)", "Multi-head self-attention.",
    "m = nn.MultiheadAttention(16, 4)")
mod("nn.ViT", "nn.ViT({image =, patch =, channels =, dim =, depth =, heads =, mlp =, classes =})",
    "A vision transformer; vit:forward(x, {return_attention = true}) also returns the attention "
    .. "maps.", "vit = nn.ViT({image = 8, patch = 4, channels = 1, dim = 16, depth = 1, heads = 2, "
    .. "mlp = 32, classes = 10})")
mod("nn.functional", "nn.functional", "Loss functions: cross_entropy(logits, labels), mse_loss(a, b).",
    "l = nn.functional.mse_loss(tycho.zeros(3), tycho.ones(3))")
mod("nn.functional_call", "nn.functional_call(m, params, x)",
    "Runs m with parameters given from outside (hypernetworks).",
    "m = nn.Linear(2, 1)\ny = nn.functional_call(m, m:state_dict(), tycho.randn(3, 2))")
mod("optim.SGD", "optim.SGD(params, {lr =, momentum =, nesterov =, weight_decay =})",
    "Stochastic gradient descent.", "w = tycho.randn(3, {requires_grad = true})\nopt = optim.SGD({w}, {lr = 0.1})")
mod("optim.Adam", "optim.Adam(params, {lr =, betas =, eps =})", "The Adam optimizer.",
    "w = tycho.randn(3, {requires_grad = true})\nopt = optim.Adam({w}, {lr = 1e-3})")
mod("optim.AdamW", "optim.AdamW(params, {lr =, weight_decay =})", "Adam with decoupled weight decay.",
    "w = tycho.randn(3, {requires_grad = true})\nopt = optim.AdamW({w}, {lr = 1e-3, weight_decay = 0.05})")
mod("optim.clip_grad_norm", "optim.clip_grad_norm(params, max_norm)",
    "Scales the gradients so that their total norm is at most max_norm.",
    "w = tycho.randn(3, {requires_grad = true})\nloss = (w * 10):sum()\nloss:backward()\noptim.clip_grad_norm({w}, 1.0)")
mod("optim.cosine_schedule", "optim.cosine_schedule(opt, {warmup =, total =})",
    "Linear warm-up then cosine decay of the learning rate.",
    "w = tycho.randn(3, {requires_grad = true})\nopt = optim.AdamW({w}, {lr = 1e-3})\n"
    .. "sched = optim.cosine_schedule(opt, {warmup = 100, total = 5000})")
mod("data.fashion_mnist", "data.fashion_mnist(\"train\" | \"test\")",
    "Fashion-MNIST: images (N,1,28,28) f32 in [0,1], labels i64 1..10.",
    "-- train = data.fashion_mnist(\"train\")\nprint(type(data.fashion_mnist))")
mod("data.loader", "data.loader(set, {batch =, shuffle =})", "Iterates over (images, labels) batches.",
    "-- for images, labels in data.loader(train, {batch = 128, shuffle = true}) do ... end\n"
    .. "print(type(data.loader))")
mod("data.idx", "data.idx(path)", "Reads an IDX file (.gz or not) as a tensor.",
    "print(type(data.idx))")
mod("viz.plot", "viz.plot(name, step, value [, {series =}])", "Appends a point to a live line chart.",
    "-- viz.plot(\"loss\", step, loss:item())\nprint(type(viz.plot))")
mod("viz.heatmap", "viz.heatmap(name, t2d)", "Shows a matrix as a heat map.",
    "-- viz.heatmap(\"attention\", attn[1][1])\nprint(type(viz.heatmap))")
mod("viz.image", "viz.image(name, img)", "Shows an image (C,H,W or H,W).",
    "-- viz.image(\"input\", images[1])\nprint(type(viz.image))")
mod("viz.attention", "viz.attention(vit, image)", "Attention maps of a ViT over its input image.",
    "print(type(viz.attention))")
mod("viz.save", "viz.save(name, file.png)", "Saves a window as PNG.", "print(type(viz.save))")
mod("viz.close", "viz.close(name)", "Closes a window.", "print(type(viz.close))")
mod("e3.Irreps", "e3.Irreps(\"16x0e + 8x1o\")", "Irreducible representations of O(3) (e3nn's notation).",
    "irreps = e3.Irreps(\"16x0e + 8x1o + 4x2e\")")
mod("e3.spherical_harmonics", "e3.spherical_harmonics(lmax, vectors [, {normalize =, normalization =}])",
    "Real spherical harmonics up to lmax of (N, 3) vectors.",
    "y = e3.spherical_harmonics(2, tycho.randn(5, 3), {normalize = true, normalization = \"component\"})")
mod("e3.wigner_3j", "e3.wigner_3j(l1, l2, l3)", "The Wigner 3j symbol as a tensor.",
    "w = e3.wigner_3j(1, 1, 2)")
mod("e3.wigner_D", "e3.wigner_D(l, alpha, beta, gamma)", "The rotation matrix of degree l.",
    "D = e3.wigner_D(1, 0.1, 0.2, 0.3)")
mod("e3.rand_rotation", "e3.rand_rotation()", "A random 3x3 rotation matrix.", "R = e3.rand_rotation()")
mod("e3.FullyConnectedTensorProduct", "e3.FullyConnectedTensorProduct(irreps1, irreps2, irreps_out)",
    "The learnable, fully connected tensor product.",
    "tp = e3.FullyConnectedTensorProduct(\"2x0e + 1x1o\", \"1x1o\", \"2x0e\")")
mod("e3.Linear", "e3.Linear(irreps_in, irreps_out)", "An equivariant linear map.",
    "lin = e3.Linear(\"4x0e + 2x1o\", \"2x0e + 1x1o\")")
mod("e3.Gate", "e3.Gate(...)", "Equivariant gated nonlinearity.", "print(type(e3.Gate))")
mod("e3.GauntTensorProduct", "e3.GauntTensorProduct(irreps1, irreps2, irreps_out)",
    "Tensor product through Gaunt coefficients (fast, fixed paths).", "print(type(e3.GauntTensorProduct))")
mod("hyper.HMLP", "hyper.HMLP(target_shapes, {cond_dim =, layers =, num_cond =})",
    "A hypernetwork MLP producing tensors shaped like target_shapes for each condition.",
    "h = hyper.HMLP({{4, 2}, {4}}, {cond_dim = 8, layers = {16}, num_cond = 2})\nws = h:forward({cond_id = 1})")
mod("hyper.ChunkedHMLP", "hyper.ChunkedHMLP(target_shapes, {chunk =, chunk_emb =, cond_dim =, layers =})",
    "An HMLP that produces the target weights in chunks (fewer parameters).",
    "h = hyper.ChunkedHMLP({{64, 64}}, {chunk = 512, chunk_emb = 8, cond_dim = 8, layers = {32}})")

-- ---------------------------------------------------------------- the REPL's own globals

doc("exit", "exit([status])  quit([status])", "Leaves the prompt or the script (history is saved).",
    nil)
entries.quit = entries.exit
doc("Out", "Out[n]  _  __  ___", "Results of earlier inputs: Out[n] is the value shown as Out[n]; "
    .. "_ is the last, __ the one before, ___ the one before that.", nil)
entries._ = entries.Out

-- ---------------------------------------------------------------- lookup

-- s folded into lines of at most width columns, every line after the
-- first indented by `indent` spaces.
local function wrap(s, width, indent)
  local lines, line = {}, ""
  local pad = string.rep(" ", indent or 0)
  for word in s:gmatch("%S+") do
    if line ~= "" and #line + 1 + #word > width then
      lines[#lines + 1] = line
      line = pad .. word
    else
      line = line == "" and (#lines > 0 and pad or "") .. word or line .. " " .. word
    end
  end
  if line ~= "" then lines[#lines + 1] = line end
  return table.concat(lines, "\n")
end
D.wrap = wrap

local function format(key, e, note)
  local lines = {e.sig, "", wrap(e.text, 78)}
  if note then lines[#lines + 1] = wrap(note, 78) end
  if e.example then
    lines[#lines + 1] = ""
    lines[#lines + 1] = "Example:"
    lines[#lines + 1] = "  " .. e.example:gsub("\n", "\n  ")
  end
  return table.concat(lines, "\n"), key
end

-- Each front-end module keeps its help texts in tycho/docs_<module>.lua: a
-- list of {key, signature, text, example}. A module without the file has
-- only its overview above.
for _, m in ipairs({"nn", "optim", "data", "viz", "e3", "hyper"}) do
  if package.searchpath("tycho.docs_" .. m, package.path) then
    for _, e in ipairs(require("tycho.docs_" .. m)) do doc(e[1], e[2], e[3], e[4]) end
  end
end

-- The entry for key, trying its other spellings; nil when there is none.
local function find(key)
  if entries[key] then return key end
  key = key:gsub("^tycho%.Tensor", "Tensor")
  if entries[key] then return key end
  local base, name = key:match("^(.-)[%.:]([%w_]+)$")
  if base ~= "Tensor" and base ~= "tycho" then return nil end
  for _, k in ipairs({"Tensor:" .. name, "tycho." .. name, "Tensor." .. name}) do
    if entries[k] then return k end
  end
  return nil
end

-- The help text for key ("tycho.randn", "Tensor:matmul", "nn", "x_" ...),
-- or nil.
function D.get(key)
  local k = find(key)
  if k then return (format(k, entries[k])) end
  local base = key:match("^(.*[%.:][%w_]-[%w])_$")
  local tycho = rawget(_G, "tycho")
  local name = key:match("([%w_]+)$")
  local exists = not tycho or tycho[name] ~= nil or tycho.Tensor[name] ~= nil
  if base and exists then
    k = find(base)
    if k then
      return (format(k, entries[k], "In place: x:" .. name .. "(...) writes the result into x "
                                       .. "and returns x."))
    end
  end
  return nil
end

-- Whether key has documentation (any spelling).
function D.has(key)
  return D.get(key) ~= nil
end

-- The documented name of a value (a function of tycho, of tycho.Tensor,
-- of a loaded module), or nil.
function D.name_of(v)
  local tycho = rawget(_G, "tycho")
  local function search(tbl, prefix)
    if type(tbl) ~= "table" then return nil end
    for k, f in pairs(tbl) do
      if f == v and type(k) == "string" and D.has(prefix .. k) then return prefix .. k end
    end
  end
  if tycho then
    if v == tycho then return "tycho" end
    if v == tycho.Tensor then return "Tensor" end
    local k = search(tycho, "tycho.") or search(tycho.Tensor, "Tensor:") or
              search(tycho.cuda, "tycho.cuda.")
    if k then return k end
  end
  for _, m in ipairs({"nn", "optim", "data", "viz", "e3", "hyper"}) do
    local t = rawget(_G, m)
    if t ~= nil and v == t then return m end
    local k = search(t, m .. ".")
    if k then return k end
  end
  return nil
end

-- Every documented key, sorted.
function D.keys()
  local ks = {}
  for k in pairs(entries) do ks[#ks + 1] = k end
  table.sort(ks)
  return ks
end

-- The raw entry {sig, text, example} of a key (tests run the examples).
function D.entry(key)
  local k = find(key)
  return k and entries[k]
end

-- %help with no name.
function D.overview()
  local ok, repl = pcall(require, "tycho.repl")
  local magic_list = ok and repl.magic_list and repl.magic_list() or ""
  return table.concat({
    "tycho: tensors and autograd at a Lua prompt.",
    "",
    "  ?name, name?, %help name   help on a function, method or module:",
    "                             ?tycho.randn  ?x:matmul  ?Tensor:sum  ?nn",
    "  Tab                        completes names, fields (a.b.c), methods (x:), file names",
    "  expr                       is printed as Out[n]; Out[n], _, __ keep results; a",
    "                             trailing ; prints nothing",
    "  local x = 1                works at the prompt (top-level locals become globals)",
    "  Ctrl-C                     stops the running command; clears the line at the prompt",
    "  Ctrl-D, exit()             leave (history in ~/.tycho_history or $TYCHO_HISTORY)",
    "",
    "Modules: tycho (?tycho), tensor methods (?Tensor), nn, optim, data, viz, e3, hyper;",
    "x[...] indexing: ?indexing.",
    "Magics:",
    magic_list,
  }, "\n")
end

return D
