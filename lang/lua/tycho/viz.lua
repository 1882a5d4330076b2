-- viz: live plots. Each view has a name and, when there is a display, a
-- window of its own that stays live while the prompt waits and while code
-- runs; without one (tycho --headless, no DISPLAY, SDL failing) views are
-- drawn off-screen and written as PNG files to a folder that is printed
-- once. The drawing is C (viz/, through tycho._viz); this file checks
-- arguments and turns a ViT's output into attention maps.
--
--   viz.plot("loss", step, loss)                     -- a line chart, point by point
--   viz.plot("loss", step, val, {series = "val"})    -- a second series in it
--   viz.heatmap("attn", t2d)   viz.image("digits", images, {labels = names})
--   viz.attention(vit, image)  viz.save("loss", "loss.png")   viz.close("loss")
--
-- Chart windows: +/- (or the slider) change the smoothing, l toggles log-y,
-- r the raw points; every window: s saves a PNG, q or Escape closes it.
local tycho = require("tycho")
local errors = require("tycho.errors")

local C = tycho._viz
local M = {}

-- Calls a C function; its error (which names the viz function and the
-- values) is raised at the user's line.
local function call(f, ...)
  local ok, a, b = pcall(f, ...)
  if not ok then errors.raise("%s", tostring(a):gsub("^[^:]*:%d+: ", "")) end
  return a, b
end

local function check_name(fn, name)
  if type(name) ~= "string" or name == "" then
    errors.raise("%s: the view name must be a non-empty string, got %s", fn,
                 name == "" and "''" or type(name))
  end
end

local function check_opts(fn, opts)
  if opts ~= nil and type(opts) ~= "table" then
    errors.raise("%s: options must be a table, got %s", fn, type(opts))
  end
  return opts or {}
end

-- A Lua number from a number or a one-element tensor (a loss).
local function number(fn, what, v)
  if type(v) == "number" then return v end
  if tycho.is_tensor(v) then
    if v:numel() ~= 1 then
      errors.raise("%s: %s must be a number or a one-element tensor, got a tensor of shape (%s)",
                   fn, what, table.concat(v.shape, ","))
    end
    return v:item()
  end
  errors.raise("%s: %s must be a number or a one-element tensor, got %s", fn, what, type(v))
end

local PLOT_OPTS = {series = true}

function M.plot(name, step, value, opts)
  check_name("viz.plot", name)
  opts = check_opts("viz.plot", opts)
  for k in pairs(opts) do
    if not PLOT_OPTS[k] then errors.raise("viz.plot: unknown option '%s'", tostring(k)) end
  end
  local series = opts.series or name
  if type(series) ~= "string" then
    errors.raise("viz.plot: option 'series' must be a string, got %s", type(series))
  end
  call(C.plot, name, series, number("viz.plot", "step", step), number("viz.plot", "value", value))
end

function M.config(name, opts)
  check_name("viz.config", name)
  call(C.config, name, check_opts("viz.config", opts))
end

function M.heatmap(name, t, opts)
  check_name("viz.heatmap", name)
  call(C.heatmap, name, t, check_opts("viz.heatmap", opts))
end

function M.image(name, img, opts)
  check_name("viz.image", name)
  opts = check_opts("viz.image", opts)
  if type(img) == "table" and not tycho.is_tensor(img) then
    -- a list of same-shaped images becomes a batch
    if #img == 0 then errors.raise("viz.image: the list of images is empty") end
    for i, x in ipairs(img) do
      if not tycho.is_tensor(x) then
        errors.raise("viz.image: images[%d] is a %s, not a tensor", i, type(x))
      end
    end
    local ok, batch = pcall(tycho.stack, img, 1)
    if not ok then errors.raise("viz.image: the images do not have one shape: %s", batch) end
    img = batch
    if img:dim() == 3 and img:size(2) > 4 then img = img:unsqueeze(2) end -- (B,H,W) -> (B,1,H,W)
  end
  call(C.image, name, img, opts)
end

local ATTENTION_OPTS = {name = true, labels = true, classes = true, title = true}

-- The image(s) as (B, C, H, W) for a ViT that takes `channels` channels.
local function as_batch(image, vit)
  if not tycho.is_tensor(image) then
    errors.raise("viz.attention: the image must be a tensor, got %s", type(image))
  end
  local s = image.shape
  local x = image
  if #s == 2 then
    x = image:reshape(1, 1, s[1], s[2])
  elseif #s == 3 then
    x = image:unsqueeze(1)
  elseif #s ~= 4 then
    errors.raise("viz.attention: the image must be (H,W), (C,H,W) or (B,C,H,W), got shape (%s)",
                 table.concat(s, ","))
  end
  local c, h, w = x:size(2), x:size(3), x:size(4)
  if vit.channels and c ~= vit.channels then
    errors.raise("viz.attention: the ViT takes %d channels, the image has %d", vit.channels, c)
  end
  if vit.image and (h ~= vit.image or w ~= vit.image) then
    errors.raise("viz.attention: the ViT takes %dx%d images, got %dx%d", vit.image, vit.image, h, w)
  end
  return x:to("f32")
end

-- "pred 3 (0.92)" or "pred Sneaker (0.92)" for each row of the logits.
local function predictions(logits, batch, classes)
  if not tycho.is_tensor(logits) or logits:dim() ~= 2 or logits:size(1) ~= batch then return nil end
  local p = tycho.no_grad(function() return logits:to("f32"):softmax(2) end)
  local best, idx = p:max(2)
  local labels = {}
  for b = 1, batch do
    local k = idx[b]:item()
    local name = classes and classes[k] or tostring(k)
    labels[b] = string.format("pred %s (%.2f)", name, best[b]:item())
  end
  return labels
end

function M.attention(vit, image, opts)
  opts = check_opts("viz.attention", opts)
  for k in pairs(opts) do
    if not ATTENTION_OPTS[k] then errors.raise("viz.attention: unknown option '%s'", tostring(k)) end
  end
  if type(vit) ~= "table" or type(vit.forward) ~= "function" then
    errors.raise("viz.attention: expected a ViT (a module with forward(x, opts)), got %s", type(vit))
  end
  local x = as_batch(image, vit)
  -- attention maps of the model as it predicts: dropout off, no graph
  local was_training = vit.training == true and vit.eval and vit.train
  if was_training then vit:eval() end
  local ok, logits, attn = pcall(tycho.no_grad, function()
    return vit:forward(x, {return_attention = true})
  end)
  if was_training then vit:train() end
  if not ok then error(logits, 0) end
  if type(attn) ~= "table" or #attn == 0 then
    errors.raise("viz.attention: vit:forward(x, {return_attention = true}) returned no list of "
                 .. "attention tensors (got %s)", type(attn))
  end
  local grid
  if vit.image and vit.patch then
    grid = vit.image // vit.patch
  elseif tycho.is_tensor(attn[1]) and attn[1]:dim() == 4 then
    grid = math.floor(math.sqrt(attn[1]:size(3) - 1) + 0.5)
  else
    grid = 0
  end
  local labels = opts.labels or predictions(logits, x:size(1), opts.classes)
  call(C.attention, opts.name or "attention", x, attn, grid, {labels = labels, title = opts.title})
end

function M.save(name, path)
  check_name("viz.save", name)
  if path ~= nil and type(path) ~= "string" then
    errors.raise("viz.save: the path must be a string, got %s", type(path))
  end
  return (call(C.save, name, path))
end

function M.close(name)
  check_name("viz.close", name)
  call(C.close, name)
end

function M.show(name)
  check_name("viz.show", name)
  call(C.show, name)
end

function M.names()
  return C.names()
end

function M.headless()
  return C.headless()
end

function M.outdir()
  return (call(C.outdir))
end

function M.pump()
  C.pump()
end

-- For tests (internal): pixels, probes, screenshots and simulated input.
M._C = C

return M
