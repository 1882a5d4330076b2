/* The views and their windows: the registry of named views, SDL2 windows
 * that show each view's cairo surface as a texture, the event loop, and the
 * decision between screen and headless.
 *
 * SDL is started only when a view is first made and a display exists. Its
 * own SIGINT handler is switched off (it would turn Ctrl-C into an SDL_QUIT
 * event and take Ctrl-C away from the REPL), and closing the last window
 * never quits anything: a closed window just hides its view. */
#include <SDL.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "view.h"

#define AUTOSAVE_S 3.0 /* headless: a changed view is written at most this often */

struct viz_screen {
    SDL_Window *win;
    SDL_Renderer *ren;
    SDL_Texture *tex;
    int tex_w, tex_h;
    Uint32 id;
    bool dirty;
};

static viz_view **views;
static int nviews, capviews;
static enum { UNDECIDED, SCREEN, HEADLESS } mode;
static int open_windows;
static void (*live_cb)(bool);
static double last_pump;
static char error_text[1024];

const char *viz_last_error(void) {
    return error_text;
}

int viz_fail(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(error_text, sizeof error_text, fmt, ap);
    va_end(ap);
    return -1;
}

double viz_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

bool viz_headless(void) {
    if (mode != UNDECIDED) return mode == HEADLESS;
    const char *h = getenv("TYCHO_HEADLESS");
    const char *x11 = getenv("DISPLAY"), *wl = getenv("WAYLAND_DISPLAY");
    if ((h && *h && strcmp(h, "0") != 0) || (!(x11 && *x11) && !(wl && *wl))) {
        /* Without a display SDL could still grab a console (KMS/DRM):
         * not what a user at a terminal expects from a plot. */
        mode = HEADLESS;
        return true;
    }
    SDL_SetHint(SDL_HINT_NO_SIGNAL_HANDLERS, "1");
    /* A plot window is no game: leave the compositor and the screensaver
     * alone. */
    SDL_SetHint(SDL_HINT_VIDEO_X11_NET_WM_BYPASS_COMPOSITOR, "0");
    SDL_SetHint(SDL_HINT_VIDEO_ALLOW_SCREENSAVER, "1");
#ifdef SDL_HINT_QUIT_ON_LAST_WINDOW_CLOSE
    SDL_SetHint(SDL_HINT_QUIT_ON_LAST_WINDOW_CLOSE, "0");
#endif
    if (SDL_InitSubSystem(SDL_INIT_VIDEO) != 0) {
        fprintf(stderr, "viz: cannot start SDL video (%s); plots are drawn off-screen\n",
                SDL_GetError());
        mode = HEADLESS;
        return true;
    }
    mode = SCREEN;
    return false;
}

void viz_force_headless(void) {
    if (mode == UNDECIDED) mode = HEADLESS;
}

void viz_set_live_callback(void (*fn)(bool live)) {
    live_cb = fn;
}

bool viz_live(void) {
    return open_windows > 0;
}

int viz_count(void) {
    return nviews;
}

const char *viz_name_at(int i) {
    return i >= 0 && i < nviews ? views[i]->name : NULL;
}

viz_view *viz_find(const char *name) {
    for (int i = 0; i < nviews; i++)
        if (strcmp(views[i]->name, name) == 0) return views[i];
    return NULL;
}

const char *viz_kind_of(const char *name) {
    viz_view *v = viz_find(name);
    return v ? v->ops->kind : NULL;
}

/* ---------------------------------------------------------------- screens */

static void screen_close(viz_view *v) {
    struct viz_screen *s = v->screen;
    if (!s) return;
    if (s->tex) SDL_DestroyTexture(s->tex);
    if (s->ren) SDL_DestroyRenderer(s->ren);
    if (s->win) SDL_DestroyWindow(s->win);
    free(s);
    v->screen = NULL;
    if (--open_windows == 0 && live_cb) live_cb(false);
}

/* Opens the window of v; on failure v stays off-screen (and says so once). */
static void screen_open(viz_view *v) {
    static bool warned;
    struct viz_screen *s = calloc(1, sizeof *s);
    if (!s) return;
    s->win = SDL_CreateWindow(v->name, SDL_WINDOWPOS_UNDEFINED, SDL_WINDOWPOS_UNDEFINED, v->width,
                              v->height, SDL_WINDOW_RESIZABLE | SDL_WINDOW_ALLOW_HIGHDPI);
    if (s->win) s->ren = SDL_CreateRenderer(s->win, -1, 0);
    if (!s->ren && s->win) s->ren = SDL_CreateRenderer(s->win, -1, SDL_RENDERER_SOFTWARE);
    if (!s->win || !s->ren) {
        if (!warned)
            fprintf(stderr, "viz: cannot open a window for '%s' (%s); drawing it off-screen\n",
                    v->name, SDL_GetError());
        warned = true;
        if (s->win) SDL_DestroyWindow(s->win);
        free(s);
        return;
    }
    s->id = SDL_GetWindowID(s->win);
    s->dirty = true;
    v->screen = s;
    v->hidden = false;
    if (open_windows++ == 0 && live_cb) live_cb(true);
}

/* The pixel size of v and the pixels per point: a window's drawable size
 * (larger than its size in points on HiDPI screens), else its own size. */
static void pixel_size(viz_view *v, int *pw, int *ph, double *scale) {
    *pw = v->width;
    *ph = v->height;
    *scale = 1;
    if (!v->screen) return;
    int ww, wh;
    SDL_GetWindowSize(v->screen->win, &ww, &wh);
    if (ww > 0 && wh > 0) {
        v->width = ww;
        v->height = wh;
    }
    if (SDL_GetRendererOutputSize(v->screen->ren, pw, ph) != 0 || *pw <= 0 || *ph <= 0) {
        *pw = v->width;
        *ph = v->height;
    }
    *scale = (double)*pw / v->width;
}

/* Draws v into its window; when grab is given (an image surface of the
 * window's pixel size), the frame is read back into it before it is shown. */
static int screen_draw(viz_view *v, cairo_surface_t *grab) {
    struct viz_screen *s = v->screen;
    int pw, ph;
    double scale;
    pixel_size(v, &pw, &ph, &scale);
    cairo_surface_t *img = viz_render(v, pw, ph, scale);
    if (!img) return -1;
    if (!s->tex || s->tex_w != pw || s->tex_h != ph) {
        if (s->tex) SDL_DestroyTexture(s->tex);
        /* cairo's RGB24/ARGB32 is a native-endian 32-bit 0xAARRGGBB, which
         * is what SDL calls ARGB8888 */
        s->tex = SDL_CreateTexture(s->ren, SDL_PIXELFORMAT_ARGB8888, SDL_TEXTUREACCESS_STREAMING,
                                   pw, ph);
        if (!s->tex) {
            cairo_surface_destroy(img);
            return viz_fail("viz: cannot make a %dx%d texture: %s", pw, ph, SDL_GetError());
        }
        SDL_SetTextureBlendMode(s->tex, SDL_BLENDMODE_NONE);
        s->tex_w = pw;
        s->tex_h = ph;
    }
    SDL_UpdateTexture(s->tex, NULL, cairo_image_surface_get_data(img),
                      cairo_image_surface_get_stride(img));
    cairo_surface_destroy(img);
    SDL_RenderClear(s->ren);
    SDL_RenderCopy(s->ren, s->tex, NULL, NULL);
    int rc = 0;
    if (grab) {
        /* before Present: afterwards the back buffer's content is undefined */
        cairo_surface_flush(grab);
        if (SDL_RenderReadPixels(s->ren, NULL, SDL_PIXELFORMAT_ARGB8888,
                                 cairo_image_surface_get_data(grab),
                                 cairo_image_surface_get_stride(grab)) != 0)
            rc = viz_fail("viz.screenshot: cannot read the window back: %s", SDL_GetError());
        cairo_surface_mark_dirty(grab);
    }
    SDL_RenderPresent(s->ren);
    s->dirty = false;
    return rc;
}

/* ---------------------------------------------------------------- the registry */

viz_view *viz_get(const char *fn, const char *name, const viz_kind_ops *ops, int width, int height,
                  void *(*make)(void)) {
    viz_view *v = viz_find(name);
    if (v) {
        if (v->ops == ops) return v;
        viz_fail("%s: '%s' is a %s view; viz.close('%s') first or use another name", fn, name,
                 v->ops->kind, name);
        return NULL;
    }
    if (nviews == capviews) {
        int cap = capviews ? capviews * 2 : 8;
        viz_view **grown = realloc(views, (size_t)cap * sizeof *grown);
        if (!grown) {
            viz_fail("%s: out of memory", fn);
            return NULL;
        }
        views = grown;
        capviews = cap;
    }
    v = calloc(1, sizeof *v);
    void *data = v ? make() : NULL;
    char *copy = data ? strdup(name) : NULL;
    if (!copy) {
        if (data) ops->free(data);
        free(v);
        viz_fail("%s: out of memory", fn);
        return NULL;
    }
    v->name = copy;
    v->ops = ops;
    v->data = data;
    v->width = width;
    v->height = height;
    views[nviews++] = v;
    if (!viz_headless()) screen_open(v);
    return v;
}

void viz_changed(viz_view *v) {
    v->unsaved = true;
    if (v->screen) v->screen->dirty = true;
    viz_pump_maybe();
}

static void free_view(viz_view *v) {
    screen_close(v);
    v->ops->free(v->data);
    free(v->name);
    free(v);
}

/* Whether v is written by the autosave: off-screen views, unless the user
 * closed their window. */
static bool autosaved(const viz_view *v) {
    return !v->screen && !v->hidden;
}

static void autosave(viz_view *v) {
    const char *dir = viz_output_dir();
    if (!dir) return;
    char file[200], path[4400];
    viz_file_name(v->name, file, sizeof file);
    snprintf(path, sizeof path, "%s/%s.png", dir, file);
    v->saved_at = viz_now();
    v->unsaved = false;
    if (viz_write_png(v, path) < 0) fprintf(stderr, "%s\n", viz_last_error());
}

int viz_close(const char *name) {
    for (int i = 0; i < nviews; i++) {
        viz_view *v = views[i];
        if (strcmp(v->name, name) != 0) continue;
        if (autosaved(v) && v->unsaved) autosave(v);
        memmove(views + i, views + i + 1, (size_t)(nviews - i - 1) * sizeof *views);
        nviews--;
        free_view(v);
        return 0;
    }
    return viz_fail("viz.close: no view named '%s'", name);
}

int viz_show(const char *name) {
    viz_view *v = viz_find(name);
    if (!v) return viz_fail("viz.show: no view named '%s'", name);
    v->hidden = false;
    if (v->screen) {
        SDL_RaiseWindow(v->screen->win);
        return 0;
    }
    if (!viz_headless()) screen_open(v);
    return 0;
}

int viz_save(const char *name, const char *path, char *out, int out_size) {
    viz_view *v = viz_find(name);
    if (!v) return viz_fail("viz.save: no view named '%s'", name);
    char buf[4400];
    if (!path) {
        const char *dir = viz_output_dir();
        if (!dir) return -1;
        char file[200];
        viz_file_name(name, file, sizeof file);
        snprintf(buf, sizeof buf, "%s/%s.png", dir, file);
        path = buf;
    }
    if (viz_write_png(v, path) < 0) return -1;
    if (out) snprintf(out, (size_t)out_size, "%s", path);
    return 0;
}

int viz_screenshot(const char *name, const char *path) {
    viz_view *v = viz_find(name);
    if (!v) return viz_fail("viz.screenshot: no view named '%s'", name);
    if (!v->screen) return viz_fail("viz.screenshot: '%s' has no window (headless)", name);
    int pw, ph;
    double scale;
    pixel_size(v, &pw, &ph, &scale);
    cairo_surface_t *grab = cairo_image_surface_create(CAIRO_FORMAT_RGB24, pw, ph);
    int rc = screen_draw(v, grab);
    if (rc == 0) {
        cairo_status_t st = cairo_surface_write_to_png(grab, path);
        if (st != CAIRO_STATUS_SUCCESS)
            rc =
                viz_fail("viz.screenshot: cannot write '%s': %s", path, cairo_status_to_string(st));
    }
    cairo_surface_destroy(grab);
    return rc;
}

int viz_probe(const char *name, double a, double b, double *x, double *y) {
    viz_view *v = viz_find(name);
    if (!v) return viz_fail("viz.probe: no view named '%s'", name);
    if (!v->ops->probe) return viz_fail("viz.probe: '%s' cannot be probed", name);
    /* in the pixels of the PNG files, which are drawn at one pixel per point */
    int pw, ph;
    double scale;
    pixel_size(v, &pw, &ph, &scale);
    return v->ops->probe(v, v->width, v->height, a, b, x, y);
}

static void deliver(viz_view *v, const viz_event *e) {
    if (v->ops->event && v->ops->event(v, e)) {
        if (v->screen) v->screen->dirty = true;
        v->unsaved = true;
    }
}

int viz_input(const char *name, int kind, double x, double y) {
    viz_view *v = viz_find(name);
    if (!v) return viz_fail("viz.input: no view named '%s'", name);
    viz_event e = {VIZ_MOTION, x, y, 0};
    switch (kind) {
    case 'm':
        e.kind = VIZ_MOTION;
        break;
    case 'l':
        e.kind = VIZ_LEAVE;
        break;
    case 'p':
        e.kind = VIZ_PRESS;
        break;
    case 'r':
        e.kind = VIZ_RELEASE;
        break;
    case 'k':
        e.kind = VIZ_KEY;
        e.key = (int)x;
        break;
    default:
        return viz_fail("viz.input: unknown event kind '%c'", kind);
    }
    deliver(v, &e);
    return 0;
}

/* ---------------------------------------------------------------- events */

static viz_view *by_window(Uint32 id) {
    for (int i = 0; i < nviews; i++)
        if (views[i]->screen && views[i]->screen->id == id) return views[i];
    return NULL;
}

/* Keys every view knows: s saves a PNG, q and Escape close the window. */
static bool common_key(viz_view *v, SDL_Keycode k) {
    if (k == SDLK_s) {
        char path[4400];
        if (viz_save(v->name, NULL, path, sizeof path) == 0)
            fprintf(stderr, "viz: saved %s\n", path);
        else
            fprintf(stderr, "%s\n", viz_last_error());
        return true;
    }
    if (k == SDLK_q || k == SDLK_ESCAPE) {
        v->hidden = true;
        screen_close(v);
        return true;
    }
    return false;
}

static void handle(const SDL_Event *e) {
    viz_view *v;
    viz_event ev = {VIZ_MOTION, 0, 0, 0};
    switch (e->type) {
    case SDL_WINDOWEVENT:
        if (!(v = by_window(e->window.windowID))) return;
        if (e->window.event == SDL_WINDOWEVENT_CLOSE) {
            /* closing hides the view; the session and the data go on */
            v->hidden = true;
            screen_close(v);
        } else if (e->window.event == SDL_WINDOWEVENT_LEAVE) {
            ev.kind = VIZ_LEAVE;
            deliver(v, &ev);
        } else {
            v->screen->dirty = true; /* exposed, resized, restored: redraw */
        }
        return;
    case SDL_MOUSEMOTION:
        if (!(v = by_window(e->motion.windowID))) return;
        ev.x = e->motion.x;
        ev.y = e->motion.y;
        deliver(v, &ev);
        return;
    case SDL_MOUSEBUTTONDOWN:
    case SDL_MOUSEBUTTONUP:
        if (!(v = by_window(e->button.windowID)) || e->button.button != SDL_BUTTON_LEFT) return;
        ev.kind = e->type == SDL_MOUSEBUTTONDOWN ? VIZ_PRESS : VIZ_RELEASE;
        ev.x = e->button.x;
        ev.y = e->button.y;
        deliver(v, &ev);
        return;
    case SDL_KEYDOWN:
        if (!(v = by_window(e->key.windowID))) return;
        if (common_key(v, e->key.keysym.sym)) return;
        ev.kind = VIZ_KEY;
        SDL_Keycode k = e->key.keysym.sym;
        ev.key = k == SDLK_UP ? VIZ_KEY_UP : k == SDLK_DOWN ? VIZ_KEY_DOWN : k < 128 ? (int)k : 0;
        /* '+' is shift and '=' on most keyboards: take the typed meaning */
        if (k == SDLK_EQUALS && (e->key.keysym.mod & KMOD_SHIFT)) ev.key = '+';
        if (k == SDLK_KP_PLUS) ev.key = '+';
        if (k == SDLK_KP_MINUS) ev.key = '-';
        if (ev.key) deliver(v, &ev);
        return;
    default:
        return; /* SDL_QUIT included: closing windows never ends the session */
    }
}

static long pumps;

long viz_pump_count(void) {
    return pumps;
}

int viz_request_close(const char *name) {
    viz_view *v = viz_find(name);
    if (!v) return viz_fail("viz.request_close: no view named '%s'", name);
    if (!v->screen) return viz_fail("viz.request_close: '%s' has no window", name);
    SDL_Event e;
    memset(&e, 0, sizeof e);
    e.type = SDL_WINDOWEVENT;
    e.window.event = SDL_WINDOWEVENT_CLOSE;
    e.window.windowID = v->screen->id;
    if (SDL_PushEvent(&e) < 0) return viz_fail("viz.request_close: %s", SDL_GetError());
    return 0;
}

void viz_pump(void) {
    pumps++;
    last_pump = viz_now();
    if (open_windows > 0) {
        SDL_Event e;
        while (SDL_PollEvent(&e)) handle(&e);
        for (int i = 0; i < nviews; i++)
            if (views[i]->screen && views[i]->screen->dirty && screen_draw(views[i], NULL) < 0)
                fprintf(stderr, "%s\n", viz_last_error());
    }
    for (int i = 0; i < nviews; i++) {
        viz_view *v = views[i];
        if (autosaved(v) && v->unsaved && last_pump - v->saved_at >= AUTOSAVE_S) autosave(v);
    }
}

void viz_pump_maybe(void) {
    if (viz_now() - last_pump >= VIZ_PUMP_MS * 1e-3) viz_pump();
}

void viz_flush(void) {
    for (int i = 0; i < nviews; i++)
        if (autosaved(views[i]) && views[i]->unsaved) autosave(views[i]);
}

void viz_shutdown(void) {
    viz_flush();
    while (nviews > 0) free_view(views[--nviews]);
    free(views);
    views = NULL;
    capviews = 0;
    if (mode == SCREEN) {
        SDL_QuitSubSystem(SDL_INIT_VIDEO);
        SDL_Quit();
    }
    mode = UNDECIDED;
    /* cairo keeps fonts and scratch surfaces cached; with no cairo object
     * left, this returns them, so leak checkers see a clean exit */
    cairo_debug_reset_static_data();
}
