/* Indexing, slicing and assignment with Lua's conventions, and the view
 * methods (select, narrow, reshape, transpose, ...).
 *
 *   x[i]             select index i of dim 1 (1-based; -1 is the last)
 *   x[{i, {a, b}}]   i of dim 1, then a..b (inclusive) of dim 2
 *   x[{{}, 2}]       every element of dim 1, index 2 of dim 2
 *   x[{{a}}]         a..a, keeping the dim;  {a, b, step} steps
 *   x[mask]          the elements where a bool (or u8) tensor is true, 1-D
 *   x[idx]           the entries of dim 1 listed by an i64 tensor (1-based);
 *                    inside a table key, along that entry's dim
 * Dims not mentioned are kept whole. Everything but the tensor keys gives
 * a view sharing memory with x. Assignment x[key] = v writes a number or a
 * tensor (broadcast to the indexed shape) into the same elements. */
#include <string.h>

#include "l_util.h"

enum { STEP_SELECT, STEP_SLICE, STEP_INDEX };

typedef struct {
    int kind;
    int64_t a, b, step; /* 0-based: select a; slice [a, b) by step */
    ty_tensor *idx;     /* STEP_INDEX: 0-based i64 indices, owned by a stack slot */
} index_step;

typedef struct {
    int n;
    index_step s[TY_MAX_DIMS];
} index_plan;

static int64_t range_bound(lua_State *L, int entry, int k, const char *what) {
    lua_rawgeti(L, entry, k);
    int isnum;
    lua_Integer v = lua_tointegerx(L, -1, &isnum);
    if (!isnum)
        tyl_errorf(L, "index: the %s of a range must be an integer, got %s", what,
                   lua_type(L, -1) == LUA_TNUMBER ? lua_tostring(L, -1) : luaL_typename(L, -1));
    lua_pop(L, 1);
    return v;
}

/* A range table {}, {a}, {a, b} or {a, b, step} for dim d0 of size n. */
static void parse_range(lua_State *L, int entry, int d0, int64_t n, index_step *st) {
    lua_Integer len = luaL_len(L, entry);
    st->kind = STEP_SLICE;
    st->step = 1;
    if (len == 0) {
        st->a = 0;
        st->b = n;
        return;
    }
    if (len > 3)
        tyl_errorf(L, "index: a range is {first, last [, step]}, got %d entries", (int)len);
    int64_t a = range_bound(L, entry, 1, "start");
    int64_t b = len >= 2 ? range_bound(L, entry, 2, "end") : a;
    if (len == 3) {
        st->step = range_bound(L, entry, 3, "step");
        if (st->step < 1)
            tyl_errorf(L, "index: the step of a range must be positive, got %lld",
                       (long long)st->step);
    }
    int64_t a0 = a > 0 ? a - 1 : n + a, b0 = b > 0 ? b - 1 : n + b;
    if (a == 0 || b == 0 || a0 < 0 || a0 > n || b0 >= n || b0 < a0 - 1)
        tyl_errorf(L, "index: range {%lld, %lld} is out of range for dim %d of size %lld%s",
                   (long long)a, (long long)b, d0 + 1, (long long)n,
                   a == 0 || b == 0 ? " (indices are 1-based)" : "");
    st->a = a0;
    st->b = b0 + 1;
}

/* An index tensor entry for dim d0 of size n: converted to 0-based and kept
 * alive by a userdata left on the stack. */
static void parse_index_tensor(lua_State *L, ty_tensor *idx, int d0, int64_t n, index_step *st) {
    if (idx->ndim > 1)
        tyl_errorf(L, "index: an index tensor along a dim must be 1-D (or 0-d), got %d dims",
                   idx->ndim);
    tyl_box *keep = tyl_slot(L);
    keep->t = tyl_index_to_c(L, idx, n, "index", "index", false, 0);
    (void)d0;
    st->kind = STEP_INDEX;
    st->idx = keep->t;
}

/* Builds the plan for key (at stack index key) on x, checking everything. */
static void parse_key(lua_State *L, ty_tensor *x, int key, index_plan *p) {
    p->n = 0;
    int t = lua_type(L, key);
    if (t == LUA_TNUMBER) {
        if (x->ndim == 0) tyl_errorf(L, "index: a 0-d tensor cannot be indexed");
        p->s[0].kind = STEP_SELECT;
        p->s[0].a = tyl_index_value(L, tyl_check_int(L, key, "index"), x->shape[0], 0, "index");
        p->n = 1;
        return;
    }
    if (t == LUA_TTABLE) {
        lua_Integer len = luaL_len(L, key);
        if (len > x->ndim)
            tyl_errorf(L, "index: %d indices for a tensor with %d dims", (int)len, x->ndim);
        int d = 0; /* dim of x the entry refers to */
        for (lua_Integer k = 1; k <= len; k++, d++) {
            int et = lua_rawgeti(L, key, k);
            int entry = lua_gettop(L);
            index_step *st = &p->s[p->n++];
            if (et == LUA_TNUMBER) {
                int isnum;
                lua_Integer i = lua_tointegerx(L, entry, &isnum);
                if (!isnum)
                    tyl_errorf(L, "index: index %s is not an integer", lua_tostring(L, entry));
                st->kind = STEP_SELECT;
                st->a = tyl_index_value(L, i, x->shape[d], d, "index");
                lua_pop(L, 1);
            } else if (et == LUA_TTABLE && !tyl_is_tensor(L, entry)) {
                parse_range(L, entry, d, x->shape[d], st);
                lua_pop(L, 1);
            } else if (tyl_to_tensor(L, entry)) {
                ty_tensor *idx = tyl_to_tensor(L, entry);
                parse_index_tensor(L, idx, d, x->shape[d], st);
                lua_remove(L, entry); /* keeps the converted index's slot */
            } else {
                tyl_errorf(L,
                           "index: entry %d must be an integer, a range table or an index "
                           "tensor, got %s",
                           (int)k, luaL_typename(L, entry));
            }
        }
        return;
    }
    tyl_errorf(L, "index: a tensor is indexed by an integer, a table or a tensor, got %s",
               lua_typename(L, t));
}

/* Runs the plan: a new reference, or NULL with a libtycho error. No Lua
 * call happens in here, so nothing can be lost to a longjmp. */
static ty_tensor *run_plan(ty_tensor *x, const index_plan *p) {
    ty_tensor *cur = ty_tensor_retain(x);
    int d = 0;
    for (int k = 0; k < p->n && cur; k++) {
        const index_step *st = &p->s[k];
        ty_tensor *next = NULL;
        if (st->kind == STEP_SELECT) {
            next = ty_select(cur, d, st->a);
        } else if (st->kind == STEP_SLICE) {
            next = ty_slice(cur, d, st->a, st->b, st->step);
            d++;
        } else {
            next = ty_index_select(cur, d, st->idx);
            d++;
        }
        ty_tensor_release(cur);
        cur = next;
    }
    return cur;
}

static bool is_mask(const ty_tensor *t) {
    return t->dtype == TY_BOOL || t->dtype == TY_U8;
}

/* x[key] (the metatable's __index for non-string keys). */
int tyl_index_get(lua_State *L) {
    ty_tensor *x = tyl_check_tensor(L, 1);
    ty_tensor *k = tyl_to_tensor(L, 2);
    if (k && is_mask(k)) {
        tyl_box *slot = tyl_slot(L);
        return tyl_fill(L, slot, ty_masked_select(x, k), "index");
    }
    index_plan p;
    if (k) {
        if (x->ndim == 0) tyl_errorf(L, "index: a 0-d tensor cannot be indexed");
        parse_index_tensor(L, k, 0, x->shape[0], &p.s[0]);
        p.n = 1;
    } else {
        parse_key(L, x, 2, &p);
    }
    tyl_box *slot = tyl_slot(L);
    return tyl_fill_view(L, slot, run_plan(x, &p), "index");
}

/* Writes value (stack index 3: number or tensor) into the view v. */
static int write_into(lua_State *L, ty_tensor *v, int value) {
    ty_tensor *src = tyl_to_tensor(L, value);
    int rc = src ? ty_copy_(v, src) : ty_fill_(v, tyl_check_value(L, value));
    return rc;
}

/* x[idx] = value for an i64 index tensor along dim 1: each listed entry
 * gets the matching entry of value broadcast to (#idx, rest of x). */
static int assign_index(lua_State *L, ty_tensor *x, ty_tensor *idx0, int value) {
    ty_tensor *src = tyl_to_tensor(L, value);
    double v = src ? 0 : tyl_check_value(L, value);
    int64_t n = ty_numel(idx0);
    ty_tensor *flat = ty_reshape(idx0, 1, &n);
    ty_tensor *vexp = NULL;
    int rc = flat ? 0 : -1;
    if (rc == 0 && src) {
        int64_t shape[TY_MAX_DIMS];
        shape[0] = n;
        for (int d = 1; d < x->ndim; d++) shape[d] = x->shape[d];
        vexp = ty_expand(src, x->ndim, shape);
        if (!vexp) rc = -1;
    }
    const int64_t *iv = flat ? ty_data(flat) : NULL;
    for (int64_t i = 0; i < n && rc == 0; i++) {
        ty_tensor *row = ty_select(x, 0, iv[i]);
        ty_tensor *part = row && vexp ? ty_select(vexp, 0, i) : NULL;
        if (!row || (vexp && !part))
            rc = -1;
        else
            rc = vexp ? ty_copy_(row, part) : ty_fill_(row, v);
        ty_tensor_release(row);
        ty_tensor_release(part);
    }
    ty_tensor_release(flat);
    ty_tensor_release(vexp);
    return rc;
}

/* x[key] = value (the metatable's __newindex for non-string keys). */
int tyl_index_set(lua_State *L) {
    ty_tensor *x = tyl_check_tensor(L, 1);
    ty_tensor *k = tyl_to_tensor(L, 2);
    if (!lua_isnumber(L, 3) && !lua_isboolean(L, 3) && !tyl_to_tensor(L, 3))
        return tyl_errorf(L,
                          "index: cannot assign a %s to tensor elements (expected a number or "
                          "a tensor)",
                          luaL_typename(L, 3));
    if (k && is_mask(k)) {
        ty_tensor *src = tyl_to_tensor(L, 3);
        int rc;
        if (src) {
            /* x = where(mask, value, x), written back into x */
            ty_tensor *w = ty_where(k, src, x);
            rc = w ? ty_copy_(x, w) : -1;
            ty_tensor_release(w);
        } else {
            rc = ty_masked_fill_(x, k, tyl_check_value(L, 3));
        }
        if (rc < 0) return tyl_raise(L, "index", NULL);
        return 0;
    }
    if (k) {
        if (x->ndim == 0) return tyl_errorf(L, "index: a 0-d tensor cannot be indexed");
        if (k->ndim > 1) return tyl_errorf(L, "index: an index tensor must be 1-D (or 0-d)");
        tyl_box *keep = tyl_slot(L);
        keep->t = tyl_index_to_c(L, k, x->shape[0], "index", "index", false, 0);
        if (assign_index(L, x, keep->t, 3) < 0) return tyl_raise(L, "index", NULL);
        return 0;
    }
    index_plan p;
    parse_key(L, x, 2, &p);
    for (int i = 0; i < p.n; i++)
        if (p.s[i].kind == STEP_INDEX)
            return tyl_errorf(L, "index: assignment through an index tensor inside a table key is "
                                 "not supported (index with the tensor alone, or use scatter_)");
    ty_tensor *v = run_plan(x, &p);
    int rc = v ? write_into(L, v, 3) : -1;
    ty_tensor_release(v);
    if (rc < 0) return tyl_raise(L, "index", NULL);
    return 0;
}

/* ---- view methods ---- */

static int l_select(lua_State *L) {
    ty_tensor *x = tyl_check_tensor(L, 1);
    if (x->ndim == 0) return tyl_errorf(L, "select: a 0-d tensor cannot be indexed");
    int d = tyl_check_dim(L, 2, x->ndim, "select");
    int64_t i = tyl_index_value(L, tyl_check_int(L, 3, "select"), x->shape[d], d, "select");
    tyl_box *slot = tyl_slot(L);
    return tyl_fill_view(L, slot, ty_select(x, d, i), "select");
}

static int l_narrow(lua_State *L) {
    ty_tensor *x = tyl_check_tensor(L, 1);
    if (x->ndim == 0) return tyl_errorf(L, "narrow: a 0-d tensor cannot be narrowed");
    int d = tyl_check_dim(L, 2, x->ndim, "narrow");
    int64_t start = tyl_check_int(L, 3, "narrow"), len = tyl_check_int(L, 4, "narrow");
    int64_t n = x->shape[d];
    int64_t s0 = start > 0 ? start - 1 : n + start;
    if (start == 0 || s0 < 0 || s0 > n || len < 0 || len > n - s0)
        return tyl_errorf(L,
                          "narrow: start %lld and length %lld are out of range for dim %d of "
                          "size %lld",
                          (long long)start, (long long)len, d + 1, (long long)n);
    tyl_box *slot = tyl_slot(L);
    return tyl_fill_view(L, slot, ty_narrow(x, d, s0, len), "narrow");
}

/* Sizes for reshape/view/expand: varargs or a table; -1 allowed. */
static int sizes_arg(lua_State *L, int first, int64_t *shape, const char *fn) {
    if (lua_type(L, first) == LUA_TTABLE) return tyl_shape_table(L, first, shape, fn);
    int nd = 0;
    for (int arg = first; !lua_isnone(L, arg); arg++) {
        if (nd == TY_MAX_DIMS) return tyl_errorf(L, "%s: at most %d dims", fn, TY_MAX_DIMS);
        shape[nd++] = tyl_check_int(L, arg, fn);
    }
    return nd;
}

static int l_reshape(lua_State *L) {
    ty_tensor *x = tyl_check_tensor(L, 1);
    int64_t shape[TY_MAX_DIMS];
    int nd = sizes_arg(L, 2, shape, "reshape");
    tyl_box *slot = tyl_slot(L);
    return tyl_fill_view(L, slot, ty_reshape(x, nd, shape), "reshape");
}

static int l_view(lua_State *L) {
    ty_tensor *x = tyl_check_tensor(L, 1);
    int64_t shape[TY_MAX_DIMS];
    int nd = sizes_arg(L, 2, shape, "view");
    tyl_box *slot = tyl_slot(L);
    return tyl_fill_view(L, slot, ty_view(x, nd, shape), "view");
}

static int l_expand(lua_State *L) {
    ty_tensor *x = tyl_check_tensor(L, 1);
    int64_t shape[TY_MAX_DIMS];
    int nd = sizes_arg(L, 2, shape, "expand");
    tyl_box *slot = tyl_slot(L);
    return tyl_fill_view(L, slot, ty_expand(x, nd, shape), "expand");
}

#define AS_OTHER(name, f)                                                                          \
    static int l_##name(lua_State *L) {                                                            \
        ty_tensor *x = tyl_check_tensor(L, 1), *o = tyl_check_tensor(L, 2);                        \
        tyl_box *slot = tyl_slot(L);                                                               \
        return tyl_fill_view(L, slot, f(x, o->ndim, o->shape), #name);                             \
    }
AS_OTHER(reshape_as, ty_reshape)
AS_OTHER(view_as, ty_view)
AS_OTHER(expand_as, ty_expand)

static int l_transpose(lua_State *L) {
    ty_tensor *x = tyl_check_tensor(L, 1);
    int d0 = tyl_check_dim(L, 2, x->ndim, "transpose");
    int d1 = tyl_check_dim(L, 3, x->ndim, "transpose");
    tyl_box *slot = tyl_slot(L);
    return tyl_fill_view(L, slot, ty_transpose(x, d0, d1), "transpose");
}

static int l_t(lua_State *L) {
    ty_tensor *x = tyl_check_tensor(L, 1);
    if (x->ndim > 2)
        return tyl_errorf(L, "t: expects a tensor with at most 2 dims, got %d (use transpose)",
                          x->ndim);
    tyl_box *slot = tyl_slot(L);
    if (x->ndim < 2) return tyl_fill_view(L, slot, ty_alias(x), "t");
    return tyl_fill_view(L, slot, ty_transpose(x, 0, 1), "t");
}

static int l_permute(lua_State *L) {
    ty_tensor *x = tyl_check_tensor(L, 1);
    int64_t p[TY_MAX_DIMS];
    int n = sizes_arg(L, 2, p, "permute");
    if (n != x->ndim)
        return tyl_errorf(L, "permute: %d dims given for a tensor with %d dims", n, x->ndim);
    int perm[TY_MAX_DIMS];
    for (int i = 0; i < n; i++) {
        perm[i] = tyl_dim_value(L, p[i], x->ndim, "permute");
        for (int j = 0; j < i; j++)
            if (perm[j] == perm[i])
                return tyl_errorf(L, "permute: dim %lld is given twice", (long long)p[i]);
    }
    tyl_box *slot = tyl_slot(L);
    return tyl_fill_view(L, slot, ty_permute(x, perm), "permute");
}

static int l_unsqueeze(lua_State *L) {
    ty_tensor *x = tyl_check_tensor(L, 1);
    int d = tyl_check_dim_insert(L, 2, x->ndim, "unsqueeze");
    tyl_box *slot = tyl_slot(L);
    return tyl_fill_view(L, slot, ty_unsqueeze(x, d), "unsqueeze");
}

static int l_squeeze(lua_State *L) {
    ty_tensor *x = tyl_check_tensor(L, 1);
    if (lua_isnoneornil(L, 2)) {
        tyl_box *slot = tyl_slot(L);
        return tyl_fill_view(L, slot, ty_squeeze(x), "squeeze");
    }
    int d = tyl_check_dim(L, 2, x->ndim, "squeeze");
    tyl_box *slot = tyl_slot(L);
    if (x->ndim == 0) return tyl_fill_view(L, slot, ty_alias(x), "squeeze");
    return tyl_fill_view(L, slot, ty_squeeze_dim(x, d), "squeeze");
}

static int l_flatten(lua_State *L) {
    ty_tensor *x = tyl_check_tensor(L, 1);
    int s = lua_isnoneornil(L, 2) ? 0 : tyl_check_dim(L, 2, x->ndim, "flatten");
    int e = lua_isnoneornil(L, 3) ? (x->ndim ? x->ndim - 1 : 0)
                                  : tyl_check_dim(L, 3, x->ndim, "flatten");
    if (x->ndim && s > e)
        return tyl_errorf(L, "flatten: start dim %d comes after end dim %d", s + 1, e + 1);
    tyl_box *slot = tyl_slot(L);
    return tyl_fill_view(L, slot, ty_flatten(x, s, e), "flatten");
}

static int l_unfold(lua_State *L) {
    ty_tensor *x = tyl_check_tensor(L, 1);
    int d = tyl_check_dim(L, 2, x->ndim, "unfold");
    int64_t size = tyl_check_int(L, 3, "unfold"), step = tyl_check_int(L, 4, "unfold");
    int64_t n = x->ndim ? x->shape[d] : 1;
    if (size < 0 || size > n)
        return tyl_errorf(L, "unfold: window size %lld does not fit dim %d of size %lld",
                          (long long)size, d + 1, (long long)n);
    tyl_box *slot = tyl_slot(L);
    return tyl_fill_view(L, slot, ty_unfold(x, d, size, step), "unfold");
}

static int l_diagonal(lua_State *L) {
    ty_tensor *x = tyl_check_tensor(L, 1);
    int64_t off = tyl_opt_int(L, 2, 0, "diagonal");
    if (x->ndim < 2) return tyl_errorf(L, "diagonal: needs at least 2 dims, got %d", x->ndim);
    int d0 = lua_isnoneornil(L, 3) ? 0 : tyl_check_dim(L, 3, x->ndim, "diagonal");
    int d1 = lua_isnoneornil(L, 4) ? 1 : tyl_check_dim(L, 4, x->ndim, "diagonal");
    if (d0 == d1) return tyl_errorf(L, "diagonal: the two dims must differ, both are %d", d0 + 1);
    tyl_box *slot = tyl_slot(L);
    return tyl_fill_view(L, slot, ty_diagonal(x, off, d0, d1), "diagonal");
}

static int l_contiguous(lua_State *L) {
    ty_tensor *x = tyl_check_tensor(L, 1);
    tyl_box *slot = tyl_slot(L);
    return tyl_fill_view(L, slot, ty_contiguous(x), "contiguous");
}

static int l_clone(lua_State *L) {
    ty_tensor *x = tyl_check_tensor(L, 1);
    tyl_box *slot = tyl_slot(L);
    return tyl_fill(L, slot, ty_clone(x), "clone");
}

static const luaL_Reg fns[] = {
    {"select", l_select},
    {"narrow", l_narrow},
    {"reshape", l_reshape},
    {"view", l_view},
    {"expand", l_expand},
    {"reshape_as", l_reshape_as},
    {"view_as", l_view_as},
    {"expand_as", l_expand_as},
    {"transpose", l_transpose},
    {"t", l_t},
    {"permute", l_permute},
    {"unsqueeze", l_unsqueeze},
    {"squeeze", l_squeeze},
    {"flatten", l_flatten},
    {"unfold", l_unfold},
    {"diagonal", l_diagonal},
    {"contiguous", l_contiguous},
    {"clone", l_clone},
    {NULL, NULL},
};

void tyl_open_index(lua_State *L) {
    tyl_reg_both(L, fns);
}
