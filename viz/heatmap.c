/* Heatmaps (viz.heatmap): a matrix drawn cell by cell in viridis, with a
 * colour bar, row and column numbers (1-based, as the Lua user indexes) and
 * a read-out of the cell under the mouse. NaN cells are grey; infinities
 * take the end colours and do not stretch the colour range. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "view.h"

#define BAR_W 16.0    /* the colour bar */
#define BAR_ROOM 70.0 /* the bar and its labels */
#define NAN_GREY 0.6

typedef struct {
    float *v;
    int rows, cols;
    double lo, hi; /* the colour range */
    char *title;
    cairo_surface_t *cells; /* one pixel per cell, remade when data changes */
    bool hover;
    double mx, my;
    viz_rect box; /* where the cells were drawn */
} heatmap;

static void *heatmap_new(void) {
    return calloc(1, sizeof(heatmap));
}

static void heatmap_free(void *data) {
    heatmap *m = data;
    if (!m) return;
    free(m->v);
    free(m->title);
    if (m->cells) cairo_surface_destroy(m->cells);
    free(m);
}

/* The cell image: viridis of (v - lo) / (hi - lo). */
static int make_cells(heatmap *m) {
    cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, m->cols, m->rows);
    if (cairo_surface_status(s) != CAIRO_STATUS_SUCCESS) {
        cairo_surface_destroy(s);
        return viz_fail("viz.heatmap: cannot make a %dx%d image", m->rows, m->cols);
    }
    cairo_surface_flush(s);
    unsigned char *px = cairo_image_surface_get_data(s);
    int stride = cairo_image_surface_get_stride(s);
    double span = m->hi - m->lo;
    for (int r = 0; r < m->rows; r++) {
        uint32_t *row = (uint32_t *)(px + (size_t)r * stride);
        for (int c = 0; c < m->cols; c++) {
            double x = m->v[(size_t)r * m->cols + c], rgb[3];
            if (isnan(x)) {
                rgb[0] = rgb[1] = rgb[2] = NAN_GREY;
            } else {
                viz_viridis(span > 0 ? (x - m->lo) / span : 0.5, rgb);
            }
            row[c] =
                (uint32_t)(0xff000000u | (uint32_t)lround(rgb[0] * 255) << 16 |
                           (uint32_t)lround(rgb[1] * 255) << 8 | (uint32_t)lround(rgb[2] * 255));
        }
    }
    cairo_surface_mark_dirty(s);
    if (m->cells) cairo_surface_destroy(m->cells);
    m->cells = s;
    return 0;
}

/* Where the cells go: square cells as large as fit, centred. */
static viz_rect cell_box(const heatmap *m, double w, double h) {
    double left = 44, top = VIZ_TITLE_H + 4, bottom = 26;
    double aw = w - left - BAR_ROOM - 10, ah = h - top - bottom;
    double cell = fmin(aw / m->cols, ah / m->rows);
    if (cell <= 0) cell = 1e-3;
    viz_rect r = {left + (aw - cell * m->cols) / 2, top + (ah - cell * m->rows) / 2, cell * m->cols,
                  cell * m->rows};
    return r;
}

/* Row or column numbers along one side: a few round 1-based indices. */
static void index_labels(cairo_t *cr, viz_rect b, int count, bool rows) {
    double ticks[12], step;
    int n = viz_ticks(1, count, rows ? 6 : 8, ticks, &step);
    double cell = (rows ? b.h : b.w) / count;
    cairo_set_source_rgb(cr, 0.3, 0.3, 0.3);
    for (int i = 0; i < n; i++) {
        if (ticks[i] != floor(ticks[i])) continue; /* indices are whole */
        char buf[24];
        snprintf(buf, sizeof buf, "%.0f", ticks[i]);
        double at = (ticks[i] - 0.5) * cell;
        if (rows)
            viz_text(cr, b.x - 5, b.y + at, buf, 10, 1, 0);
        else
            viz_text(cr, b.x + at, b.y + b.h + 4, buf, 10, 0, -1);
    }
}

static void draw_bar(cairo_t *cr, const heatmap *m, viz_rect b) {
    double x = b.x + b.w + 14, y = b.y, h = b.h;
    cairo_pattern_t *g = cairo_pattern_create_linear(0, y + h, 0, y);
    for (int i = 0; i <= 16; i++) {
        double rgb[3];
        viz_viridis(i / 16.0, rgb);
        cairo_pattern_add_color_stop_rgb(g, i / 16.0, rgb[0], rgb[1], rgb[2]);
    }
    cairo_rectangle(cr, x, y, BAR_W, h);
    cairo_set_source(cr, g);
    cairo_fill(cr);
    cairo_pattern_destroy(g);
    double ticks[12], step;
    int n = viz_ticks(m->lo, m->hi, 6, ticks, &step);
    cairo_set_source_rgb(cr, 0.25, 0.25, 0.25);
    cairo_set_line_width(cr, 1);
    for (int i = 0; i < n && m->hi > m->lo; i++) {
        double ty = floor(y + h - (ticks[i] - m->lo) / (m->hi - m->lo) * h) + 0.5;
        cairo_move_to(cr, x + BAR_W, ty);
        cairo_line_to(cr, x + BAR_W + 4, ty);
        cairo_stroke(cr);
        char buf[32];
        viz_format(ticks[i], step, buf, sizeof buf);
        viz_text(cr, x + BAR_W + 6, ty, buf, 10, -1, 0);
    }
}

static void heatmap_render(viz_view *v, cairo_t *cr, double w, double h) {
    heatmap *m = v->data;
    viz_title(cr, w, m->title ? m->title : v->name);
    viz_rect b = cell_box(m, w, h);
    m->box = b;
    if (m->cells) {
        cairo_save(cr);
        cairo_rectangle(cr, b.x, b.y, b.w, b.h);
        cairo_clip(cr);
        cairo_translate(cr, b.x, b.y);
        cairo_scale(cr, b.w / m->cols, b.h / m->rows);
        cairo_set_source_surface(cr, m->cells, 0, 0);
        /* each cell a flat square, not a blur between neighbours */
        cairo_pattern_set_filter(cairo_get_source(cr), CAIRO_FILTER_NEAREST);
        cairo_paint(cr);
        cairo_restore(cr);
    }
    index_labels(cr, b, m->rows, true);
    index_labels(cr, b, m->cols, false);
    draw_bar(cr, m, b);

    if (m->hover && m->mx >= b.x && m->mx < b.x + b.w && m->my >= b.y && m->my < b.y + b.h) {
        int c = (int)((m->mx - b.x) / b.w * m->cols), r = (int)((m->my - b.y) / b.h * m->rows);
        if (c >= m->cols) c = m->cols - 1;
        if (r >= m->rows) r = m->rows - 1;
        char buf[96];
        snprintf(buf, sizeof buf, "[%d, %d] = %.5g", r + 1, c + 1, m->v[(size_t)r * m->cols + c]);
        double tw = viz_text_width(cr, buf, 11);
        double bx = fmin(m->mx + 12, w - tw - 16), by = fmin(m->my + 12, h - 24);
        cairo_set_source_rgba(cr, 1, 1, 0.94, 0.95);
        cairo_rectangle(cr, bx, by, tw + 10, 18);
        cairo_fill(cr);
        cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
        viz_text(cr, bx + 5, by + 9, buf, 11, -1, 0);
    }
}

static bool heatmap_event(viz_view *v, const viz_event *e) {
    heatmap *m = v->data;
    if (e->kind == VIZ_MOTION) {
        m->hover = true;
        m->mx = e->x;
        m->my = e->y;
        return true;
    }
    if (e->kind == VIZ_LEAVE) {
        m->hover = false;
        return true;
    }
    return false;
}

static int heatmap_probe(viz_view *v, double w, double h, double row, double col, double *x,
                         double *y) {
    heatmap *m = v->data;
    viz_rect b = cell_box(m, w, h);
    *x = b.x + (col + 0.5) * b.w / m->cols;
    *y = b.y + (row + 0.5) * b.h / m->rows;
    return 0;
}

static const viz_kind_ops heatmap_ops = {"heatmap", heatmap_render, heatmap_event, heatmap_probe,
                                         heatmap_free};

int viz_heatmap(const char *name, const float *v, int rows, int cols, const viz_heatmap_opts *o) {
    if (rows <= 0 || cols <= 0)
        return viz_fail("viz.heatmap: the matrix is empty (%d x %d)", rows, cols);
    size_t n = (size_t)rows * cols;
    float *copy = malloc(n * sizeof *copy);
    if (!copy) return viz_fail("viz.heatmap: out of memory for a %d x %d matrix", rows, cols);
    memcpy(copy, v, n * sizeof *copy);
    double lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(copy[i])) continue;
        if (copy[i] < lo) lo = copy[i];
        if (copy[i] > hi) hi = copy[i];
    }
    if (!(lo <= hi)) lo = 0, hi = 1; /* nothing finite */
    if (o && !isnan(o->vmin)) lo = o->vmin;
    if (o && !isnan(o->vmax)) hi = o->vmax;
    if (!(lo <= hi)) {
        free(copy);
        return viz_fail("viz.heatmap: vmin %g is above vmax %g", lo, hi);
    }
    viz_view *view = viz_get("viz.heatmap", name, &heatmap_ops, 560, 480, heatmap_new);
    if (!view) {
        free(copy);
        return -1;
    }
    heatmap *m = view->data;
    char *title = o && o->title ? strdup(o->title) : NULL;
    free(m->v);
    m->v = copy;
    m->rows = rows;
    m->cols = cols;
    m->lo = lo;
    m->hi = hi;
    if (title) {
        free(m->title);
        m->title = title;
    }
    int rc = make_cells(m);
    viz_changed(view);
    return rc;
}
