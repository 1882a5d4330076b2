/* Elementwise ops as functions (tycho.exp(x)), methods (x:exp()) and
 * operators (+ - * / ^ unary-), with Lua numbers on either side, and their
 * in-place forms ending in `_` (which return the tensor itself, so calls
 * chain: x:mul_(2):add_(1)).
 *
 * `a + b` on two small tensors is the binding's hottest path: it takes the
 * tensors, pushes the result userdata and calls the C op, nothing else. */
#include <math.h>

#include "l_util.h"

/* A Lua number (or boolean) standing for a scalar operand at arg; anything
 * else is an argument error naming what was expected. */
static double scalar_arg(lua_State *L, int arg) {
    int t = lua_type(L, arg);
    if (t == LUA_TNUMBER) return lua_tonumber(L, arg);
    if (t == LUA_TBOOLEAN) return lua_toboolean(L, arg);
    if (tyl_is_tensor(L, arg)) luaL_argerror(L, arg, "tensor has been closed");
    luaL_typeerror(L, arg, "tensor or number");
    return 0;
}

/* a op b where either side may be a number (but not both). */
static int binary(lua_State *L, ty_binary_op op, const char *fn) {
    ty_tensor *a = tyl_to_tensor(L, 1);
    ty_tensor *b = tyl_to_tensor(L, 2);
    if (a && b) {
        tyl_box *slot = tyl_slot(L);
        return tyl_fill(L, slot, ty_binary(op, a, b), fn);
    }
    if (a) {
        double v = scalar_arg(L, 2);
        tyl_box *slot = tyl_slot(L);
        return tyl_fill(L, slot, ty_binary_scalar(op, a, v), fn);
    }
    if (b) {
        double v = scalar_arg(L, 1);
        tyl_box *slot = tyl_slot(L);
        return tyl_fill(L, slot, ty_binary_rscalar(op, v, b), fn);
    }
    if (tyl_is_tensor(L, 1)) return luaL_argerror(L, 1, "tensor has been closed");
    if (tyl_is_tensor(L, 2)) return luaL_argerror(L, 2, "tensor has been closed");
    return tyl_errorf(L, "%s: expected a tensor operand, got %s and %s", fn, luaL_typename(L, 1),
                      luaL_typename(L, 2));
}

/* x op= y; returns x. */
static int binary_(lua_State *L, ty_binary_op op, const char *fn) {
    ty_tensor *x = tyl_check_tensor(L, 1);
    ty_tensor *y = tyl_to_tensor(L, 2);
    int rc = y ? ty_binary_(op, x, y) : ty_binary_scalar_(op, x, scalar_arg(L, 2));
    if (rc < 0) return tyl_raise(L, fn, NULL);
    lua_settop(L, 1);
    return 1;
}

#define BINARY(name, OP)                                                                           \
    static int l_##name(lua_State *L) {                                                            \
        return binary(L, OP, #name);                                                               \
    }
#define BINARY_(name, OP)                                                                          \
    static int l_##name##_(lua_State *L) {                                                         \
        return binary_(L, OP, #name "_");                                                          \
    }

BINARY(add, TY_BINARY_ADD)
BINARY(sub, TY_BINARY_SUB)
BINARY(mul, TY_BINARY_MUL)
BINARY(div, TY_BINARY_DIV)
BINARY(pow, TY_BINARY_POW)
BINARY(maximum, TY_BINARY_MAXIMUM)
BINARY(minimum, TY_BINARY_MINIMUM)
BINARY(eq, TY_BINARY_EQ)
BINARY(ne, TY_BINARY_NE)
BINARY(lt, TY_BINARY_LT)
BINARY(le, TY_BINARY_LE)
BINARY(gt, TY_BINARY_GT)
BINARY(ge, TY_BINARY_GE)
BINARY(logical_and, TY_BINARY_LOGICAL_AND)
BINARY(logical_or, TY_BINARY_LOGICAL_OR)
BINARY(logical_xor, TY_BINARY_LOGICAL_XOR)
BINARY_(add, TY_BINARY_ADD)
BINARY_(sub, TY_BINARY_SUB)
BINARY_(mul, TY_BINARY_MUL)
BINARY_(div, TY_BINARY_DIV)
BINARY_(pow, TY_BINARY_POW)

static int l_unm(lua_State *L) {
    ty_tensor *x = tyl_check_tensor(L, 1);
    tyl_box *slot = tyl_slot(L);
    return tyl_fill(L, slot, ty_neg(x), "neg");
}

/* ---- unary ops: one closure per op, the op number as upvalue ---- */

static int unary(lua_State *L) {
    ty_unary_op op = (ty_unary_op)lua_tointeger(L, lua_upvalueindex(1));
    ty_tensor *x = tyl_check_tensor(L, 1);
    tyl_box *slot = tyl_slot(L);
    return tyl_fill(L, slot, ty_unary(op, x), ty_unary_name(op));
}

static int unary_(lua_State *L) {
    ty_unary_op op = (ty_unary_op)lua_tointeger(L, lua_upvalueindex(1));
    ty_tensor *x = tyl_check_tensor(L, 1);
    if (ty_unary_(op, x) < 0) return tyl_errorf(L, "%s_: %s", ty_unary_name(op), ty_last_error());
    lua_settop(L, 1);
    return 1;
}

/* The ops without parameters (clamp, softplus and axpb have their own). */
static const ty_unary_op plain_unary[] = {
    TY_UNARY_NEG,        TY_UNARY_ABS,   TY_UNARY_SIGN,    TY_UNARY_EXP,   TY_UNARY_LOG,
    TY_UNARY_LOG1P,      TY_UNARY_EXPM1, TY_UNARY_SQRT,    TY_UNARY_RSQRT, TY_UNARY_SIN,
    TY_UNARY_COS,        TY_UNARY_TANH,  TY_UNARY_SIGMOID, TY_UNARY_RELU,  TY_UNARY_GELU,
    TY_UNARY_GELU_TANH,  TY_UNARY_SILU,  TY_UNARY_FLOOR,   TY_UNARY_CEIL,  TY_UNARY_ROUND,
    TY_UNARY_RECIPROCAL,
};

/* x:clamp(lo, hi); either bound may be nil (one-sided). */
static int clamp_bounds(lua_State *L, double *lo, double *hi) {
    *lo = lua_isnoneornil(L, 2) ? -INFINITY : luaL_checknumber(L, 2);
    *hi = lua_isnoneornil(L, 3) ? INFINITY : luaL_checknumber(L, 3);
    if (lua_isnoneornil(L, 2) && lua_isnoneornil(L, 3))
        return tyl_errorf(L, "clamp: at least one of min and max must be given");
    return 0;
}

static int l_clamp(lua_State *L) {
    ty_tensor *x = tyl_check_tensor(L, 1);
    double lo, hi;
    clamp_bounds(L, &lo, &hi);
    tyl_box *slot = tyl_slot(L);
    return tyl_fill(L, slot, ty_clamp(x, lo, hi), "clamp");
}

static int l_clamp_(lua_State *L) {
    ty_tensor *x = tyl_check_tensor(L, 1);
    double lo, hi;
    clamp_bounds(L, &lo, &hi);
    if (ty_clamp_(x, lo, hi) < 0) return tyl_raise(L, "clamp_", NULL);
    lua_settop(L, 1);
    return 1;
}

static int l_softplus(lua_State *L) {
    ty_tensor *x = tyl_check_tensor(L, 1);
    double beta = luaL_optnumber(L, 2, 1.0), threshold = luaL_optnumber(L, 3, 20.0);
    tyl_box *slot = tyl_slot(L);
    return tyl_fill(L, slot, ty_softplus(x, beta, threshold), "softplus");
}

static int l_softplus_(lua_State *L) {
    ty_tensor *x = tyl_check_tensor(L, 1);
    double beta = luaL_optnumber(L, 2, 1.0), threshold = luaL_optnumber(L, 3, 20.0);
    if (ty_softplus_(x, beta, threshold) < 0) return tyl_raise(L, "softplus_", NULL);
    lua_settop(L, 1);
    return 1;
}

static int l_axpb(lua_State *L) {
    ty_tensor *x = tyl_check_tensor(L, 1);
    double a = luaL_optnumber(L, 2, 1.0), b = luaL_optnumber(L, 3, 0.0);
    tyl_box *slot = tyl_slot(L);
    return tyl_fill(L, slot, ty_axpb(x, a, b), "axpb");
}

static int l_axpb_(lua_State *L) {
    ty_tensor *x = tyl_check_tensor(L, 1);
    double a = luaL_optnumber(L, 2, 1.0), b = luaL_optnumber(L, 3, 0.0);
    if (ty_axpb_(x, a, b) < 0) return tyl_raise(L, "axpb_", NULL);
    lua_settop(L, 1);
    return 1;
}

static int l_logical_not(lua_State *L) {
    ty_tensor *x = tyl_check_tensor(L, 1);
    tyl_box *slot = tyl_slot(L);
    return tyl_fill(L, slot, ty_logical_not(x), "logical_not");
}

static int l_logical_not_(lua_State *L) {
    ty_tensor *x = tyl_check_tensor(L, 1);
    if (ty_logical_not_(x) < 0) return tyl_raise(L, "logical_not_", NULL);
    lua_settop(L, 1);
    return 1;
}

/* ---- filling and copying ---- */

static int l_fill_(lua_State *L) {
    ty_tensor *x = tyl_check_tensor(L, 1);
    double v = tyl_check_value(L, 2);
    if (ty_fill_(x, v) < 0) return tyl_raise(L, "fill_", NULL);
    lua_settop(L, 1);
    return 1;
}

static int l_zero_(lua_State *L) {
    ty_tensor *x = tyl_check_tensor(L, 1);
    if (ty_fill_(x, 0) < 0) return tyl_raise(L, "zero_", NULL);
    lua_settop(L, 1);
    return 1;
}

static int l_copy_(lua_State *L) {
    ty_tensor *x = tyl_check_tensor(L, 1);
    ty_tensor *src = tyl_check_tensor(L, 2);
    if (ty_copy_(x, src) < 0) return tyl_raise(L, "copy_", NULL);
    lua_settop(L, 1);
    return 1;
}

/* A tensor operand at arg, making a 0-d tensor of dtype dt from a number;
 * the tensor made is owned by a userdata pushed on the stack. */
static ty_tensor *tensor_or_scalar(lua_State *L, int arg, ty_dtype dt, const char *fn) {
    ty_tensor *t = tyl_to_tensor(L, arg);
    if (t) return t;
    double v = scalar_arg(L, arg);
    tyl_box *slot = tyl_slot(L);
    tyl_fill(L, slot, ty_scalar(v, dt), fn);
    return slot->t;
}

/* where(cond, a, b): a and b may be numbers (taking the other's dtype). */
static int l_where(lua_State *L) {
    lua_settop(L, 3); /* scalars become tensors pushed above the arguments */
    ty_tensor *c = tyl_check_tensor(L, 1);
    ty_tensor *a0 = tyl_to_tensor(L, 2), *b0 = tyl_to_tensor(L, 3);
    ty_dtype dt = a0 ? a0->dtype : b0 ? b0->dtype : TY_F32;
    ty_tensor *a = tensor_or_scalar(L, 2, dt, "where");
    ty_tensor *b = tensor_or_scalar(L, 3, dt, "where");
    tyl_box *slot = tyl_slot(L);
    return tyl_fill(L, slot, ty_where(c, a, b), "where");
}

static int l_lerp(lua_State *L) {
    ty_tensor *s = tyl_check_tensor(L, 1), *e = tyl_check_tensor(L, 2);
    double w = luaL_checknumber(L, 3);
    tyl_box *slot = tyl_slot(L);
    return tyl_fill(L, slot, ty_lerp(s, e, w), "lerp");
}

static int l_lerp_(lua_State *L) {
    ty_tensor *s = tyl_check_tensor(L, 1), *e = tyl_check_tensor(L, 2);
    double w = luaL_checknumber(L, 3);
    if (ty_lerp_(s, e, w) < 0) return tyl_raise(L, "lerp_", NULL);
    lua_settop(L, 1);
    return 1;
}

static int addc(lua_State *L, int (*f)(ty_tensor *, ty_tensor *, ty_tensor *, double),
                const char *fn) {
    ty_tensor *x = tyl_check_tensor(L, 1);
    ty_tensor *t1 = tyl_check_tensor(L, 2), *t2 = tyl_check_tensor(L, 3);
    double value = luaL_optnumber(L, 4, 1.0);
    if (f(x, t1, t2, value) < 0) return tyl_raise(L, fn, NULL);
    lua_settop(L, 1);
    return 1;
}
static int l_addcmul_(lua_State *L) {
    return addc(L, ty_addcmul_, "addcmul_");
}
static int l_addcdiv_(lua_State *L) {
    return addc(L, ty_addcdiv_, "addcdiv_");
}

/* ---- whole-tensor comparisons returning Lua booleans ---- */

/* equal(a, b): same shape and every element equal. */
static int l_equal(lua_State *L) {
    ty_tensor *a = tyl_check_tensor(L, 1), *b = tyl_check_tensor(L, 2);
    if (!ty_same_shape(a, b)) {
        lua_pushboolean(L, 0);
        return 1;
    }
    bool prev = ty_set_grad_enabled(false);
    ty_tensor *e = ty_eq(a, b);
    ty_tensor *all = e ? ty_all(e, 0, NULL, false) : NULL;
    ty_set_grad_enabled(prev);
    double v = 0;
    int rc = all ? ty_item(all, &v) : -1;
    ty_tensor_release(e);
    ty_tensor_release(all);
    if (rc < 0) return tyl_raise(L, "equal", NULL);
    lua_pushboolean(L, v != 0);
    return 1;
}

/* allclose(a, b, rtol=1e-5, atol=1e-8): |a - b| <= atol + rtol |b| everywhere
 * (shapes broadcast), as torch.allclose. */
static int l_allclose(lua_State *L) {
    ty_tensor *a = tyl_check_tensor(L, 1), *b = tyl_check_tensor(L, 2);
    double rtol = luaL_optnumber(L, 3, 1e-5), atol = luaL_optnumber(L, 4, 1e-8);
    bool prev = ty_set_grad_enabled(false);
    ty_tensor *d = ty_sub(a, b);
    ty_tensor *ad = d ? ty_abs(d) : NULL;
    ty_tensor *ab = ad ? ty_abs(b) : NULL;
    ty_tensor *tol = ab ? ty_axpb(ab, rtol, atol) : NULL;
    ty_tensor *ok = tol ? ty_le(ad, tol) : NULL;
    ty_tensor *all = ok ? ty_all(ok, 0, NULL, false) : NULL;
    ty_set_grad_enabled(prev);
    double v = 0;
    int rc = all ? ty_item(all, &v) : -1;
    ty_tensor *tmp[] = {d, ad, ab, tol, ok, all};
    for (int i = 0; i < 6; i++) ty_tensor_release(tmp[i]);
    if (rc < 0) return tyl_raise(L, "allclose", NULL);
    lua_pushboolean(L, v != 0);
    return 1;
}

static const luaL_Reg fns[] = {
    {"add", l_add},
    {"sub", l_sub},
    {"mul", l_mul},
    {"div", l_div},
    {"pow", l_pow},
    {"maximum", l_maximum},
    {"minimum", l_minimum},
    {"eq", l_eq},
    {"ne", l_ne},
    {"lt", l_lt},
    {"le", l_le},
    {"gt", l_gt},
    {"ge", l_ge},
    {"logical_and", l_logical_and},
    {"logical_or", l_logical_or},
    {"logical_xor", l_logical_xor},
    {"logical_not", l_logical_not},
    {"add_", l_add_},
    {"sub_", l_sub_},
    {"mul_", l_mul_},
    {"div_", l_div_},
    {"pow_", l_pow_},
    {"clamp", l_clamp},
    {"clamp_", l_clamp_},
    {"softplus", l_softplus},
    {"softplus_", l_softplus_},
    {"axpb", l_axpb},
    {"axpb_", l_axpb_},
    {"logical_not_", l_logical_not_},
    {"fill_", l_fill_},
    {"zero_", l_zero_},
    {"copy_", l_copy_},
    {"where", l_where},
    {"lerp", l_lerp},
    {"lerp_", l_lerp_},
    {"addcmul_", l_addcmul_},
    {"addcdiv_", l_addcdiv_},
    {"equal", l_equal},
    {"allclose", l_allclose},
    {NULL, NULL},
};

static void reg_unary(lua_State *L, ty_unary_op op, lua_CFunction f, const char *suffix) {
    lua_pushinteger(L, op);
    lua_pushcclosure(L, f, 1);
    lua_pushfstring(L, "%s%s", ty_unary_name(op), suffix);
    lua_pushvalue(L, -2);
    lua_rawset(L, -4); /* methods */
    lua_pushfstring(L, "%s%s", ty_unary_name(op), suffix);
    lua_insert(L, -2);
    lua_rawset(L, -4); /* module */
}

void tyl_open_ops(lua_State *L) {
    tyl_reg_both(L, fns);
    for (size_t i = 0; i < sizeof plain_unary / sizeof plain_unary[0]; i++) {
        reg_unary(L, plain_unary[i], unary, "");
        reg_unary(L, plain_unary[i], unary_, "_");
    }
    /* the operators */
    lua_rawgetp(L, LUA_REGISTRYINDEX, &tyl_meta_key);
    static const luaL_Reg ops[] = {
        {"__add", l_add}, {"__sub", l_sub}, {"__mul", l_mul}, {"__div", l_div},
        {"__pow", l_pow}, {"__unm", l_unm}, {NULL, NULL},
    };
    luaL_setfuncs(L, ops, 0);
    lua_pop(L, 1);
}
