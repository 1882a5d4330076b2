/* Text and axes: labels through cairo's toy text API, round tick values,
 * tick labels, and the frame, grid and ticks of a plot. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "view.h"

static void set_font(cairo_t *cr, double size) {
    cairo_select_font_face(cr, VIZ_FONT, CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, size);
}

double viz_text_width(cairo_t *cr, const char *s, double size) {
    cairo_text_extents_t ext;
    set_font(cr, size);
    cairo_text_extents(cr, s, &ext);
    return ext.x_advance;
}

double viz_text(cairo_t *cr, double x, double y, const char *s, double size, int halign,
                int valign) {
    cairo_text_extents_t ext;
    cairo_font_extents_t fext;
    set_font(cr, size);
    cairo_text_extents(cr, s, &ext);
    cairo_font_extents(cr, &fext);
    double tx = x - (halign < 0 ? 0 : halign == 0 ? ext.x_advance / 2 : ext.x_advance);
    /* Vertical placement from the font's ascent, not the string's ink, so
     * that labels with and without descenders line up. */
    double ty = valign > 0 ? y : valign == 0 ? y + fext.ascent / 2 - 1 : y + fext.ascent;
    cairo_move_to(cr, tx, ty);
    cairo_show_text(cr, s);
    return ext.x_advance;
}

int viz_ticks(double lo, double hi, int max, double *ticks, double *step) {
    if (!(hi > lo) || !isfinite(lo) || !isfinite(hi) || max < 2) {
        ticks[0] = lo;
        *step = 1;
        return 1;
    }
    double raw = (hi - lo) / (max - 1);
    double mag = pow(10, floor(log10(raw)));
    double s = mag;
    if (raw > 5 * mag)
        s = 10 * mag;
    else if (raw > 2 * mag)
        s = 5 * mag;
    else if (raw > mag)
        s = 2 * mag;
    *step = s;
    int n = 0;
    for (double t = ceil(lo / s - 1e-9) * s; t <= hi + s * 1e-9 && n < max; t += s) {
        ticks[n++] = fabs(t) < s * 1e-9 ? 0.0 : t; /* no "-0" */
    }
    return n;
}

int viz_log_ticks(double lo, double hi, int max, double *ticks) {
    int n = 0;
    double first = ceil(lo - 1e-9), last = floor(hi + 1e-9);
    if (last - first + 1 >= 3) {
        /* Whole decades; every k-th when there are too many. */
        int k = (int)ceil((last - first + 1) / max);
        if (k < 1) k = 1;
        for (double e = first; e <= last && n < max; e += k) ticks[n++] = e;
        return n;
    }
    /* Fewer than three powers of ten in view: 1, 2 and 5 times them. */
    static const double mult[3] = {1, 2, 5};
    for (double e = floor(lo); e <= ceil(hi) && n < max; e++)
        for (int m = 0; m < 3 && n < max; m++) {
            double t = e + log10(mult[m]);
            if (t >= lo - 1e-9 && t <= hi + 1e-9) ticks[n++] = t;
        }
    return n;
}

void viz_format(double v, double step, char *buf, int size) {
    double a = fabs(v);
    if (v == 0) {
        snprintf(buf, size, "0");
    } else if (a >= 1e6 || a < 1e-4) {
        snprintf(buf, size, "%.3g", v);
    } else {
        /* Enough decimals to tell neighbouring ticks apart. */
        int dec = step > 0 && step < 1 ? (int)ceil(-log10(step) - 1e-9) : 0;
        if (dec > 6) dec = 6;
        snprintf(buf, size, "%.*f", dec, v);
    }
}

void viz_title(cairo_t *cr, double w, const char *title) {
    if (!title || !*title) return;
    cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
    viz_text(cr, w / 2, VIZ_TITLE_H / 2 + 2, title, 15, 0, 0);
}

#define TICK_FONT 11.0
#define LABEL_FONT 12.0
#define MAX_TICKS 12

/* The y tick values and their labels, shared by measuring and drawing. */
static int y_ticks(const viz_axes *a, double *ticks, char labels[][32]) {
    double step = 0;
    int n =
        a->logy ? viz_log_ticks(a->y0, a->y1, 8, ticks) : viz_ticks(a->y0, a->y1, 8, ticks, &step);
    for (int i = 0; i < n; i++) {
        if (a->logy)
            snprintf(labels[i], 32, "%g", pow(10, ticks[i]));
        else
            viz_format(ticks[i], step, labels[i], 32);
    }
    return n;
}

viz_rect viz_axes_rect(cairo_t *cr, viz_rect area, const viz_axes *a) {
    double ticks[MAX_TICKS];
    char labels[MAX_TICKS][32];
    int n = y_ticks(a, ticks, labels);
    double wmax = 0;
    for (int i = 0; i < n; i++) {
        double tw = viz_text_width(cr, labels[i], TICK_FONT);
        if (tw > wmax) wmax = tw;
    }
    double left = wmax + 12 + (a->ylabel && *a->ylabel ? LABEL_FONT + 8 : 0);
    double bottom = TICK_FONT + 10 + (a->xlabel && *a->xlabel ? LABEL_FONT + 8 : 0);
    viz_rect r = {area.x + left, area.y + 6, area.w - left - 14, area.h - bottom - 6};
    if (r.w < 10) r.w = 10;
    if (r.h < 10) r.h = 10;
    return r;
}

void viz_draw_axes(cairo_t *cr, viz_rect p, const viz_axes *a) {
    double ticks[MAX_TICKS];
    char labels[MAX_TICKS][32];
    cairo_save(cr);
    cairo_set_line_width(cr, 1);

    /* y: grid lines across the plot, labels to the left */
    int n = y_ticks(a, ticks, labels);
    double wmax = 0;
    for (int i = 0; i < n; i++) {
        double tw = viz_text_width(cr, labels[i], TICK_FONT);
        if (tw > wmax) wmax = tw;
    }
    double ys = a->y1 > a->y0 ? p.h / (a->y1 - a->y0) : 0;
    for (int i = 0; i < n; i++) {
        /* Grid lines on pixel centres stay one pixel wide and crisp. */
        double y = floor(p.y + p.h - (ticks[i] - a->y0) * ys) + 0.5;
        cairo_set_source_rgb(cr, 0.9, 0.9, 0.9);
        cairo_move_to(cr, p.x, y);
        cairo_line_to(cr, p.x + p.w, y);
        cairo_stroke(cr);
        cairo_set_source_rgb(cr, 0.25, 0.25, 0.25);
        cairo_move_to(cr, p.x - 4, y);
        cairo_line_to(cr, p.x, y);
        cairo_stroke(cr);
        viz_text(cr, p.x - 7, y, labels[i], TICK_FONT, 1, 0);
    }

    /* x: the step axis */
    double step = 0;
    int nx = viz_ticks(a->x0, a->x1, (int)(p.w / 70) + 2, ticks, &step);
    double xs = a->x1 > a->x0 ? p.w / (a->x1 - a->x0) : 0;
    for (int i = 0; i < nx; i++) {
        double x = floor(p.x + (ticks[i] - a->x0) * xs) + 0.5;
        cairo_set_source_rgb(cr, 0.9, 0.9, 0.9);
        cairo_move_to(cr, x, p.y);
        cairo_line_to(cr, x, p.y + p.h);
        cairo_stroke(cr);
        cairo_set_source_rgb(cr, 0.25, 0.25, 0.25);
        cairo_move_to(cr, x, p.y + p.h);
        cairo_line_to(cr, x, p.y + p.h + 4);
        cairo_stroke(cr);
        char buf[32];
        viz_format(ticks[i], step, buf, sizeof buf);
        viz_text(cr, x, p.y + p.h + 6, buf, TICK_FONT, 0, -1);
    }

    /* the frame: left and bottom axis lines, dark */
    cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
    cairo_move_to(cr, floor(p.x) + 0.5, p.y);
    cairo_line_to(cr, floor(p.x) + 0.5, floor(p.y + p.h) + 0.5);
    cairo_line_to(cr, p.x + p.w, floor(p.y + p.h) + 0.5);
    cairo_stroke(cr);

    if (a->xlabel && *a->xlabel)
        viz_text(cr, p.x + p.w / 2, p.y + p.h + TICK_FONT + 12, a->xlabel, LABEL_FONT, 0, -1);
    if (a->ylabel && *a->ylabel) {
        cairo_save(cr);
        cairo_translate(cr, p.x - wmax - 12 - LABEL_FONT / 2, p.y + p.h / 2);
        cairo_rotate(cr, -M_PI / 2);
        viz_text(cr, 0, 0, a->ylabel, LABEL_FONT, 0, 0);
        cairo_restore(cr);
    }
    cairo_restore(cr);
}
