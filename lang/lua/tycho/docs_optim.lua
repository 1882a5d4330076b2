-- Help texts of the optim module (?optim.AdamW at the prompt): a list of
-- {key, signature, text, example}; docs.lua loads it, and
-- tests/lua/test_repl_magics.lua runs every example.
local PARAMS = "params: a list of tensors that require grad (leaves: m:parameters()), or a list "
  .. "of groups {params = {...}, lr = ..., ...} whose options override the defaults. "
return {
  {"optim.SGD", "optim.SGD(params, {lr = 1e-3, momentum = 0, dampening = 0, weight_decay = 0, "
     .. "nesterov = false})",
   "Stochastic gradient descent with PyTorch's update: g = grad + weight_decay p; with "
     .. "momentum, buf = momentum buf + (1 - dampening) g (the first gradient as it is) and g = buf, "
     .. "or g + momentum buf with nesterov; p = p - lr g. " .. PARAMS
     .. "The update runs in C, in place.",
   "w = tycho.randn(3, {requires_grad = true})\nopt = optim.SGD({w}, {lr = 0.1, momentum = 0.9, "
     .. "nesterov = true})\nloss = (w * w):sum()\nloss:backward()\nopt:step()"},
  {"optim.Adam", "optim.Adam(params, {lr = 1e-3, betas = {0.9, 0.999}, eps = 1e-8, "
     .. "weight_decay = 0, amsgrad = false})",
   "Adam (Kingma and Ba 2015) with PyTorch's update; weight_decay is L2 (added to the "
     .. "gradient); amsgrad keeps the running maximum of the second moment. A parameter "
     .. "without a gradient is skipped, its step count with it. " .. PARAMS,
   "w = tycho.randn(3, {requires_grad = true})\nopt = optim.Adam({w}, {lr = 1e-3, amsgrad = true})\n"
     .. "loss = (w * w):sum()\nloss:backward()\nopt:step()"},
  {"optim.AdamW", "optim.AdamW(params, {lr = 1e-3, betas = {0.9, 0.999}, eps = 1e-8, "
     .. "weight_decay = 1e-2, amsgrad = false})",
   "Adam with decoupled weight decay (Loshchilov and Hutter 2019): each step first shrinks "
     .. "the parameter by lr * weight_decay. " .. PARAMS,
   "m = nn.Linear(4, 2)\nopt = optim.AdamW(m:parameters(), {lr = 1e-3, weight_decay = 0.05})\n"
     .. "opt:zero_grad()\nnn.functional.mse_loss(m(tycho.randn(8, 4)), tycho.zeros(8, 2)):backward()\n"
     .. "opt:step()"},
  {"optim.Optimizer", "optim.Optimizer  (the methods every optimizer has)",
   "opt:step([closure]) updates every group (closure, when given, recomputes and returns the "
     .. "loss); opt:zero_grad() drops the gradients; opt.param_groups[i].lr (or any option) can "
     .. "be changed at any time; opt:add_param_group({params = ..., lr = ...}); opt:state(p) "
     .. "shows a parameter's state; opt:state_dict() / opt:load_state_dict(sd) save and restore "
     .. "hyperparameters and state (a flat table of tensors that tycho.save writes as "
     .. "safetensors); print(opt) lists the groups.",
   "w = tycho.randn(3, {requires_grad = true})\nopt = optim.AdamW({w})\nloss = (w * w):sum()\nloss:backward()\n"
     .. "opt:step()\nprint(opt, opt:state(w).step)"},
  {"optim.Optimizer:step", "opt:step([closure])  ->  the closure's loss or nil",
   "One update of every parameter that has a gradient (the others are skipped). closure, when "
     .. "given, is called first with gradients enabled: it should zero the gradients, compute "
     .. "the loss, call backward and return the loss.",
   "w = tycho.tensor({2}, {requires_grad = true})\nopt = optim.SGD({w}, {lr = 0.25})\n"
     .. "loss = opt:step(function() opt:zero_grad() local l = (w * w):sum() l:backward() return l end)"},
  {"optim.Optimizer:zero_grad", "opt:zero_grad()",
   "Drops the gradient of every parameter (PyTorch's set_to_none): the next backward writes "
     .. "fresh ones.",
   "w = tycho.randn(3, {requires_grad = true})\nopt = optim.SGD({w})\nloss = (w * 2):sum()\nloss:backward()\n"
     .. "opt:zero_grad()\nprint(w.grad)"},
  {"optim.Optimizer:add_param_group", "opt:add_param_group({params = {...}, <option> = value ...})",
   "Adds a group of parameters with its own options (the rest from the optimizer's defaults). "
     .. "A parameter may be in one group only.",
   "a = tycho.randn(3, {requires_grad = true})\nb = tycho.randn(2, {requires_grad = true})\n"
     .. "opt = optim.SGD({a}, {lr = 0.1})\nopt:add_param_group({params = {b}, lr = 0.01})"},
  {"optim.Optimizer:state_dict", "opt:state_dict()  ->  {[\"param_groups.1.lr\"] = tensor, "
     .. "[\"state.1.exp_avg\"] = tensor, ...}",
   "The hyperparameters of every group and the state of every parameter (numbered across the "
     .. "groups), as copies in a flat table of tensors: tycho.save(\"opt.safetensors\", "
     .. "opt:state_dict()) writes it.",
   "w = tycho.randn(3, {requires_grad = true})\nopt = optim.Adam({w})\nloss = (w * w):sum()\nloss:backward()\n"
     .. "opt:step()\nsd = opt:state_dict()\nprint(sd[\"state.1.step\"])"},
  {"optim.Optimizer:load_state_dict", "opt:load_state_dict(sd)",
   "Restores what state_dict saved into an optimizer over the same parameters (same group "
     .. "sizes, buffers of the parameters' shapes and dtypes); everything is checked before "
     .. "anything changes. Training then continues exactly as it would have.",
   "w = tycho.randn(3, {requires_grad = true})\nopt = optim.Adam({w})\nloss = (w * w):sum()\nloss:backward()\n"
     .. "opt:step()\nopt2 = optim.Adam({w})\nopt2:load_state_dict(opt:state_dict())"},
  {"optim.Optimizer:state", "opt:state(p)  ->  {step =, exp_avg =, ...} or nil",
   "The optimizer's own state of parameter p (the buffers themselves, not copies).",
   "w = tycho.randn(3, {requires_grad = true})\nopt = optim.SGD({w}, {momentum = 0.9})\n"
     .. "loss = (w * w):sum()\nloss:backward()\nopt:step()\nprint(opt:state(w).momentum_buffer)"},
  {"optim.clip_grad_norm", "optim.clip_grad_norm(params, max_norm [, norm_type = 2])  ->  norm",
   "Scales the gradients of params (a list, or one tensor) so that their joint norm is at "
     .. "most max_norm, as PyTorch's clip_grad_norm_ (coefficient max_norm / (norm + 1e-6)); "
     .. "returns the norm they had. norm_type: any p > 0, or math.huge / \"inf\" for the "
     .. "largest absolute value. Parameters without a gradient are skipped.",
   "w = tycho.randn(3, {requires_grad = true})\nloss = (w * 10):sum()\nloss:backward()\n"
     .. "print(optim.clip_grad_norm({w}, 1.0))"},
  {"optim.cosine_schedule", "optim.cosine_schedule(opt, {total =, warmup = 0, min_ratio = 0, "
     .. "min_lr =})  ->  sched",
   "Linear warm-up then cosine decay of every group's learning rate: at step t < warmup "
     .. "lr = base (t + 1) / warmup; then min + (base - min)(1 + cos(pi p)) / 2 with p = (t - "
     .. "warmup) / (total - warmup), held at the minimum after total. base is each group's lr "
     .. "when the schedule is made; min = base * min_ratio or min_lr. Step 0's rate is set at "
     .. "once; call sched:step() after each opt:step(). sched:get_lr(t [, group]) gives any "
     .. "step's rate; sched:state_dict() / load_state_dict(sd) save and restore the step and "
     .. "the base rates.",
   "w = tycho.randn(3, {requires_grad = true})\nopt = optim.AdamW({w}, {lr = 1e-3})\n"
     .. "sched = optim.cosine_schedule(opt, {warmup = 100, total = 5000})\n"
     .. "print(sched:get_lr(99), sched:get_lr(5000))\nsched:step()"},
}
