/* Checkpoints: tycho.save(path, value) and tycho.load(path). The extension
 * picks the format, and loading never runs code:
 *   .safetensors   a table of name -> tensor (string values become the
 *                  file's metadata); load gives the table back, and the
 *                  metadata table as a second result
 *   .npy           one tensor (NumPy's format)
 *   .idx .gz       IDX files as MNIST ships them (load only) */
#include <string.h>

#include "l_util.h"

static bool ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* The dict is owned by a userdata with a __gc, so that a Lua error while
 * it is being filled cannot leak it. */
typedef struct {
    ty_tensor_dict *d;
} dict_box;

static int dict_gc(lua_State *L) {
    dict_box *b = lua_touserdata(L, 1);
    ty_dict_free(b->d);
    b->d = NULL;
    return 0;
}

static dict_box *push_dict_box(lua_State *L) {
    dict_box *b = lua_newuserdatauv(L, sizeof *b, 0);
    b->d = NULL;
    if (luaL_newmetatable(L, "tycho.dict")) {
        lua_pushcfunction(L, dict_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_setmetatable(L, -2);
    return b;
}

static int l_save(lua_State *L) {
    const char *path = luaL_checkstring(L, 1);
    if (ends_with(path, ".npy")) {
        ty_tensor *t = tyl_to_tensor(L, 2);
        if (!t)
            return tyl_errorf(L, "save: a .npy file holds one tensor, got a %s",
                              luaL_typename(L, 2));
        if (ty_npy_save(path, t) < 0) return tyl_raise(L, "save", NULL);
        return 0;
    }
    if (!ends_with(path, ".safetensors"))
        return tyl_errorf(L,
                          "save: unknown file type '%s' (use .safetensors for a table of "
                          "tensors, .npy for one tensor)",
                          path);
    if (lua_type(L, 2) != LUA_TTABLE || tyl_is_tensor(L, 2))
        return tyl_errorf(L,
                          "save: a .safetensors file holds a table of name -> tensor, got a %s "
                          "(wrap one tensor as {x = x})",
                          luaL_typename(L, 2));
    dict_box *b = push_dict_box(L);
    b->d = ty_dict_new();
    if (!b->d) return tyl_raise(L, "save", NULL);
    lua_pushnil(L);
    while (lua_next(L, 2)) {
        if (lua_type(L, -2) != LUA_TSTRING)
            return tyl_errorf(L, "save: table keys must be strings (tensor names), got a %s",
                              luaL_typename(L, -2));
        const char *name = lua_tostring(L, -2);
        ty_tensor *t = tyl_to_tensor(L, -1);
        int rc;
        if (t)
            rc = ty_dict_set(b->d, name, t);
        else if (lua_type(L, -1) == LUA_TSTRING)
            rc = ty_dict_set_meta(b->d, name, lua_tostring(L, -1));
        else
            return tyl_errorf(L,
                              "save: value '%s' is a %s (expected a tensor, or a string for "
                              "metadata)",
                              name, luaL_typename(L, -1));
        if (rc < 0) return tyl_raise(L, "save", NULL);
        lua_pop(L, 1);
    }
    if (ty_safetensors_save(path, b->d) < 0) return tyl_raise(L, "save", NULL);
    return 0;
}

static int l_load(lua_State *L) {
    const char *path = luaL_checkstring(L, 1);
    if (ends_with(path, ".npy") || ends_with(path, ".idx") || ends_with(path, ".gz") ||
        ends_with(path, "-ubyte")) {
        tyl_box *slot = tyl_slot(L);
        ty_tensor *t = ends_with(path, ".npy") ? ty_npy_load(path) : ty_idx_load(path);
        return tyl_fill(L, slot, t, "load");
    }
    if (!ends_with(path, ".safetensors"))
        return tyl_errorf(L, "load: unknown file type '%s' (expected .safetensors, .npy or .idx)",
                          path);
    dict_box *b = push_dict_box(L);
    b->d = ty_safetensors_load(path);
    if (!b->d) return tyl_raise(L, "load", NULL);
    lua_createtable(L, 0, b->d->n);
    for (int i = 0; i < b->d->n; i++) {
        /* the userdata takes the dict's reference (the dict frees NULLs) */
        tyl_box *slot = tyl_slot(L);
        ty_tensor *t = b->d->tensors[i];
        b->d->tensors[i] = NULL;
        tyl_fill_at(L, slot, t);
        lua_setfield(L, -2, b->d->names[i]);
    }
    lua_createtable(L, 0, b->d->nmeta);
    for (int i = 0; i < b->d->nmeta; i++) {
        lua_pushstring(L, b->d->meta_values[i]);
        lua_setfield(L, -2, b->d->meta_keys[i]);
    }
    return 2;
}

/* _load_idx(path): an IDX file whatever its name (data.idx calls it). */
static int l_load_idx(lua_State *L) {
    const char *path = luaL_checkstring(L, 1);
    tyl_box *slot = tyl_slot(L);
    return tyl_fill(L, slot, ty_idx_load(path), "data.idx");
}

static const luaL_Reg module_only[] = {
    {"save", l_save},
    {"load", l_load},
    {"_load_idx", l_load_idx},
    {NULL, NULL},
};

void tyl_open_io(lua_State *L) {
    tyl_reg_module(L, module_only);
}
