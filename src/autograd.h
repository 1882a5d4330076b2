/* Reverse-mode automatic differentiation, define-by-run.
 *
 * When grad mode is on and an op's input requires grad, the op records a
 * node: its backward function, the edges to its inputs (their grad_fn, or the
 * leaf tensor itself), the tensors it saved, and the shapes of its inputs and
 * outputs. The output's grad_fn owns the node; a node owns its edges and its
 * saved tensors, so the graph lives exactly as long as some tensor that can
 * reach it.
 *
 * ty_backward walks the graph from a root in reverse topological order
 * (iteratively, so a chain of 100,000 nodes is fine), sums the gradients
 * arriving at each node, and accumulates into the .grad of leaves. Backward
 * functions are written with the differentiable ty_ ops themselves, so when
 * create_graph is set the backward pass records its own graph and gradients
 * of gradients work.
 *
 * Saved tensors remember their storage version; using one after an in-place
 * write fails with an error naming the node instead of giving a wrong
 * gradient. Without retain_graph the saved tensors are freed after the
 * pass, and a second backward through the same nodes is an error. */
#ifndef TYCHO_AUTOGRAD_H
#define TYCHO_AUTOGRAD_H

#include <stdbool.h>
#include <stdint.h>

#include "tensor.h"

/* ---- grad mode ---- */

/* Whether ops record nodes on this thread (on by default). */
bool ty_grad_enabled(void);
/* Turns recording on or off; returns the previous setting, so a no_grad
 * scope is `bool prev = ty_set_grad_enabled(false); ...;
 * ty_set_grad_enabled(prev);`. */
bool ty_set_grad_enabled(bool on);

/* ---- leaves ---- */

/* A leaf is a tensor without grad_fn. Only float tensors can require grad;
 * turning it off on a non-leaf is an error (detach it instead). */
int ty_set_requires_grad(ty_tensor *t, bool on);
bool ty_is_leaf(const ty_tensor *t);
/* A new tensor sharing t's storage with no history and no requires_grad. */
ty_tensor *ty_detach(ty_tensor *t);
/* Drops t->grad (PyTorch's set_to_none). */
void ty_zero_grad(ty_tensor *t);

/* ---- running backward ---- */

/* Gradient of root w.r.t. every leaf that requires grad, added into the
 * leaves' .grad. grad is d(something)/d(root) with root's shape, or NULL
 * when root has one element (then 1 is used). retain_graph keeps the saved
 * tensors for another pass; create_graph records the backward pass itself
 * (implies retain_graph), so the .grad tensors it leaves have a history. */
int ty_backward(ty_tensor *root, ty_tensor *grad, bool retain_graph, bool create_graph);

/* Gradients of the outputs w.r.t. inputs, returned in grads[0..n_in) as new
 * references instead of touching any .grad. grad_outputs may be NULL (each
 * output must then have one element) or hold NULL entries. An input the
 * outputs do not depend on is an error unless allow_unused, which gives
 * NULL for it. */
int ty_grad(int n_out, ty_tensor *const *outputs, ty_tensor *const *grad_outputs, int n_in,
            ty_tensor *const *inputs, bool retain_graph, bool create_graph, bool allow_unused,
            ty_tensor **grads);

/* ---- for op writers: recording a node ----
 *
 * The pattern in an op (see binary.c):
 *
 *     ty_tensor *out = ...forward...;
 *     ty_node *n = ty_record("mul", mul_backward, 2, (ty_tensor *[]){a, b}, 1, &out);
 *     if (n) { ty_save(n, 0, a); ty_save(n, 1, b); }
 *     return out;
 *
 * ty_record returns NULL (and records nothing) when grad mode is off, when
 * no input requires grad, or when an output is not a float tensor or is one
 * of the inputs (a no-op returning its argument keeps its history). On
 * success the outputs get requires_grad and grad_fn; the node is owned by
 * them, so the op must not release it. */

#define TY_NODE_MAX_SAVED 8
#define TY_NODE_MAX_OUTPUTS 16

typedef struct ty_node ty_node;

/* Computes the gradients of a node's inputs from those of its outputs.
 * grad_out[k] is the gradient of output k (never NULL: the engine passes
 * zeros for outputs that received none). The function stores new
 * references in grad_in[i] for the inputs with ty_node_needs_grad(n, i) and
 * may leave NULL elsewhere (NULL also means "zero"). A gradient may have a
 * different dtype than its input (it is cast) but must have its shape.
 * Returns 0, or -1 with an error set (releasing what it made). */
typedef int (*ty_backward_fn)(ty_node *n, ty_tensor *const *grad_out, ty_tensor **grad_in);

/* The shape and dtype of a node's input or output, kept after the tensor
 * itself may be gone (for reducing broadcast gradients, making zeros). */
typedef struct {
    int ndim;
    int64_t shape[TY_MAX_DIMS];
    ty_dtype dtype;
    ty_device device;
} ty_meta;

/* Where an input's gradient goes: the node that made it (and which of its
 * outputs it was), or the leaf itself, or nowhere. */
typedef struct {
    ty_node *node; /* owned reference or NULL */
    int output_nr;
    ty_tensor *leaf; /* owned reference to a leaf that requires grad, or NULL */
} ty_edge;

typedef struct {
    ty_tensor *tensor; /* owned; for a saved output, a detached alias */
    uint64_t version;  /* storage version at save time */
    bool is_output;    /* unpacked with this node as its grad_fn again */
    int output_nr;
} ty_saved_tensor;

struct ty_node {
    int refcount;
    const char *name; /* the op's name: "mul", "softmax", ... */
    ty_backward_fn backward;
    uint64_t seq;  /* creation order, for a deterministic walk */
    bool released; /* saved tensors freed by a backward without retain_graph */
    bool broken;   /* recording ran out of memory: backward must fail */

    int n_inputs;
    ty_edge *edges;      /* n_inputs (one allocation with the node) */
    ty_meta *input_meta; /* n_inputs */
    int n_outputs;
    ty_meta *output_meta; /* n_outputs */

    ty_saved_tensor saved[TY_NODE_MAX_SAVED];

    /* Op parameters the backward needs (dims, scalars, flags): free for the
     * op to use as it documents next to its backward function. */
    double d[8];
    int64_t i[2 * TY_MAX_DIMS + 8];
    /* Anything larger (an einsum equation, a list of sizes): owned, freed
     * with ctx_free (or free() when ctx_free is NULL). */
    void *ctx;
    void (*ctx_free)(void *ctx);

    /* scratch for the engine during one pass */
    int pending;
    ty_tensor **buffer; /* n_outputs summed gradients */
    uint64_t pass;
};

/* True when grad mode is on and one of the n tensors (NULLs are skipped)
 * requires grad: the cheap test an op makes before any bookkeeping. */
bool ty_any_requires_grad(int n, ty_tensor *const *tensors);

/* Records a node over n_in inputs (NULL entries are allowed: no gradient
 * flows there) producing n_out outputs; see the pattern above. */
ty_node *ty_record(const char *name, ty_backward_fn fn, int n_in, ty_tensor *const *inputs,
                   int n_out, ty_tensor *const *outputs);

/* Saves t in slot (0..TY_NODE_MAX_SAVED) for the backward. Use
 * ty_save_output for a tensor that is one of the node's own outputs
 * (tanh's, exp's, softmax's result): it avoids a reference cycle. */
void ty_save(ty_node *n, int slot, ty_tensor *t);
void ty_save_output(ty_node *n, int slot, ty_tensor *out);

/* A new reference to the saved tensor of slot, or NULL with an error when
 * it was modified in place since (version mismatch) or freed by an earlier
 * backward. */
ty_tensor *ty_saved(ty_node *n, int slot);

/* Whether input i of the node wants a gradient. */
bool ty_node_needs_grad(const ty_node *n, int i);

/* ---- helpers for backward functions ---- */

/* Sums g down to shape (undoing broadcasting: leading dims and dims that
 * were 1). A new reference to g itself when the shapes already match. */
ty_tensor *ty_sum_to(ty_tensor *g, int ndim, const int64_t *shape);
/* Zeros of the meta's shape and dtype. */
ty_tensor *ty_zeros_meta(const ty_meta *m);

/* The temporaries of one backward formula. Each step hands its result to
 * ty_temps_keep, which passes NULL through (an earlier step failed, with the
 * error set), so a formula reads as a straight sequence checked once at the
 * end, and ty_temps_release frees everything it kept. Start from
 * `ty_temps s = {0};`. */
#define TY_MAX_TEMPS 32
typedef struct {
    ty_tensor *t[TY_MAX_TEMPS];
    int n;
} ty_temps;
ty_tensor *ty_temps_keep(ty_temps *s, ty_tensor *t);
void ty_temps_release(ty_temps *s);

/* ---- in-place ops under autograd ----
 *
 * An in-place op whose target or operands require grad (with grad mode on)
 * computes its result out of place first (recording the node) and then hands
 * it here: the values are copied into target, target takes over result's
 * history, and result is released (always, also on failure). It fails when
 * target is a leaf that requires grad, or shares its memory with another
 * tensor (a view, or a tensor saved for backward), where rewriting history
 * would silently give wrong gradients. */
bool ty_inplace_needs_grad(ty_tensor *target, int n, ty_tensor *const *operands);
int ty_inplace_commit(const char *fn, ty_tensor *target, ty_tensor *result);

/* ---- the graph's lifetime ---- */

void ty_node_retain(ty_node *n);
/* Iterative, so freeing a long chain cannot overflow the stack. */
void ty_node_release(ty_node *n);
/* Installs ty_node_release as tensor.c's hook; ty_record calls it, so users
 * never need to. */
void ty_autograd_init(void);

/* ---- gradient checking (gradcheck.c) ---- */

/* The function under test: takes n inputs, returns one new tensor. */
typedef ty_tensor *(*ty_gradcheck_fn)(void *ctx, int n, ty_tensor *const *inputs);

typedef struct {
    double max_abs_err; /* worst |analytic - numeric| over all elements */
    int input;          /* where it was */
    int64_t element;    /* flat row-major index into that input */
    double analytic, numeric;
    char message[256]; /* a sentence describing a failure ("" on success) */
} ty_gradcheck_report;

/* Compares the analytic vector-Jacobian product of f at the inputs with
 * central finite differences (step eps), for every element of every input
 * that requires grad. Inputs must be f64 CPU tensors (they may be
 * non-contiguous, but must not overlap themselves). An element passes when
 * |a - n| <= atol + rtol |n|. Returns 1 on pass, 0 on failure (report says
 * where), -1 on error (f failed, bad inputs). report may be NULL. */
int ty_gradcheck(ty_gradcheck_fn f, void *ctx, int n, ty_tensor *const *inputs, double eps,
                 double atol, double rtol, ty_gradcheck_report *report);
/* The same check for second derivatives: the function checked is the
 * first-order vector-Jacobian product, built with create_graph. */
int ty_gradgradcheck(ty_gradcheck_fn f, void *ctx, int n, ty_tensor *const *inputs, double eps,
                     double atol, double rtol, ty_gradcheck_report *report);

#endif
