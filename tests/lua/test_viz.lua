-- The viz module through the tycho binary, headless: tensors of every
-- shape and dtype reach the right pixels, the attention view runs a ViT
-- (a real nn.ViT and a fake one), bad input gives errors that name the
-- function and the values, and nothing leaks. The PNG files stay in
-- $TYCHO_VIZ_DIR (tests/viz-png under make check).
local H = dofile((arg and arg[0] or ""):match("(.*/)") .. "harness.lua")
local test, eq, near, raises, ok = H.test, H.eq, H.near, H.raises, H.ok
local tycho = rawget(_G, "tycho") or require("tycho")
local viz = require("tycho.viz")
local nn = require("tycho.nn")
local C = viz._C

-- Off-screen even where a display exists (the Xvfb test covers windows).
C.force_headless()
local dir = os.getenv("TYCHO_VIZ_DIR")
if not dir or dir == "" then
  dir = (os.getenv("TY_TEST_TMPDIR") or "/tmp") .. "/viz-png"
  C.set_outdir(dir)
end

-- Saves a view as test_viz_lua-<file>.png and returns the path.
local function save(name, file)
  return viz.save(name, dir .. "/test_viz_lua-" .. file .. ".png")
end

-- The pixel (r, g, b) of a PNG at the place a view's probe names.
local function at(path, name, a, b)
  local x, y = C.probe(name, a, b)
  return {C.pixel(path, x, y)}
end

local function close_to(p, q, tol)
  for i = 1, 3 do
    if math.abs(p[i] - q[i]) > (tol or 2) then return false end
  end
  return true
end

local VIRIDIS_LO, VIRIDIS_HI = {0x44, 0x01, 0x54}, {0xfd, 0xe7, 0x25}

test("viz.plot takes numbers and one-element tensors", function()
  for step = 1, 40 do
    viz.plot("lua-loss", step, tycho.tensor(1.0))
    viz.plot("lua-loss", step, 3.0, {series = "val"})
  end
  eq(C.points("lua-loss", "lua-loss"), 40)
  eq(C.points("lua-loss", "val"), 40)
  local path = save("lua-loss", "plot")
  ok(close_to(at(path, "lua-loss", 20, 1.0), {0x1f, 0x77, 0xb4}, 40), "blue at value 1")
  ok(close_to(at(path, "lua-loss", 20, 3.0), {0xff, 0x7f, 0x0e}, 40), "orange at value 3")
  eq(viz.names()[1], "lua-loss")
end)

test("viz.plot rejects what it cannot plot", function()
  raises(function() viz.plot("lua-bad", 1, "x") end, "viz.plot: value must be a number")
  raises(function() viz.plot("lua-bad", 1, tycho.zeros(3)) end, "shape (3)")
  raises(function() viz.plot("lua-bad", nil, 1) end, "viz.plot: step must be a number")
  raises(function() viz.plot("lua-bad", 0 / 0, 1) end, "viz.plot: step must be a finite number")
  raises(function() viz.plot("lua-bad", 1, 1, {serie = "x"}) end, "unknown option 'serie'")
  raises(function() viz.plot(42, 1, 1) end, "viz.plot: the view name must be")
  local msg = raises(function() viz.plot("lua-bad", 1, {}) end, "viz.plot")
  ok(msg:find("test_viz.lua:%d+:"), "the error points at the caller: " .. msg)
  -- NaN values are points (drawn as gaps)
  viz.plot("lua-nan", 1, 0 / 0)
  viz.plot("lua-nan", 2, 1)
  eq(C.points("lua-nan", "lua-nan"), 2)
  save("lua-nan", "nan")
end)

test("viz.config changes smoothing and scale", function()
  for step = 1, 30 do viz.plot("lua-cfg", step, 100 / step) end
  viz.config("lua-cfg", {smoothing = 0, logy = true, title = "log scale", ylabel = "loss"})
  near(C.smoothed("lua-cfg", "lua-cfg", 30), 100 / 30, 1e-12)
  local lo, hi = C.yrange("lua-cfg")
  ok(lo > 1 and hi < 200, "log range " .. lo .. ".." .. hi)
  save("lua-cfg", "config")
  raises(function() viz.config("lua-cfg", {smoothing = 2}) end, "smoothing must be in [0, 1), got 2")
  raises(function() viz.config("lua-cfg", {smooth = 0.5}) end, "unknown option 'smooth'")
  raises(function() viz.config("lua-cfg", {title = 5}) end, "option 'title' must be a string")
end)

test("viz.heatmap: dtypes, views and the colormap's ends", function()
  local function check(t, file)
    viz.heatmap("lua-heat", t)
    local path = save("lua-heat", file)
    ok(close_to(at(path, "lua-heat", 0, 0), VIRIDIS_LO), file .. ": low corner")
    ok(close_to(at(path, "lua-heat", 1, 2), VIRIDIS_HI), file .. ": high corner")
  end
  check(tycho.tensor({{0, 1, 2}, {3, 4, 5}}), "heat-f32")
  check(tycho.tensor({{0, 1, 2}, {3, 4, 5}}, {dtype = "f64"}), "heat-f64")
  check(tycho.tensor({{0, 1, 2}, {3, 4, 5}}, {dtype = "i64"}), "heat-i64")
  -- a transposed (non-contiguous) view is drawn as the matrix it shows
  check(tycho.tensor({{0, 3}, {1, 4}, {2, 5}}):t(), "heat-transposed")
  -- autograd tensors are fine and make no graph
  check(tycho.tensor({{0, 1, 2}, {3, 4, 5}}, {requires_grad = true}) * 1, "heat-grad")
  viz.heatmap("lua-heat1d", tycho.arange(1, 6))
  save("lua-heat1d", "heat-1d")
end)

test("viz.heatmap rejects bad input with the values", function()
  raises(function() viz.heatmap("lua-h", tycho.zeros(2, 3, 4)) end,
         "viz.heatmap: expected a 2-D tensor (rows, cols), got shape (2,3,4)")
  raises(function() viz.heatmap("lua-h", {{1, 2}}) end, "viz.heatmap: expected a 2-D tensor, got a table")
  raises(function() viz.heatmap("lua-h", tycho.zeros(0, 3)) end, "empty (shape (0,3))")
  raises(function() viz.heatmap("lua-h", tycho.zeros(2, 2), {vmin = 1, vmax = 0}) end, "vmin 1 is above vmax 0")
  raises(function() viz.heatmap("lua-h", tycho.zeros(2, 2), {color = "red"}) end, "unknown option 'color'")
  viz.plot("lua-taken", 1, 1)
  raises(function() viz.heatmap("lua-taken", tycho.zeros(2, 2)) end, "'lua-taken' is a chart")
  -- NaN everywhere draws grey cells, no error
  viz.heatmap("lua-h", tycho.full({2, 2}, 0 / 0))
  save("lua-h", "heat-nan")
end)

test("viz.image: every shape it takes", function()
  local red = tycho.zeros(3, 8, 8)
  red[1] = 1
  viz.image("lua-img", red)
  local path = save("lua-img", "image-rgb")
  eq(at(path, "lua-img", 0), {255, 0, 0})
  viz.image("lua-img", tycho.ones(8, 8)) -- (H,W)
  eq(at(save("lua-img", "image-hw"), "lua-img", 0), {255, 255, 255})
  viz.image("lua-img", tycho.full({8, 8}, 200, {dtype = "u8"})) -- u8: 0..255
  eq(at(save("lua-img", "image-u8"), "lua-img", 0), {200, 200, 200})
  viz.image("lua-img", tycho.full({8, 8}, 0.5), {range = {0, 2}})
  eq(at(save("lua-img", "image-range"), "lua-img", 0), {64, 64, 64})
  -- batches: (B,C,H,W), (B,H,W) and a list, with labels
  local batch = tycho.rand(6, 1, 28, 28)
  viz.image("lua-batch", batch, {labels = {"one", "two", 3}, cols = 3, title = "six digits"})
  save("lua-batch", "image-batch")
  viz.image("lua-batch", tycho.rand(5, 10, 10))
  viz.image("lua-batch", {tycho.rand(10, 10), tycho.rand(10, 10)})
  viz.image("lua-batch", {tycho.rand(3, 10, 10), tycho.rand(3, 10, 10)})
  save("lua-batch", "image-list")
end)

test("viz.image rejects bad input", function()
  raises(function() viz.image("lua-i", tycho.zeros(1, 1, 1, 2, 2)) end,
         "viz.image: expected (H,W), (C,H,W) or (B,C,H,W), got shape (1,1,1,2,2)")
  raises(function() viz.image("lua-i", tycho.zeros(2, 2, 5, 5)) end, "1, 3 or 4 channels, got 2")
  raises(function() viz.image("lua-i", tycho.zeros(0, 5)) end, "empty")
  raises(function() viz.image("lua-i", {}) end, "the list of images is empty")
  raises(function() viz.image("lua-i", {tycho.zeros(2, 2), tycho.zeros(3, 3)}) end, "one shape")
  raises(function() viz.image("lua-i", tycho.zeros(4, 4), {labels = "a"}) end, "'labels' must be a list")
  raises(function() viz.image("lua-i", tycho.zeros(4, 4), {range = {1, 0}}) end, "lo < hi")
  viz.image("lua-i", tycho.full({4, 4}, 0 / 0)) -- NaN pixels draw (magenta)
end)

-- A stand-in with the ViT's contract: forward(x, {return_attention = true})
-- gives logits and one (B, heads, N, N) tensor per block.
local function fake_vit(blocks, heads, grid, look_at)
  local vit = {image = 4 * grid, patch = 4, channels = 1, training = true, calls = 0}
  function vit:eval() self.training = false end
  function vit:train() self.training = true end
  function vit:forward(x, opts)
    assert(opts and opts.return_attention)
    self.calls = self.calls + 1
    self.mode_seen = self.training
    local b, n = x:size(1), 1 + grid * grid
    local attn = {}
    for k = 1, blocks do
      local a = tycho.full({b, heads, n, n}, 1 / n)
      if k == blocks then
        a[{{}, {}, 1, {}}] = 0
        a[{{}, {}, 1, look_at + 1}] = 1 -- the class token looks at one patch
      end
      attn[k] = a
    end
    local logits = tycho.zeros(b, 3)
    logits[{{}, 2}] = 5
    return logits, attn
  end
  return vit
end

test("viz.attention draws image, heads and rollout", function()
  local vit = fake_vit(2, 3, 2, 1)
  viz.attention(vit, tycho.ones(1, 8, 8), {classes = {"cat", "dog", "eel"}})
  eq(vit.calls, 1)
  eq(vit.mode_seen, false, "forward ran in eval mode")
  eq(vit.training, true, "the training mode is back")
  local path = save("attention", "attention-fake")
  eq(viz._C.kind("attention"), "images")
  -- panel 1 is the (white) image; head 1 looks at the top-left patch
  eq(at(path, "attention", 0), {255, 255, 255})
  local x, y = C.probe("attention", 1)
  local r, g, b = C.pixel(path, x - 50, y - 50)
  ok(g > 200 and b < 150, "bright (yellow-green) over the patch looked at: " .. r .. "," .. g .. "," .. b)
  r, g, b = C.pixel(path, x + 50, y + 50)
  ok(g < 130, "dark elsewhere: " .. r .. "," .. g .. "," .. b)
  -- a batch of two with labels, another name
  viz.attention(vit, tycho.rand(2, 1, 8, 8), {name = "lua-att2", labels = {"a", "b"}, title = "two"})
  save("lua-att2", "attention-batch")
end)

test("viz.attention with a real nn.ViT", function()
  tycho.manual_seed(1)
  local vit = nn.ViT({image = 28, patch = 7, channels = 1, dim = 32, depth = 2, heads = 2,
                      mlp = 64, classes = 10})
  H.no_leak(function()
    viz.attention(vit, tycho.rand(2, 1, 28, 28), {name = "lua-vit"})
  end)
  save("lua-vit", "attention-vit")
  eq(vit.training, true)
end)

test("viz.attention rejects what is not a ViT or does not fit", function()
  raises(function() viz.attention({}, tycho.zeros(1, 8, 8)) end, "viz.attention: expected a ViT")
  local vit = fake_vit(1, 2, 2, 1)
  raises(function() viz.attention(vit, tycho.zeros(2, 8, 8)) end, "takes 1 channels, the image has 2")
  raises(function() viz.attention(vit, tycho.zeros(1, 9, 9)) end, "takes 8x8 images, got 9x9")
  raises(function() viz.attention(vit, tycho.zeros(1, 1, 1, 8, 8)) end, "got shape (1,1,1,8,8)")
  raises(function() viz.attention(vit, "img") end, "the image must be a tensor")
  raises(function() viz.attention(vit, tycho.zeros(8, 8), {nme = "x"}) end, "unknown option 'nme'")
  local broken = fake_vit(1, 2, 2, 1)
  function broken:forward() return tycho.zeros(1, 3), {tycho.zeros(1, 2, 5)} end
  raises(function() viz.attention(broken, tycho.zeros(8, 8)) end, "attention[1] has shape (1,2,5)")
  function broken:forward() return tycho.zeros(1, 3), {tycho.zeros(1, 2, 4, 4)} end
  raises(function() viz.attention(broken, tycho.zeros(8, 8)) end, "4 tokens do not make 1 class token and 2 x 2 patches")
  function broken:forward() return tycho.zeros(1, 3) end
  raises(function() viz.attention(broken, tycho.zeros(8, 8)) end, "returned no list of attention tensors")
  function broken:forward() error("boom") end
  raises(function() viz.attention(broken, tycho.zeros(8, 8)) end, "boom")
  eq(broken.training, true, "training mode restored after an error")
end)

test("save, close, show and unknown views", function()
  viz.plot("lua-close", 1, 1)
  local path = viz.save("lua-close")
  ok(path:find("lua-close.png", 1, true), path)
  local w, h = C.pixel(path)
  eq({w, h}, {720, 450})
  viz.show("lua-close") -- headless: nothing to show, no error
  viz.close("lua-close")
  eq(C.kind("lua-close"), nil)
  raises(function() viz.close("lua-close") end, "viz.close: no view named 'lua-close'")
  raises(function() viz.save("nope") end, "viz.save: no view named 'nope'")
  raises(function() viz.show("nope") end, "viz.show: no view named 'nope'")
  raises(function() viz.save("lua-loss", "/nonexistent/dir/x.png") end, "cannot write '/nonexistent/dir/x.png'")
  raises(function() viz.save("lua-loss", 5) end, "the path must be a string")
  ok(viz.headless())
  eq(type(viz.outdir()), "string")
  viz.pump()
end)

test("viz calls leak no tensors", function()
  H.no_leak(function()
    for i = 1, 20 do
      viz.plot("lua-leak", i, tycho.tensor(i * 1.0))
      viz.heatmap("lua-leak-h", tycho.randn(4, 4):t())
      viz.image("lua-leak-i", tycho.rand(2, 3, 5, 5))
    end
    pcall(viz.heatmap, "lua-leak-h", tycho.zeros(2, 2, 2))
  end)
end)

H.done()
