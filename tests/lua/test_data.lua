-- data: IDX files, datasets, subsets, loaders (batching, drop_last,
-- shuffling from the seeded generator), augmentation, and Fashion-MNIST when
-- its files are installed.
local H = dofile((arg and arg[0] or ""):match("(.*/)") .. "harness.lua")
local test, eq, near, raises, ok = H.test, H.eq, H.near, H.raises, H.ok
local tycho = rawget(_G, "tycho") or require("tycho")
local data = require("tycho.data")
local T = tycho.tensor
local I64 = {dtype = "i64"}

local function tmpdir()
  local d = os.getenv("TY_TEST_TMPDIR")
  if d and d ~= "" then return d end
  local base = os.tmpname()
  os.remove(base)
  assert(os.execute("mkdir -p '" .. base .. "'"))
  return base
end
local DIR = tmpdir()

-- Writes an IDX file: magic 0 0 <type> <ndim>, big-endian u32 sizes, data.
local function write_idx(name, type_code, shape, bytes)
  local path = DIR .. "/" .. name
  local f = assert(io.open(path, "wb"))
  f:write(string.char(0, 0, type_code, #shape))
  for _, s in ipairs(shape) do f:write(string.pack(">I4", s)) end
  f:write(bytes)
  f:close()
  return path
end

local function u8_bytes(n, fn)
  local b = {}
  for i = 1, n do b[i] = string.char(fn(i)) end
  return table.concat(b)
end

test("data.idx: u8 images and labels, i32 and f32 data, shapes from the header", function()
  local p = write_idx("images-idx3-ubyte", 0x08, {3, 2, 4},
                      u8_bytes(24, function(i) return i * 10 % 256 end))
  local x = data.idx(p)
  eq(x.dtype, "u8")
  eq(x.shape, {3, 2, 4})
  eq(x[{1, 1}], {10, 20, 30, 40})
  eq(x[{3, 2, 4}]:item(), 240)
  eq(x[{2, 1, 1}]:item(), 90)
  p = write_idx("labels-idx1-ubyte", 0x08, {5}, string.char(0, 9, 3, 255, 1))
  eq(data.idx(p), T({0, 9, 3, 255, 1}, {dtype = "u8"}))
  p = write_idx("ints-idx", 0x0C, {2}, string.pack(">i4>i4", -5, 70000))
  local i = data.idx(p)
  eq(i.dtype, "i64")
  eq(i, T({-5, 70000}, I64))
  p = write_idx("floats-idx", 0x0D, {2, 1}, string.pack(">f>f", 1.5, -0.25))
  local f = data.idx(p)
  eq(f.dtype, "f32")
  eq(f, T({{1.5}, {-0.25}}))
end)

test("data.idx: bad files and paths give errors naming data.idx", function()
  local p = write_idx("short-idx", 0x08, {5}, string.char(1, 2, 3))
  raises(function() data.idx(p) end, "truncated")
  local bad = DIR .. "/bad-magic"
  local f = assert(io.open(bad, "wb"))
  f:write("\1\2\3\4")
  f:close()
  raises(function() data.idx(bad) end, "not an IDX file")
  raises(function() data.idx(DIR .. "/no-such-file") end, "data.idx")
  raises(function() data.idx(42) end, "data.idx: path must be a string, got number")
  p = write_idx("odd-type", 0x07, {1}, "x")
  raises(function() data.idx(p) end, "unknown type code")
end)

local function numbered(n)
  -- images whose every pixel is the example's number; labels 1..3 cycling
  local images = tycho.arange(1, n + 1):to("f32"):reshape(n, 1, 1, 1):expand(n, 1, 2, 2):contiguous()
  local lab = {}
  for i = 1, n do lab[i] = (i - 1) % 3 + 1 end
  return data.dataset(images, T(lab, I64))
end

-- The example numbers in a batch of numbered() images.
local function ids(images)
  return images[{{}, 1, 1, 1}]:to("i64"):tolist()
end

test("data.dataset, get, #, tostring, subset, filter_classes", function()
  local ds = numbered(10)
  eq(#ds, 10)
  local img, label = ds:get(4)
  eq(img, tycho.full({1, 2, 2}, 4))
  eq(label, 1)
  eq(math.type(label), "integer")
  ok(tostring(ds):find("10 examples, images (10, 1, 2, 2) f32, labels (10) i64", 1, true),
     tostring(ds))
  local sub = data.subset(ds, {3, 1, 10})
  eq(#sub, 3)
  eq(ids(sub.images), {3, 1, 10})
  eq(sub.labels, T({3, 1, 1}, I64))
  eq(ids(data.subset(ds, T({2, 2}, I64)).images), {2, 2})
  local f = data.filter_classes(ds, {2, 3})
  eq(ids(f.images), {2, 3, 5, 6, 8, 9})
  eq(f.labels, T({2, 3, 2, 3, 2, 3}, I64))
  eq(#data.filter_classes(ds, {1}), 4)
  -- targets of any shape: get gives a tensor for a non-scalar one
  local reg = data.dataset(tycho.zeros(3, 2), tycho.arange(1, 13):to("f32"):reshape(3, 4))
  local _, target = reg:get(2)
  eq(target, {5, 6, 7, 8})
  local named = data.dataset(tycho.zeros(2, 3), T({1, 2}, I64), {name = "toy", classes = {"a", "b"}})
  eq(named.classes, {"a", "b"})
  ok(tostring(named):find("Dataset toy:", 1, true))
  eq(data.subset(named, {1}).name, "toy")
  raises(function() data.dataset(tycho.zeros(3, 2), tycho.zeros(4)) end,
         "data.dataset: inputs (3, 2) and targets (4) need the same first dim")
  raises(function() data.dataset({}, tycho.zeros(4)) end, "data.dataset: expected two tensors")
  raises(function() ds:get(11) end, "Dataset:get: index 11 out of range 1..10")
  raises(function() ds:get(0) end, "Dataset:get")
  raises(function() data.subset({}, {1}) end, "data.subset: argument 1 must be a dataset")
  raises(function() data.subset(ds, "x") end, "data.subset: indices must be a tensor or a list")
  raises(function() data.filter_classes(ds, {}) end,
         "data.filter_classes: classes must be a non-empty list")
  raises(function() data.filter_classes(5, {1}) end,
         "data.filter_classes: argument 1 must be a dataset")
end)

test("loader: batch sizes, the last short batch, drop_last, #loader", function()
  local ds = numbered(10)
  local l = data.loader(ds, {batch = 4})
  eq(#l, 3)
  local sizes, seen = {}, {}
  for x, y in l do
    sizes[#sizes + 1] = x:size(1)
    eq(y:size(1), x:size(1))
    eq(x.shape[2], 1)
    for _, v in ipairs(ids(x)) do seen[#seen + 1] = v end
  end
  eq(sizes, {4, 4, 2})
  eq(seen, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, "in order without shuffle")
  local dl = data.loader(ds, {batch = 4, drop_last = true})
  eq(#dl, 2)
  sizes = {}
  for x in dl do sizes[#sizes + 1] = x:size(1) end
  eq(sizes, {4, 4})
  eq(#data.loader(ds, {batch = 5}), 2)
  eq(#data.loader(ds, {batch = 5, drop_last = true}), 2)
  eq(#data.loader(ds, {batch = 64}), 1)
  eq(#data.loader(ds, {batch = 64, drop_last = true}), 0)
  eq(#data.loader(ds), 1, "batch 64 by default")
  -- labels travel with their images
  for x, y in data.loader(ds, {batch = 3, shuffle = true}) do
    local xs, ys = ids(x), y:tolist()
    for i = 1, #xs do eq(ys[i], (xs[i] - 1) % 3 + 1) end
  end
  ok(tostring(l):find("loader: 3 batches of 4", 1, true))
end)

test("loader: the loader is its own iterator and starts a new epoch after the last batch", function()
  local ds = numbered(5)
  local l = data.loader(ds, {batch = 2})
  local firsts = {}
  for _ = 1, 2 do
    for x in l do firsts[#firsts + 1] = ids(x)[1] end
  end
  eq(firsts, {1, 3, 5, 1, 3, 5})
end)

test("loader: shuffling is a permutation of every example, reproducible with manual_seed", function()
  local ds = numbered(50)
  local function epoch(l)
    local order = {}
    for x in l do
      for _, v in ipairs(ids(x)) do order[#order + 1] = v end
    end
    return order
  end
  tycho.manual_seed(42)
  local l = data.loader(ds, {batch = 8, shuffle = true})
  local a = epoch(l)
  local b = epoch(l)
  eq(#a, 50)
  local sorted = {table.unpack(a)}
  table.sort(sorted)
  local all = {}
  for i = 1, 50 do all[i] = i end
  eq(sorted, all, "every example exactly once")
  local same = true
  for i = 1, 50 do same = same and a[i] == i end
  ok(not same, "shuffled")
  local differ = false
  for i = 1, 50 do differ = differ or a[i] ~= b[i] end
  ok(differ, "a fresh permutation each epoch")
  tycho.manual_seed(42)
  eq(epoch(data.loader(ds, {batch = 8, shuffle = true})), a, "same seed, same order")
  tycho.manual_seed(43)
  local c = epoch(data.loader(ds, {batch = 8, shuffle = true}))
  local diff = false
  for i = 1, 50 do diff = diff or a[i] ~= c[i] end
  ok(diff, "another seed, another order")
  -- drop_last with shuffle: a random subset of full batches
  local n = 0
  for x in data.loader(ds, {batch = 8, shuffle = true, drop_last = true}) do
    eq(x:size(1), 8)
    n = n + 1
  end
  eq(n, 6)
end)

-- Images (B, C, H, W) with distinct positive values.
local function distinct(b, c, h, w)
  return (tycho.arange(1, b * c * h * w + 1):to("f32")):reshape(b, c, h, w)
end

test("random_crop: same shape, the content shifted inside zero padding", function()
  tycho.manual_seed(1)
  local b, c, h, w, pad = 40, 2, 5, 6, 2
  local x = distinct(b, c, h, w)
  local y = data.random_crop(x, pad)
  eq(y.shape, {b, c, h, w})
  -- the padded images, built by hand
  local padded = tycho.zeros(b, c, h + 2 * pad, w + 2 * pad)
  padded[{{}, {}, {pad + 1, pad + h}, {pad + 1, pad + w}}] = x
  local offsets = {}
  for i = 1, b do
    local found
    for dy = 0, 2 * pad do
      for dx = 0, 2 * pad do
        if not found and tycho.equal(y[i], padded[{i, {}, {dy + 1, dy + h}, {dx + 1, dx + w}}]) then
          found = dy * 10 + dx
        end
      end
    end
    ok(found ~= nil, "image " .. i .. " is a window of its padded self, the same for all channels")
    offsets[found or -1] = true
  end
  local distinct_offsets = 0
  for _ in pairs(offsets) do distinct_offsets = distinct_offsets + 1 end
  ok(distinct_offsets > 5, "offsets vary: " .. distinct_offsets)
  ok(rawequal(data.random_crop(x, 0), x), "pad 0: unchanged")
  raises(function() data.random_crop(tycho.zeros(2, 3), 1) end,
         "data.random_crop: expected a batch (B, C, H, W)")
  raises(function() data.random_crop(x, -1) end,
         "data.random_crop: padding must be an integer >= 0")
  raises(function() data.random_crop(x, 1.5) end, "data.random_crop")
end)

test("random_flip: each image as it was or mirrored left-right, with probability p", function()
  tycho.manual_seed(2)
  local x = distinct(200, 1, 2, 3)
  local y = data.random_flip(x)
  eq(y.shape, x.shape)
  local flipped = 0
  for i = 1, 200 do
    local same, mirror = tycho.equal(y[i], x[i]), tycho.equal(y[i], x[i]:flip(3))
    ok(same or mirror, "image " .. i)
    if mirror then flipped = flipped + 1 end
  end
  ok(flipped > 70 and flipped < 130, "about half flipped: " .. flipped)
  eq(data.random_flip(x, 1), x:flip(4))
  eq(data.random_flip(x, 0), x)
  eq(data.random_flip(x, 1)[{1, 1, 1}], {3, 2, 1})
  raises(function() data.random_flip(tycho.zeros(3)) end, "data.random_flip: expected a batch")
end)

test("loader with augmentation keeps shapes and labels", function()
  tycho.manual_seed(3)
  local ds = data.dataset(distinct(12, 1, 6, 6), T({1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 1, 2}, I64))
  local n = 0
  for x, y in data.loader(ds, {batch = 5, augment = {crop = 2, flip = true}}) do
    n = n + 1
    eq(x.shape[2], 1)
    eq(x.shape[3], 6)
    eq(x.shape[4], 6)
    eq(y:size(1), x:size(1))
  end
  eq(n, 3)
  local changed = false
  for x in data.loader(ds, {batch = 12, crop = 1, flip = 1}) do
    changed = not tycho.equal(x, ds.images)
  end
  ok(changed, "the top-level crop/flip options augment too")
end)

test("loader: bad options name data.loader", function()
  local ds = numbered(4)
  raises(function() data.loader({}) end, "data.loader: argument 1 must be a dataset")
  raises(function() data.loader(ds, {batchsize = 2}) end, "data.loader: unknown option 'batchsize'")
  raises(function() data.loader(ds, {batch = 0}) end,
         "data.loader: batch must be a positive integer, got 0")
  raises(function() data.loader(ds, {batch = 2.5}) end,
         "data.loader: batch must be a positive integer")
  raises(function() data.loader(ds, {augment = 1}) end, "data.loader: augment must be a table")
  local msg = raises(function() data.loader(ds, {batch = -1}) end, "data.loader")
  ok(msg:find("test_data.lua", 1, true), "the error points at the caller's line: " .. msg)
end)

test("fashion_mnist: shapes, ranges, labels 1..10 (when installed)", function()
  local okt, test_set = pcall(data.fashion_mnist, "test")
  if not okt then
    print("skip: Fashion-MNIST is not installed (" .. tostring(test_set):sub(1, 120) .. "...)")
    ok(tostring(test_set):find("data.fashion_mnist", 1, true), "the error names data.fashion_mnist")
    ok(tostring(test_set):find("dataset-fashion-mnist", 1, true), "and says what to install")
    return
  end
  eq(test_set.images.shape, {10000, 1, 28, 28})
  eq(test_set.images.dtype, "f32")
  eq(test_set.labels.shape, {10000})
  eq(test_set.labels.dtype, "i64")
  ok(test_set.images:min():item() >= 0 and test_set.images:max():item() <= 1, "images in [0, 1]")
  near(test_set.images:max():item(), 1, 0, "255 maps to 1")
  eq(test_set.labels:min():item(), 1)
  eq(test_set.labels:max():item(), 10)
  -- the test set is balanced: 1000 of each class
  for c = 1, 10 do eq(test_set.labels:eq(c):sum():item(), 1000, "class " .. c) end
  eq(#test_set.classes, 10)
  eq(data.fashion_mnist_classes[1], "T-shirt/top")
  eq(data.fashion_mnist_classes[10], "Ankle boot")
  local train = data.fashion_mnist()   -- "train" by default
  eq(train.images.shape, {60000, 1, 28, 28})
  eq(train.labels.shape, {60000})
  eq(train.labels:max():item(), 10)
  ok(tostring(train):find("fashion-mnist train", 1, true), tostring(train))
end)

test("fashion_mnist: a bad split is an error naming the function", function()
  raises(function() data.fashion_mnist("val") end,
         "data.fashion_mnist: split must be 'train' or 'test', got val")
end)

H.done()
