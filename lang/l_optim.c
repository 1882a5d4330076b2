/* The C half of the optim module (lang/lua/tycho/optim.lua): the state of
 * one parameter group as a userdata, the SGD/Adam/AdamW steps and
 * clip_grad_norm over src/optim.c. Registered as tycho._optim (internal:
 * users call optim.SGD, optim.AdamW, ...).
 *
 * A parameter list arrives as a Lua list of tensors; its C array lives in
 * a scratch userdata so that nothing leaks when an argument check raises. */
#include <math.h>
#include <string.h>

#include "l_util.h"
#include "optim.h"

static const char STATE_META[] = "tycho.OptimState";

typedef struct {
    ty_optim_state *s;
} state_box;

static int state_gc(lua_State *L) {
    state_box *b = luaL_checkudata(L, 1, STATE_META);
    ty_optim_state_free(b->s);
    b->s = NULL;
    return 0;
}

static ty_optim_state *check_state(lua_State *L, int arg) {
    state_box *b = luaL_checkudata(L, arg, STATE_META);
    if (!b->s) luaL_error(L, "optim: the optimizer state was freed");
    return b->s;
}

/* new_state(n): the state of a group of n parameters. */
static int l_new_state(lua_State *L) {
    lua_Integer n = luaL_checkinteger(L, 1);
    if (n < 0 || n > 1000000) return luaL_error(L, "optim: bad parameter count %d", (int)n);
    state_box *b = lua_newuserdatauv(L, sizeof *b, 0);
    b->s = NULL;
    luaL_setmetatable(L, STATE_META);
    b->s = ty_optim_state_new((int)n);
    if (!b->s) return tyl_raise(L, "optim", NULL);
    return 1;
}

/* The tensors of the list at arg as a C array in a scratch userdata (kept
 * on the stack until the caller returns); *n gets their count, which must
 * equal the state's when a state is given. */
static ty_tensor **param_array(lua_State *L, int arg, int expect, int *n, const char *fn) {
    luaL_checktype(L, arg, LUA_TTABLE);
    lua_Integer len = luaL_len(L, arg);
    if (expect >= 0 && len != expect)
        luaL_error(L, "%s: %d parameters given, the optimizer state has %d", fn, (int)len, expect);
    ty_tensor **ps = lua_newuserdatauv(L, sizeof *ps * (size_t)(len > 0 ? len : 1), 0);
    for (lua_Integer i = 1; i <= len; i++) {
        lua_rawgeti(L, arg, i);
        ps[i - 1] = tyl_to_tensor(L, -1);
        if (!ps[i - 1]) luaL_error(L, "%s: parameter %d is not a tensor", fn, (int)i);
        lua_pop(L, 1); /* the list keeps it alive */
    }
    *n = (int)len;
    return ps;
}

/* sgd(state, params, lr, momentum, dampening, weight_decay, nesterov) */
static int l_sgd(lua_State *L) {
    ty_optim_state *s = check_state(L, 1);
    int n;
    ty_tensor **ps = param_array(L, 2, s->n, &n, "SGD");
    double lr = luaL_checknumber(L, 3), momentum = luaL_checknumber(L, 4);
    double dampening = luaL_checknumber(L, 5), wd = luaL_checknumber(L, 6);
    bool nesterov = lua_toboolean(L, 7);
    if (ty_sgd_step(n, ps, s, lr, momentum, dampening, wd, nesterov) < 0)
        return tyl_raise(L, "SGD.step", NULL);
    return 0;
}

/* adam(state, params, lr, beta1, beta2, eps, weight_decay, amsgrad, decoupled) */
static int l_adam(lua_State *L) {
    ty_optim_state *s = check_state(L, 1);
    bool decoupled = lua_toboolean(L, 9);
    const char *fn = decoupled ? "AdamW.step" : "Adam.step";
    int n;
    ty_tensor **ps = param_array(L, 2, s->n, &n, fn);
    double lr = luaL_checknumber(L, 3), b1 = luaL_checknumber(L, 4), b2 = luaL_checknumber(L, 5);
    double eps = luaL_checknumber(L, 6), wd = luaL_checknumber(L, 7);
    bool amsgrad = lua_toboolean(L, 8);
    int rc = decoupled ? ty_adamw_step(n, ps, s, lr, b1, b2, eps, wd, amsgrad)
                       : ty_adam_step(n, ps, s, lr, b1, b2, eps, wd, amsgrad);
    if (rc < 0) return tyl_raise(L, fn, NULL);
    return 0;
}

/* clip_grad_norm(params, max_norm, norm_type) -> the total norm before clipping */
static int l_clip_grad_norm(lua_State *L) {
    int n;
    ty_tensor **ps = param_array(L, 1, -1, &n, "clip_grad_norm");
    double max_norm = luaL_checknumber(L, 2);
    double p = luaL_optnumber(L, 3, 2.0);
    double total = 0;
    if (ty_clip_grad_norm(n, ps, max_norm, p, &total) < 0)
        return tyl_raise(L, "clip_grad_norm", NULL);
    lua_pushnumber(L, total);
    return 1;
}

static const char *const BUFFER_NAMES[] = {"momentum_buffer", "exp_avg", "exp_avg_sq",
                                           "max_exp_avg_sq", NULL};

static ty_tensor **buffer_slot(ty_param_state *p, int which) {
    switch (which) {
    case 0:
        return &p->momentum_buffer;
    case 1:
        return &p->exp_avg;
    case 2:
        return &p->exp_avg_sq;
    default:
        return &p->max_exp_avg_sq;
    }
}

static int check_index(lua_State *L, ty_optim_state *s, int arg) {
    lua_Integer i = luaL_checkinteger(L, arg);
    if (i < 1 || i > s->n)
        return luaL_error(L, "optim: parameter %d out of range 1..%d", (int)i, s->n);
    return (int)i - 1;
}

/* get(state, i) -> {step = n, exp_avg = t, ...}: the state of parameter i
 * (1-based). The tensors are the optimizer's own buffers (not copies). */
static int l_get(lua_State *L) {
    ty_optim_state *s = check_state(L, 1);
    ty_param_state *p = &s->param[check_index(L, s, 2)];
    lua_createtable(L, 0, 5);
    lua_pushinteger(L, p->step);
    lua_setfield(L, -2, "step");
    for (int k = 0; BUFFER_NAMES[k]; k++) {
        ty_tensor *t = *buffer_slot(p, k);
        if (!t) continue;
        tyl_push_retained(L, t);
        lua_setfield(L, -2, BUFFER_NAMES[k]);
    }
    return 1;
}

/* set(state, i, param, {step = n, exp_avg = t, ...}): replaces the state
 * of parameter i with copies of the given buffers, which must have the
 * parameter's shape and dtype. Everything is checked before anything
 * changes. */
static int l_set(lua_State *L) {
    ty_optim_state *s = check_state(L, 1);
    int i = check_index(L, s, 2);
    ty_tensor *param = tyl_check_tensor(L, 3);
    luaL_checktype(L, 4, LUA_TTABLE);
    lua_getfield(L, 4, "step");
    int isnum;
    lua_Integer step = lua_tointegerx(L, -1, &isnum);
    if (!isnum || step < 0)
        return luaL_error(L, "optim.load_state_dict: parameter %d: step must be an integer >= 0",
                          i + 1);
    lua_pop(L, 1);
    ty_tensor *given[4] = {NULL, NULL, NULL, NULL};
    for (int k = 0; BUFFER_NAMES[k]; k++) {
        lua_getfield(L, 4, BUFFER_NAMES[k]);
        if (!lua_isnil(L, -1)) {
            ty_tensor *t = tyl_to_tensor(L, -1);
            if (!t)
                return luaL_error(L, "optim.load_state_dict: parameter %d: %s is not a tensor",
                                  i + 1, BUFFER_NAMES[k]);
            bool same = t->ndim == param->ndim && t->dtype == param->dtype;
            for (int d = 0; same && d < t->ndim; d++) same = t->shape[d] == param->shape[d];
            if (!same)
                return luaL_error(L,
                                  "optim.load_state_dict: parameter %d: %s does not match the "
                                  "parameter's shape and dtype (%s)",
                                  i + 1, BUFFER_NAMES[k], ty_dtype_name(param->dtype));
            given[k] = t; /* the table keeps it alive */
        }
        lua_pop(L, 1);
    }
    ty_tensor *copies[4] = {NULL, NULL, NULL, NULL};
    for (int k = 0; k < 4; k++) {
        if (!given[k]) continue;
        copies[k] = ty_clone(given[k]);
        if (!copies[k]) {
            for (int j = 0; j < k; j++) ty_tensor_release(copies[j]);
            return tyl_raise(L, "optim.load_state_dict", NULL);
        }
    }
    ty_param_state *p = &s->param[i];
    p->step = step;
    for (int k = 0; k < 4; k++) {
        ty_tensor **slot = buffer_slot(p, k);
        ty_tensor_release(*slot);
        *slot = copies[k];
    }
    return 0;
}

static const luaL_Reg optim_fns[] = {
    {"new_state", l_new_state},
    {"sgd", l_sgd},
    {"adam", l_adam},
    {"clip_grad_norm", l_clip_grad_norm},
    {"get", l_get},
    {"set", l_set},
    {NULL, NULL},
};

/* Adds tycho._optim to the module table (at -2 during luaopen_tycho). */
void tyl_open_optim(lua_State *L) {
    if (luaL_newmetatable(L, STATE_META)) {
        lua_pushcfunction(L, state_gc);
        lua_setfield(L, -2, "__gc");
        lua_pushliteral(L, "optimizer state");
        lua_setfield(L, -2, "__name");
    }
    lua_pop(L, 1);
    luaL_newlib(L, optim_fns);
    lua_setfield(L, -3, "_optim");
}
