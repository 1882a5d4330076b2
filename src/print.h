/* Printing tensors the way NumPy prints arrays.
 *
 * The values are laid out as np.array2string(a, separator=", ") would with
 * NumPy's default float mode, followed by one footer line:
 *
 *   [[ 1. ,  2.5, -3. ],
 *    [ 4. ,  5. ,  6. ]]
 *   tensor(shape=(2,3), dtype=f32, device=cpu)
 *
 * Rules (NumPy's, but for the Lua spelling of bools):
 * - Every printed element has the same width; columns line up.
 * - Floats: each value prints with the fewest digits that read back as the
 *   same value in its dtype (so 0.1 stored as f32, f16 or bf16 prints as
 *   0.1), cut at `precision` fraction digits; integral values print as
 *   "1.". Shorter fractions are padded with spaces ("1.5 " above "2.25").
 *   Scientific notation (1.2346e+05, every element with the same number
 *   of digits) is chosen when the smallest non-zero magnitude is < 1e-4,
 *   the largest over the smallest is > 1e3, or the largest is >= 1e8 for
 *   f64 (1e6 for f32, 1e3 for f16, 1e2 for bf16: 10^digits of the type,
 *   as NumPy >= 2.3 does); see ty_sci_mode. nan, inf and -inf are padded
 *   to the same width.
 * - i64 and u8 print as integers, bool as true/false (Lua's spelling).
 * - Rows wrap at `linewidth` columns, continuation lines indented to the
 *   column after the row's "["; dims above the last two are separated by
 *   one blank line per extra dim.
 * - Past `threshold` elements the tensor is summarised: only the first and
 *   last `edgeitems` of each dim longer than 2*edgeitems are shown, with
 *   "..." between them, and only those elements are read (also to choose
 *   the format), so a tensor of any size prints instantly.
 * - A 0-d tensor prints as its value alone; a tensor with no elements as
 *   "[]".
 *
 * Footer: `tensor(shape=<ty_shape_str>, dtype=<ty_dtype_name>, device=<ty_device_name>)`,
 * e.g. "tensor(shape=(2,3), dtype=f32, device=cpu)", "tensor(shape=(), dtype=i64,
 * device=cpu)"; ", requires_grad=true" is added before the ")" when the
 * tensor requires grad. The footer is on its own line after the values. */
#ifndef TYCHO_PRINT_H
#define TYCHO_PRINT_H

#include <stdint.h>
#include <stdio.h>

#include "tensor.h"

typedef enum {
    TY_SCI_AUTO = 0, /* NumPy's rule, see above */
    TY_SCI_NEVER,    /* always positional notation */
    TY_SCI_ALWAYS    /* always scientific notation for floats */
} ty_sci_mode;

typedef struct {
    int64_t threshold;    /* summarise when numel > threshold (>= 0); default 1000 */
    int edgeitems;        /* shown at each end of a summarised dim (>= 1); default 3 */
    int precision;        /* max fraction digits, 0..17; default 4 */
    int linewidth;        /* columns before rows wrap (>= 1); default 80 */
    ty_sci_mode sci_mode; /* default TY_SCI_AUTO */
} ty_print_options;

/* The defaults listed above. */
ty_print_options ty_print_options_default(void);
/* The process-wide options used when ty_format gets NULL and by ty_print.
 * Set fails (-1, options unchanged) with an error naming the bad field. */
int ty_set_print_options(const ty_print_options *opts);
ty_print_options ty_get_print_options(void);

/* The tensor as text, values then the footer line, with no trailing
 * newline. opts NULL means the process-wide options. Returns a malloc'd
 * string the caller frees, or NULL with an error (bad options, no memory).
 * Tensors on other devices are copied to the CPU first. */
char *ty_format(const ty_tensor *t, const ty_print_options *opts);
/* Writes ty_format(t, NULL) and a newline to f. Returns 0 or -1. */
int ty_print(FILE *f, const ty_tensor *t);

#endif
