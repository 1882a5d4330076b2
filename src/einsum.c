/* einsum: Einstein summation, lowered to views, sums and batched GEMMs.
 *
 * The plan, for an equation like "bi,ij,bj->b":
 *   1. Parse it into one label list per operand. Labels are numbered in
 *      ASCII order (A-Z then a-z), so sorting ids sorts the letters; the
 *      dims under "..." get labels of their own after the letters,
 *      right-aligned across operands so that they broadcast.
 *   2. Give each operand one dim per distinct label: a repeated label is the
 *      diagonal, a view whose stride is the sum of the repeated dims'
 *      strides. A "..." dim of size 1 facing a bigger size elsewhere is
 *      dropped (it broadcasts).
 *   3. Sum away each label that only one operand has and the output lacks,
 *      before any product, so no GEMM carries it.
 *   4. Contract left to right. For a pair L, R the labels fall into batch
 *      (both, still needed later), contracted (both, not needed), M (only L)
 *      and N (only R); L is permuted to (batch, M, K) and R to (batch, K, N),
 *      reshaped to 3-D (a view whenever the strides allow) and multiplied
 *      with ty_matmul, which hands transposed views to BLAS without copies.
 *   5. Permute the last result into the output order. */
#include <stdlib.h>
#include <string.h>

#include "autograd.h"
#include "creation.h"
#include "error.h"
#include "linalg.h"
#include "parallel.h"

#define NUM_LETTERS 52
#define MAX_LABELS (NUM_LETTERS + TY_MAX_DIMS)
#define MAX_EQUATION 1024

/* One operand (or intermediate result) with a label per dim. */
typedef struct {
    ty_tensor *t; /* owned */
    int labels[TY_MAX_DIMS];
} term;

typedef struct {
    const char *eq; /* as the caller wrote it, for messages */
    int n;          /* operands */
    term *terms;    /* n of them */
    int64_t size[MAX_LABELS];
    int first_op[MAX_LABELS];  /* 1-based operand that fixed size[], 0 if unseen */
    int last_term[MAX_LABELS]; /* last term that has the label, -1 if none */
    int occurrences[MAX_LABELS];
    int in_output[MAX_LABELS];
    int out[TY_MAX_DIMS];
    int nout;
    /* per operand, the label of each of its dims ("..." dims numbered from
     * NUM_LETTERS); kept after build for the backward */
    int (*raw)[TY_MAX_DIMS];
} plan;

static int letter_id(char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return 26 + c - 'a';
    return -1;
}

static char label_char(int id) {
    return id < 26 ? (char)('A' + id) : (char)('a' + id - 26);
}

static int fail(const plan *p, const char *problem) {
    return ty_error("einsum '%.200s': %s", p->eq, problem);
}

/* Checks the characters of one side of the equation: letters, ',' (left
 * side only) and complete "..." groups, at most one per term. */
static int check_chars(const plan *p, const char *s, int lhs) {
    int dots_in_term = 0;
    for (const char *c = s; *c; c++) {
        if (letter_id(*c) >= 0) continue;
        if (*c == ',' && lhs) {
            dots_in_term = 0;
            continue;
        }
        if (*c == '.') {
            if (c[1] != '.' || c[2] != '.') return fail(p, "'.' must be part of a '...'");
            if (dots_in_term++)
                return fail(p, lhs ? "an operand has more than one '...'"
                                   : "the output has more than one '...'");
            c += 2;
            continue;
        }
        return ty_error("einsum '%.200s': bad character '%c' (labels are a-z and A-Z)", p->eq, *c);
    }
    return 0;
}

/* Fills raw labels for operand i from its term [s, e); "..." dims get the
 * placeholder -1 - k (k counting from the end) until the ellipsis width is
 * known. Returns the number of "..." dims or -1. */
static int parse_term(const plan *p, int i, const ty_tensor *t, const char *s, const char *e,
                      int *raw) {
    int letters = 0, ellipsis = 0;
    for (const char *c = s; c < e; c++) {
        if (*c == '.') {
            ellipsis = 1;
            c += 2;
        } else {
            letters++;
        }
    }
    if (letters > t->ndim || (!ellipsis && letters != t->ndim)) {
        char sh[256];
        return ty_error("einsum '%.200s': operand %d has shape %s but its term '%.*s' has %d "
                        "labels",
                        p->eq, i + 1, ty_shape_str(t, sh, sizeof sh), (int)(e - s), s, letters);
    }
    int width = t->ndim - letters, d = 0;
    for (const char *c = s; c < e; c++) {
        if (*c == '.') {
            for (int k = 0; k < width; k++) raw[d++] = -1 - (width - 1 - k);
            c += 2;
        } else {
            raw[d++] = letter_id(*c);
        }
    }
    return ellipsis ? width : 0;
}

/* Records the size of label id in operand i (1-based), checking it against
 * earlier sightings: letters must agree, "..." dims broadcast. */
static int note_size(plan *p, int id, int64_t size, int op) {
    if (!p->first_op[id]) {
        p->size[id] = size;
        p->first_op[id] = op;
        return 0;
    }
    int64_t old = p->size[id];
    if (id >= NUM_LETTERS) {
        if (old == size || size == 1) return 0;
        if (old == 1) {
            p->size[id] = size;
            p->first_op[id] = op;
            return 0;
        }
        return ty_error("einsum '%.200s': '...' dims do not broadcast: %lld in operand %d and "
                        "%lld in operand %d",
                        p->eq, (long long)old, p->first_op[id], (long long)size, op);
    }
    if (old == size) return 0;
    if (p->first_op[id] == op)
        return ty_error("einsum '%.200s': label %c is %lld and %lld in operand %d", p->eq,
                        label_char(id), (long long)old, (long long)size, op);
    return ty_error("einsum '%.200s': label %c is %lld in operand %d and %lld in operand %d", p->eq,
                    label_char(id), (long long)old, p->first_op[id], (long long)size, op);
}

/* Sums away the dims of tm whose labels have drop[label] set. The result
 * is a fresh contiguous tensor in tm's (f32 or f64) dtype. */
static int sum_labels(term *tm, const int *drop) {
    ty_tensor *t = tm->t;
    int perm[TY_MAX_DIMS], kept[TY_MAX_DIMS], nk = 0, nd = 0;
    int64_t shape[TY_MAX_DIMS], rows = 1, cols = 1;
    for (int d = 0; d < t->ndim; d++) {
        if (drop[tm->labels[d]]) continue;
        kept[nk] = tm->labels[d];
        shape[nk] = t->shape[d];
        rows *= t->shape[d];
        perm[nk++] = d;
    }
    for (int d = 0; d < t->ndim; d++) {
        if (!drop[tm->labels[d]]) continue;
        cols *= t->shape[d];
        perm[nk + nd++] = d;
    }
    if (nd == 0) return 0;
    ty_tensor *pt = ty_permute(t, perm);
    ty_tensor *c = pt ? ty_contiguous(pt) : NULL;
    ty_tensor *out = c ? ty_empty(nk, shape, t->dtype, t->device) : NULL;
    ty_tensor_release(pt);
    if (!out) {
        ty_tensor_release(c);
        return -1;
    }
    int is_f32 = t->dtype == TY_F32;
    const char *src = ty_data(c);
    char *dst = ty_data(out);
    /* f32 sums accumulate in double; rows run in parallel when large, and
     * the interrupt flag is polled every few million elements */
    int64_t block = cols > 0 ? (1 << 22) / cols + 1 : rows;
    for (int64_t r0 = 0; r0 < rows; r0 += block) {
        if (ty_check_interrupt("einsum") < 0) {
            ty_tensor_release(c);
            ty_tensor_release(out);
            return -1;
        }
        int64_t r1 = r0 + block < rows ? r0 + block : rows;
        int nt = ty_threads_for((r1 - r0) * cols);
#pragma omp parallel for num_threads(nt) if (nt > 1)
        for (int64_t r = r0; r < r1; r++) {
            double acc = 0;
            if (is_f32) {
                const float *x = (const float *)src + r * cols;
                for (int64_t k = 0; k < cols; k++) acc += x[k];
                ((float *)dst)[r] = (float)acc;
            } else {
                const double *x = (const double *)src + r * cols;
                for (int64_t k = 0; k < cols; k++) acc += x[k];
                ((double *)dst)[r] = acc;
            }
        }
    }
    ty_tensor_release(c);
    ty_tensor_release(tm->t);
    tm->t = out;
    memcpy(tm->labels, kept, sizeof(int) * (size_t)nk);
    return 0;
}

static int has_label(const term *tm, int id) {
    for (int d = 0; d < tm->t->ndim; d++)
        if (tm->labels[d] == id) return 1;
    return 0;
}

/* Permutes t to the dims listed in `order` (which must be a permutation of
 * t's labels) and reshapes it to 3-D (g0, g1, g2) by the group sizes. */
static ty_tensor *to_3d(const term *tm, const int *order, const int *groups) {
    int perm[TY_MAX_DIMS];
    int64_t shape3[3] = {1, 1, 1};
    int k = 0;
    for (int g = 0; g < 3; g++) {
        for (int j = 0; j < groups[g]; j++, k++) {
            for (int d = 0; d < tm->t->ndim; d++)
                if (tm->labels[d] == order[k]) perm[k] = d;
            shape3[g] *= tm->t->shape[perm[k]];
        }
    }
    ty_tensor *pt = ty_permute(tm->t, perm);
    ty_tensor *r = pt ? ty_reshape(pt, 3, shape3) : NULL;
    ty_tensor_release(pt);
    return r;
}

/* L <- L contracted with R; keep[label] says which labels later operands or
 * the output still need. R is left alone (its caller frees it). */
static int contract(plan *p, term *L, const term *R, const int *keep) {
    int lorder[TY_MAX_DIMS], rorder[TY_MAX_DIMS], res[TY_MAX_DIMS * 2];
    int batch[TY_MAX_DIMS], con[TY_MAX_DIMS], ml[TY_MAX_DIMS], nr[TY_MAX_DIMS];
    int nb = 0, nc = 0, nm = 0, nn = 0;
    for (int d = 0; d < L->t->ndim; d++) {
        int id = L->labels[d];
        if (!has_label(R, id))
            ml[nm++] = id;
        else if (keep[id])
            batch[nb++] = id;
        else
            con[nc++] = id;
    }
    for (int d = 0; d < R->t->ndim; d++)
        if (!has_label(L, R->labels[d])) nr[nn++] = R->labels[d];
    if (nb + nm + nn > TY_MAX_DIMS)
        return ty_error("einsum '%.200s': an intermediate result would have %d dims (at most %d)",
                        p->eq, nb + nm + nn, TY_MAX_DIMS);
    int64_t shape[TY_MAX_DIMS];
    int k = 0;
    for (int j = 0; j < nb; j++, k++) lorder[k] = rorder[k] = res[k] = batch[j];
    for (int j = 0; j < nm; j++) lorder[nb + j] = res[nb + j] = ml[j];
    for (int j = 0; j < nc; j++) lorder[nb + nm + j] = rorder[nb + j] = con[j];
    for (int j = 0; j < nn; j++) rorder[nb + nc + j] = res[nb + nm + j] = nr[j];
    /* sizes from the tensors themselves: a "..." dim may still be 1 here */
    for (int j = 0; j < nb + nm + nn; j++) {
        const term *from = j < nb + nm ? L : R;
        for (int d = 0; d < from->t->ndim; d++)
            if (from->labels[d] == res[j]) shape[j] = from->t->shape[d];
    }

    ty_tensor *a = to_3d(L, lorder, (int[]){nb, nm, nc});
    ty_tensor *b = a ? to_3d(R, rorder, (int[]){nb, nc, nn}) : NULL;
    ty_tensor *prod = b ? ty_matmul(a, b) : NULL;
    ty_tensor *r = prod ? ty_reshape(prod, nb + nm + nn, shape) : NULL;
    ty_tensor_release(a);
    ty_tensor_release(b);
    ty_tensor_release(prod);
    if (!r) return -1;
    ty_tensor_release(L->t);
    L->t = r;
    memcpy(L->labels, res, sizeof(int) * (size_t)(nb + nm + nn));
    return 0;
}

/* Parses the equation and builds one labelled view per operand (steps 1
 * and 2). On failure the terms built so far are left for the caller to
 * free. */
static int build(plan *p, const char *eq, ty_tensor *const *ops, ty_dtype cdt) {
    char lhs[MAX_EQUATION];
    const char *rhs = NULL;
    size_t len = 0;
    for (const char *c = eq; *c; c++) {
        if (*c == ' ') continue;
        if (len + 1 >= sizeof lhs) return fail(p, "the equation is too long");
        lhs[len++] = *c;
    }
    lhs[len] = 0;
    char *arrow = strstr(lhs, "->");
    if (arrow) {
        *arrow = 0;
        rhs = arrow + 2;
    }
    if (check_chars(p, lhs, 1) < 0 || (rhs && check_chars(p, rhs, 0) < 0)) return -1;
    int nterms = 1;
    for (const char *c = lhs; *c; c++) nterms += *c == ',';
    if (nterms != p->n)
        return ty_error("einsum '%.200s': the equation has %d operand%s but %d %s given", p->eq,
                        nterms, nterms == 1 ? "" : "s", p->n, p->n == 1 ? "was" : "were");

    /* step 1: raw labels and the widest "..." */
    int(*raw)[TY_MAX_DIMS] = malloc(sizeof *raw * (size_t)p->n);
    int *width = malloc(sizeof(int) * (size_t)p->n);
    if (!raw || !width) {
        free(raw);
        free(width);
        return ty_error("einsum: out of memory");
    }
    p->raw = raw; /* freed by ty_einsum */
    int ell = 0, rc = 0;
    const char *s = lhs;
    for (int i = 0; i < p->n; i++) {
        const char *e = strchr(s, ',');
        if (!e) e = s + strlen(s);
        width[i] = parse_term(p, i, ops[i], s, e, raw[i]);
        if (width[i] < 0) {
            rc = -1;
            break;
        }
        if (width[i] > ell) ell = width[i];
        s = e + 1;
    }
    for (int i = 0; i < p->n && rc == 0; i++) {
        for (int d = 0; d < ops[i]->ndim; d++) {
            if (raw[i][d] < 0) raw[i][d] = NUM_LETTERS + ell - 1 - (-1 - raw[i][d]);
            if ((rc = note_size(p, raw[i][d], ops[i]->shape[d], i + 1)) < 0) break;
        }
    }

    /* the output: explicit after "->", else "..." then the labels seen once */
    if (rc == 0 && rhs) {
        for (const char *c = rhs; *c && rc == 0; c++) {
            int id = letter_id(*c);
            if (*c == '.') {
                if (p->nout + ell > TY_MAX_DIMS) rc = fail(p, "the output has too many dims");
                for (int k = 0; k < ell && rc == 0; k++) p->out[p->nout++] = NUM_LETTERS + k;
                c += 2;
            } else if (!p->first_op[id]) {
                rc = ty_error("einsum '%.200s': output label %c is not in any input", p->eq, *c);
            } else if (p->in_output[id]) {
                rc = ty_error("einsum '%.200s': output label %c appears twice", p->eq, *c);
            } else if (p->nout == TY_MAX_DIMS) {
                rc = fail(p, "the output has too many dims");
            } else {
                p->out[p->nout++] = id;
                p->in_output[id] = 1;
            }
        }
    } else if (rc == 0) {
        int count[MAX_LABELS] = {0};
        for (int i = 0; i < p->n; i++)
            for (int d = 0; d < ops[i]->ndim; d++) count[raw[i][d]]++;
        for (int k = 0; k < ell; k++) p->out[p->nout++] = NUM_LETTERS + k;
        for (int id = 0; id < NUM_LETTERS && rc == 0; id++) {
            if (count[id] != 1) continue;
            if (p->nout == TY_MAX_DIMS)
                rc = fail(p, "the output has too many dims");
            else
                p->out[p->nout++] = id;
        }
    }
    for (int j = 0; j < p->nout; j++) p->in_output[p->out[j]] = 1;

    /* step 2: one dim per distinct label, in the compute dtype */
    for (int i = 0; i < p->n && rc == 0; i++) {
        ty_tensor *c = ty_cast(ops[i], cdt);
        ty_tensor *v = c ? ty_alias(c) : NULL; /* its dims are rewritten below */
        ty_tensor_release(c);
        if (!v) {
            rc = -1;
            break;
        }
        term *tm = &p->terms[i];
        tm->t = v;
        int64_t shape[TY_MAX_DIMS], strides[TY_MAX_DIMS];
        int nd = 0;
        for (int d = 0; d < v->ndim; d++) {
            int id = raw[i][d], at = -1;
            if (id >= NUM_LETTERS && v->shape[d] == 1 && p->size[id] != 1) continue;
            for (int j = 0; j < nd; j++)
                if (tm->labels[j] == id) at = j;
            if (at >= 0) {
                strides[at] += v->strides[d]; /* a repeated label: the diagonal */
                continue;
            }
            tm->labels[nd] = id;
            shape[nd] = v->shape[d];
            strides[nd] = v->strides[d];
            nd++;
        }
        v->ndim = nd;
        memcpy(v->shape, shape, sizeof(int64_t) * (size_t)nd);
        memcpy(v->strides, strides, sizeof(int64_t) * (size_t)nd);
    }
    free(width);
    return rc;
}

static int check_operand(const plan *p, ty_tensor *const *ops, int i) {
    if (!ops[i]) return ty_error("einsum '%.200s': operand %d is NULL", p->eq, i + 1);
    if (ty_check_cpu("einsum", ops[i]) < 0 || ty_check_same_device("einsum", ops[0], ops[i]) < 0)
        return -1;
    if (!ty_dtype_is_float(ops[i]->dtype))
        return ty_error("einsum '%.200s': dtype %s of operand %d is not supported, cast to f32 "
                        "or f64",
                        p->eq, ty_dtype_name(ops[i]->dtype), i + 1);
    return 0;
}

/* Steps 3 to 5 on a built plan; the result is a fresh tensor of dtype dt. */
static ty_tensor *evaluate(plan *p, ty_tensor *const *ops, ty_dtype dt) {
    for (int id = 0; id < MAX_LABELS; id++) p->last_term[id] = -1;
    for (int i = 0; i < p->n; i++) {
        for (int d = 0; d < p->terms[i].t->ndim; d++) {
            p->occurrences[p->terms[i].labels[d]]++;
            p->last_term[p->terms[i].labels[d]] = i;
        }
    }
    /* step 3: a label only one operand has is summed there, before any GEMM */
    int drop[MAX_LABELS], keep[MAX_LABELS];
    for (int id = 0; id < MAX_LABELS; id++) drop[id] = p->occurrences[id] == 1 && !p->in_output[id];
    for (int i = 0; i < p->n; i++)
        if (sum_labels(&p->terms[i], drop) < 0) return NULL;

    /* step 4: left to right */
    term *cur = &p->terms[0];
    for (int i = 1; i < p->n; i++) {
        for (int id = 0; id < MAX_LABELS; id++) {
            keep[id] = p->in_output[id] || p->last_term[id] > i;
            /* left-only labels no one needs any more (none after step 3,
             * but a sum is what they would mean) */
            drop[id] = !keep[id] && !has_label(&p->terms[i], id);
        }
        if (sum_labels(cur, drop) < 0 || contract(p, cur, &p->terms[i], keep) < 0) return NULL;
        ty_tensor_release(p->terms[i].t);
        p->terms[i].t = NULL;
    }

    /* step 5: output order; never hand back a view of an input */
    int perm[TY_MAX_DIMS];
    if (cur->t->ndim != p->nout) {
        fail(p, "internal error: the result has the wrong labels");
        return NULL;
    }
    for (int j = 0; j < p->nout; j++)
        for (int d = 0; d < cur->t->ndim; d++)
            if (cur->labels[d] == p->out[j]) perm[j] = d;
    ty_tensor *pt = ty_permute(cur->t, perm);
    if (!pt) return NULL;
    int shared = 0;
    for (int i = 0; i < p->n; i++) shared |= ops[i]->storage == pt->storage;
    ty_tensor *r = shared ? ty_clone(pt) : ty_contiguous(pt);
    ty_tensor *out = r ? ty_cast(r, dt) : NULL;
    ty_tensor_release(pt);
    ty_tensor_release(r);
    return out;
}

/* ---- backward ----
 *
 * out = einsum(eq, x_1..x_n) is linear in each operand, so the gradient of
 * operand k is itself an einsum: of the output gradient (with the output's
 * labels) and the other operands (with theirs), producing operand k's
 * labels. Three things need care, each handled by an extra constant
 * operand, so that the result is one ty_einsum call (differentiable again):
 *   - a label repeated in operand k ("ii" takes a diagonal): the repeat gets
 *     a fresh label f and an identity matrix over (label, f) puts the
 *     gradient on the diagonal and zeros elsewhere;
 *   - a label only operand k has that is summed out ("ij->i"): nothing else
 *     carries it, so a vector of ones with that label broadcasts the
 *     gradient along it;
 *   - a "..." dim of size 1 that broadcast against a bigger size: it gets a
 *     fresh label of size 1 (a ones(1) operand in operand k's gradient,
 *     summed away in the others'), which sums the gradient over the
 *     broadcast.
 * Labels of the gradient equation are renamed to letters; one needing more
 * than 52 distinct labels fails with an error. */

/* A "..." dim of size 1 that broadcast against a bigger size. */
#define BROADCAST_ONE (-1)

typedef struct {
    int ndim;
    int labels[TY_MAX_DIMS]; /* plan label ids, or BROADCAST_ONE */
    /* Operands past the node's TY_NODE_MAX_SAVED slots are kept here (owned),
     * with the storage version seen at record time. */
    ty_tensor *extra;
    uint64_t version;
} grad_term;

typedef struct {
    int n, nout;
    int out[TY_MAX_DIMS];
    int64_t size[MAX_LABELS];
    grad_term terms[]; /* n */
} grad_ctx;

static void grad_ctx_free(void *vctx) {
    grad_ctx *c = vctx;
    for (int i = 0; i < c->n; i++) ty_tensor_release(c->terms[i].extra);
    free(c);
}

/* The operands of one gradient einsum; labels above MAX_LABELS are fresh. */
typedef struct {
    int m;
    ty_tensor **t;
    bool *owned;
    int (*labels)[TY_MAX_DIMS];
    int *ndim;
} grad_eq;

static void grad_eq_add(grad_eq *e, ty_tensor *t, bool owned, int ndim, const int *labels) {
    e->t[e->m] = t;
    e->owned[e->m] = owned;
    e->ndim[e->m] = ndim;
    memcpy(e->labels[e->m], labels, sizeof(int) * (size_t)ndim);
    e->m++;
}

static bool grad_eq_has(const grad_eq *e, int id) {
    for (int j = 0; j < e->m; j++)
        for (int d = 0; d < e->ndim[j]; d++)
            if (e->labels[j][d] == id) return true;
    return false;
}

/* Writes the labels as letters: ids are numbered in order of first use. */
static int grad_eq_string(const grad_eq *e, int nout, const int *out, char *buf) {
    int map_from[NUM_LETTERS], nmap = 0;
    char *w = buf;
    for (int j = 0; j <= e->m; j++) {
        int nd = j < e->m ? e->ndim[j] : nout;
        const int *labels = j < e->m ? e->labels[j] : out;
        if (j == e->m) {
            *w++ = '-';
            *w++ = '>';
        } else if (j > 0) {
            *w++ = ',';
        }
        for (int d = 0; d < nd; d++) {
            int k = 0;
            while (k < nmap && map_from[k] != labels[d]) k++;
            if (k == nmap) {
                if (nmap == NUM_LETTERS)
                    return ty_error("einsum: the gradient needs more than %d distinct labels",
                                    NUM_LETTERS);
                map_from[nmap++] = labels[d];
            }
            *w++ = label_char(k);
        }
    }
    *w = 0;
    return 0;
}

/* The gradient of operand k, given the output gradient g and the operands
 * (ops[j] for every j != k). */
static ty_tensor *operand_grad(const grad_ctx *c, int k, ty_tensor *g, ty_tensor *const *ops) {
    int cap = c->n + TY_MAX_DIMS + 1;
    grad_eq e = {0};
    e.t = calloc((size_t)cap, sizeof *e.t);
    e.owned = calloc((size_t)cap, sizeof *e.owned);
    e.labels = calloc((size_t)cap, sizeof *e.labels);
    e.ndim = calloc((size_t)cap, sizeof *e.ndim);
    /* every term is at most 16 letters plus a comma, and "->" */
    char *eq = malloc((size_t)cap * (TY_MAX_DIMS + 1) + 3);
    ty_tensor *result = NULL;
    int fresh = MAX_LABELS, labels[TY_MAX_DIMS], out[TY_MAX_DIMS];
    const grad_term *tk = &c->terms[k];
    if (!e.t || !e.owned || !e.labels || !e.ndim || !eq) {
        ty_error("einsum: out of memory");
        goto done;
    }
    grad_eq_add(&e, g, false, c->nout, c->out);
    for (int j = 0; j < c->n; j++) {
        if (j == k) continue;
        const grad_term *tj = &c->terms[j];
        for (int d = 0; d < tj->ndim; d++)
            labels[d] = tj->labels[d] == BROADCAST_ONE ? fresh++ : tj->labels[d];
        grad_eq_add(&e, ops[j], false, tj->ndim, labels);
    }
    /* operand k's labels, with repeats and broadcast dims made fresh */
    for (int d = 0; d < tk->ndim; d++) {
        int id = tk->labels[d];
        bool repeat = false;
        for (int q = 0; q < d; q++) repeat |= tk->labels[q] == id;
        ty_tensor *cst = NULL;
        if (id == BROADCAST_ONE) {
            out[d] = fresh++;
            cst = ty_ones(1, (int64_t[]){1}, g->dtype, g->device);
            if (cst) grad_eq_add(&e, cst, true, 1, &out[d]);
        } else if (repeat) {
            out[d] = fresh++;
            cst = ty_eye(c->size[id], c->size[id], g->dtype);
            if (cst) grad_eq_add(&e, cst, true, 2, (int[]){id, out[d]});
        } else {
            out[d] = id;
            continue;
        }
        if (!cst) goto done;
    }
    /* labels nothing else carries: broadcast along them with ones */
    for (int d = 0; d < tk->ndim; d++) {
        int id = out[d];
        if (id >= MAX_LABELS || grad_eq_has(&e, id)) continue;
        ty_tensor *ones = ty_ones(1, &c->size[id], g->dtype, g->device);
        if (!ones) goto done;
        grad_eq_add(&e, ones, true, 1, &id);
    }
    if (grad_eq_string(&e, tk->ndim, out, eq) == 0) result = ty_einsum(eq, e.m, e.t);
done:
    for (int j = 0; e.owned && j < e.m; j++)
        if (e.owned[j]) ty_tensor_release(e.t[j]);
    free(e.t);
    free(e.owned);
    free(e.labels);
    free(e.ndim);
    free(eq);
    return result;
}

/* Operand j as saved at record time. */
static ty_tensor *load_operand(ty_node *n, const grad_ctx *c, int j) {
    if (j < TY_NODE_MAX_SAVED) return ty_saved(n, j);
    const grad_term *t = &c->terms[j];
    if (!t->extra || t->extra->storage->version != t->version) {
        ty_error("backward: operand %d saved by einsum was modified by an in-place operation",
                 j + 1);
        return NULL;
    }
    return ty_tensor_retain(t->extra);
}

/* Whether operand j is needed: some other operand wants a gradient. */
static bool operand_needed(const ty_node *n, int j) {
    for (int k = 0; k < n->n_inputs; k++)
        if (k != j && ty_node_needs_grad(n, k)) return true;
    return false;
}

/* ctx: a grad_ctx. saved: operand j in slot j (j < TY_NODE_MAX_SAVED, the
 * others in the ctx), when another operand needs a gradient. */
static int einsum_backward(ty_node *n, ty_tensor *const *g, ty_tensor **gi) {
    const grad_ctx *c = n->ctx;
    ty_tensor **ops = calloc((size_t)c->n, sizeof *ops);
    if (!ops) return ty_error("einsum: out of memory");
    int rc = 0;
    for (int j = 0; j < c->n && rc == 0; j++)
        if (operand_needed(n, j) && !(ops[j] = load_operand(n, c, j))) rc = -1;
    for (int k = 0; k < c->n && rc == 0; k++)
        if (ty_node_needs_grad(n, k) && !(gi[k] = operand_grad(c, k, g[0], ops))) rc = -1;
    for (int j = 0; j < c->n; j++) ty_tensor_release(ops[j]);
    free(ops);
    return rc;
}

/* Records the node for a finished einsum (p built, out computed). */
static void record_einsum(const plan *p, ty_tensor *const *operands, ty_tensor *out) {
    if (!ty_any_requires_grad(p->n, operands)) return;
    grad_ctx *c = calloc(1, sizeof *c + sizeof(grad_term) * (size_t)p->n);
    if (!c) {
        ty_error("einsum: out of memory while recording for autograd");
        out->requires_grad = true; /* as ty_record does: a later backward fails */
        return;
    }
    c->n = p->n;
    c->nout = p->nout;
    memcpy(c->out, p->out, sizeof c->out);
    memcpy(c->size, p->size, sizeof c->size);
    for (int i = 0; i < p->n; i++) {
        grad_term *t = &c->terms[i];
        t->ndim = operands[i]->ndim;
        for (int d = 0; d < t->ndim; d++) {
            int id = p->raw[i][d];
            bool broadcast = id >= NUM_LETTERS && operands[i]->shape[d] == 1 && p->size[id] != 1;
            t->labels[d] = broadcast ? BROADCAST_ONE : id;
        }
    }
    ty_node *n = ty_record("einsum", einsum_backward, p->n, operands, 1, &out);
    if (!n) {
        free(c);
        return;
    }
    n->ctx = c;
    n->ctx_free = grad_ctx_free;
    for (int j = 0; j < p->n; j++) {
        if (!operand_needed(n, j)) continue;
        if (j < TY_NODE_MAX_SAVED) {
            ty_save(n, j, operands[j]);
        } else {
            c->terms[j].extra = ty_tensor_retain(operands[j]);
            c->terms[j].version = operands[j]->storage->version;
        }
    }
}

ty_tensor *ty_einsum(const char *equation, int n, ty_tensor *const *operands) {
    plan *p = calloc(1, sizeof *p);
    if (!p) {
        ty_error("einsum: out of memory");
        return NULL;
    }
    p->eq = equation ? equation : "";
    p->n = n;
    ty_tensor *out = NULL;
    ty_dtype dt = TY_F32;
    /* the lowering makes views, casts and products of the operands: none of
     * them may record; the node for the whole einsum is recorded below */
    bool prev = ty_set_grad_enabled(false);
    if (!equation || n < 1 || !operands) {
        fail(p, "needs an equation and at least one operand");
        goto done;
    }
    for (int i = 0; i < n; i++) {
        if (check_operand(p, operands, i) < 0) goto done;
        dt = i ? ty_promote(dt, operands[i]->dtype) : operands[i]->dtype;
    }
    p->terms = calloc((size_t)n, sizeof(term));
    if (!p->terms) {
        ty_error("einsum: out of memory");
        goto done;
    }
    if (build(p, equation, operands, ty_compute_dtype(dt)) == 0) out = evaluate(p, operands, dt);
done:
    ty_set_grad_enabled(prev);
    if (out) record_einsum(p, operands, out);
    for (int i = 0; p->terms && i < n; i++) ty_tensor_release(p->terms[i].t);
    free(p->terms);
    free(p->raw);
    free(p);
    return out;
}
