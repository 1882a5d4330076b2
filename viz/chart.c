/* Line charts (viz.plot): series of (step, value) points appended one at a
 * time, drawn as an exponential moving average with bias correction over
 * the faint raw points, with a robust y range, a log-y toggle, a smoothing
 * slider and keys, and a read-out of the points under the mouse.
 *
 * Every point is kept; drawing decimates to the pixels it has: a run of
 * points that falls on one pixel column becomes its first, lowest, highest
 * and last point, which draws exactly like the full run, so a series of a
 * million points costs a pass over the data, not a million line segments. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "view.h"

#define DEFAULT_SMOOTHING 0.6
#define CONTROLS_H 26.0     /* the bar with the slider, at the bottom */
#define SLIDER_X 92.0       /* where the slider's track starts */
#define SLIDER_W 150.0      /* and its length */
#define MAX_SMOOTHING 0.999 /* 1 would freeze the average at the first point */
#define RANGE_SAMPLE 20000  /* values per series looked at for the y range */

typedef struct {
    char *name;
    double *step, *value, *smooth; /* every point; smooth is NaN where value is */
    int n, cap;
    int bad;     /* points whose value is NaN or infinite */
    bool sorted; /* steps never went down: the read-out can bisect */
    /* running EMA: ema over the finite values so far, weight^k */
    double ema, decay;
} series;

typedef struct {
    series *s;
    int ns;
    double smoothing;
    bool logy, raw;
    char *title, *xlabel, *ylabel;
    /* interaction */
    bool hover, dragging;
    double mx, my;
    /* the layout of the last drawing, which events and probes use */
    viz_rect plot;
    double x0, x1, y0, y1; /* y in log10 units when logy */
    double w, h;
} chart;

static void *chart_new(void) {
    chart *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->smoothing = DEFAULT_SMOOTHING;
    c->raw = true;
    return c;
}

static void chart_free(void *data) {
    chart *c = data;
    if (!c) return;
    for (int i = 0; i < c->ns; i++) {
        free(c->s[i].name);
        free(c->s[i].step);
        free(c->s[i].value);
        free(c->s[i].smooth);
    }
    free(c->s);
    free(c->title);
    free(c->xlabel);
    free(c->ylabel);
    free(c);
}

/* ---------------------------------------------------------------- data */

/* The next smoothed value: the EMA divided by 1 - a^k (k finite values so
 * far), which removes the pull towards the EMA's start at 0, as TensorBoard
 * and Adam do. */
static double ema_push(series *s, double a, double v) {
    if (!isfinite(v)) return NAN;
    s->ema = a * s->ema + (1 - a) * v;
    s->decay *= a;
    double debias = 1 - s->decay;
    return debias > 0 ? s->ema / debias : v;
}

static void resmooth(chart *c) {
    for (int i = 0; i < c->ns; i++) {
        series *s = &c->s[i];
        s->ema = 0;
        s->decay = 1;
        for (int k = 0; k < s->n; k++) s->smooth[k] = ema_push(s, c->smoothing, s->value[k]);
    }
}

static series *find_series(chart *c, const char *name) {
    for (int i = 0; i < c->ns; i++)
        if (strcmp(c->s[i].name, name) == 0) return &c->s[i];
    return NULL;
}

static series *add_series(chart *c, const char *name) {
    series *grown = realloc(c->s, (size_t)(c->ns + 1) * sizeof *grown);
    if (!grown) return NULL;
    c->s = grown;
    series *s = &c->s[c->ns];
    memset(s, 0, sizeof *s);
    s->name = strdup(name);
    if (!s->name) return NULL;
    s->sorted = true;
    s->decay = 1;
    c->ns++;
    return s;
}

static int push_point(series *s, double a, double step, double value) {
    if (s->n == s->cap) {
        int cap = s->cap ? s->cap * 2 : 256;
        double *st = realloc(s->step, (size_t)cap * sizeof *st);
        if (st) s->step = st;
        double *va = realloc(s->value, (size_t)cap * sizeof *va);
        if (va) s->value = va;
        double *sm = realloc(s->smooth, (size_t)cap * sizeof *sm);
        if (sm) s->smooth = sm;
        if (!st || !va || !sm) return -1; /* what grew stays owned; cap is unchanged */
        s->cap = cap;
    }
    if (s->n > 0 && step < s->step[s->n - 1]) s->sorted = false;
    s->step[s->n] = step;
    s->value[s->n] = value;
    s->smooth[s->n] = ema_push(s, a, value);
    if (!isfinite(value)) s->bad++;
    s->n++;
    return 0;
}

/* ---------------------------------------------------------------- ranges */

/* A value on the y axis: log10 on a log axis, where values <= 0 have no
 * place (NaN: a gap). */
static double ymap(const chart *c, double v) {
    if (!c->logy) return v;
    return v > 0 ? log10(v) : NAN;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Appends the finite mapped values of arr (every stride-th) to out. */
static int gather(const chart *c, const double *arr, int n, double *out, int m) {
    int stride = n > RANGE_SAMPLE ? n / RANGE_SAMPLE + 1 : 1;
    for (int k = 0; k < n; k += stride) {
        double v = ymap(c, arr[k]);
        if (isfinite(v)) out[m++] = v;
    }
    /* the last point always counts: it is the one the user watches */
    if (n > 0 && stride > 1) {
        double v = ymap(c, arr[n - 1]);
        if (isfinite(v)) out[m++] = v;
    }
    return m;
}

/* The y range: the values between the 5% and 95% quantiles, widened to the
 * farthest values that lie within 1.5 times that spread (Tukey's fences),
 * so that a normal curve shows whole and one wild early point (a loss of
 * 1000 at step 3) does not squash the rest into a line. */
static void y_range(const chart *c, double *lo, double *hi) {
    size_t cap = 0;
    for (int i = 0; i < c->ns; i++) {
        int n = c->s[i].n;
        cap += 2 * (size_t)(n > RANGE_SAMPLE ? RANGE_SAMPLE + 2 : n);
    }
    double *v = cap ? malloc(cap * sizeof *v) : NULL;
    int m = 0;
    for (int i = 0; v && i < c->ns; i++) {
        const series *s = &c->s[i];
        m = gather(c, s->smooth, s->n, v, m);
        if (c->raw || c->smoothing == 0) m = gather(c, s->value, s->n, v, m);
    }
    if (m == 0) {
        free(v);
        *lo = c->logy ? -1 : 0;
        *hi = c->logy ? 1 : 1;
        return;
    }
    qsort(v, (size_t)m, sizeof *v, cmp_double);
    double a = v[0], b = v[m - 1];
    if (m >= 20) {
        double q05 = v[(int)(0.05 * (m - 1))], q95 = v[(int)ceil(0.95 * (m - 1))];
        double spread = q95 - q05;
        double flo = q05 - 1.5 * spread, fhi = q95 + 1.5 * spread;
        int i = 0, j = m - 1;
        while (v[i] < flo) i++;
        while (v[j] > fhi) j--;
        a = v[i];
        b = v[j];
    }
    free(v);
    if (b - a <= 1e-9 * fmax(fabs(a), fabs(b))) { /* flat, up to rounding in the EMA */
        double pad = c->logy ? 0.5 : (fabs(a) > 0 ? fabs(a) * 0.1 : 1);
        a -= pad;
        b += pad;
    } else {
        double pad = 0.05 * (b - a);
        a -= pad;
        b += pad;
    }
    *lo = a;
    *hi = b;
}

static void x_range(const chart *c, double *lo, double *hi) {
    double a = INFINITY, b = -INFINITY;
    for (int i = 0; i < c->ns; i++)
        for (int k = 0; k < c->s[i].n; k++) {
            double x = c->s[i].step[k];
            if (x < a) a = x;
            if (x > b) b = x;
        }
    if (!(a <= b)) a = 0, b = 1;
    if (b - a <= 0) a -= 1, b += 1;
    *lo = a;
    *hi = b;
}

/* Computes the plot rectangle and ranges for a w x h view. */
static void layout(chart *c, cairo_t *cr, const char *name, double w, double h) {
    x_range(c, &c->x0, &c->x1);
    y_range(c, &c->y0, &c->y1);
    viz_axes ax = {c->x0, c->x1, c->y0, c->y1, c->logy, c->xlabel ? c->xlabel : "step", c->ylabel};
    (void)name;
    viz_rect area = {8, VIZ_TITLE_H, w - 8, h - VIZ_TITLE_H - CONTROLS_H};
    c->plot = viz_axes_rect(cr, area, &ax);
    c->w = w;
    c->h = h;
}

static double px(const chart *c, double step) {
    return c->plot.x + (step - c->x0) / (c->x1 - c->x0) * c->plot.w;
}
static double py(const chart *c, double y) {
    return c->plot.y + c->plot.h - (y - c->y0) / (c->y1 - c->y0) * c->plot.h;
}

/* ---------------------------------------------------------------- drawing */

/* The path of a series (values from arr), decimated per pixel column. */
static void series_path(cairo_t *cr, const chart *c, const series *s, const double *arr) {
    bool pen = false; /* a point has been placed: line_to continues it */
    int col = 0;
    double first = 0, last = 0, mn = 0, mx = 0, fx = 0, lx = 0;
    int count = 0;
    for (int k = 0; k <= s->n; k++) {
        double x = 0, y = NAN;
        int kcol = 0;
        if (k < s->n) {
            x = px(c, s->step[k]);
            y = ymap(c, arr[k]);
            if (isfinite(y)) y = py(c, y);
            kcol = (int)floor(x);
        }
        /* a bucket ends where the column changes, at a gap or at the end */
        if (count > 0 && (k == s->n || !isfinite(y) || kcol != col)) {
            if (!pen) {
                /* a new piece; the zero-length segment makes a lone point
                 * between gaps show as a dot (round caps) */
                cairo_move_to(cr, fx, first);
                cairo_line_to(cr, fx, first);
            } else {
                cairo_line_to(cr, fx, first);
            }
            if (count > 2) {
                /* min and max in the order that keeps the stroke short */
                bool down = last > first;
                cairo_line_to(cr, fx, down ? mn : mx);
                cairo_line_to(cr, lx, down ? mx : mn);
            }
            if (count > 1) cairo_line_to(cr, lx, last);
            pen = true;
            count = 0;
        }
        if (k == s->n) break;
        if (!isfinite(y)) {
            pen = false; /* a gap: the next point starts a new piece */
            continue;
        }
        if (count == 0) {
            col = kcol;
            first = mn = mx = y;
            fx = x;
        }
        if (y < mn) mn = y;
        if (y > mx) mx = y;
        last = y;
        lx = x;
        count++;
    }
}

/* The nearest point of s to step (index), or -1. */
static int nearest(const series *s, double step) {
    if (s->n == 0) return -1;
    if (s->sorted) {
        int lo = 0, hi = s->n - 1;
        while (lo < hi) {
            int mid = (lo + hi) / 2;
            if (s->step[mid] < step)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (lo > 0 && fabs(s->step[lo - 1] - step) <= fabs(s->step[lo] - step)) lo--;
        return lo;
    }
    int best = 0;
    for (int k = 1; k < s->n; k++)
        if (fabs(s->step[k] - step) < fabs(s->step[best] - step)) best = k;
    return best;
}

static void draw_legend(cairo_t *cr, const chart *c) {
    if (c->ns == 0) return;
    char buf[160];
    double wmax = 0;
    for (int i = 0; i < c->ns; i++) {
        const series *s = &c->s[i];
        if (s->bad)
            snprintf(buf, sizeof buf, "%s (%d not finite)", s->name, s->bad);
        else
            snprintf(buf, sizeof buf, "%s", s->name);
        double tw = viz_text_width(cr, buf, 11);
        if (tw > wmax) wmax = tw;
    }
    double bw = wmax + 36, bh = 16.0 * c->ns + 6;
    double x = c->plot.x + c->plot.w - bw - 6, y = c->plot.y + 6;
    cairo_set_source_rgba(cr, 1, 1, 1, 0.85);
    cairo_rectangle(cr, x, y, bw, bh);
    cairo_fill(cr);
    for (int i = 0; i < c->ns; i++) {
        const series *s = &c->s[i];
        double rgb[3];
        viz_series_color(i, rgb);
        double ly = y + 11 + 16.0 * i;
        cairo_set_source_rgb(cr, rgb[0], rgb[1], rgb[2]);
        cairo_set_line_width(cr, 2.5);
        cairo_move_to(cr, x + 6, ly);
        cairo_line_to(cr, x + 24, ly);
        cairo_stroke(cr);
        if (s->bad)
            snprintf(buf, sizeof buf, "%s (%d not finite)", s->name, s->bad);
        else
            snprintf(buf, sizeof buf, "%s", s->name);
        cairo_set_source_rgb(cr, 0.15, 0.15, 0.15);
        viz_text(cr, x + 30, ly, buf, 11, -1, 0);
    }
}

/* The read-out under the mouse: a line at the nearest step, a dot on each
 * series and a box with the values. */
static void draw_hover(cairo_t *cr, const chart *c) {
    viz_rect p = c->plot;
    if (!c->hover || c->mx < p.x || c->mx > p.x + p.w || c->my < p.y || c->my > p.y + p.h) return;
    double step = c->x0 + (c->mx - p.x) / p.w * (c->x1 - c->x0);
    char lines[17][160];
    double colors[17][3];
    int nl = 0;
    double shown_step = NAN;
    for (int i = 0; i < c->ns && nl < 16; i++) {
        const series *s = &c->s[i];
        int k = nearest(s, step);
        if (k < 0) continue;
        if (isnan(shown_step)) shown_step = s->step[k];
        double rgb[3];
        viz_series_color(i, rgb);
        double y = ymap(c, s->smooth[k]);
        if (isfinite(y)) {
            cairo_set_source_rgb(cr, rgb[0], rgb[1], rgb[2]);
            cairo_arc(cr, px(c, s->step[k]), py(c, y), 3.5, 0, 2 * M_PI);
            cairo_fill(cr);
        }
        if (c->smoothing > 0)
            snprintf(lines[nl + 1], 160, "%s: %.5g (raw %.5g)", s->name, s->smooth[k], s->value[k]);
        else
            snprintf(lines[nl + 1], 160, "%s: %.5g", s->name, s->value[k]);
        memcpy(colors[nl + 1], rgb, sizeof rgb);
        nl++;
    }
    if (nl == 0) return;
    double x = px(c, shown_step);
    cairo_set_source_rgba(cr, 0.3, 0.3, 0.3, 0.6);
    cairo_set_line_width(cr, 1);
    cairo_move_to(cr, floor(x) + 0.5, p.y);
    cairo_line_to(cr, floor(x) + 0.5, p.y + p.h);
    cairo_stroke(cr);

    snprintf(lines[0], 160, "step %.10g", shown_step);
    double wmax = 0;
    for (int i = 0; i <= nl; i++) {
        double tw = viz_text_width(cr, lines[i], 11);
        if (tw > wmax) wmax = tw;
    }
    double bw = wmax + 12, bh = 15.0 * (nl + 1) + 6;
    double bx = c->mx + 12, by = c->my + 12;
    if (bx + bw > p.x + p.w) bx = c->mx - 12 - bw; /* keep it inside the plot */
    if (by + bh > p.y + p.h) by = c->my - 12 - bh;
    cairo_set_source_rgba(cr, 1, 1, 0.94, 0.95);
    cairo_rectangle(cr, bx, by, bw, bh);
    cairo_fill_preserve(cr);
    cairo_set_source_rgb(cr, 0.5, 0.5, 0.5);
    cairo_stroke(cr);
    for (int i = 0; i <= nl; i++) {
        if (i == 0)
            cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
        else
            cairo_set_source_rgb(cr, colors[i][0] * 0.8, colors[i][1] * 0.8, colors[i][2] * 0.8);
        viz_text(cr, bx + 6, by + 11 + 15.0 * i, lines[i], 11, -1, 0);
    }
}

/* The bar at the bottom: the smoothing slider and the toggles. */
static void draw_controls(cairo_t *cr, const chart *c, double w, double h) {
    double y = h - CONTROLS_H / 2;
    char buf[96];
    cairo_set_source_rgb(cr, 0.3, 0.3, 0.3);
    viz_text(cr, 10, y, "smoothing", 11, -1, 0);
    cairo_set_source_rgb(cr, 0.8, 0.8, 0.8);
    cairo_set_line_width(cr, 3);
    cairo_move_to(cr, SLIDER_X, y);
    cairo_line_to(cr, SLIDER_X + SLIDER_W, y);
    cairo_stroke(cr);
    double kx = SLIDER_X + c->smoothing * SLIDER_W;
    cairo_set_source_rgb(cr, 0.12, 0.47, 0.71);
    cairo_arc(cr, kx, y, 5, 0, 2 * M_PI);
    cairo_fill(cr);
    snprintf(buf, sizeof buf, "%.2f   log-y: %s (l)   raw: %s (r)   +/- smoothing", c->smoothing,
             c->logy ? "on" : "off", c->raw ? "on" : "off");
    cairo_set_source_rgb(cr, 0.3, 0.3, 0.3);
    if (w > SLIDER_X + SLIDER_W + 60) viz_text(cr, SLIDER_X + SLIDER_W + 12, y, buf, 11, -1, 0);
}

static void chart_render(viz_view *v, cairo_t *cr, double w, double h) {
    chart *c = v->data;
    layout(c, cr, v->name, w, h);
    viz_title(cr, w, c->title ? c->title : v->name);
    viz_axes ax = {c->x0, c->x1, c->y0, c->y1, c->logy, c->xlabel ? c->xlabel : "step", c->ylabel};
    viz_draw_axes(cr, c->plot, &ax);
    draw_controls(cr, c, w, h);

    int points = 0;
    for (int i = 0; i < c->ns; i++) points += c->s[i].n - c->s[i].bad;
    if (points == 0) {
        cairo_set_source_rgb(cr, 0.5, 0.5, 0.5);
        viz_text(cr, c->plot.x + c->plot.w / 2, c->plot.y + c->plot.h / 2,
                 c->ns ? "no finite values yet" : "no data yet", 13, 0, 0);
        return;
    }
    cairo_save(cr);
    cairo_rectangle(cr, c->plot.x, c->plot.y, c->plot.w, c->plot.h);
    cairo_clip(cr);
    cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
    cairo_set_line_cap(cr, CAIRO_LINE_CAP_ROUND);
    bool smoothed = c->smoothing > 0;
    for (int i = 0; i < c->ns; i++) {
        double rgb[3];
        viz_series_color(i, rgb);
        if (smoothed && c->raw) {
            cairo_set_source_rgba(cr, rgb[0], rgb[1], rgb[2], 0.25);
            cairo_set_line_width(cr, 1.0);
            series_path(cr, c, &c->s[i], c->s[i].value);
            cairo_stroke(cr);
        }
        cairo_set_source_rgb(cr, rgb[0], rgb[1], rgb[2]);
        cairo_set_line_width(cr, 2.0);
        series_path(cr, c, &c->s[i], c->s[i].smooth);
        cairo_stroke(cr);
    }
    cairo_restore(cr);
    draw_legend(cr, c);
    draw_hover(cr, c);
}

/* ---------------------------------------------------------------- interaction */

static void set_smoothing(chart *c, double a) {
    if (a < 0) a = 0;
    if (a > MAX_SMOOTHING) a = MAX_SMOOTHING;
    a = round(a * 1000) / 1000; /* keys step by 0.05 without drifting */
    if (a == c->smoothing) return;
    c->smoothing = a;
    resmooth(c);
}

static bool on_slider(const chart *c, double x, double y) {
    return c->h > 0 && y > c->h - CONTROLS_H && x >= SLIDER_X - 8 && x <= SLIDER_X + SLIDER_W + 8;
}

static bool chart_event(viz_view *v, const viz_event *e) {
    chart *c = v->data;
    switch (e->kind) {
    case VIZ_MOTION:
        c->hover = true;
        c->mx = e->x;
        c->my = e->y;
        if (c->dragging) set_smoothing(c, (e->x - SLIDER_X) / SLIDER_W);
        return true;
    case VIZ_LEAVE:
        c->hover = false;
        return true;
    case VIZ_PRESS:
        if (!on_slider(c, e->x, e->y)) return false;
        c->dragging = true;
        set_smoothing(c, (e->x - SLIDER_X) / SLIDER_W);
        return true;
    case VIZ_RELEASE:
        c->dragging = false;
        return false;
    case VIZ_KEY:
        switch (e->key) {
        case '+':
        case '=':
        case ']':
        case VIZ_KEY_UP:
            set_smoothing(c, c->smoothing + 0.05);
            return true;
        case '-':
        case '[':
        case VIZ_KEY_DOWN:
            set_smoothing(c, c->smoothing - 0.05);
            return true;
        case 'l':
        case 'L':
            c->logy = !c->logy;
            return true;
        case 'r':
        case 'R':
            c->raw = !c->raw;
            return true;
        default:
            return false;
        }
    }
    return false;
}

static int chart_probe(viz_view *v, double w, double h, double step, double value, double *x,
                       double *y) {
    chart *c = v->data;
    cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, 1, 1);
    cairo_t *cr = cairo_create(s);
    layout(c, cr, v->name, w, h);
    cairo_destroy(cr);
    cairo_surface_destroy(s);
    *x = px(c, step);
    *y = py(c, ymap(c, value));
    return 0;
}

static const viz_kind_ops chart_ops = {"chart", chart_render, chart_event, chart_probe, chart_free};

/* ---------------------------------------------------------------- the API */

static viz_view *get_chart(const char *fn, const char *name) {
    return viz_get(fn, name, &chart_ops, 720, 450, chart_new);
}

int viz_plot(const char *name, const char *series_name, double step, double value) {
    if (!isfinite(step)) return viz_fail("viz.plot: step must be a finite number, got %g", step);
    viz_view *v = get_chart("viz.plot", name);
    if (!v) return -1;
    chart *c = v->data;
    series *s = find_series(c, series_name);
    if (!s) s = add_series(c, series_name);
    if (!s || push_point(s, c->smoothing, step, value) < 0)
        return viz_fail("viz.plot: out of memory adding a point to '%s'", name);
    viz_changed(v);
    return 0;
}

static int set_text(char **dst, const char *s) {
    if (!s) return 0;
    char *copy = strdup(s);
    if (!copy) return viz_fail("viz.config: out of memory");
    free(*dst);
    *dst = copy;
    return 0;
}

int viz_chart_config(const char *name, const viz_chart_opts *o) {
    if (!isnan(o->smoothing) && !(o->smoothing >= 0 && o->smoothing < 1))
        return viz_fail("viz.config: smoothing must be in [0, 1), got %g", o->smoothing);
    viz_view *v = get_chart("viz.config", name);
    if (!v) return -1;
    chart *c = v->data;
    if (!isnan(o->smoothing)) set_smoothing(c, o->smoothing);
    if (o->logy >= 0) c->logy = o->logy;
    if (o->raw >= 0) c->raw = o->raw;
    if (set_text(&c->title, o->title) < 0 || set_text(&c->xlabel, o->xlabel) < 0 ||
        set_text(&c->ylabel, o->ylabel) < 0)
        return -1;
    viz_changed(v);
    return 0;
}

static chart *lookup(const char *fn, const char *name) {
    viz_view *v = viz_find(name);
    if (!v || v->ops != &chart_ops) {
        viz_fail("%s: no chart named '%s'", fn, name);
        return NULL;
    }
    return v->data;
}

int viz_chart_yrange(const char *name, double *lo, double *hi) {
    chart *c = lookup("viz.yrange", name);
    if (!c) return -1;
    y_range(c, lo, hi);
    if (c->logy) {
        *lo = pow(10, *lo);
        *hi = pow(10, *hi);
    }
    return 0;
}

int viz_chart_points(const char *name, const char *series_name, int *n) {
    chart *c = lookup("viz.points", name);
    if (!c) return -1;
    series *s = find_series(c, series_name);
    if (!s) return viz_fail("viz.points: chart '%s' has no series '%s'", name, series_name);
    *n = s->n;
    return 0;
}

int viz_chart_smoothed(const char *name, const char *series_name, int i, double *v) {
    chart *c = lookup("viz.smoothed", name);
    if (!c) return -1;
    series *s = find_series(c, series_name);
    if (!s) return viz_fail("viz.smoothed: chart '%s' has no series '%s'", name, series_name);
    if (i < 0 || i >= s->n)
        return viz_fail("viz.smoothed: point %d is out of range (the series has %d)", i + 1, s->n);
    *v = s->smooth[i];
    return 0;
}
