-- Help texts of the nn module (?nn.Linear at the prompt): a list of
-- {key, signature, text, example}; docs.lua loads it, and
-- tests/lua/test_repl_magics.lua checks that every public name of nn and
-- nn.functional is here and runs every example.
return {
  -- ---------------------------------------------------------------- the base class
  {"nn.Module", "nn.Module:extend(name)  ->  a new layer class",
   "The base class of every layer. A class made with extend has init(self, ...) (run by "
     .. "Class(...)) and forward(self, ...) (run by m(...)). Assigning a module to a field makes it "
     .. "a child, a tensor that requires grad a parameter, anything else a plain field; children "
     .. "and parameters keep their registration order, which is the order of parameters(), "
     .. "named_parameters() and state_dict(). Methods: parameters named_parameters named_buffers "
     .. "named_modules children apply train eval zero_grad num_parameters param_shapes state_dict "
     .. "load_state_dict to double float register_buffer register_parameter; print(m) shows the "
     .. "tree with shapes and the parameter count.",
   "local Scale = nn.Module:extend(\"Scale\")\n"
     .. "function Scale:init(n) self.weight = nn.Parameter(tycho.ones(n)) end\n"
     .. "function Scale:forward(x) return x * self.weight end\n"
     .. "m = Scale(4)\ny = m(tycho.randn(2, 4))\nprint(m)"},
  {"nn.Module:parameters", "m:parameters()  ->  {tensor, ...}",
   "Every parameter of m and its descendants as a list, in model order (a module's own "
     .. "parameters first, then its children's, depth first); a shared parameter appears once. "
     .. "Hand it to an optimizer.",
   "m = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))\nprint(#m:parameters())"},
  {"nn.Module:named_parameters", "m:named_parameters()  ->  {[\"dotted.name\"] = tensor}",
   "The parameters by dotted name (\"blocks.1.attn.qkv.weight\"); pairs() walks them in model "
     .. "order.",
   "m = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))\n"
     .. "for name, p in pairs(m:named_parameters()) do print(name, p.shape[1]) end"},
  {"nn.Module:named_buffers", "m:named_buffers()  ->  {[\"dotted.name\"] = tensor}",
   "The buffers (tensors saved in state_dict but not trained, see register_buffer) by dotted "
     .. "name.",
   "m = nn.Linear(2, 2)\nm:register_buffer(\"steps\", tycho.zeros(1))\n"
     .. "for name in pairs(m:named_buffers()) do print(name) end"},
  {"nn.Module:named_modules", "m:named_modules()  ->  {[\"dotted.name\"] = module}",
   "m itself (under \"\") and every descendant, depth first; a module reachable twice is listed "
     .. "once.",
   "m = nn.Sequential(nn.Linear(4, 8), nn.ReLU())\n"
     .. "for name, sub in pairs(m:named_modules()) do print(name, sub) end"},
  {"nn.Module:children", "m:children()  ->  {module, ...}",
   "The direct submodules, in registration order.",
   "m = nn.Sequential(nn.Linear(4, 8), nn.ReLU())\nprint(#m:children())"},
  {"nn.Module:apply", "m:apply(fn)  ->  m",
   "Calls fn(module) on every descendant, children first, then on m (custom initialisation).",
   "m = nn.Sequential(nn.Linear(4, 8), nn.Linear(8, 2))\n"
     .. "m:apply(function(sub) if sub.bias then nn.init.zeros_(sub.bias) end end)"},
  {"nn.Module:train", "m:train([mode = true])  ->  m;   m:eval()  ->  m",
   "Sets m.training on m and every descendant. Training mode switches dropout on; eval() "
     .. "(= train(false)) switches it off for evaluation.",
   "m = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5))\nm:eval()\nprint(m[2].training)\nm:train()"},
  {"nn.Module:eval", "m:eval()  ->  m",
   "Evaluation mode: m:train(false) for m and every descendant (dropout off).",
   "m = nn.Dropout(0.5)\nx = tycho.ones(4)\nprint(m:eval()(x))"},
  {"nn.Module:zero_grad", "m:zero_grad()",
   "Drops the gradient of every parameter (the next backward writes fresh ones).",
   "m = nn.Linear(2, 1)\nm(tycho.randn(3, 2)):sum():backward()\nm:zero_grad()\nprint(m.weight.grad)"},
  {"nn.Module:num_parameters", "m:num_parameters()  ->  integer",
   "The number of trainable scalars (the ViT of API.md has 139,018).",
   "print(nn.Linear(4, 8):num_parameters())"},
  {"nn.Module:param_shapes", "m:param_shapes()  ->  {{name =, shape =}, ...}",
   "The name and shape of every parameter, in parameters() order: what a hypernetwork must "
     .. "produce to run m through nn.functional_call.",
   "for _, s in ipairs(nn.Linear(4, 8):param_shapes()) do print(s.name, s.shape[1]) end"},
  {"nn.Module:state_dict", "m:state_dict()  ->  {[\"dotted.name\"] = tensor}",
   "Parameters and buffers by dotted name, in model order, detached (the same memory, no "
     .. "history). tycho.save(\"m.safetensors\", m:state_dict()) writes a checkpoint.",
   "m = nn.Linear(2, 3)\nsd = m:state_dict()\nprint(sd.weight.shape[1], sd.bias.requires_grad)"},
  {"nn.Module:load_state_dict", "m:load_state_dict(sd [, {strict = true}])  ->  {missing =, unexpected =}",
   "Copies the tensors of sd into the parameters and buffers of the same names. strict (the "
     .. "default) refuses keys missing from sd and keys m does not have; a shape mismatch is "
     .. "always an error. The error lists every problem, and nothing is copied unless everything "
     .. "checks out. Returns the lists of missing and unexpected keys (strict = false).",
   "a, b = nn.Linear(2, 3), nn.Linear(2, 3)\nb:load_state_dict(a:state_dict())\n"
     .. "r = b:load_state_dict({weight = a.weight}, {strict = false})\nprint(r.missing[1])"},
  {"nn.Module:to", "m:to(dtype_or_device)  ->  m;   m:double()  m:float()",
   "Converts every parameter and buffer in place of the old ones (\"f64\", \"f32\", \"cuda\"); "
     .. "parameters stay trainable leaves, gradients are dropped.",
   "m = nn.Linear(2, 3):to(\"f64\")\nprint(m.weight.dtype)"},
  {"nn.Module:double", "m:double()  ->  m", "m:to(\"f64\"): every parameter and buffer in f64 "
     .. "(as tycho.gradcheck needs).",
   "m = nn.Linear(2, 1):double()\nprint(m(tycho.randn(1, 2, {dtype = \"f64\"})).dtype)"},
  {"nn.Module:float", "m:float()  ->  m", "m:to(\"f32\").", "m = nn.Linear(2, 1):double():float()"},
  {"nn.Module:register_buffer", "m:register_buffer(name, tensor)  ->  tensor",
   "Registers a tensor that is saved in state_dict and moved by to() but not trained (running "
     .. "statistics, fixed tables).",
   "m = nn.Linear(2, 2)\nm:register_buffer(\"mask\", tycho.ones(2, 2))\nprint(m:state_dict().mask)"},
  {"nn.Module:register_parameter", "m:register_parameter(name, tensor)  ->  tensor",
   "Registers tensor as a parameter under name, switching requires_grad on if needed "
     .. "(m.name = nn.Parameter(t) does the same).",
   "m = nn.Linear(2, 2)\nm:register_parameter(\"gain\", tycho.ones(2))\nprint(#m:parameters())"},
  {"nn.Parameter", "nn.Parameter(tensor)  ->  tensor",
   "The tensor as a trainable leaf (requires_grad on; detached first if it has history). "
     .. "Assigned to a module's field, it becomes a parameter.",
   "w = nn.Parameter(tycho.zeros(3))\nprint(w.requires_grad, w:is_leaf())"},
  {"nn.is_module", "nn.is_module(v)  ->  boolean", "Whether v is a module instance.",
   "print(nn.is_module(nn.ReLU()), nn.is_module({}))"},

  -- ---------------------------------------------------------------- layers
  {"nn.Linear", "nn.Linear(in, out [, {bias = true, dtype = \"f32\"}])",
   "y = x W^T + b over the last dim of x (any leading dims). weight (out, in), bias (out); "
     .. "PyTorch's initialisation: both uniform in +-1/sqrt(in).",
   "m = nn.Linear(4, 8)\ny = m(tycho.randn(2, 4))\nprint(y.shape[2], m.weight.shape[1])"},
  {"nn.LayerNorm", "nn.LayerNorm(normalized_shape [, {eps = 1e-5, elementwise_affine = true, dtype =}])",
   "Normalises the trailing dims given by normalized_shape (a number or a shape table) to mean "
     .. "0 and variance 1 (biased), then scales by weight (ones) and shifts by bias (zeros).",
   "y = nn.LayerNorm(8)(tycho.randn(2, 8))\nprint(y:mean(2))"},
  {"nn.Embedding", "nn.Embedding(num, dim [, {dtype =}])",
   "A table of num learned vectors of size dim (weight (num, dim), N(0, 1) at first), looked "
     .. "up by 1-based i64 indices of any shape: the result has shape idx.shape .. {dim}.",
   "e = nn.Embedding(100, 8)\ny = e(tycho.tensor({{1, 5}, {100, 2}}, {dtype = \"i64\"}))\nprint(y.shape[3])"},
  {"nn.Dropout", "nn.Dropout([p = 0.5])",
   "In training mode zeroes each element with probability p and scales the rest by 1/(1-p); "
     .. "after m:eval() it returns its input unchanged. Random numbers come from tycho's seeded "
     .. "generator.",
   "d = nn.Dropout(0.1)\ny = d(tycho.ones(8))\nd:eval()\nprint(d(tycho.ones(8)))"},
  {"nn.GELU", "nn.GELU([{approximate = \"none\" | \"tanh\"}])",
   "The GELU activation x * Phi(x) (exact, with erf), or PyTorch's tanh approximation.",
   "y = nn.GELU()(tycho.randn(4))\nz = nn.GELU({approximate = \"tanh\"})(tycho.randn(4))"},
  {"nn.ReLU", "nn.ReLU()", "max(x, 0) as a module.", "y = nn.ReLU()(tycho.randn(4))"},
  {"nn.SiLU", "nn.SiLU()", "x * sigmoid(x) (swish) as a module.", "y = nn.SiLU()(tycho.randn(4))"},
  {"nn.Tanh", "nn.Tanh()", "tanh(x) as a module.", "y = nn.Tanh()(tycho.randn(4))"},
  {"nn.Sigmoid", "nn.Sigmoid()", "1 / (1 + exp(-x)) as a module.", "y = nn.Sigmoid()(tycho.randn(4))"},
  {"nn.Softplus", "nn.Softplus()", "log(1 + exp(x)) as a module.", "y = nn.Softplus()(tycho.randn(4))"},
  {"nn.Identity", "nn.Identity()", "Returns its input (a placeholder in a Sequential).",
   "x = tycho.randn(3)\nprint(nn.Identity()(x) == x)"},
  {"nn.Flatten", "nn.Flatten([start = 2 [, stop = -1]])",
   "Flattens dims start..stop (1-based, inclusive; negatives count from the end) into one: "
     .. "(B, C, H, W) -> (B, C*H*W) by default.",
   "y = nn.Flatten()(tycho.zeros(2, 3, 4))\nprint(y.shape[2])"},
  {"nn.Sequential", "nn.Sequential(m1, m2, ...)",
   "Modules applied one after another: s(x) = m3(m2(m1(x))). Children are named 1, 2, ...; "
     .. "s[i] is the i-th, #s the count, s:append(m) adds one.",
   "m = nn.Sequential(nn.Linear(4, 8), nn.GELU(), nn.Linear(8, 1))\ny = m(tycho.randn(2, 4))\n"
     .. "print(#m, m[1])"},
  {"nn.ModuleList", "nn.ModuleList([{m1, m2, ...}])",
   "A list of modules registered as children (their parameters are found) for loops you write "
     .. "yourself: #l, l[i], ipairs(l), l:append(m). It has no forward.",
   "blocks = nn.ModuleList({nn.Linear(4, 4), nn.Linear(4, 4)})\nx = tycho.randn(2, 4)\n"
     .. "for _, b in ipairs(blocks) do x = b(x):relu() end\nprint(#blocks:parameters())"},

  -- ---------------------------------------------------------------- transformers
  {"nn.MultiheadAttention", "nn.MultiheadAttention(dim, heads [, {bias = true, dropout = 0}])",
   "Multi-head attention with one fused q/k/v projection (qkv: Linear(dim, 3 dim), rows q, k, "
     .. "v as PyTorch's in_proj_weight) and an output projection (proj). m(x) is "
     .. "self-attention over x (B, N, dim); m(q, k [, v]) attends q over k/v. A last table "
     .. "argument takes need_weights (also return the attention weights (B, heads, Nq, Nk)), "
     .. "mask (added to the scores; -inf masks) and causal.",
   "m = nn.MultiheadAttention(16, 4)\nx = tycho.randn(2, 5, 16)\n"
     .. "y, w = m(x, {need_weights = true})\nprint(y.shape[3], w.shape[2])"},
  {"nn.MLP", "nn.MLP(dim, hidden [, {dropout = 0}])",
   "The transformer's feed-forward part: Linear(dim, hidden) -> GELU -> Linear(hidden, dim) "
     .. "(fc1, act, fc2), with dropout after it when training.",
   "y = nn.MLP(8, 32)(tycho.randn(2, 3, 8))"},
  {"nn.TransformerBlock", "nn.TransformerBlock(dim, heads [, {mlp = 4 dim, eps = 1e-6, dropout = 0}])",
   "A pre-norm transformer block: x + attn(norm1(x)), then + mlp(norm2(x)). blk(x, true) "
     .. "also returns the attention weights.",
   "blk = nn.TransformerBlock(16, 4, {mlp = 32})\ny, w = blk(tycho.randn(2, 5, 16), true)\nprint(w.shape[1])"},
  {"nn.PatchEmbed", "nn.PatchEmbed(image, patch, channels, dim)",
   "Cuts (B, channels, image, image) images into patch x patch squares, row by row, flattens "
     .. "each as (channels, patch, patch) and projects it with a Linear: (B, (image/patch)^2, dim).",
   "pe = nn.PatchEmbed(28, 4, 1, 64)\nt = pe(tycho.rand(2, 1, 28, 28))\nprint(t.shape[2])"},
  {"nn.ViT", "nn.ViT({image = 28, patch = 4, channels = 1, dim = 64, depth = 4, heads = 4, "
     .. "mlp = 4 dim, classes = 10, dropout = 0, eps = 1e-6})",
   "A vision transformer (Dosovitskiy et al. 2021): patch embedding, a class token and learned "
     .. "position embeddings, depth pre-norm TransformerBlocks, a final LayerNorm and a linear "
     .. "head on the class token. timm's initialisation: truncated-normal (std 0.02) position "
     .. "embeddings and block/head weights, zero biases. vit(x) gives logits (B, classes); "
     .. "vit(x, {return_attention = true}) also a list of each block's attention weights "
     .. "(B, heads, tokens, tokens), token 1 being the class token.",
   "vit = nn.ViT({image = 8, patch = 4, channels = 1, dim = 16, depth = 1, heads = 2, "
     .. "mlp = 32, classes = 10})\nlogits, attn = vit(tycho.rand(2, 1, 8, 8), {return_attention = true})\n"
     .. "print(logits.shape[2], #attn, vit:num_parameters())"},

  -- ---------------------------------------------------------------- functional_call and init
  {"nn.functional_call", "nn.functional_call(m, params, ...)  ->  m(...) with params",
   "Runs m(...) with some or all of its parameters replaced, without changing m: afterwards "
     .. "(even after an error) it has its own tensors back. params is {[\"dotted.name\"] = "
     .. "tensor} (names as in named_parameters; names left out keep m's own) or a list of "
     .. "tensors in parameters() order. Shapes must match. Gradients flow into whatever made the "
     .. "given tensors (hypernetworks, meta-learning).",
   "m = nn.Linear(2, 1)\ny = nn.functional_call(m, {weight = tycho.ones(1, 2)}, tycho.randn(3, 2))\n"
     .. "z = nn.functional_call(m, {tycho.zeros(1, 2), tycho.ones(1)}, tycho.randn(3, 2))"},
  {"nn.init", "nn.init.uniform_ normal_ trunc_normal_ kaiming_uniform_ xavier_uniform_ "
     .. "xavier_normal_ zeros_ ones_ constant_ fans",
   "In-place initialisers (PyTorch's and timm's): each fills a tensor without recording "
     .. "history and returns it. Random numbers come from tycho's seeded generator, so "
     .. "tycho.manual_seed(s) makes a model's initial weights reproducible.",
   "w = nn.Parameter(tycho.empty(8, 4))\nnn.init.trunc_normal_(w, {std = 0.02})\nnn.init.zeros_(tycho.empty(3))"},
  {"nn.init.uniform_", "nn.init.uniform_(t [, a = 0 [, b = 1]])  ->  t", "Fills t from U(a, b).",
   "w = nn.init.uniform_(tycho.empty(3), -1, 1)"},
  {"nn.init.normal_", "nn.init.normal_(t [, mean = 0 [, std = 1]])  ->  t",
   "Fills t from N(mean, std^2).", "w = nn.init.normal_(tycho.empty(3), 0, 0.02)"},
  {"nn.init.trunc_normal_", "nn.init.trunc_normal_(t [, {mean = 0, std = 1, a = -2, b = 2}])  ->  t",
   "Fills t from N(mean, std^2) restricted to [a, b] (absolute bounds, as timm's; values "
     .. "outside are redrawn).",
   "w = nn.init.trunc_normal_(tycho.empty(4, 4), {std = 0.02})"},
  {"nn.init.kaiming_uniform_", "nn.init.kaiming_uniform_(t [, {a = 0, mode = \"fan_in\"}])  ->  t",
   "He/Kaiming uniform: U(-bound, bound), bound = sqrt(2 / (1 + a^2)) * sqrt(3 / fan). "
     .. "a = sqrt(5) is nn.Linear's default (bound 1/sqrt(fan_in)).",
   "w = nn.init.kaiming_uniform_(tycho.empty(8, 4), {a = math.sqrt(5)})"},
  {"nn.init.xavier_uniform_", "nn.init.xavier_uniform_(t [, gain = 1])  ->  t",
   "Glorot uniform: bound gain * sqrt(6 / (fan_in + fan_out)).",
   "w = nn.init.xavier_uniform_(tycho.empty(8, 4))"},
  {"nn.init.xavier_normal_", "nn.init.xavier_normal_(t [, gain = 1])  ->  t",
   "Glorot normal: std gain * sqrt(2 / (fan_in + fan_out)).",
   "w = nn.init.xavier_normal_(tycho.empty(8, 4))"},
  {"nn.init.zeros_", "nn.init.zeros_(t)  nn.init.ones_(t)  nn.init.constant_(t, v)  ->  t",
   "Fills t with 0, 1 or v.", "b = nn.init.constant_(tycho.empty(3), 0.1)"},
  {"nn.init.ones_", "nn.init.ones_(t)  ->  t", "Fills t with ones.", "g = nn.init.ones_(tycho.empty(3))"},
  {"nn.init.constant_", "nn.init.constant_(t, v)  ->  t", "Fills t with v.",
   "b = nn.init.constant_(tycho.empty(3), 0.1)"},
  {"nn.init.fans", "nn.init.fans(t)  ->  fan_in, fan_out",
   "fan_in and fan_out of a weight (out, in, k...) as PyTorch computes them.",
   "print(nn.init.fans(tycho.empty(8, 3, 5, 5)))"},

  -- ---------------------------------------------------------------- functional
  {"nn.functional", "nn.functional  (F = nn.functional)",
   "The stateless forms of the layers and the losses: linear relu silu tanh sigmoid softplus "
     .. "gelu softmax log_softmax dropout layer_norm embedding scaled_dot_product_attention "
     .. "one_hot; cross_entropy nll_loss mse_loss l1_loss binary_cross_entropy_with_logits.",
   "F = nn.functional\nl = F.mse_loss(tycho.zeros(3), tycho.ones(3))\nprint(l)"},
  {"nn.functional.linear", "nn.functional.linear(x, w [, b])", "x w^T + b; w (out, in).",
   "y = nn.functional.linear(tycho.randn(2, 3), tycho.randn(4, 3), tycho.zeros(4))"},
  {"nn.functional.relu", "nn.functional.relu(x)", "max(x, 0).", "y = nn.functional.relu(tycho.randn(3))"},
  {"nn.functional.silu", "nn.functional.silu(x)", "x * sigmoid(x).", "y = nn.functional.silu(tycho.randn(3))"},
  {"nn.functional.tanh", "nn.functional.tanh(x)", "tanh(x).", "y = nn.functional.tanh(tycho.randn(3))"},
  {"nn.functional.sigmoid", "nn.functional.sigmoid(x)", "1 / (1 + exp(-x)).",
   "y = nn.functional.sigmoid(tycho.randn(3))"},
  {"nn.functional.softplus", "nn.functional.softplus(x)", "log(1 + exp(x)).",
   "y = nn.functional.softplus(tycho.randn(3))"},
  {"nn.functional.gelu", "nn.functional.gelu(x [, approximate = \"none\" | \"tanh\"])",
   "GELU, exact or with PyTorch's tanh formula.",
   "y = nn.functional.gelu(tycho.randn(3), \"tanh\")"},
  {"nn.functional.softmax", "nn.functional.softmax(x [, dim = -1])", "exp(x) / sum exp(x) along dim.",
   "p = nn.functional.softmax(tycho.randn(2, 3))\nprint(p:sum(2))"},
  {"nn.functional.log_softmax", "nn.functional.log_softmax(x [, dim = -1])",
   "log(softmax(x)), computed stably.", "lp = nn.functional.log_softmax(tycho.randn(2, 3), 2)"},
  {"nn.functional.dropout", "nn.functional.dropout(x [, p = 0.5 [, training = true]])",
   "Zeroes elements with probability p and scales the rest by 1/(1-p) when training; x "
     .. "otherwise.", "y = nn.functional.dropout(tycho.ones(6), 0.5)"},
  {"nn.functional.layer_norm", "nn.functional.layer_norm(x, normalized_shape [, weight [, bias [, eps = 1e-5]]])",
   "Normalises over the trailing dims given by normalized_shape (a number or a shape table).",
   "y = nn.functional.layer_norm(tycho.randn(2, 4), 4)"},
  {"nn.functional.embedding", "nn.functional.embedding(idx, weight)",
   "Rows of weight picked by 1-based i64 indices of any shape: shape idx.shape .. {dim}.",
   "y = nn.functional.embedding(tycho.tensor({2, 1}, {dtype = \"i64\"}), tycho.randn(3, 4))"},
  {"nn.functional.cross_entropy", "nn.functional.cross_entropy(logits, labels [, {reduction = "
     .. "\"mean\", ignore_index = -100, label_smoothing = 0}])",
   "Softmax cross-entropy of logits (N, C) or (N, C, d...) against i64 class numbers 1..C. "
     .. "Labels equal to ignore_index count neither in the sum nor in the mean; label_smoothing "
     .. "eps mixes in the uniform distribution: (1 - eps) nll + eps mean_c(-log p_c). reduction "
     .. "\"mean\", \"sum\" or \"none\".",
   "logits = tycho.randn(4, 10)\nlabels = tycho.tensor({1, 3, 10, 2}, {dtype = \"i64\"})\n"
     .. "loss = nn.functional.cross_entropy(logits, labels, {label_smoothing = 0.1})"},
  {"nn.functional.nll_loss", "nn.functional.nll_loss(logp, labels [, {reduction =, ignore_index =}])",
   "Negative log-likelihood of log-probabilities (log_softmax output) at labels 1..C.",
   "lp = tycho.randn(2, 3):log_softmax(2)\nl = nn.functional.nll_loss(lp, tycho.tensor({3, 1}, {dtype = \"i64\"}))"},
  {"nn.functional.mse_loss", "nn.functional.mse_loss(input, target [, {reduction = \"mean\"}])",
   "Mean (or sum, or elementwise with \"none\") of (input - target)^2; the shapes must agree.",
   "l = nn.functional.mse_loss(tycho.zeros(3), tycho.ones(3))\nprint(l)"},
  {"nn.functional.l1_loss", "nn.functional.l1_loss(input, target [, {reduction = \"mean\"}])",
   "Mean (or sum, or elementwise) of |input - target|.",
   "l = nn.functional.l1_loss(tycho.zeros(3), tycho.ones(3))"},
  {"nn.functional.binary_cross_entropy_with_logits",
   "nn.functional.binary_cross_entropy_with_logits(x, y [, {reduction = \"mean\"}])",
   "Binary cross-entropy of sigmoid(x) against targets y in [0, 1], in the stable form "
     .. "max(x, 0) - x y + log(1 + exp(-|x|)).",
   "l = nn.functional.binary_cross_entropy_with_logits(tycho.randn(4), tycho.tensor({1, 0, 1, 0}))"},
  {"nn.functional.scaled_dot_product_attention",
   "nn.functional.scaled_dot_product_attention(q, k, v [, {mask =, causal =, scale =, return_weights =}])",
   "softmax(q k^T * scale + mask) v over the last two dims, q, k, v (..., N, d); scale "
     .. "defaults to 1/sqrt(d). With return_weights the weights come back second.",
   "q = tycho.randn(1, 2, 5, 8)\nout, w = nn.functional.scaled_dot_product_attention(q, q, q, "
     .. "{causal = true, return_weights = true})"},
  {"nn.functional.one_hot", "nn.functional.one_hot(labels, classes)",
   "One-hot rows of i64 labels 1..classes: an i64 tensor of shape labels.shape .. {classes}.",
   "print(nn.functional.one_hot(tycho.tensor({2, 1}, {dtype = \"i64\"}), 3))"},
}
