/* Autograd from Lua: x:backward(), x:zero_grad(), x:detach(),
 * x:requires_grad_(), tycho.no_grad(fn), tycho.enable_grad(fn),
 * tycho.grad(outputs, inputs, opts) and tycho.gradcheck(fn, inputs, opts).
 * (x.grad, x.requires_grad and x.grad_fn are properties, in l_tensor.c.) */
#include <stdlib.h>
#include <string.h>

#include "l_util.h"

/* x:backward([grad] [, {retain_graph =, create_graph =}]) */
static int l_backward(lua_State *L) {
    ty_tensor *x = tyl_check_tensor(L, 1);
    ty_tensor *g = NULL;
    int opt = 2;
    if (!lua_isnoneornil(L, 2) && !(lua_type(L, 2) == LUA_TTABLE && !tyl_is_tensor(L, 2))) {
        g = tyl_check_tensor(L, 2);
        opt = 3;
    } else if (lua_isnil(L, 2)) {
        opt = 3;
    }
    static const char *const keys[] = {"retain_graph", "create_graph", NULL};
    if (!lua_isnoneornil(L, opt)) luaL_checktype(L, opt, LUA_TTABLE);
    tyl_check_keys(L, opt, keys, "backward");
    bool create = tyl_opt_bool(L, opt, "create_graph", false, "backward");
    bool retain = tyl_opt_bool(L, opt, "retain_graph", create, "backward");
    if (ty_backward(x, g, retain, create) < 0) return tyl_raise(L, "backward", NULL);
    return 0;
}

static int l_zero_grad(lua_State *L) {
    ty_zero_grad(tyl_check_tensor(L, 1));
    lua_settop(L, 1);
    return 1;
}

static int l_detach(lua_State *L) {
    ty_tensor *x = tyl_check_tensor(L, 1);
    tyl_box *slot = tyl_slot(L);
    return tyl_fill_view(L, slot, ty_detach(x), "detach");
}

/* x:requires_grad_(on = true) */
static int l_requires_grad_(lua_State *L) {
    ty_tensor *x = tyl_check_tensor(L, 1);
    bool on = lua_isnoneornil(L, 2) ? true : lua_toboolean(L, 2);
    if (ty_set_requires_grad(x, on) < 0) return tyl_raise(L, "requires_grad_", NULL);
    lua_settop(L, 1);
    return 1;
}

/* Calls fn (arg 1) with the remaining args under grad mode `on`, restoring
 * the previous mode whether it returns or raises. */
static int with_grad_mode(lua_State *L, bool on) {
    luaL_checktype(L, 1, LUA_TFUNCTION);
    int nargs = lua_gettop(L) - 1;
    bool prev = ty_set_grad_enabled(on);
    int rc = lua_pcall(L, nargs, LUA_MULTRET, 0);
    ty_set_grad_enabled(prev);
    if (rc != LUA_OK) return lua_error(L); /* re-raise the same error object */
    return lua_gettop(L);
}
static int l_no_grad(lua_State *L) {
    return with_grad_mode(L, false);
}
static int l_enable_grad(lua_State *L) {
    return with_grad_mode(L, true);
}

static int l_set_grad_enabled(lua_State *L) {
    luaL_checktype(L, 1, LUA_TBOOLEAN);
    lua_pushboolean(L, ty_set_grad_enabled(lua_toboolean(L, 1)));
    return 1;
}

static int l_is_grad_enabled(lua_State *L) {
    lua_pushboolean(L, ty_grad_enabled());
    return 1;
}

/* A tensor or a table of tensors at arg, as a borrowed array owned by a
 * userdata pushed on the stack. */
static ty_tensor **tensors_arg(lua_State *L, int arg, int *n, bool allow_nil, const char *fn,
                               const char *what) {
    ty_tensor *one = tyl_to_tensor(L, arg);
    if (one || lua_type(L, arg) != LUA_TTABLE) {
        if (!one)
            tyl_errorf(L, "%s: %s must be a tensor or a table of tensors, got %s", fn, what,
                       luaL_typename(L, arg));
        ty_tensor **a = lua_newuserdatauv(L, sizeof *a, 0);
        a[0] = one;
        *n = 1;
        return a;
    }
    lua_Integer len = luaL_len(L, arg);
    if (len < 1 || len > 1 << 20) tyl_errorf(L, "%s: %s is an empty table", fn, what);
    ty_tensor **a = lua_newuserdatauv(L, sizeof *a * (size_t)len, 0);
    for (lua_Integer i = 1; i <= len; i++) {
        lua_rawgeti(L, arg, i);
        a[i - 1] = tyl_to_tensor(L, -1);
        if (!a[i - 1] && !(allow_nil && lua_isnil(L, -1)))
            tyl_errorf(L, "%s: %s[%d] is a %s, not a tensor", fn, what, (int)i,
                       luaL_typename(L, -1));
        lua_pop(L, 1);
    }
    *n = (int)len;
    return a;
}

/* tycho.grad(outputs, inputs, {grad_outputs =, retain_graph =, create_graph
 * =, allow_unused =}) -> {grad1, grad2, ...} (nil for an unused input when
 * allow_unused). */
static int l_grad(lua_State *L) {
    lua_settop(L, 3); /* temporaries are pushed above the arguments */
    int n_out, n_in, n_go = 0;
    ty_tensor **outs = tensors_arg(L, 1, &n_out, false, "grad", "outputs");
    ty_tensor **ins = tensors_arg(L, 2, &n_in, false, "grad", "inputs");
    ty_tensor **gos = NULL;
    if (!lua_isnoneornil(L, 3)) {
        luaL_checktype(L, 3, LUA_TTABLE);
        static const char *const keys[] = {"grad_outputs", "retain_graph", "create_graph",
                                           "allow_unused", NULL};
        tyl_check_keys(L, 3, keys, "grad");
        if (tyl_opt_field(L, 3, "grad_outputs") != LUA_TNIL) {
            int go = lua_gettop(L);
            gos = tensors_arg(L, go, &n_go, true, "grad", "grad_outputs");
            if (n_go != n_out)
                return tyl_errorf(L, "grad: %d grad_outputs for %d outputs", n_go, n_out);
        }
        /* the option table keeps the grad_outputs tensors alive */
    }
    bool create = tyl_opt_bool(L, 3, "create_graph", false, "grad");
    bool retain = tyl_opt_bool(L, 3, "retain_graph", create, "grad");
    bool allow_unused = tyl_opt_bool(L, 3, "allow_unused", false, "grad");
    for (int i = 0; i < n_in; i++)
        if (!ins[i]->requires_grad)
            return tyl_errorf(L, "grad: inputs[%d] does not require grad", i + 1);
    for (int i = 0; i < n_out; i++)
        if (!outs[i]->requires_grad)
            return tyl_errorf(L, "grad: outputs[%d] does not require grad and has no grad_fn",
                              i + 1);
    /* results go into userdata slots as soon as ty_grad returns */
    luaL_checkstack(L, n_in + 4, "grad");
    int base = lua_gettop(L);
    for (int i = 0; i < n_in; i++) tyl_slot(L);
    ty_tensor **grads = lua_newuserdatauv(L, sizeof *grads * (size_t)n_in, 0);
    int rc = ty_grad(n_out, outs, gos, n_in, ins, retain, create, true, grads);
    if (rc < 0) return tyl_raise(L, "grad", NULL);
    int unused = -1;
    for (int i = 0; i < n_in; i++) {
        tyl_fill_at(L, lua_touserdata(L, base + 1 + i), grads[i]);
        if (!grads[i] && unused < 0) unused = i;
    }
    if (unused >= 0 && !allow_unused)
        return tyl_errorf(L,
                          "grad: inputs[%d] was not used to compute the outputs (pass "
                          "allow_unused = true to get nil for it)",
                          unused + 1);
    lua_createtable(L, n_in, 0);
    for (int i = 0; i < n_in; i++) {
        if (!grads[i]) continue;
        lua_pushvalue(L, base + 1 + i);
        lua_rawseti(L, -2, i + 1);
    }
    return 1;
}

/* ---- gradcheck: ty_gradcheck calls back into Lua through a trampoline ---- */

typedef struct {
    lua_State *L;
    int fn;      /* stack index of the Lua function */
    int err;     /* stack index of the slot that receives a Lua error */
    bool failed; /* the Lua function raised or returned a non-tensor */
} trampoline_ctx;

/* Runs under lua_pcall: wraps the inputs (light userdata 1, count 2) in
 * userdata and calls the function (3) with them, so that even a memory
 * error while wrapping is caught before it could cross C frames. */
static int call_with_inputs(lua_State *L) {
    ty_tensor *const *inputs = lua_touserdata(L, 1);
    int n = (int)lua_tointeger(L, 2);
    luaL_checkstack(L, n + 2, "gradcheck");
    lua_pushvalue(L, 3);
    for (int i = 0; i < n; i++) tyl_push_retained(L, inputs[i]);
    lua_call(L, n, 1);
    return 1;
}

/* Calls the Lua function with the inputs; a new reference to its result,
 * or NULL with an error (a Lua error is kept in the err slot; nothing is
 * ever raised across ty_gradcheck's C frames). */
static ty_tensor *trampoline(void *vctx, int n, ty_tensor *const *inputs) {
    trampoline_ctx *c = vctx;
    lua_State *L = c->L;
    if (c->failed || !lua_checkstack(L, 5)) {
        ty_error("the Lua function failed");
        return NULL;
    }
    lua_pushcfunction(L, call_with_inputs);
    lua_pushlightuserdata(L, (void *)inputs);
    lua_pushinteger(L, n);
    lua_pushvalue(L, c->fn);
    if (lua_pcall(L, 3, 1, 0) != LUA_OK) {
        lua_replace(L, c->err);
        c->failed = true;
        ty_error("the function raised an error");
        return NULL;
    }
    ty_tensor *out = tyl_to_tensor(L, -1);
    if (!out) {
        /* lua_pushfstring could raise (memory): a fixed message instead */
        lua_pushboolean(L, 0);
        lua_replace(L, c->err);
        lua_pop(L, 1);
        c->failed = true;
        ty_error("the function did not return a tensor");
        return NULL;
    }
    ty_tensor_retain(out);
    lua_pop(L, 1);
    return out;
}

/* gradcheck(fn, {inputs...}, {eps = 1e-6, atol = 1e-5, rtol = 1e-3,
 * second_order = false}) -> true, or false and a message. Inputs that
 * require grad must be f64. */
static int gradcheck(lua_State *L, bool second) {
    const char *fn = second ? "gradgradcheck" : "gradcheck";
    luaL_checktype(L, 1, LUA_TFUNCTION);
    lua_settop(L, 3);
    int n;
    ty_tensor **ins = tensors_arg(L, 2, &n, false, fn, "inputs");
    static const char *const keys[] = {"eps", "atol", "rtol", NULL};
    if (!lua_isnoneornil(L, 3)) luaL_checktype(L, 3, LUA_TTABLE);
    tyl_check_keys(L, 3, keys, fn);
    double eps = tyl_opt_number(L, 3, "eps", 1e-6, fn);
    double atol = tyl_opt_number(L, 3, "atol", 1e-5, fn);
    double rtol = tyl_opt_number(L, 3, "rtol", 1e-3, fn);
    for (int i = 0; i < n; i++)
        if (ins[i]->requires_grad && ins[i]->dtype != TY_F64)
            return tyl_errorf(L,
                              "%s: inputs[%d] has dtype %s; gradients are checked in f64 "
                              "(make it with {dtype = \"f64\"} or :double())",
                              fn, i + 1, ty_dtype_name(ins[i]->dtype));
    lua_pushnil(L); /* the error slot */
    trampoline_ctx c = {L, 1, lua_gettop(L), false};
    ty_gradcheck_report rep;
    int rc = second ? ty_gradgradcheck(trampoline, &c, n, ins, eps, atol, rtol, &rep)
                    : ty_gradcheck(trampoline, &c, n, ins, eps, atol, rtol, &rep);
    if (c.failed) {
        if (lua_isboolean(L, c.err))
            return tyl_errorf(L, "%s: the function must return a tensor", fn);
        lua_pushvalue(L, c.err);
        return lua_error(L);
    }
    if (rc < 0) return tyl_raise(L, fn, NULL);
    if (rc == 1) {
        lua_pushboolean(L, 1);
        return 1;
    }
    lua_pushboolean(L, 0);
    lua_pushfstring(L,
                    "%s: gradient of inputs[%d] differs at element %d (1-based, row-major): "
                    "analytic %f, numeric %f",
                    fn, rep.input + 1, (int)rep.element + 1, rep.analytic, rep.numeric);
    return 2;
}
static int l_gradcheck(lua_State *L) {
    return gradcheck(L, false);
}
static int l_gradgradcheck(lua_State *L) {
    return gradcheck(L, true);
}

static const luaL_Reg both[] = {
    {"backward", l_backward},
    {"zero_grad", l_zero_grad},
    {"detach", l_detach},
    {"requires_grad_", l_requires_grad_},
    {NULL, NULL},
};

static const luaL_Reg module_only[] = {
    {"no_grad", l_no_grad},
    {"enable_grad", l_enable_grad},
    {"set_grad_enabled", l_set_grad_enabled},
    {"is_grad_enabled", l_is_grad_enabled},
    {"grad", l_grad},
    {"gradcheck", l_gradcheck},
    {"gradgradcheck", l_gradgradcheck},
    {NULL, NULL},
};

void tyl_open_autograd(lua_State *L) {
    tyl_reg_both(L, both);
    tyl_reg_module(L, module_only);
}
