/* tycho._e3: the C half of the e3 module (lang/lua/tycho/e3.lua builds the
 * user-facing e3 API on it): wigner_3j, wigner_D, matrix_to_angles,
 * spherical_harmonics, and tensor-product plans (a userdata holding one
 * reference to a ty_e3_tp) with the product itself. Offsets in path tables
 * are 0-based, as in the C API; only e3.lua calls these. */
#include <string.h>

#include "e3.h"
#include "l_util.h"

static const char tp_meta[] = "tycho.e3_tp";

typedef struct {
    ty_e3_tp *tp;
} tp_box;

static ty_e3_tp *check_tp(lua_State *L, int arg) {
    tp_box *b = luaL_checkudata(L, arg, tp_meta);
    if (!b->tp) luaL_argerror(L, arg, "a released tensor-product plan");
    return b->tp;
}

static int l_tp_gc(lua_State *L) {
    tp_box *b = luaL_checkudata(L, 1, tp_meta);
    ty_e3_tp_release(b->tp);
    b->tp = NULL;
    return 0;
}

static int int_arg(lua_State *L, int arg, int lo, int hi, const char *fn, const char *what) {
    int64_t v = tyl_check_int(L, arg, fn);
    if (v < lo || v > hi)
        return tyl_errorf(L, "%s: %s %lld is out of range (%d to %d)", fn, what, (long long)v, lo,
                          hi);
    return (int)v;
}

/* wigner_3j(l1, l2, l3, dtype = "f32") */
static int l_wigner_3j(lua_State *L) {
    const char *fn = "wigner_3j";
    int l1 = int_arg(L, 1, 0, TY_E3_LMAX, fn, "l1"), l2 = int_arg(L, 2, 0, TY_E3_LMAX, fn, "l2");
    int l3 = int_arg(L, 3, 0, TY_E3_LMAX, fn, "l3");
    ty_dtype dt = lua_isnoneornil(L, 4) ? TY_F32 : tyl_check_dtype(L, 4, fn);
    tyl_box *slot = tyl_slot(L);
    return tyl_fill(L, slot, ty_e3_wigner_3j(l1, l2, l3, dt), fn);
}

/* wigner_D(l, alpha, beta, gamma): angle tensors */
static int l_wigner_D(lua_State *L) {
    const char *fn = "wigner_D";
    int l = int_arg(L, 1, 0, TY_E3_LMAX_D, fn, "l");
    ty_tensor *a = tyl_check_tensor(L, 2), *b = tyl_check_tensor(L, 3), *c = tyl_check_tensor(L, 4);
    tyl_box *slot = tyl_slot(L);
    return tyl_fill(L, slot, ty_e3_wigner_D(l, a, b, c), fn);
}

static int l_matrix_to_angles(lua_State *L) {
    ty_tensor *r = tyl_check_tensor(L, 1);
    tyl_box *slot = tyl_slot(L);
    return tyl_fill(L, slot, ty_e3_matrix_to_angles(r), "matrix_to_angles");
}

/* spherical_harmonics(lmax, x, normalize, normalization) */
static int l_spherical_harmonics(lua_State *L) {
    const char *fn = "spherical_harmonics";
    int lmax = int_arg(L, 1, 0, TY_E3_LMAX, fn, "lmax");
    ty_tensor *x = tyl_check_tensor(L, 2);
    bool normalize = lua_toboolean(L, 3);
    static const char *const names[] = {"integral", "component", "norm", NULL};
    const char *nz = luaL_optstring(L, 4, "integral");
    int which = -1;
    for (int i = 0; names[i]; i++)
        if (strcmp(nz, names[i]) == 0) which = i;
    if (which < 0)
        return tyl_errorf(L, "%s: unknown normalization '%s' (integral, component or norm)", fn,
                          nz);
    tyl_box *slot = tyl_slot(L);
    return tyl_fill(L, slot,
                    ty_e3_spherical_harmonics(lmax, x, normalize, (ty_e3_normalization)which), fn);
}

/* An integer field of the path table on top of the stack. */
static int64_t path_int(lua_State *L, int i, const char *key) {
    lua_getfield(L, -1, key);
    int isnum;
    int64_t v = lua_tointegerx(L, -1, &isnum);
    if (!isnum) tyl_errorf(L, "e3_tp_new: path %d: field '%s' must be an integer", i, key);
    lua_pop(L, 1);
    return v;
}

/* tp_new(dim1, dim2, dimo, {{l1 =, l2 =, lo =, off1 =, mul1 =, off2 =, mul2 =,
 * offo =, mulo =, mode = "uvw", has_weight = true, coef = 1}, ...}) */
static int l_tp_new(lua_State *L) {
    const char *fn = "e3_tp_new";
    int64_t d1 = tyl_check_int(L, 1, fn), d2 = tyl_check_int(L, 2, fn),
            d3 = tyl_check_int(L, 3, fn);
    luaL_checktype(L, 4, LUA_TTABLE);
    int n = (int)luaL_len(L, 4);
    ty_e3_path *paths = lua_newuserdatauv(L, sizeof *paths * (size_t)(n ? n : 1), 0);
    static const char *const modes[] = {"uvw", "uvu", "uvv", "uuw", "uuu", NULL};
    for (int i = 0; i < n; i++) {
        lua_geti(L, 4, i + 1);
        if (!lua_istable(L, -1)) return tyl_errorf(L, "%s: path %d must be a table", fn, i + 1);
        ty_e3_path *p = &paths[i];
        int64_t ls[3] = {path_int(L, i + 1, "l1"), path_int(L, i + 1, "l2"),
                         path_int(L, i + 1, "lo")};
        for (int k = 0; k < 3; k++)
            if (ls[k] < 0 || ls[k] > TY_E3_LMAX)
                return tyl_errorf(L, "%s: path %d: l %lld is out of range (0 to %d)", fn, i + 1,
                                  (long long)ls[k], TY_E3_LMAX);
        p->l1 = (int)ls[0], p->l2 = (int)ls[1], p->lo = (int)ls[2];
        p->off1 = path_int(L, i + 1, "off1"), p->mul1 = path_int(L, i + 1, "mul1");
        p->off2 = path_int(L, i + 1, "off2"), p->mul2 = path_int(L, i + 1, "mul2");
        p->offo = path_int(L, i + 1, "offo"), p->mulo = path_int(L, i + 1, "mulo");
        lua_getfield(L, -1, "mode");
        const char *m = lua_tostring(L, -1);
        int mode = -1;
        for (int k = 0; m && modes[k]; k++)
            if (strcmp(m, modes[k]) == 0) mode = k;
        if (mode < 0)
            return tyl_errorf(L, "%s: path %d: unknown mode '%s' (uvw, uvu, uvv, uuw or uuu)", fn,
                              i + 1, m ? m : "nil");
        p->mode = (ty_e3_mode)mode;
        lua_pop(L, 1);
        lua_getfield(L, -1, "has_weight");
        p->has_weight = lua_toboolean(L, -1);
        lua_pop(L, 1);
        lua_getfield(L, -1, "coef");
        p->coef = luaL_optnumber(L, -1, 1.0);
        lua_pop(L, 2);
    }
    tp_box *b = lua_newuserdatauv(L, sizeof *b, 0);
    b->tp = NULL;
    luaL_setmetatable(L, tp_meta);
    b->tp = ty_e3_tp_new(d1, d2, d3, n, paths);
    if (!b->tp) return tyl_raise(L, fn, NULL);
    return 1;
}

static int l_tp_weight_numel(lua_State *L) {
    lua_pushinteger(L, ty_e3_tp_weight_numel(check_tp(L, 1)));
    return 1;
}

/* tensor_product(plan, x1, x2, w or nil): x1 (Z, dim1), x2 (Z, dim2) */
static int l_tensor_product(lua_State *L) {
    ty_e3_tp *tp = check_tp(L, 1);
    ty_tensor *x1 = tyl_check_tensor(L, 2), *x2 = tyl_check_tensor(L, 3);
    ty_tensor *w = lua_isnoneornil(L, 4) ? NULL : tyl_check_tensor(L, 4);
    tyl_box *slot = tyl_slot(L);
    return tyl_fill(L, slot, ty_e3_tensor_product(tp, x1, x2, w), "e3_tensor_product");
}

static const luaL_Reg e3_fns[] = {
    {"wigner_3j", l_wigner_3j},
    {"wigner_D", l_wigner_D},
    {"matrix_to_angles", l_matrix_to_angles},
    {"spherical_harmonics", l_spherical_harmonics},
    {"tp_new", l_tp_new},
    {"tp_weight_numel", l_tp_weight_numel},
    {"tensor_product", l_tensor_product},
    {NULL, NULL},
};

void tyl_open_e3(lua_State *L) {
    if (luaL_newmetatable(L, tp_meta)) {
        lua_pushcfunction(L, l_tp_gc);
        lua_setfield(L, -2, "__gc");
        lua_pushstring(L, "e3 tensor-product plan");
        lua_setfield(L, -2, "__name");
    }
    lua_pop(L, 1);
    luaL_newlib(L, e3_fns);
    lua_setfield(L, -3, "_e3"); /* module table: below the method table */
}
