/* Private helpers of the Lua binding (lang/l_*.c): the tensor userdata, the
 * conversions between Lua's 1-based dims and indices and the C API's
 * 0-based ones, shapes, option tables, dtype and device names.
 *
 * The rule every binding function follows, so that nothing leaks when a
 * Lua error longjmps: parse and check every argument first (errors are
 * cheap then: nothing is owned), then push the result slot (tyl_slot), then
 * call the C function, then store its result in the slot (tyl_fill). A C
 * temporary is released before anything can raise. */
#ifndef TYCHO_L_UTIL_H
#define TYCHO_L_UTIL_H

#include <lauxlib.h>
#include <lua.h>
#include <stdbool.h>

#include "tycho.h"
#include "tycho_lua.h"

/* The full userdata of a tensor: one owned reference, or NULL once closed
 * (by __close or __gc). The magic number lets tyl_to_tensor recognise a
 * tensor without looking up its metatable (the fast path of every op);
 * Lua code cannot forge userdata contents, and no other userdata of this
 * size starts with this value. */
#define TYL_MAGIC 0x7479636820544e53ull /* "tych TNS" */
typedef struct {
    uint64_t magic;
    ty_tensor *t;
} tyl_box;

/* Registry key (its address) of the tensor metatable; also registered
 * under the name "tycho.Tensor". */
extern const char tyl_meta_key;

/* ---- tensors on the stack ---- */

/* Pushes a new, empty tensor userdata and returns its slot; store the result
 * of a C op in it with tyl_fill. A slot left empty is collected harmlessly. */
tyl_box *tyl_slot(lua_State *L);
/* Stores t (stolen) in the slot on top of the stack and returns 1 (the
 * number of results), or raises fn's error when t is NULL. */
int tyl_fill(lua_State *L, tyl_box *slot, ty_tensor *t, const char *fn);
/* tyl_fill for views: their memory is their base's, so the GC is told only
 * when the op had to copy (reshape of a non-contiguous tensor). */
int tyl_fill_view(lua_State *L, tyl_box *slot, ty_tensor *t, const char *fn);
/* Like tyl_fill, but for a slot that is not on top (several results). */
void tyl_fill_at(lua_State *L, tyl_box *slot, ty_tensor *t);
/* Pushes a new userdata holding a new reference to t (retained). */
void tyl_push_retained(lua_State *L, ty_tensor *t);
/* Raises a Lua error "fn: msg" (msg from ty_last_error unless given);
 * the message gets fn's name unless it already starts with it. */
int tyl_raise(lua_State *L, const char *fn, const char *msg);
/* luaL_error with printf's formats (%lld, %g, ...), which lua_pushfstring
 * lacks; the message gets the caller's position like luaL_error's. */
int tyl_errorf(lua_State *L, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Whether the value at idx is a tensor userdata (open or closed). */
bool tyl_is_tensor(lua_State *L, int idx);
/* The tensor at idx, a Lua number converted to a 0-d tensor is NOT done
 * here: numbers are handled by each op's scalar form. */

/* ---- numbers ---- */

/* An integer argument ("a float where an integer is needed" is an error). */
int64_t tyl_check_int(lua_State *L, int arg, const char *fn);
int64_t tyl_opt_int(lua_State *L, int arg, int64_t def, const char *fn);
/* A number argument; booleans are accepted as 0/1 where an op takes a
 * value (fill_, full). */
double tyl_check_value(lua_State *L, int arg);

/* ---- dims and indices (Lua 1-based <-> C 0-based) ---- */

/* The dim at arg: 1..ndim or -ndim..-1 -> 0-based. A 0-d tensor accepts
 * 1 and -1. Raises "fn: dim 3 is out of range for a tensor with 2 dims". */
int tyl_check_dim(lua_State *L, int arg, int ndim, const char *fn);
/* The same for a dim that may also be one past the end (unsqueeze, stack):
 * 1..ndim+1 or -(ndim+1)..-1. */
int tyl_check_dim_insert(lua_State *L, int arg, int ndim, const char *fn);
/* Converts a dim value (not an argument) like tyl_check_dim; what names it
 * in the message ("dim", "dims[2]"). */
int tyl_dim_value(lua_State *L, int64_t d, int ndim, const char *fn);
/* An element index along a dim of size n: 1..n or -n..-1 -> 0..n-1. */
int64_t tyl_index_value(lua_State *L, int64_t i, int64_t n, int dim0, const char *fn);
/* Dims given as one number or a table of numbers, or nothing (nil/none:
 * *ndims = 0, meaning all). Returns false when arg is neither. */
bool tyl_opt_dims(lua_State *L, int arg, int ndim, int *dims, int *ndims, const char *fn);

/* A copy of an i64 index tensor with 1 subtracted, after checking every
 * value is in 1..bound (ignore, when use_ignore, is also let through and
 * becomes ignore - 1). The result is a new reference; on a bad value it
 * raises a Lua error naming fn, what ("index", "label") and the value. */
ty_tensor *tyl_index_to_c(lua_State *L, ty_tensor *idx, int64_t bound, const char *fn,
                          const char *what, bool use_ignore, int64_t ignore);

/* ---- shapes ---- */

/* A shape from the arguments first.. : varargs of integers (2, 3) or one
 * table ({2, 3}). Returns ndim and sets *next to the first argument after
 * the shape. No shape at all gives ndim 0 (a scalar). */
int tyl_check_shape(lua_State *L, int first, int64_t *shape, int *next, const char *fn);
/* A shape from the table at arg. */
int tyl_shape_table(lua_State *L, int arg, int64_t *shape, const char *fn);
/* Pushes {d1, d2, ...}. */
void tyl_push_shape(lua_State *L, int ndim, const int64_t *shape);

/* ---- options, dtypes, devices ---- */

typedef struct {
    bool has_dtype;
    ty_dtype dtype;
    bool has_device;
    ty_device device;
    bool requires_grad;
} tyl_opts;

/* Reads {dtype=, device=, requires_grad=} from the table at arg (nil or
 * none is allowed); unknown keys are an error, so typos do not pass. */
void tyl_check_opts(lua_State *L, int arg, tyl_opts *o, const char *fn);
/* Applies requires_grad and device from o to the tensor in the slot on top
 * of the stack (replacing it when the device differs). */
void tyl_apply_opts(lua_State *L, tyl_box *slot, const tyl_opts *o, const char *fn);
/* Field of an option table: the value pushed (nil if absent), its type
 * returned. The table must be at arg (absolute index). */
int tyl_opt_field(lua_State *L, int arg, const char *key);
bool tyl_opt_bool(lua_State *L, int arg, const char *key, bool def, const char *fn);
double tyl_opt_number(lua_State *L, int arg, const char *key, double def, const char *fn);
/* Checks that the option table at arg has only the keys listed (NULL
 * ended); raises "fn: unknown option 'x'" otherwise. */
void tyl_check_keys(lua_State *L, int arg, const char *const *keys, const char *fn);
ty_dtype tyl_check_dtype(lua_State *L, int arg, const char *fn);
ty_device tyl_check_device(lua_State *L, int arg, const char *fn);

/* ---- GC accounting (l_tensor.c) ---- */

/* Tells the Lua GC about the memory of a freshly made tensor. */
void tyl_account(lua_State *L, ty_tensor *t);

/* ---- registration (each l_*.c) ----
 * Called by luaopen_tycho with the module table at index -2 and the method
 * table (tycho.Tensor) at index -1. reg_both puts each function in both. */
void tyl_reg_both(lua_State *L, const luaL_Reg *fns);
void tyl_reg_module(lua_State *L, const luaL_Reg *fns);
void tyl_open_tensor(lua_State *L);
void tyl_open_index(lua_State *L);
void tyl_open_ops(lua_State *L);
void tyl_open_reduce(lua_State *L);
void tyl_open_linalg(lua_State *L);
void tyl_open_shape(lua_State *L);
void tyl_open_nn(lua_State *L);
void tyl_open_create(lua_State *L);
void tyl_open_autograd(lua_State *L);
void tyl_open_io(lua_State *L);
void tyl_open_e3(lua_State *L); /* tycho._e3 (l_e3.c) */
void tyl_open_viz(lua_State *L); /* the internal table tycho._viz (l_viz.c) */

/* What the tycho binary lends viz (l_viz.c) to keep windows live: the
 * prompt's idle hook and a Lua count hook that lang/repl.c keeps next to its
 * Ctrl-C hook. NULL functions remove them. Without a host (the stock-Lua
 * module), viz sets the count hook itself. */
typedef struct {
    void (*set_idle_hook)(void (*fn)(void));
    void (*set_lua_hook)(lua_Hook fn, int count);
} tyl_viz_host;
void tyl_viz_set_host(const tyl_viz_host *host);
void tyl_open_optim(lua_State *L); /* tycho._optim, for optim.lua */

/* Indexing entry points used by the metatable (l_index.c). */
int tyl_index_get(lua_State *L); /* x[key], key a number, table or tensor */
int tyl_index_set(lua_State *L); /* x[key] = value */

#endif
