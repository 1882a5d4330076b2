/* The Lua binding of libtycho: what the tycho binary (lang/main.c), the
 * installed C module (require "tycho" from a stock lua5.4) and later C
 * modules (viz) share.
 *
 * A tensor is a full userdata holding one reference to a ty_tensor; its
 * metatable is registered as "tycho.Tensor". C errors become Lua errors
 * naming the function, the problem and the values. */
#ifndef TYCHO_LUA_H
#define TYCHO_LUA_H

#include <lua.h>
#include <stdbool.h>

#include "tensor.h"

/* Opens the module: returns (pushes) the tycho table. Also sets
 * package.loaded.tycho, so require("tycho") finds it. */
int luaopen_tycho(lua_State *L);

/* The tensor at idx, or a Lua error naming argument idx ("bad argument #1
 * to 'matmul' (tensor expected, got string)"). Borrowed. */
ty_tensor *tyl_check_tensor(lua_State *L, int idx);
/* The tensor at idx or NULL when it is not one. */
ty_tensor *tyl_to_tensor(lua_State *L, int idx);
/* Pushes a userdata owning t (the reference is stolen). t == NULL raises
 * the pending libtycho error (ty_last_error) as a Lua error prefixed with
 * fn's Lua name when the message does not already name it. */
void tyl_push_tensor(lua_State *L, ty_tensor *t, const char *fn);
/* Tells the binding that the state's collector runs in generational mode
 * (the tycho binary's choice), which changes how big tensors pace it. */
void tyl_set_generational(bool on);

/* Raises ty_last_error() as a Lua error (never returns). */
int tyl_error(lua_State *L, const char *fn);

#endif
