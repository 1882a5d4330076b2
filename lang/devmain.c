/* tylua: a minimal driver for developing the binding before the REPL
 * exists (lang/devbuild builds it as /tmp/tycho-lua/tylua).
 *
 *   tylua script.lua args...    runs the script with `arg` as lua5.4 sets it
 *   tylua -e 'code'             runs code
 *
 * It opens the standard libraries, calls luaopen_tycho and sets the global
 * tycho; errors print with a traceback and exit with status 1. */
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdio.h>
#include <string.h>

#include "tycho_lua.h"

static int traceback(lua_State *L) {
    const char *msg = lua_tostring(L, 1);
    if (!msg) msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    luaL_traceback(L, L, msg, 1);
    return 1;
}

static int run(lua_State *L, int status, int nargs) {
    if (status == LUA_OK) {
        lua_pushcfunction(L, traceback);
        lua_insert(L, -(nargs + 2));
        status = lua_pcall(L, nargs, 0, -(nargs + 2));
    }
    if (status != LUA_OK) {
        fprintf(stderr, "tylua: %s\n", lua_tostring(L, -1));
        return 1;
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: tylua script.lua [args...] | tylua -e code\n");
        return 2;
    }
    lua_State *L = luaL_newstate();
    if (!L) return 1;
    luaL_openlibs(L);
    luaL_requiref(L, "tycho", luaopen_tycho, 1);
    lua_pop(L, 1);
    int rc;
    if (strcmp(argv[1], "-e") == 0 && argc >= 3) {
        rc = run(L, luaL_loadstring(L, argv[2]), 0);
    } else {
        /* arg: script name at 0, its arguments at 1.., the program at -1 */
        lua_createtable(L, argc - 2, 2);
        for (int i = 0; i < argc; i++) {
            lua_pushstring(L, argv[i]);
            lua_rawseti(L, -2, i - 1);
        }
        lua_setglobal(L, "arg");
        int status = luaL_loadfile(L, argv[1]);
        for (int i = 2; i < argc; i++) lua_pushstring(L, argv[i]);
        if (status != LUA_OK) lua_pop(L, argc - 2); /* keep only the message */
        rc = run(L, status, status == LUA_OK ? argc - 2 : 0);
    }
    lua_close(L);
    return rc;
}
