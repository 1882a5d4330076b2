/* Joining, splitting and rearranging (cat, stack, split, chunk, repeat,
 * flip, roll, pad) and index-driven ops (gather, scatter, index_select,
 * index_add, masked_fill, masked_select, nonzero, one_hot).
 *
 * Index tensors are i64 and 1-based in Lua: the binding checks every value
 * against its dim (so the error names the Lua value and the 1-based dim)
 * and hands C a 0-based copy. */
#include <stdint.h>

#include "l_util.h"

/* Borrowed tensors of the table at arg, in an array owned by a userdata
 * pushed on the stack (the table keeps the tensors alive). */
static ty_tensor **tensor_list(lua_State *L, int arg, int *n, const char *fn) {
    luaL_checktype(L, arg, LUA_TTABLE);
    lua_Integer len = luaL_len(L, arg);
    if (len > INT32_MAX) tyl_errorf(L, "%s: too many tensors", fn);
    ty_tensor **ts = lua_newuserdatauv(L, sizeof(ty_tensor *) * (size_t)(len ? len : 1), 0);
    for (lua_Integer i = 1; i <= len; i++) {
        lua_rawgeti(L, arg, i);
        ts[i - 1] = tyl_to_tensor(L, -1);
        if (!ts[i - 1])
            tyl_errorf(L, "%s: element %d of the list is a %s, not a tensor", fn, (int)i,
                       luaL_typename(L, -1));
        lua_pop(L, 1);
    }
    *n = (int)len;
    return ts;
}

/* cat({a, b, ...}, dim = 1) */
static int l_cat(lua_State *L) {
    lua_settop(L, 2); /* the list's array is pushed above the arguments */
    int n;
    ty_tensor **ts = tensor_list(L, 1, &n, "cat");
    if (n == 0) return tyl_errorf(L, "cat: the list of tensors is empty");
    /* the shapes are checked here so that the messages speak Lua's 1-based
     * dims and list positions; cat skips 1-D tensors of shape (0) */
    int ref = -1;
    for (int i = 0; i < n && ref < 0; i++)
        if (!(ts[i]->ndim == 1 && ts[i]->shape[0] == 0)) ref = i;
    if (ref < 0) ref = 0;
    int ndim = ts[ref]->ndim;
    if (ndim == 0)
        return tyl_errorf(L, "cat: tensor %d is 0-d and cannot be concatenated", ref + 1);
    int d = lua_isnoneornil(L, 2) ? 0 : tyl_check_dim(L, 2, ndim, "cat");
    for (int i = 0; i < n; i++) {
        const ty_tensor *t = ts[i], *r = ts[ref];
        if (t->ndim == 1 && t->shape[0] == 0) continue;
        char a[128], b[128];
        if (t->ndim != ndim)
            return tyl_errorf(
                L, "cat: tensor %d has %d dims but tensor %d has %d (shapes %s and %s)", i + 1,
                t->ndim, ref + 1, ndim, ty_shape_str(t, a, sizeof a), ty_shape_str(r, b, sizeof b));
        for (int k = 0; k < ndim; k++)
            if (k != d && t->shape[k] != r->shape[k])
                return tyl_errorf(
                    L,
                    "cat: tensor %d has size %lld at dim %d, expected %lld (shapes %s "
                    "and %s; only dim %d may differ)",
                    i + 1, (long long)t->shape[k], k + 1, (long long)r->shape[k],
                    ty_shape_str(t, a, sizeof a), ty_shape_str(r, b, sizeof b), d + 1);
    }
    tyl_box *slot = tyl_slot(L);
    return tyl_fill(L, slot, ty_cat(n, ts, d), "cat");
}

/* stack({a, b, ...}, dim = 1) */
static int l_stack(lua_State *L) {
    lua_settop(L, 2);
    int n;
    ty_tensor **ts = tensor_list(L, 1, &n, "stack");
    if (n == 0) return tyl_errorf(L, "stack: the list of tensors is empty");
    int d = lua_isnoneornil(L, 2) ? 0 : tyl_check_dim_insert(L, 2, ts[0]->ndim, "stack");
    for (int i = 1; i < n; i++) {
        bool same = ts[i]->ndim == ts[0]->ndim;
        for (int k = 0; same && k < ts[0]->ndim; k++) same = ts[i]->shape[k] == ts[0]->shape[k];
        char a[128], b[128];
        if (!same)
            return tyl_errorf(L, "stack: tensor %d has shape %s, expected %s like tensor 1", i + 1,
                              ty_shape_str(ts[i], a, sizeof a), ty_shape_str(ts[0], b, sizeof b));
    }
    tyl_box *slot = tyl_slot(L);
    return tyl_fill(L, slot, ty_stack(n, ts, d), "stack");
}

/* Pushes a table of the n views of arr (taking the references) and frees
 * arr; NULL arr raises fn's error. */
static int push_pieces(lua_State *L, ty_tensor **arr, int64_t n, const char *fn) {
    if (!arr) return tyl_raise(L, fn, NULL);
    /* every piece goes into a userdata before anything else can fail */
    int base = lua_gettop(L);
    if (!lua_checkstack(L, (int)n + 2)) {
        ty_tensor_array_free(arr, n);
        return tyl_errorf(L, "%s: too many pieces (%lld)", fn, (long long)n);
    }
    for (int64_t i = 0; i < n; i++) {
        tyl_box *b = tyl_slot(L);
        b->t = arr[i];
        arr[i] = NULL;
    }
    ty_tensor_array_free(arr, n);
    lua_createtable(L, (int)n, 0);
    for (int64_t i = 0; i < n; i++) {
        lua_pushvalue(L, base + 1 + (int)i);
        lua_rawseti(L, -2, i + 1);
    }
    return 1;
}

/* split(x, size, dim = 1) or split(x, {sizes...}, dim = 1) -> table of views */
static int l_split(lua_State *L) {
    ty_tensor *x = tyl_check_tensor(L, 1);
    int d = lua_isnoneornil(L, 3) ? 0 : tyl_check_dim(L, 3, x->ndim, "split");
    int64_t n = 0;
    if (lua_type(L, 2) == LUA_TTABLE) {
        lua_Integer len = luaL_len(L, 2);
        if (len > 1 << 20) return tyl_errorf(L, "split: too many sizes");
        int64_t *sizes = lua_newuserdatauv(L, sizeof(int64_t) * (size_t)(len ? len : 1), 0);
        for (lua_Integer i = 1; i <= len; i++) {
            lua_rawgeti(L, 2, i);
            int isnum;
            sizes[i - 1] = lua_tointegerx(L, -1, &isnum);
            if (!isnum) return tyl_errorf(L, "split: size %d is not an integer", (int)i);
            lua_pop(L, 1);
        }
        int64_t total = 0;
        for (lua_Integer i = 0; i < len; i++) total += sizes[i];
        if (x->ndim && total != x->shape[d])
            return tyl_errorf(L, "split: the sizes sum to %lld but dim %d has size %lld",
                              (long long)total, d + 1, (long long)x->shape[d]);
        ty_tensor **arr = ty_split_sizes(x, (int)len, sizes, d, &n);
        return push_pieces(L, arr, n, "split");
    }
    int64_t size = tyl_check_int(L, 2, "split");
    ty_tensor **arr = ty_split(x, size, d, &n);
    return push_pieces(L, arr, n, "split");
}

/* chunk(x, chunks, dim = 1) -> table of views */
static int l_chunk(lua_State *L) {
    ty_tensor *x = tyl_check_tensor(L, 1);
    int64_t chunks = tyl_check_int(L, 2, "chunk");
    int d = lua_isnoneornil(L, 3) ? 0 : tyl_check_dim(L, 3, x->ndim, "chunk");
    int64_t n = 0;
    ty_tensor **arr = ty_chunk(x, chunks, d, &n);
    return push_pieces(L, arr, n, "chunk");
}

/* repeat(x, 2, 3) or repeat(x, {2, 3}) */
static int l_repeat(lua_State *L) {
    ty_tensor *x = tyl_check_tensor(L, 1);
    int64_t reps[TY_MAX_DIMS];
    int nd;
    if (lua_type(L, 2) == LUA_TTABLE) {
        nd = tyl_shape_table(L, 2, reps, "repeat");
    } else {
        nd = 0;
        for (int arg = 2; !lua_isnone(L, arg); arg++) {
            if (nd == TY_MAX_DIMS) return tyl_errorf(L, "repeat: at most %d dims", TY_MAX_DIMS);
            reps[nd++] = tyl_check_int(L, arg, "repeat");
        }
    }
    tyl_box *slot = tyl_slot(L);
    return tyl_fill(L, slot, ty_repeat(x, nd, reps), "repeat");
}

/* flip(x, dims) with one dim or a table of dims */
static int l_flip(lua_State *L) {
    ty_tensor *x = tyl_check_tensor(L, 1);
    int dims[TY_MAX_DIMS], nd;
    if (lua_isnoneornil(L, 2) || !tyl_opt_dims(L, 2, x->ndim, dims, &nd, "flip"))
        return luaL_typeerror(L, 2, "dim or table of dims");
    tyl_box *slot = tyl_slot(L);
    return tyl_fill(L, slot, ty_flip(x, nd, dims), "flip");
}

/* roll(x, shift [, dim]) */
static int l_roll(lua_State *L) {
    ty_tensor *x = tyl_check_tensor(L, 1);
    int64_t shift = tyl_check_int(L, 2, "roll");
    if (lua_isnoneornil(L, 3)) {
        tyl_box *slot = tyl_slot(L);
        return tyl_fill(L, slot, ty_roll_flat(x, shift), "roll");
    }
    int d = tyl_check_dim(L, 3, x->ndim, "roll");
    tyl_box *slot = tyl_slot(L);
    return tyl_fill(L, slot, ty_roll(x, shift, d), "roll");
}

/* pad(x, {left, right, top, bottom, ...}, value = 0): F.pad's order, the
 * last dim first. */
static int l_pad(lua_State *L) {
    ty_tensor *x = tyl_check_tensor(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    int64_t pad[2 * TY_MAX_DIMS];
    lua_Integer n = luaL_len(L, 2);
    if (n > 2 * TY_MAX_DIMS) return tyl_errorf(L, "pad: too many pad sizes (%d)", (int)n);
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, 2, i);
        int isnum;
        pad[i - 1] = lua_tointegerx(L, -1, &isnum);
        if (!isnum) return tyl_errorf(L, "pad: pad size %d is not an integer", (int)i);
        lua_pop(L, 1);
    }
    double value = luaL_optnumber(L, 3, 0.0);
    tyl_box *slot = tyl_slot(L);
    return tyl_fill(L, slot, ty_pad_constant(x, (int)n, pad, value), "pad");
}

/* ---- index-driven ops ---- */

/* The 0-based copy of the index tensor at arg for dim d of x, owned by a
 * userdata pushed on the stack. */
static ty_tensor *index_arg(lua_State *L, int arg, ty_tensor *x, int d, const char *fn) {
    ty_tensor *idx = tyl_check_tensor(L, arg);
    tyl_box *keep = tyl_slot(L);
    keep->t = tyl_index_to_c(L, idx, x->ndim ? x->shape[d] : 1, fn, "index", false, 0);
    return keep->t;
}

static int l_gather(lua_State *L) {
    ty_tensor *x = tyl_check_tensor(L, 1);
    int d = tyl_check_dim(L, 2, x->ndim, "gather");
    ty_tensor *idx = index_arg(L, 3, x, d, "gather");
    tyl_box *slot = tyl_slot(L);
    return tyl_fill(L, slot, ty_gather(x, d, idx), "gather");
}

static int l_index_select(lua_State *L) {
    ty_tensor *x = tyl_check_tensor(L, 1);
    int d = tyl_check_dim(L, 2, x->ndim, "index_select");
    ty_tensor *idx = index_arg(L, 3, x, d, "index_select");
    tyl_box *slot = tyl_slot(L);
    return tyl_fill(L, slot, ty_index_select(x, d, idx), "index_select");
}

/* scatter(x, dim, index, src) where src is a tensor or a number; with
 * in_place the result is written into x, which is returned. */
static int scatter(lua_State *L, bool in_place, const char *fn) {
    ty_tensor *x = tyl_check_tensor(L, 1);
    int d = tyl_check_dim(L, 2, x->ndim, fn);
    ty_tensor *src = tyl_to_tensor(L, 4);
    double value = src ? 0 : tyl_check_value(L, 4);
    ty_tensor *idx = index_arg(L, 3, x, d, fn);
    if (in_place) {
        int rc = src ? ty_scatter_(x, d, idx, src) : ty_scatter_value_(x, d, idx, value);
        if (rc < 0) return tyl_raise(L, fn, NULL);
        lua_pushvalue(L, 1);
        return 1;
    }
    tyl_box *slot = tyl_slot(L);
    return tyl_fill(L, slot, src ? ty_scatter(x, d, idx, src) : ty_scatter_value(x, d, idx, value),
                    fn);
}
static int l_scatter(lua_State *L) {
    return scatter(L, false, "scatter");
}
static int l_scatter_(lua_State *L) {
    return scatter(L, true, "scatter_");
}

/* The (x, dim, index, src) ops that add: scatter_add, index_add. */
typedef ty_tensor *(*add_fn)(ty_tensor *, int, ty_tensor *, ty_tensor *);
typedef int (*add_fn_)(ty_tensor *, int, ty_tensor *, ty_tensor *);

static int index_add_like(lua_State *L, add_fn f, add_fn_ f_, bool is_index_add, const char *fn) {
    ty_tensor *x = tyl_check_tensor(L, 1);
    int d = tyl_check_dim(L, 2, x->ndim, fn);
    ty_tensor *src = tyl_check_tensor(L, 4);
    if (is_index_add) {
        ty_tensor *i = tyl_check_tensor(L, 3);
        bool ok = src->ndim == x->ndim;
        for (int k = 0; ok && k < x->ndim; k++)
            ok = src->shape[k] == (k == d ? ty_numel(i) : x->shape[k]);
        char a[128], b[128];
        if (!ok)
            return tyl_errorf(L,
                              "%s: src shape %s does not match x shape %s with %lld indices at "
                              "dim %d",
                              fn, ty_shape_str(src, a, sizeof a), ty_shape_str(x, b, sizeof b),
                              (long long)ty_numel(i), d + 1);
    }
    ty_tensor *idx = index_arg(L, 3, x, d, fn);
    if (f_) {
        if (f_(x, d, idx, src) < 0) return tyl_raise(L, fn, NULL);
        lua_pushvalue(L, 1);
        return 1;
    }
    tyl_box *slot = tyl_slot(L);
    return tyl_fill(L, slot, f(x, d, idx, src), fn);
}
static int l_scatter_add(lua_State *L) {
    return index_add_like(L, ty_scatter_add, NULL, false, "scatter_add");
}
static int l_scatter_add_(lua_State *L) {
    return index_add_like(L, NULL, ty_scatter_add_, false, "scatter_add_");
}
static int l_index_add(lua_State *L) {
    return index_add_like(L, ty_index_add, NULL, true, "index_add");
}
static int l_index_add_(lua_State *L) {
    return index_add_like(L, NULL, ty_index_add_, true, "index_add_");
}

static int l_masked_fill(lua_State *L) {
    ty_tensor *x = tyl_check_tensor(L, 1), *mask = tyl_check_tensor(L, 2);
    double v = tyl_check_value(L, 3);
    tyl_box *slot = tyl_slot(L);
    return tyl_fill(L, slot, ty_masked_fill(x, mask, v), "masked_fill");
}

static int l_masked_fill_(lua_State *L) {
    ty_tensor *x = tyl_check_tensor(L, 1), *mask = tyl_check_tensor(L, 2);
    double v = tyl_check_value(L, 3);
    if (ty_masked_fill_(x, mask, v) < 0) return tyl_raise(L, "masked_fill_", NULL);
    lua_settop(L, 1);
    return 1;
}

static int l_masked_select(lua_State *L) {
    ty_tensor *x = tyl_check_tensor(L, 1), *mask = tyl_check_tensor(L, 2);
    tyl_box *slot = tyl_slot(L);
    return tyl_fill(L, slot, ty_masked_select(x, mask), "masked_select");
}

/* nonzero(x) -> (N, ndim) i64 of 1-based coordinates */
static int l_nonzero(lua_State *L) {
    ty_tensor *x = tyl_check_tensor(L, 1);
    tyl_box *slot = tyl_slot(L);
    ty_tensor *nz = ty_nonzero(x);
    if (nz && ty_add_scalar_(nz, 1) < 0) {
        ty_tensor_release(nz);
        nz = NULL;
    }
    return tyl_fill(L, slot, nz, "nonzero");
}

/* one_hot(labels, num_classes): labels 1..C give a 1 at position label */
static int l_one_hot(lua_State *L) {
    ty_tensor *labels = tyl_check_tensor(L, 1);
    int64_t c = tyl_opt_int(L, 2, -1, "one_hot");
    if (c == 0 || c < -1)
        return tyl_errorf(L, "one_hot: num_classes must be positive, got %lld", (long long)c);
    tyl_box *keep = tyl_slot(L);
    keep->t = tyl_index_to_c(L, labels, c > 0 ? c : INT64_MAX, "one_hot", "label", false, 0);
    tyl_box *slot = tyl_slot(L);
    return tyl_fill(L, slot, ty_one_hot(keep->t, c), "one_hot");
}

static const luaL_Reg both[] = {
    {"split", l_split},
    {"chunk", l_chunk},
    /* `repeat` is a Lua keyword, so x:repeat(2, 3) does not parse: the
     * method is also called tile (NumPy's name); tycho["repeat"] works */
    {"repeat", l_repeat},
    {"tile", l_repeat},
    {"flip", l_flip},
    {"roll", l_roll},
    {"pad", l_pad},
    {"gather", l_gather},
    {"index_select", l_index_select},
    {"scatter", l_scatter},
    {"scatter_", l_scatter_},
    {"scatter_add", l_scatter_add},
    {"scatter_add_", l_scatter_add_},
    {"index_add", l_index_add},
    {"index_add_", l_index_add_},
    {"masked_fill", l_masked_fill},
    {"masked_fill_", l_masked_fill_},
    {"masked_select", l_masked_select},
    {"nonzero", l_nonzero},
    {"one_hot", l_one_hot},
    {NULL, NULL},
};

static const luaL_Reg module_only[] = {
    {"cat", l_cat},
    {"stack", l_stack},
    {NULL, NULL},
};

void tyl_open_shape(lua_State *L) {
    tyl_reg_both(L, both);
    tyl_reg_module(L, module_only);
}
