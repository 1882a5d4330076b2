/* Error model of libtycho.
 *
 * A function that can fail returns NULL (or a negative int) and leaves a
 * message in a thread-local buffer; the caller reads it with ty_last_error().
 * Nothing in the library calls abort(), exit() or assert() on anything a user
 * can cause. A failed op leaves its inputs unchanged and leaks nothing. */
#ifndef TYCHO_ERROR_H
#define TYCHO_ERROR_H

#include <stdarg.h>

/* The message of the most recent failure on this thread ("" if none). */
const char *ty_last_error(void);

/* Record a failure. The message should name the function, the problem and the
 * values: "matmul: shapes (2,3) and (4,5) cannot be multiplied: 3 ~= 4".
 * Returns -1 so that `return ty_error(...)` works in int functions. */
int ty_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int ty_verror(const char *fmt, va_list ap);

/* Prefix the current message: "outer: " + old message. Used when one op
 * fails inside another and the outer name helps the user. */
void ty_error_prefix(const char *prefix);

void ty_clear_error(void);

/* Ctrl-C support: the REPL's signal handler sets the flag, long kernels poll
 * it between chunks and fail with "interrupted", leaving inputs intact. */
void ty_interrupt(void);
void ty_clear_interrupt(void);
int ty_interrupted(void);
/* Returns -1 and sets "<fn>: interrupted" if the flag is set, else 0. The
 * flag is cleared when it is reported, so the next command runs normally. */
int ty_check_interrupt(const char *fn);

#endif
