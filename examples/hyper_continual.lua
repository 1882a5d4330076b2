-- Continual learning with a hypernetwork (von Oswald, Henning, Grewe and
-- Sacramento, "Continual learning with hypernetworks", ICLR 2020), side by
-- side with plain fine-tuning of one network.
--
-- Tasks arrive one after another. The hypernetwork has one learned
-- embedding per task and generates all weights of the target MLP for that
-- task; after each task its output for the task is stored, and while later
-- tasks are learned hyper.ContinualRegularizer keeps those outputs in place
-- (with the lookahead of the paper). Fine-tuning trains one MLP of the same
-- shape on each task in turn and forgets. After each task the accuracy on
-- every task learned so far is printed for both.
--
--   split Fashion-MNIST: 5 tasks of 2 classes (T-shirt/Trouser, Pullover/
--     Dress, ...), outputs 1/2 = the task's first/second class; the task
--     identity is given at test time (task-incremental, CL1 of the paper)
--   permuted Fashion-MNIST: 10 tasks, all 10 classes, each task with its own
--     fixed random permutation of the 784 pixels
--
--   tycho examples/hyper_continual.lua [--quick] [--split-only | --permuted-only]
-- --quick (or TYCHO_QUICK=1, as make check runs it) trains a few dozen
-- steps per task on a subset: it shows the mechanics in seconds, not the
-- accuracies of the full run. With the viz module, one accuracy curve per
-- task is drawn live (PNG files with --headless).
local tycho = rawget(_G, "tycho") or require("tycho")
local nn = rawget(_G, "nn") or require("tycho.nn")
local optim = rawget(_G, "optim") or require("tycho.optim")
local data = rawget(_G, "data") or require("tycho.data")
local hyper = rawget(_G, "hyper") or require("tycho.hyper")

local quick = os.getenv("TYCHO_QUICK") == "1"
-- make check under the sanitizers skips the examples (exit 77): the unit
-- tests cover the same code, and a training run under ASan is slow
if quick and os.getenv("TYCHO_SANITIZERS") == "yes" then
  print("SKIP: examples are not run under the sanitizers")
  os.exit(77)
end
local run_split, run_permuted = true, true
for _, a in ipairs(arg or {}) do
  if a == "--quick" then quick = true
  elseif a == "--split-only" then run_permuted = false
  elseif a == "--permuted-only" then run_split = false
  else error("hyper_continual: unknown argument " .. a .. " (--quick, --split-only, --permuted-only)", 0)
  end
end

-- The settings: the full run follows the paper's scale (a 784-100-100
-- target, a chunked hypernetwork, Adam 1e-3, beta 0.01); the quick run is
-- the same code with far fewer steps and examples.
local S = {
  steps = quick and 30 or 1000,        -- training steps per task
  batch = quick and 64 or 128,
  train_per_task = quick and 2000 or nil,   -- examples per task (nil: all)
  test_per_task = quick and 1000 or nil,
  lr = 1e-3,
  beta = 0.01,
  reg_batch = quick and 1 or nil,      -- earlier tasks regularised per step (nil: all)
  permuted_tasks = 10,
}

-- viz is optional: plots appear when the module is there, and a failing
-- plot never stops the experiment.
local viz_ok, viz = pcall(function() return rawget(_G, "viz") or _G.viz end)
local configured = {}
local function plot(name, x, y, series)
  if not (viz_ok and viz) then return end
  pcall(viz.plot, name, x, y, {series = series})
  if not configured[name] then
    -- accuracies are read point by point: no smoothing
    configured[name] = true
    pcall(viz.config, name, {smoothing = 0, raw = false, xlabel = "tasks learned",
                             ylabel = "test accuracy (%)"})
  end
end

-- ---------------------------------------------------------------- data

local ok_data, train = pcall(data.fashion_mnist, "train")
if not ok_data then
  print("hyper_continual: skipped, no Fashion-MNIST: " .. tostring(train))
  os.exit(77) -- automake's "skipped"
end
local test = data.fashion_mnist("test")

-- Standardised, flattened images (N, 784).
local function flat(images)
  return ((images - 0.2860) / 0.3530):reshape(images:size(1), 784)
end

local function first(ds, n)
  if n == nil or n >= #ds then return ds end
  return data.dataset(ds.images:narrow(1, 1, n), ds.labels:narrow(1, 1, n))
end

-- A task: {name =, train = dataset (x (N, 784), labels), test = ..., classes = n}.
local function split_tasks()
  local tasks = {}
  for t = 1, 5 do
    local a, b = 2 * t - 1, 2 * t
    local function make(ds, n)
      local sub = first(data.filter_classes(ds, {a, b}), n)
      -- labels a, b -> 1, 2 (the outputs of this task's head)
      return data.dataset(flat(sub.images), sub.labels - (a - 1))
    end
    tasks[t] = {name = data.fashion_mnist_classes[a] .. "/" .. data.fashion_mnist_classes[b],
                train = make(train, S.train_per_task), test = make(test, S.test_per_task),
                classes = 2}
  end
  return tasks
end

local function permuted_tasks(n)
  local tr = first(train, S.train_per_task)
  local te = first(test, S.test_per_task)
  local xtr, xte = flat(tr.images), flat(te.images)
  local tasks = {}
  for t = 1, n do
    -- task 1 keeps the pixels in order, as in the paper's PermutedMNIST
    local perm = t == 1 and tycho.arange(1, 785) or tycho.randperm(784)
    tasks[t] = {name = "permutation " .. t,
                train = data.dataset(xtr:index_select(2, perm), tr.labels),
                test = data.dataset(xte:index_select(2, perm), te.labels), classes = 10}
  end
  return tasks
end

-- ---------------------------------------------------------------- models

local function target_mlp(classes)
  return nn.Sequential(nn.Linear(784, 100), nn.ReLU(), nn.Linear(100, 100), nn.ReLU(),
                       nn.Linear(100, classes))
end

-- Accuracy (%) of logits_fn on a task's test set.
local function accuracy(logits_fn, task)
  return tycho.no_grad(function()
    local correct, n = 0, 0
    for x, y in data.loader(task.test, {batch = 1000}) do
      local _, pred = logits_fn(x):max(2)
      correct = correct + pred:eq(y):sum():item()
      n = n + x:size(1)
    end
    return 100 * correct / n
  end)
end

-- Learns the tasks one after another with a hypernetwork; calls report(t,
-- accuracies on tasks 1..t) after each.
local function run_hnet(tasks, report, tag)
  local target = target_mlp(tasks[1].classes)
  local h = hyper.ChunkedHMLP(target:param_shapes(), {num_cond = #tasks, cond_dim = 32,
                                                      chunk = 2000, chunk_emb = 32,
                                                      layers = {100, 100}})
  local reg = hyper.ContinualRegularizer(h, {beta = S.beta, lookahead = true, batch = S.reg_batch})
  local function logits(t, x) return nn.functional_call(target, h(t), x) end
  for t, task in ipairs(tasks) do
    -- the shared weights and this task's embedding; earlier embeddings stay as they are
    local params = h:shared_parameters()
    params[#params + 1] = h:embedding(t)
    local opt = optim.Adam(params, {lr = S.lr})
    local loader = data.loader(task.train, {batch = S.batch, shuffle = true, drop_last = true})
    for _ = 1, S.steps do
      local x, y = loader()
      if x == nil then x, y = loader() end   -- a new epoch
      opt:zero_grad()
      tycho.cross_entropy(logits(t, x), y):backward()
      if #reg > 0 then reg:penalty({optimizer = opt}):backward() end
      opt:step()
    end
    reg:store(t)
    local accs = {}
    for k = 1, t do accs[k] = accuracy(function(x) return logits(k, x) end, tasks[k]) end
    report(t, accs)
  end
  return h, target
end

-- The same tasks, one MLP fine-tuned on each in turn.
local function run_finetune(tasks, report)
  local m = target_mlp(tasks[1].classes)
  local opt = optim.Adam(m:parameters(), {lr = S.lr})
  for t, task in ipairs(tasks) do
    local loader = data.loader(task.train, {batch = S.batch, shuffle = true, drop_last = true})
    for _ = 1, S.steps do
      local x, y = loader()
      if x == nil then x, y = loader() end
      opt:zero_grad()
      tycho.cross_entropy(m(x), y):backward()
      opt:step()
    end
    local accs = {}
    for k = 1, t do accs[k] = accuracy(function(x) return m(x) end, tasks[k]) end
    report(t, accs)
  end
end

-- ---------------------------------------------------------------- the experiment

local function mean(list)
  local s = 0
  for _, v in ipairs(list) do s = s + v end
  return s / #list
end

local function experiment(title, tasks)
  print(string.format("\n== %s: %d tasks, %d steps of %d per task, %s ==", title, #tasks, S.steps,
                      S.batch, quick and "quick run" or "full run"))
  local hn, ft = {}, {}
  local t0 = tycho.time()
  local h = run_hnet(tasks, function(t, accs)
    hn[t] = accs
    print(string.format("  hypernetwork: task %d learned, mean accuracy so far %.1f%%", t, mean(accs)))
    for k, a in ipairs(accs) do plot(title .. ": hypernetwork accuracy", t, a, "task " .. k) end
  end)
  local t_hnet = tycho.time() - t0
  t0 = tycho.time()
  run_finetune(tasks, function(t, accs)
    ft[t] = accs
    print(string.format("  fine-tuning: task %d learned, mean accuracy so far %.1f%%", t, mean(accs)))
    for k, a in ipairs(accs) do plot(title .. ": fine-tuning accuracy", t, a, "task " .. k) end
  end)
  local t_ft = tycho.time() - t0
  print(string.format("hypernetwork: %s", tostring(h):match("[^\n]*compression ratio[^\n]*")))
  print("accuracy (%) on each task learned so far, after learning task t:")
  print("                      hypernetwork + regulariser        | fine-tuning one network")
  for t = 1, #tasks do
    local a, b = {}, {}
    for k = 1, t do
      a[k] = string.format("%5.1f", hn[t][k])
      b[k] = string.format("%5.1f", ft[t][k])
    end
    print(string.format("after task %2d: mean %5.1f  [%s]  | mean %5.1f  [%s]", t, mean(hn[t]),
                        table.concat(a, " "), mean(ft[t]), table.concat(b, " ")))
  end
  local last = #tasks
  print(string.format("%s final mean accuracy: hypernetwork %.1f%%, fine-tuning %.1f%% "
                      .. "(task 1 now: %.1f%% vs %.1f%%); %.0f s and %.0f s",
                      title, mean(hn[last]), mean(ft[last]), hn[last][1], ft[last][1], t_hnet, t_ft))
  return mean(hn[last]), mean(ft[last])
end

tycho.manual_seed(0)
local results = {}
if run_split then results.split = {experiment("split Fashion-MNIST", split_tasks())} end
if run_permuted then
  results.permuted = {experiment("permuted Fashion-MNIST", permuted_tasks(S.permuted_tasks))}
end

-- In the quick run (make check) the point is that everything runs and the
-- hypernetwork learned something; the full run's numbers are the result.
if quick then
  -- chance is 50% for the split tasks, 10% for the permuted ones
  local floor = {split = 60, permuted = 30}
  for name, r in pairs(results) do
    if not (r[1] > floor[name]) then
      io.stderr:write(string.format("hyper_continual: %s: hypernetwork mean accuracy %.1f%% is "
                                    .. "near chance\n", name, r[1]))
      os.exit(1)
    end
  end
end
print("hyper_continual: ok")
