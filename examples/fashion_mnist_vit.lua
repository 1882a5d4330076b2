-- A vision transformer trained on Fashion-MNIST: the headline example.
--
--   tycho examples/fashion_mnist_vit.lua                  default run (15 epochs)
--   tycho examples/fashion_mnist_vit.lua --quick          a 20-second smoke run (make check)
--   tycho examples/fashion_mnist_vit.lua --epochs 20 --width 96 --depth 6 --batch 256 --lr 2e-3
--
-- Options: --epochs N, --width D (token size), --depth L (blocks), --heads H,
-- --mlp M (hidden size, default 2 x width), --batch B, --lr LR, --wd W
-- (AdamW weight decay), --warmup S (steps), --augment (random crops and
-- flips), --threads T, --seed S, --out FILE (best checkpoint, safetensors),
-- --no-viz, --quick.
--
-- Each epoch shows a progress bar (steps/s, loss, ETA), then evaluates on the
-- 10,000 test images and keeps the best model in a safetensors file. With a
-- display (or --headless, which writes PNGs) the viz module shows the loss
-- and accuracy curves and the attention of the class token on a few test
-- images, refreshed each epoch.
local tycho = rawget(_G, "tycho") or require("tycho")
local nn = rawget(_G, "nn") or require("tycho.nn")
local optim = rawget(_G, "optim") or require("tycho.optim")
local data = rawget(_G, "data") or require("tycho.data")

-- ---------------------------------------------------------------- arguments

local opts = {epochs = 15, width = 64, depth = 4, heads = 4, mlp = nil, batch = 128, lr = 2e-3,
              wd = 0.05, warmup = 500, threads = nil, seed = 0, out = "fashion_mnist_vit.safetensors",
              augment = false, viz = true, quick = false}
local flags = {augment = true, quick = true, ["no-viz"] = true}
local args = arg or {}
local i = 1
while i <= #args do
  local name = args[i]:match("^%-%-(.+)$")
  if not name then error("fashion_mnist_vit: unexpected argument '" .. args[i] .. "'") end
  if flags[name] then
    if name == "no-viz" then opts.viz = false else opts[name] = true end
    i = i + 1
  else
    local v = args[i + 1]
    if opts[name] == nil and name ~= "mlp" and name ~= "threads" then
      error("fashion_mnist_vit: unknown option --" .. name)
    end
    if v == nil then error("fashion_mnist_vit: --" .. name .. " needs a value") end
    opts[name] = tonumber(v) or v
    i = i + 2
  end
end
for _, k in ipairs({"epochs", "width", "depth", "heads", "batch", "warmup", "seed"}) do
  opts[k] = math.tointeger(opts[k]) or error("fashion_mnist_vit: --" .. k .. " must be an integer")
end
opts.mlp = math.tointeger(opts.mlp or 2 * opts.width)
if opts.threads then tycho.set_num_threads(math.tointeger(opts.threads)) end

-- ---------------------------------------------------------------- data

local train = data.fashion_mnist("train")
local test = data.fashion_mnist("test")
if opts.quick or os.getenv("TYCHO_QUICK") == "1" then
  opts.quick = true
  -- about 20 seconds on 2 cores: a slice of the data, two short epochs
  train = data.subset(train, tycho.arange(1, 6145))
  test = data.subset(test, tycho.arange(1, 1001))
  opts.epochs, opts.warmup, opts.lr = 2, 10, 2e-3
  opts.out = (os.getenv("TY_TEST_TMPDIR") or "/tmp") .. "/fashion_mnist_vit_quick.safetensors"
end
local steps_per_epoch = #train // opts.batch
local total_steps = steps_per_epoch * opts.epochs

-- ---------------------------------------------------------------- model

tycho.manual_seed(opts.seed)
local model = nn.ViT({image = 28, patch = 4, channels = 1, dim = opts.width, depth = opts.depth,
                      heads = opts.heads, mlp = opts.mlp, classes = 10})
local opt = optim.AdamW(model:parameters(), {lr = opts.lr, weight_decay = opts.wd})
local sched = optim.cosine_schedule(opt, {warmup = math.min(opts.warmup, total_steps),
                                          total = total_steps})
print(string.format("ViT: %d parameters, width %d, depth %d, heads %d, mlp %d; %d threads",
                    model:num_parameters(), opts.width, opts.depth, opts.heads, opts.mlp,
                    tycho.get_num_threads()))
print(string.format("data: %d training images, %d test images; %d epochs of %d steps, batch %d",
                    #train, #test, opts.epochs, steps_per_epoch, opts.batch))

-- ---------------------------------------------------------------- live plots

-- viz is optional: a stock lua5.4 with only the tycho module may lack it
local viz = nil
if opts.viz and package.searchpath("tycho.viz", package.path) then
  local ok, mod = pcall(require, "tycho.viz")
  if ok then viz = mod else print("viz unavailable: " .. tostring(mod)) end
end
local probe = test.images:narrow(1, 1, 4)   -- the images whose attention is shown
local function plot(name, step, value, series)
  if viz then pcall(viz.plot, name, step, value, {series = series}) end
end

-- ---------------------------------------------------------------- progress bar

-- a terminal gets one line redrawn in place; a log file gets a line now and then
local tty = os.getenv("TERM") ~= "dumb" and os.execute("test -t 1") == true
local function clock(seconds)
  seconds = math.max(0, math.floor(seconds + 0.5))
  return string.format("%d:%02d", seconds // 60, seconds % 60)
end

local function progress(epoch, step, loss, t0)
  local elapsed = tycho.time() - t0
  local rate = step / math.max(elapsed, 1e-9)
  local eta = (steps_per_epoch - step) / math.max(rate, 1e-9)
  local width = 30
  local done = math.floor(width * step / steps_per_epoch)
  local bar = string.rep("=", done) .. (done < width and ">" or "") .. string.rep(" ", width - done - 1)
  local line = string.format("epoch %d/%d [%s] %d/%d  %.1f steps/s  loss %.4f  ETA %s", epoch,
                             opts.epochs, bar, step, steps_per_epoch, rate, loss, clock(eta))
  if tty then
    io.stdout:write("\r", line)
  elseif step == steps_per_epoch or step % 100 == 0 then
    print(line)
  end
end

-- ---------------------------------------------------------------- evaluation

local function evaluate()
  model:eval()
  local correct, loss_sum = 0, 0
  tycho.no_grad(function()
    for images, labels in data.loader(test, {batch = 1000}) do
      local logits = model(images)
      loss_sum = loss_sum + nn.functional.cross_entropy(logits, labels, {reduction = "sum"}):item()
      local _, predicted = logits:max(2)
      correct = correct + predicted:eq(labels):sum():item()
    end
  end)
  model:train()
  return correct / #test, loss_sum / #test
end

-- ---------------------------------------------------------------- training

local best, step, start = 0, 0, tycho.time()
local time_to_90
local augment = opts.augment and {crop = 2, flip = true} or nil
for epoch = 1, opts.epochs do
  local t0, seen, loss_sum, correct = tycho.time(), 0, 0, 0
  local k = 0
  for images, labels in data.loader(train, {batch = opts.batch, shuffle = true, drop_last = true,
                                            augment = augment}) do
    k, step = k + 1, step + 1
    opt:zero_grad()
    local logits = model(images)
    local loss = nn.functional.cross_entropy(logits, labels)
    loss:backward()
    opt:step()
    sched:step()
    local l = loss:item()
    loss_sum, seen = loss_sum + l * labels:numel(), seen + labels:numel()
    if k % 10 == 0 or k == steps_per_epoch then
      progress(epoch, k, loss_sum / seen, t0)
      plot("loss", step, l, "train")
    end
  end
  if tty then io.stdout:write("\n") end
  local train_loss = loss_sum / seen
  local acc, test_loss = evaluate()
  local elapsed = tycho.time() - start
  print(string.format("epoch %d: train loss %.4f, test loss %.4f, test accuracy %.2f%%, "
                      .. "%.1f s (%.0f img/s)", epoch, train_loss, test_loss, 100 * acc,
                      tycho.time() - t0, seen / (tycho.time() - t0)))
  plot("loss", step, test_loss, "test")
  plot("accuracy", epoch, acc, "test")
  if viz then pcall(viz.attention, model, probe, {classes = data.fashion_mnist_classes}) end
  if acc >= 0.9 and not time_to_90 then
    time_to_90 = elapsed
    print(string.format("fmnist-to-90: %.2f minutes (test accuracy %.2f%% after epoch %d)",
                        elapsed / 60, 100 * acc, epoch))
  end
  if acc > best then
    best = acc
    tycho.save(opts.out, model:state_dict())
    print(string.format("  best so far: saved %s", opts.out))
  end
end
print(string.format("done: best test accuracy %.2f%% in %.1f minutes", 100 * best,
                    (tycho.time() - start) / 60))

-- A finished --quick run must have learned something: make check relies on it.
if opts.quick then
  local reloaded = nn.ViT({image = 28, patch = 4, channels = 1, dim = opts.width,
                           depth = opts.depth, heads = opts.heads, mlp = opts.mlp, classes = 10})
  reloaded:load_state_dict(tycho.load(opts.out))
  -- three times chance after a minute of training on a slice of the data
  assert(best > 0.3, string.format("quick run reached only %.1f%% test accuracy", 100 * best))
  os.remove(opts.out)
end
