/* What the files of viz/ share inside: the view record, the table of
 * functions each kind of view provides, input events, and the drawing
 * helpers (text and axes in axes.c, colours in colormap.c). Nothing here
 * knows about SDL: window.c alone talks to it, so every kind of view can be
 * rendered and tested off-screen. */
#ifndef TYCHO_VIZ_VIEW_H
#define TYCHO_VIZ_VIEW_H

#include <cairo.h>
#include <stdbool.h>

#include "viz.h"

/* An input event in the view's logical coordinates (points, not pixels). */
typedef enum { VIZ_MOTION, VIZ_LEAVE, VIZ_PRESS, VIZ_RELEASE, VIZ_KEY } viz_input_kind;
typedef struct {
    viz_input_kind kind;
    double x, y;
    int key; /* VIZ_KEY: an ASCII character, or one of the codes below */
} viz_event;
enum { VIZ_KEY_UP = 1000, VIZ_KEY_DOWN };

typedef struct viz_view viz_view;

/* What a kind of view does. */
typedef struct {
    const char *kind; /* "chart", "heatmap", "images" */
    /* Draws the view on cr, which is scaled so that the view spans w x h. */
    void (*render)(viz_view *v, cairo_t *cr, double w, double h);
    /* Reacts to an event; returns whether the view must be redrawn. NULL:
     * the kind has no interaction. */
    bool (*event)(viz_view *v, const viz_event *e);
    /* See viz_probe; w and h are the view's size. */
    int (*probe)(viz_view *v, double w, double h, double a, double b, double *x, double *y);
    void (*free)(void *data);
} viz_kind_ops;

struct viz_screen; /* the SDL window of a view (window.c) */

struct viz_view {
    char *name;
    const viz_kind_ops *ops;
    void *data;                /* the kind's own record */
    int width, height;         /* size in points (the window's, or the default) */
    bool unsaved;              /* changed since last written (headless autosave) */
    double saved_at;           /* when it was last written (seconds, monotonic) */
    struct viz_screen *screen; /* NULL: off-screen */
    bool hidden;               /* the user closed its window: no window, no autosave */
};

/* ---- the registry (window.c) ---- */

/* The view named name, or NULL. */
viz_view *viz_find(const char *name);
/* The view named name of kind ops; made (width x height, with a window
 * unless headless) when there is none, data then taken over (freed with
 * ops->free on failure). A view of another kind is an error naming fn. */
viz_view *viz_get(const char *fn, const char *name, const viz_kind_ops *ops, int width, int height,
                  void *(*make)(void));
/* Tells the registry that a view's content changed: it is redrawn at the
 * next pump and (headless) written at the next autosave. */
void viz_changed(viz_view *v);
/* Sets the error message (printf formats); returns -1. */
int viz_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Seconds on a monotonic clock. */
double viz_now(void);

/* ---- rendering and PNG files (png.c) ---- */

/* A new image surface of w x h pixels with the view drawn on it at scale
 * (pixels per point); NULL (error set) on failure. */
cairo_surface_t *viz_render(viz_view *v, int w, int h, double scale);
/* Writes the view, drawn at its size, to path. */
int viz_write_png(viz_view *v, const char *path);
/* A file name made from a view name: letters, digits, '-', '_' and '.' are
 * kept, anything else becomes '_'. */
void viz_file_name(const char *name, char *out, int size);

/* ---- text, axes and colours (axes.c, colormap.c) ---- */

typedef struct {
    double x, y, w, h;
} viz_rect;

/* Draws s with its anchor at (x, y): halign -1 left, 0 centre, 1 right;
 * valign -1 top, 0 middle, 1 baseline. Returns the text width. */
double viz_text(cairo_t *cr, double x, double y, const char *s, double size, int halign,
                int valign);
double viz_text_width(cairo_t *cr, const char *s, double size);
/* Round tick values covering [lo, hi]: at most max ticks, steps 1, 2 or 5
 * times a power of ten. Returns the count; *step gets the spacing. */
int viz_ticks(double lo, double hi, int max, double *ticks, double *step);
/* Ticks of a log10 axis over [lo, hi] (exponents): powers of ten, or 1-2-5
 * within a decade when the range is short. Values are exponents too. */
int viz_log_ticks(double lo, double hi, int max, double *ticks);
/* A tick label: as few digits as the spacing needs, scientific for very
 * large or small numbers. */
void viz_format(double v, double step, char *buf, int size);

/* The axes of a plot: frame, grid lines, ticks with labels, and axis
 * labels. x and y ranges are in data units (log10 of the value when logy).
 * Returns the plot rectangle chosen inside `area` (room is left for the
 * labels). */
typedef struct {
    double x0, x1, y0, y1;
    bool logy;
    const char *xlabel, *ylabel;
} viz_axes;
viz_rect viz_axes_rect(cairo_t *cr, viz_rect area, const viz_axes *a);
void viz_draw_axes(cairo_t *cr, viz_rect plot, const viz_axes *a);
/* A title centred at the top of a view of width w. */
void viz_title(cairo_t *cr, double w, const char *title);

/* Viridis (matplotlib's perceptual colormap) at t in [0, 1] (clamped). */
void viz_viridis(double t, double rgb[3]);
/* The colour of series i (tab10's palette, repeating). */
void viz_series_color(int i, double rgb[3]);

/* Shared look. */
#define VIZ_FONT "sans-serif"
#define VIZ_TITLE_H 28.0 /* height of the title band */

#endif
