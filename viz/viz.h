/* tycho's live plots: named views (line charts, heatmaps, image grids,
 * attention maps) drawn with cairo into image surfaces. With a display
 * each view has an SDL2 window that shows the surface as a texture; without
 * one (--headless, no DISPLAY, SDL failing) views live off-screen and are
 * written as PNG files. The same pixels go to the screen and to the PNG.
 *
 * Everything runs on the main thread. Data comes in as plain float arrays
 * (the Lua binding, lang/l_viz.c, converts tensors), so nothing here knows
 * about tensors or Lua. Functions that can fail return -1 (or NULL) and
 * leave a message for viz_last_error() naming the function and the values. */
#ifndef TYCHO_VIZ_H
#define TYCHO_VIZ_H

#include <stdbool.h>

/* The message of the last failure ("viz.save: no view named 'x'"). */
const char *viz_last_error(void);

/* ---------------------------------------------------------------- views (window.c) */

/* Whether views are off-screen. Decided on the first call: TYCHO_HEADLESS
 * set (and not "0"), or neither DISPLAY nor WAYLAND_DISPLAY set, or SDL's
 * video failing to start. */
bool viz_headless(void);
/* Number of views and the name of the i-th (0-based), in creation order. */
int viz_count(void);
const char *viz_name_at(int i);
/* The kind of the view ("chart", "heatmap", "images"), NULL if none. */
const char *viz_kind_of(const char *name);
/* Closes a view: its window goes and its data is dropped. Headless, a view
 * with unsaved changes is written first. */
int viz_close(const char *name);
/* Opens the window of a view again after the user closed it. */
int viz_show(const char *name);
/* Writes the view as a PNG file; path NULL: <output dir>/<name>.png. The
 * path written is copied to out (when out is not NULL). */
int viz_save(const char *name, const char *path, char *out, int out_size);
/* Handles window events (move, resize, close, mouse, keys) and redraws
 * what changed; headless, writes views that changed at most every couple of
 * seconds. Cheap when there is nothing to do. */
void viz_pump(void);
/* viz_pump, but at most once per VIZ_PUMP_MS: for hot paths (each viz call,
 * the interpreter hook). */
void viz_pump_maybe(void);
#define VIZ_PUMP_MS 40
/* Whether any window is on screen (then the host should pump). */
bool viz_live(void);
/* Called with true when the first window opens and false when the last one
 * goes, so the host can start and stop pumping. */
void viz_set_live_callback(void (*fn)(bool live));
/* Headless: writes every view with unsaved changes. */
void viz_flush(void);
/* Flushes, closes every view and shuts SDL down. Safe to call twice. */
void viz_shutdown(void);
/* The folder PNG files go to: $TYCHO_VIZ_DIR, else ./tycho-plots. Created
 * and printed (once, on stderr) on first use; NULL on failure. */
const char *viz_output_dir(void);
/* For tests and embedders: draw off-screen from now on (when SDL has not
 * been started yet), and put PNG files into dir instead. */
void viz_force_headless(void);
int viz_set_output_dir(const char *dir);
/* The pixels a window shows, read back from the renderer
 * (SDL_RenderReadPixels), as a PNG file. Fails for off-screen views. */
int viz_screenshot(const char *name, const char *path);
/* Where something is drawn, in pixels of the view's surface: a chart maps
 * (step, value), a heatmap the centre of cell (row, col) (0-based), an image
 * grid the centre of image a (0-based). For tests. */
int viz_probe(const char *name, double a, double b, double *x, double *y);
/* How many times viz_pump ran (tests: windows are pumped while code runs
 * and while the prompt waits). */
long viz_pump_count(void);
/* Posts the window manager's close request for a view's window, as a click
 * on its close button would (tests). */
int viz_request_close(const char *name);
/* Sends an input event to a view as if it came from its window (tests):
 * kind 'm' mouse motion to (x, y), 'l' the mouse leaving, 'p' and 'r' button
 * press and release at (x, y), 'k' a key (x is the character). */
int viz_input(const char *name, int kind, double x, double y);

/* ---------------------------------------------------------------- line charts (chart.c) */

/* Appends (step, value) to the series of chart `name` (made on first use,
 * with a window). NaN and infinite values are kept and drawn as gaps. */
int viz_plot(const char *name, const char *series, double step, double value);

/* Chart settings; a NaN number or negative flag leaves a setting as it is,
 * a NULL string too. */
typedef struct {
    double smoothing; /* EMA weight in [0, 1) */
    int logy;         /* 0/1 */
    int raw;          /* draw the raw points behind the smoothed line: 0/1 */
    const char *title, *xlabel, *ylabel;
} viz_chart_opts;
/* Makes the chart when it does not exist yet. */
int viz_chart_config(const char *name, const viz_chart_opts *o);
/* The y range the chart shows now (after robust auto-scaling). */
int viz_chart_yrange(const char *name, double *lo, double *hi);
/* Number of points of a series, and the smoothed value at point i (0-based). */
int viz_chart_points(const char *name, const char *series, int *n);
int viz_chart_smoothed(const char *name, const char *series, int i, double *v);

/* ---------------------------------------------------------------- heatmaps (heatmap.c) */

typedef struct {
    const char *title;
    double vmin, vmax; /* colour range; NaN: from the finite values */
} viz_heatmap_opts;
/* Shows a rows x cols matrix (row-major) with viridis and a colour bar.
 * NaN cells are grey; infinities take the end colours. */
int viz_heatmap(const char *name, const float *v, int rows, int cols, const viz_heatmap_opts *o);

/* ---------------------------------------------------------------- image grids (grid.c) */

/* One image: planar channels (C,H,W) with C 1 (grey), 3 (RGB) or 4 (RGBA).
 * Values are mapped from [lo, hi] to black..white; lo >= hi (or NaN) picks
 * the range: [0, 1] when every value lies there, else min..max. */
typedef struct {
    const float *pix;
    int channels, height, width;
    double lo, hi;
    const char *label; /* NULL: none */
} viz_image;
/* Shows n images in a grid of `cols` columns (0: about square), each drawn
 * at least min_size points wide, with labels under them. */
int viz_images(const char *name, const viz_image *imgs, int n, int cols, const char *title);

/* ---------------------------------------------------------------- attention (attention.c) */

/* Attention rollout (Abnar & Zuidema 2020) of one input: attn holds
 * blocks x heads x n x n row-stochastic matrices; each block's heads are
 * averaged, the identity added and rows renormalised, and the blocks
 * multiplied from first to last. out (n x n) gets the product. */
int viz_attention_rollout(const float *attn, int blocks, int heads, int n, float *out);

/* What viz_attention draws: for each of `batch` inputs, the image (C,H,W),
 * the class-token attention of every head of the last block over the
 * patches, and the rollout, side by side in one window. attn holds, for
 * input b, blocks x heads x n x n values at attn + b * blocks*heads*n*n;
 * n = 1 + grid*grid (token 0 is the class token). */
typedef struct {
    const float *images;
    int batch, channels, height, width;
    const float *attn;
    int blocks, heads, n, grid;
    const char *const *labels; /* batch labels or NULL */
    const char *title;
} viz_attention_input;
int viz_attention(const char *name, const viz_attention_input *in);

#endif
