/* luaopen_tycho: builds the tycho table. Every l_*.c adds its functions to
 * the module table (tycho.exp) and, for tensor methods, to the method table
 * tycho.Tensor (x:exp()); the tensor metatable looks methods up there, so
 * listing tycho.Tensor lists every method (tab completion does). */
#include <string.h>
#include <time.h>

#include "l_util.h"

static int l_set_num_threads(lua_State *L) {
    ty_set_num_threads((int)tyl_check_int(L, 1, "set_num_threads"));
    return 0;
}

static int l_get_num_threads(lua_State *L) {
    lua_pushinteger(L, ty_get_num_threads());
    return 1;
}

/* set_printoptions{threshold =, edgeitems =, precision =, linewidth =,
 * sci_mode = "auto" | "never" | "always"}; omitted fields keep their
 * value; set_printoptions("default") restores the defaults. */
static int l_set_printoptions(lua_State *L) {
    ty_print_options o = ty_get_print_options();
    if (lua_type(L, 1) == LUA_TSTRING && strcmp(lua_tostring(L, 1), "default") == 0) {
        o = ty_print_options_default();
    } else {
        luaL_checktype(L, 1, LUA_TTABLE);
        static const char *const keys[] = {"threshold", "edgeitems", "precision",
                                           "linewidth", "sci_mode",  NULL};
        tyl_check_keys(L, 1, keys, "set_printoptions");
        const char *fn = "set_printoptions";
        o.threshold = (int64_t)tyl_opt_number(L, 1, "threshold", (double)o.threshold, fn);
        o.edgeitems = (int)tyl_opt_number(L, 1, "edgeitems", o.edgeitems, fn);
        o.precision = (int)tyl_opt_number(L, 1, "precision", o.precision, fn);
        o.linewidth = (int)tyl_opt_number(L, 1, "linewidth", o.linewidth, fn);
        if (tyl_opt_field(L, 1, "sci_mode") != LUA_TNIL) {
            const char *m = lua_tostring(L, -1);
            if (m && strcmp(m, "auto") == 0)
                o.sci_mode = TY_SCI_AUTO;
            else if (m && strcmp(m, "never") == 0)
                o.sci_mode = TY_SCI_NEVER;
            else if (m && strcmp(m, "always") == 0)
                o.sci_mode = TY_SCI_ALWAYS;
            else
                return tyl_errorf(L, "set_printoptions: sci_mode must be auto, never or always");
        }
        lua_pop(L, 1);
    }
    if (ty_set_print_options(&o) < 0) return tyl_raise(L, "set_printoptions", NULL);
    return 0;
}

static int l_get_printoptions(lua_State *L) {
    ty_print_options o = ty_get_print_options();
    lua_createtable(L, 0, 5);
    lua_pushinteger(L, o.threshold);
    lua_setfield(L, -2, "threshold");
    lua_pushinteger(L, o.edgeitems);
    lua_setfield(L, -2, "edgeitems");
    lua_pushinteger(L, o.precision);
    lua_setfield(L, -2, "precision");
    lua_pushinteger(L, o.linewidth);
    lua_setfield(L, -2, "linewidth");
    static const char *const modes[] = {"auto", "never", "always"};
    lua_pushstring(L, modes[o.sci_mode]);
    lua_setfield(L, -2, "sci_mode");
    return 1;
}

/* Number of live C tensors (for leak tests: after collectgarbage() a test
 * that kept nothing is back where it started). */
static int l_live_tensors(lua_State *L) {
    lua_pushinteger(L, ty_live_tensors());
    return 1;
}

/* time(): seconds on a monotonic wall clock (for timing code: os.clock
 * counts CPU time of every thread, which is not what a user waits for). */
static int l_time(lua_State *L) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    lua_pushnumber(L, (lua_Number)ts.tv_sec + (lua_Number)ts.tv_nsec * 1e-9);
    return 1;
}

static int l_empty_cache(lua_State *L) {
    (void)L;
    ty_cpu_empty_cache();
    return 0;
}

static const luaL_Reg module_only[] = {
    {"set_num_threads", l_set_num_threads},
    {"get_num_threads", l_get_num_threads},
    {"set_printoptions", l_set_printoptions},
    {"get_printoptions", l_get_printoptions},
    {"live_tensors", l_live_tensors},
    {"empty_cache", l_empty_cache},
    {"time", l_time},
    {NULL, NULL},
};

__attribute__((visibility("default"))) int luaopen_tycho(lua_State *L) {
    luaL_checkversion(L);
    lua_newtable(L);    /* the module */
    lua_newtable(L);    /* tycho.Tensor: the methods */
    tyl_open_tensor(L); /* first: it makes the metatable the others use */
    tyl_open_index(L);
    tyl_open_ops(L);
    tyl_open_reduce(L);
    tyl_open_linalg(L);
    tyl_open_shape(L);
    tyl_open_nn(L);
    tyl_open_create(L);
    tyl_open_autograd(L);
    tyl_open_io(L);
    tyl_open_e3(L);
    tyl_open_viz(L);
    tyl_open_optim(L);
    tyl_reg_module(L, module_only);
    lua_setfield(L, -2, "Tensor");

    lua_pushstring(L, TY_VERSION);
    lua_setfield(L, -2, "version");

    /* package.loaded.tycho, so that require("tycho") finds this table */
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
    lua_pushvalue(L, -2);
    lua_setfield(L, -2, "tycho");
    lua_pop(L, 1);
    return 1;
}
