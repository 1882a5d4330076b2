/* Image grids (viz.image, and the panels of viz.attention): images in rows
 * and columns, each scaled to its cell with its label underneath. Small
 * images (28x28 digits) are enlarged with square pixels rather than
 * blurred, since the pixels are the data. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "view.h"

#define GAP 10.0       /* between cells */
#define LABEL_H 18.0   /* room under each image for its label */
#define MIN_CELL 96.0  /* images are shown at least this wide */
#define MAX_CELL 256.0 /* and at most this wide, by default */

typedef struct {
    cairo_surface_t **img;
    char **label;
    int n, cols;
    char *title;
} grid;

static void *grid_new(void) {
    return calloc(1, sizeof(grid));
}

static void clear(grid *g) {
    for (int i = 0; i < g->n; i++) {
        if (g->img[i]) cairo_surface_destroy(g->img[i]);
        free(g->label[i]);
    }
    free(g->img);
    free(g->label);
    free(g->title);
    g->img = NULL;
    g->label = NULL;
    g->title = NULL;
    g->n = 0;
}

static void grid_free(void *data) {
    grid *g = data;
    if (!g) return;
    clear(g);
    free(g);
}

static int rows_of(const grid *g) {
    return g->cols > 0 ? (g->n + g->cols - 1) / g->cols : 0;
}

/* The side of a cell and the top-left of cell i in a w x h view. */
static double cell_size(const grid *g, double w, double h) {
    int rows = rows_of(g);
    if (rows == 0) return 1;
    double top = VIZ_TITLE_H;
    double s = fmin((w - GAP) / g->cols - GAP, (h - top - GAP) / rows - GAP - LABEL_H);
    return s > 1 ? s : 1;
}

static void cell_origin(const grid *g, double s, double w, int i, double *x, double *y) {
    double total = g->cols * (s + GAP) - GAP;
    *x = (w - total) / 2 + (i % g->cols) * (s + GAP);
    *y = VIZ_TITLE_H + GAP / 2 + (i / g->cols) * (s + GAP + LABEL_H);
}

static void grid_render(viz_view *v, cairo_t *cr, double w, double h) {
    grid *g = v->data;
    viz_title(cr, w, g->title ? g->title : v->name);
    double s = cell_size(g, w, h);
    for (int i = 0; i < g->n; i++) {
        double x, y;
        cell_origin(g, s, w, i, &x, &y);
        cairo_surface_t *img = g->img[i];
        int iw = cairo_image_surface_get_width(img), ih = cairo_image_surface_get_height(img);
        double k = fmin(s / iw, s / ih);
        double ox = x + (s - iw * k) / 2, oy = y + (s - ih * k) / 2;
        cairo_save(cr);
        cairo_translate(cr, ox, oy);
        cairo_scale(cr, k, k);
        cairo_set_source_surface(cr, img, 0, 0);
        cairo_pattern_set_filter(cairo_get_source(cr),
                                 k >= 1 ? CAIRO_FILTER_NEAREST : CAIRO_FILTER_GOOD);
        cairo_rectangle(cr, 0, 0, iw, ih);
        cairo_fill(cr);
        cairo_restore(cr);
        if (g->label[i]) {
            cairo_set_source_rgb(cr, 0.15, 0.15, 0.15);
            viz_text(cr, x + s / 2, y + s + 3, g->label[i], 11, 0, -1);
        }
    }
}

static int grid_probe(viz_view *v, double w, double h, double a, double b, double *x, double *y) {
    grid *g = v->data;
    (void)b;
    int i = (int)a;
    if (i < 0 || i >= g->n)
        return viz_fail("viz.probe: image %d is out of range (%d images)", i + 1, g->n);
    double s = cell_size(g, w, h);
    cell_origin(g, s, w, i, x, y);
    *x += s / 2;
    *y += s / 2;
    return 0;
}

static const viz_kind_ops grid_ops = {"images", grid_render, NULL, grid_probe, grid_free};

/* The range an image's values are mapped from (see viz_image). */
static void value_range(const viz_image *im, double *lo, double *hi) {
    if (im->lo < im->hi) {
        *lo = im->lo;
        *hi = im->hi;
        return;
    }
    double a = INFINITY, b = -INFINITY;
    size_t n = (size_t)im->channels * im->height * im->width;
    for (size_t i = 0; i < n; i++) {
        double x = im->pix[i];
        if (!isfinite(x)) continue;
        if (x < a) a = x;
        if (x > b) b = x;
    }
    if (!(a <= b) || (a >= 0 && b <= 1)) a = 0, b = 1;
    if (b == a) b = a + 1;
    *lo = a;
    *hi = b;
}

static double unit(double x, double lo, double hi) {
    if (isnan(x)) return 0;
    double t = (x - lo) / (hi - lo);
    return t < 0 ? 0 : t > 1 ? 1 : t;
}

/* An ARGB surface of the image (premultiplied alpha, as cairo wants). */
static cairo_surface_t *to_surface(const viz_image *im) {
    cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, im->width, im->height);
    if (cairo_surface_status(s) != CAIRO_STATUS_SUCCESS) {
        cairo_surface_destroy(s);
        return NULL;
    }
    double lo, hi;
    value_range(im, &lo, &hi);
    cairo_surface_flush(s);
    unsigned char *data = cairo_image_surface_get_data(s);
    int stride = cairo_image_surface_get_stride(s);
    size_t plane = (size_t)im->height * im->width;
    for (int y = 0; y < im->height; y++) {
        uint32_t *row = (uint32_t *)(data + (size_t)y * stride);
        for (int x = 0; x < im->width; x++) {
            size_t at = (size_t)y * im->width + x;
            double r, g, b, a = 1;
            r = unit(im->pix[at], lo, hi);
            if (im->channels >= 3) {
                g = unit(im->pix[plane + at], lo, hi);
                b = unit(im->pix[2 * plane + at], lo, hi);
            } else {
                g = b = r;
            }
            if (im->channels == 4) a = unit(im->pix[3 * plane + at], lo, hi);
            bool nan = isnan(im->pix[at]);
            if (nan) r = 1, g = 0, b = 1; /* magenta: a NaN should not pass for black */
            row[x] = (uint32_t)lround(a * 255) << 24 | (uint32_t)lround(r * a * 255) << 16 |
                     (uint32_t)lround(g * a * 255) << 8 | (uint32_t)lround(b * a * 255);
        }
    }
    cairo_surface_mark_dirty(s);
    return s;
}

int viz_images(const char *name, const viz_image *imgs, int n, int cols, const char *title) {
    if (n <= 0) return viz_fail("viz.image: no images to show");
    for (int i = 0; i < n; i++) {
        const viz_image *im = &imgs[i];
        if (im->channels != 1 && im->channels != 3 && im->channels != 4)
            return viz_fail("viz.image: image %d has %d channels; expected 1, 3 or 4", i + 1,
                            im->channels);
        if (im->height <= 0 || im->width <= 0)
            return viz_fail("viz.image: image %d is empty (%d x %d)", i + 1, im->height, im->width);
    }
    if (cols <= 0) cols = (int)ceil(sqrt((double)n));
    if (cols > n) cols = n;

    /* Everything new is made before the view is touched, so a failure
     * leaves the old picture in place. */
    grid fresh = {calloc((size_t)n, sizeof(cairo_surface_t *)), calloc((size_t)n, sizeof(char *)),
                  n, cols, title ? strdup(title) : NULL};
    bool ok = fresh.img && fresh.label && (!title || fresh.title);
    for (int i = 0; ok && i < n; i++) {
        fresh.img[i] = to_surface(&imgs[i]);
        if (imgs[i].label) fresh.label[i] = strdup(imgs[i].label);
        ok = fresh.img[i] && (!imgs[i].label || fresh.label[i]);
    }
    if (!ok) {
        if (!fresh.img || !fresh.label) fresh.n = 0;
        clear(&fresh);
        return viz_fail("viz.image: out of memory for %d images", n);
    }

    /* The default size shows each image between MIN_CELL and MAX_CELL. */
    int maxw = 1;
    for (int i = 0; i < n; i++)
        if (imgs[i].width > maxw) maxw = imgs[i].width;
    double s = fmin(fmax(maxw, MIN_CELL), MAX_CELL);
    int rows = (n + cols - 1) / cols;
    int w = (int)fmin(cols * (s + GAP) + GAP, 1400),
        h = (int)fmin(rows * (s + GAP + LABEL_H) + VIZ_TITLE_H + GAP, 1000);
    if (w < 240) w = 240;

    viz_view *v = viz_get("viz.image", name, &grid_ops, w, h, grid_new);
    if (!v) {
        clear(&fresh);
        return -1;
    }
    grid *g = v->data;
    clear(g);
    *g = fresh;
    viz_changed(v);
    return 0;
}
