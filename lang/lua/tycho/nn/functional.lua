-- nn.functional: the stateless forms of the layers and the losses. Each is
-- a thin, readable wrapper over one tycho op (a fused C kernel with its own
-- backward where it pays: linear, softmax, layer_norm, cross_entropy,
-- attention, dropout).
local tycho = require("tycho")
local Module = require("tycho.nn.module")

local F = {}

local function need_tensor(v, fn, what)
  if not tycho.is_tensor(v) then
    error(string.format("nn.functional.%s: %s must be a tensor, got %s", fn, what, type(v)), 3)
  end
end

-- x @ w^T + b, x (..., in), w (out, in), b (out) or nil.
function F.linear(x, w, b)
  return tycho.linear(x, w, b)
end

function F.relu(x) return x:relu() end
function F.silu(x) return x:silu() end
function F.tanh(x) return x:tanh() end
function F.sigmoid(x) return x:sigmoid() end
function F.softplus(x) return x:softplus() end

-- GELU; approximate = "tanh" uses the tanh formula (as PyTorch's).
function F.gelu(x, approximate)
  if approximate == "tanh" then return x:gelu_tanh() end
  if approximate ~= nil and approximate ~= "none" then
    error("nn.functional.gelu: approximate must be 'none' or 'tanh', got " .. tostring(approximate), 2)
  end
  return x:gelu()
end

function F.softmax(x, dim) return x:softmax(dim or -1) end
function F.log_softmax(x, dim) return x:log_softmax(dim or -1) end

-- Zeroes elements with probability p and scales the rest by 1/(1-p) when
-- training is true (the default); the identity otherwise.
function F.dropout(x, p, training)
  if training == nil then training = true end
  return tycho.dropout(x, p or 0.5, training)
end

-- Normalises over the trailing dims given by normalized_shape (a number
-- or a shape table).
function F.layer_norm(x, normalized_shape, weight, bias, eps)
  return tycho.layer_norm(x, normalized_shape, weight, bias, eps or 1e-5)
end

-- Rows of weight picked by 1-based indices of any shape: result idx.shape .. {dim}.
function F.embedding(idx, weight)
  need_tensor(idx, "embedding", "the indices")
  need_tensor(weight, "embedding", "the weight")
  local rows = tycho.index_select(weight, 1, idx:reshape(-1))
  local shape = idx.shape
  shape[#shape + 1] = weight.shape[2]
  return rows:reshape(shape)
end

-- Softmax cross-entropy: logits (N, C) or (N, C, d...), labels i64 1..C.
-- opts: reduction ("mean", "sum", "none"), ignore_index, label_smoothing.
function F.cross_entropy(logits, labels, opts)
  return tycho.cross_entropy(logits, labels, opts)
end

-- Negative log-likelihood of log-probabilities.
function F.nll_loss(logp, labels, opts)
  return tycho.nll_loss(logp, labels, opts)
end

local function reduce(loss, reduction, fn)
  if reduction == nil or reduction == "mean" then return loss:mean() end
  if reduction == "sum" then return loss:sum() end
  if reduction == "none" then return loss end
  error(string.format("nn.functional.%s: unknown reduction '%s' (expected mean, sum or none)",
                      fn, tostring(reduction)), 3)
end

local function check_pair(a, b, fn)
  need_tensor(a, fn, "the input")
  need_tensor(b, fn, "the target")
  local sa, sb = a.shape, b.shape
  if not Module._same_shape(sa, sb) then
    error(string.format("nn.functional.%s: input shape (%s) and target shape (%s) differ", fn,
                        table.concat(sa, ", "), table.concat(sb, ", ")), 3)
  end
end

-- Mean squared error; opts.reduction as for cross_entropy.
function F.mse_loss(a, b, opts)
  check_pair(a, b, "mse_loss")
  local d = a - b
  return reduce(d * d, opts and opts.reduction, "mse_loss")
end

-- Mean absolute error.
function F.l1_loss(a, b, opts)
  check_pair(a, b, "l1_loss")
  return reduce((a - b):abs(), opts and opts.reduction, "l1_loss")
end

-- Binary cross-entropy on logits, written in the stable form
-- max(x, 0) - x y + log(1 + exp(-|x|)).
function F.binary_cross_entropy_with_logits(x, y, opts)
  check_pair(x, y, "binary_cross_entropy_with_logits")
  local loss = x:relu() - x * y + (-x:abs()):exp():log1p()
  return reduce(loss, opts and opts.reduction, "binary_cross_entropy_with_logits")
end

-- softmax(q k^T * scale + mask) v over the last two dims; q, k, v
-- (..., N, d). opts: mask, causal, scale, return_weights (then the weights
-- come back as a second result).
function F.scaled_dot_product_attention(q, k, v, opts)
  return tycho.attention(q, k, v, opts)
end

-- One-hot rows of labels 1..classes (an i64 tensor of shape labels.shape .. {classes}).
function F.one_hot(labels, classes)
  return tycho.one_hot(labels, classes)
end

return F
