/* The binding of the live plots (viz/): the internal table tycho._viz that
 * lang/lua/tycho/viz.lua builds the viz module on. Tensors become plain f32
 * arrays here; viz/ never sees a tensor.
 *
 * Liveness: while a window is open, viz must be pumped. The tycho binary
 * offers two hooks (tyl_viz_set_host): an idle hook the prompt calls about
 * 50 times a second, and a Lua count hook that lang/repl.c keeps installed
 * next to its Ctrl-C hook. Without a host (require "tycho" from a stock
 * lua5.4) the count hook is set directly. Each viz call pumps as well. */
#include <cairo.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../viz/viz.h"
#include "l_util.h"

/* Lua instructions between two looks at the clock: with one C op per
 * instruction (a few ms each at worst) that is still within the 100 ms the
 * windows may wait; in pure Lua code it costs a clock read per 100
 * instructions. */
#define HOOK_COUNT 100

static const tyl_viz_host *host;
static lua_State *hook_L; /* the main thread of the state that opened viz */

void tyl_viz_set_host(const tyl_viz_host *h) {
    host = h;
}

static void pump_hook(lua_State *L, lua_Debug *ar) {
    (void)L;
    (void)ar;
    viz_pump_maybe();
}

/* The first window opened or the last one went: start or stop pumping. */
static void on_live(bool live) {
    if (host) {
        host->set_idle_hook(live ? viz_pump : NULL);
        host->set_lua_hook(live ? pump_hook : NULL, HOOK_COUNT);
    } else if (hook_L) {
        lua_sethook(hook_L, live ? pump_hook : NULL, live ? LUA_MASKCOUNT : 0, HOOK_COUNT);
    }
}

/* Raises viz's last error (the message names the function and values). */
static int viz_error(lua_State *L) {
    return luaL_error(L, "%s", viz_last_error());
}

/* A CPU, f32, contiguous version of t (a new reference), or NULL with the
 * library's error set. Autograd is off: this is a picture, not a graph. */
static ty_tensor *host_f32(ty_tensor *t) {
    bool prev = ty_set_grad_enabled(false);
    ty_tensor *a = ty_to_device(t, ty_cpu());
    ty_tensor *b = a ? ty_cast(a, TY_F32) : NULL;
    ty_tensor *c = b ? ty_contiguous(b) : NULL;
    ty_tensor_release(a);
    ty_tensor_release(b);
    ty_set_grad_enabled(prev);
    return c;
}

/* A string field of the options table at arg, or NULL. */
static const char *opt_string(lua_State *L, int arg, const char *key, const char *fn) {
    if (lua_isnoneornil(L, arg)) return NULL;
    int t = tyl_opt_field(L, arg, key);
    const char *s = NULL;
    if (t == LUA_TSTRING)
        s = lua_tostring(L, -1);
    else if (t != LUA_TNIL)
        tyl_errorf(L, "%s: option '%s' must be a string, got %s", fn, key, lua_typename(L, t));
    lua_pop(L, 1); /* the string stays alive in the options table */
    return s;
}

static double opt_number(lua_State *L, int arg, const char *key, double def, const char *fn) {
    if (lua_isnoneornil(L, arg)) return def;
    return tyl_opt_number(L, arg, key, def, fn);
}

static int opt_flag(lua_State *L, int arg, const char *key, const char *fn) {
    if (lua_isnoneornil(L, arg)) return -1;
    int t = tyl_opt_field(L, arg, key);
    lua_pop(L, 1);
    if (t == LUA_TNIL) return -1;
    return tyl_opt_bool(L, arg, key, false, fn);
}

static void check_options(lua_State *L, int arg, const char *const *keys, const char *fn) {
    if (lua_isnoneornil(L, arg)) return;
    luaL_checktype(L, arg, LUA_TTABLE);
    tyl_check_keys(L, arg, keys, fn);
}

/* plot(name, series, step, value) */
static int l_plot(lua_State *L) {
    const char *name = luaL_checkstring(L, 1);
    const char *series = luaL_checkstring(L, 2);
    double step = luaL_checknumber(L, 3), value = luaL_checknumber(L, 4);
    if (viz_plot(name, series, step, value) < 0) return viz_error(L);
    return 0;
}

/* config(name, {smoothing =, logy =, raw =, title =, xlabel =, ylabel =}) */
static int l_config(lua_State *L) {
    const char *fn = "viz.config";
    const char *name = luaL_checkstring(L, 1);
    static const char *const keys[] = {"smoothing", "logy",   "raw", "title",
                                       "xlabel",    "ylabel", NULL};
    check_options(L, 2, keys, fn);
    viz_chart_opts o = {opt_number(L, 2, "smoothing", NAN, fn),
                        opt_flag(L, 2, "logy", fn),
                        opt_flag(L, 2, "raw", fn),
                        opt_string(L, 2, "title", fn),
                        opt_string(L, 2, "xlabel", fn),
                        opt_string(L, 2, "ylabel", fn)};
    if (viz_chart_config(name, &o) < 0) return viz_error(L);
    return 0;
}

/* heatmap(name, t, {title =, vmin =, vmax =}) */
static int l_heatmap(lua_State *L) {
    const char *fn = "viz.heatmap";
    const char *name = luaL_checkstring(L, 1);
    ty_tensor *t = tyl_to_tensor(L, 2);
    if (!t) return tyl_errorf(L, "%s: expected a 2-D tensor, got a %s", fn, luaL_typename(L, 2));
    static const char *const keys[] = {"title", "vmin", "vmax", NULL};
    check_options(L, 3, keys, fn);
    viz_heatmap_opts o = {opt_string(L, 3, "title", fn), opt_number(L, 3, "vmin", NAN, fn),
                          opt_number(L, 3, "vmax", NAN, fn)};
    char shape[128];
    if (t->ndim != 2 && t->ndim != 1)
        return tyl_errorf(L, "%s: expected a 2-D tensor (rows, cols), got shape %s", fn,
                          ty_shape_str(t, shape, sizeof shape));
    if (ty_numel(t) == 0)
        return tyl_errorf(L, "%s: the tensor is empty (shape %s)", fn,
                          ty_shape_str(t, shape, sizeof shape));
    int rows = t->ndim == 2 ? (int)t->shape[0] : 1, cols = (int)t->shape[t->ndim - 1];
    if (t->shape[0] > 1 << 20 || t->shape[t->ndim - 1] > 1 << 20)
        return tyl_errorf(L, "%s: shape %s is too large to draw", fn,
                          ty_shape_str(t, shape, sizeof shape));
    ty_tensor *f = host_f32(t);
    if (!f) return tyl_raise(L, fn, NULL);
    int rc = viz_heatmap(name, ty_data(f), rows, cols, &o);
    ty_tensor_release(f);
    if (rc < 0) return viz_error(L);
    return 0;
}

/* Up to count labels from the list field `labels` of the options at arg,
 * as strings left on the stack (so they stay alive); NULL entries where the
 * list ends. */
static void read_labels(lua_State *L, int arg, const char **labels, int count, const char *fn) {
    for (int i = 0; i < count; i++) labels[i] = NULL;
    if (lua_isnoneornil(L, arg)) return;
    int t = tyl_opt_field(L, arg, "labels");
    if (t == LUA_TNIL) {
        lua_pop(L, 1);
        return;
    }
    if (t != LUA_TTABLE)
        tyl_errorf(L, "%s: option 'labels' must be a list, got %s", fn, lua_typename(L, t));
    int list = lua_gettop(L);
    luaL_checkstack(L, count, "too many labels");
    for (int i = 0; i < count; i++) {
        if (lua_geti(L, list, i + 1) == LUA_TNIL) {
            lua_pop(L, 1);
            break;
        }
        labels[i] = luaL_tolstring(L, -1, NULL); /* stays on the stack */
        lua_remove(L, -2);
    }
}

/* image(name, t, {labels =, cols =, title =, range = {lo, hi}}) */
static int l_image(lua_State *L) {
    const char *fn = "viz.image";
    const char *name = luaL_checkstring(L, 1);
    ty_tensor *t = tyl_to_tensor(L, 2);
    if (!t) return tyl_errorf(L, "%s: expected an image tensor, got a %s", fn, luaL_typename(L, 2));
    static const char *const keys[] = {"labels", "cols", "title", "range", NULL};
    check_options(L, 3, keys, fn);
    char shape[128];
    ty_shape_str(t, shape, sizeof shape);
    int64_t b = 1, c = 1, h, w;
    if (t->ndim == 2) {
        h = t->shape[0], w = t->shape[1];
    } else if (t->ndim == 3 && (t->shape[0] == 1 || t->shape[0] == 3 || t->shape[0] == 4)) {
        c = t->shape[0], h = t->shape[1], w = t->shape[2];
    } else if (t->ndim == 3) {
        b = t->shape[0], h = t->shape[1], w = t->shape[2]; /* a batch of grey images */
    } else if (t->ndim == 4) {
        b = t->shape[0], c = t->shape[1], h = t->shape[2], w = t->shape[3];
    } else {
        return tyl_errorf(L, "%s: expected (H,W), (C,H,W) or (B,C,H,W), got shape %s", fn, shape);
    }
    if (c != 1 && c != 3 && c != 4)
        return tyl_errorf(L, "%s: images need 1, 3 or 4 channels, got %lld (shape %s)", fn,
                          (long long)c, shape);
    if (b * h * w == 0) return tyl_errorf(L, "%s: the tensor is empty (shape %s)", fn, shape);
    if (b > 1024 || h > 8192 || w > 8192)
        return tyl_errorf(L, "%s: shape %s is too large to draw (at most 1024 images of 8192x8192)",
                          fn, shape);
    double lo = NAN, hi = NAN;
    if (t->dtype == TY_U8) lo = 0, hi = 255;
    if (!lua_isnoneornil(L, 3)) {
        if (tyl_opt_field(L, 3, "range") != LUA_TNIL) {
            if (!lua_istable(L, -1))
                return tyl_errorf(L, "%s: option 'range' must be {lo, hi}", fn);
            lua_geti(L, -1, 1);
            lua_geti(L, -2, 2);
            lo = lua_tonumber(L, -2), hi = lua_tonumber(L, -1);
            if (!lua_isnumber(L, -2) || !lua_isnumber(L, -1) || !(lo < hi))
                return tyl_errorf(L, "%s: option 'range' must be {lo, hi} with lo < hi", fn);
            lua_pop(L, 2);
        }
        lua_pop(L, 1);
    }
    int cols = (int)opt_number(L, 3, "cols", 0, fn);
    const char *title = opt_string(L, 3, "title", fn);
    /* scratch owned by Lua, so no error path can leak it */
    viz_image *imgs = lua_newuserdatauv(L, (size_t)b * sizeof *imgs, 0);
    const char **labels = lua_newuserdatauv(L, (size_t)b * sizeof *labels, 0);
    read_labels(L, 3, labels, (int)b, fn);

    ty_tensor *f = host_f32(t);
    if (!f) return tyl_raise(L, fn, NULL);
    const float *px = ty_data(f);
    for (int64_t i = 0; i < b; i++)
        imgs[i] = (viz_image){px + i * c * h * w, (int)c, (int)h, (int)w, lo, hi, labels[i]};
    int rc = viz_images(name, imgs, (int)b, cols, title);
    ty_tensor_release(f);
    if (rc < 0) return viz_error(L);
    return 0;
}

/* attention(name, images (B,C,H,W), {attn per block (B,heads,N,N)}, grid,
 * {labels =, title =}) */
static int l_attention(lua_State *L) {
    const char *fn = "viz.attention";
    const char *name = luaL_checkstring(L, 1);
    ty_tensor *img = tyl_check_tensor(L, 2);
    luaL_checktype(L, 3, LUA_TTABLE);
    int grid = (int)tyl_check_int(L, 4, fn);
    static const char *const keys[] = {"labels", "title", NULL};
    check_options(L, 5, keys, fn);
    char s1[128], s2[128];
    if (img->ndim != 4)
        return tyl_errorf(L, "%s: images must be (B,C,H,W), got shape %s", fn,
                          ty_shape_str(img, s1, sizeof s1));
    int64_t B = img->shape[0], C = img->shape[1], H = img->shape[2], W = img->shape[3];
    if (B < 1 || B > 64 || H < 1 || W < 1 || H > 4096 || W > 4096 || C < 1 || C > 4)
        return tyl_errorf(L,
                          "%s: cannot draw images of shape %s (at most 64 of 4096x4096, 1-4 "
                          "channels)",
                          fn, ty_shape_str(img, s1, sizeof s1));
    int blocks = (int)luaL_len(L, 3);
    if (blocks < 1) return tyl_errorf(L, "%s: the attention list is empty", fn);
    int64_t heads = 0, n = 0;
    for (int k = 1; k <= blocks; k++) {
        lua_geti(L, 3, k);
        ty_tensor *a = tyl_to_tensor(L, -1);
        if (!a)
            return tyl_errorf(L, "%s: attention[%d] is a %s, not a tensor", fn, k,
                              luaL_typename(L, -1));
        if (a->ndim != 4 || a->shape[0] != B || a->shape[2] != a->shape[3])
            return tyl_errorf(L,
                              "%s: attention[%d] has shape %s; expected (%lld,heads,N,N) for "
                              "images of shape %s",
                              fn, k, ty_shape_str(a, s1, sizeof s1), (long long)B,
                              ty_shape_str(img, s2, sizeof s2));
        if (k == 1) heads = a->shape[1], n = a->shape[2];
        if (a->shape[1] != heads || a->shape[2] != n)
            return tyl_errorf(L,
                              "%s: attention[%d] has shape %s, but attention[1] has %lld heads "
                              "and %lld tokens",
                              fn, k, ty_shape_str(a, s1, sizeof s1), (long long)heads,
                              (long long)n);
        lua_pop(L, 1);
    }
    if (grid < 1 || n != 1 + (int64_t)grid * grid)
        return tyl_errorf(L, "%s: %lld tokens do not make 1 class token and %d x %d patches", fn,
                          (long long)n, grid, grid);
    if (heads > 64 || n > 4097)
        return tyl_errorf(L, "%s: %lld heads of %lld tokens are too many to draw", fn,
                          (long long)heads, (long long)n);
    const char *title = opt_string(L, 5, "title", fn);
    const char **labels = lua_newuserdatauv(L, (size_t)B * sizeof *labels, 0);
    read_labels(L, 5, labels, (int)B, fn);
    size_t per = (size_t)heads * n * n; /* one block of one input */
    float *attn = lua_newuserdatauv(L, (size_t)B * blocks * per * sizeof *attn, 0);

    /* From here on nothing raises before the temporaries are released. */
    for (int k = 1; k <= blocks; k++) {
        lua_geti(L, 3, k);
        ty_tensor *a = host_f32(tyl_to_tensor(L, -1));
        lua_pop(L, 1);
        if (!a) return tyl_raise(L, fn, NULL);
        const float *src = ty_data(a);
        for (int64_t b = 0; b < B; b++)
            memcpy(attn + ((size_t)b * blocks + (k - 1)) * per, src + b * per, per * sizeof *attn);
        ty_tensor_release(a);
    }
    ty_tensor *f = host_f32(img);
    if (!f) return tyl_raise(L, fn, NULL);
    viz_attention_input in = {ty_data(f), (int)B,     (int)C, (int)H, (int)W, attn,
                              blocks,     (int)heads, (int)n, grid,   labels, title};
    int rc = viz_attention(name, &in);
    ty_tensor_release(f);
    if (rc < 0) return viz_error(L);
    return 0;
}

/* save(name [, path]) -> the path written */
static int l_save(lua_State *L) {
    const char *name = luaL_checkstring(L, 1);
    const char *path = luaL_optstring(L, 2, NULL);
    char out[4400];
    if (viz_save(name, path, out, sizeof out) < 0) return viz_error(L);
    lua_pushstring(L, out);
    return 1;
}

static int l_close(lua_State *L) {
    if (viz_close(luaL_checkstring(L, 1)) < 0) return viz_error(L);
    return 0;
}

static int l_show(lua_State *L) {
    if (viz_show(luaL_checkstring(L, 1)) < 0) return viz_error(L);
    return 0;
}

/* names() -> {name, ...} in creation order */
static int l_names(lua_State *L) {
    int n = viz_count();
    lua_createtable(L, n, 0);
    for (int i = 0; i < n; i++) {
        lua_pushstring(L, viz_name_at(i));
        lua_rawseti(L, -2, i + 1);
    }
    return 1;
}

static int l_kind(lua_State *L) {
    const char *k = viz_kind_of(luaL_checkstring(L, 1));
    if (k)
        lua_pushstring(L, k);
    else
        lua_pushnil(L);
    return 1;
}

static int l_headless(lua_State *L) {
    lua_pushboolean(L, viz_headless());
    return 1;
}

static int l_outdir(lua_State *L) {
    const char *d = viz_output_dir();
    if (!d) return viz_error(L);
    lua_pushstring(L, d);
    return 1;
}

static int l_pump(lua_State *L) {
    (void)L;
    viz_pump();
    return 0;
}

static int l_flush(lua_State *L) {
    (void)L;
    viz_flush();
    return 0;
}

/* ---- for tests ---- */

static int l_pumps(lua_State *L) {
    lua_pushinteger(L, viz_pump_count());
    return 1;
}

static int l_request_close(lua_State *L) {
    if (viz_request_close(luaL_checkstring(L, 1)) < 0) return viz_error(L);
    return 0;
}

static int l_force_headless(lua_State *L) {
    (void)L;
    viz_force_headless();
    return 0;
}

static int l_set_outdir(lua_State *L) {
    if (viz_set_output_dir(luaL_checkstring(L, 1)) < 0) return viz_error(L);
    return 0;
}

static int l_screenshot(lua_State *L) {
    if (viz_screenshot(luaL_checkstring(L, 1), luaL_checkstring(L, 2)) < 0) return viz_error(L);
    return 0;
}

static int l_probe(lua_State *L) {
    double x, y;
    if (viz_probe(luaL_checkstring(L, 1), luaL_checknumber(L, 2), luaL_optnumber(L, 3, 0), &x, &y) <
        0)
        return viz_error(L);
    lua_pushnumber(L, x);
    lua_pushnumber(L, y);
    return 2;
}

static int l_input(lua_State *L) {
    const char *kind = luaL_checkstring(L, 2);
    if (viz_input(luaL_checkstring(L, 1), kind[0], luaL_optnumber(L, 3, 0),
                  luaL_optnumber(L, 4, 0)) < 0)
        return viz_error(L);
    return 0;
}

static int l_yrange(lua_State *L) {
    double lo, hi;
    if (viz_chart_yrange(luaL_checkstring(L, 1), &lo, &hi) < 0) return viz_error(L);
    lua_pushnumber(L, lo);
    lua_pushnumber(L, hi);
    return 2;
}

static int l_smoothed(lua_State *L) {
    const char *name = luaL_checkstring(L, 1), *series = luaL_checkstring(L, 2);
    int i = (int)tyl_check_int(L, 3, "viz._smoothed");
    double v;
    if (viz_chart_smoothed(name, series, i - 1, &v) < 0) return viz_error(L);
    lua_pushnumber(L, v);
    return 1;
}

static int l_points(lua_State *L) {
    int n;
    if (viz_chart_points(luaL_checkstring(L, 1), luaL_checkstring(L, 2), &n) < 0)
        return viz_error(L);
    lua_pushinteger(L, n);
    return 1;
}

/* A PNG file, opened for reading pixels; the surface is owned by a
 * userdata so an error cannot leak it. */
typedef struct {
    cairo_surface_t *s;
} png_box;

static int png_gc(lua_State *L) {
    png_box *b = lua_touserdata(L, 1);
    if (b->s) cairo_surface_destroy(b->s);
    b->s = NULL;
    return 0;
}

static cairo_surface_t *open_png(lua_State *L, const char *path) {
    png_box *b = lua_newuserdatauv(L, sizeof *b, 0);
    b->s = NULL;
    if (luaL_newmetatable(L, "tycho.viz_png")) {
        lua_pushcfunction(L, png_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_setmetatable(L, -2);
    b->s = cairo_image_surface_create_from_png(path);
    if (cairo_surface_status(b->s) != CAIRO_STATUS_SUCCESS)
        return luaL_error(L, "viz: cannot read '%s': %s", path,
                          cairo_status_to_string(cairo_surface_status(b->s))),
               NULL;
    cairo_surface_flush(b->s);
    return b->s;
}

/* The 0xAARRGGBB value at pixel (x, y) (0-based). */
static uint32_t pixel_at(cairo_surface_t *s, int x, int y) {
    const unsigned char *d = cairo_image_surface_get_data(s);
    return ((const uint32_t *)(d + (size_t)y * cairo_image_surface_get_stride(s)))[x];
}

/* pixel(path, x, y) -> r, g, b (0..255), pixel coordinates 0-based;
 * pixel(path) -> width, height */
static int l_pixel(lua_State *L) {
    bool size_only = lua_isnoneornil(L, 2);
    cairo_surface_t *s = open_png(L, luaL_checkstring(L, 1));
    int w = cairo_image_surface_get_width(s), h = cairo_image_surface_get_height(s);
    if (size_only) {
        lua_pushinteger(L, w);
        lua_pushinteger(L, h);
        return 2;
    }
    int x = (int)floor(luaL_checknumber(L, 2)), y = (int)floor(luaL_checknumber(L, 3));
    if (x < 0 || y < 0 || x >= w || y >= h)
        return luaL_error(L, "viz: pixel (%d, %d) is outside the %dx%d image", x, y, w, h);
    uint32_t p = pixel_at(s, x, y);
    lua_pushinteger(L, (p >> 16) & 0xff);
    lua_pushinteger(L, (p >> 8) & 0xff);
    lua_pushinteger(L, p & 0xff);
    return 3;
}

/* diff(a, b) -> the number of pixels that differ and the largest channel
 * difference; an error when the sizes differ. */
static int l_diff(lua_State *L) {
    cairo_surface_t *a = open_png(L, luaL_checkstring(L, 1));
    cairo_surface_t *b = open_png(L, luaL_checkstring(L, 2));
    int w = cairo_image_surface_get_width(a), h = cairo_image_surface_get_height(a);
    if (w != cairo_image_surface_get_width(b) || h != cairo_image_surface_get_height(b))
        return luaL_error(L, "viz: the images differ in size: %dx%d and %dx%d", w, h,
                          cairo_image_surface_get_width(b), cairo_image_surface_get_height(b));
    lua_Integer count = 0;
    int worst = 0;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint32_t p = pixel_at(a, x, y), q = pixel_at(b, x, y);
            int d = 0;
            for (int sh = 0; sh < 24; sh += 8) {
                int e = abs((int)((p >> sh) & 0xff) - (int)((q >> sh) & 0xff));
                if (e > d) d = e;
            }
            if (d) count++;
            if (d > worst) worst = d;
        }
    lua_pushinteger(L, count);
    lua_pushinteger(L, worst);
    return 2;
}

/* At lua_close: headless views are written, windows closed, SDL shut down. */
static int l_shutdown(lua_State *L) {
    (void)L;
    viz_set_live_callback(NULL);
    on_live(false);
    hook_L = NULL;
    viz_shutdown();
    return 0;
}

static const luaL_Reg viz_fns[] = {
    {"plot", l_plot},
    {"config", l_config},
    {"heatmap", l_heatmap},
    {"image", l_image},
    {"attention", l_attention},
    {"save", l_save},
    {"close", l_close},
    {"show", l_show},
    {"names", l_names},
    {"kind", l_kind},
    {"headless", l_headless},
    {"outdir", l_outdir},
    {"pump", l_pump},
    {"flush", l_flush},
    {"force_headless", l_force_headless},
    {"pumps", l_pumps},
    {"request_close", l_request_close},
    {"set_outdir", l_set_outdir},
    {"screenshot", l_screenshot},
    {"probe", l_probe},
    {"input", l_input},
    {"yrange", l_yrange},
    {"smoothed", l_smoothed},
    {"points", l_points},
    {"pixel", l_pixel},
    {"diff", l_diff},
    {NULL, NULL},
};

void tyl_open_viz(lua_State *L) {
    /* the module table is at -2 */
    luaL_newlib(L, viz_fns);
    lua_setfield(L, -3, "_viz");

    /* The shutdown runs when the state closes: a userdata in the registry
     * with a __gc. */
    lua_newuserdatauv(L, 1, 0);
    lua_newtable(L);
    lua_pushcfunction(L, l_shutdown);
    lua_setfield(L, -2, "__gc");
    lua_setmetatable(L, -2);
    lua_setfield(L, LUA_REGISTRYINDEX, "tycho.viz_shutdown");

    lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_MAINTHREAD);
    hook_L = lua_tothread(L, -1);
    lua_pop(L, 1);
    viz_set_live_callback(on_live);
}
