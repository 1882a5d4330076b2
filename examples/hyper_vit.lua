-- A chunked hypernetwork that generates every weight of a small vision
-- transformer, trained on Fashion-MNIST through nn.functional_call.
--
-- The ViT (patch 7: 16 patches + a class token, width 48, 2 blocks of 4
-- heads, MLP 96) has about 42,000 weights. None of them is trained: a
-- hyper.ChunkedHMLP makes them all, 512 at a time, from one condition
-- embedding and a learned embedding per chunk, and Adam trains the
-- hypernetwork (about half as many parameters as the ViT) through the
-- ViT's loss. For comparison the full run also trains the same ViT directly.
--
--   tycho examples/hyper_vit.lua [--quick] [--epochs N]
-- --quick (or TYCHO_QUICK=1, as make check runs it) trains a few dozen
-- steps on a subset.
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
local epochs = 3
local i = 1
while arg and arg[i] do
  if arg[i] == "--quick" then quick = true
  elseif arg[i] == "--epochs" then
    i = i + 1
    epochs = math.tointeger(tonumber(arg[i])) or error("hyper_vit: --epochs needs a number", 0)
  else error("hyper_vit: unknown argument " .. arg[i] .. " (--quick, --epochs N)", 0)
  end
  i = i + 1
end

local S = {
  batch = quick and 64 or 128,
  steps = quick and 40 or nil,          -- nil: `epochs` passes over the training set
  train_n = quick and 4000 or nil,
  test_n = quick and 1000 or nil,
  lr = 1e-3,
}

local viz_ok, viz = pcall(function() return rawget(_G, "viz") or _G.viz end)
local function plot(name, x, y, series)
  if viz_ok and viz then pcall(viz.plot, name, x, y, {series = series}) end
end

local ok_data, train = pcall(data.fashion_mnist, "train")
if not ok_data then
  print("hyper_vit: skipped, no Fashion-MNIST: " .. tostring(train))
  os.exit(77)
end
local test = data.fashion_mnist("test")
local function first(ds, n)
  if n == nil or n >= #ds then return ds end
  return data.dataset(ds.images:narrow(1, 1, n), ds.labels:narrow(1, 1, n))
end
local function standardise(ds)
  return data.dataset((ds.images - 0.2860) / 0.3530, ds.labels)
end
train, test = standardise(first(train, S.train_n)), standardise(first(test, S.test_n))

tycho.manual_seed(0)
local vit = nn.ViT({image = 28, patch = 7, channels = 1, dim = 48, depth = 2, heads = 4, mlp = 96,
                    classes = 10})
local h = hyper.ChunkedHMLP(vit:param_shapes(), {num_cond = 1, cond_dim = 8, chunk = 512,
                                                 chunk_emb = 24, layers = {32}})
print(h)

local function accuracy(logits_fn)
  return tycho.no_grad(function()
    local correct, n = 0, 0
    for x, y in data.loader(test, {batch = 500}) do
      local _, pred = logits_fn(x):max(2)
      correct = correct + pred:eq(y):sum():item()
      n = n + x:size(1)
    end
    return 100 * correct / n
  end)
end

-- Trains `params` with loss_fn(x, y) for the configured steps or epochs;
-- returns the test accuracy of logits_fn and the seconds it took.
local function train_model(name, params, loss_fn, logits_fn)
  local opt = optim.AdamW(params, {lr = S.lr, weight_decay = 0})
  local loader = data.loader(train, {batch = S.batch, shuffle = true, drop_last = true})
  local steps = S.steps or epochs * #loader
  local t0, smooth = tycho.time(), nil
  for step = 1, steps do
    local x, y = loader()
    if x == nil then x, y = loader() end
    opt:zero_grad()
    local loss = loss_fn(x, y)
    loss:backward()
    opt:step()
    local l = loss:item()
    smooth = smooth and 0.98 * smooth + 0.02 * l or l
    if step % 10 == 0 then plot("hyper_vit: training loss", step, smooth, name) end
    if step % 200 == 0 or step == steps then
      print(string.format("  %s step %4d/%d  loss %.3f", name, step, steps, smooth))
    end
  end
  return accuracy(logits_fn), tycho.time() - t0
end

print(string.format("training the hypernetwork: %d parameters generate the ViT's %d", h:num_parameters(),
                    vit:num_parameters()))
local function vit_from_h(x) return nn.functional_call(vit, h(1), x) end
local acc_h, t_h = train_model("hypernetwork", h:parameters(),
                               function(x, y) return tycho.cross_entropy(vit_from_h(x), y) end,
                               vit_from_h)

print(string.format("hyper_vit: test accuracy %.2f%% with generated weights (%.0f s); parameter "
                    .. "ratio %.3f (%d hypernetwork parameters / %d ViT weights)%s", acc_h, t_h,
                    h:compression_ratio(), h:num_parameters(), vit:num_parameters(),
                    quick and " [quick run]" or ""))

-- The full run also trains the ViT's own weights the same way, to compare.
if not quick then
  print("training the same ViT directly (for comparison)")
  local acc_d, t_d = train_model("direct", vit:parameters(),
                                 function(x, y) return tycho.cross_entropy(vit(x), y) end,
                                 function(x) return vit(x) end)
  print(string.format("hyper_vit: trained directly: test accuracy %.2f%% (%.0f s)", acc_d, t_d))
end
if quick and not (acc_h > 25) then
  io.stderr:write(string.format("hyper_vit: accuracy %.1f%% is near chance\n", acc_h))
  os.exit(1)
end
print("hyper_vit: ok")
