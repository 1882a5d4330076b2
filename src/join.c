/* Joining, splitting and rearranging tensors: cat, stack, split, chunk,
 * repeat, flip, roll and constant padding.
 *
 * Most of these are a view plus a copy: cat and roll copy their pieces into
 * narrowed views of the output, repeat copies a stride-0 view with one extra
 * dim per repeated dim, flip copies a view with negative strides, and pad
 * copies the kept region into the filled output. ty_copy_ (through ty_iter)
 * does the strided, broadcast, converting and parallel work, so each op here
 * only computes shapes. split and chunk return views and copy nothing. */
#include <stdlib.h>
#include <string.h>

#include "autograd.h"
#include "error.h"
#include "indexing.h"
#include "reduce.h"

void ty_tensor_array_free(ty_tensor **arr, int64_t n) {
    if (!arr) return;
    for (int64_t i = 0; i < n; i++) ty_tensor_release(arr[i]);
    free(arr);
}

/* ---- cat and stack ---- */

/* PyTorch skips 1-D tensors of shape (0) in cat, whatever the other shapes
 * (a leftover of the days when every empty tensor had that shape). */
static bool is_legacy_empty(const ty_tensor *t) {
    return t->ndim == 1 && t->shape[0] == 0;
}

static ty_tensor *cat_fwd(int n, ty_tensor *const *tensors, int dim) {
    char a[256], b[256];
    if (n <= 0 || !tensors) {
        ty_error("cat: expected a non-empty list of tensors, got %d", n);
        return NULL;
    }
    const ty_tensor *ref = NULL;
    ty_dtype dt = tensors[0]->dtype;
    int ref_i = -1;
    for (int i = 0; i < n; i++) {
        const ty_tensor *t = tensors[i];
        if (ty_check_cpu("cat", t) < 0 || ty_check_same_device("cat", tensors[0], t) < 0)
            return NULL;
        if (t->ndim == 0) {
            ty_error("cat: tensor %d is 0-d and cannot be concatenated", i);
            return NULL;
        }
        dt = ty_promote(dt, t->dtype);
        if (!ref && !is_legacy_empty(t)) {
            ref = t;
            ref_i = i;
        }
    }
    if (!ref) {
        int64_t zero = 0;
        return ty_empty(1, &zero, dt, tensors[0]->device);
    }
    int d = ty_wrap_dim("cat", dim, ref->ndim);
    if (d < 0) return NULL;
    int64_t shape[TY_MAX_DIMS];
    memcpy(shape, ref->shape, sizeof shape);
    shape[d] = 0;
    for (int i = 0; i < n; i++) {
        const ty_tensor *t = tensors[i];
        if (is_legacy_empty(t)) continue;
        if (t->ndim != ref->ndim) {
            ty_error("cat: tensor %d has %d dims but tensor %d has %d (shapes %s and %s)", i,
                     t->ndim, ref_i, ref->ndim, ty_shape_str(t, a, sizeof a),
                     ty_shape_str(ref, b, sizeof b));
            return NULL;
        }
        for (int k = 0; k < t->ndim; k++) {
            if (k != d && t->shape[k] != ref->shape[k]) {
                ty_error("cat: tensor %d has size %lld at dim %d, expected %lld (shapes %s and "
                         "%s; only dim %d may differ)",
                         i, (long long)t->shape[k], k, (long long)ref->shape[k],
                         ty_shape_str(t, a, sizeof a), ty_shape_str(ref, b, sizeof b), d);
                return NULL;
            }
        }
        shape[d] += t->shape[d];
    }
    ty_tensor *out = ty_empty(ref->ndim, shape, dt, ref->device);
    if (!out) return NULL;
    int64_t off = 0;
    for (int i = 0; i < n; i++) {
        const ty_tensor *t = tensors[i];
        if (is_legacy_empty(t) || t->shape[d] == 0) continue;
        if (ty_check_interrupt("cat") < 0) goto fail;
        ty_tensor *part = ty_narrow(out, d, off, t->shape[d]);
        int rc = part ? ty_copy_(part, t) : -1;
        ty_tensor_release(part);
        if (rc < 0) goto fail;
        off += t->shape[d];
    }
    return out;
fail:
    ty_tensor_release(out);
    return NULL;
}

static ty_tensor *stack_fwd(int n, ty_tensor *const *tensors, int dim) {
    char a[256], b[256];
    if (n <= 0 || !tensors) {
        ty_error("stack: expected a non-empty list of tensors, got %d", n);
        return NULL;
    }
    const ty_tensor *t0 = tensors[0];
    for (int i = 0; i < n; i++) {
        const ty_tensor *t = tensors[i];
        if (ty_check_cpu("stack", t) < 0 || ty_check_same_device("stack", t0, t) < 0) return NULL;
        bool same = t->ndim == t0->ndim;
        for (int k = 0; same && k < t->ndim; k++) same = t->shape[k] == t0->shape[k];
        if (!same) {
            ty_error("stack: tensor %d has shape %s, expected %s like tensor 0", i,
                     ty_shape_str(t, a, sizeof a), ty_shape_str(t0, b, sizeof b));
            return NULL;
        }
    }
    int d = ty_wrap_dim("stack", dim, t0->ndim + 1);
    if (d < 0) return NULL;
    ty_tensor **views = calloc((size_t)n, sizeof *views), *out = NULL;
    if (!views) {
        ty_error("stack: out of memory for %d tensors", n);
        return NULL;
    }
    int made = 0;
    for (; made < n; made++)
        if (!(views[made] = ty_unsqueeze(tensors[made], d))) break;
    if (made == n) {
        out = cat_fwd(n, views, d);
        if (!out) ty_error_prefix("stack");
    }
    ty_tensor_array_free(views, made);
    return out;
}

/* ---- split and chunk (views) ----
 * No ty_check_cpu here: views copy no data and work on any device. */

/* Views of x along d: n pieces of the given sizes, or of split_size each
 * (the last one shorter) when sizes is NULL. */
static ty_tensor **split_views(const char *fn, ty_tensor *x, int d, int64_t n, const int64_t *sizes,
                               int64_t split_size, int64_t *n_out) {
    ty_tensor **arr = calloc((size_t)n, sizeof *arr);
    if (!arr) {
        ty_error("%s: out of memory for %lld views", fn, (long long)n);
        return NULL;
    }
    int64_t off = 0, size = x->shape[d];
    for (int64_t i = 0; i < n; i++) {
        int64_t len = sizes ? sizes[i] : (size - off < split_size ? size - off : split_size);
        if (!(arr[i] = ty_narrow(x, d, off, len))) {
            ty_tensor_array_free(arr, i);
            return NULL;
        }
        off += len;
    }
    *n_out = n;
    return arr;
}

static int split_dim(const char *fn, const ty_tensor *x, int dim) {
    if (x->ndim == 0) return ty_error("%s: cannot split a 0-d tensor", fn);
    return ty_wrap_dim(fn, dim, x->ndim);
}

static ty_tensor **split_fwd(ty_tensor *x, int64_t split_size, int dim, int64_t *n_out) {
    *n_out = 0;
    int d = split_dim("split", x, dim);
    if (d < 0) return NULL;
    int64_t size = x->shape[d];
    if (split_size < 0 || (split_size == 0 && size > 0)) {
        ty_error("split: split_size must be positive, got %lld for dim %d of size %lld",
                 (long long)split_size, d, (long long)size);
        return NULL;
    }
    /* At least one piece, also for an empty dim. */
    int64_t n = split_size == 0 ? 1 : (size + split_size - 1) / split_size;
    if (n < 1) n = 1;
    return split_views("split", x, d, n, NULL, split_size, n_out);
}

static ty_tensor **split_sizes_fwd(ty_tensor *x, int n, const int64_t *sizes, int dim,
                                   int64_t *n_out) {
    *n_out = 0;
    int d = split_dim("split_sizes", x, dim);
    if (d < 0) return NULL;
    if (n < 1) {
        ty_error("split_sizes: expected at least one size, got %d", n);
        return NULL;
    }
    int64_t sum = 0;
    for (int i = 0; i < n; i++) {
        if (sizes[i] < 0) {
            ty_error("split_sizes: size %d is negative: %lld", i, (long long)sizes[i]);
            return NULL;
        }
        sum += sizes[i];
    }
    if (sum != x->shape[d]) {
        char buf[256];
        ty_error("split_sizes: sizes %s sum to %lld but dim %d has size %lld",
                 ty_shape_str_n(n < TY_MAX_DIMS ? n : TY_MAX_DIMS, sizes, buf, sizeof buf),
                 (long long)sum, d, (long long)x->shape[d]);
        return NULL;
    }
    return split_views("split_sizes", x, d, n, sizes, 0, n_out);
}

static ty_tensor **chunk_fwd(ty_tensor *x, int64_t chunks, int dim, int64_t *n_out) {
    *n_out = 0;
    int d = split_dim("chunk", x, dim);
    if (d < 0) return NULL;
    if (chunks < 1) {
        ty_error("chunk: chunks must be positive, got %lld", (long long)chunks);
        return NULL;
    }
    int64_t size = x->shape[d];
    if (size == 0) {
        /* split would give one piece; PyTorch keeps `chunks` empty ones. */
        int64_t *zeros = calloc((size_t)chunks, sizeof *zeros);
        if (!zeros) {
            ty_error("chunk: out of memory for %lld chunks", (long long)chunks);
            return NULL;
        }
        ty_tensor **arr = split_views("chunk", x, d, chunks, zeros, 0, n_out);
        free(zeros);
        return arr;
    }
    int64_t split_size = (size + chunks - 1) / chunks;
    return split_views("chunk", x, d, (size + split_size - 1) / split_size, NULL, split_size,
                       n_out);
}

/* ---- repeat, flip, roll ---- */

static ty_tensor *repeat_fwd(ty_tensor *x, int ndim, const int64_t *repeats) {
    if (ty_check_cpu("repeat", x) < 0) return NULL;
    if (ndim < x->ndim || ndim > TY_MAX_DIMS) {
        ty_error("repeat: %d repeats for a tensor with %d dims (need %d to %d)", ndim, x->ndim,
                 x->ndim, TY_MAX_DIMS);
        return NULL;
    }
    /* out viewed with a (repeat, size) pair of dims per dim is x broadcast
     * along each repeat dim (stride 0); pairs with a 1 need only one dim. */
    int lead = ndim - x->ndim, vd = 0;
    int64_t final[TY_MAX_DIMS], vshape[2 * TY_MAX_DIMS], vstrides[2 * TY_MAX_DIMS];
    for (int i = 0; i < ndim; i++) {
        int64_t r = repeats[i];
        int64_t s = i < lead ? 1 : x->shape[i - lead];
        int64_t st = i < lead ? 0 : x->strides[i - lead];
        if (r < 0) {
            ty_error("repeat: repeat %lld at dim %d is negative", (long long)r, i);
            return NULL;
        }
        if (r > 0 && s > INT64_MAX / r) {
            ty_error("repeat: size %lld repeated %lld times at dim %d is too large", (long long)s,
                     (long long)r, i);
            return NULL;
        }
        final[i] = r * s;
        if (r != 1) {
            vshape[vd] = r;
            vstrides[vd++] = 0;
        }
        if (s != 1 || r == 1) {
            vshape[vd] = s;
            vstrides[vd++] = st;
        }
    }
    if (vd > TY_MAX_DIMS) {
        ty_error("repeat: repeating %d dims at once needs %d dims, more than %d", ndim, vd,
                 TY_MAX_DIMS);
        return NULL;
    }
    ty_tensor *v = ty_alias(x), *tiled = NULL, *out = NULL;
    if (!v) return NULL;
    v->ndim = vd;
    memcpy(v->shape, vshape, sizeof(int64_t) * (size_t)vd);
    memcpy(v->strides, vstrides, sizeof(int64_t) * (size_t)vd);
    tiled = ty_empty(vd, vshape, x->dtype, x->device);
    if (tiled && ty_copy_(tiled, v) == 0) out = ty_view(tiled, ndim, final);
    ty_tensor_release(v);
    ty_tensor_release(tiled);
    return out;
}

static ty_tensor *flip_fwd(ty_tensor *x, int ndims, const int *dims) {
    if (ty_check_cpu("flip", x) < 0) return NULL;
    bool seen[TY_MAX_DIMS] = {false};
    for (int i = 0; i < ndims; i++) {
        int d = ty_wrap_dim("flip", dims[i], x->ndim);
        if (d < 0) return NULL;
        if (seen[d]) {
            ty_error("flip: dim %d appears twice", dims[i]);
            return NULL;
        }
        seen[d] = true;
    }
    /* A view walking the flipped dims backwards, then a copy. Dims of size 0
     * or 1 read the same either way (and must not move the offset). */
    ty_tensor *v = ty_alias(x);
    if (!v) return NULL;
    for (int d = 0; d < x->ndim; d++) {
        if (!seen[d] || x->shape[d] <= 1) continue;
        v->offset += (x->shape[d] - 1) * x->strides[d];
        v->strides[d] = -x->strides[d];
    }
    ty_tensor *out = ty_clone(v);
    ty_tensor_release(v);
    return out;
}

static ty_tensor *roll_fwd(ty_tensor *x, int64_t shift, int dim) {
    if (ty_check_cpu("roll", x) < 0) return NULL;
    int d = ty_wrap_dim("roll", dim, x->ndim);
    if (d < 0) return NULL;
    int64_t n = x->ndim > 0 ? x->shape[d] : 1;
    if (n <= 1) return ty_clone(x);
    int64_t s = ((shift % n) + n) % n;
    ty_tensor *out = ty_empty(x->ndim, x->shape, x->dtype, x->device);
    if (!out) return NULL;
    /* out[s:] = x[:n-s] and out[:s] = x[n-s:] */
    ty_tensor *parts[4] = {ty_narrow(out, d, s, n - s), ty_narrow(x, d, 0, n - s),
                           ty_narrow(out, d, 0, s), ty_narrow(x, d, n - s, s)};
    int rc = 0;
    for (int i = 0; i < 4; i++)
        if (!parts[i]) rc = -1;
    if (rc == 0) rc = ty_copy_(parts[0], parts[1]);
    if (rc == 0) rc = ty_copy_(parts[2], parts[3]);
    for (int i = 0; i < 4; i++) ty_tensor_release(parts[i]);
    if (rc < 0) {
        ty_tensor_release(out);
        return NULL;
    }
    return out;
}

static ty_tensor *roll_flat_fwd(ty_tensor *x, int64_t shift) {
    if (ty_check_cpu("roll", x) < 0) return NULL;
    int64_t n = ty_numel(x);
    ty_tensor *flat = ty_reshape(x, 1, &n), *rolled = NULL, *out = NULL;
    if (flat && (rolled = roll_fwd(flat, shift, 0))) out = ty_view(rolled, x->ndim, x->shape);
    ty_tensor_release(flat);
    ty_tensor_release(rolled);
    return out;
}

/* ---- padding ---- */

static ty_tensor *pad_constant_fwd(ty_tensor *x, int npad, const int64_t *pad, double value) {
    const char *fn = "pad_constant";
    if (ty_check_cpu(fn, x) < 0) return NULL;
    if (npad < 0 || npad % 2 != 0) {
        ty_error("%s: pad must hold an even number of sizes, got %d", fn, npad);
        return NULL;
    }
    if (npad / 2 > x->ndim) {
        ty_error("%s: %d pad sizes for a tensor with %d dims (at most %d)", fn, npad, x->ndim,
                 2 * x->ndim);
        return NULL;
    }
    int64_t shape[TY_MAX_DIMS], src_start[TY_MAX_DIMS], dst_start[TY_MAX_DIMS], len[TY_MAX_DIMS];
    bool grows = false, empty = false;
    for (int d = 0; d < x->ndim; d++) {
        int i = x->ndim - 1 - d; /* pad pair i belongs to dim d */
        int64_t left = i < npad / 2 ? pad[2 * i] : 0, right = i < npad / 2 ? pad[2 * i + 1] : 0;
        int64_t size = x->shape[d];
        shape[d] = size + left + right;
        if (shape[d] < 0) {
            ty_error("%s: padding (%lld,%lld) of dim %d of size %lld gives negative size %lld", fn,
                     (long long)left, (long long)right, d, (long long)size, (long long)shape[d]);
            return NULL;
        }
        if (left > 0 || right > 0) grows = true;
        /* The part of x that survives (negative pads crop) and where it goes. */
        src_start[d] = left < 0 ? -left : 0;
        dst_start[d] = left > 0 ? left : 0;
        len[d] = size - src_start[d] - (right < 0 ? -right : 0);
        if (len[d] <= 0) empty = true;
    }
    ty_tensor *out = ty_empty(x->ndim, shape, x->dtype, x->device);
    if (!out) return NULL;
    if (grows && ty_fill_(out, value) < 0) goto fail;
    if (!empty) {
        ty_tensor *dst = ty_alias(out), *src = ty_alias(x);
        int rc = dst && src ? 0 : -1;
        for (int d = 0; rc == 0 && d < x->ndim; d++) {
            dst->offset += dst_start[d] * dst->strides[d];
            dst->shape[d] = len[d];
            src->offset += src_start[d] * src->strides[d];
            src->shape[d] = len[d];
        }
        if (rc == 0) rc = ty_copy_(dst, src);
        ty_tensor_release(dst);
        ty_tensor_release(src);
        if (rc < 0) goto fail;
    }
    return out;
fail:
    ty_tensor_release(out);
    return NULL;
}

/* ---- autograd ----
 *
 * The forwards above run with grad mode off (they build views and copies of
 * their inputs, which must not record nodes of their own), and each public
 * function below records one node. Every backward is made of these same
 * ops, so second derivatives work: cat and split undo each other, flip,
 * roll and pad are their own inverses up to the arguments, and repeat sums
 * its tiles with reshape and sum. */

/* Runs a forward with grad mode off. */
#define NO_GRAD(expr)                                                                              \
    do {                                                                                           \
        bool prev_ = ty_set_grad_enabled(false);                                                   \
        expr;                                                                                      \
        ty_set_grad_enabled(prev_);                                                                \
    } while (0)

static int wrap(int dim, int ndim) {
    return dim < 0 ? dim + ndim : dim;
}

static bool meta_is_legacy_empty(const ty_meta *m) {
    return m->ndim == 1 && m->shape[0] == 0;
}

/* cat: each input's gradient is its slice of g along dim, taken with
 * split_sizes (one node when differentiated again); the skipped legacy
 * empty inputs get empty gradients. i[0] = dim (wrapped). */
static int cat_backward(ty_node *n, ty_tensor *const *g, ty_tensor **gi) {
    int d = (int)n->i[0], m = 0, rc = 0;
    int64_t *sizes = malloc(sizeof(int64_t) * (size_t)n->n_inputs), cnt = 0;
    if (!sizes) return ty_error("cat: out of memory");
    for (int i = 0; i < n->n_inputs; i++)
        if (!meta_is_legacy_empty(&n->input_meta[i])) sizes[m++] = n->input_meta[i].shape[d];
    ty_tensor **pieces = m ? ty_split_sizes(g[0], m, sizes, d, &cnt) : NULL;
    if (m && !pieces) rc = -1;
    for (int i = 0, k = 0; i < n->n_inputs && rc == 0; i++) {
        bool legacy = meta_is_legacy_empty(&n->input_meta[i]);
        ty_tensor *piece = legacy ? NULL : pieces[k++];
        if (!ty_node_needs_grad(n, i)) continue;
        gi[i] = legacy ? ty_zeros_meta(&n->input_meta[i]) : ty_tensor_retain(piece);
        if (!gi[i]) rc = -1;
    }
    ty_tensor_array_free(pieces, cnt);
    free(sizes);
    return rc;
}

ty_tensor *ty_cat(int n, ty_tensor *const *tensors, int dim) {
    ty_tensor *out;
    NO_GRAD(out = cat_fwd(n, tensors, dim));
    if (!out) return NULL;
    ty_node *node = ty_record("cat", cat_backward, n, tensors, 1, &out);
    if (node) {
        int nd = 1; /* the dims of the first tensor that took part */
        for (int i = 0; i < n; i++) {
            if (is_legacy_empty(tensors[i])) continue;
            nd = tensors[i]->ndim;
            break;
        }
        node->i[0] = wrap(dim, nd);
    }
    return out;
}

/* stack: input i's gradient is g.select(dim, i). i[0] = dim (wrapped). */
static int stack_backward(ty_node *n, ty_tensor *const *g, ty_tensor **gi) {
    for (int i = 0; i < n->n_inputs; i++) {
        if (!ty_node_needs_grad(n, i)) continue;
        if (!(gi[i] = ty_select(g[0], (int)n->i[0], i))) return -1;
    }
    return 0;
}

ty_tensor *ty_stack(int n, ty_tensor *const *tensors, int dim) {
    ty_tensor *out;
    NO_GRAD(out = stack_fwd(n, tensors, dim));
    if (!out) return NULL;
    ty_node *node = ty_record("stack", stack_backward, n, tensors, 1, &out);
    if (node) node->i[0] = wrap(dim, tensors[0]->ndim + 1);
    return out;
}

/* split with up to TY_NODE_MAX_OUTPUTS pieces: one node with an output per
 * piece, whose gradient is the pieces' gradients concatenated (the engine
 * passes zeros for pieces that got none). i[0] = dim. */
static int split_backward(ty_node *n, ty_tensor *const *g, ty_tensor **gi) {
    gi[0] = ty_cat(n->n_outputs, g, (int)n->i[0]);
    return gi[0] ? 0 : -1;
}

/* One piece of a split with more pieces than a node has outputs: its own
 * node, whose gradient is g padded with zeros to x's shape.
 * i[0] = dim, i[1] = the piece's offset along it. */
static int piece_backward(ty_node *n, ty_tensor *const *g, ty_tensor **gi) {
    const ty_meta *m = &n->input_meta[0];
    int d = (int)n->i[0], npad = 0;
    int64_t off = n->i[1], pad[2 * TY_MAX_DIMS];
    for (int k = m->ndim - 1; k >= d; k--) {
        pad[npad++] = k == d ? off : 0;
        pad[npad++] = k == d ? m->shape[d] - off - g[0]->shape[d] : 0;
    }
    gi[0] = ty_pad_constant(g[0], npad, pad, 0.0);
    return gi[0] ? 0 : -1;
}

/* Records the pieces of a split of x along dim (arr may be NULL: failed). */
static ty_tensor **record_split(ty_tensor *x, int dim, ty_tensor **arr, int64_t cnt) {
    if (!arr || !ty_any_requires_grad(1, &x)) return arr;
    int d = wrap(dim, x->ndim);
    if (cnt <= TY_NODE_MAX_OUTPUTS) {
        ty_node *n = ty_record("split", split_backward, 1, &x, (int)cnt, arr);
        if (n) n->i[0] = d;
        return arr;
    }
    int64_t off = 0;
    for (int64_t k = 0; k < cnt; k++) {
        ty_node *n = ty_record("split", piece_backward, 1, &x, 1, &arr[k]);
        if (n) {
            n->i[0] = d;
            n->i[1] = off;
        }
        off += arr[k]->shape[d];
    }
    return arr;
}

ty_tensor **ty_split(ty_tensor *x, int64_t split_size, int dim, int64_t *n_out) {
    ty_tensor **arr;
    NO_GRAD(arr = split_fwd(x, split_size, dim, n_out));
    return record_split(x, dim, arr, *n_out);
}

ty_tensor **ty_split_sizes(ty_tensor *x, int n, const int64_t *sizes, int dim, int64_t *n_out) {
    ty_tensor **arr;
    NO_GRAD(arr = split_sizes_fwd(x, n, sizes, dim, n_out));
    return record_split(x, dim, arr, *n_out);
}

ty_tensor **ty_chunk(ty_tensor *x, int64_t chunks, int dim, int64_t *n_out) {
    ty_tensor **arr;
    NO_GRAD(arr = chunk_fwd(x, chunks, dim, n_out));
    return record_split(x, dim, arr, *n_out);
}

/* repeat: each dim k of g holds repeats[k] tiles of x's size s there;
 * viewing it as (repeats[k], s) and summing the tile dim gives x's size
 * back, one dim at a time. i[0] = number of repeats, i[1..] = repeats. */
static int repeat_backward(ty_node *n, ty_tensor *const *g, ty_tensor **gi) {
    const ty_meta *m = &n->input_meta[0];
    int nr = (int)n->i[0], lead = nr - m->ndim;
    ty_tensor *cur = ty_tensor_retain(g[0]);
    for (int k = 0; k < nr && cur; k++) {
        int64_t r = n->i[1 + k], s = k < lead ? 1 : m->shape[k - lead];
        if (r == 1) continue;
        if (cur->ndim >= TY_MAX_DIMS) {
            ty_error("repeat: the gradient of a repeat over %d dims is not supported", nr);
            ty_tensor_release(cur);
            return -1;
        }
        int64_t shape[TY_MAX_DIMS];
        int nd = 0;
        for (int q = 0; q < cur->ndim; q++) {
            if (q == k) shape[nd++] = r;
            shape[nd++] = q == k ? s : cur->shape[q];
        }
        ty_tensor *v = ty_reshape(cur, nd, shape);
        ty_tensor_release(cur);
        cur = v ? ty_sum(v, 1, &k, false) : NULL;
        ty_tensor_release(v);
    }
    if (!cur) return -1;
    gi[0] = ty_reshape(cur, m->ndim, m->shape);
    ty_tensor_release(cur);
    return gi[0] ? 0 : -1;
}

ty_tensor *ty_repeat(ty_tensor *x, int ndim, const int64_t *repeats) {
    ty_tensor *out;
    NO_GRAD(out = repeat_fwd(x, ndim, repeats));
    if (!out) return NULL;
    ty_node *n = ty_record("repeat", repeat_backward, 1, &x, 1, &out);
    if (n) {
        n->i[0] = ndim;
        memcpy(&n->i[1], repeats, sizeof(int64_t) * (size_t)ndim);
    }
    return out;
}

/* flip: dx = g flipped back. i[0] = number of dims, i[1..] = the dims. */
static int flip_backward(ty_node *n, ty_tensor *const *g, ty_tensor **gi) {
    int dims[TY_MAX_DIMS], nd = (int)n->i[0];
    for (int k = 0; k < nd; k++) dims[k] = (int)n->i[1 + k];
    gi[0] = ty_flip(g[0], nd, dims);
    return gi[0] ? 0 : -1;
}

ty_tensor *ty_flip(ty_tensor *x, int ndims, const int *dims) {
    ty_tensor *out;
    NO_GRAD(out = flip_fwd(x, ndims, dims));
    if (!out) return NULL;
    ty_node *n = ty_record("flip", flip_backward, 1, &x, 1, &out);
    if (n) {
        n->i[0] = ndims;
        for (int k = 0; k < ndims; k++) n->i[1 + k] = dims[k];
    }
    return out;
}

/* roll: dx = g rolled back. i[0] = shift, i[1] = dim. */
static int roll_backward(ty_node *n, ty_tensor *const *g, ty_tensor **gi) {
    gi[0] = ty_roll(g[0], -n->i[0], (int)n->i[1]);
    return gi[0] ? 0 : -1;
}

ty_tensor *ty_roll(ty_tensor *x, int64_t shift, int dim) {
    ty_tensor *out;
    NO_GRAD(out = roll_fwd(x, shift, dim));
    if (!out) return NULL;
    ty_node *n = ty_record("roll", roll_backward, 1, &x, 1, &out);
    if (n) {
        /* reduced modulo the size, so that negating it cannot overflow */
        int64_t size = x->ndim ? x->shape[wrap(dim, x->ndim)] : 1;
        n->i[0] = size > 0 ? shift % size : 0;
        n->i[1] = dim;
    }
    return out;
}

/* roll_flat: dx = g rolled back. i[0] = shift. */
static int roll_flat_backward(ty_node *n, ty_tensor *const *g, ty_tensor **gi) {
    gi[0] = ty_roll_flat(g[0], -n->i[0]);
    return gi[0] ? 0 : -1;
}

ty_tensor *ty_roll_flat(ty_tensor *x, int64_t shift) {
    ty_tensor *out;
    NO_GRAD(out = roll_flat_fwd(x, shift));
    if (!out) return NULL;
    ty_node *n = ty_record("roll", roll_flat_backward, 1, &x, 1, &out);
    if (n) {
        int64_t size = ty_numel(x);
        n->i[0] = size > 0 ? shift % size : 0;
    }
    return out;
}

/* pad_constant: padding by -pad crops what was added and puts zeros where
 * the forward cropped. i[0] = npad, i[1..] = pad. */
static int pad_backward(ty_node *n, ty_tensor *const *g, ty_tensor **gi) {
    int npad = (int)n->i[0];
    int64_t pad[2 * TY_MAX_DIMS];
    for (int k = 0; k < npad; k++) pad[k] = -n->i[1 + k];
    gi[0] = ty_pad_constant(g[0], npad, pad, 0.0);
    return gi[0] ? 0 : -1;
}

ty_tensor *ty_pad_constant(ty_tensor *x, int npad, const int64_t *pad, double value) {
    ty_tensor *out;
    NO_GRAD(out = pad_constant_fwd(x, npad, pad, value));
    if (!out) return NULL;
    ty_node *n = ty_record("pad_constant", pad_backward, 1, &x, 1, &out);
    if (n) {
        n->i[0] = npad;
        memcpy(&n->i[1], pad, sizeof(int64_t) * (size_t)npad);
    }
    return out;
}
