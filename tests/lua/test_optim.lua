-- optim: SGD (momentum, dampening, nesterov, weight decay), Adam and AdamW
-- (amsgrad) against PyTorch 1.13 (tests/nn/gen_optim_reference.py), param
-- groups, zero_grad, skipped parameters, state_dict round trips (also
-- through safetensors), cosine_schedule, clip_grad_norm, and bad input.
local H = dofile((arg and arg[0] or ""):match("(.*/)") .. "harness.lua")
local test, eq, near, raises, ok = H.test, H.eq, H.near, H.raises, H.ok
local tycho = rawget(_G, "tycho") or require("tycho")
local optim = require("tycho.optim")

-- from tests/nn/gen_optim_reference.py (PyTorch 1.13.0a0)
local REF = {
  f64 = {
    sgd = {
      {0.76957666120098822, 0.52147050280753959, 0.027655230765306925, -0.48088845143671727,
       -0.76609904248523297, -0.69469872870646443},
      {0.34542776856053026, -0.21097887375453653, -0.66924050042960459, -0.81379507804533169},
    },
    sgd_momentum_wd = {
      {0.44473289740579663, 0.308702872671267, 0.040370900486000595, -0.23801411166760669,
       -0.4002732044030789, -0.37521701162921167},
      {0.26104523350794412, -0.13699209222999326, -0.4669485239512145, -0.57637445233599738},
    },
    sgd_dampening = {
      {0.79268707029920127, 0.54364085142691243, 0.044594969656944414, -0.47083470788432236,
       -0.76173676237689802, -0.69307435044172627},
      {0.36788642050166925, -0.20777305406398025, -0.68314883813480609, -0.83580987348149183},
    },
    sgd_nesterov = {
      {0.3332000346418289, 0.22673249180191876, 0.021471528941946622, -0.19054225013972612,
       -0.31439113729861629, -0.29649321705946452},
      {0.2062127369732365, -0.11630965370349346, -0.3831510910065265, -0.47073773774852951},
    },
    adam = {
      {0.94156506391590045, 0.62538228951813368, 0.056861828711829404, -0.56368177955820298,
       -0.92846361979500058, -0.83445309830765901},
      {0.38811979445555639, -0.21988975404737243, -0.77888303460057418, -0.95649082601307778},
    },
    adam_wd_amsgrad = {
      {0.89107129239083205, 0.57429908543744701, 0.05631012529412216, -0.51687835367935886,
       -0.88021542232246708, -0.78622531686223873},
      {0.34696227710608973, -0.1856673026913255, -0.73991549207379537, -0.91706859421394693},
    },
    adamw = {
      {0.93913927766398198, 0.62374501937807048, 0.056727571820270772, -0.56221085322954101,
       -0.92607744624385335, -0.8323019202285542},
      {0.38729422289014576, -0.21941580048332046, -0.77728048119936866, -0.95453201935799215},
    },
    adamw_amsgrad = {
      {0.88177846101977686, 0.56841431530261766, 0.063684145550766152, -0.51137728387066761,
       -0.87092887534521557, -0.77794173951013634},
      {0.34488626831971469, -0.18497432850199874, -0.73370368685737353, -0.90940345749595908},
    },
  },
  f32 = {
    sgd = {
      {0.769576669, 0.521470487, 0.0276552308, -0.480888456, -0.766099036, -0.694698751},
      {0.345427752, -0.210978881, -0.669240534, -0.81379503},
    },
    sgd_momentum_wd = {
      {0.444732875, 0.308702886, 0.0403709002, -0.238014132, -0.400273204, -0.375217021},
      {0.261045247, -0.136992097, -0.466948569, -0.576374412},
    },
    sgd_dampening = {
      {0.792687058, 0.543640852, 0.0445949696, -0.470834702, -0.761736691, -0.693074346},
      {0.367886424, -0.207773075, -0.683148801, -0.835809886},
    },
    sgd_nesterov = {
      {0.333200097, 0.226732522, 0.0214715302, -0.190542281, -0.314391166, -0.296493232},
      {0.206212729, -0.116309665, -0.383151084, -0.470737785},
    },
    adam = {
      {0.941565096, 0.625382304, 0.056861829, -0.563681841, -0.928463638, -0.834453106},
      {0.388119817, -0.21988976, -0.77888298, -0.956490874},
    },
    adam_wd_amsgrad = {
      {0.89107126, 0.574299097, 0.0563101247, -0.516878307, -0.880215466, -0.786225319},
      {0.346962303, -0.185667306, -0.73991549, -0.917068601},
    },
    adamw = {
      {0.939139247, 0.623744965, 0.0567275546, -0.562210798, -0.926077306, -0.832301855},
      {0.387294173, -0.219415784, -0.77728045, -0.954531908},
    },
    adamw_amsgrad = {
      {0.881778598, 0.56841439, 0.0636841506, -0.511377394, -0.870929003, -0.777941942},
      {0.344886303, -0.184974357, -0.733703852, -0.909403563},
    },
  },
}

-- The run of gen_optim_reference.py: parameter k (shapes (2, 3) and (4))
-- starts at sin(0.7 j + k); before step t it gets the gradient
-- 0.5 p + 0.1 cos(0.3 j + t + k), computed in double from the current values;
-- on step 3 the second parameter has no gradient.
local SHAPES = {{2, 3}, {4}}

local function make_params(dtype)
  local ps = {}
  for k, shape in ipairs(SHAPES) do
    local n, v = 1, {}
    for _, s in ipairs(shape) do n = n * s end
    for j = 1, n do v[j] = math.sin(0.7 * j + k) end
    ps[k] = tycho.tensor(v, {dtype = dtype}):reshape(shape):contiguous():requires_grad_(true)
  end
  return ps
end

local function set_grads(ps, t)
  for k, p in ipairs(ps) do
    if t == 3 and k == 2 then
      p.grad = nil
    else
      local g = {}
      for j, x in ipairs(p:detach():reshape(-1):tolist()) do
        g[j] = 0.5 * x + 0.1 * math.cos(0.3 * j + t + k)
      end
      p.grad = tycho.tensor(g, {dtype = p.dtype}):reshape(p.shape)
    end
  end
end

local function run(opt, ps, from, to)
  for t = from, to do
    set_grads(ps, t)
    opt:step()
  end
end

local CASES = {
  {"sgd", "SGD", {lr = 0.1}},
  {"sgd_momentum_wd", "SGD", {lr = 0.1, momentum = 0.9, weight_decay = 0.01}},
  {"sgd_dampening", "SGD", {lr = 0.05, momentum = 0.8, dampening = 0.3}},
  {"sgd_nesterov", "SGD", {lr = 0.1, momentum = 0.9, nesterov = true, weight_decay = 0.01}},
  {"adam", "Adam", {lr = 0.01}},
  {"adam_wd_amsgrad", "Adam", {lr = 0.02, betas = {0.8, 0.99}, eps = 1e-6, weight_decay = 0.1,
                               amsgrad = true}},
  {"adamw", "AdamW", {lr = 0.01, weight_decay = 0.05}},
  {"adamw_amsgrad", "AdamW", {lr = 0.02, betas = {0.85, 0.995}, weight_decay = 0.1, amsgrad = true}},
}

local function flat(ps)
  return {ps[1]:reshape(-1):tolist(), ps[2]:reshape(-1):tolist()}
end

for _, dtype in ipairs({"f64", "f32"}) do
  -- f64 agrees to rounding; f32 does PyTorch's operations in the same order
  -- in f32, so it agrees to a few ulps
  local tol = dtype == "f64" and 1e-13 or 5e-7
  for _, c in ipairs(CASES) do
    test(string.format("optim.%s %s (%s): 5 steps match PyTorch", c[2], c[1], dtype), function()
      local ps = make_params(dtype)
      local opt = optim[c[2]](ps, c[3])
      run(opt, ps, 1, 5)
      near(flat(ps), REF[dtype][c[1]], tol)
      eq(ps[1].dtype, dtype)
    end)
  end
end

test("a parameter without a gradient is skipped, and so is its step count", function()
  local a = tycho.tensor({1, 2}, {requires_grad = true})
  local b = tycho.tensor({3, 4}, {requires_grad = true})
  local opt = optim.Adam({a, b}, {lr = 0.1})
  a.grad = tycho.tensor({1, -1})
  opt:step()
  eq(b, {3, 4}, "b had no gradient")
  near(a, {0.9, 2.1}, 1e-6, "Adam's first step is lr * sign(g)")
  eq(opt:state(a).step, 1)
  eq(opt:state(b).step, 0)
  eq(opt:state(b).exp_avg, nil, "no buffers made for b")
  ok(tycho.is_tensor(opt:state(a).exp_avg))
  eq(opt:state(tycho.zeros(1)), nil, "a tensor the optimizer does not hold")
  -- SGD with momentum: no buffer, no change
  local s = optim.SGD({a, b}, {lr = 1, momentum = 0.9})
  a.grad = nil
  b.grad = tycho.tensor({1, 1})
  s:step()
  near(a, {0.9, 2.1}, 1e-6)
  eq(b, {2, 3})
  eq(s:state(a).momentum_buffer, nil)
  eq(s:state(b).momentum_buffer, {1, 1})
end)

test("param groups: each with its own lr, the rest from the defaults", function()
  local a = tycho.zeros(2):requires_grad_(true)
  local b = tycho.zeros(3):requires_grad_(true)
  local opt = optim.SGD({{params = {a}}, {params = {b}, lr = 0.01}}, {lr = 0.1, momentum = 0.5})
  eq(#opt.param_groups, 2)
  eq(opt.param_groups[1].lr, 0.1)
  eq(opt.param_groups[2].lr, 0.01)
  eq(opt.param_groups[2].momentum, 0.5, "defaults fill the group")
  a.grad, b.grad = tycho.ones(2), tycho.ones(3)
  opt:step()
  near(a, {-0.1, -0.1}, 1e-7)
  near(b, {-0.01, -0.01, -0.01}, 1e-7)
  a.grad, b.grad = tycho.ones(2), tycho.ones(3)
  opt:step()
  near(a, {-0.25, -0.25}, 1e-7, "momentum 0.5: 0.1 + 0.1 * 1.5")
  near(b, {-0.025, -0.025, -0.025}, 1e-7)
  -- a hyperparameter changed in place takes effect at the next step
  opt.param_groups[2].lr = 1
  opt:zero_grad()
  b.grad = tycho.ones(3)
  opt:step()
  near(a, {-0.25, -0.25}, 1e-7, "a has no gradient after zero_grad")
  near(b, {-1.775, -1.775, -1.775}, 1e-6, "buffer 1.5 * 0.5 + 1 = 1.75, lr 1")
  -- add_param_group later
  local c = tycho.ones(1):requires_grad_(true)
  opt:add_param_group({params = {c}, lr = 0.5})
  eq(#opt.param_groups, 3)
  eq(opt.param_groups[3].momentum, 0.5)
  raises(function() opt:add_param_group({params = {a}}) end, "optim.SGD")
  -- a group refused for a bad option leaves its parameters free for a corrected one
  local d = tycho.ones(1):requires_grad_(true)
  raises(function() opt:add_param_group({params = {d}, lr = -1}) end, "optim.SGD: lr must be")
  eq(#opt.param_groups, 3)
  opt:add_param_group({params = {d}, lr = 0.1})
  eq(#opt.param_groups, 4)
  raises(function() opt:add_param_group({params = {d}}) end, "appears in more than one place")
  ok(tostring(opt):find("group 4: 1 tensors, 1 values; dampening=0, lr=0.1, momentum=0.5", 1, true),
     tostring(opt))
end)

test("zero_grad drops every gradient", function()
  local a = tycho.ones(2):requires_grad_(true)
  local b = tycho.ones(2):requires_grad_(true)
  local opt = optim.AdamW({{params = {a}}, {params = {b}}})
  ;(a * b):sum():backward()
  ok(a.grad ~= nil and b.grad ~= nil)
  opt:zero_grad()
  eq(a.grad, nil)
  eq(b.grad, nil)
  opt:step()
  eq(a, {1, 1}, "a step without gradients changes nothing (no decay either)")
end)

test("step(closure) recomputes the loss with gradients on and returns it", function()
  local w = tycho.tensor({2}, {requires_grad = true})
  local opt = optim.SGD({w}, {lr = 0.25})
  local loss = tycho.no_grad(function()
    return opt:step(function()
      opt:zero_grad()
      local l = (w * w):sum()
      l:backward()
      return l
    end)
  end)
  near(loss:item(), 4)
  near(w, {1}, 1e-7)
end)

local function tmpdir()
  local d = os.getenv("TY_TEST_TMPDIR")
  if d and d ~= "" then return d end
  local base = os.tmpname()
  os.remove(base)
  assert(os.execute("mkdir -p '" .. base .. "'"))
  return base
end

-- Runs AdamW (amsgrad) with a schedule for 3 steps, hands its state to a
-- fresh optimizer over fresh copies of the parameters through `transfer`,
-- runs 3 more there, and compares with 6 uninterrupted steps.
local function resume_matches(transfer)
  local base = make_params("f32")
  local function fresh() return {base[1]:detach():clone():requires_grad_(true),
                                 base[2]:detach():clone():requires_grad_(true)} end
  local OPTS = {lr = 0.05, betas = {0.8, 0.99}, weight_decay = 0.1, amsgrad = true}
  local full = fresh()
  local o1 = optim.AdamW({{params = {full[1]}}, {params = {full[2]}, lr = 0.02}}, OPTS)
  local s1 = optim.cosine_schedule(o1, {warmup = 2, total = 6})
  for t = 1, 6 do
    set_grads(full, t)
    o1:step()
    s1:step()
  end
  local part = fresh()
  local o2 = optim.AdamW({{params = {part[1]}}, {params = {part[2]}, lr = 0.02}}, OPTS)
  local s2 = optim.cosine_schedule(o2, {warmup = 2, total = 6})
  for t = 1, 3 do
    set_grads(part, t)
    o2:step()
    s2:step()
  end
  local sd, ssd = transfer(o2:state_dict(), s2:state_dict())
  -- the parameters travel separately (a model's state_dict)
  local resumed = {part[1]:detach():clone():requires_grad_(true),
                   part[2]:detach():clone():requires_grad_(true)}
  local o3 = optim.AdamW({{params = {resumed[1]}}, {params = {resumed[2]}, lr = 0.5}},
                         {lr = 0.5, betas = {0.8, 0.99}, weight_decay = 0.1, amsgrad = true})
  o3:load_state_dict(sd)
  -- made after load_state_dict, the schedule first takes the loaded
  -- (scheduled) rates as its base; its own state puts the real base back
  local s3 = optim.cosine_schedule(o3, {warmup = 2, total = 6})
  s3:load_state_dict(ssd)
  eq(s3.base, {0.05, 0.02})
  eq(o3.param_groups[2].lr, o2.param_groups[2].lr, "lr restored from the state")
  eq(o3:state(resumed[1]).step, 3)
  eq(o3:state(resumed[2]).step, 2, "the second parameter skipped step 3")
  for t = 4, 6 do
    set_grads(resumed, t)
    o3:step()
    s3:step()
  end
  eq(flat(resumed), flat(full), "resumed run equals the uninterrupted one")
  eq(o3:state(resumed[1]).max_exp_avg_sq, o1:state(full[1]).max_exp_avg_sq)
  eq(s3.last_step, 6)
end

test("optimizer state_dict round trip continues identically", function()
  resume_matches(function(sd, ssd) return sd, ssd end)
end)

test("optimizer state_dict through tycho.save/load (safetensors)", function()
  local dir = tmpdir()
  resume_matches(function(sd, ssd)
    local p1, p2 = dir .. "/opt_state.safetensors", dir .. "/sched_state.safetensors"
    tycho.save(p1, sd)
    tycho.save(p2, ssd)
    local a, b = tycho.load(p1), tycho.load(p2)
    os.remove(p1)
    os.remove(p2)
    return a, b
  end)
end)

test("state_dict holds copies, hyperparameters and per-parameter state", function()
  local w = tycho.zeros(2):requires_grad_(true)
  local opt = optim.SGD({w}, {lr = 0.1, momentum = 0.9, nesterov = true})
  w.grad = tycho.ones(2)
  opt:step()
  local sd = opt:state_dict()
  near(sd["param_groups.1.lr"]:item(), 0.1)
  eq(sd["param_groups.1.nesterov"]:item(), 1)
  eq(sd["param_groups.1.n"]:item(), 1)
  eq(sd["state.1.step"]:item(), 1)
  eq(sd["state.1.momentum_buffer"], {1, 1})
  sd["state.1.momentum_buffer"]:fill_(7)
  eq(opt:state(w).momentum_buffer, {1, 1}, "a copy, not the buffer itself")
  -- loading also restores hyperparameters (booleans included)
  local v = tycho.zeros(2):requires_grad_(true)
  local o2 = optim.SGD({v}, {lr = 0.5, momentum = 0.1})
  o2:load_state_dict(opt:state_dict())
  eq(o2.param_groups[1].nesterov, true)
  near(o2.param_groups[1].lr, 0.1)
  near(o2.param_groups[1].momentum, 0.9)
end)

test("cosine_schedule: warm-up, cosine, end", function()
  local w = tycho.zeros(1):requires_grad_(true)
  local v = tycho.zeros(1):requires_grad_(true)
  local opt = optim.SGD({{params = {w}}, {params = {v}, lr = 0.01}}, {lr = 0.1})
  local s = optim.cosine_schedule(opt, {warmup = 10, total = 110})
  near(opt.param_groups[1].lr, 0.01, 1e-15, "step 0 set at once: 0.1 * 1/10")
  near(opt.param_groups[2].lr, 0.001, 1e-15, "each group from its own base")
  near(s:get_lr(4), 0.05, 1e-15)
  near(s:get_lr(9), 0.1, 1e-15, "end of warm-up")
  near(s:get_lr(10), 0.1, 1e-15, "cosine starts at the base")
  near(s:get_lr(35), 0.1 * 0.5 * (1 + math.cos(math.pi / 4)), 1e-15)
  near(s:get_lr(60), 0.05, 1e-15, "half way")
  near(s:get_lr(60, 2), 0.005, 1e-15)
  near(s:get_lr(110), 0, 1e-15, "end")
  near(s:get_lr(500), 0, 1e-15, "held after total")
  local lrs = {}
  for t = 1, 12 do lrs[t] = s:step() end
  near(lrs[1], 0.02, 1e-15)
  near(lrs[9], 0.1, 1e-15)
  near(lrs[11], 0.1 * 0.5 * (1 + math.cos(math.pi / 100)), 1e-15)
  near(opt.param_groups[2].lr, 0.01 * 0.5 * (1 + math.cos(math.pi * 2 / 100)), 1e-15)
  eq(s.last_step, 12)
  ok(tostring(s):find("step 12 of 110", 1, true), tostring(s))
  -- min_ratio and min_lr
  local o2 = optim.AdamW({tycho.zeros(1):requires_grad_(true)}, {lr = 1})
  local s2 = optim.cosine_schedule(o2, {total = 10, min_ratio = 0.1})
  near(o2.param_groups[1].lr, 1, 1e-15, "no warm-up: the base at once")
  near(s2:get_lr(5), 0.55, 1e-15)
  near(s2:get_lr(10), 0.1, 1e-15)
  local s3 = optim.cosine_schedule(o2, {total = 10, min_lr = 0.2})
  near(s3:get_lr(10), 0.2, 1e-15)
  -- warmup == total: the warm-up, then the minimum
  local o4 = optim.SGD({tycho.zeros(1):requires_grad_(true)}, {lr = 1})
  local s4 = optim.cosine_schedule(o4, {warmup = 4, total = 4})
  near(s4:get_lr(3), 1, 1e-15)
  near(s4:get_lr(4), 0, 1e-15)
end)

test("clip_grad_norm: 2-norm and inf-norm, returns the norm before clipping", function()
  local a = tycho.zeros(2):requires_grad_(true)
  local b = tycho.zeros(1):requires_grad_(true)
  local c = tycho.zeros(3):requires_grad_(true)
  a.grad, b.grad = tycho.tensor({3, 4}), tycho.tensor({12})
  local n = optim.clip_grad_norm({a, b, c}, 1.0)
  near(n, 13, 1e-6)
  near(a.grad, {3 / 13, 4 / 13}, 1e-6)
  near(b.grad, {12 / 13}, 1e-6)
  eq(c.grad, nil, "no gradient: skipped")
  -- below the bound: unchanged
  a.grad = tycho.tensor({0.3, 0.4})
  b.grad = nil
  near(optim.clip_grad_norm({a, b}, 1.0), 0.5, 1e-6)
  eq(a.grad, tycho.tensor({0.3, 0.4}))
  -- inf norm (math.huge or "inf")
  a.grad, b.grad = tycho.tensor({3, -4}), tycho.tensor({-12})
  near(optim.clip_grad_norm({a, b}, 6, math.huge), 12, 1e-6)
  near(a.grad, {1.5, -2}, 1e-6)
  near(b.grad, {-6}, 1e-6)
  near(optim.clip_grad_norm({a, b}, 100, "inf"), 6, 1e-6)
  -- f64 and another p
  local d = tycho.zeros(2, {dtype = "f64"}):requires_grad_(true)
  d.grad = tycho.tensor({1, 1}, {dtype = "f64"})
  near(optim.clip_grad_norm({d}, 10, 1), 2, 1e-12)
  -- a single tensor instead of a list, as PyTorch allows
  a.grad = tycho.tensor({6, 8})
  near(optim.clip_grad_norm(a, 5), 10, 1e-6)
  near(a.grad, {3, 4}, 1e-5)
end)

test("bad input: clear errors naming the function", function()
  local w = tycho.randn(3, {requires_grad = true})
  raises(function() optim.SGD({w * 2}, {lr = 1}) end,
         "optim.SGD: group 1, parameter 1: the tensor is not a leaf")
  raises(function() optim.Adam({tycho.zeros(3)}) end,
         "optim.Adam: group 1, parameter 1: the tensor does not require grad")
  raises(function() optim.AdamW({w}, {lrr = 1}) end, "optim.AdamW: unknown option 'lrr'")
  raises(function() optim.SGD({w}, {lr = -1}) end, "optim.SGD: lr must be a number >= 0, got -1")
  raises(function() optim.AdamW({w}, {lr = 0 / 0}) end, "optim.AdamW: lr must be")
  raises(function() optim.SGD({w, w}) end,
         "optim.SGD: parameter 2 of group 1 appears in more than one place")
  raises(function() optim.SGD({{params = {w}}, {params = {w}}}) end,
         "appears in more than one place")
  raises(function() optim.Adam({w}, {betas = {1, 0.9}}) end,
         "optim.Adam: betas[1] must be in [0, 1)")
  raises(function() optim.Adam({w}, {betas = {0.9}}) end, "optim.Adam: betas must be a pair")
  raises(function() optim.SGD({w}, {nesterov = true}) end, "optim.SGD: nesterov needs momentum > 0")
  raises(function() optim.SGD({}) end, "optim.SGD: no parameters given")
  raises(function() optim.SGD(w) end, "optim.SGD: argument 1 must be a list of parameters")
  raises(function() optim.SGD({{params = {w}, foo = 1}}) end,
         "optim.SGD: unknown group option 'foo'")
  raises(function() optim.SGD({"w"}) end, "optim.SGD")
  -- a hyperparameter broken after construction is caught at step
  local opt = optim.SGD({w}, {lr = 1})
  opt.param_groups[1].lr = -1
  w.grad = tycho.ones(3)
  local before = w:clone()
  local msg = raises(function() opt:step() end, "optim.SGD: lr must be a number >= 0")
  ok(msg:find("test_optim.lua", 1, true), "the error points at the caller: " .. msg)
  eq(w, before, "nothing changed")
  -- schedules
  raises(function() optim.cosine_schedule(opt, {total = 0}) end,
         "optim.cosine_schedule: total must be a positive integer")
  raises(function() optim.cosine_schedule(opt, {total = 10, warmup = 11}) end,
         "optim.cosine_schedule: warmup must be an integer in 0..total")
  raises(function() optim.cosine_schedule({}, {total = 10}) end,
         "optim.cosine_schedule: argument 1 must be an optimizer")
  -- clip_grad_norm
  raises(function() optim.clip_grad_norm({w}, "x") end,
         "optim.clip_grad_norm: max_norm must be a number")
  raises(function() optim.clip_grad_norm({w}, 1, -1) end, "clip_grad_norm: invalid norm_type")
  raises(function() optim.clip_grad_norm({w}, -1) end, "clip_grad_norm: invalid max_norm")
  raises(function() optim.clip_grad_norm(5, 1) end, "optim.clip_grad_norm: argument 1")
end)

test("load_state_dict refuses mis-shaped or foreign state and changes nothing", function()
  local p = tycho.randn(2, 3, {dtype = "f64", requires_grad = true})
  local opt = optim.Adam({p}, {lr = 0.1})
  p.grad = tycho.ones(2, 3, {dtype = "f64"})
  opt:step()
  local good = opt:state_dict()
  local m_before = opt:state(p).exp_avg:clone()
  local function with(key, value)
    local sd = {}
    for k, v in pairs(good) do sd[k] = v end
    sd[key] = value
    sd["param_groups.1.lr"] = tycho.tensor(0.5, {dtype = "f64"})
    return sd
  end
  raises(function() opt:load_state_dict(with("state.1.exp_avg", tycho.zeros(3, {dtype = "f64"}))) end,
         "optim.Adam:load_state_dict: exp_avg of parameter 1")
  local wrong = tycho.zeros(3, 2, {dtype = "f64"})
  raises(function() opt:load_state_dict(with("state.1.exp_avg", wrong)) end,
         "optim.Adam:load_state_dict: exp_avg of parameter 1 has shape (3, 2), the parameter (2, 3)")
  raises(function() opt:load_state_dict(with("state.1.exp_avg_sq", tycho.zeros(2, 3))) end,
         "exp_avg_sq of parameter 1 does not match")
  raises(function() opt:load_state_dict(with("param_groups.1.n", tycho.tensor(2, {dtype = "i64"}))) end,
         "optim.Adam:load_state_dict: group 1 has 1 parameters, the saved state has 2")
  raises(function() opt:load_state_dict(with("param_groups.2.n", tycho.tensor(1, {dtype = "i64"}))) end,
         "more than 1 parameter groups")
  raises(function() opt:load_state_dict(with("state.1.step", nil)) end,
         "missing entry 'state.1.step'")
  raises(function() opt:load_state_dict({}) end,
         "optim.Adam:load_state_dict: missing entry 'param_groups.1.n'")
  raises(function() opt:load_state_dict(5) end, "optim.Adam:load_state_dict: expected a table")
  eq(opt.param_groups[1].lr, 0.1, "lr unchanged after the errors")
  eq(opt:state(p).exp_avg, m_before, "state unchanged after the errors")
  eq(opt:state(p).step, 1)
end)

H.done()
