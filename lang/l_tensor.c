/* The tensor userdata: its metatable, lifetime (__gc, __close), what the
 * Lua GC is told about tensor memory, properties (x.shape, x.grad, ...),
 * inspection (size, dim, numel, item, tolist, __tostring, #x) and dtype /
 * device conversion.
 *
 * A tensor is a full userdata holding one reference to a ty_tensor. Its
 * metatable's __index is a C function: a string key is looked up in the
 * method table (tycho.Tensor), then in the property getters; any other key
 * (a number, a table, a tensor) indexes the tensor (l_index.c). */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "l_util.h"

const char tyl_meta_key = 0;

/* ---- the Lua GC and tensor memory ----
 *
 * Lua's collector only sees the bytes it allocated itself: a tensor's
 * userdata is 16 bytes however big its data, so a loop making big tensors
 * would run far ahead of the collector (Torch7's problem). We therefore
 * report each new tensor's data bytes as GC debt with lua_gc(LUA_GCSTEP,
 * kb): for the collector this is exactly as if Lua had allocated that many
 * bytes itself, so it runs its incremental steps at the same pace as for
 * an equal amount of Lua objects (a big tensor in a small heap completes a
 * cycle, which frees the dead tensors, before the next one is made). Small
 * tensors are summed and reported in chunks of TYL_GC_GRAIN bytes, so the
 * cost on the small-op fast path is one add and one compare; their C
 * headers (a few hundred bytes) are not counted: they are bounded by the
 * number of userdata, which Lua does see. Views share their base's memory
 * and are not counted. */
#define TYL_GC_GRAIN ((size_t)256 << 10)
static size_t gc_pending = 0;

/* In generational mode (the tycho binary's default, see lang/main.c) a GC
 * step is a minor collection, and stepping at every big tensor would age
 * whatever is alive at that moment into the old generation, which only a
 * major collection frees. There the pacing is by volume instead: after
 * TYL_GC_FULL_MIN bytes of new tensors (or four times Lua's own heap, if
 * larger, so that a big Lua heap is not traversed too often) one full
 * collection frees every dead tensor. */
#define TYL_GC_FULL_MIN ((size_t)64 << 20)
static bool gc_generational = false;
static size_t gc_since_full = 0;

void tyl_set_generational(bool on) {
    gc_generational = on;
}

void tyl_account(lua_State *L, ty_tensor *t) {
    if (t->refcount != 1) return; /* an existing tensor handed back, already counted */
    gc_pending += t->storage->nbytes;
    if (gc_pending < TYL_GC_GRAIN) return;
    size_t kb = gc_pending >> 10;
    gc_pending = 0;
    /* the collector stays off when the user stopped it */
    if (lua_gc(L, LUA_GCISRUNNING) != 1) return;
    if (!gc_generational) {
        lua_gc(L, LUA_GCSTEP, kb > INT_MAX ? INT_MAX : (int)kb);
        return;
    }
    gc_since_full += kb << 10;
    size_t heap = (size_t)lua_gc(L, LUA_GCCOUNT) << 10;
    size_t limit = 4 * heap > TYL_GC_FULL_MIN ? 4 * heap : TYL_GC_FULL_MIN;
    if (gc_since_full < limit) return;
    gc_since_full = 0;
    lua_gc(L, LUA_GCCOLLECT);
}

/* ---- userdata ---- */

/* The metatable is also kept at an integer registry reference: fetching it
 * from the registry's array part is several times cheaper than the hashed
 * lookup of tyl_meta_key, and tyl_slot runs for every tensor made. When a
 * second Lua state gets a different reference number, every state falls
 * back to the key. */
static int meta_ref = LUA_NOREF;
static bool meta_ref_shared = true;

static void push_meta(lua_State *L) {
    if (meta_ref_shared)
        lua_rawgeti(L, LUA_REGISTRYINDEX, meta_ref);
    else
        lua_rawgetp(L, LUA_REGISTRYINDEX, &tyl_meta_key);
}

tyl_box *tyl_slot(lua_State *L) {
    tyl_box *b = lua_newuserdatauv(L, sizeof *b, 0);
    b->magic = TYL_MAGIC;
    b->t = NULL;
    push_meta(L);
    lua_setmetatable(L, -2);
    return b;
}

int tyl_raise(lua_State *L, const char *fn, const char *msg) {
    if (!msg) msg = ty_last_error();
    if (!msg || !*msg) msg = "failed";
    size_t n = strlen(fn);
    if (strncmp(msg, fn, n) == 0 && msg[n] == ':') return tyl_errorf(L, "%s", msg);
    return tyl_errorf(L, "%s: %s", fn, msg);
}

int tyl_fill(lua_State *L, tyl_box *slot, ty_tensor *t, const char *fn) {
    if (!t) return tyl_raise(L, fn, NULL);
    slot->t = t;
    tyl_account(L, t);
    return 1;
}

int tyl_fill_view(lua_State *L, tyl_box *slot, ty_tensor *t, const char *fn) {
    if (!t) return tyl_raise(L, fn, NULL);
    slot->t = t;
    if (t->storage->refcount == 1) tyl_account(L, t);
    return 1;
}

void tyl_fill_at(lua_State *L, tyl_box *slot, ty_tensor *t) {
    slot->t = t;
    if (t) tyl_account(L, t);
}

void tyl_push_retained(lua_State *L, ty_tensor *t) {
    tyl_box *b = tyl_slot(L);
    b->t = ty_tensor_retain(t);
}

bool tyl_is_tensor(lua_State *L, int idx) {
    if (lua_type(L, idx) != LUA_TUSERDATA || lua_rawlen(L, idx) != sizeof(tyl_box)) return false;
    const tyl_box *b = lua_touserdata(L, idx);
    return b->magic == TYL_MAGIC;
}

ty_tensor *tyl_to_tensor(lua_State *L, int idx) {
    if (lua_type(L, idx) != LUA_TUSERDATA || lua_rawlen(L, idx) != sizeof(tyl_box)) return NULL;
    const tyl_box *b = lua_touserdata(L, idx);
    return b->magic == TYL_MAGIC ? b->t : NULL;
}

ty_tensor *tyl_check_tensor(lua_State *L, int idx) {
    ty_tensor *t = tyl_to_tensor(L, idx);
    if (t) return t;
    if (tyl_is_tensor(L, idx)) luaL_argerror(L, idx, "tensor has been closed");
    luaL_typeerror(L, idx, "tensor");
    return NULL;
}

void tyl_push_tensor(lua_State *L, ty_tensor *t, const char *fn) {
    if (!t) {
        tyl_error(L, fn);
        return;
    }
    tyl_box *b = tyl_slot(L);
    b->t = t;
    tyl_account(L, t);
}

int tyl_error(lua_State *L, const char *fn) {
    return tyl_raise(L, fn, NULL);
}

/* __gc and __close: drop the reference now (a closed tensor stays a valid
 * userdata; using it is an error, not a crash). */
static int t_release(lua_State *L) {
    if (!tyl_is_tensor(L, 1)) return 0;
    tyl_box *b = lua_touserdata(L, 1);
    if (b->t) {
        ty_tensor *t = b->t;
        b->t = NULL;
        ty_tensor_release(t);
    }
    return 0;
}

static int t_tostring(lua_State *L) {
    ty_tensor *t = tyl_to_tensor(L, 1);
    if (!t) {
        lua_pushstring(L, "tensor(closed)");
        return 1;
    }
    char *s = ty_format(t, NULL);
    if (!s) return tyl_raise(L, "tostring", NULL);
    lua_pushstring(L, s);
    free(s);
    return 1;
}

static int t_len(lua_State *L) {
    ty_tensor *t = tyl_check_tensor(L, 1);
    if (t->ndim == 0) return tyl_errorf(L, "len: a 0-d tensor has no length (use numel)");
    lua_pushinteger(L, t->shape[0]);
    return 1;
}

/* ---- properties ---- */

static int p_shape(lua_State *L, ty_tensor *t) {
    tyl_push_shape(L, t->ndim, t->shape);
    return 1;
}
static int p_dtype(lua_State *L, ty_tensor *t) {
    lua_pushstring(L, ty_dtype_name(t->dtype));
    return 1;
}
static int p_device(lua_State *L, ty_tensor *t) {
    char buf[32];
    lua_pushstring(L, ty_device_name(t->device, buf, sizeof buf));
    return 1;
}
static int p_grad(lua_State *L, ty_tensor *t) {
    if (t->grad)
        tyl_push_retained(L, t->grad);
    else
        lua_pushnil(L);
    return 1;
}
static int p_requires_grad(lua_State *L, ty_tensor *t) {
    lua_pushboolean(L, t->requires_grad);
    return 1;
}
static int p_grad_fn(lua_State *L, ty_tensor *t) {
    if (t->grad_fn)
        lua_pushstring(L, t->grad_fn->name);
    else
        lua_pushnil(L);
    return 1;
}
static int p_ndim(lua_State *L, ty_tensor *t) {
    lua_pushinteger(L, t->ndim);
    return 1;
}

typedef struct {
    const char *name;
    int (*get)(lua_State *L, ty_tensor *t);
} property;

static const property properties[] = {
    {"shape", p_shape},
    {"dtype", p_dtype},
    {"device", p_device},
    {"grad", p_grad},
    {"requires_grad", p_requires_grad},
    {"grad_fn", p_grad_fn},
    {"ndim", p_ndim},
    {NULL, NULL},
};

/* __index(x, key); upvalue 1: the method table, upvalue 2: name -> getter
 * index in properties[] (a small table, so a lookup is one rawget). */
static int t_index(lua_State *L) {
    if (lua_type(L, 2) == LUA_TSTRING) {
        lua_pushvalue(L, 2);
        if (lua_rawget(L, lua_upvalueindex(1)) != LUA_TNIL) return 1;
        lua_pushvalue(L, 2);
        if (lua_rawget(L, lua_upvalueindex(2)) != LUA_TNUMBER) return 1; /* nil */
        int k = (int)lua_tointeger(L, -1);
        ty_tensor *t = tyl_to_tensor(L, 1);
        if (!t) return tyl_errorf(L, "tensor has been closed");
        return properties[k].get(L, t);
    }
    return tyl_index_get(L);
}

static int set_grad(lua_State *L, ty_tensor *t) {
    if (lua_isnil(L, 3)) {
        ty_zero_grad(t);
        return 0;
    }
    ty_tensor *g = tyl_to_tensor(L, 3);
    if (!g) return tyl_errorf(L, "grad: expected a tensor or nil, got %s", luaL_typename(L, 3));
    char a[128], b[128];
    if (g->ndim != t->ndim || memcmp(g->shape, t->shape, sizeof(int64_t) * (size_t)t->ndim))
        return tyl_errorf(L, "grad: assigned gradient has shape %s but the tensor has shape %s",
                          ty_shape_str(g, a, sizeof a), ty_shape_str(t, b, sizeof b));
    if (!ty_device_equal(g->device, t->device))
        return tyl_errorf(L, "grad: assigned gradient is on another device than the tensor");
    if (g == t) return tyl_errorf(L, "grad: a tensor cannot be its own gradient");
    ty_tensor *old = t->grad;
    t->grad = ty_tensor_retain(g);
    ty_tensor_release(old);
    return 0;
}

static int t_newindex(lua_State *L) {
    if (lua_type(L, 2) == LUA_TSTRING) {
        const char *k = lua_tostring(L, 2);
        ty_tensor *t = tyl_check_tensor(L, 1);
        if (strcmp(k, "grad") == 0) return set_grad(L, t);
        if (strcmp(k, "requires_grad") == 0) {
            luaL_checktype(L, 3, LUA_TBOOLEAN);
            if (ty_set_requires_grad(t, lua_toboolean(L, 3)) < 0)
                return tyl_raise(L, "requires_grad", NULL);
            return 0;
        }
        return tyl_errorf(L,
                          "cannot set field '%s' of a tensor (tensors only have the "
                          "settable fields grad and requires_grad)",
                          k);
    }
    return tyl_index_set(L);
}

/* ---- inspection methods ---- */

static int m_size(lua_State *L) {
    ty_tensor *t = tyl_check_tensor(L, 1);
    if (lua_isnoneornil(L, 2)) {
        tyl_push_shape(L, t->ndim, t->shape);
        return 1;
    }
    int d = tyl_check_dim(L, 2, t->ndim, "size");
    lua_pushinteger(L, t->ndim ? t->shape[d] : 1);
    return 1;
}

static int m_stride(lua_State *L) {
    ty_tensor *t = tyl_check_tensor(L, 1);
    if (lua_isnoneornil(L, 2)) {
        tyl_push_shape(L, t->ndim, t->strides);
        return 1;
    }
    int d = tyl_check_dim(L, 2, t->ndim, "stride");
    lua_pushinteger(L, t->ndim ? t->strides[d] : 1);
    return 1;
}

static int m_dim(lua_State *L) {
    lua_pushinteger(L, tyl_check_tensor(L, 1)->ndim);
    return 1;
}

static int m_numel(lua_State *L) {
    lua_pushinteger(L, ty_numel(tyl_check_tensor(L, 1)));
    return 1;
}

static int m_is_contiguous(lua_State *L) {
    lua_pushboolean(L, ty_is_contiguous(tyl_check_tensor(L, 1)));
    return 1;
}

static int m_is_leaf(lua_State *L) {
    lua_pushboolean(L, ty_is_leaf(tyl_check_tensor(L, 1)));
    return 1;
}

static int m_is_tensor(lua_State *L) {
    lua_pushboolean(L, tyl_is_tensor(L, 1));
    return 1;
}

/* Pushes element p of dtype dt as the Lua value it reads as. */
static void push_element(lua_State *L, const void *p, ty_dtype dt) {
    if (dt == TY_BOOL)
        lua_pushboolean(L, *(const uint8_t *)p != 0);
    else if (ty_dtype_is_integral(dt))
        lua_pushinteger(L, ty_load_as_i64(p, dt));
    else
        lua_pushnumber(L, ty_load_as_double(p, dt));
}

/* A contiguous CPU copy of t (or t itself) owned by a userdata pushed on the
 * stack, so that Lua errors while reading it cannot leak it. */
static ty_tensor *host_contiguous(lua_State *L, ty_tensor *t, const char *fn) {
    tyl_box *slot = tyl_slot(L);
    ty_tensor *c = ty_to_device(t, ty_cpu());
    ty_tensor *h = c ? ty_contiguous(c) : NULL;
    ty_tensor_release(c);
    if (!h) tyl_raise(L, fn, NULL);
    slot->t = h;
    return h;
}

static int m_item(lua_State *L) {
    ty_tensor *t = tyl_check_tensor(L, 1);
    if (ty_numel(t) != 1) {
        char buf[128];
        return tyl_errorf(L, "item: the tensor has %lld elements (shape %s), item needs exactly 1",
                          (long long)ty_numel(t), ty_shape_str(t, buf, sizeof buf));
    }
    if (t->device.type == TY_DEV_CPU) {
        push_element(L,
                     (const char *)t->storage->data + t->offset * (int64_t)ty_dtype_size(t->dtype),
                     t->dtype);
        return 1;
    }
    ty_tensor *h = host_contiguous(L, t, "item");
    push_element(L, ty_data(h), h->dtype);
    return 1;
}

static void push_list(lua_State *L, const char *data, ty_dtype dt, int ndim, const int64_t *shape,
                      const int64_t *strides) {
    size_t es = ty_dtype_size(dt);
    lua_createtable(L, shape[0] > INT_MAX ? INT_MAX : (int)shape[0], 0);
    for (int64_t i = 0; i < shape[0]; i++) {
        const char *p = data + i * strides[0] * (int64_t)es;
        if (ndim == 1)
            push_element(L, p, dt);
        else
            push_list(L, p, dt, ndim - 1, shape + 1, strides + 1);
        lua_rawseti(L, -2, i + 1);
    }
}

static int m_tolist(lua_State *L) {
    ty_tensor *t = tyl_check_tensor(L, 1);
    ty_tensor *h = host_contiguous(L, t, "tolist");
    if (h->ndim == 0) {
        push_element(L, ty_data(h), h->dtype);
        return 1;
    }
    luaL_checkstack(L, h->ndim + 4, "tolist");
    push_list(L, ty_data(h), h->dtype, h->ndim, h->shape, h->strides);
    return 1;
}

/* ---- dtype and device conversion ---- */

/* Result of converting t to dtype dt and device dev (either may equal t's). */
static int convert(lua_State *L, ty_tensor *t, bool has_dt, ty_dtype dt, bool has_dev,
                   ty_device dev, const char *fn) {
    tyl_box *slot = tyl_slot(L);
    ty_tensor *a = has_dev ? ty_to_device(t, dev) : ty_tensor_retain(t);
    ty_tensor *b = a && has_dt ? ty_cast(a, dt) : ty_tensor_retain(a);
    ty_tensor_release(a);
    if (!b && has_dev && dev.type == TY_DEV_CUDA)
        return tyl_raise(L, fn,
                         "CUDA is not available (tycho was built without CUDA, or no GPU "
                         "was found); tycho.cuda.is_available() tells");
    return tyl_fill(L, slot, b, fn);
}

static bool is_dtype_name(const char *s) {
    static const char *const names[] = {"f32", "f64", "bf16", "f16", "i64", "u8", "bool", NULL};
    for (int i = 0; names[i]; i++)
        if (strcmp(s, names[i]) == 0) return true;
    return false;
}

/* x:to("f64"), x:to("cuda"), x:to({dtype=, device=}), x:to(other) */
static int m_to(lua_State *L) {
    ty_tensor *t = tyl_check_tensor(L, 1);
    if (lua_type(L, 2) == LUA_TSTRING) {
        const char *s = lua_tostring(L, 2);
        if (is_dtype_name(s))
            return convert(L, t, true, tyl_check_dtype(L, 2, "to"), false, t->device, "to");
        return convert(L, t, false, t->dtype, true, tyl_check_device(L, 2, "to"), "to");
    }
    if (lua_type(L, 2) == LUA_TTABLE) {
        tyl_opts o;
        tyl_check_opts(L, 2, &o, "to");
        return convert(L, t, o.has_dtype, o.dtype, o.has_device, o.device, "to");
    }
    ty_tensor *other = tyl_to_tensor(L, 2);
    if (other) return convert(L, t, true, other->dtype, true, other->device, "to");
    return luaL_typeerror(L, 2, "dtype name, device name, option table or tensor");
}

static int m_cuda(lua_State *L) {
    ty_tensor *t = tyl_check_tensor(L, 1);
    ty_device d = {TY_DEV_CUDA, 0};
    if (!lua_isnoneornil(L, 2)) d.index = (int)tyl_check_int(L, 2, "cuda");
    return convert(L, t, false, t->dtype, true, d, "cuda");
}

static int m_cpu(lua_State *L) {
    ty_tensor *t = tyl_check_tensor(L, 1);
    return convert(L, t, false, t->dtype, true, ty_cpu(), "cpu");
}

#define CAST_METHOD(name, dt)                                                                      \
    static int m_##name(lua_State *L) {                                                            \
        ty_tensor *t = tyl_check_tensor(L, 1);                                                     \
        return convert(L, t, true, dt, false, t->device, #name);                                   \
    }
CAST_METHOD(float, TY_F32)
CAST_METHOD(double, TY_F64)
CAST_METHOD(half, TY_F16)
CAST_METHOD(bfloat16, TY_BF16)
CAST_METHOD(long, TY_I64)
CAST_METHOD(byte, TY_U8)
CAST_METHOD(bool, TY_BOOL)

static int m_element_size(lua_State *L) {
    lua_pushinteger(L, (lua_Integer)ty_dtype_size(tyl_check_tensor(L, 1)->dtype));
    return 1;
}

/* tycho.cuda.is_available() */
static int cuda_is_available(lua_State *L) {
    const ty_backend *be = ty_backend_for(TY_DEV_CUDA);
    ty_clear_error();
    lua_pushboolean(L, be && be->device_count() > 0);
    return 1;
}

static int cuda_device_count(lua_State *L) {
    const ty_backend *be = ty_backend_for(TY_DEV_CUDA);
    ty_clear_error();
    lua_pushinteger(L, be ? be->device_count() : 0);
    return 1;
}

static int cuda_synchronize(lua_State *L) {
    const ty_backend *be = ty_backend_for(TY_DEV_CUDA);
    ty_clear_error();
    if (!be) return 0; /* nothing can be running on a GPU that is not there */
    ty_device d = {TY_DEV_CUDA, (int)tyl_opt_int(L, 1, 0, "cuda.synchronize")};
    if (be->synchronize(d) < 0) return tyl_raise(L, "cuda.synchronize", NULL);
    return 0;
}

static const luaL_Reg methods[] = {
    {"size", m_size},       {"stride", m_stride},
    {"dim", m_dim},         {"numel", m_numel},
    {"nelement", m_numel},  {"is_contiguous", m_is_contiguous},
    {"is_leaf", m_is_leaf}, {"item", m_item},
    {"tolist", m_tolist},   {"to", m_to},
    {"cuda", m_cuda},       {"cpu", m_cpu},
    {"float", m_float},     {"double", m_double},
    {"half", m_half},       {"bfloat16", m_bfloat16},
    {"long", m_long},       {"byte", m_byte},
    {"bool", m_bool},       {"element_size", m_element_size},
    {NULL, NULL},
};

static const luaL_Reg module_fns[] = {
    {"is_tensor", m_is_tensor},
    {NULL, NULL},
};

static const luaL_Reg cuda_fns[] = {
    {"is_available", cuda_is_available},
    {"device_count", cuda_device_count},
    {"synchronize", cuda_synchronize},
    {NULL, NULL},
};

/* Stack on entry: module table, method table. Builds the metatable. */
void tyl_open_tensor(lua_State *L) {
    tyl_reg_both(L, methods);
    tyl_reg_module(L, module_fns);

    luaL_newlib(L, cuda_fns);
    lua_setfield(L, -3, "cuda");

    int methods_idx = lua_gettop(L);
    luaL_newmetatable(L, "tycho.Tensor");
    lua_pushvalue(L, -1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &tyl_meta_key);
    lua_pushvalue(L, -1);
    int ref = luaL_ref(L, LUA_REGISTRYINDEX);
    if (meta_ref == LUA_NOREF)
        meta_ref = ref;
    else if (ref != meta_ref)
        meta_ref_shared = false;

    lua_pushcfunction(L, t_release);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, t_release);
    lua_setfield(L, -2, "__close");
    lua_pushcfunction(L, t_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_pushcfunction(L, t_len);
    lua_setfield(L, -2, "__len");

    lua_pushvalue(L, methods_idx);
    lua_newtable(L);
    for (int i = 0; properties[i].name; i++) {
        lua_pushinteger(L, i);
        lua_setfield(L, -2, properties[i].name);
    }
    lua_pushcclosure(L, t_index, 2);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, t_newindex);
    lua_setfield(L, -2, "__newindex");
    lua_pop(L, 1);
}
