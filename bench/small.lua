-- The scripting-overhead rows of ../shared/bench/BENCHMARKS.md, from Lua,
-- written exactly as peer_torch.py's w2_overhead: small-add is `a + b` on two
-- 4-element tensors; small-mul-sum-backward is (a*b):sum():backward() with
-- only `a` requiring grad and its .grad accumulating across iterations.
-- Each row is the median of 5 timed runs after a warm-up.
--   lang/tycho bench/small.lua
local tycho = rawget(_G, "tycho") or require("tycho")

local function median_us(n, body)
  local runs = {}
  body(n // 10) -- warm-up
  for r = 1, 5 do
    local t = os.clock()
    body(n)
    runs[r] = (os.clock() - t) / n * 1e6
  end
  table.sort(runs)
  return runs[3]
end

local a, b = tycho.randn(4), tycho.randn(4)
local add = median_us(100000, function(n)
  for _ = 1, n do local _ = a + b end
end)
print(string.format("small-add: %.2f us/op", add))

a = tycho.randn(4, {requires_grad = true})
local bw = median_us(20000, function(n)
  for _ = 1, n do (a * b):sum():backward() end
end)
print(string.format("small-mul-sum-backward: %.2f us/iter", bw))
