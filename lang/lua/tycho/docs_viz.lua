-- Help texts of the viz module (?viz.plot at the prompt): {key, signature,
-- text, example}. The examples run headless in tests/lua/test_repl_magics.lua.
local HEADLESS = " Without a display (tycho --headless, no DISPLAY) the view is drawn off-screen "
  .. "and written as a PNG file to the folder viz.outdir() names."

return {
  {"viz.plot", "viz.plot(name, step, value [, {series = name}])",
   "Appends the point (step, value) to a line chart; the first call makes the chart and its "
   .. "window. value may be a number or a one-element tensor (a loss). Several series share a "
   .. "window through opts.series. The chart shows an exponential moving average with bias "
   .. "correction over the faint raw points, scales the y axis robustly (one wild early point "
   .. "does not squash the curve) and keeps every point. In the window: +/- or the slider "
   .. "change the smoothing, l toggles log-y, r the raw points, the mouse reads out values, "
   .. "s saves a PNG. NaN values are kept and drawn as gaps." .. HEADLESS,
   "for step = 1, 50 do\n  viz.plot('doc-loss', step, 1 / step)\n"
   .. "  viz.plot('doc-loss', step, 1.2 / step, {series = 'val'})\nend"},
  {"viz.config", "viz.config(name, {smoothing =, logy =, raw =, title =, xlabel =, ylabel =})",
   "Changes a line chart's settings (and makes the chart when there is none): smoothing is "
   .. "the EMA weight in [0, 1) (0.6 by default, 0 shows raw values), logy a log-scale y axis, "
   .. "raw whether the raw points are drawn behind the smoothed line.",
   "viz.plot('doc-config', 1, 0.5)\nviz.config('doc-config', {smoothing = 0.9, logy = true, "
   .. "title = 'training loss'})"},
  {"viz.heatmap", "viz.heatmap(name, t2d [, {title =, vmin =, vmax =}])",
   "Shows a 2-D tensor (a 1-D one as a single row) in the viridis colormap with a colour bar; "
   .. "the range is that of the finite values unless vmin/vmax are given. NaN cells are grey. "
   .. "The mouse reads out cells (1-based [row, col])." .. HEADLESS,
   "viz.heatmap('doc-heat', tycho.randn(8, 12), {title = 'weights'})"},
  {"viz.image", "viz.image(name, img [, {labels =, cols =, title =, range = {lo, hi}}])",
   "Shows an image (H,W) or (C,H,W) with 1, 3 or 4 channels, a batch (B,C,H,W) or (B,H,W), or "
   .. "a list of same-shaped images, as a grid with a label under each image. Float images in "
   .. "[0, 1] are shown as they are, others stretched from their min to max (u8: 0..255) "
   .. "unless range is given." .. HEADLESS,
   "viz.image('doc-images', tycho.rand(4, 1, 28, 28), {labels = {'a', 'b', 'c', 'd'}})"},
  {"viz.attention", "viz.attention(vit, image [, {name =, labels =, classes =, title =}])",
   "Runs vit:forward(x, {return_attention = true}) on an image (C,H,W) or a batch (B,C,H,W) "
   .. "without autograd and in eval mode, and shows in one window (named 'attention' unless "
   .. "opts.name says else), for each image: the image, the class token's attention in each "
   .. "head of the last block, and the attention rollout through all blocks (Abnar & "
   .. "Zuidema 2020: heads averaged, identity added, rows renormalised, blocks multiplied), "
   .. "upsampled over the image. Each row is labelled with the prediction (class names from "
   .. "opts.classes) unless opts.labels are given." .. HEADLESS,
   "vit = nn.ViT({image = 8, patch = 4, channels = 1, dim = 16, depth = 2, heads = 2, "
   .. "mlp = 32, classes = 3})\nviz.attention(vit, tycho.rand(1, 8, 8), {name = 'doc-attention'})"},
  {"viz.save", "viz.save(name [, file.png]) -> path",
   "Writes a view as a PNG file (the same pixels the window shows); without a path into "
   .. "viz.outdir() as <name>.png. Returns the path written.",
   "viz.plot('doc-save', 1, 0.5)\npath = viz.save('doc-save')"},
  {"viz.close", "viz.close(name)",
   "Closes a view: its window goes and its data is dropped (headless, its last state is "
   .. "written first). Closing a window with the mouse only hides it; viz.show brings it back.",
   "viz.plot('doc-close', 1, 0.5)\nviz.close('doc-close')"},
  {"viz.show", "viz.show(name)",
   "Opens the window of a view again after it was closed with the mouse (or raises it).",
   "viz.plot('doc-show', 1, 0.5)\nviz.show('doc-show')"},
  {"viz.names", "viz.names() -> {name, ...}", "The names of the views, oldest first.",
   "print(table.concat(viz.names(), ', '))"},
  {"viz.headless", "viz.headless() -> boolean",
   "Whether views are drawn off-screen: tycho --headless, no DISPLAY, or SDL failing to start.",
   "print(viz.headless())"},
  {"viz.outdir", "viz.outdir() -> path",
   "The folder for PNG files (headless views, viz.save without a path, the s key): "
   .. "$TYCHO_VIZ_DIR, else ./tycho-plots; made and printed on first use.",
   "print(viz.outdir())"},
  {"viz.pump", "viz.pump()",
   "Handles window events and redraws now. Rarely needed: the prompt pumps while it waits, "
   .. "running Lua code pumps at least every 100 ms, and every viz call pumps; only a long "
   .. "stretch inside one C call holds the windows still.",
   "viz.pump()"},
}
