/* The live plots (viz/), headless: each kind of view is drawn off-screen to
 * a PNG file, read back and checked pixel by pixel where the layout says
 * something must be (the axis, a curve's colour, the colormap's ends), plus
 * the numbers behind the pictures (EMA with bias correction, the robust y
 * range, attention rollout) and bad input. The PNG files stay in
 * $TYCHO_VIZ_DIR (tests/viz-png under make check) to be looked at. */
#include <cairo.h>
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../viz/view.h"
#include "../viz/viz.h"

static char out_dir[4096];

static void setup(void) {
    viz_force_headless();
    const char *d = getenv("TYCHO_VIZ_DIR");
    if (!d || !*d) d = getenv("TY_TEST_TMPDIR");
    if (!d || !*d) d = "/tmp";
    snprintf(out_dir, sizeof out_dir, "%s", d);
    ck_assert_int_eq(viz_set_output_dir(out_dir), 0);
}

static void teardown(void) {
    viz_shutdown();
}

/* Saves view `name` as test_viz-<file>.png and opens it for reading. */
static cairo_surface_t *save_and_read(const char *name, const char *file) {
    char path[4400];
    snprintf(path, sizeof path, "%s/test_viz-%s.png", out_dir, file);
    ck_assert_msg(viz_save(name, path, NULL, 0) == 0, "%s", viz_last_error());
    cairo_surface_t *s = cairo_image_surface_create_from_png(path);
    ck_assert_int_eq(cairo_surface_status(s), CAIRO_STATUS_SUCCESS);
    return s;
}

typedef struct {
    int r, g, b;
} rgb;

static rgb pixel(cairo_surface_t *s, double x, double y) {
    int ix = (int)floor(x), iy = (int)floor(y);
    ck_assert_msg(ix >= 0 && iy >= 0 && ix < cairo_image_surface_get_width(s) &&
                      iy < cairo_image_surface_get_height(s),
                  "pixel (%d, %d) is outside the image", ix, iy);
    const unsigned char *d = cairo_image_surface_get_data(s);
    uint32_t p = ((const uint32_t *)(d + (size_t)iy * cairo_image_surface_get_stride(s)))[ix];
    return (rgb){(p >> 16) & 0xff, (p >> 8) & 0xff, p & 0xff};
}

/* Whether a pixel within `radius` of (x, y) is within tol of want. */
static bool colour_near(cairo_surface_t *s, double x, double y, int radius, rgb want, int tol) {
    for (int dy = -radius; dy <= radius; dy++)
        for (int dx = -radius; dx <= radius; dx++) {
            rgb p = pixel(s, x + dx, y + dy);
            if (abs(p.r - want.r) <= tol && abs(p.g - want.g) <= tol && abs(p.b - want.b) <= tol)
                return true;
        }
    return false;
}

static rgb from_unit(const double c[3]) {
    return (rgb){(int)lround(c[0] * 255), (int)lround(c[1] * 255), (int)lround(c[2] * 255)};
}

START_TEST(test_viridis_ends) {
    double c[3];
    viz_viridis(0, c);
    rgb lo = from_unit(c);
    ck_assert(lo.r == 0x44 && lo.g == 0x01 && lo.b == 0x54); /* #440154 */
    viz_viridis(1, c);
    rgb hi = from_unit(c);
    ck_assert(hi.r == 0xfd && hi.g == 0xe7 && hi.b == 0x25); /* #fde725 */
    viz_viridis(0.5, c);
    rgb mid = from_unit(c);
    ck_assert(abs(mid.r - 0x21) <= 1 && abs(mid.g - 0x91) <= 1 && abs(mid.b - 0x8c) <= 1);
    /* out of range and NaN clamp instead of reading past the table */
    double d[3];
    viz_viridis(-3, c);
    viz_viridis(0, d);
    ck_assert(c[0] == d[0] && c[1] == d[1] && c[2] == d[2]);
    viz_viridis(NAN, c);
    ck_assert(c[0] == d[0]);
    viz_viridis(7, c);
    viz_viridis(1, d);
    ck_assert(c[2] == d[2]);
    /* green rises all the way: a perceptual map gets brighter */
    double prev = -1;
    for (int i = 0; i <= 100; i++) {
        viz_viridis(i / 100.0, c);
        ck_assert(c[1] > prev);
        prev = c[1];
    }
}
END_TEST

START_TEST(test_ticks_and_labels) {
    double t[16], step;
    int n = viz_ticks(0, 1, 6, t, &step);
    ck_assert_int_eq(n, 6);
    ck_assert(fabs(step - 0.2) < 1e-12 && t[0] == 0 && fabs(t[5] - 1) < 1e-12);
    n = viz_ticks(-3, 7, 8, t, &step);
    ck_assert(step == 2 && t[0] == -2 && t[n - 1] == 6);
    n = viz_ticks(5, 5, 8, t, &step); /* a flat range still gives a tick */
    ck_assert_int_eq(n, 1);
    n = viz_log_ticks(-3, 1, 8, t); /* 1e-3 .. 10 */
    ck_assert(n == 5 && t[0] == -3 && t[4] == 1);
    char buf[32];
    viz_format(0.30000000000000004, 0.1, buf, sizeof buf);
    ck_assert_str_eq(buf, "0.3");
    viz_format(1500, 500, buf, sizeof buf);
    ck_assert_str_eq(buf, "1500");
    viz_format(2e-7, 1e-7, buf, sizeof buf);
    ck_assert_str_eq(buf, "2e-07");
    viz_file_name("loss/train val", buf, sizeof buf);
    ck_assert_str_eq(buf, "loss_train_val");
    viz_file_name("..", buf, sizeof buf);
    ck_assert_str_eq(buf, "view");
}
END_TEST

START_TEST(test_chart_pixels) {
    for (int s = 1; s <= 100; s++) {
        ck_assert_int_eq(viz_plot("chart", "low", s, 1.0), 0);
        ck_assert_int_eq(viz_plot("chart", "high", s, 3.0), 0);
    }
    cairo_surface_t *png = save_and_read("chart", "chart");
    double x, y;
    double c[3];
    /* the first series in tab10's blue, the second in its orange */
    ck_assert_int_eq(viz_probe("chart", 50, 1.0, &x, &y), 0);
    viz_series_color(0, c);
    ck_assert_msg(colour_near(png, x, y, 1, from_unit(c), 40), "no blue at (%g, %g)", x, y);
    ck_assert_int_eq(viz_probe("chart", 50, 3.0, &x, &y), 0);
    viz_series_color(1, c);
    ck_assert_msg(colour_near(png, x, y, 1, from_unit(c), 40), "no orange at (%g, %g)", x, y);
    /* and nothing between the two lines */
    ck_assert_int_eq(viz_probe("chart", 50, 2.0, &x, &y), 0);
    rgb mid = pixel(png, x, y);
    ck_assert(mid.r > 200 && mid.g > 200 && mid.b > 200);
    /* the y axis: a dark vertical line at the first step, all the way up */
    double ax, top, bottom;
    ck_assert_int_eq(viz_probe("chart", 1, 3.0, &ax, &top), 0);
    ck_assert_int_eq(viz_probe("chart", 1, 1.0, &ax, &bottom), 0);
    for (double yy = top + 6; yy <= bottom - 6; yy += 5) { /* the curves cross it at the ends */
        rgb p = pixel(png, ax, yy);
        ck_assert_msg(p.r < 90 && p.g < 90 && p.b < 90, "no axis at (%g, %g)", ax, yy);
    }
    cairo_surface_destroy(png);
}
END_TEST

START_TEST(test_ema_bias_correction) {
    /* a constant series is its own average from the first point on */
    for (int s = 1; s <= 10; s++) viz_plot("ema", "c", s, 5.0);
    double v;
    for (int i = 0; i < 10; i++) {
        ck_assert_int_eq(viz_chart_smoothed("ema", "c", i, &v), 0);
        ck_assert(fabs(v - 5) < 1e-12);
    }
    /* against the formula: ema_k = a ema + (1-a) x, shown as ema_k / (1 - a^k);
     * a NaN leaves the average alone and is a gap itself */
    viz_chart_opts o = {0.9, -1, -1, NULL, NULL, NULL};
    ck_assert_int_eq(viz_chart_config("ema", &o), 0);
    const double xs[6] = {1, 2, NAN, 4, 0, 10};
    for (int i = 0; i < 6; i++) viz_plot("ema", "f", i, xs[i]);
    double ema = 0, decay = 1;
    for (int i = 0; i < 6; i++) {
        ck_assert_int_eq(viz_chart_smoothed("ema", "f", i, &v), 0);
        if (isnan(xs[i])) {
            ck_assert(isnan(v));
            continue;
        }
        ema = 0.9 * ema + 0.1 * xs[i];
        decay *= 0.9;
        ck_assert_msg(fabs(v - ema / (1 - decay)) < 1e-12, "point %d: %g", i, v);
    }
    /* smoothing 0 shows the raw values */
    o.smoothing = 0;
    ck_assert_int_eq(viz_chart_config("ema", &o), 0);
    ck_assert_int_eq(viz_chart_smoothed("ema", "f", 5, &v), 0);
    ck_assert(v == 10);
    /* bad settings name the function and the value */
    o.smoothing = 1.5;
    ck_assert_int_eq(viz_chart_config("ema", &o), -1);
    ck_assert(strstr(viz_last_error(), "viz.config") && strstr(viz_last_error(), "1.5"));
}
END_TEST

START_TEST(test_robust_range) {
    for (int s = 1; s <= 200; s++) viz_plot("clean", "loss", s, 1.0 / (1 + 0.05 * s));
    double lo, hi;
    ck_assert_int_eq(viz_chart_yrange("clean", &lo, &hi), 0);
    /* a normal curve shows whole */
    ck_assert_msg(lo <= 1.0 / 11 && hi >= 1.0 / 1.05, "range %g..%g", lo, hi);
    ck_assert(hi < 1.2);
    /* one wild early point does not squash it */
    for (int s = 1; s <= 200; s++)
        viz_plot("spike", "loss", s, s == 3 ? 1000 : 1.0 / (1 + 0.05 * s));
    ck_assert_int_eq(viz_chart_yrange("spike", &lo, &hi), 0);
    ck_assert_msg(hi < 2, "the spike stretched the range to %g", hi);
    cairo_surface_destroy(save_and_read("spike", "spike"));
    /* a flat series still gets a range */
    for (int s = 1; s <= 5; s++) viz_plot("flat", "x", s, 2.0);
    ck_assert_int_eq(viz_chart_yrange("flat", &lo, &hi), 0);
    ck_assert(lo < 2 && hi > 2);
}
END_TEST

START_TEST(test_many_points) {
    /* every point is kept; drawing decimates, so it stays quick (not timed
     * in the short runs under valgrind) */
    bool short_run = getenv("TY_TEST_SHORT") != NULL;
    int total = short_run ? 20000 : 200000;
    for (int s = 0; s < total; s++) viz_plot("many", "noise", s, sin(s * 0.001) + (s % 7) * 0.01);
    int n;
    ck_assert_int_eq(viz_chart_points("many", "noise", &n), 0);
    ck_assert_int_eq(n, total);
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    cairo_surface_t *png = save_and_read("many", "many");
    clock_gettime(CLOCK_MONOTONIC, &b);
    double secs = (double)(b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) * 1e-9;
    ck_assert_msg(short_run || secs < 3, "drawing %d points took %.2f s", total, secs);
    double x, y, c[3];
    ck_assert_int_eq(viz_probe("many", 0, 0.0, &x, &y), 0);
    viz_series_color(0, c);
    ck_assert(colour_near(png, x + 2, y, 8, from_unit(c), 60));
    cairo_surface_destroy(png);
}
END_TEST

START_TEST(test_chart_interaction) {
    for (int s = 1; s <= 50; s++) viz_plot("keys", "loss", s, 10.0 / s);
    cairo_surface_destroy(save_and_read("keys", "keys"));
    double lo, hi, v0, v1;
    ck_assert_int_eq(viz_chart_yrange("keys", &lo, &hi), 0);
    ck_assert(lo < 0.3 && hi > 5);                       /* linear: 0.2 .. 10 with margins */
    ck_assert_int_eq(viz_input("keys", 'k', 'l', 0), 0); /* log-y */
    ck_assert_int_eq(viz_chart_yrange("keys", &lo, &hi), 0);
    ck_assert(lo > 0.1 && hi < 20);
    /* + raises the smoothing: the smoothed tail lags more */
    viz_chart_smoothed("keys", "loss", 49, &v0);
    viz_input("keys", 'k', '+', 0);
    viz_chart_smoothed("keys", "loss", 49, &v1);
    ck_assert(v1 > v0);
    /* the slider: a press at 30% of its track sets 0.3 */
    viz_input("keys", 'p', 92 + 0.3 * 150, 450 - 13);
    viz_input("keys", 'r', 0, 0);
    viz_chart_opts o = {0, -1, -1, NULL, NULL, NULL};
    double a = 0.3, ema = 0, decay = 1, want = 0;
    for (int s = 1; s <= 50; s++) {
        ema = a * ema + (1 - a) * 10.0 / s;
        decay *= a;
        want = ema / (1 - decay);
    }
    viz_chart_smoothed("keys", "loss", 49, &v1);
    ck_assert_msg(fabs(v1 - want) < 1e-9, "smoothed %g, want %g", v1, want);
    (void)o;
    /* hovering shows a read-out box next to the mouse */
    double x, y;
    ck_assert_int_eq(viz_probe("keys", 25, 0.4, &x, &y), 0);
    viz_input("keys", 'm', x, y);
    cairo_surface_t *png = save_and_read("keys", "hover");
    ck_assert(colour_near(png, x + 20, y + 20, 2, (rgb){255, 255, 240}, 3));
    cairo_surface_destroy(png);
    viz_input("keys", 'l', 0, 0);
    png = save_and_read("keys", "hover-gone");
    ck_assert(!colour_near(png, x + 20, y + 20, 2, (rgb){255, 255, 240}, 3));
    cairo_surface_destroy(png);
}
END_TEST

START_TEST(test_chart_bad_values) {
    /* NaN and infinite values are kept and drawn as gaps */
    viz_plot("nan", "x", 1, NAN);
    cairo_surface_destroy(save_and_read("nan", "all-nan"));
    for (int s = 2; s <= 20; s++) viz_plot("nan", "x", s, s % 5 ? s : INFINITY);
    int n;
    viz_chart_points("nan", "x", &n);
    ck_assert_int_eq(n, 20);
    cairo_surface_destroy(save_and_read("nan", "gaps"));
    /* log-y over values <= 0 draws what it can */
    for (int s = 1; s <= 20; s++) viz_plot("neg", "x", s, s - 10);
    viz_input("neg", 'k', 'l', 0);
    cairo_surface_destroy(save_and_read("neg", "log-negative"));
    /* a non-finite step is an error naming the function */
    ck_assert_int_eq(viz_plot("nan", "x", NAN, 1), -1);
    ck_assert(strstr(viz_last_error(), "viz.plot") && strstr(viz_last_error(), "step"));
    /* an empty chart (settings only) draws axes and says so */
    viz_chart_opts o = {NAN, 1, -1, "empty", NULL, NULL};
    ck_assert_int_eq(viz_chart_config("empty", &o), 0);
    cairo_surface_destroy(save_and_read("empty", "empty"));
}
END_TEST

START_TEST(test_heatmap_colormap_ends) {
    const float v[6] = {0, 1, 0.5f, NAN, INFINITY, -INFINITY};
    ck_assert_int_eq(viz_heatmap("heat", v, 3, 2, NULL), 0);
    cairo_surface_t *png = save_and_read("heat", "heatmap");
    double x, y, c[3];
    viz_viridis(0, c);
    rgb lo = from_unit(c);
    viz_viridis(1, c);
    rgb hi = from_unit(c);
    viz_probe("heat", 0, 0, &x, &y);
    ck_assert(colour_near(png, x, y, 0, lo, 1));
    viz_probe("heat", 0, 1, &x, &y);
    ck_assert(colour_near(png, x, y, 0, hi, 1));
    viz_probe("heat", 1, 1, &x, &y); /* NaN: grey */
    ck_assert(colour_near(png, x, y, 0, (rgb){153, 153, 153}, 1));
    viz_probe("heat", 2, 0, &x, &y); /* +inf: the top colour */
    ck_assert(colour_near(png, x, y, 0, hi, 1));
    viz_probe("heat", 2, 1, &x, &y); /* -inf: the bottom */
    ck_assert(colour_near(png, x, y, 0, lo, 1));
    cairo_surface_destroy(png);
    /* the colour bar runs from the bottom colour to the top one, right of
     * the cells */
    viz_heatmap_opts o = {
        "ramp",
        0,
        10,
    };
    float ramp[100];
    for (int i = 0; i < 100; i++) ramp[i] = (float)(i / 10);
    ck_assert_int_eq(viz_heatmap("ramp", ramp, 10, 10, &o), 0);
    png = save_and_read("ramp", "heatmap-ramp");
    double xa, ya, xb, yb, xc, yc;
    viz_probe("ramp", 0, 8, &xa, &ya);
    viz_probe("ramp", 0, 9, &xb, &yb);
    viz_probe("ramp", 9, 9, &xc, &yc);
    double cell = xb - xa;               /* cells are square */
    double bar = xb + cell / 2 + 14 + 8; /* the middle of the bar */
    double top = yb - cell / 2, bottom = yc + cell / 2;
    ck_assert(colour_near(png, bar, top + 2, 0, hi, 8));
    ck_assert(colour_near(png, bar, bottom - 3, 0, lo, 8));
    cairo_surface_destroy(png);
}
END_TEST

START_TEST(test_heatmap_bad_input) {
    ck_assert_int_eq(viz_heatmap("h", NULL, 0, 3, NULL), -1);
    ck_assert(strstr(viz_last_error(), "viz.heatmap") && strstr(viz_last_error(), "0 x 3"));
    const float v[1] = {1};
    viz_heatmap_opts o = {NULL, 2, 1};
    ck_assert_int_eq(viz_heatmap("h", v, 1, 1, &o), -1);
    ck_assert(strstr(viz_last_error(), "vmin 2"));
    /* one name, one kind */
    ck_assert_int_eq(viz_plot("taken", "x", 1, 1), 0);
    ck_assert_int_eq(viz_heatmap("taken", v, 1, 1, NULL), -1);
    ck_assert(strstr(viz_last_error(), "'taken' is a chart"));
    /* unknown views */
    ck_assert_int_eq(viz_save("nope", NULL, NULL, 0), -1);
    ck_assert(strstr(viz_last_error(), "viz.save") && strstr(viz_last_error(), "'nope'"));
    ck_assert_int_eq(viz_close("nope"), -1);
    ck_assert(strstr(viz_last_error(), "viz.close"));
    ck_assert_int_eq(viz_screenshot("taken", "/tmp/x.png"), -1); /* headless: no window */
    ck_assert(strstr(viz_last_error(), "no window"));
    /* a file that cannot be written */
    ck_assert_int_eq(viz_save("taken", "/nonexistent/dir/x.png", NULL, 0), -1);
    ck_assert(strstr(viz_last_error(), "/nonexistent/dir/x.png"));
}
END_TEST

START_TEST(test_image_grid) {
    /* a red RGB image, a grey ramp in [0, 255] (stretched), one with NaN */
    float red[3 * 4 * 4] = {0}, ramp[6 * 6], nan_img[4];
    for (int i = 0; i < 16; i++) red[i] = 1;
    for (int i = 0; i < 36; i++) ramp[i] = (float)(i * 7);
    for (int i = 0; i < 4; i++) nan_img[i] = i == 0 ? NAN : 0.5f;
    viz_image imgs[3] = {{red, 3, 4, 4, NAN, NAN, "red"},
                         {ramp, 1, 6, 6, NAN, NAN, "ramp"},
                         {nan_img, 1, 2, 2, NAN, NAN, NULL}};
    ck_assert_int_eq(viz_images("grid", imgs, 3, 0, "three"), 0);
    cairo_surface_t *png = save_and_read("grid", "images");
    double x, y;
    viz_probe("grid", 0, 0, &x, &y);
    ck_assert(colour_near(png, x, y, 0, (rgb){255, 0, 0}, 0));
    /* the ramp is stretched: its first pixel black, its last white */
    double s = 96; /* the default cell: images are enlarged to at least this */
    viz_probe("grid", 1, 0, &x, &y);
    ck_assert(colour_near(png, x - s / 2 + 2, y - s / 2 + 2, 0, (rgb){0, 0, 0}, 0));
    ck_assert(colour_near(png, x + s / 2 - 3, y + s / 2 - 3, 0, (rgb){255, 255, 255}, 0));
    viz_probe("grid", 2, 0, &x, &y); /* NaN shows magenta, not black */
    ck_assert(colour_near(png, x - s / 4, y - s / 4, 0, (rgb){255, 0, 255}, 0));
    cairo_surface_destroy(png);
    /* bad input */
    viz_image two = {red, 2, 4, 4, NAN, NAN, NULL};
    ck_assert_int_eq(viz_images("grid", &two, 1, 0, NULL), -1);
    ck_assert(strstr(viz_last_error(), "viz.image") && strstr(viz_last_error(), "2 channels"));
    ck_assert_int_eq(viz_images("grid", imgs, 0, 0, NULL), -1);
    ck_assert_int_eq(viz_probe("grid", 7, 0, &x, &y), -1);
}
END_TEST

START_TEST(test_rollout) {
    /* one block, one head: (A + I) with rows renormalised */
    const float a1[4] = {0.5f, 0.5f, 0, 1};
    float out[4];
    ck_assert_int_eq(viz_attention_rollout(a1, 1, 1, 2, out), 0);
    const float want1[4] = {0.75f, 0.25f, 0, 1};
    for (int i = 0; i < 4; i++) ck_assert(fabsf(out[i] - want1[i]) < 1e-6f);
    /* two heads are averaged; two blocks multiply, the later on the left */
    const float a2[16] = {
        1, 0, 0, 1, /* block 1, head 1 */
        0, 1, 1, 0, /* block 1, head 2 */
        0, 1, 0, 1, /* block 2, head 1 */
        0, 1, 0, 1, /* block 2, head 2 */
    };
    ck_assert_int_eq(viz_attention_rollout(a2, 2, 2, 2, out), 0);
    /* block 1: mean [[.5,.5],[.5,.5]] + I -> [[.75,.25],[.25,.75]];
     * block 2: [[0,1],[0,1]] + I -> [[.5,.5],[0,1]]; product b2 @ b1 */
    const float want2[4] = {0.5f, 0.5f, 0.25f, 0.75f};
    for (int i = 0; i < 4; i++)
        ck_assert_msg(fabsf(out[i] - want2[i]) < 1e-6f, "%d: %g", i, out[i]);
    ck_assert_int_eq(viz_attention_rollout(a2, 0, 2, 2, out), -1);
}
END_TEST

START_TEST(test_attention_view) {
    /* two 8x8 images, 2x2 patches of 4 pixels, 2 blocks of 3 heads; head h
     * of the last block looks from the class token at patch h only */
    enum { B = 2, BLK = 2, H = 3, N = 5 };
    float img[B * 8 * 8], attn[B * BLK * H * N * N];
    for (int i = 0; i < B * 64; i++) img[i] = 1; /* white */
    for (int b = 0; b < B; b++)
        for (int k = 0; k < BLK; k++)
            for (int h = 0; h < H; h++)
                for (int i = 0; i < N; i++)
                    for (int j = 0; j < N; j++) {
                        float *a = attn + (((size_t)(b * BLK + k) * H + h) * N + i) * N + j;
                        *a = (i == 0 && k == BLK - 1) ? (j == h + 1 ? 1.0f : 0.0f) : 1.0f / N;
                    }
    const char *labels[B] = {"first", NULL};
    viz_attention_input in = {img, B, 1, 8, 8, attn, BLK, H, N, 2, labels, "attention"};
    ck_assert_int_eq(viz_attention("att", &in), 0);
    cairo_surface_t *png = save_and_read("att", "attention");
    double x, y, c[3];
    viz_probe("att", 0, 0, &x, &y); /* the input: white */
    ck_assert(colour_near(png, x, y, 0, (rgb){255, 255, 255}, 0));
    /* head 1 looks at patch 1 (top left): bright there, dark at the bottom
     * right, blended 60% over the white image */
    viz_viridis(1, c);
    rgb bright = {(int)lround((0.4 + 0.6 * c[0]) * 255), (int)lround((0.4 + 0.6 * c[1]) * 255),
                  (int)lround((0.4 + 0.6 * c[2]) * 255)};
    viz_viridis(0, c);
    rgb dark = {(int)lround((0.4 + 0.6 * c[0]) * 255), (int)lround((0.4 + 0.6 * c[1]) * 255),
                (int)lround((0.4 + 0.6 * c[2]) * 255)};
    viz_probe("att", 1, 0, &x, &y);
    double q = 112 / 2.0 - 4; /* overlays are 112 pixels wide, shown 1:1 */
    ck_assert(colour_near(png, x - q, y - q, 1, bright, 4));
    ck_assert(colour_near(png, x + q, y + q, 1, dark, 4));
    cairo_surface_destroy(png);
    /* a token count that is no square grid plus one is an error */
    in.grid = 3;
    ck_assert_int_eq(viz_attention("att", &in), -1);
    ck_assert(strstr(viz_last_error(), "viz.attention") && strstr(viz_last_error(), "5 tokens"));
}
END_TEST

START_TEST(test_headless_autosave) {
    /* closing an off-screen view writes its last state to the folder */
    char path[4400];
    snprintf(path, sizeof path, "%s/test_viz_autosave.png", out_dir);
    remove(path);
    ck_assert_int_eq(viz_plot("test_viz_autosave", "x", 1, 1), 0);
    ck_assert_int_eq(viz_plot("test_viz_autosave", "x", 2, 2), 0);
    ck_assert_int_eq(viz_close("test_viz_autosave"), 0);
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "%s was not written", path);
    fclose(f);
    ck_assert_int_eq(viz_count(), 0);
    ck_assert(viz_headless());
}
END_TEST

static Suite *viz_suite(void) {
    Suite *s = suite_create("viz");
    TCase *tc = tcase_create("headless");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_viridis_ends);
    tcase_add_test(tc, test_ticks_and_labels);
    tcase_add_test(tc, test_chart_pixels);
    tcase_add_test(tc, test_ema_bias_correction);
    tcase_add_test(tc, test_robust_range);
    tcase_add_test(tc, test_many_points);
    tcase_add_test(tc, test_chart_interaction);
    tcase_add_test(tc, test_chart_bad_values);
    tcase_add_test(tc, test_heatmap_colormap_ends);
    tcase_add_test(tc, test_heatmap_bad_input);
    tcase_add_test(tc, test_image_grid);
    tcase_add_test(tc, test_rollout);
    tcase_add_test(tc, test_attention_view);
    tcase_add_test(tc, test_headless_autosave);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) {
    SRunner *sr = srunner_create(viz_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
