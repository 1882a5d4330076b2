-- Live plots while a small vision transformer learns: a loss chart that
-- grows point by point, test accuracy, the attention maps of four fixed
-- test images refreshed every few steps, and the patch embedding's weights
-- as a heatmap. The task is made up so it runs anywhere in seconds: 16x16
-- images with a bright square in one quadrant; the class is the quadrant.
--
--   tycho examples/viz_demo.lua [steps]        windows, live
--   tycho -i examples/viz_demo.lua             ... and keep them at the prompt
--   tycho --headless examples/viz_demo.lua     PNG files instead (folder printed)
local steps = tonumber(arg and arg[1]) or 60
local CLASSES = {"top-left", "top-right", "bottom-left", "bottom-right"}

tycho.manual_seed(0)
math.randomseed(0)

-- n images (n, 1, 16, 16) in [0, 1] with faint noise, and their labels 1..4
local function batch(n)
  local x = tycho.rand(n, 1, 16, 16) * 0.2
  local labels = {}
  for i = 1, n do
    local q = math.random(4)
    local r = (q > 2 and 9 or 1) + math.random(0, 2)
    local c = (q % 2 == 0 and 9 or 1) + math.random(0, 2)
    x[{i, 1, {r, r + 4}, {c, c + 4}}] = 1
    labels[i] = q
  end
  return x, tycho.tensor(labels, {dtype = "i64"})
end

local vit = nn.ViT({image = 16, patch = 4, channels = 1, dim = 32, depth = 2, heads = 2, mlp = 64,
                    classes = 4})
local opt = optim.AdamW(vit:parameters(), {lr = 1e-2})
local test_x, test_y = batch(64)
local shown = test_x[{{1, 4}}]

viz.config("loss", {title = "training loss", smoothing = 0.8})
for step = 1, steps do
  local x, y = batch(32)
  local loss = nn.functional.cross_entropy(vit(x), y)
  opt:zero_grad()
  loss:backward()
  opt:step()
  viz.plot("loss", step, loss)
  if step % 10 == 0 or step == steps then
    vit:eval()
    local logits = tycho.no_grad(function() return vit(test_x) end)
    vit:train()
    local test_loss = nn.functional.cross_entropy(logits, test_y):item()
    local acc = logits:argmax(2):eq(test_y):to("f32"):mean():item()
    viz.plot("loss", step, test_loss, {series = "test"})
    viz.plot("accuracy", step, acc, {series = "test"})
    viz.attention(vit, shown, {classes = CLASSES, title = "attention at step " .. step})
  end
end
viz.config("accuracy", {smoothing = 0})
viz.image("test images", shown, {labels = CLASSES, title = "the images under attention"})
local _, w = next(vit:named_parameters())
for name, p in pairs(vit:named_parameters()) do
  if name:find("patch_embed") and p:dim() == 2 then w = p end
end
viz.heatmap("patch embedding", w:detach(), {title = "patch embedding weights"})
print(string.format("after %d steps: %d views (%s)%s", steps, #viz.names(),
                    table.concat(viz.names(), ", "),
                    viz.headless() and "; PNG files in " .. viz.outdir() or ""))
