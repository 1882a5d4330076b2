-- Hypernetworks (lang/lua/tycho/hyper.lua): nn.functional_call against the
-- ordinary forward, gradients into the hypernetwork (gradcheck in f64),
-- chunking, hyperfan's initial scale, the continual-learning regulariser
-- and the errors for bad targets and conditions.
local H = dofile((arg and arg[0] or ""):match("(.*/)") .. "harness.lua")
local test, eq, near, raises, ok = H.test, H.eq, H.near, H.raises, H.ok
local tycho = rawget(_G, "tycho") or require("tycho")
local nn = rawget(_G, "nn") or require("tycho.nn")
local optim = rawget(_G, "optim") or require("tycho.optim")
local hyper = rawget(_G, "hyper") or require("tycho.hyper")

tycho.manual_seed(7)

-- eq over two lists of tensors (the harness compares one tensor at a time).
local function eq_all(a, b, what)
  eq(#a, #b, (what or "lists") .. ": length")
  for i = 1, #a do eq(a[i], b[i], (what or "list") .. " [" .. i .. "]") end
end

-- Options for either class (chunk only where it means something).
local function opts_for(cls, opts)
  if cls == hyper.HMLP then opts.chunk = nil end
  return opts
end

-- Fresh copies of a module's parameters, as a list in parameters() order.
local function copies(m)
  local out = {}
  for i, p in ipairs(m:parameters()) do out[i] = p:detach():clone() end
  return out
end

local function mlp()
  return nn.Sequential(nn.Linear(6, 5), nn.ReLU(), nn.Linear(5, 4), nn.Tanh(), nn.Linear(4, 3))
end

-- ---------------------------------------------------------------- functional_call

test("functional_call with a module's own weights equals its forward: Linear", function()
  local m = nn.Linear(4, 3)
  local x = tycho.randn(5, 4)
  eq(nn.functional_call(m, copies(m), x), m(x))
  eq(nn.functional_call(m, {weight = m.weight:clone(), bias = m.bias:clone()}, x), m(x))
  -- only some names: the others keep the module's tensors
  eq(nn.functional_call(m, {bias = m.bias:clone()}, x), m(x))
end)

test("functional_call with a module's own weights equals its forward: Sequential MLP", function()
  local m = mlp()
  local x = tycho.randn(7, 6)
  local own = m(x)
  eq(nn.functional_call(m, copies(m), x), own)
  local named = {}
  for name, p in pairs(m:named_parameters()) do named[name] = p:clone() end
  eq(nn.functional_call(m, named, x), own)
end)

test("functional_call with a module's own weights equals its forward: ViT", function()
  local m = nn.ViT({image = 8, patch = 4, channels = 1, dim = 16, depth = 2, heads = 2, mlp = 32,
                    classes = 3})
  m:eval()
  local x = tycho.randn(2, 1, 8, 8)
  local own = m(x)
  eq(nn.functional_call(m, copies(m), x), own)
  eq(#m:param_shapes(), #m:parameters())
end)

test("functional_call uses the given weights and leaves the module as it was", function()
  local m = mlp()
  local x = tycho.randn(3, 6)
  local before = copies(m)
  local other = mlp()
  local got = nn.functional_call(m, copies(other), x)
  eq(got, other(x), "runs with the given weights")
  eq_all(copies(m), before, "the module keeps its own weights")
  eq(m(x), nn.functional_call(m, before, x))
  -- even when the forward fails
  raises(function() nn.functional_call(m, copies(other), tycho.randn(3, 5)) end, "Linear")
  eq_all(copies(m), before)
end)

test("functional_call refuses tensors of the wrong shape or number", function()
  local m = nn.Linear(4, 3)
  raises(function() nn.functional_call(m, {tycho.randn(3, 4)}, tycho.randn(1, 4)) end,
         "1 tensors given for 2 parameters")
  raises(function() nn.functional_call(m, {weight = tycho.randn(4, 3)}, tycho.randn(1, 4)) end,
         "'weight' has shape (4, 3), the module expects (3, 4)")
end)

-- ---------------------------------------------------------------- hypernetwork outputs

test("HMLP makes tensors shaped like the targets; list and flat agree", function()
  local target = mlp()
  local h = hyper.HMLP(target:param_shapes(), {num_cond = 3, cond_dim = 4, layers = {8}})
  local ws = h({cond_id = 2})
  eq(#ws, #target:parameters())
  for i, p in ipairs(target:parameters()) do eq(ws[i].shape, p.shape, "target " .. i) end
  local flat = h({cond_id = 2, ret_format = "flat"})
  eq(flat:numel(), target:num_parameters())
  local pieces = {}
  for i, w in ipairs(ws) do pieces[i] = w:reshape(-1) end
  eq(tycho.cat(pieces, 1), flat)
  eq_all(h(2), ws, "h(i) is h({cond_id = i})")
  -- plain shape lists work too, and so does the module itself
  local h2 = hyper.HMLP({{5, 6}, {5}}, {num_cond = 1, layers = {}})
  eq(h2(1)[1].shape, {5, 6})
  eq(#hyper.HMLP(target, {num_cond = 1})(1), 6)
end)

test("batched conditions give outputs with a batch dim, equal to one at a time", function()
  for _, cls in ipairs({hyper.HMLP, hyper.ChunkedHMLP}) do
    local h = cls({{3, 2}, {3}}, opts_for(cls, {num_cond = 3, cond_dim = 4, layers = {8}, chunk = 4}))
    local both = h({cond_id = {3, 1}})
    eq(both[1].shape, {2, 3, 2})
    near(both[1][1], h(3)[1], 1e-6)
    near(both[2][2], h(1)[2], 1e-6)
    local conds = tycho.randn(2, 4)
    local ext = h({cond = conds})
    near(ext[1][2], h({cond = conds[2]})[1], 1e-6)
  end
end)

test("external conditions and unconditional inputs", function()
  local h = hyper.HMLP({{2, 2}}, {cond_dim = 3, uncond_dim = 2, layers = {5}})
  local c, u = tycho.randn(3), tycho.randn(2)
  local w = h({cond = c, uncond = u})
  eq(w[1].shape, {2, 2})
  ok(not tycho.equal(w[1], h({cond = c, uncond = u * 2})[1]), "the unconditional input matters")
  -- a 1-D unconditional input is shared by a batch of conditions
  local wb = h({cond = tycho.stack({c, c * 0.5}, 1), uncond = u})
  near(wb[1][1], w[1], 1e-6)
  local hu = hyper.ChunkedHMLP({{4, 4}}, {uncond_dim = 3, chunk = 5, layers = {6}})
  eq(hu({uncond = tycho.randn(3)})[1].shape, {4, 4})
end)

test("ChunkedHMLP: chunk j is the network applied to [condition, chunk embedding j]", function()
  local targets = {{3, 5}, {3}, {2, 3}, {2}}   -- 26 values: 4 chunks of 7, 2 values discarded
  local h = hyper.ChunkedHMLP(targets, {num_cond = 2, cond_dim = 3, chunk = 7, chunk_emb = 2,
                                        layers = {6}, activation = "tanh"}):double()
  eq(h.num_chunks, 4)
  local flat = h({cond_id = 2, ret_format = "flat"})
  eq(flat.shape, {26})
  -- every chunk on its own, laid end to end, cut at 26 values
  local rows = {}
  for j = 1, 4 do
    local inp = tycho.cat({h:embedding(2), h.chunk_embs[j]}, 1)
    local hid = h.hidden[1](inp):tanh()
    rows[j] = h.head(hid)
  end
  local manual = tycho.cat(rows, 1):narrow(1, 1, 26) * h.out_scale + h.out_shift
  near(flat, manual, 1e-12)
  -- the list is the flat output cut into the target shapes, exactly
  local ws = h(2)
  eq(ws[1], flat:narrow(1, 1, 15):reshape(3, 5))
  eq(ws[2], flat:narrow(1, 16, 3))
  eq(ws[3], flat:narrow(1, 19, 6):reshape(2, 3))
  eq(ws[4], flat:narrow(1, 25, 2))
  -- one chunk larger than the target: a single chunk
  eq(hyper.ChunkedHMLP(targets, {num_cond = 1, chunk = 100}).num_chunks, 1)
end)

test("ChunkedHMLP reports its compression ratio", function()
  local target = nn.Sequential(nn.Linear(100, 100), nn.ReLU(), nn.Linear(100, 10))
  local h = hyper.ChunkedHMLP(target:param_shapes(), {num_cond = 2, chunk = 500, layers = {16}})
  local s = tostring(h)
  ok(s:find("compression ratio", 1, true), s)
  ok(s:find("11110 values", 1, true), s)
  near(h:compression_ratio(), h:num_parameters() / 11110, 1e-12)
  ok(h:compression_ratio() < 1, "fewer parameters than the target")
  ok(tostring(hyper.HMLP({{2}}, {num_cond = 1})):find("compression ratio", 1, true))
end)

-- ---------------------------------------------------------------- gradients

test("gradients reach every hypernetwork parameter and the embeddings through the target",
     function()
  for _, cls in ipairs({hyper.HMLP, hyper.ChunkedHMLP}) do
    local target = mlp()
    local h = cls(target:param_shapes(), opts_for(cls, {num_cond = 3, cond_dim = 4, layers = {8}, chunk = 32}))
    local x = tycho.randn(4, 6)
    local y = nn.functional_call(target, h({cond_id = 2}), x)
    y:pow(2):sum():backward()
    for name, p in pairs(h:named_parameters()) do
      local used = not name:match("^cond_embs%.") or name == "cond_embs.2"
      eq(p.grad ~= nil, used, name .. " has a gradient")
    end
    eq(target.weight, nil)   -- (sanity: Sequential has no own weight)
    for _, p in ipairs(target:parameters()) do eq(p.grad, nil, "the target's own weights are not used") end
  end
end)

-- f64 gradient checks on tiny hypernetworks (tanh hidden layers: no kinks
-- for the finite differences to straddle)
test("gradcheck: HMLP parameters and embeddings through a target network", function()
  local target = nn.Linear(3, 2):double()
  local h = hyper.HMLP(target:param_shapes(), {num_cond = 2, cond_dim = 3, layers = {4},
                                               activation = "tanh"}):double()
  local x = tycho.randn(5, 3, {dtype = "f64"})
  local params = h:parameters()
  local good, msg = tycho.gradcheck(function(...)
    local ws = nn.functional_call(h, {...}, {cond_id = {1, 2}})
    -- both conditions' targets applied to x
    local y1 = tycho.linear(x, ws[1][1], ws[2][1])
    local y2 = tycho.linear(x, ws[1][2], ws[2][2])
    return (y1 * y2):tanh()
  end, params)
  eq(good, true, msg)
  eq(#params, 2 + 2 + 4)
end)

test("gradcheck: ChunkedHMLP parameters, chunk and condition embeddings", function()
  local h = hyper.ChunkedHMLP({{2, 3}, {2}}, {num_cond = 1, cond_dim = 2, chunk = 3, chunk_emb = 2,
                                              layers = {3}, activation = "tanh"}):double()
  local x = tycho.randn(4, 3, {dtype = "f64"})
  local good, msg = tycho.gradcheck(function(...)
    local ws = nn.functional_call(h, {...}, {cond_id = 1})
    return tycho.linear(x, ws[1], ws[2]):sigmoid()
  end, h:parameters())
  eq(good, true, msg)
end)

-- ---------------------------------------------------------------- initialisation

test("hyperfan init: generated weights have the variance Kaiming would give the target",
     function()
  local target = nn.Sequential(nn.Linear(400, 200), nn.ReLU(), nn.Linear(200, 10))
  for _, cls in ipairs({hyper.HMLP, hyper.ChunkedHMLP}) do
    local h = cls(target:param_shapes(), opts_for(cls, {num_cond = 16, cond_dim = 8,
                                                        layers = {64, 64}, chunk = 100}))
    local ids = {}
    for i = 1, 16 do ids[i] = i end
    local ws = h({cond_id = ids})
    -- hyperfan-in with biases: Var(W) = 2 / (2 fan_in), Var(b) = 1
    local function rel(t, var) return t:pow(2):mean():item() / var end
    local r1, r2 = rel(ws[1], 1 / 400), rel(ws[3], 1 / 200)
    ok(r1 > 0.6 and r1 < 1.6, string.format("%s: layer 1 weights at %.2f of the variance", cls.__name, r1))
    ok(r2 > 0.6 and r2 < 1.6, string.format("%s: layer 2 weights at %.2f of the variance", cls.__name, r2))
    local rb = rel(ws[2], 1)
    ok(rb > 0.5 and rb < 2, string.format("%s: biases at %.2f of the variance", cls.__name, rb))
    -- so the target's outputs start at a sensible scale on unit inputs
    local y = nn.functional_call(target, h(3), tycho.randn(64, 400))
    local s = y:std():item()
    ok(s > 0.3 and s < 5, string.format("%s: target output std %.3f", cls.__name, s))
  end
end)

test("hyperfan init: LayerNorm gains start near 1, shifts near 0", function()
  local target = nn.Sequential(nn.Linear(8, 8), nn.LayerNorm(8))
  local h = hyper.HMLP(target:param_shapes(), {num_cond = 1, layers = {16}})
  local ws = h(1)
  near(ws[3]:mean():item(), 1, 0.15, "gain")
  ok(ws[4]:abs():max():item() < 0.6, "shift")
  local hc = hyper.ChunkedHMLP(target:param_shapes(), {num_cond = 1, chunk = 16, layers = {16}})
  near(hc(1)[3]:mean():item(), 1, 0.15, "gain (chunked)")
end)

test("init = 'default' keeps nn.Linear's initialisation and emb_std the embeddings' scale",
     function()
  tycho.manual_seed(3)
  local h = hyper.ChunkedHMLP({{10, 10}}, {num_cond = 1, chunk = 50, layers = {4}, init = "default",
                                            emb_std = 0.1})
  eq(h.out_scale, nil, "no output scaling")
  local bound = 1 / math.sqrt(4)
  ok(h.head.weight:abs():max():item() <= bound, "Linear's U(+-1/sqrt(fan_in))")
  ok(h.chunk_embs:std():item() < 0.2, "embeddings N(0, 0.1^2)")
end)

-- ---------------------------------------------------------------- modules

test("hypernetworks are modules: parameters, state_dict, shared_parameters, embedding", function()
  local h = hyper.HMLP({{3, 2}, {3}}, {num_cond = 2, cond_dim = 4, layers = {5}})
  local names = {}
  for name in pairs(h:named_parameters()) do names[#names + 1] = name end
  eq(names, {"cond_embs.1", "cond_embs.2", "hidden.1.weight", "hidden.1.bias", "heads.1.weight",
             "heads.1.bias", "heads.2.weight", "heads.2.bias"})
  eq(#h:shared_parameters(), 6)
  ok(rawequal(h:embedding(2), h:parameters()[2]))
  local h2 = hyper.HMLP({{3, 2}, {3}}, {num_cond = 2, cond_dim = 4, layers = {5}})
  h2:load_state_dict(h:state_dict())
  eq_all(h2(1), h(1))
  local c = hyper.ChunkedHMLP({{3, 2}}, {num_cond = 2, chunk = 4})
  local sd = c:state_dict()
  ok(sd.out_scale ~= nil and sd.chunk_embs ~= nil, "buffers and chunk embeddings are saved")
  eq(h:target_shapes(), {{3, 2}, {3}})
end)

-- ---------------------------------------------------------------- continual learning

-- A tiny continual setup: a hypernetwork for a 4-3-2 target, two tasks of
-- random regression targets.
local function continual_setup(beta, lookahead)
  tycho.manual_seed(11)
  local target = nn.Sequential(nn.Linear(4, 3), nn.Tanh(), nn.Linear(3, 2))
  local h = hyper.HMLP(target:param_shapes(), {num_cond = 2, cond_dim = 3, layers = {10}})
  local reg = hyper.ContinualRegularizer(h, {beta = beta, lookahead = lookahead})
  local x, y = tycho.randn(16, 4), tycho.randn(16, 2)
  local function task_loss(id)
    return nn.functional.mse_loss(nn.functional_call(target, h(id), x), y)
  end
  return h, reg, task_loss
end

test("the regulariser is zero right after the targets are stored", function()
  local h, reg = continual_setup(0.5, false)
  eq(#reg, 0)
  eq(reg:penalty():item(), 0, "nothing stored")
  reg:store(1)
  eq(#reg, 1)
  eq(reg:penalty():item(), 0)
  eq_all(reg:target(1), h(1))
  -- with lookahead, and no gradients yet, the lookahead step is zero
  local hl, regl = continual_setup(0.5, true)
  regl:store(1)
  eq(regl:penalty({optimizer = optim.Adam(hl:parameters())}):item(), 0)
  eq(regl:ids(), {1})
end)

test("the regulariser keeps the outputs for an earlier task in place", function()
  local drift = {}
  for _, beta in ipairs({0, 10}) do
    local h, reg, task_loss = continual_setup(beta, false)
    reg:store(1)
    local before = h(1)
    local params = h:shared_parameters()
    params[#params + 1] = h:embedding(2)
    local opt = optim.Adam(params, {lr = 1e-2})
    for _ = 1, 60 do
      opt:zero_grad()
      local loss = task_loss(2) + reg:penalty()
      loss:backward()
      opt:step()
    end
    local d = 0
    for i, w in ipairs(h(1)) do d = d + (w - before[i]):pow(2):sum():item() end
    drift[beta] = d
    eq(h:embedding(1).grad, nil, "the earlier task's embedding is not trained")
  end
  ok(drift[10] < 0.1 * drift[0], string.format("drift %.3g with the regulariser, %.3g without",
                                               drift[10], drift[0]))
end)

test("lookahead: penalty() leaves parameters and optimizer state as they were", function()
  local h, reg, task_loss = continual_setup(1, true)
  reg:store(1)
  local opt = optim.Adam(h:parameters(), {lr = 1e-2})
  for _ = 1, 3 do
    opt:zero_grad()
    task_loss(2):backward()
    opt:step()
  end
  opt:zero_grad()
  task_loss(2):backward()
  local before = copies(h)
  local state = opt:state(h:parameters()[3])
  local step, avg = state.step, state.exp_avg:clone()
  local p = reg:penalty({optimizer = opt})
  ok(p:item() > 0, "the lookahead moves the outputs for task 1")
  eq_all(copies(h), before, "parameters restored")
  local after = opt:state(h:parameters()[3])
  eq(after.step, step)
  eq(after.exp_avg, avg)
  p:backward()
  ok(h.heads[1].weight.grad ~= nil)
  raises(function() reg:penalty() end, "lookahead needs {optimizer = opt}")
end)

test("penalty: exclude, batch subsets and storing again", function()
  local h, _ = continual_setup(1, false)
  local reg = hyper.ContinualRegularizer(h, {beta = 2, batch = 1})
  reg:store(1):store(2)
  eq(#reg, 2)
  eq(reg:penalty({exclude = 1}):item(), 0)
  reg:store(2)
  eq(#reg, 2, "storing again replaces")
  eq(tostring(reg):match("2 stored"), "2 stored")
  -- external conditions are stored under any key
  local he = hyper.HMLP({{2}}, {cond_dim = 2, layers = {3}})
  local rege = hyper.ContinualRegularizer(he)
  rege:store("a", {cond = tycho.randn(2)})
  eq(rege:penalty():item(), 0)
end)

-- ---------------------------------------------------------------- errors

test("bad target shapes give errors naming the function and the value", function()
  raises(function() hyper.HMLP({}, {num_cond = 1}) end, "hyper.HMLP: target_shapes must be a non-empty list")
  raises(function() hyper.HMLP("x", {num_cond = 1}) end, "got string")
  raises(function() hyper.HMLP({{4, 0}}, {num_cond = 1}) end,
         "target_shapes[1] has a bad size 0 in dim 2")
  raises(function() hyper.ChunkedHMLP({{4}, {2, -3}}, {num_cond = 1}) end,
         "hyper.ChunkedHMLP: target_shapes[2] has a bad size -3 in dim 2")
  raises(function() hyper.HMLP({{4, 2.5}}, {num_cond = 1}) end, "bad size 2.5")
  raises(function() hyper.HMLP({{}}, {num_cond = 1}) end, "target_shapes[1] must be a shape")
  raises(function() hyper.HMLP({4, 3}, {num_cond = 1}) end, "target_shapes[1] must be a shape")
  raises(function() hyper.HMLP({{2}}, {num_cond = 1, layer = {3}}) end, "unknown option 'layer'")
  raises(function() hyper.HMLP({{2}}, {num_cond = 1, layers = {0}}) end, "layers[1] must be a positive integer")
  raises(function() hyper.HMLP({{2}}, {}) end, "has no input")
  raises(function() hyper.ChunkedHMLP({{2}}, {num_cond = 1, chunk = 0}) end, "chunk must be an integer >= 1")
  raises(function() hyper.HMLP({{2}}, {num_cond = 1, ret_format = "dict"}) end, "ret_format must be")
end)

test("errors point at the caller's line", function()
  local msg = raises(function() hyper.HMLP({{0}}, {num_cond = 1}) end, "bad size 0")
  ok(msg:find("test_hyper.lua", 1, true), msg)
end)

test("bad condition ids and inputs give clear errors", function()
  local h = hyper.ChunkedHMLP({{2, 2}}, {num_cond = 3, cond_dim = 4, chunk = 3})
  raises(function() h({cond_id = 4}) end, "hyper.ChunkedHMLP: cond_id 4 is out of range (the conditions are 1..3)")
  raises(function() h({cond_id = 0}) end, "cond_id 0 is out of range")
  raises(function() h({cond_id = 1.5}) end, "cond_id must be an integer or a list of integers, got 1.5")
  raises(function() h({cond_id = {1, 9}}) end, "cond_id 9 is out of range")
  raises(function() h({}) end, "a condition is needed")
  raises(function() h({cond_id = 1, cond = tycho.randn(4)}) end, "either cond_id or cond")
  raises(function() h({cond = tycho.randn(5)}) end, "cond must have shape (4) or (batch, 4), got (5)")
  raises(function() h({cond_id = 1, task = 2}) end, "unknown input 'task'")
  raises(function() h({cond_id = 1, uncond = tycho.randn(2)}) end, "no unconditional input")
  raises(function() h("one") end, "expected {cond_id = i}")
  raises(function() h:embedding(7) end, "cond_id 7 is out of range")
  local ext = hyper.HMLP({{2}}, {cond_dim = 2})
  raises(function() ext({cond_id = 1}) end, "no learned condition embeddings (num_cond = 0)")
  local hu = hyper.HMLP({{2}}, {num_cond = 1, uncond_dim = 3})
  raises(function() hu(1) end, "unconditional input is missing")
  local reg = hyper.ContinualRegularizer(h)
  raises(function() reg:store(5) end, "cond_id 5 is out of range")
  raises(function() hyper.ContinualRegularizer(nn.Linear(2, 2)) end, "must be a hypernetwork")
  raises(function() hyper.ContinualRegularizer(h, {beta = -1}) end, "beta must be a number >= 0")
  -- a hypernetwork made for another target: functional_call says which tensor
  local hw = hyper.HMLP({{3, 4}, {3}}, {num_cond = 1})
  raises(function() nn.functional_call(nn.Linear(4, 2), hw(1), tycho.randn(1, 4)) end,
         "the module expects (2")
end)

H.done()
