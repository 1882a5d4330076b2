/* Attention maps of a vision transformer (viz.attention): for each input,
 * the image, what the class token of the last block attends to in each head,
 * and the attention rollout through all blocks (Abnar and Zuidema 2020,
 * "Quantifying Attention Flow in Transformers"), each map upsampled over
 * the image. The panels are drawn by the image grid. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "view.h"

#define OVERLAY_ALPHA 0.6 /* how much of the map covers the image */
#define PANEL_MIN 112     /* overlays are computed at least this many pixels wide */

int viz_attention_rollout(const float *attn, int blocks, int heads, int n, float *out) {
    if (blocks <= 0 || heads <= 0 || n <= 0)
        return viz_fail("viz.attention: rollout of %d blocks, %d heads, %d tokens", blocks, heads,
                        n);
    size_t nn = (size_t)n * n;
    double *r = malloc(nn * sizeof *r), *a = malloc(nn * sizeof *a), *t = malloc(nn * sizeof *t);
    if (!r || !a || !t) {
        free(r);
        free(a);
        free(t);
        return viz_fail("viz.attention: out of memory for %d tokens", n);
    }
    for (size_t i = 0; i < nn; i++) r[i] = i % (n + 1) == 0; /* the identity */
    for (int b = 0; b < blocks; b++) {
        /* The heads' mean, plus the identity for the residual connection
         * that carries each token past the attention, rows renormalised. */
        const float *blk = attn + (size_t)b * heads * nn;
        for (size_t i = 0; i < nn; i++) {
            double s = 0;
            for (int h = 0; h < heads; h++) s += blk[(size_t)h * nn + i];
            a[i] = s / heads + (i % (n + 1) == 0);
        }
        for (int i = 0; i < n; i++) {
            double s = 0;
            for (int j = 0; j < n; j++) s += a[(size_t)i * n + j];
            if (s != 0)
                for (int j = 0; j < n; j++) a[(size_t)i * n + j] /= s;
        }
        /* this block after everything below it: t = a @ r */
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++) {
                double s = 0;
                for (int k = 0; k < n; k++) s += a[(size_t)i * n + k] * r[(size_t)k * n + j];
                t[(size_t)i * n + j] = s;
            }
        double *swap = r;
        r = t;
        t = swap;
    }
    for (size_t i = 0; i < nn; i++) out[i] = (float)r[i];
    free(r);
    free(a);
    free(t);
    return 0;
}

/* A map of g x g patch weights sampled bilinearly at (u, v) in patch units,
 * patch centres at k + 0.5. */
static double sample(const double *map, int g, double u, double v) {
    u -= 0.5;
    v -= 0.5;
    if (u < 0) u = 0;
    if (v < 0) v = 0;
    if (u > g - 1) u = g - 1;
    if (v > g - 1) v = g - 1;
    int x0 = (int)u, y0 = (int)v;
    int x1 = x0 + 1 < g ? x0 + 1 : x0, y1 = y0 + 1 < g ? y0 + 1 : y0;
    double fx = u - x0, fy = v - y0;
    double top = map[y0 * g + x0] * (1 - fx) + map[y0 * g + x1] * fx;
    double bot = map[y1 * g + x0] * (1 - fx) + map[y1 * g + x1] * fx;
    return top * (1 - fy) + bot * fy;
}

/* Scales the map to [0, 1] by its own min and max: each panel shows where
 * its head looks, whatever its temperature. NaN becomes 0. */
static void stretch(double *map, int count) {
    double lo = INFINITY, hi = -INFINITY;
    for (int i = 0; i < count; i++) {
        if (!isfinite(map[i])) continue;
        if (map[i] < lo) lo = map[i];
        if (map[i] > hi) hi = map[i];
    }
    for (int i = 0; i < count; i++)
        map[i] = isfinite(map[i]) && hi > lo ? (map[i] - lo) / (hi - lo) : 0;
}

/* The grey level of the input at pixel (y, x): the channels' mean, mapped
 * like the grid maps images (see viz_image). */
static void grey_image(const viz_attention_input *in, const float *img, double *out) {
    size_t plane = (size_t)in->height * in->width;
    double lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < plane * in->channels; i++) {
        if (!isfinite(img[i])) continue;
        if (img[i] < lo) lo = img[i];
        if (img[i] > hi) hi = img[i];
    }
    if (!(lo <= hi) || (lo >= 0 && hi <= 1)) lo = 0, hi = 1;
    if (hi == lo) hi = lo + 1;
    for (size_t i = 0; i < plane; i++) {
        double s = 0;
        for (int c = 0; c < in->channels; c++) s += img[c * plane + i];
        double t = (s / in->channels - lo) / (hi - lo);
        out[i] = isfinite(t) ? fmin(fmax(t, 0), 1) : 0;
    }
}

/* One overlay panel (3 x S x S' planar RGB in [0, 1]): the grey image with
 * the map in viridis over it. */
static void overlay(const viz_attention_input *in, const double *grey, const double *map, int k,
                    float *out) {
    int H = in->height * k, W = in->width * k, g = in->grid;
    size_t plane = (size_t)H * W;
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            double base = grey[(size_t)(y / k) * in->width + x / k];
            double m = sample(map, g, (x + 0.5) / W * g, (y + 0.5) / H * g), rgb[3];
            viz_viridis(m, rgb);
            for (int c = 0; c < 3; c++)
                out[c * plane + (size_t)y * W + x] =
                    (float)((1 - OVERLAY_ALPHA) * base + OVERLAY_ALPHA * rgb[c]);
        }
}

int viz_attention(const char *name, const viz_attention_input *in) {
    int n = in->n, g = in->grid, heads = in->heads, per = heads + 2;
    if (n != 1 + g * g)
        return viz_fail("viz.attention: %d tokens is not 1 + %d x %d patches", n, g, g);
    if (in->batch <= 0 || in->blocks <= 0 || heads <= 0)
        return viz_fail("viz.attention: nothing to draw (batch %d, blocks %d, heads %d)", in->batch,
                        in->blocks, heads);
    int k = (PANEL_MIN + in->width - 1) / in->width;
    if (k < 1) k = 1;
    size_t nn = (size_t)n * n, plane = (size_t)in->height * in->width;
    size_t panel = 3 * plane * k * k;
    int count = in->batch * per;
    float *pix = malloc((size_t)count * panel * sizeof *pix);
    float *roll = malloc(nn * sizeof *roll);
    double *grey = malloc(plane * sizeof *grey), *map = malloc((size_t)g * g * sizeof *map);
    viz_image *imgs = calloc((size_t)count, sizeof *imgs);
    char(*labels)[64] = calloc((size_t)count, sizeof *labels);
    int rc = -1;
    if (!pix || !roll || !grey || !map || !imgs || !labels) {
        viz_fail("viz.attention: out of memory for %d panels", count);
        goto done;
    }
    for (int b = 0; b < in->batch; b++) {
        const float *img = in->images + (size_t)b * in->channels * plane;
        const float *att = in->attn + (size_t)b * in->blocks * heads * nn;
        viz_image *row = imgs + (size_t)b * per;
        char(*lab)[64] = labels + (size_t)b * per;
        /* the input as it is */
        row[0] = (viz_image){img, in->channels, in->height, in->width, NAN, NAN, lab[0]};
        snprintf(lab[0], 64, "%s", in->labels && in->labels[b] ? in->labels[b] : "input");
        grey_image(in, img, grey);
        /* each head of the last block: the class token's row, patches only */
        const float *last = att + (size_t)(in->blocks - 1) * heads * nn;
        for (int h = 0; h < heads; h++) {
            for (int p = 0; p < g * g; p++) map[p] = last[(size_t)h * nn + 1 + p];
            stretch(map, g * g);
            float *out = pix + ((size_t)b * per + 1 + h) * panel;
            overlay(in, grey, map, k, out);
            row[1 + h] = (viz_image){out, 3, in->height * k, in->width * k, 0, 1, lab[1 + h]};
            snprintf(lab[1 + h], 64, "head %d", h + 1);
        }
        if (viz_attention_rollout(att, in->blocks, heads, n, roll) < 0) goto done;
        for (int p = 0; p < g * g; p++) map[p] = roll[1 + p];
        stretch(map, g * g);
        float *out = pix + ((size_t)b * per + per - 1) * panel;
        overlay(in, grey, map, k, out);
        row[per - 1] = (viz_image){out, 3, in->height * k, in->width * k, 0, 1, lab[per - 1]};
        snprintf(lab[per - 1], 64, "rollout");
    }
    rc = viz_images(name, imgs, count, per, in->title ? in->title : name);
done:
    free(pix);
    free(roll);
    free(grey);
    free(map);
    free(imgs);
    free(labels);
    return rc;
}
