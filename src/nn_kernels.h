/* Fused neural-network kernels (forward passes): softmax, log-softmax, layer
 * norm, cross-entropy / NLL loss and scaled dot-product attention.
 *
 * They accept f32 and f64 (bf16/f16 are computed in f32 and converted back)
 * and fail with an error for integer tensors. Results are fresh contiguous
 * tensors the caller releases. Where a backward pass needs something the
 * forward computes anyway (layer norm's mean and rstd, attention's weights,
 * cross-entropy's probabilities) an optional out-parameter returns it: pass
 * NULL when it is not wanted.
 *
 * Autograd: every op here records a node when an input requires grad, and
 * its backward is written with the differentiable public ops when grad mode
 * is on during the backward (create_graph), so second derivatives work.
 * Without create_graph softmax, log_softmax, layer_norm and cross_entropy
 * use a fused kernel for the same gradient instead. What is differentiable
 * is said with each op. */
#ifndef TYCHO_NN_KERNELS_H
#define TYCHO_NN_KERNELS_H

#include <stdbool.h>
#include <stdint.h>

#include "tensor.h"

/* ---- softmax ---- */

/* exp(x - max) / sum(exp(x - max)) along dim (negative counts from the end).
 * A row of all -inf gives NaN, as in PyTorch. The backward needs only the
 * output: gx = y * (g - sum(g * y)), and g - exp(y) * sum(g) for
 * log_softmax. */
ty_tensor *ty_softmax(ty_tensor *x, int dim);
/* x - max - log(sum(exp(x - max))) along dim; more accurate than
 * log(softmax(x)) for very negative values. */
ty_tensor *ty_log_softmax(ty_tensor *x, int dim);

/* ---- layer norm ---- */

/* (x - mean) / sqrt(var + eps) * weight + bias over the last normalized_ndim
 * dims of x (1 <= normalized_ndim <= x->ndim; var is the biased variance).
 * weight and bias may be NULL; otherwise their shape is those last dims.
 * When mean_out / rstd_out are non-NULL they receive the per-row mean and
 * 1/sqrt(var + eps), shaped like the leading dims of x (0-d when every dim is
 * normalised), in f32 for f32 and half inputs, f64 for f64.
 * Gradients flow to x, weight and bias; mean_out and rstd_out are
 * differentiable outputs too (they depend on x), and the backward uses the
 * saved mean and rstd rather than recomputing them. */
ty_tensor *ty_layer_norm(ty_tensor *x, int normalized_ndim, ty_tensor *weight, ty_tensor *bias,
                         double eps, ty_tensor **mean_out, ty_tensor **rstd_out);

/* ---- losses ---- */

typedef enum { TY_REDUCTION_MEAN = 0, TY_REDUCTION_SUM, TY_REDUCTION_NONE } ty_reduction;

/* A zeroed struct is NOT the default (ignore_index would be 0): start from
 * TY_LOSS_OPTS_DEFAULT, or pass NULL for all defaults. */
typedef struct {
    ty_reduction reduction; /* mean over non-ignored targets (PyTorch's rule) */
    int64_t ignore_index;   /* targets equal to it add nothing; default -100 */
    double label_smoothing; /* in [0, 1]; cross_entropy only */
} ty_loss_opts;

#define TY_LOSS_OPTS_DEFAULT ((ty_loss_opts){TY_REDUCTION_MEAN, -100, 0.0})

/* Cross-entropy of logits against i64 class indices (0-based), fused with
 * log-softmax over the class dim. logits is (N,C) with labels (N), or
 * (N,C,d1,...) with labels (N,d1,...), or (C) with a 0-d label. With label
 * smoothing e the target is (1-e) one-hot + e/C uniform. Mean divides by the
 * number of non-ignored targets (NaN when all are ignored, as PyTorch).
 * Returns a 0-d loss, or the per-target losses shaped like labels for
 * TY_REDUCTION_NONE (0 at ignored targets). A label outside [0, C) that is
 * not ignore_index is an error naming it. probs_out, when non-NULL, receives
 * softmax(logits) over the class dim (logits' shape and dtype), which is what
 * the backward needs: grad = probs - target distribution.
 * Gradients flow to logits only. probs_out carries no history (use
 * ty_softmax for a differentiable one) and is the tensor the backward saves:
 * changing it in place makes a later backward fail. When every target is
 * ignored the mean loss is NaN and the gradient 0, as in PyTorch. */
ty_tensor *ty_cross_entropy(ty_tensor *logits, ty_tensor *labels, const ty_loss_opts *opts,
                            ty_tensor **probs_out);
/* Negative log-likelihood: -logp[label], with the same shapes, reductions
 * and ignore_index as ty_cross_entropy (logp is usually log_softmax output);
 * label_smoothing must be 0. Gradients flow to logp. */
ty_tensor *ty_nll_loss(ty_tensor *logp, ty_tensor *labels, const ty_loss_opts *opts);

/* ---- attention ---- */

/* A zeroed struct gives the defaults. */
typedef struct {
    double scale; /* > 0 overrides the default 1/sqrt(D) */
    bool causal;  /* query i attends to keys j <= i (top-left aligned) */
} ty_attention_opts;

/* softmax(q k^T * scale + mask) v for q (...,Lq,D), k (...,Lk,D),
 * v (...,Lk,Dv); the batch dims broadcast. Returns (...,Lq,Dv) in q's dtype
 * (q, k and v must share one float dtype). opts may be NULL.
 * mask (may be NULL) broadcasts to (...,Lq,Lk): bool/u8 means "true takes
 * part in attention" (PyTorch's F.scaled_dot_product_attention convention);
 * a float mask is added to the scores. A causal flag combines with a mask.
 * A query row with no key left (all scores -inf) gets weights and output 0,
 * as PyTorch's SDPA since 2.5, not NaN. weights_out, when non-NULL, receives
 * the softmax weights (...,Lq,Lk), e.g. for attention maps or the backward.
 * Gradients flow to q, k, v and a float mask (a bool mask has none), and
 * weights_out is a differentiable output: a loss on the attention map
 * reaches q and k. A fully masked query row gets gradient 0, not NaN.
 * When recording, the weights of every batch item are kept for the backward
 * ((...,Lq,Lk) of memory, as in PyTorch's math path). */
ty_tensor *ty_attention(ty_tensor *q, ty_tensor *k, ty_tensor *v, ty_tensor *mask,
                        const ty_attention_opts *opts, ty_tensor **weights_out);

#endif
