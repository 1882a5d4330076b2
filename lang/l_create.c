/* Creating tensors: tycho.tensor from (nested) Lua tables, constant fills,
 * ranges, identity, random tensors, the *_like forms and manual_seed.
 *
 * Every creation function takes an optional last option table
 * {dtype = "f32", device = "cpu", requires_grad = false}; shapes are given
 * as varargs (2, 3) or as one table ({2, 3}).
 *
 * Ranges: tycho.arange(start, stop, step) follows PyTorch (stop is
 * excluded: arange(1, 10, 2) is 1 3 5 7 9, arange(4) is 0 1 2 3), and
 * tycho.range(first, last, step) is Torch7's inclusive range (range(1, 4) is
 * 1 2 3 4). Both give i64 when every argument is a Lua integer, else f32.
 * randint(low, high, shape) draws from [low, high) as PyTorch; randperm(n)
 * is a permutation of 1..n (1-based, ready for indexing). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "l_util.h"

/* ---- tycho.tensor ---- */

enum { LEAF_NONE, LEAF_NUMBER, LEAF_BOOL };

typedef struct {
    int ndim;
    int64_t shape[TY_MAX_DIMS];
    int64_t pos[TY_MAX_DIMS]; /* where the walk is, for messages */
    int leaf_kind;
    int64_t first_pos[TY_MAX_DIMS]; /* where the first leaf kind was seen */
    char *out;                      /* next element to write */
    ty_dtype dtype;
    size_t esize;
} fill_state;

static const char *where_str(const int64_t *pos, int depth, char *buf, size_t size) {
    size_t n = 0;
    buf[0] = '\0';
    for (int d = 0; d < depth && n < size; d++)
        n += (size_t)snprintf(buf + n, size - n, "[%lld]", (long long)pos[d] + 1);
    return buf;
}

/* The shape, from the first element at every level. */
static void infer_shape(lua_State *L, int idx, fill_state *s) {
    int pushed = 0;
    int cur = idx;
    s->ndim = 0;
    for (;;) {
        if (s->ndim == TY_MAX_DIMS)
            tyl_errorf(L, "tensor: nested tables are deeper than %d dims", TY_MAX_DIMS);
        int64_t len = (int64_t)lua_rawlen(L, cur);
        s->shape[s->ndim++] = len;
        if (len == 0) break;
        luaL_checkstack(L, 2, "tensor");
        int t = lua_rawgeti(L, cur, 1);
        pushed++;
        if (t != LUA_TTABLE || tyl_is_tensor(L, -1)) break;
        cur = lua_gettop(L);
    }
    lua_pop(L, pushed);
}

static void store_leaf(lua_State *L, int idx, fill_state *s, int depth) {
    int t = lua_type(L, idx);
    char where[256];
    int kind = t == LUA_TNUMBER ? LEAF_NUMBER : t == LUA_TBOOLEAN ? LEAF_BOOL : LEAF_NONE;
    if (kind == LEAF_NONE) {
        if (t == LUA_TTABLE && !tyl_is_tensor(L, idx))
            tyl_errorf(L,
                       "tensor: ragged nested table: a table at %s where the other rows have "
                       "numbers",
                       where_str(s->pos, depth, where, sizeof where));
        tyl_errorf(L, "tensor: element %s is a %s (expected a number or a boolean%s)",
                   where_str(s->pos, depth, where, sizeof where), luaL_typename(L, idx),
                   tyl_is_tensor(L, idx) ? "; join tensors with tycho.stack or tycho.cat" : "");
    }
    if (s->leaf_kind == LEAF_NONE) {
        s->leaf_kind = kind;
        memcpy(s->first_pos, s->pos, sizeof s->pos);
    } else if (kind != s->leaf_kind) {
        char first[256];
        tyl_errorf(L, "tensor: mixed element types: %s at %s but %s at %s",
                   kind == LEAF_NUMBER ? "boolean" : "number",
                   where_str(s->first_pos, depth, first, sizeof first),
                   kind == LEAF_NUMBER ? "number" : "boolean",
                   where_str(s->pos, depth, where, sizeof where));
    }
    if (kind == LEAF_BOOL) {
        ty_store_from_double(s->out, s->dtype, lua_toboolean(L, idx));
    } else if (lua_isinteger(L, idx)) {
        lua_Integer v = lua_tointeger(L, idx);
        if ((s->dtype == TY_U8 && (v < 0 || v > 255)))
            tyl_errorf(L, "tensor: %lld at %s does not fit dtype u8", (long long)v,
                       where_str(s->pos, depth, where, sizeof where));
        ty_store_from_i64(s->out, s->dtype, v);
    } else {
        double v = lua_tonumber(L, idx);
        if (ty_dtype_is_integral(s->dtype) && s->dtype != TY_BOOL &&
            (v != floor(v) || (s->dtype == TY_U8 && (v < 0 || v > 255)) ||
             (s->dtype == TY_I64 && !(fabs(v) < 9.3e18))))
            tyl_errorf(L, "tensor: %s at %s is not a valid %s value", lua_tostring(L, idx),
                       where_str(s->pos, depth, where, sizeof where), ty_dtype_name(s->dtype));
        ty_store_from_double(s->out, s->dtype, v);
    }
    s->out += s->esize;
}

static void fill_rows(lua_State *L, int idx, fill_state *s, int depth) {
    char where[256];
    int64_t len = (int64_t)lua_rawlen(L, idx);
    if (len != s->shape[depth])
        tyl_errorf(L, "tensor: ragged nested table: %s has %lld elements, expected %lld",
                   depth ? where_str(s->pos, depth, where, sizeof where) : "the top level",
                   (long long)len, (long long)s->shape[depth]);
    luaL_checkstack(L, 2, "tensor");
    for (int64_t i = 0; i < len; i++) {
        s->pos[depth] = i;
        lua_rawgeti(L, idx, i + 1);
        if (depth == s->ndim - 1) {
            store_leaf(L, lua_gettop(L), s, depth + 1);
        } else {
            if (lua_type(L, -1) != LUA_TTABLE || tyl_is_tensor(L, -1))
                tyl_errorf(L,
                           "tensor: ragged nested table: element %s is a %s, expected a "
                           "table of %lld elements",
                           where_str(s->pos, depth + 1, where, sizeof where), luaL_typename(L, -1),
                           (long long)s->shape[depth + 1]);
            fill_rows(L, lua_gettop(L), s, depth + 1);
        }
        lua_pop(L, 1);
    }
}

/* Whether every leaf is a boolean (decides the default dtype): the first
 * leaf decides, the fill checks the rest. */
static int first_leaf_kind(lua_State *L, int idx, const fill_state *s) {
    int pushed = 0, kind = LEAF_NONE;
    int cur = idx;
    for (int d = 0; d < s->ndim; d++) {
        if (s->shape[d] == 0) break;
        lua_rawgeti(L, cur, 1);
        pushed++;
        cur = lua_gettop(L);
    }
    if (pushed == s->ndim) kind = lua_type(L, -1) == LUA_TBOOLEAN ? LEAF_BOOL : LEAF_NUMBER;
    lua_pop(L, pushed);
    return kind;
}

static int l_tensor(lua_State *L) {
    tyl_opts o;
    tyl_check_opts(L, 2, &o, "tensor");
    int t = lua_type(L, 1);
    ty_tensor *src = tyl_to_tensor(L, 1);
    if (src) { /* a copy, converted to the dtype asked for */
        tyl_box *slot = tyl_slot(L);
        ty_tensor *c = ty_clone(src);
        if (c && o.has_dtype && c->dtype != o.dtype) {
            ty_tensor *cast = ty_cast(c, o.dtype);
            ty_tensor_release(c);
            c = cast;
        }
        tyl_fill(L, slot, c, "tensor");
        tyl_apply_opts(L, slot, &o, "tensor");
        return 1;
    }
    if (t == LUA_TNUMBER || t == LUA_TBOOLEAN) {
        ty_dtype dt = o.has_dtype ? o.dtype : t == LUA_TBOOLEAN ? TY_BOOL : TY_F32;
        tyl_box *slot = tyl_slot(L);
        tyl_fill(L, slot, ty_empty(0, NULL, dt, ty_cpu()), "tensor");
        fill_state s = {.out = ty_data(slot->t), .dtype = dt, .esize = ty_dtype_size(dt)};
        store_leaf(L, 1, &s, 0);
        tyl_apply_opts(L, slot, &o, "tensor");
        return 1;
    }
    if (t != LUA_TTABLE) return luaL_typeerror(L, 1, "table, number, boolean or tensor");
    fill_state s;
    memset(&s, 0, sizeof s);
    infer_shape(L, 1, &s);
    s.dtype = o.has_dtype ? o.dtype : first_leaf_kind(L, 1, &s) == LEAF_BOOL ? TY_BOOL : TY_F32;
    s.esize = ty_dtype_size(s.dtype);
    tyl_box *slot = tyl_slot(L);
    tyl_fill(L, slot, ty_empty(s.ndim, s.shape, s.dtype, ty_cpu()), "tensor");
    s.out = ty_data(slot->t);
    fill_rows(L, 1, &s, 0);
    tyl_apply_opts(L, slot, &o, "tensor");
    return 1;
}

/* ---- fills ---- */

typedef ty_tensor *(*fill_fn)(int, const int64_t *, ty_dtype, ty_device);

static int filled(lua_State *L, fill_fn f, const char *fn) {
    int64_t shape[TY_MAX_DIMS];
    int next;
    int nd = tyl_check_shape(L, 1, shape, &next, fn);
    tyl_opts o;
    tyl_check_opts(L, next, &o, fn);
    if (!lua_isnone(L, next + 1)) return luaL_argerror(L, next + 1, "unexpected argument");
    tyl_box *slot = tyl_slot(L);
    tyl_fill(L, slot, f(nd, shape, o.dtype, ty_cpu()), fn);
    tyl_apply_opts(L, slot, &o, fn);
    return 1;
}
static int l_zeros(lua_State *L) {
    return filled(L, ty_zeros, "zeros");
}
static int l_ones(lua_State *L) {
    return filled(L, ty_ones, "ones");
}
static int l_empty(lua_State *L) {
    return filled(L, ty_empty, "empty");
}

/* full(shape, value, opts): shape a table or one number */
static int l_full(lua_State *L) {
    int64_t shape[TY_MAX_DIMS];
    int nd;
    if (lua_type(L, 1) == LUA_TTABLE) {
        nd = tyl_shape_table(L, 1, shape, "full");
    } else {
        shape[0] = tyl_check_int(L, 1, "full");
        nd = 1;
    }
    for (int d = 0; d < nd; d++)
        if (shape[d] < 0)
            return tyl_errorf(L, "full: negative size %lld in shape", (long long)shape[d]);
    double v = tyl_check_value(L, 2);
    tyl_opts o;
    tyl_check_opts(L, 3, &o, "full");
    if (!o.has_dtype && lua_isboolean(L, 2)) o.dtype = TY_BOOL;
    tyl_box *slot = tyl_slot(L);
    tyl_fill(L, slot, ty_full(nd, shape, v, o.dtype, ty_cpu()), "full");
    tyl_apply_opts(L, slot, &o, "full");
    return 1;
}

/* ---- ranges ---- */

/* The numbers at args first.. up to an option table or the end. */
static int range_args(lua_State *L, double *v, bool *all_int, const char *fn) {
    int n = 0;
    *all_int = true;
    while (n < 3 && lua_type(L, n + 1) == LUA_TNUMBER) {
        if (!lua_isinteger(L, n + 1)) *all_int = false;
        v[n] = lua_tonumber(L, n + 1);
        n++;
    }
    if (n == 0) return tyl_errorf(L, "%s: expected numbers (start, end [, step])", fn);
    return n;
}

static int make_range(lua_State *L, bool inclusive) {
    const char *fn = inclusive ? "range" : "arange";
    double v[3];
    bool all_int;
    int n = range_args(L, v, &all_int, fn);
    tyl_opts o;
    tyl_check_opts(L, n + 1, &o, fn);
    double start = 0, end, step = 1;
    if (n == 1) {
        if (inclusive) return tyl_errorf(L, "range: expected first and last (range(1, n))");
        end = v[0];
    } else {
        start = v[0];
        end = v[1];
        if (n == 3) step = v[2];
    }
    ty_dtype dt = o.has_dtype ? o.dtype : all_int ? TY_I64 : TY_F32;
    if (inclusive) {
        if (step == 0 || !isfinite(start) || !isfinite(end) || !isfinite(step))
            return tyl_errorf(L, "range: bad arguments (%g, %g, %g)", start, end, step);
        /* the count, with a little slack so 0, 0.1, ..., 1 includes 1 */
        double count = floor((end - start) / step + 1e-9) + 1;
        if (count < 0) count = 0;
        end = start + (count - 0.5) * step;
    }
    tyl_box *slot = tyl_slot(L);
    tyl_fill(L, slot, ty_arange(start, end, step, dt), fn);
    tyl_apply_opts(L, slot, &o, fn);
    return 1;
}
static int l_arange(lua_State *L) {
    return make_range(L, false);
}
static int l_range(lua_State *L) {
    return make_range(L, true);
}

static int l_linspace(lua_State *L) {
    double a = luaL_checknumber(L, 1), b = luaL_checknumber(L, 2);
    int64_t steps = tyl_check_int(L, 3, "linspace");
    tyl_opts o;
    tyl_check_opts(L, 4, &o, "linspace");
    tyl_box *slot = tyl_slot(L);
    tyl_fill(L, slot, ty_linspace(a, b, steps, o.dtype), "linspace");
    tyl_apply_opts(L, slot, &o, "linspace");
    return 1;
}

/* eye(n [, m], opts) */
static int l_eye(lua_State *L) {
    int64_t n = tyl_check_int(L, 1, "eye");
    int64_t m = lua_type(L, 2) == LUA_TNUMBER ? tyl_check_int(L, 2, "eye") : -1;
    tyl_opts o;
    tyl_check_opts(L, lua_type(L, 2) == LUA_TNUMBER ? 3 : 2, &o, "eye");
    tyl_box *slot = tyl_slot(L);
    tyl_fill(L, slot, ty_eye(n, m, o.dtype), "eye");
    tyl_apply_opts(L, slot, &o, "eye");
    return 1;
}

/* ---- random ---- */

typedef ty_tensor *(*rand_fn)(int, const int64_t *, ty_dtype, ty_generator *);

static int random_fill(lua_State *L, rand_fn f, const char *fn) {
    int64_t shape[TY_MAX_DIMS];
    int next;
    int nd = tyl_check_shape(L, 1, shape, &next, fn);
    tyl_opts o;
    tyl_check_opts(L, next, &o, fn);
    if (!lua_isnone(L, next + 1)) return luaL_argerror(L, next + 1, "unexpected argument");
    tyl_box *slot = tyl_slot(L);
    tyl_fill(L, slot, f(nd, shape, o.dtype, NULL), fn);
    tyl_apply_opts(L, slot, &o, fn);
    return 1;
}
static int l_rand(lua_State *L) {
    return random_fill(L, ty_rand, "rand");
}
static int l_randn(lua_State *L) {
    return random_fill(L, ty_randn, "randn");
}

/* normal(mean, std, shape..., opts) */
static int l_normal(lua_State *L) {
    double mean = luaL_checknumber(L, 1), std = luaL_checknumber(L, 2);
    int64_t shape[TY_MAX_DIMS];
    int next;
    int nd = tyl_check_shape(L, 3, shape, &next, "normal");
    tyl_opts o;
    tyl_check_opts(L, next, &o, "normal");
    tyl_box *slot = tyl_slot(L);
    tyl_fill(L, slot, ty_normal(mean, std, nd, shape, o.dtype, NULL), "normal");
    tyl_apply_opts(L, slot, &o, "normal");
    return 1;
}

/* randint(low, high, shape, opts) or randint(high, shape, opts): [low, high) */
static int l_randint(lua_State *L) {
    int64_t low = 0, high;
    int shape_arg;
    if (lua_type(L, 2) == LUA_TNUMBER) {
        low = tyl_check_int(L, 1, "randint");
        high = tyl_check_int(L, 2, "randint");
        shape_arg = 3;
    } else {
        high = tyl_check_int(L, 1, "randint");
        shape_arg = 2;
    }
    int64_t shape[TY_MAX_DIMS];
    int nd;
    if (lua_type(L, shape_arg) == LUA_TTABLE) {
        nd = tyl_shape_table(L, shape_arg, shape, "randint");
    } else {
        shape[0] = tyl_check_int(L, shape_arg, "randint");
        nd = 1;
    }
    for (int d = 0; d < nd; d++)
        if (shape[d] < 0)
            return tyl_errorf(L, "randint: negative size %lld in shape", (long long)shape[d]);
    tyl_opts o;
    tyl_check_opts(L, shape_arg + 1, &o, "randint");
    if (!o.has_dtype) o.dtype = TY_I64;
    tyl_box *slot = tyl_slot(L);
    tyl_fill(L, slot, ty_randint(low, high, nd, shape, o.dtype, NULL), "randint");
    tyl_apply_opts(L, slot, &o, "randint");
    return 1;
}

/* randperm(n, opts): a permutation of 1..n */
static int l_randperm(lua_State *L) {
    int64_t n = tyl_check_int(L, 1, "randperm");
    tyl_opts o;
    tyl_check_opts(L, 2, &o, "randperm");
    if (!o.has_dtype) o.dtype = TY_I64;
    tyl_box *slot = tyl_slot(L);
    ty_tensor *p = ty_randperm(n, o.dtype, NULL);
    if (p && ty_add_scalar_(p, 1) < 0) {
        ty_tensor_release(p);
        p = NULL;
    }
    tyl_fill(L, slot, p, "randperm");
    tyl_apply_opts(L, slot, &o, "randperm");
    return 1;
}

/* bernoulli(p): 1 with probability p[i]; bernoulli(p, shape..., opts) with
 * one probability for every element. */
static int l_bernoulli(lua_State *L) {
    ty_tensor *p = tyl_to_tensor(L, 1);
    if (p) {
        tyl_box *slot = tyl_slot(L);
        return tyl_fill(L, slot, ty_bernoulli(p, NULL), "bernoulli");
    }
    double prob = luaL_checknumber(L, 1);
    int64_t shape[TY_MAX_DIMS];
    int next;
    int nd = tyl_check_shape(L, 2, shape, &next, "bernoulli");
    tyl_opts o;
    tyl_check_opts(L, next, &o, "bernoulli");
    tyl_box *slot = tyl_slot(L);
    tyl_fill(L, slot, ty_bernoulli_scalar(prob, nd, shape, o.dtype, NULL), "bernoulli");
    tyl_apply_opts(L, slot, &o, "bernoulli");
    return 1;
}

static int l_manual_seed(lua_State *L) {
    int64_t seed = tyl_check_int(L, 1, "manual_seed");
    ty_manual_seed((uint64_t)seed);
    return 0;
}

/* ---- *_like: x's shape, and its dtype and device unless opts say else ---- */

static int like(lua_State *L, int kind, const char *fn) {
    ty_tensor *x = tyl_check_tensor(L, 1);
    int opt_arg = kind == 2 ? 3 : 2;
    double v = kind == 2 ? tyl_check_value(L, 2) : 0;
    tyl_opts o;
    tyl_check_opts(L, opt_arg, &o, fn);
    ty_dtype dt = o.has_dtype ? o.dtype : x->dtype;
    tyl_box *slot = tyl_slot(L);
    ty_tensor *r = NULL;
    switch (kind) {
    case 0:
        r = ty_zeros(x->ndim, x->shape, dt, ty_cpu());
        break;
    case 1:
        r = ty_ones(x->ndim, x->shape, dt, ty_cpu());
        break;
    case 2:
        r = ty_full(x->ndim, x->shape, v, dt, ty_cpu());
        break;
    case 3:
        r = ty_empty(x->ndim, x->shape, dt, ty_cpu());
        break;
    case 4:
        r = ty_rand(x->ndim, x->shape, dt, NULL);
        break;
    default:
        r = ty_randn(x->ndim, x->shape, dt, NULL);
        break;
    }
    tyl_fill(L, slot, r, fn);
    if (!o.has_device) {
        o.has_device = true;
        o.device = x->device;
    }
    tyl_apply_opts(L, slot, &o, fn);
    return 1;
}
static int l_zeros_like(lua_State *L) {
    return like(L, 0, "zeros_like");
}
static int l_ones_like(lua_State *L) {
    return like(L, 1, "ones_like");
}
static int l_full_like(lua_State *L) {
    return like(L, 2, "full_like");
}
static int l_empty_like(lua_State *L) {
    return like(L, 3, "empty_like");
}
static int l_rand_like(lua_State *L) {
    return like(L, 4, "rand_like");
}
static int l_randn_like(lua_State *L) {
    return like(L, 5, "randn_like");
}

static const luaL_Reg module_only[] = {
    {"tensor", l_tensor},
    {"zeros", l_zeros},
    {"ones", l_ones},
    {"empty", l_empty},
    {"full", l_full},
    {"arange", l_arange},
    {"range", l_range},
    {"linspace", l_linspace},
    {"eye", l_eye},
    {"rand", l_rand},
    {"randn", l_randn},
    {"normal", l_normal},
    {"randint", l_randint},
    {"randperm", l_randperm},
    {"bernoulli", l_bernoulli},
    {"manual_seed", l_manual_seed},
    {NULL, NULL},
};

static const luaL_Reg both[] = {
    {"zeros_like", l_zeros_like},
    {"ones_like", l_ones_like},
    {"full_like", l_full_like},
    {"empty_like", l_empty_like},
    {"rand_like", l_rand_like},
    {"randn_like", l_randn_like},
    {NULL, NULL},
};

void tyl_open_create(lua_State *L) {
    tyl_reg_module(L, module_only);
    tyl_reg_both(L, both);
}
