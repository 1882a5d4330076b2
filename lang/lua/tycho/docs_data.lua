-- Help texts of the data module (?data.loader at the prompt): a list of
-- {key, signature, text, example}; docs.lua loads it, and
-- tests/lua/test_repl_magics.lua runs every example (none loads a data set
-- from disk: they use data.dataset on random tensors).
return {
  {"data.fashion_mnist", "data.fashion_mnist([\"train\" | \"test\"])  ->  dataset",
   "Fashion-MNIST (Xiao et al. 2017): \"train\" (60,000, the default) or \"test\" (10,000). "
     .. "images (N, 1, 28, 28) f32 in [0, 1], labels i64 1..10 (data.fashion_mnist_classes "
     .. "names them). Read from $TYCHO_DATA (a directory with the four IDX files, .gz or not) "
     .. "or Debian's dataset-fashion-mnist package (/usr/share/datasets/fashion-mnist); the "
     .. "error says what to install when neither has them.",
   "-- train = data.fashion_mnist(\"train\")\n-- print(train, train:get(1))\n"
     .. "print(type(data.fashion_mnist))"},
  {"data.fashion_mnist_classes", "data.fashion_mnist_classes",
   "The names of Fashion-MNIST's classes, by label: {\"T-shirt/top\", \"Trouser\", "
     .. "\"Pullover\", \"Dress\", \"Coat\", \"Sandal\", \"Shirt\", \"Sneaker\", \"Bag\", "
     .. "\"Ankle boot\"}.",
   "print(data.fashion_mnist_classes[10])"},
  {"data.dataset", "data.dataset(inputs, targets [, {name =, classes =}])  ->  dataset",
   "A dataset of two tensors whose first dims agree (fields images and labels, whatever they "
     .. "hold). #ds is its length, ds:get(i) example i (a tensor and, for a 1-d target, a Lua "
     .. "number); print(ds) describes it.",
   "ds = data.dataset(tycho.rand(100, 1, 8, 8), tycho.randint(1, 11, {100}))\n"
     .. "x, y = ds:get(1)\nprint(ds, #ds, y)"},
  {"data.subset", "data.subset(ds, indices)  ->  dataset",
   "The examples of ds at the 1-based indices (a list or an i64 tensor), as a new dataset "
     .. "(copies).",
   "ds = data.dataset(tycho.rand(100, 4), tycho.randint(1, 4, {100}))\n"
     .. "first10 = data.subset(ds, tycho.arange(1, 11):to(\"i64\"))\nprint(#first10)"},
  {"data.filter_classes", "data.filter_classes(ds, {label, ...})  ->  dataset",
   "The examples of ds whose label is one of the given ones (in their original order).",
   "ds = data.dataset(tycho.rand(100, 4), tycho.randint(1, 4, {100}))\n"
     .. "ones_and_twos = data.filter_classes(ds, {1, 2})\nprint(#ones_and_twos)"},
  {"data.loader", "data.loader(ds, {batch = 64, shuffle = false, drop_last = false, "
     .. "augment = {crop =, flip =}})",
   "Batches of ds: for images, labels in data.loader(ds, opts) do ... end. shuffle draws a "
     .. "fresh permutation from tycho's seeded generator each epoch (tycho.manual_seed makes it "
     .. "reproducible); the last batch is short unless drop_last; #loader is the number of "
     .. "batches. augment (image batches only): crop = padding for data.random_crop, flip = true "
     .. "(or a probability) for data.random_flip. The loader is also its own iterator: each "
     .. "call gives the next batch and, after the last, starts a new epoch.",
   "ds = data.dataset(tycho.rand(100, 1, 8, 8), tycho.randint(1, 11, {100}))\n"
     .. "loader = data.loader(ds, {batch = 32, shuffle = true, augment = {crop = 1, flip = true}})\n"
     .. "for images, labels in loader do print(images.shape[1], labels.shape[1]) end\nprint(#loader)"},
  {"data.idx", "data.idx(path)  ->  tensor",
   "Reads an IDX file (MNIST's format), gzip-compressed or not, as a tensor of its shape: "
     .. "u8 for unsigned bytes, i64 for signed integers, f32 or f64 for floats.",
   "path = os.tmpname()\nf = io.open(path, \"wb\")\n"
     .. "f:write(string.char(0, 0, 8, 1, 0, 0, 0, 3, 7, 8, 9))\nf:close()\n"
     .. "print(data.idx(path))\nos.remove(path)"},
  {"data.random_crop", "data.random_crop(images, pad)  ->  images",
   "Random crops with zero padding: each image of the batch (B, C, H, W) is padded by pad "
     .. "pixels on every side and cut back to H x W at a random offset (one offset per image, "
     .. "the same for its channels).",
   "x = data.random_crop(tycho.rand(4, 1, 28, 28), 2)\nprint(x.shape[3])"},
  {"data.random_flip", "data.random_flip(images [, p = 0.5])  ->  images",
   "Mirrors each image of the batch (B, C, H, W) left-right with probability p.",
   "x = data.random_flip(tycho.rand(4, 1, 28, 28))"},
}
