/* Printing tensors the way NumPy prints arrays (see print.h for the rules).
 *
 * Three steps, as in NumPy's arrayprint.py:
 *   1. collect the values that will be shown (all of them, or the edge
 *      items of every dim when summarising), reading nothing else;
 *   2. choose one element format from those values, so every element has
 *      the same width (FloatingFormat / IntegerFormat / BoolFormat);
 *   3. lay the elements out in nested brackets, wrapping rows at the line
 *      width (_formatArray), then add the footer line.
 * The layout code follows _formatArray closely, so that the output matches
 * np.array2string(a, separator=", ") character for character. */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "print.h"

static ty_print_options current_options = {1000, 3, 4, 80, TY_SCI_AUTO};

ty_print_options ty_print_options_default(void) {
    ty_print_options o = {1000, 3, 4, 80, TY_SCI_AUTO};
    return o;
}

static int check_options(const char *fn, const ty_print_options *o) {
    if (o->threshold < 0)
        return ty_error("%s: threshold must be >= 0: %lld", fn, (long long)o->threshold);
    if (o->edgeitems < 1) return ty_error("%s: edgeitems must be >= 1: %d", fn, o->edgeitems);
    if (o->precision < 0 || o->precision > 17)
        return ty_error("%s: precision must be in [0, 17]: %d", fn, o->precision);
    if (o->linewidth < 1) return ty_error("%s: linewidth must be >= 1: %d", fn, o->linewidth);
    if ((int)o->sci_mode < TY_SCI_AUTO || o->sci_mode > TY_SCI_ALWAYS)
        return ty_error("%s: bad sci_mode %d", fn, (int)o->sci_mode);
    return 0;
}

int ty_set_print_options(const ty_print_options *opts) {
    if (!opts) return ty_error("set_print_options: options are NULL");
    if (check_options("set_print_options", opts) < 0) return -1;
    current_options = *opts;
    return 0;
}

ty_print_options ty_get_print_options(void) {
    return current_options;
}

/* ---- a growing string ---- */

typedef struct {
    char *p;
    size_t len, cap;
    int failed; /* out of memory: later writes are dropped */
} sbuf;

static void sb_put(sbuf *b, const char *s, size_t n) {
    if (b->failed) return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (b->len + n + 1 > cap) cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->failed = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void sb_puts(sbuf *b, const char *s) {
    sb_put(b, s, strlen(s));
}

static void sb_repeat(sbuf *b, char c, int n) {
    for (int i = 0; i < n; i++) sb_put(b, &c, 1);
}

/* ---- step 1: the shown values ---- */

typedef struct {
    const ty_tensor *t;
    bool summarise;
    int edge;
    bool is_float;
    double *f;    /* the shown values in row-major order (floats) */
    int64_t *i;   /* or (bool, u8, i64) */
    int64_t n;    /* how many were collected so far */
    int64_t next; /* the next one to print */
} shown_values;

static int64_t shown_len(const shown_values *s, int d) {
    int64_t len = s->t->shape[d];
    return s->summarise && len > 2 * (int64_t)s->edge ? 2 * (int64_t)s->edge : len;
}

/* The index in dim d of the k-th shown element. */
static int64_t shown_index(const shown_values *s, int d, int64_t k) {
    int64_t len = s->t->shape[d];
    if (shown_len(s, d) == len || k < s->edge) return k;
    return len - 2 * (int64_t)s->edge + k;
}

static int collect(shown_values *s, int d, int64_t offset) {
    const ty_tensor *t = s->t;
    if (d == t->ndim) {
        const char *p = (const char *)t->storage->data + offset * (int64_t)ty_dtype_size(t->dtype);
        if (s->is_float)
            s->f[s->n++] = ty_load_as_double(p, t->dtype);
        else
            s->i[s->n++] = ty_load_as_i64(p, t->dtype);
        return 0;
    }
    /* A user who raised the threshold may print a huge tensor: let Ctrl-C stop it. */
    if (d == t->ndim - 1 && ty_check_interrupt("format") < 0) return -1;
    for (int64_t k = 0; k < shown_len(s, d); k++)
        if (collect(s, d + 1, offset + shown_index(s, d, k) * t->strides[d]) < 0) return -1;
    return 0;
}

/* ---- step 2: the element format ---- */

/* Whether the decimal string s reads back as ax in dtype dt. */
static bool reads_back(const char *s, double ax, ty_dtype dt) {
    switch (dt) {
    case TY_F64:
        return strtod(s, NULL) == ax;
    case TY_F16:
        return ty_f32_to_f16(strtof(s, NULL)) == ty_f32_to_f16((float)ax);
    case TY_BF16:
        return ty_f32_to_bf16(strtof(s, NULL)) == ty_f32_to_bf16((float)ax);
    default:
        return strtof(s, NULL) == (float)ax;
    }
}

/* The shortest digits d[0..n) with ax = d0.d1d2... * 10^e that read back as
 * ax in dtype dt: what NumPy's Dragon4 prints in unique mode. */
static int shortest_digits(double ax, ty_dtype dt, char *d, int *e) {
    char buf[48];
    /* enough digits to tell apart any two values of the type */
    int maxn = dt == TY_F64 ? 17 : dt == TY_F32 ? 9 : dt == TY_F16 ? 5 : 4, n;
    for (n = 1; n < maxn; n++) {
        snprintf(buf, sizeof buf, "%.*e", n - 1, ax);
        if (reads_back(buf, ax, dt)) break;
    }
    snprintf(buf, sizeof buf, "%.*e", n - 1, ax);
    int k = 0;
    const char *c = buf;
    for (; *c != 'e'; c++)
        if (isdigit((unsigned char)*c)) d[k++] = *c; /* skips the point, whatever the locale */
    d[k] = '\0';
    *e = atoi(c + 1);
    return k;
}

static int imax(int a, int b) {
    return a > b ? a : b;
}

static void trim_zeros(char *s) {
    size_t n = strlen(s);
    while (n > 0 && s[n - 1] == '0') s[--n] = '\0';
}

/* Positional notation, split at the point: ip holds the sign and integer
 * digits, fp the fraction digits (shortest, cut at prec and trimmed). */
static void fixed_parts(double x, ty_dtype dt, int prec, char *ip, char *fp) {
    char d[32], buf[400];
    int e;
    double ax = fabs(x);
    int n = shortest_digits(ax, dt, d, &e);
    char *q = ip;
    if (signbit(x)) *q++ = '-';
    if (n - 1 - e <= prec) {
        /* write the digits out with the point after digit e */
        if (e >= 0) {
            for (int k = 0; k <= e; k++) *q++ = k < n ? d[k] : '0';
            *q = '\0';
            strcpy(fp, n > e + 1 ? d + e + 1 : "");
        } else {
            strcpy(q, "0");
            int z = -e - 1;
            memset(fp, '0', (size_t)z);
            strcpy(fp + z, d);
        }
        return;
    }
    /* more digits than prec: round the exact value at prec digits */
    snprintf(buf, sizeof buf, "%.*f", prec, ax);
    size_t point = strspn(buf, "0123456789");
    strcpy(fp, buf[point] ? buf + point + 1 : "");
    buf[point] = '\0';
    strcpy(q, buf);
    trim_zeros(fp);
}

/* Scientific notation: ip is the sign and first digit, fp the following
 * digits (shortest, cut at prec and trimmed), *e the exponent. */
static void sci_parts(double x, ty_dtype dt, int prec, char *ip, char *fp, int *e) {
    char d[32], buf[48];
    double ax = fabs(x);
    int n = shortest_digits(ax, dt, d, e);
    char *q = ip;
    if (signbit(x)) *q++ = '-';
    if (n - 1 <= prec) {
        q[0] = d[0];
        q[1] = '\0';
        strcpy(fp, d + 1);
        return;
    }
    snprintf(buf, sizeof buf, "%.*e", prec, ax);
    q[0] = buf[0];
    q[1] = '\0';
    char *ex = strchr(buf, 'e');
    *e = atoi(ex + 1);
    *ex = '\0';
    strcpy(fp, buf[1] ? buf + 2 : ""); /* buf[1] is the point, if any */
    trim_zeros(fp);
}

enum { FMT_FIXED, FMT_SCI, FMT_INT, FMT_BOOL };

typedef struct {
    int kind;
    ty_dtype dt;   /* digits are those that identify a value of this type */
    int precision; /* FIXED: the cut; SCI: the common number of fraction digits */
    int pad_left;  /* FIXED/SCI: width of sign and integer part */
    int pad_right; /* FIXED: fraction width; SCI: everything after the point */
    int exp_size;  /* SCI: exponent digits */
    int width;     /* of every element */
} elem_format;

static void choose_float_format(elem_format *f, const shown_values *s, const ty_print_options *o) {
    char ip[400], fp[400];
    double maxv = 0, minv = INFINITY;
    int64_t nfinite = 0;
    bool nonfinite = false, neginf = false;
    for (int64_t k = 0; k < s->n; k++) {
        double v = s->f[k];
        if (!isfinite(v)) {
            nonfinite = true;
            if (isinf(v) && v < 0) neginf = true;
            continue;
        }
        nfinite++;
        if (v != 0) {
            maxv = fmax(maxv, fabs(v));
            minv = fmin(minv, fabs(v));
        }
    }
    bool sci = o->sci_mode == TY_SCI_ALWAYS;
    if (o->sci_mode == TY_SCI_AUTO && maxv > 0) {
        /* NumPy (2.3 on) switches at 10^min(8, decimal digits of the type),
         * and compares in the type's own precision */
        if (f->dt == TY_F64) {
            sci = maxv >= 1e8 || minv < 1e-4 || maxv / minv > 1e3;
        } else {
            float cut = f->dt == TY_F32 ? 1e6f : f->dt == TY_F16 ? 1e3f : 1e2f;
            sci = (float)maxv >= cut || (float)minv < 1e-4f || (float)maxv / (float)minv > 1e3f;
        }
    }
    f->kind = sci ? FMT_SCI : FMT_FIXED;
    f->precision = o->precision;
    f->pad_left = f->pad_right = 0;
    f->exp_size = 2;
    if (nfinite > 0 && sci) {
        int prec = 0;
        for (int64_t k = 0; k < s->n; k++) {
            int e;
            if (!isfinite(s->f[k])) continue;
            sci_parts(s->f[k], f->dt, o->precision, ip, fp, &e);
            prec = imax(prec, (int)strlen(fp));
            f->pad_left = imax(f->pad_left, (int)strlen(ip));
            if (abs(e) >= 100) f->exp_size = 3;
        }
        f->precision = prec;
        f->pad_right = f->exp_size + 2 + prec;
    } else if (nfinite > 0) {
        for (int64_t k = 0; k < s->n; k++) {
            if (!isfinite(s->f[k])) continue;
            fixed_parts(s->f[k], f->dt, o->precision, ip, fp);
            f->pad_left = imax(f->pad_left, (int)strlen(ip));
            f->pad_right = imax(f->pad_right, (int)strlen(fp));
        }
    }
    if (nonfinite) {
        /* "nan", "inf" or "-inf" must fit in the same width */
        int room = f->pad_right + 1;
        f->pad_left = imax(f->pad_left, (neginf ? 4 : 3) - room);
    }
    f->width = f->pad_left + f->pad_right + 1;
}

static void choose_format(elem_format *f, const shown_values *s, const ty_print_options *o) {
    ty_dtype dt = s->t->dtype;
    memset(f, 0, sizeof *f);
    f->dt = dt;
    if (s->is_float) {
        choose_float_format(f, s, o);
    } else if (dt == TY_BOOL) {
        f->kind = FMT_BOOL;
        f->width = s->t->ndim == 0 ? 0 : 5; /* " true" lines up with "false" */
    } else {
        f->kind = FMT_INT;
        char buf[32];
        for (int64_t k = 0; k < s->n; k++) {
            int len = snprintf(buf, sizeof buf, "%lld", (long long)s->i[k]);
            if (len > f->width) f->width = len;
        }
    }
}

/* Element k of the shown values, padded to the common width. */
static void format_element(sbuf *b, const elem_format *f, const shown_values *s, int64_t k) {
    char ip[400], fp[400], buf[64];
    if (f->kind == FMT_BOOL) {
        const char *w = s->i[k] ? "true" : "false";
        sb_repeat(b, ' ', f->width - (int)strlen(w));
        sb_puts(b, w);
        return;
    }
    if (f->kind == FMT_INT) {
        int len = snprintf(buf, sizeof buf, "%lld", (long long)s->i[k]);
        sb_repeat(b, ' ', f->width - len);
        sb_puts(b, buf);
        return;
    }
    double v = s->f[k];
    if (!isfinite(v)) {
        const char *w = isnan(v) ? "nan" : v < 0 ? "-inf" : "inf";
        sb_repeat(b, ' ', f->width - (int)strlen(w));
        sb_puts(b, w);
        return;
    }
    if (f->kind == FMT_FIXED) {
        fixed_parts(v, f->dt, f->precision, ip, fp);
        sb_repeat(b, ' ', f->pad_left - (int)strlen(ip));
        sb_puts(b, ip);
        sb_puts(b, ".");
        sb_puts(b, fp);
        sb_repeat(b, ' ', f->pad_right - (int)strlen(fp));
        return;
    }
    int e;
    sci_parts(v, f->dt, f->precision, ip, fp, &e);
    sb_repeat(b, ' ', f->pad_left - (int)strlen(ip));
    sb_puts(b, ip);
    sb_puts(b, ".");
    sb_puts(b, fp);
    sb_repeat(b, '0', f->precision - (int)strlen(fp));
    snprintf(buf, sizeof buf, "e%c%0*d", e < 0 ? '-' : '+', f->exp_size, abs(e));
    sb_puts(b, buf);
}

/* ---- step 3: the layout (NumPy's _formatArray) ---- */

typedef struct {
    sbuf *out;
    shown_values *s;
    const elem_format *f;
    int col; /* column of the end of the output, for wrapping rows */
} printer;

/* Appends one word of a row, first starting a new line indented by
 * `indent` when the word would pass `width` (unless the line is empty). */
static void put_word(printer *p, const char *word, size_t len, int indent, int width) {
    sbuf *b = p->out;
    if (p->col + (int)len > width && p->col > indent) {
        while (b->len > 0 && b->p[b->len - 1] == ' ') b->p[--b->len] = '\0';
        sb_puts(b, "\n");
        sb_repeat(b, ' ', indent);
        p->col = indent;
    }
    sb_put(b, word, len);
    p->col += (int)len;
}

/* Dims d.. of the shown values. The "[" goes at column indent - 1; width is
 * the line width left at this depth (each level of brackets takes one). */
static void render(printer *p, int d, int indent, int width) {
    const shown_values *s = p->s;
    int ndim = s->t->ndim;
    int64_t n = shown_len(s, d);
    bool summary = n < s->t->shape[d];
    sbuf *b = p->out;
    sb_puts(b, "[");
    p->col = indent;
    if (d == ndim - 1) {
        sbuf word = {0};
        for (int64_t k = 0; k < n; k++) {
            if (summary && k == s->edge) {
                put_word(p, "...", 3, indent, width - 1);
                sb_puts(b, ", ");
                p->col += 2;
            }
            word.len = 0;
            format_element(&word, p->f, p->s, p->s->next++);
            if (word.failed) b->failed = 1;
            if (b->failed) break;
            put_word(p, word.p, word.len, indent, width - 1);
            if (k < n - 1) {
                sb_puts(b, ", ");
                p->col += 2;
            }
        }
        free(word.p);
    } else {
        /* dims above the last two are separated by blank lines */
        char sep[TY_MAX_DIMS + 2] = ",";
        memset(sep + 1, '\n', (size_t)(ndim - d - 1));
        sep[ndim - d] = '\0';
        for (int64_t k = 0; k < n; k++) {
            if (k > 0) sb_repeat(b, ' ', indent);
            if (summary && k == s->edge) {
                sb_puts(b, "...");
                sb_puts(b, sep);
                sb_repeat(b, ' ', indent);
            }
            render(p, d + 1, indent + 1, width - 1);
            if (k < n - 1) sb_puts(b, sep);
        }
    }
    sb_puts(b, "]");
    p->col++;
}

static void put_footer(sbuf *b, const ty_tensor *t) {
    char shape[TY_MAX_DIMS * 24 + 4], dev[32], buf[sizeof shape + 128];
    snprintf(buf, sizeof buf, "tensor(shape=%s, dtype=%s, device=%s%s)",
             ty_shape_str(t, shape, sizeof shape), ty_dtype_name(t->dtype),
             ty_device_name(t->device, dev, sizeof dev),
             t->requires_grad ? ", requires_grad=true" : "");
    sb_puts(b, buf);
}

/* The values of a CPU tensor into b. */
static int format_values(sbuf *b, const ty_tensor *t, const ty_print_options *o) {
    int64_t numel = ty_numel(t);
    if (numel == 0) {
        sb_puts(b, "[]");
        return 0;
    }
    shown_values s = {0};
    s.t = t;
    s.summarise = numel > o->threshold;
    s.edge = o->edgeitems;
    s.is_float = ty_dtype_is_float(t->dtype);
    int64_t count = 1;
    for (int d = 0; d < t->ndim; d++) count *= shown_len(&s, d);
    size_t size = s.is_float ? sizeof(double) : sizeof(int64_t);
    void *vals = (uint64_t)count > SIZE_MAX / size ? NULL : malloc((size_t)count * size);
    if (!vals) return ty_error("format: out of memory for %lld shown elements", (long long)count);
    if (s.is_float)
        s.f = vals;
    else
        s.i = vals;
    if (collect(&s, 0, t->offset) < 0) {
        free(vals);
        return -1;
    }
    elem_format f;
    choose_format(&f, &s, o);
    if (t->ndim == 0) {
        format_element(b, &f, &s, 0);
    } else {
        printer p = {b, &s, &f, 0};
        render(&p, 0, 1, o->linewidth);
    }
    free(vals);
    return 0;
}

char *ty_format(const ty_tensor *t, const ty_print_options *opts) {
    if (!t) {
        ty_error("format: tensor is NULL");
        return NULL;
    }
    const ty_print_options *o = opts ? opts : &current_options;
    if (check_options("format", o) < 0) return NULL;
    ty_tensor *host = NULL;
    if (t->device.type != TY_DEV_CPU) {
        host = ty_to_device((ty_tensor *)t, ty_cpu());
        if (!host) {
            ty_error_prefix("format: ");
            return NULL;
        }
    }
    sbuf b = {0};
    int rc = format_values(&b, host ? host : t, o);
    ty_tensor_release(host);
    if (rc == 0) {
        sb_puts(&b, "\n");
        put_footer(&b, t);
    }
    if (rc == 0 && b.failed) rc = ty_error("format: out of memory");
    if (rc < 0) {
        free(b.p);
        return NULL;
    }
    return b.p;
}

int ty_print(FILE *f, const ty_tensor *t) {
    char *s = ty_format(t, NULL);
    if (!s) return -1;
    int rc = fputs(s, f) < 0 || fputc('\n', f) == EOF ? -1 : 0;
    free(s);
    if (rc < 0) return ty_error("print: write failed");
    return 0;
}
