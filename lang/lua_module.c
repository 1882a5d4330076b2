/* tycho.so: the binding as a C module for a stock Lua 5.4 interpreter, so
 * that `local tycho = require("tycho")` works from `lua5.4` as well as from
 * the tycho binary.
 *
 * The module is libtycho's objects plus lang/l_*.c plus this file, linked
 * with -shared and WITHOUT liblua: the Lua API comes from the interpreter
 * that loads it (a second copy of Lua in the process would corrupt its
 * states). Its entry point is luaopen_tycho (lang/l_module.c), which Lua's
 * C searcher looks up by name when it loads tycho.so from package.cpath;
 * it is the same function the tycho binary calls at start-up, so the module
 * and the REPL expose exactly the same table.
 *
 * Build by hand (lang/devbuild does the same):
 *   cc -shared -fPIC -fopenmp -Isrc -Ilang $(pkg-config --cflags lua5.4) \
 *      src/[a-z]*.c lang/l_[a-z]*.c lang/lua_module.c -o tycho.so \
 *      $(pkg-config --libs openblas zlib libcjson) -lm
 *   lua5.4 -e 'package.cpath = "./?.so;" .. package.cpath; print(require("tycho").ones(2))'
 *
 * What a stock interpreter does not get is the REPL's Ctrl-C handling of
 * long C kernels (the tycho binary's signal handler sets ty_interrupt);
 * lua5.4's own handler still stops Lua code between calls. */
#include <lua.h>

#include "tycho_lua.h"

/* The symbol Lua's C searcher needs, checked to have the lua_CFunction
 * type the searcher calls it as. */
lua_CFunction const tyl_module_entry = luaopen_tycho;
