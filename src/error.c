#include "error.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

#define TY_ERRBUF 1024

static _Thread_local char errbuf[TY_ERRBUF];
/* sig_atomic_t so a signal handler may set it. */
static volatile sig_atomic_t interrupt_flag = 0;

const char *ty_last_error(void) { return errbuf; }

int ty_verror(const char *fmt, va_list ap) {
    vsnprintf(errbuf, sizeof errbuf, fmt, ap);
    return -1;
}

int ty_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    ty_verror(fmt, ap);
    va_end(ap);
    return -1;
}

void ty_error_prefix(const char *prefix) {
    char old[TY_ERRBUF];
    memcpy(old, errbuf, sizeof old);
    snprintf(errbuf, sizeof errbuf, "%.200s: %.800s", prefix, old);
}

void ty_clear_error(void) { errbuf[0] = '\0'; }

void ty_interrupt(void) { interrupt_flag = 1; }
void ty_clear_interrupt(void) { interrupt_flag = 0; }
int ty_interrupted(void) { return interrupt_flag != 0; }

int ty_check_interrupt(const char *fn) {
    if (!interrupt_flag) return 0;
    interrupt_flag = 0;
    return ty_error("%s: interrupted", fn);
}
