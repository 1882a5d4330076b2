-- Help texts of the hyper module (?hyper.HMLP at the prompt): a list of
-- {key, signature, text, example}; docs.lua loads it, and
-- tests/lua/test_repl_magics.lua runs every example.
return {
  {"hyper.HMLP", "hyper.HMLP(target_shapes, {num_cond =, cond_dim =, uncond_dim =, layers =, "
     .. "activation =, bias =, ret_format =, init =, emb_std =})",
   "A hypernetwork: an MLP from a condition (a learned embedding per condition, num_cond of "
     .. "them, size cond_dim; or an external tensor of size cond_dim) and an optional "
     .. "unconditional input (uncond_dim) to the weights of a target network, with one linear "
     .. "output head per target tensor. target_shapes: a list of shapes, m:param_shapes() or "
     .. "the module m. layers: hidden sizes ({100, 100}); activation 'relu'. init 'hyperfan' "
     .. "(default: hyperfan-in of Chang et al. 2020, so the generated weights have the variance "
     .. "Kaiming init would give the target; LayerNorm gains start at 1) or 'default' "
     .. "(nn.Linear's init; embeddings N(0, emb_std^2)). h({cond_id = i}), h(i) or h({cond = t, "
     .. "uncond = u}) returns a list of tensors shaped like target_shapes (ret_format 'list') or "
     .. "one flat tensor ('flat'); a list of ids or a (batch, cond_dim) condition adds a batch dim. "
     .. "Run the target with nn.functional_call(target, h(i), x). print(h) shows the compression "
     .. "ratio.",
   "target = nn.Linear(4, 2)\nh = hyper.HMLP(target:param_shapes(), {num_cond = 2, cond_dim = 8, "
     .. "layers = {16}})\ny = nn.functional_call(target, h({cond_id = 1}), tycho.randn(3, 4))"},
  {"hyper.ChunkedHMLP", "hyper.ChunkedHMLP(target_shapes, {chunk =, chunk_emb =, num_cond =, "
     .. "cond_dim =, uncond_dim =, layers =, ...})",
   "A chunked hypernetwork: one small MLP emits the target `chunk` values at a time (1024), "
     .. "its input for chunk j being [condition, unconditional input, learned chunk embedding j "
     .. "(size chunk_emb, 8)]; the chunks laid end to end are cut into the target tensors and the "
     .. "rest of the last chunk is discarded. Far fewer parameters than an HMLP for a large "
     .. "target: print(h) and h:compression_ratio() give hypernetwork parameters / target values. "
     .. "Options, inputs and outputs as hyper.HMLP; with init 'hyperfan' a fixed per-tensor "
     .. "scale and shift (buffers out_scale, out_shift) give each target tensor its hyperfan "
     .. "variance, since one head serves them all.",
   "vit = nn.ViT({image = 8, patch = 4, dim = 16, depth = 1, heads = 2, classes = 3})\n"
     .. "h = hyper.ChunkedHMLP(vit:param_shapes(), {num_cond = 1, chunk = 256, layers = {32}})\n"
     .. "print(h)\nlogits = nn.functional_call(vit, h(1), tycho.randn(2, 1, 8, 8))"},
  {"hyper.HMLP:forward", "h:forward({cond_id =, cond =, uncond =, ret_format =})  h(i)",
   "The target tensors for one condition (or a batch: cond_id = {1, 3} or cond of shape "
     .. "(batch, cond_dim)). Errors name the bad id or shape.",
   "h = hyper.HMLP({{3, 2}, {3}}, {num_cond = 2, layers = {8}})\nws = h({cond_id = {1, 2}})\n"
     .. "print(ws[1].shape[1], h({cond_id = 2, ret_format = 'flat'}):numel())"},
  {"hyper.HMLP:embedding", "h:embedding(i)",
   "The learned embedding of condition i (a parameter): give an optimizer only the current "
     .. "task's embedding.",
   "h = hyper.HMLP({{2}}, {num_cond = 3})\nprint(h:embedding(2).shape[1])"},
  {"hyper.HMLP:shared_parameters", "h:shared_parameters()",
   "Every parameter except the condition embeddings (the weights all conditions share).",
   "h = hyper.HMLP({{2}}, {num_cond = 3, layers = {4}})\n"
     .. "opt = optim.Adam({h:embedding(1), table.unpack(h:shared_parameters())})"},
  {"hyper.HMLP:compression_ratio", "h:compression_ratio()",
   "Hypernetwork parameters / target values (print(h) shows it too).",
   "h = hyper.ChunkedHMLP({{100, 100}}, {num_cond = 1, chunk = 500, layers = {16}})\n"
     .. "print(h:compression_ratio())"},
  {"hyper.ContinualRegularizer", "hyper.ContinualRegularizer(h, {beta =, lookahead =, batch =})",
   "Continual learning with a hypernetwork (von Oswald et al., ICLR 2020). reg:store(t) after "
     .. "task t is learned records h's output for t, detached, with t's condition "
     .. "(reg:store(key, {cond = x}) for external conditions). reg:penalty(opts) is beta / |S| * "
     .. "the sum over stored tasks of ||h(e_t; Theta + dTheta) - target_t||^2 (beta 0.01; batch: "
     .. "a random subset of that many stored tasks). With lookahead = true, dTheta is the step "
     .. "the optimizer is about to take for the current task's loss: call loss:backward() "
     .. "first, then reg:penalty({optimizer = opt}):backward(), then opt:step(). Without "
     .. "lookahead, (loss + reg:penalty()):backward(). Also reg:ids(), reg:target(t), #reg; "
     .. "penalty({exclude = t}) leaves one task out.",
   "h = hyper.HMLP({{2, 2}}, {num_cond = 2, layers = {8}})\n"
     .. "reg = hyper.ContinualRegularizer(h, {beta = 0.01})\nreg:store(1)\n"
     .. "opt = optim.Adam({h:embedding(2), table.unpack(h:shared_parameters())})\n"
     .. "opt:zero_grad()\nloss = h(2)[1]:pow(2):sum() + reg:penalty()\nloss:backward()\n"
     .. "opt:step()"},
}
