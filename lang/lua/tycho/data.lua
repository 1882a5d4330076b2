-- tycho.data (the global `data` at the prompt): datasets and batches.
--
--   local train = data.fashion_mnist("train")   -- {images = (60000,1,28,28) f32, labels = i64 1..10}
--   for images, labels in data.loader(train, {batch = 128, shuffle = true}) do ... end
--
-- A dataset is a table with two tensors of the same length, `images` and
-- `labels` (data.dataset makes one from any pair); loaders batch it with
-- index_select, shuffle it with tycho's seeded generator, and can augment
-- image batches with random crops and flips.
local tycho = require("tycho")
local raise = require("tycho.errors").raise

local data = {}

local Dataset = {}
Dataset.__index = Dataset

function Dataset:__len()
  return self.images:size(1)
end

function Dataset:__tostring()
  return string.format("Dataset%s: %d examples, images (%s) %s, labels (%s) %s",
                       self.name and (" " .. self.name) or "", #self,
                       table.concat(self.images.shape, ", "), self.images.dtype,
                       table.concat(self.labels.shape, ", "), self.labels.dtype)
end

-- Example i (1-based): image, label (a tensor and a Lua integer).
function Dataset:get(i)
  local n = #self
  if math.type(i) ~= "integer" or i < 1 or i > n then
    raise("Dataset:get: index %s out of range 1..%d", tostring(i), n)
  end
  local label = self.labels[i]
  if tycho.is_tensor(label) and label:dim() == 0 then label = label:item() end
  return self.images[i], label
end

-- A dataset of two tensors whose first dims agree.
function data.dataset(images, labels, opts)
  if not tycho.is_tensor(images) or not tycho.is_tensor(labels) then
    raise("data.dataset: expected two tensors (inputs, targets), got %s and %s",
          tycho.is_tensor(images) and "a tensor" or type(images),
          tycho.is_tensor(labels) and "a tensor" or type(labels))
  end
  if images:dim() == 0 or labels:dim() == 0 or images:size(1) ~= labels:size(1) then
    raise("data.dataset: inputs (%s) and targets (%s) need the same first dim",
          table.concat(images.shape, ", "), table.concat(labels.shape, ", "))
  end
  local ds = setmetatable({images = images, labels = labels}, Dataset)
  if opts then
    ds.name, ds.classes = opts.name, opts.classes
  end
  return ds
end

-- The examples of ds at the 1-based indices idx (an i64 tensor or a list),
-- as a new dataset (copies).
function data.subset(ds, idx)
  if getmetatable(ds) ~= Dataset then raise("data.subset: argument 1 must be a dataset") end
  if type(idx) == "table" then idx = tycho.tensor(idx, {dtype = "i64"}) end
  if not tycho.is_tensor(idx) then raise("data.subset: indices must be a tensor or a list") end
  local out = data.dataset(ds.images:index_select(1, idx), ds.labels:index_select(1, idx))
  out.name, out.classes = ds.name, ds.classes
  return out
end

-- The examples of ds whose label is one of classes (a list of labels).
function data.filter_classes(ds, classes)
  if getmetatable(ds) ~= Dataset then raise("data.filter_classes: argument 1 must be a dataset") end
  if type(classes) ~= "table" or #classes == 0 then
    raise("data.filter_classes: classes must be a non-empty list of labels")
  end
  local keep = ds.labels:eq(classes[1])
  for i = 2, #classes do keep = keep:logical_or(ds.labels:eq(classes[i])) end
  return data.subset(ds, keep:nonzero():reshape(-1))
end

-- ---------------------------------------------------------------- files

local function exists(path)
  local f = io.open(path, "rb")
  if f then f:close() end
  return f ~= nil
end

-- Any IDX file (MNIST's format), gzip-compressed or not, as a tensor of its
-- type (u8 for images and labels) and shape.
function data.idx(path)
  if type(path) ~= "string" then raise("data.idx: path must be a string, got %s", type(path)) end
  return tycho._load_idx(path)
end

local FASHION_CLASSES = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                         "Sneaker", "Bag", "Ankle boot"}
data.fashion_mnist_classes = FASHION_CLASSES

local FASHION_DIRS = {"/usr/share/datasets/fashion-mnist"}

-- The first of name and name.gz that exists in dir.
local function find_file(dir, name)
  for _, p in ipairs({dir .. "/" .. name, dir .. "/" .. name .. ".gz"}) do
    if exists(p) then return p end
  end
  return nil
end

-- Fashion-MNIST (Xiao et al. 2017): split "train" (60,000) or "test"
-- (10,000). images (N, 1, 28, 28) f32 in [0, 1], labels i64 1..10
-- (data.fashion_mnist_classes names them). Read from $TYCHO_DATA (a
-- directory with the four IDX files, .gz or not) or Debian's
-- dataset-fashion-mnist package.
function data.fashion_mnist(split)
  split = split or "train"
  if split ~= "train" and split ~= "test" then
    raise("data.fashion_mnist: split must be 'train' or 'test', got %s", tostring(split))
  end
  local prefix = split == "train" and "train" or "t10k"
  local dirs = {}
  local env = os.getenv("TYCHO_DATA")
  if env and env ~= "" then
    dirs[#dirs + 1] = env
    dirs[#dirs + 1] = env .. "/fashion-mnist"
  end
  for _, d in ipairs(FASHION_DIRS) do dirs[#dirs + 1] = d end
  for _, dir in ipairs(dirs) do
    local img = find_file(dir, prefix .. "-images-idx3-ubyte")
    local lab = find_file(dir, prefix .. "-labels-idx1-ubyte")
    if img and lab then
      local images = data.idx(img)
      local labels = data.idx(lab)
      if images:dim() ~= 3 or labels:dim() ~= 1 or images:size(1) ~= labels:size(1) then
        raise("data.fashion_mnist: %s and %s do not look like Fashion-MNIST (shapes (%s) and (%s))",
              img, lab, table.concat(images.shape, ", "), table.concat(labels.shape, ", "))
      end
      local n, h, w = images:size(1), images:size(2), images:size(3)
      images = (images:to("f32") / 255):reshape(n, 1, h, w)
      labels = labels:to("i64") + 1
      return data.dataset(images, labels, {name = "fashion-mnist " .. split, classes = FASHION_CLASSES})
    end
  end
  raise("data.fashion_mnist: the %s files (%s-images-idx3-ubyte[.gz], %s-labels-idx1-ubyte[.gz]) "
        .. "are not in %s; install them with `apt-get install dataset-fashion-mnist` or point "
        .. "TYCHO_DATA at a directory that has them", split, prefix, prefix,
        table.concat(dirs, " or "))
end

-- ---------------------------------------------------------------- augmentation

-- Random crop with zero padding: each image of the batch (B, C, H, W) is
-- padded by pad pixels on every side and cut back to H x W at a random
-- offset (the same offset for all its channels).
function data.random_crop(images, pad)
  if not tycho.is_tensor(images) or images:dim() ~= 4 then
    raise("data.random_crop: expected a batch (B, C, H, W)")
  end
  if math.type(pad) ~= "integer" or pad < 0 then
    raise("data.random_crop: padding must be an integer >= 0, got %s", tostring(pad))
  end
  if pad == 0 then return images end
  local b, h, w = images:size(1), images:size(3), images:size(4)
  local padded = tycho.pad(images, {pad, pad, pad, pad})
  local offsets = tycho.randint(0, 2 * pad + 1, {b, 2}):tolist()
  local out = tycho.empty_like(images)
  for i = 1, b do
    local dy, dx = offsets[i][1], offsets[i][2]
    out[i] = padded[{i, {}, {dy + 1, dy + h}, {dx + 1, dx + w}}]
  end
  return out
end

-- Flips each image of the batch left-right with probability p (0.5).
function data.random_flip(images, p)
  if not tycho.is_tensor(images) or images:dim() ~= 4 then
    raise("data.random_flip: expected a batch (B, C, H, W)")
  end
  p = p or 0.5
  local b = images:size(1)
  local flip = tycho.rand(b, 1, 1, 1):lt(p)
  return tycho.where(flip, images:flip(4), images)
end

-- ---------------------------------------------------------------- loader

local LOADER_OPTS = {batch = true, shuffle = true, drop_last = true, crop = true, flip = true,
                     augment = true}

-- An iterator over batches of ds: `for images, labels in data.loader(ds, opts) do`.
-- opts: batch (64), shuffle (false; a fresh permutation from tycho's
-- generator each time the loader is called), drop_last (false),
-- augment = {crop = padding, flip = true} for image batches.
-- #loader is the number of batches.
function data.loader(ds, opts)
  if getmetatable(ds) ~= Dataset then
    raise("data.loader: argument 1 must be a dataset (data.fashion_mnist, data.dataset), got %s",
          type(ds))
  end
  opts = opts or {}
  for k in pairs(opts) do
    if not LOADER_OPTS[k] then raise("data.loader: unknown option '%s'", tostring(k)) end
  end
  local bs = opts.batch or 64
  if math.type(bs) ~= "integer" or bs < 1 then
    raise("data.loader: batch must be a positive integer, got %s", tostring(bs))
  end
  local aug = opts.augment or {}
  if type(aug) ~= "table" then raise("data.loader: augment must be a table {crop =, flip =}") end
  local crop, flip = aug.crop or opts.crop, aug.flip or opts.flip
  local n = #ds
  local batches = opts.drop_last and n // bs or (n + bs - 1) // bs
  local loader = {dataset = ds, batch = bs, n_batches = batches}
  local function iterate()
    local order = opts.shuffle and tycho.randperm(n) or nil
    local k = 0
    return function()
      k = k + 1
      if k > batches then return nil end
      local first = (k - 1) * bs + 1
      local size = math.min(bs, n - first + 1)
      local images, labels
      if order then
        local idx = order:narrow(1, first, size)
        images, labels = ds.images:index_select(1, idx), ds.labels:index_select(1, idx)
      else
        images, labels = ds.images:narrow(1, first, size), ds.labels:narrow(1, first, size)
      end
      if crop and crop > 0 then images = data.random_crop(images, crop) end
      if flip then images = data.random_flip(images, flip == true and 0.5 or flip) end
      return images, labels
    end
  end
  -- The loader is its own iterator (`for x, y in loader do`): each call
  -- gives the next batch; after the last one it starts a new epoch (a new
  -- shuffle) on the next call. data.loader(...) in the `for` itself gives a
  -- fresh loader each epoch.
  local current
  return setmetatable(loader, {
    __call = function()
      current = current or iterate()
      local images, labels = current()
      if images == nil then current = nil end
      return images, labels
    end,
    __len = function() return batches end,
    __tostring = function()
      return string.format("loader: %d batches of %d from %s", batches, bs, tostring(ds))
    end,
  })
end

return data
