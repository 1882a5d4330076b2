/* Optimizers: SGD, Adam, AdamW and gradient-norm clipping, with exactly
 * PyTorch's update formulas (torch.optim.SGD / Adam / AdamW and
 * torch.nn.utils.clip_grad_norm_, single-tensor CPU path).
 *
 * A step updates a list of parameters in place. It reads each parameter's
 * .grad, skips parameters whose grad is NULL (their state and step count
 * stay as they are, as in PyTorch), writes straight into the parameters'
 * memory with plain loops (no temporary tensors, nothing recorded by
 * autograd: parameters are leaves) and bumps their storage versions, so a
 * graph that saved a parameter before the step refuses to run backward.
 *
 * Parameters and their grads must be contiguous CPU f32 or f64 tensors of
 * the same shape and dtype, and parameters must be leaves. Every check is
 * done before anything is written: a failed call changes nothing. */
#ifndef TYCHO_OPTIM_H
#define TYCHO_OPTIM_H

#include <stdbool.h>
#include <stdint.h>

#include "tensor.h"

/* What an optimizer remembers about one parameter (PyTorch's
 * optimizer.state[p]). The buffers have the parameter's shape and dtype and
 * are created by the first step that needs them; until then they are NULL. */
typedef struct {
    int64_t step;               /* updates applied to this parameter */
    ty_tensor *momentum_buffer; /* SGD with momentum */
    ty_tensor *exp_avg;         /* Adam/AdamW: first moment */
    ty_tensor *exp_avg_sq;      /* Adam/AdamW: second moment */
    ty_tensor *max_exp_avg_sq;  /* Adam/AdamW with amsgrad */
} ty_param_state;

/* The state of one optimizer over a list of n parameters: param[i] belongs
 * to the i-th parameter of the list passed to every step, so always pass
 * the same list in the same order. Use one state per optimizer.
 *
 * Ownership: the state owns the buffer tensors in param[]; a caller may
 * read them (or retain them) but must not release them.
 * ty_optim_state_free releases them all. */
typedef struct {
    int n;
    ty_param_state *param; /* n entries */
} ty_optim_state;

/* An empty state (every step 0, every buffer NULL) for n >= 0 parameters. */
ty_optim_state *ty_optim_state_new(int n);
/* Releases the buffers and the state; NULL is allowed. */
void ty_optim_state_free(ty_optim_state *s);

/* One step of SGD (torch.optim.SGD, maximize=False):
 *     g = grad + weight_decay * param
 *     if momentum != 0:
 *         buf = g                                       (first step)
 *         buf = momentum * buf + (1 - dampening) * g    (later steps)
 *         g = nesterov ? g + momentum * buf : buf
 *     param -= lr * g
 * state may be NULL when momentum is 0 (plain SGD keeps no state).
 * lr, momentum and weight_decay must be >= 0; nesterov needs momentum > 0
 * and dampening 0. Returns 0 or -1. */
int ty_sgd_step(int n, ty_tensor *const *params, ty_optim_state *state, double lr, double momentum,
                double dampening, double weight_decay, bool nesterov);

/* One step of Adam (torch.optim.Adam, maximize=False), step t counted per
 * parameter from 1:
 *     g = grad + weight_decay * param
 *     m = beta1 * m + (1 - beta1) * g
 *     v = beta2 * v + (1 - beta2) * g * g
 *     vmax = max(vmax, v); use vmax for v       (amsgrad only)
 *     param -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
 * m, v and vmax start at zero. lr, eps and weight_decay must be >= 0 and
 * beta1, beta2 in [0, 1). Returns 0 or -1. */
int ty_adam_step(int n, ty_tensor *const *params, ty_optim_state *state, double lr, double beta1,
                 double beta2, double eps, double weight_decay, bool amsgrad);

/* One step of AdamW (torch.optim.AdamW): Adam with decoupled weight decay,
 * param *= 1 - lr * weight_decay first, and the gradient left alone. */
int ty_adamw_step(int n, ty_tensor *const *params, ty_optim_state *state, double lr, double beta1,
                  double beta2, double eps, double weight_decay, bool amsgrad);

/* torch.nn.utils.clip_grad_norm_: the norm of all the parameters' grads
 * taken together (as if concatenated into one vector; parameters whose grad
 * is NULL are skipped) goes into *total_norm (may be NULL); then, when
 * coef = max_norm / (total + 1e-6) is below 1, every grad is multiplied by
 * coef in place. norm_type is p > 0 for the p-norm (2 is the usual) or
 * INFINITY for the largest absolute value. A NaN or infinite total makes
 * the grads NaN, as in PyTorch (error_if_nonfinite=False). Grads must be
 * contiguous CPU f32 or f64 tensors; max_norm must be >= 0. Returns 0 or
 * -1. */
int ty_clip_grad_norm(int n, ty_tensor *const *params, double max_norm, double norm_type,
                      double *total_norm);

#endif
