-- vit-fmnist-step of ../shared/bench/BENCHMARKS.md: one AdamW step (lr 1e-3,
-- weight decay 0.05) of the ViT (image 28, patch 4, dim 64, depth 4, heads 4,
-- MLP 128, 10 classes) on a batch of 128 random 1x28x28 images, written as
-- peer_torch.py's w1_vit: the median of 20 timed steps after 3 warm-up steps.
--   lang/tycho bench/vit.lua [threads]
local tycho = rawget(_G, "tycho") or require("tycho")
local nn = rawget(_G, "nn") or require("tycho.nn")
local optim = rawget(_G, "optim") or require("tycho.optim")

local threads = tonumber(arg and arg[1])
if threads then tycho.set_num_threads(threads) end

tycho.manual_seed(0)
local m = nn.ViT({image = 28, patch = 4, channels = 1, dim = 64, depth = 4, heads = 4, mlp = 128,
                  classes = 10})
local opt = optim.AdamW(m:parameters(), {lr = 1e-3, weight_decay = 0.05})
local x = tycho.randn(128, 1, 28, 28)
local y = tycho.randint(1, 11, {128})

local function step()
  opt:zero_grad()
  nn.functional.cross_entropy(m(x), y):backward()
  opt:step()
end

for _ = 1, 3 do step() end
local times = {}
for i = 1, 20 do
  local t = tycho.time()
  step()
  times[i] = tycho.time() - t
end
table.sort(times)
local t = times[11]
print(string.format("vit-fmnist-step: %.1f ms  (%.0f img/s, params=%d, %d threads)", t * 1e3, 128 / t,
                    m:num_parameters(), tycho.get_num_threads()))
