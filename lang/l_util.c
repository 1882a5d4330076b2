/* Argument helpers of the binding: integers, dims and indices (1-based in
 * Lua, 0-based in C), shapes, option tables, dtype and device names. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "l_util.h"

int tyl_errorf(lua_State *L, const char *fmt, ...) {
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return luaL_error(L, "%s", buf);
}

/* ---- numbers ---- */

int64_t tyl_check_int(lua_State *L, int arg, const char *fn) {
    int isnum;
    lua_Integer v = lua_tointegerx(L, arg, &isnum);
    if (isnum) return v;
    if (lua_type(L, arg) == LUA_TNUMBER)
        return tyl_errorf(L, "bad argument #%d to '%s' (number has no integer representation: %s)",
                          arg, fn, lua_tostring(L, arg));
    luaL_typeerror(L, arg, "integer");
    return 0;
}

int64_t tyl_opt_int(lua_State *L, int arg, int64_t def, const char *fn) {
    return lua_isnoneornil(L, arg) ? def : tyl_check_int(L, arg, fn);
}

double tyl_check_value(lua_State *L, int arg) {
    if (lua_type(L, arg) == LUA_TBOOLEAN) return lua_toboolean(L, arg);
    return luaL_checknumber(L, arg);
}

/* ---- dims and indices ---- */

static int dim_error(lua_State *L, int64_t d, int ndim, const char *fn) {
    if (ndim == 0)
        return tyl_errorf(L, "%s: dim %lld is out of range for a 0-d tensor (only 1 or -1)", fn,
                          (long long)d);
    return tyl_errorf(L,
                      "%s: dim %lld is out of range for a tensor with %d dim%s (dims are 1..%d "
                      "or -%d..-1)",
                      fn, (long long)d, ndim, ndim == 1 ? "" : "s", ndim, ndim);
}

int tyl_dim_value(lua_State *L, int64_t d, int ndim, const char *fn) {
    int n = ndim == 0 ? 1 : ndim;
    if (d >= 1 && d <= n) return (int)d - 1;
    if (d <= -1 && d >= -n) return (int)(d + n);
    return dim_error(L, d, ndim, fn);
}

int tyl_check_dim(lua_State *L, int arg, int ndim, const char *fn) {
    return tyl_dim_value(L, tyl_check_int(L, arg, fn), ndim, fn);
}

int tyl_check_dim_insert(lua_State *L, int arg, int ndim, const char *fn) {
    int64_t d = tyl_check_int(L, arg, fn);
    int n = ndim + 1;
    if (d >= 1 && d <= n) return (int)d - 1;
    if (d <= -1 && d >= -n) return (int)(d + n);
    return tyl_errorf(L, "%s: dim %lld is out of range: expected 1..%d or -%d..-1", fn,
                      (long long)d, n, n);
}

int64_t tyl_index_value(lua_State *L, int64_t i, int64_t n, int dim0, const char *fn) {
    if (i >= 1 && i <= n) return i - 1;
    if (i <= -1 && i >= -n) return i + n;
    if (i == 0)
        return tyl_errorf(L,
                          "%s: index 0 is out of range for dim %d of size %lld (indices are "
                          "1-based)",
                          fn, dim0 + 1, (long long)n);
    return tyl_errorf(L, "%s: index %lld is out of range for dim %d of size %lld", fn, (long long)i,
                      dim0 + 1, (long long)n);
}

bool tyl_opt_dims(lua_State *L, int arg, int ndim, int *dims, int *ndims, const char *fn) {
    int t = lua_type(L, arg);
    if (t == LUA_TNONE || t == LUA_TNIL) {
        *ndims = 0;
        return true;
    }
    if (t == LUA_TNUMBER) {
        dims[0] = tyl_check_dim(L, arg, ndim, fn);
        *ndims = 1;
        return true;
    }
    if (t != LUA_TTABLE) return false;
    lua_Integer n = luaL_len(L, arg);
    if (n > TY_MAX_DIMS) return tyl_errorf(L, "%s: too many dims (%lld)", fn, (long long)n);
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, arg, i);
        int isnum;
        lua_Integer d = lua_tointegerx(L, -1, &isnum);
        if (!isnum) return tyl_errorf(L, "%s: dims[%d] must be an integer", fn, (int)i);
        lua_pop(L, 1);
        dims[i - 1] = tyl_dim_value(L, d, ndim, fn);
        for (lua_Integer j = 1; j < i; j++)
            if (dims[j - 1] == dims[i - 1])
                return tyl_errorf(L, "%s: dim %lld is given twice", fn, (long long)d);
    }
    *ndims = (int)n;
    return true;
}

ty_tensor *tyl_index_to_c(lua_State *L, ty_tensor *idx, int64_t bound, const char *fn,
                          const char *what, bool use_ignore, int64_t ignore) {
    if (idx->dtype != TY_I64)
        tyl_errorf(L, "%s: %s tensor must be i64, got %s (convert with :long())", fn, what,
                   ty_dtype_name(idx->dtype));
    /* The check reads the values on the host; a contiguous CPU copy (or idx
     * itself) is held by a userdata so that raising cannot leak it. */
    tyl_box *tmp = tyl_slot(L);
    ty_tensor *c = ty_to_device(idx, ty_cpu());
    tmp->t = c ? ty_contiguous(c) : NULL;
    ty_tensor_release(c);
    if (!tmp->t) tyl_raise(L, fn, NULL);
    const int64_t *v = ty_data(tmp->t);
    int64_t n = ty_numel(tmp->t);
    for (int64_t i = 0; i < n; i++) {
        if ((v[i] >= 1 && v[i] <= bound) || (use_ignore && v[i] == ignore)) continue;
        tyl_errorf(L, "%s: %s %lld is out of range 1..%lld%s", fn, what, (long long)v[i],
                   (long long)bound, v[i] == 0 ? " (indices are 1-based)" : "");
    }
    lua_pop(L, 1);
    ty_tensor *r = ty_sub_scalar(idx, 1.0);
    if (!r) tyl_raise(L, fn, NULL);
    return r;
}

/* ---- shapes ---- */

static int64_t shape_entry(lua_State *L, int64_t v, const char *fn) {
    if (v < 0) tyl_errorf(L, "%s: negative size %lld in shape", fn, (long long)v);
    return v;
}

int tyl_shape_table(lua_State *L, int arg, int64_t *shape, const char *fn) {
    lua_Integer n = luaL_len(L, arg);
    if (n > TY_MAX_DIMS)
        return tyl_errorf(L, "%s: a shape has at most %d dims, got %lld", fn, TY_MAX_DIMS,
                          (long long)n);
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, arg, i);
        int isnum;
        lua_Integer v = lua_tointegerx(L, -1, &isnum);
        if (!isnum)
            return tyl_errorf(L, "%s: shape entry %d must be an integer, got %s", fn, (int)i,
                              lua_type(L, -1) == LUA_TNUMBER ? lua_tostring(L, -1)
                                                             : luaL_typename(L, -1));
        lua_pop(L, 1);
        shape[i - 1] = v;
    }
    return (int)n;
}

int tyl_check_shape(lua_State *L, int first, int64_t *shape, int *next, const char *fn) {
    if (lua_type(L, first) == LUA_TTABLE) {
        /* {2, 3} is a shape; {dtype = ...} is the option table that follows
         * a missing shape; {} is the empty shape (a scalar) */
        bool is_shape = lua_rawgeti(L, first, 1) != LUA_TNIL;
        lua_pop(L, 1);
        if (!is_shape) {
            lua_pushnil(L);
            is_shape = lua_next(L, first) == 0;
            if (!is_shape) lua_pop(L, 2);
        }
        if (is_shape) {
            int nd = tyl_shape_table(L, first, shape, fn);
            for (int d = 0; d < nd; d++) shape_entry(L, shape[d], fn);
            *next = first + 1;
            return nd;
        }
    }
    int nd = 0, arg = first;
    while (lua_type(L, arg) == LUA_TNUMBER) {
        if (nd == TY_MAX_DIMS)
            return tyl_errorf(L, "%s: a shape has at most %d dims", fn, TY_MAX_DIMS);
        shape[nd++] = shape_entry(L, tyl_check_int(L, arg, fn), fn);
        arg++;
    }
    *next = arg;
    return nd;
}

void tyl_push_shape(lua_State *L, int ndim, const int64_t *shape) {
    lua_createtable(L, ndim, 0);
    for (int d = 0; d < ndim; d++) {
        lua_pushinteger(L, shape[d]);
        lua_rawseti(L, -2, d + 1);
    }
}

/* ---- options ---- */

int tyl_opt_field(lua_State *L, int arg, const char *key) {
    if (lua_type(L, arg) != LUA_TTABLE) {
        lua_pushnil(L);
        return LUA_TNIL;
    }
    return lua_getfield(L, arg, key);
}

bool tyl_opt_bool(lua_State *L, int arg, const char *key, bool def, const char *fn) {
    int t = tyl_opt_field(L, arg, key);
    bool v = def;
    if (t == LUA_TBOOLEAN)
        v = lua_toboolean(L, -1);
    else if (t != LUA_TNIL)
        tyl_errorf(L, "%s: option '%s' must be a boolean, got %s", fn, key, lua_typename(L, t));
    lua_pop(L, 1);
    return v;
}

double tyl_opt_number(lua_State *L, int arg, const char *key, double def, const char *fn) {
    int t = tyl_opt_field(L, arg, key);
    double v = def;
    if (t == LUA_TNUMBER)
        v = lua_tonumber(L, -1);
    else if (t != LUA_TNIL)
        tyl_errorf(L, "%s: option '%s' must be a number, got %s", fn, key, lua_typename(L, t));
    lua_pop(L, 1);
    return v;
}

void tyl_check_keys(lua_State *L, int arg, const char *const *keys, const char *fn) {
    if (lua_type(L, arg) != LUA_TTABLE) return;
    lua_pushnil(L);
    while (lua_next(L, arg)) {
        lua_pop(L, 1);
        bool ok = false;
        if (lua_type(L, -1) == LUA_TSTRING) {
            const char *k = lua_tostring(L, -1);
            for (int i = 0; keys[i] && !ok; i++) ok = strcmp(k, keys[i]) == 0;
        }
        if (!ok) {
            luaL_Buffer b;
            luaL_buffinit(L, &b);
            for (int i = 0; keys[i]; i++) {
                if (i) luaL_addstring(&b, ", ");
                luaL_addstring(&b, keys[i]);
            }
            luaL_pushresult(&b);
            const char *k =
                lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : luaL_typename(L, -2);
            tyl_errorf(L, "%s: unknown option '%s' (expected %s)", fn, k, lua_tostring(L, -1));
        }
    }
}

ty_dtype tyl_check_dtype(lua_State *L, int arg, const char *fn) {
    const char *s = luaL_checkstring(L, arg);
    ty_dtype dt;
    if (ty_dtype_from_name(s, &dt) < 0)
        tyl_errorf(L, "%s: unknown dtype '%s' (expected f32, f64, bf16, f16, i64, u8 or bool)", fn,
                   s);
    return dt;
}

ty_device tyl_check_device(lua_State *L, int arg, const char *fn) {
    const char *s = luaL_checkstring(L, arg);
    ty_device d;
    if (ty_device_parse(s, &d) < 0) tyl_raise(L, fn, NULL);
    return d;
}

void tyl_check_opts(lua_State *L, int arg, tyl_opts *o, const char *fn) {
    memset(o, 0, sizeof *o);
    o->dtype = TY_F32;
    o->device = ty_cpu();
    int t = lua_type(L, arg);
    if (t == LUA_TNONE || t == LUA_TNIL) return;
    if (t != LUA_TTABLE) {
        luaL_typeerror(L, arg, "option table");
        return;
    }
    arg = lua_absindex(L, arg);
    static const char *const keys[] = {"dtype", "device", "requires_grad", NULL};
    tyl_check_keys(L, arg, keys, fn);
    if (lua_getfield(L, arg, "dtype") != LUA_TNIL) {
        if (lua_type(L, -1) != LUA_TSTRING)
            tyl_errorf(L, "%s: option 'dtype' must be a string", fn);
        o->dtype = tyl_check_dtype(L, -1, fn);
        o->has_dtype = true;
    }
    lua_pop(L, 1);
    if (lua_getfield(L, arg, "device") != LUA_TNIL) {
        if (lua_type(L, -1) != LUA_TSTRING)
            tyl_errorf(L, "%s: option 'device' must be a string", fn);
        o->device = tyl_check_device(L, -1, fn);
        o->has_device = true;
    }
    lua_pop(L, 1);
    o->requires_grad = tyl_opt_bool(L, arg, "requires_grad", false, fn);
}

void tyl_apply_opts(lua_State *L, tyl_box *slot, const tyl_opts *o, const char *fn) {
    if (o->has_device && !ty_device_equal(o->device, slot->t->device)) {
        ty_tensor *moved = ty_to_device(slot->t, o->device);
        if (!moved) tyl_raise(L, fn, NULL);
        ty_tensor_release(slot->t);
        slot->t = moved;
    }
    if (o->requires_grad && ty_set_requires_grad(slot->t, true) < 0) tyl_raise(L, fn, NULL);
}

/* ---- registration ---- */

void tyl_reg_both(lua_State *L, const luaL_Reg *fns) {
    for (; fns->name; fns++) {
        lua_pushcfunction(L, fns->func);
        lua_pushvalue(L, -1);
        lua_setfield(L, -3, fns->name);
        lua_setfield(L, -3, fns->name);
    }
}

void tyl_reg_module(lua_State *L, const luaL_Reg *fns) {
    for (; fns->name; fns++) {
        lua_pushcfunction(L, fns->func);
        lua_setfield(L, -3, fns->name);
    }
}
