/* The fused neural-network kernels: softmax, log_softmax, layer_norm,
 * cross_entropy and nll_loss (class labels 1..C, as everywhere in Lua),
 * attention and dropout. The nn module (later) builds its layers on these. */
#include <string.h>

#include "l_util.h"

static int l_softmax(lua_State *L) {
    ty_tensor *x = tyl_check_tensor(L, 1);
    int d = lua_isnoneornil(L, 2) ? (x->ndim ? x->ndim - 1 : 0)
                                  : tyl_check_dim(L, 2, x->ndim, "softmax");
    tyl_box *slot = tyl_slot(L);
    return tyl_fill(L, slot, ty_softmax(x, d), "softmax");
}

static int l_log_softmax(lua_State *L) {
    ty_tensor *x = tyl_check_tensor(L, 1);
    int d = lua_isnoneornil(L, 2) ? (x->ndim ? x->ndim - 1 : 0)
                                  : tyl_check_dim(L, 2, x->ndim, "log_softmax");
    tyl_box *slot = tyl_slot(L);
    return tyl_fill(L, slot, ty_log_softmax(x, d), "log_softmax");
}

/* layer_norm(x, normalized_shape, weight, bias, eps = 1e-5): normalized_shape
 * is the size of the last dim (a number) or the sizes of the last dims (a
 * table), as in PyTorch; weight and bias may be nil. */
static int l_layer_norm(lua_State *L) {
    ty_tensor *x = tyl_check_tensor(L, 1);
    int64_t shape[TY_MAX_DIMS];
    int nd;
    if (lua_type(L, 2) == LUA_TTABLE) {
        nd = tyl_shape_table(L, 2, shape, "layer_norm");
    } else {
        shape[0] = tyl_check_int(L, 2, "layer_norm");
        nd = 1;
    }
    if (nd < 1 || nd > x->ndim)
        return tyl_errorf(L, "layer_norm: normalized_shape has %d dims but the input has %d", nd,
                          x->ndim);
    for (int i = 0; i < nd; i++)
        if (shape[i] != x->shape[x->ndim - nd + i]) {
            char a[128], b[128];
            return tyl_errorf(L,
                              "layer_norm: normalized_shape %s does not match the last dims of "
                              "the input shape %s",
                              ty_shape_str_n(nd, shape, a, sizeof a), ty_shape_str(x, b, sizeof b));
        }
    ty_tensor *w = lua_isnoneornil(L, 3) ? NULL : tyl_check_tensor(L, 3);
    ty_tensor *b = lua_isnoneornil(L, 4) ? NULL : tyl_check_tensor(L, 4);
    double eps = luaL_optnumber(L, 5, 1e-5);
    tyl_box *slot = tyl_slot(L);
    return tyl_fill(L, slot, ty_layer_norm(x, nd, w, b, eps, NULL, NULL), "layer_norm");
}

/* {reduction = "mean"|"sum"|"none", ignore_index = -100, label_smoothing = 0} */
static void loss_opts(lua_State *L, int arg, ty_loss_opts *o, bool smoothing, const char *fn) {
    *o = TY_LOSS_OPTS_DEFAULT;
    if (lua_isnoneornil(L, arg)) return;
    luaL_checktype(L, arg, LUA_TTABLE);
    static const char *const keys[] = {"reduction", "ignore_index", "label_smoothing", NULL};
    static const char *const keys_nll[] = {"reduction", "ignore_index", NULL};
    tyl_check_keys(L, arg, smoothing ? keys : keys_nll, fn);
    if (tyl_opt_field(L, arg, "reduction") != LUA_TNIL) {
        const char *r = lua_tostring(L, -1);
        if (!r)
            tyl_errorf(L, "%s: option 'reduction' must be a string", fn);
        else if (strcmp(r, "mean") == 0)
            o->reduction = TY_REDUCTION_MEAN;
        else if (strcmp(r, "sum") == 0)
            o->reduction = TY_REDUCTION_SUM;
        else if (strcmp(r, "none") == 0)
            o->reduction = TY_REDUCTION_NONE;
        else
            tyl_errorf(L, "%s: unknown reduction '%s' (expected mean, sum or none)", fn, r);
    }
    lua_pop(L, 1);
    if (tyl_opt_field(L, arg, "ignore_index") != LUA_TNIL) {
        int isnum;
        o->ignore_index = lua_tointegerx(L, -1, &isnum);
        if (!isnum) tyl_errorf(L, "%s: option 'ignore_index' must be an integer", fn);
    }
    lua_pop(L, 1);
    o->label_smoothing = tyl_opt_number(L, arg, "label_smoothing", 0.0, fn);
}

/* The loss functions: logits (N,C,...) or (C), labels of class numbers
 * 1..C (or ignore_index). */
static int loss(lua_State *L, bool nll) {
    const char *fn = nll ? "nll_loss" : "cross_entropy";
    ty_tensor *x = tyl_check_tensor(L, 1);
    ty_tensor *labels = tyl_check_tensor(L, 2);
    ty_loss_opts o;
    loss_opts(L, 3, &o, !nll, fn);
    if (x->ndim == 0) return tyl_errorf(L, "%s: logits must have at least 1 dim", fn);
    int64_t classes = x->ndim == 1 ? x->shape[0] : x->shape[1];
    tyl_box *keep = tyl_slot(L);
    keep->t = tyl_index_to_c(L, labels, classes, fn, "label", true, o.ignore_index);
    o.ignore_index -= 1; /* the labels were shifted with it */
    tyl_box *slot = tyl_slot(L);
    ty_tensor *r = nll ? ty_nll_loss(x, keep->t, &o) : ty_cross_entropy(x, keep->t, &o, NULL);
    return tyl_fill(L, slot, r, fn);
}
static int l_cross_entropy(lua_State *L) {
    return loss(L, false);
}
static int l_nll_loss(lua_State *L) {
    return loss(L, true);
}

/* attention(q, k, v, {mask =, causal =, scale =, return_weights =})
 * -> out [, weights] */
static int l_attention(lua_State *L) {
    ty_tensor *q = tyl_check_tensor(L, 1), *k = tyl_check_tensor(L, 2), *v = tyl_check_tensor(L, 3);
    ty_attention_opts o = {0};
    ty_tensor *mask = NULL;
    bool want_weights = false;
    if (!lua_isnoneornil(L, 4)) {
        luaL_checktype(L, 4, LUA_TTABLE);
        static const char *const keys[] = {"mask", "causal", "scale", "return_weights", NULL};
        tyl_check_keys(L, 4, keys, "attention");
        if (tyl_opt_field(L, 4, "mask") != LUA_TNIL) {
            mask = tyl_to_tensor(L, -1);
            if (!mask) return tyl_errorf(L, "attention: option 'mask' must be a tensor");
        }
        lua_pop(L, 1); /* the option table keeps the mask alive */
        o.causal = tyl_opt_bool(L, 4, "causal", false, "attention");
        o.scale = tyl_opt_number(L, 4, "scale", 0.0, "attention");
        want_weights = tyl_opt_bool(L, 4, "return_weights", false, "attention");
    }
    tyl_box *slot = tyl_slot(L);
    tyl_box *wslot = want_weights ? tyl_slot(L) : NULL;
    ty_tensor *w = NULL;
    ty_tensor *out = ty_attention(q, k, v, mask, &o, want_weights ? &w : NULL);
    if (!out) return tyl_raise(L, "attention", NULL);
    tyl_fill_at(L, slot, out);
    if (!want_weights) return 1;
    tyl_fill_at(L, wslot, w);
    return 2;
}

/* dropout(x, p = 0.5, train = true) */
static int l_dropout(lua_State *L) {
    ty_tensor *x = tyl_check_tensor(L, 1);
    double p = luaL_optnumber(L, 2, 0.5);
    bool train = lua_isnoneornil(L, 3) ? true : lua_toboolean(L, 3);
    tyl_box *slot = tyl_slot(L);
    return tyl_fill(L, slot, ty_dropout(x, p, train, NULL, NULL), "dropout");
}

static const luaL_Reg both[] = {
    {"softmax", l_softmax},
    {"log_softmax", l_log_softmax},
    {"layer_norm", l_layer_norm},
    {"cross_entropy", l_cross_entropy},
    {"nll_loss", l_nll_loss},
    {"dropout", l_dropout},
    {NULL, NULL},
};

static const luaL_Reg module_only[] = {
    {"attention", l_attention},
    {NULL, NULL},
};

void tyl_open_nn(lua_State *L) {
    tyl_reg_both(L, both);
    tyl_reg_module(L, module_only);
}
