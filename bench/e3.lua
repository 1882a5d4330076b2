-- The e3 rows of ../shared/bench/BENCHMARKS.md, printed with the names of
-- ../shared/bench/peer_e3nn.py so the two outputs line up:
--   tycho bench/e3.lua [--threads N] [--only tp,uvu,sh,dbl]
-- Each figure is the median of its repetitions after 3 warm-up runs.
local tycho = require("tycho")
local e3 = require("tycho.e3")

local threads, only = 2, "tp,uvu,sh,dbl"
local i = 1
while arg and arg[i] do
  if arg[i] == "--threads" then threads, i = tonumber(arg[i + 1]), i + 1
  elseif arg[i] == "--only" then only, i = arg[i + 1], i + 1 end
  i = i + 1
end
tycho.set_num_threads(threads)
local now = tycho.time or os.clock

local IRREPS, SH2 = "32x0e+32x1o+32x2e", "0e+1o+2e"

local function median_time(fn, reps, warmup)
  for _ = 1, warmup or 3 do fn() end
  local ts = {}
  for r = 1, reps do
    collectgarbage()
    local t = now()
    fn()
    ts[r] = now() - t
  end
  table.sort(ts)
  return ts[(reps + 1) // 2]
end

-- The channel-wise product of peer_e3nn.py's build_uvu: every path with an
-- output of l <= 2, one 32x block each, outputs sorted.
local function build_uvu()
  local ir1, ir2 = e3.Irreps(IRREPS), e3.Irreps(SH2)
  local out, ins = {}, {}
  for i1, a in ipairs(ir1) do
    for i2, b in ipairs(ir2) do
      for _, ir in ipairs(a.ir * b.ir) do
        if ir.l <= 2 then
          out[#out + 1] = {a.mul, ir}
          ins[#ins + 1] = {i1, i2, #out, "uvu", true}
        end
      end
    end
  end
  local sorted, perm = e3.Irreps(out):sort()
  for _, t in ipairs(ins) do t[3] = perm[t[3]] end
  return e3.TensorProduct(ir1, ir2, sorted, ins, {shared_weights = false, internal_weights = false})
end

local workloads = {}

function workloads.tp()
  tycho.manual_seed(0)
  local n = 4096
  local tp = e3.FullyConnectedTensorProduct(IRREPS, SH2, IRREPS)
  local x1 = tycho.randn(n, tp.irreps_in1.dim, {requires_grad = true})
  local x2 = tycho.randn(n, tp.irreps_in2.dim, {requires_grad = true})
  local t = median_time(function()
    tycho.grad({tp(x1, x2):sum()}, {x1, x2, tp.weight})
  end, 10)
  print(string.format("e3-tp: %.1f ms  (%d edges, %s x %s -> %s, %d paths, %d weights, fwd+bwd)",
                      t * 1e3, n, tostring(tp.irreps_in1), tostring(tp.irreps_in2),
                      tostring(tp.irreps_out), #tp.instructions, tp.weight_numel))
end

function workloads.uvu()
  tycho.manual_seed(0)
  local n = 4096
  local tp = build_uvu()
  local x1 = tycho.randn(n, tp.irreps_in1.dim, {requires_grad = true})
  local x2 = tycho.randn(n, tp.irreps_in2.dim, {requires_grad = true})
  local w = tycho.randn(n, tp.weight_numel, {requires_grad = true})
  local t = median_time(function()
    tycho.grad({tp(x1, x2, w):sum()}, {x1, x2, w})
  end, 10)
  print(string.format("e3-tp-uvu: %.1f ms  (%d edges, %s x %s -> %s, %d uvu paths, %d weights per edge, fwd+bwd)",
                      t * 1e3, n, tostring(tp.irreps_in1), tostring(tp.irreps_in2),
                      tostring(tp.irreps_out), #tp.instructions, tp.weight_numel))
end

function workloads.sh()
  tycho.manual_seed(0)
  local n = 65536
  local v = tycho.randn(n, 3)
  local t = median_time(function()
    e3.spherical_harmonics(3, v, {normalize = true, normalization = "component"})
  end, 20)
  print(string.format("e3-sh: %.2f ms  (%d vectors, l=0..3 (16 components), normalize=True, component, fwd)",
                      t * 1e3, n))
end

function workloads.dbl()
  tycho.manual_seed(0)
  local n = 1024
  local tp = e3.FullyConnectedTensorProduct(IRREPS, SH2, IRREPS)
  local ns = tp.irreps_out[1].mul -- the 32x0e block comes first
  local x1 = tycho.randn(n, tp.irreps_in1.dim)
  local r = tycho.randn(n, 3, {requires_grad = true})
  local function energy()
    local sh = e3.spherical_harmonics(SH2, r, {normalize = true, normalization = "component"})
    return tp(x1, sh):narrow(2, 1, ns):sum()
  end
  local t = median_time(function()
    local g = tycho.grad({energy()}, {r}, {create_graph = true})[1]
    tycho.grad({(g * g):sum()}, {tp.weight})
  end, 10)
  print(string.format("e3-tp-double-backward: %.1f ms  (%d edges, E=sum of 32x0e of e3-tp on SH(r), F=-dE/dr, d(sum F^2)/dW)",
                      t * 1e3, n))
end

print(string.format("# tycho %s, %d threads", tycho.version, tycho.get_num_threads()))
for name in only:gmatch("[^,]+") do
  if not workloads[name] then error("bench/e3.lua: unknown workload '" .. name .. "'") end
  workloads[name]()
end
