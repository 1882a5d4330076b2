-- hypernet-step of ../shared/bench/BENCHMARKS.md: one Adam step of the
-- chunked hypernetwork of peer_torch.py's w6_hypernet, through the target
-- MLP 784-100-100-10 it generates, on a batch of 128.
--
-- The same model as the peer: a condition embedding (5 of size 8, N(0, 0.1^2))
-- and 22 chunk embeddings (size 8, N(0, 0.1^2)) go through the MLP
-- 16-256-256-4096 (ReLU, PyTorch's Linear init); the 22 x 4096 outputs, laid
-- end to end and cut at 89,610 values, are the target's six tensors. Adam
-- (lr 1e-3) over every hypernetwork parameter; median of 20 timed steps
-- after 3 warm-up steps, as the peer measures.
--
--   tycho bench/hyper.lua [--pieces]     (--pieces also times the parts of a step)
local tycho = rawget(_G, "tycho") or require("tycho")
local nn = rawget(_G, "nn") or require("tycho.nn")
local optim = rawget(_G, "optim") or require("tycho.optim")
local hyper = rawget(_G, "hyper") or require("tycho.hyper")

local pieces = false
for _, a in ipairs(arg or {}) do
  if a == "--pieces" then pieces = true end
end

tycho.manual_seed(0)
local shapes = {{100, 784}, {100}, {100, 100}, {100}, {10, 100}, {10}}
local h = hyper.ChunkedHMLP(shapes, {num_cond = 5, cond_dim = 8, chunk = 4096, chunk_emb = 8,
                                     layers = {256, 256}, init = "default", emb_std = 0.1})
local opt = optim.Adam(h:parameters(), {lr = 1e-3})
local x = tycho.randn(128, 784)
local y = tycho.randint(1, 11, {128})

local function loss_of(w)
  local z = tycho.linear(x, w[1], w[2]):relu()
  z = tycho.linear(z, w[3], w[4]):relu()
  return tycho.cross_entropy(tycho.linear(z, w[5], w[6]), y)
end

local function step()
  opt:zero_grad()
  loss_of(h({cond_id = 1})):backward()
  opt:step()
end

-- The median time of fn over reps runs, after warmup runs (seconds).
local function median_time(fn, reps, warmup)
  for _ = 1, warmup or 3 do fn() end
  local ts = {}
  for i = 1, reps do
    local t = tycho.time()
    fn()
    ts[i] = tycho.time() - t
  end
  table.sort(ts)
  return ts[reps // 2 + 1]
end

local t = median_time(step, 20)
print(string.format("hypernet-step: %.2f ms  (hnet params=%d, target params=%d)", t * 1e3,
                    h:num_parameters(), h.target_numel))

if pieces then
  local function show(name, fn)
    print(string.format("  %-34s %.3f ms", name, median_time(fn, 30) * 1e3))
  end
  show("hypernetwork forward", function() h({cond_id = 1}) end)
  show("hypernetwork + target forward", function() loss_of(h({cond_id = 1})) end)
  show("forward + backward", function()
    opt:zero_grad()
    loss_of(h({cond_id = 1})):backward()
  end)
  show("Adam step", function() opt:step() end)
end
