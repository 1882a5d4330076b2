/* Off-screen rendering and PNG files: a view drawn into a cairo image
 * surface (the same function draws the pixels a window shows), written with
 * cairo_surface_write_to_png, and the folder where headless views and
 * viz.save without a path put their files. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "view.h"

cairo_surface_t *viz_render(viz_view *v, int w, int h, double scale) {
    /* RGB24: plots are opaque, and the PNG then carries no alpha channel */
    cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, w, h);
    if (cairo_surface_status(s) != CAIRO_STATUS_SUCCESS) {
        viz_fail("viz: cannot make a %dx%d image: %s", w, h,
                 cairo_status_to_string(cairo_surface_status(s)));
        cairo_surface_destroy(s);
        return NULL;
    }
    cairo_t *cr = cairo_create(s);
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);
    cairo_scale(cr, scale, scale);
    v->ops->render(v, cr, w / scale, h / scale);
    cairo_destroy(cr);
    cairo_surface_flush(s);
    return s;
}

int viz_write_png(viz_view *v, const char *path) {
    cairo_surface_t *s = viz_render(v, v->width, v->height, 1);
    if (!s) return -1;
    cairo_status_t st = cairo_surface_write_to_png(s, path);
    cairo_surface_destroy(s);
    if (st != CAIRO_STATUS_SUCCESS)
        return viz_fail("viz.save: cannot write '%s': %s", path, cairo_status_to_string(st));
    return 0;
}

void viz_file_name(const char *name, char *out, int size) {
    int n = 0;
    for (const char *p = name; *p && n < size - 1; p++) {
        char c = *p;
        bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '.';
        out[n++] = keep ? c : '_';
    }
    if (n == 0 || (n == 1 && out[0] == '.') || (n == 2 && out[0] == '.' && out[1] == '.'))
        n = snprintf(out, (size_t)size, "view");
    out[n] = '\0';
}

/* mkdir -p: every missing parent too. */
static int make_dirs(char *path) {
    for (char *p = path + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        int rc = mkdir(path, 0777);
        *p = '/';
        if (rc != 0 && errno != EEXIST) return -1;
    }
    return mkdir(path, 0777) == 0 || errno == EEXIST ? 0 : -1;
}

static char dir[4096];    /* the output folder once made */
static char chosen[4096]; /* one set by viz_set_output_dir */

int viz_set_output_dir(const char *d) {
    if (!d || !*d || strlen(d) >= sizeof chosen)
        return viz_fail("viz: bad folder name for PNG files");
    snprintf(chosen, sizeof chosen, "%s", d);
    dir[0] = '\0'; /* made and printed at the next use */
    return 0;
}

const char *viz_output_dir(void) {
    if (dir[0]) return dir;
    const char *env = getenv("TYCHO_VIZ_DIR");
    char want[4096];
    if (chosen[0]) {
        snprintf(want, sizeof want, "%s", chosen);
    } else if (env && *env) {
        snprintf(want, sizeof want, "%s", env);
    } else {
        char cwd[3000];
        if (!getcwd(cwd, sizeof cwd)) snprintf(cwd, sizeof cwd, ".");
        snprintf(want, sizeof want, "%s/tycho-plots", cwd);
    }
    struct stat st;
    if (make_dirs(want) < 0 || stat(want, &st) != 0 || !S_ISDIR(st.st_mode)) {
        viz_fail("viz: cannot make the folder '%s' for PNG files: %s", want, strerror(errno));
        return NULL;
    }
    memcpy(dir, want, sizeof dir);
    fprintf(stderr, "viz: %s; PNG files go to %s\n",
            viz_headless() ? "no display, plots are drawn off-screen" : "saving plots", dir);
    return dir;
}
