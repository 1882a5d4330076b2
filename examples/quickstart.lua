-- tycho quickstart: tensors, printing, autograd, and a tiny linear
-- regression fitted by plain gradient descent.
--
--   tycho examples/quickstart.lua          (or: lua5.4 with tycho.so on package.cpath)
--
-- Indices and dims are 1-based and ranges inclusive, as everywhere in Lua.
local tycho = rawget(_G, "tycho") or require("tycho")

-- Tensors ------------------------------------------------------------------
local x = tycho.tensor({{1, 2, 3}, {4, 5, 6}})
print(x)                                    -- values, then shape, dtype, device
print("shape", x.shape[1], x.shape[2], "dtype", x.dtype)
-- label, then the tensor on the lines below
local function show(label, t) print(label .. ":") print(t) end
show("x[2], the second row (a view)", x[2])
show("x[{1, {2, 3}}], row 1, columns 2..3", x[{1, {2, 3}}])
show("x:sum(2)", x:sum(2))
show("x @ x^T", x:matmul(x:t()))

-- Autograd -----------------------------------------------------------------
local w = tycho.tensor({1, -2, 3}, {requires_grad = true})
local loss = (w * w):sum()                  -- d loss / d w = 2 w
loss:backward()
show("d(w . w)/dw = 2 w", w.grad)

-- A tiny linear regression ---------------------------------------------------
-- Data from y = 3 x1 - 2 x2 + 0.5 plus a little noise; we fit weights and a
-- bias by gradient descent on the mean squared error.
tycho.manual_seed(0)
local n = 256
local inputs = tycho.randn(n, 2)
local true_w = tycho.tensor({{3}, {-2}})
local targets = inputs:matmul(true_w) + 0.5 + tycho.randn(n, 1) * 0.01

local weight = tycho.zeros(2, 1, {requires_grad = true})
local bias = tycho.zeros(1, {requires_grad = true})
local lr = 0.1

for step = 1, 200 do
  local pred = inputs:matmul(weight) + bias
  local mse = ((pred - targets) ^ 2):mean()
  mse:backward()
  -- the update itself must not be recorded by autograd
  tycho.no_grad(function()
    weight:sub_(weight.grad * lr)
    bias:sub_(bias.grad * lr)
  end)
  weight:zero_grad()
  bias:zero_grad()
  if step % 50 == 0 then print(string.format("step %3d  mse %.6f", step, mse:item())) end
end

local fitted = weight:detach():view(-1):tolist()
print(string.format("fitted: y = %.3f x1 %+.3f x2 %+.3f   (true: y = 3 x1 - 2 x2 + 0.5)",
                    fitted[1], fitted[2], bias:item()))
assert(math.abs(fitted[1] - 3) < 0.01 and math.abs(fitted[2] + 2) < 0.01
       and math.abs(bias:item() - 0.5) < 0.01, "the fit did not converge")
print("quickstart: ok")
