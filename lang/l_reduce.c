/* Reductions, scans and sorting. Dims are 1-based (negatives count from
 * the end), given as one number or a table of numbers; no dims reduces
 * everything. keepdim is a boolean after the dims. Indices returned by
 * max/min/argmax/argmin/sort/topk are 1-based. */
#include <math.h>

#include "l_util.h"

typedef ty_tensor *(*reduce_fn)(ty_tensor *, int, const int *, bool);

/* Reads (dims, keepdim) from args 2 and 3; keepdim may also come from an
 * option table at arg 3 ({keepdim = true}). */
static void dims_keepdim(lua_State *L, ty_tensor *x, int *dims, int *nd, bool *keepdim,
                         const char *fn) {
    if (!tyl_opt_dims(L, 2, x->ndim, dims, nd, fn)) luaL_typeerror(L, 2, "dim or table of dims");
    if (lua_type(L, 3) == LUA_TTABLE)
        *keepdim = tyl_opt_bool(L, 3, "keepdim", false, fn);
    else
        *keepdim = lua_toboolean(L, 3);
}

static int reduce(lua_State *L, reduce_fn f, const char *fn) {
    ty_tensor *x = tyl_check_tensor(L, 1);
    int dims[TY_MAX_DIMS], nd;
    bool keepdim;
    dims_keepdim(L, x, dims, &nd, &keepdim, fn);
    tyl_box *slot = tyl_slot(L);
    return tyl_fill(L, slot, f(x, nd, dims, keepdim), fn);
}

#define REDUCE(name)                                                                               \
    static int l_##name(lua_State *L) {                                                            \
        return reduce(L, ty_##name, #name);                                                        \
    }
REDUCE(sum)
REDUCE(mean)
REDUCE(prod)
REDUCE(logsumexp)
REDUCE(all)
REDUCE(any)
REDUCE(amax)
REDUCE(amin)

/* var(x, dims, keepdim, correction) or var(x, dims, {keepdim=, correction=});
 * correction 1 (unbiased) by default, as PyTorch. */
static int moment(lua_State *L, bool is_std) {
    const char *fn = is_std ? "std" : "var";
    ty_tensor *x = tyl_check_tensor(L, 1);
    int dims[TY_MAX_DIMS], nd;
    bool keepdim;
    dims_keepdim(L, x, dims, &nd, &keepdim, fn);
    double correction = 1;
    if (lua_type(L, 3) == LUA_TTABLE) {
        static const char *const keys[] = {"keepdim", "correction", "unbiased", NULL};
        tyl_check_keys(L, 3, keys, fn);
        correction = tyl_opt_number(L, 3, "correction", 1, fn);
        if (!tyl_opt_bool(L, 3, "unbiased", true, fn)) correction = 0;
    } else {
        correction = luaL_optnumber(L, 4, 1);
    }
    tyl_box *slot = tyl_slot(L);
    ty_tensor *r = is_std ? ty_std(x, nd, dims, correction, keepdim)
                          : ty_var(x, nd, dims, correction, keepdim);
    return tyl_fill(L, slot, r, fn);
}
static int l_var(lua_State *L) {
    return moment(L, false);
}
static int l_std(lua_State *L) {
    return moment(L, true);
}

/* norm(x, p = 2, dims, keepdim); p may be math.huge or -math.huge. */
static int l_norm(lua_State *L) {
    ty_tensor *x = tyl_check_tensor(L, 1);
    double p = luaL_optnumber(L, 2, 2.0);
    int dims[TY_MAX_DIMS], nd;
    if (!tyl_opt_dims(L, 3, x->ndim, dims, &nd, "norm"))
        return luaL_typeerror(L, 3, "dim or table of dims");
    bool keepdim = lua_toboolean(L, 4);
    tyl_box *slot = tyl_slot(L);
    return tyl_fill(L, slot, ty_norm(x, p, nd, dims, keepdim), "norm");
}

/* Adds 1 to a fresh i64 index tensor (C's 0-based -> Lua's 1-based). */
static ty_tensor *one_based(ty_tensor *idx) {
    if (idx && ty_add_scalar_(idx, 1) < 0) {
        ty_tensor_release(idx);
        return NULL;
    }
    return idx;
}

/* The ops without an identity cannot reduce a dim of size 0. */
static void check_nonempty(lua_State *L, ty_tensor *x, int d, const char *fn) {
    if (x->ndim && x->shape[d] == 0) {
        char buf[128];
        tyl_errorf(L, "%s: cannot reduce over dim %d of size 0 of a tensor of shape %s", fn, d + 1,
                   ty_shape_str(x, buf, sizeof buf));
    }
}

/* max(x) -> value; max(x, dim [, keepdim]) -> values, indices;
 * max(x, y) -> elementwise maximum. */
static int maxmin(lua_State *L, bool is_max) {
    const char *fn = is_max ? "max" : "min";
    ty_tensor *x = tyl_check_tensor(L, 1);
    ty_tensor *y = tyl_to_tensor(L, 2);
    if (y) {
        tyl_box *slot = tyl_slot(L);
        return tyl_fill(L, slot, is_max ? ty_maximum(x, y) : ty_minimum(x, y), fn);
    }
    if (lua_isnoneornil(L, 2)) {
        tyl_box *slot = tyl_slot(L);
        return tyl_fill(L, slot, is_max ? ty_max_all(x) : ty_min_all(x), fn);
    }
    int d = tyl_check_dim(L, 2, x->ndim, fn);
    bool keepdim = lua_toboolean(L, 3);
    check_nonempty(L, x, d, fn);
    tyl_box *vs = tyl_slot(L);
    tyl_box *is = tyl_slot(L);
    ty_tensor *values, *indices;
    int rc = is_max ? ty_max_dim(x, d, keepdim, &values, &indices)
                    : ty_min_dim(x, d, keepdim, &values, &indices);
    if (rc < 0) return tyl_raise(L, fn, NULL);
    indices = one_based(indices);
    tyl_fill_at(L, vs, values);
    if (!indices) return tyl_raise(L, fn, NULL);
    tyl_fill_at(L, is, indices);
    return 2;
}
static int l_max(lua_State *L) {
    return maxmin(L, true);
}
static int l_min(lua_State *L) {
    return maxmin(L, false);
}

static int argmaxmin(lua_State *L, bool is_max) {
    const char *fn = is_max ? "argmax" : "argmin";
    ty_tensor *x = tyl_check_tensor(L, 1);
    if (lua_isnoneornil(L, 2)) {
        tyl_box *slot = tyl_slot(L);
        return tyl_fill(L, slot, one_based(is_max ? ty_argmax_all(x) : ty_argmin_all(x)), fn);
    }
    int d = tyl_check_dim(L, 2, x->ndim, fn);
    bool keepdim = lua_toboolean(L, 3);
    check_nonempty(L, x, d, fn);
    tyl_box *slot = tyl_slot(L);
    return tyl_fill(L, slot,
                    one_based(is_max ? ty_argmax(x, d, keepdim) : ty_argmin(x, d, keepdim)), fn);
}
static int l_argmax(lua_State *L) {
    return argmaxmin(L, true);
}
static int l_argmin(lua_State *L) {
    return argmaxmin(L, false);
}

static int scan(lua_State *L, ty_tensor *(*f)(ty_tensor *, int), const char *fn) {
    ty_tensor *x = tyl_check_tensor(L, 1);
    int d = tyl_check_dim(L, 2, x->ndim, fn);
    tyl_box *slot = tyl_slot(L);
    return tyl_fill(L, slot, f(x, d), fn);
}
static int l_cumsum(lua_State *L) {
    return scan(L, ty_cumsum, "cumsum");
}
static int l_cumprod(lua_State *L) {
    return scan(L, ty_cumprod, "cumprod");
}

/* sort(x, dim = -1, descending = false) -> values, indices */
static int l_sort(lua_State *L) {
    ty_tensor *x = tyl_check_tensor(L, 1);
    int d =
        lua_isnoneornil(L, 2) ? (x->ndim ? x->ndim - 1 : 0) : tyl_check_dim(L, 2, x->ndim, "sort");
    bool desc = lua_toboolean(L, 3);
    tyl_box *vs = tyl_slot(L);
    tyl_box *is = tyl_slot(L);
    ty_tensor *values, *indices;
    if (ty_sort(x, d, desc, true, &values, &indices) < 0) return tyl_raise(L, "sort", NULL);
    indices = one_based(indices);
    tyl_fill_at(L, vs, values);
    if (!indices) return tyl_raise(L, "sort", NULL);
    tyl_fill_at(L, is, indices);
    return 2;
}

static int l_argsort(lua_State *L) {
    ty_tensor *x = tyl_check_tensor(L, 1);
    int d = lua_isnoneornil(L, 2) ? (x->ndim ? x->ndim - 1 : 0)
                                  : tyl_check_dim(L, 2, x->ndim, "argsort");
    bool desc = lua_toboolean(L, 3);
    tyl_box *slot = tyl_slot(L);
    return tyl_fill(L, slot, one_based(ty_argsort(x, d, desc, true)), "argsort");
}

/* topk(x, k, dim = -1, largest = true) -> values, indices */
static int l_topk(lua_State *L) {
    ty_tensor *x = tyl_check_tensor(L, 1);
    int64_t k = tyl_check_int(L, 2, "topk");
    int d =
        lua_isnoneornil(L, 3) ? (x->ndim ? x->ndim - 1 : 0) : tyl_check_dim(L, 3, x->ndim, "topk");
    bool largest = lua_isnoneornil(L, 4) ? true : lua_toboolean(L, 4);
    int64_t n = x->ndim ? x->shape[d] : 1;
    if (k < 0 || k > n)
        return tyl_errorf(L, "topk: k %lld is out of range for dim %d of size %lld", (long long)k,
                          d + 1, (long long)n);
    tyl_box *vs = tyl_slot(L);
    tyl_box *is = tyl_slot(L);
    ty_tensor *values, *indices;
    if (ty_topk(x, k, d, largest, true, &values, &indices) < 0) return tyl_raise(L, "topk", NULL);
    indices = one_based(indices);
    tyl_fill_at(L, vs, values);
    if (!indices) return tyl_raise(L, "topk", NULL);
    tyl_fill_at(L, is, indices);
    return 2;
}

static const luaL_Reg fns[] = {
    {"sum", l_sum},         {"mean", l_mean},
    {"prod", l_prod},       {"logsumexp", l_logsumexp},
    {"all", l_all},         {"any", l_any},
    {"amax", l_amax},       {"amin", l_amin},
    {"var", l_var},         {"std", l_std},
    {"norm", l_norm},       {"max", l_max},
    {"min", l_min},         {"argmax", l_argmax},
    {"argmin", l_argmin},   {"cumsum", l_cumsum},
    {"cumprod", l_cumprod}, {"sort", l_sort},
    {"argsort", l_argsort}, {"topk", l_topk},
    {NULL, NULL},
};

void tyl_open_reduce(lua_State *L) {
    tyl_reg_both(L, fns);
}
