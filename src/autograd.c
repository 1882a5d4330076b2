/* The autograd engine: grad mode, recording nodes, saved tensors, and the
 * backward walk (see autograd.h for the model).
 *
 * Everything here is iterative: building the order of a pass, running it
 * and freeing a graph use explicit stacks, so a chain of 100,000 ops needs
 * no deep C recursion anywhere. */
#include "autograd.h"

#include <stdlib.h>
#include <string.h>

#include "creation.h"
#include "elementwise.h"
#include "error.h"
#include "reduce.h"

static _Thread_local bool grad_enabled = true;
/* Creation counter: nodes made later run earlier when several are ready,
 * which keeps a pass deterministic. */
static _Thread_local uint64_t node_seq = 0;
static _Thread_local uint64_t pass_counter = 0;

bool ty_grad_enabled(void) {
    return grad_enabled;
}

bool ty_set_grad_enabled(bool on) {
    bool prev = grad_enabled;
    grad_enabled = on;
    return prev;
}

/* ---- a growable array of pointers, the one data structure we need ---- */

/* Small graphs (the common case at every training step) fit in the inline
 * array and cost no malloc; ptr_stack_init must be called before use,
 * except for a zeroed stack, which starts on the heap. */
typedef struct {
    void **items;
    int n, cap;
    void *small[32];
} ptr_stack;

static void ptr_stack_init(ptr_stack *s) {
    s->items = s->small;
    s->n = 0;
    s->cap = 32;
}

static void ptr_stack_free(ptr_stack *s) {
    if (s->items != s->small) free(s->items);
}

static int push(ptr_stack *s, void *p) {
    if (s->n == s->cap) {
        int cap = s->cap ? 2 * s->cap : 64;
        void **items;
        if (s->items == s->small) {
            items = malloc(sizeof(void *) * (size_t)cap);
            if (items) memcpy(items, s->small, sizeof(void *) * (size_t)s->n);
        } else {
            items = realloc(s->items, sizeof(void *) * (size_t)cap);
        }
        if (!items) return ty_error("autograd: out of memory");
        s->items = items;
        s->cap = cap;
    }
    s->items[s->n++] = p;
    return 0;
}

/* The ready nodes as a binary max-heap on creation order: the most recent
 * node runs first, which is deterministic and close to PyTorch's order,
 * at O(log n) per node however wide the graph. */
static int heap_push(ptr_stack *h, ty_node *n) {
    if (push(h, n) < 0) return -1;
    int i = h->n - 1;
    while (i > 0) {
        int parent = (i - 1) / 2;
        ty_node *p = h->items[parent];
        if (p->seq >= n->seq) break;
        h->items[i] = p;
        i = parent;
    }
    h->items[i] = n;
    return 0;
}

static ty_node *heap_pop(ptr_stack *h) {
    ty_node *top = h->items[0];
    ty_node *last = h->items[--h->n];
    int i = 0;
    for (;;) {
        int c = 2 * i + 1;
        if (c >= h->n) break;
        if (c + 1 < h->n && ((ty_node *)h->items[c + 1])->seq > ((ty_node *)h->items[c])->seq) c++;
        if (((ty_node *)h->items[c])->seq <= last->seq) break;
        h->items[i] = h->items[c];
        i = c;
    }
    if (h->n > 0) h->items[i] = last;
    return top;
}

/* ---- node lifetime ---- */

void ty_node_retain(ty_node *n) {
    if (n) n->refcount++;
}

static void free_saved(ty_node *n) {
    for (int k = 0; k < TY_NODE_MAX_SAVED; k++) {
        ty_tensor_release(n->saved[k].tensor);
        n->saved[k].tensor = NULL;
    }
}

/* Nodes whose refcount reached zero wait here; only the outermost
 * ty_node_release call drains the list, so releasing a tensor that owns a
 * long chain frees it node by node instead of recursing. */
static _Thread_local ptr_stack dying;
static _Thread_local bool draining = false;

static void destroy_node(ty_node *n) {
    free_saved(n);
    for (int i = 0; i < n->n_inputs; i++) {
        ty_node_release(n->edges[i].node); /* only queues it */
        ty_tensor_release(n->edges[i].leaf);
    }
    /* n->buffer belongs to a running pass (which clears it), never to the node */
    if (n->ctx) {
        if (n->ctx_free)
            n->ctx_free(n->ctx);
        else
            free(n->ctx);
    }
    free(n); /* edges and metas live in the same block */
}

void ty_node_release(ty_node *n) {
    if (!n || --n->refcount > 0) return;
    if (push(&dying, n) < 0) {
        /* Out of memory for the queue itself: free this one directly (its
         * children are still queued through the same path). */
        destroy_node(n);
        return;
    }
    if (draining) return;
    draining = true;
    while (dying.n > 0) destroy_node(dying.items[--dying.n]);
    draining = false;
    if (dying.cap > 4096) { /* keep a small queue for the next release */
        ptr_stack_free(&dying);
        dying.items = NULL;
        dying.cap = 0;
    }
}

void ty_autograd_init(void) {
    ty_set_node_release_hook(ty_node_release);
}

/* ---- leaves ---- */

bool ty_is_leaf(const ty_tensor *t) {
    return t->grad_fn == NULL;
}

static bool is_float(ty_dtype dt) {
    return dt == TY_F32 || dt == TY_F64 || dt == TY_F16 || dt == TY_BF16;
}

int ty_set_requires_grad(ty_tensor *t, bool on) {
    if (on && !is_float(t->dtype))
        return ty_error("requires_grad: only float tensors can require grad, got %s",
                        ty_dtype_name(t->dtype));
    if (!on && t->grad_fn)
        return ty_error("requires_grad: a non-leaf tensor (made by %s) cannot stop requiring "
                        "grad; use detach() instead",
                        t->grad_fn->name);
    t->requires_grad = on;
    return 0;
}

ty_tensor *ty_detach(ty_tensor *t) {
    return ty_alias(t);
}

void ty_zero_grad(ty_tensor *t) {
    ty_tensor_release(t->grad);
    t->grad = NULL;
}

/* ---- recording ---- */

bool ty_any_requires_grad(int n, ty_tensor *const *tensors) {
    if (!grad_enabled) return false;
    for (int i = 0; i < n; i++)
        if (tensors[i] && tensors[i]->requires_grad) return true;
    return false;
}

static void set_meta(ty_meta *m, const ty_tensor *t) {
    m->ndim = t->ndim;
    memcpy(m->shape, t->shape, sizeof(int64_t) * (size_t)t->ndim);
    m->dtype = t->dtype;
    m->device = t->device;
}

ty_node *ty_record(const char *name, ty_backward_fn fn, int n_in, ty_tensor *const *inputs,
                   int n_out, ty_tensor *const *outputs) {
    if (!ty_any_requires_grad(n_in, inputs)) return NULL;
    if (n_out < 1 || n_out > TY_NODE_MAX_OUTPUTS) return NULL;
    for (int k = 0; k < n_out; k++) {
        if (!outputs[k] || !is_float(outputs[k]->dtype)) return NULL;
        for (int i = 0; i < n_in; i++)
            if (outputs[k] == inputs[i]) return NULL;
    }
    ty_autograd_init();

    /* One allocation for the node, its edges and both meta arrays: small
     * graphs are recorded at every step, so malloc calls count. */
    size_t size =
        sizeof(ty_node) + sizeof(ty_edge) * (size_t)n_in + sizeof(ty_meta) * (size_t)(n_in + n_out);
    ty_node *n = malloc(size);
    if (!n) {
        /* The outputs stay usable as plain values; the failure is reported
         * by marking them so a later backward cannot silently skip the op. */
        ty_error("%s: out of memory while recording for autograd", name);
        for (int k = 0; k < n_out; k++) outputs[k]->requires_grad = true;
        return NULL;
    }
    memset(n, 0, sizeof *n);
    ty_edge *edges = (ty_edge *)(n + 1);
    ty_meta *meta = (ty_meta *)(edges + n_in);
    memset(edges, 0, sizeof(ty_edge) * (size_t)n_in);
    n->output_meta = meta + n_in;
    n->refcount = 0;
    n->name = name;
    n->backward = fn;
    n->seq = ++node_seq;
    n->n_inputs = n_in;
    n->edges = edges;
    n->input_meta = meta;
    for (int i = 0; i < n_in; i++) {
        ty_tensor *t = inputs[i];
        if (!t) continue;
        set_meta(&meta[i], t);
        if (!t->requires_grad) continue;
        if (t->grad_fn) {
            edges[i].node = t->grad_fn;
            edges[i].output_nr = t->output_nr;
            ty_node_retain(t->grad_fn);
        } else {
            edges[i].leaf = ty_tensor_retain(t);
        }
    }
    n->n_outputs = n_out;
    for (int k = 0; k < n_out; k++) {
        ty_tensor *o = outputs[k];
        set_meta(&n->output_meta[k], o);
        if (o->grad_fn) ty_node_release(o->grad_fn);
        o->grad_fn = n;
        o->output_nr = k;
        o->requires_grad = true;
        n->refcount++;
    }
    return n;
}

void ty_save(ty_node *n, int slot, ty_tensor *t) {
    if (!n || slot < 0 || slot >= TY_NODE_MAX_SAVED || !t) return;
    ty_saved_tensor *s = &n->saved[slot];
    ty_tensor_release(s->tensor);
    s->tensor = ty_tensor_retain(t);
    s->version = t->storage->version;
    s->is_output = false;
    s->output_nr = 0;
}

/* The output itself owns the node, so holding the output would make a
 * cycle: keep a history-free alias of its memory, and give the history back
 * when it is unpacked (ty_saved). */
void ty_save_output(ty_node *n, int slot, ty_tensor *out) {
    if (!n || slot < 0 || slot >= TY_NODE_MAX_SAVED || !out) return;
    ty_saved_tensor *s = &n->saved[slot];
    ty_tensor *alias = ty_alias(out);
    if (!alias) {
        n->broken = true;
        return;
    }
    ty_tensor_release(s->tensor);
    s->tensor = alias;
    s->version = out->storage->version;
    s->is_output = true;
    s->output_nr = out->output_nr;
}

ty_tensor *ty_saved(ty_node *n, int slot) {
    ty_saved_tensor *s = &n->saved[slot];
    if (n->released || !s->tensor) {
        ty_error("backward: trying to backward through the graph a second time (%s's saved "
                 "tensors were already freed); pass retain_graph the first time",
                 n->name);
        return NULL;
    }
    if (s->tensor->storage->version != s->version) {
        char buf[64];
        ty_error("backward: a tensor of shape %s saved by %s was modified by an in-place "
                 "operation (version %llu, now %llu)",
                 ty_shape_str(s->tensor, buf, sizeof buf), n->name, (unsigned long long)s->version,
                 (unsigned long long)s->tensor->storage->version);
        return NULL;
    }
    if (!s->is_output) return ty_tensor_retain(s->tensor);
    /* An output comes back with this node as its history again, so a
     * create_graph pass can differentiate through it. */
    ty_tensor *t = ty_alias(s->tensor);
    if (!t) return NULL;
    t->requires_grad = true;
    t->grad_fn = n;
    t->output_nr = s->output_nr;
    ty_node_retain(n);
    return t;
}

bool ty_node_needs_grad(const ty_node *n, int i) {
    return i >= 0 && i < n->n_inputs && (n->edges[i].node || n->edges[i].leaf);
}

/* ---- helpers for backward functions ---- */

ty_tensor *ty_sum_to(ty_tensor *g, int ndim, const int64_t *shape) {
    int lead = g->ndim - ndim;
    if (lead < 0) {
        char b1[64], b2[64];
        ty_error("sum_to: gradient of shape %s cannot be reduced to %s",
                 ty_shape_str(g, b1, sizeof b1), ty_shape_str_n(ndim, shape, b2, sizeof b2));
        return NULL;
    }
    int dims[TY_MAX_DIMS], nd = 0;
    for (int d = 0; d < g->ndim; d++) {
        if (d < lead) {
            dims[nd++] = d;
        } else if (shape[d - lead] == 1 && g->shape[d] != 1) {
            dims[nd++] = d;
        } else if (shape[d - lead] != g->shape[d]) {
            char b1[64], b2[64];
            ty_error("sum_to: gradient of shape %s cannot be reduced to %s",
                     ty_shape_str(g, b1, sizeof b1), ty_shape_str_n(ndim, shape, b2, sizeof b2));
            return NULL;
        }
    }
    if (nd == 0) return ty_tensor_retain(g);
    ty_tensor *s = ty_sum(g, nd, dims, true);
    if (!s || lead == 0) return s;
    ty_tensor *r = ty_reshape(s, ndim, shape);
    ty_tensor_release(s);
    return r;
}

ty_tensor *ty_zeros_meta(const ty_meta *m) {
    return ty_zeros(m->ndim, m->shape, m->dtype, m->device);
}

ty_tensor *ty_temps_keep(ty_temps *s, ty_tensor *t) {
    if (!t) return NULL;
    if (s->n == TY_MAX_TEMPS) {
        ty_tensor_release(t);
        ty_error("backward: more than %d temporaries in one formula", TY_MAX_TEMPS);
        return NULL;
    }
    s->t[s->n++] = t;
    return t;
}

void ty_temps_release(ty_temps *s) {
    for (int k = 0; k < s->n; k++) ty_tensor_release(s->t[k]);
    s->n = 0;
}

/* ---- in-place ops ---- */

bool ty_inplace_needs_grad(ty_tensor *target, int n, ty_tensor *const *operands) {
    if (!grad_enabled) return false;
    return target->requires_grad || ty_any_requires_grad(n, operands);
}

int ty_inplace_commit(const char *fn, ty_tensor *target, ty_tensor *result) {
    if (!result) return -1;
    int rc = 0;
    if (target->requires_grad && !target->grad_fn) {
        rc = ty_error("%s: a leaf tensor that requires grad cannot be modified in place while "
                      "grad is recorded (use no_grad, or an out-of-place op)",
                      fn);
    } else if (target->storage->refcount > 1) {
        rc = ty_error("%s: in-place op on a tensor that shares memory with another tensor (a "
                      "view, or a tensor saved for backward) while grad is recorded; use the "
                      "out-of-place op",
                      fn);
    } else {
        bool prev = ty_set_grad_enabled(false);
        rc = ty_copy_(target, result);
        ty_set_grad_enabled(prev);
    }
    if (rc == 0 && result->grad_fn) {
        ty_node_retain(result->grad_fn);
        ty_node_release(target->grad_fn);
        target->grad_fn = result->grad_fn;
        target->output_nr = result->output_nr;
        target->requires_grad = true;
        /* The node's output meta keeps result's shape, which equals
         * target's: in-place ops never change shapes. */
    }
    ty_tensor_release(result);
    return rc;
}

/* ---- the backward pass ---- */

/* Adds g into *slot (taking ownership of g). */
static int accumulate(ty_tensor **slot, ty_tensor *g) {
    if (!*slot) {
        *slot = g;
        return 0;
    }
    ty_tensor *sum = ty_add(*slot, g);
    ty_tensor_release(g);
    if (!sum) return -1;
    ty_tensor_release(*slot);
    *slot = sum;
    return 0;
}

/* Makes g match the meta's dtype (the engine's promise to backward fns). */
static ty_tensor *match_dtype(ty_tensor *g, const ty_meta *m) {
    if (g->dtype == m->dtype) return g;
    ty_tensor *c = ty_cast(g, m->dtype);
    ty_tensor_release(g);
    return c;
}

static int check_shape(const char *what, const char *name, const ty_tensor *g, const ty_meta *m) {
    bool ok = g->ndim == m->ndim;
    for (int d = 0; ok && d < m->ndim; d++) ok = g->shape[d] == m->shape[d];
    if (ok) return 0;
    char b1[64], b2[64];
    return ty_error("backward: %s of %s has shape %s, expected %s", what, name,
                    ty_shape_str(g, b1, sizeof b1),
                    ty_shape_str_n(m->ndim, m->shape, b2, sizeof b2));
}

/* Adds g into a leaf's .grad, keeping the leaf's dtype. When create_graph
 * is off the gradient is stored without history; a first gradient that
 * nobody else holds is adopted as is, anything shared is copied, so later
 * in-place accumulation never writes into a user's tensor. */
static int accumulate_leaf(ty_tensor *leaf, ty_tensor *g, bool create_graph) {
    ty_meta m;
    set_meta(&m, leaf);
    g = match_dtype(g, &m);
    if (!g) return -1;
    if (!create_graph) {
        if (!leaf->grad) {
            if (g->refcount == 1 && !g->grad_fn && ty_is_contiguous(g) &&
                g->storage->refcount == 1) {
                leaf->grad = g;
                return 0;
            }
            leaf->grad = ty_clone(g);
            ty_tensor_release(g);
            if (!leaf->grad) return -1;
            leaf->grad->requires_grad = false;
            return 0;
        }
        if (!leaf->grad->grad_fn && leaf->grad->refcount == 1 &&
            leaf->grad->storage->refcount == 1) {
            int rc = ty_add_(leaf->grad, g);
            ty_tensor_release(g);
            return rc;
        }
    }
    ty_tensor *sum = leaf->grad ? ty_add(leaf->grad, g) : ty_tensor_retain(g);
    ty_tensor_release(g);
    if (!sum) return -1;
    ty_tensor_release(leaf->grad);
    leaf->grad = sum;
    return 0;
}

/* One pass: the state shared by ty_backward and ty_grad. */
typedef struct {
    bool create_graph, retain_graph;
    /* ty_grad: capture gradients of these inputs instead of touching .grad */
    int n_capture;
    ty_tensor *const *capture;
    ty_tensor **captured;
} pass_opts;

/* Where a gradient for input tensor t would be captured, or -1. */
static int capture_index_leaf(const pass_opts *o, const ty_tensor *leaf) {
    for (int k = 0; k < o->n_capture; k++)
        if (o->capture[k] == leaf) return k;
    return -1;
}

static int deliver_to_leaf(const pass_opts *o, ty_tensor *leaf, ty_tensor *g) {
    if (o->capture) {
        int k = capture_index_leaf(o, leaf);
        if (k < 0) {
            ty_tensor_release(g);
            return 0;
        }
        return accumulate(&o->captured[k], g);
    }
    if (!leaf->requires_grad) {
        ty_tensor_release(g);
        return 0;
    }
    return accumulate_leaf(leaf, g, o->create_graph);
}

/* Runs one pass from the roots; root_grads are borrowed. */
static int run_pass(int n_roots, ty_tensor *const *roots, ty_tensor *const *root_grads,
                    const pass_opts *o) {
    uint64_t pass = ++pass_counter;
    ptr_stack all, work, ready;
    ptr_stack_init(&all);
    ptr_stack_init(&work);
    ptr_stack_init(&ready);
    ty_tensor **buffers = NULL; /* every node's gradient slots, one block */
    int rc = 0;

    /* 1. Find every node reachable from the roots and count, for each, how
     * many edges point at it: a node runs when all of them delivered. */
    for (int r = 0; r < n_roots && rc == 0; r++) {
        ty_node *n = roots[r]->grad_fn;
        if (n && n->pass != pass) {
            n->pass = pass;
            n->pending = 0;
            rc = push(&work, n);
            if (rc == 0) rc = push(&all, n);
        }
    }
    while (rc == 0 && work.n > 0) {
        ty_node *n = work.items[--work.n];
        for (int i = 0; i < n->n_inputs && rc == 0; i++) {
            ty_node *m = n->edges[i].node;
            if (!m) continue;
            if (m->pass != pass) {
                m->pass = pass;
                m->pending = 0;
                rc = push(&work, m);
                if (rc == 0) rc = push(&all, m);
            }
            m->pending++;
        }
    }
    size_t n_slots = 0;
    for (int k = 0; k < all.n && rc == 0; k++) {
        ty_node *n = all.items[k];
        if (n->broken)
            rc = ty_error("backward: %s could not record its inputs (out of memory)", n->name);
        n_slots += (size_t)n->n_outputs;
    }
    if (rc == 0 && n_slots > 0) {
        buffers = calloc(n_slots, sizeof(ty_tensor *));
        if (!buffers) rc = ty_error("backward: out of memory");
    }
    for (int k = 0, at = 0; k < all.n && rc == 0; k++) {
        ty_node *n = all.items[k];
        n->buffer = buffers + at;
        at += n->n_outputs;
    }

    /* 2. Seed the roots. A root that is itself a leaf (or an input being
     * captured) gets its gradient directly. */
    for (int r = 0; r < n_roots && rc == 0; r++) {
        ty_tensor *t = roots[r];
        ty_tensor *g = root_grads[r];
        if (!g) continue;
        if (t->grad_fn)
            rc = accumulate(&t->grad_fn->buffer[t->output_nr], ty_tensor_retain(g));
        else
            rc = deliver_to_leaf(o, t, ty_tensor_retain(g));
    }

    /* 3. Run nodes as they become ready. */
    for (int k = 0; k < all.n && rc == 0; k++) {
        ty_node *n = all.items[k];
        if (n->pending == 0) rc = heap_push(&ready, n);
    }
    bool prev_mode = ty_set_grad_enabled(o->create_graph);
    ty_tensor *grad_in_small[8];
    while (rc == 0 && ready.n > 0) {
        ty_node *n = heap_pop(&ready);
        if (n->released) {
            rc = ty_error("backward: trying to backward through the graph a second time (%s's "
                          "saved tensors were already freed); pass retain_graph the first time",
                          n->name);
            break;
        }
        /* gradients that reach a non-leaf being captured by ty_grad */
        if (o->capture) {
            for (int c = 0; c < o->n_capture && rc == 0; c++) {
                ty_tensor *t = o->capture[c];
                if (t->grad_fn == n && n->buffer[t->output_nr])
                    rc = accumulate(&o->captured[c], ty_tensor_retain(n->buffer[t->output_nr]));
            }
            if (rc) break;
        }
        bool any = false;
        for (int j = 0; j < n->n_outputs && rc == 0; j++) {
            if (n->buffer[j]) {
                any = true;
                continue;
            }
            n->buffer[j] = ty_zeros_meta(&n->output_meta[j]);
            if (!n->buffer[j]) rc = -1;
        }
        if (rc) break;
        ty_tensor **grad_in =
            n->n_inputs <= 8 ? grad_in_small : calloc((size_t)n->n_inputs, sizeof(ty_tensor *));
        if (!grad_in) {
            rc = ty_error("backward: out of memory");
            break;
        }
        memset(grad_in, 0, sizeof(ty_tensor *) * (size_t)n->n_inputs);
        if (any) {
            rc = n->backward(n, n->buffer, grad_in);
            if (rc) ty_error_prefix(n->name);
        }
        for (int j = 0; j < n->n_outputs; j++) {
            ty_tensor_release(n->buffer[j]);
            n->buffer[j] = NULL;
        }
        if (!o->retain_graph) {
            free_saved(n);
            n->released = true;
        }
        for (int i = 0; i < n->n_inputs; i++) {
            ty_edge *e = &n->edges[i];
            ty_tensor *g = grad_in[i];
            grad_in[i] = NULL;
            if (rc == 0 && g) {
                g = match_dtype(g, &n->input_meta[i]);
                if (!g)
                    rc = -1;
                else if (check_shape("the gradient of an input", n->name, g, &n->input_meta[i]) <
                         0) {
                    ty_tensor_release(g);
                    g = NULL;
                    rc = -1;
                }
            }
            if (rc == 0 && g && e->node) {
                rc = accumulate(&e->node->buffer[e->output_nr], g);
                g = NULL;
            } else if (rc == 0 && g && e->leaf) {
                rc = deliver_to_leaf(o, e->leaf, g);
                g = NULL;
            }
            ty_tensor_release(g);
            if (e->node && --e->node->pending == 0 && rc == 0) rc = heap_push(&ready, e->node);
        }
        if (grad_in != grad_in_small) free(grad_in);
    }
    ty_set_grad_enabled(prev_mode);

    /* 4. Clean up the scratch buffers (also after a failure). */
    for (int k = 0; k < all.n; k++) {
        ty_node *n = all.items[k];
        if (!n->buffer) continue;
        for (int j = 0; j < n->n_outputs; j++) ty_tensor_release(n->buffer[j]);
        n->buffer = NULL;
    }
    free(buffers);
    ptr_stack_free(&all);
    ptr_stack_free(&work);
    ptr_stack_free(&ready);
    return rc;
}

/* The gradient a root starts with: grad checked against root's shape, or
 * ones for a one-element root. */
static ty_tensor *root_seed(const char *fn, ty_tensor *root, ty_tensor *grad) {
    char b1[64], b2[64];
    if (grad) {
        bool ok = grad->ndim == root->ndim;
        for (int d = 0; ok && d < root->ndim; d++) ok = grad->shape[d] == root->shape[d];
        if (!ok) {
            ty_error("%s: gradient of shape %s does not match the output's shape %s", fn,
                     ty_shape_str(grad, b1, sizeof b1), ty_shape_str(root, b2, sizeof b2));
            return NULL;
        }
        return ty_tensor_retain(grad);
    }
    if (ty_numel(root) != 1) {
        ty_error("%s: the output has shape %s; a gradient argument is needed unless it has "
                 "one element",
                 fn, ty_shape_str(root, b1, sizeof b1));
        return NULL;
    }
    return ty_ones(root->ndim, root->shape, root->dtype, root->device);
}

int ty_backward(ty_tensor *root, ty_tensor *grad, bool retain_graph, bool create_graph) {
    if (!root) return ty_error("backward: no tensor given");
    if (!root->requires_grad)
        return ty_error("backward: the tensor does not require grad and has no grad_fn");
    ty_tensor *seed = root_seed("backward", root, grad);
    if (!seed) return -1;
    pass_opts o = {.create_graph = create_graph, .retain_graph = retain_graph || create_graph};
    int rc = run_pass(1, &root, &seed, &o);
    ty_tensor_release(seed);
    return rc;
}

int ty_grad(int n_out, ty_tensor *const *outputs, ty_tensor *const *grad_outputs, int n_in,
            ty_tensor *const *inputs, bool retain_graph, bool create_graph, bool allow_unused,
            ty_tensor **grads) {
    if (n_out < 1 || n_in < 1) return ty_error("grad: need at least one output and one input");
    for (int k = 0; k < n_in; k++) grads[k] = NULL;
    for (int k = 0; k < n_in; k++)
        if (!inputs[k] || !inputs[k]->requires_grad)
            return ty_error("grad: input %d does not require grad", k);
    ty_tensor **seeds = calloc((size_t)n_out, sizeof *seeds);
    if (!seeds) return ty_error("grad: out of memory");
    int rc = 0;
    for (int r = 0; r < n_out && rc == 0; r++) {
        if (!outputs[r] || !outputs[r]->requires_grad) {
            rc = ty_error("grad: output %d does not require grad and has no grad_fn", r);
            break;
        }
        seeds[r] = root_seed("grad", outputs[r], grad_outputs ? grad_outputs[r] : NULL);
        if (!seeds[r]) rc = -1;
    }
    if (rc == 0) {
        pass_opts o = {.create_graph = create_graph,
                       .retain_graph = retain_graph || create_graph,
                       .n_capture = n_in,
                       .capture = inputs,
                       .captured = grads};
        rc = run_pass(n_out, outputs, seeds, &o);
    }
    for (int r = 0; r < n_out; r++) ty_tensor_release(seeds[r]);
    free(seeds);
    for (int k = 0; k < n_in && rc == 0; k++) {
        if (grads[k]) {
            ty_meta m;
            set_meta(&m, inputs[k]);
            grads[k] = match_dtype(grads[k], &m);
            if (!grads[k]) rc = -1;
        } else if (!allow_unused) {
            rc = ty_error("grad: input %d was not used to compute the outputs (pass "
                          "allow_unused to get nil for it)",
                          k);
        }
    }
    if (rc) {
        for (int k = 0; k < n_in; k++) {
            ty_tensor_release(grads[k]);
            grads[k] = NULL;
        }
    }
    return rc;
}
