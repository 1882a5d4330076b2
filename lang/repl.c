/* The interactive prompt: readline, Ctrl-C, exit() and the history file.
 *
 * How a line becomes a result: the prompt loop reads a line with readline's
 * callback interface (so that it can wait with pselect, notice Ctrl-C at
 * once and call the idle hook), appends it to the pending chunk and hands
 * the chunk to the Lua function tycho.repl.input (lang/lua/tycho/repl.lua),
 * which compiles it, runs it, prints the result and answers "more" when
 * Lua reports an incomplete chunk (then the prompt becomes `...:`).
 *
 * Ctrl-C: SIGINT only sets flags. While Lua code runs (tycho_docall) it
 * sets libtycho's interrupt flag, which long C kernels poll, and a Lua hook
 * that raises "interrupted" at the next Lua instruction, so a command stops
 * within milliseconds with every global intact. At the prompt it clears
 * the line. The handler never resets itself, so a second Ctrl-C while the
 * first is being handled is harmless (in the REPL; a script dies on the
 * second, as in lua5.4). Known limit: a Lua loop running inside a coroutine
 * that was created before the Ctrl-C does not see the hook (hooks are per
 * coroutine in Lua 5.4); C kernels still stop through the flag. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <readline/history.h>
#include <readline/readline.h>

#include <lauxlib.h>
#include <lua.h>

#include "repl.h"
#include "tycho.h"

/* How many inputs the history file keeps. */
#define HISTORY_MAX 1000
/* How often the idle hook runs while the prompt waits (microseconds). */
#define IDLE_PERIOD_US 20000

/* ------------------------------------------------------------ signals */

static lua_State *main_L;
static pthread_t main_thread;
static int kill_on_second;                  /* scripts: a second Ctrl-C kills */
static volatile sig_atomic_t running;       /* tycho_docall is running Lua code */
static volatile sig_atomic_t pending;       /* Ctrl-C not yet turned into an error */
static volatile sig_atomic_t interrupting;  /* Ctrl-C during this command: abort it */
static volatile sig_atomic_t prompt_sigint; /* Ctrl-C while the prompt waits */
static volatile sig_atomic_t winch;         /* the terminal was resized */
static volatile sig_atomic_t resumed;       /* SIGCONT after Ctrl-Z */

static void restore_hook(lua_State *L);

/* The hook the signal handler installs: raises "interrupted" in the Lua
 * code that runs. It puts the background hook back first (or none), so the
 * error is raised once. When a C kernel saw the flag first (and cleared
 * it), its own error ("matmul: interrupted") is already on its way: nothing
 * more to raise. */
static void stop_hook(lua_State *L, lua_Debug *ar) {
    (void)ar;
    restore_hook(L);
    if (!running || !pending) return;
    pending = 0;
    if (!ty_interrupted()) return;
    ty_clear_interrupt();
    lua_pushliteral(L, "interrupted");
    lua_error(L);
}

/* The background hook (tycho_repl_set_lua_hook) runs through this wrapper,
 * which handles a pending Ctrl-C first: so an interrupt is raised even when
 * the background hook was installed over stop_hook in the meantime. */
static lua_Hook background_hook;
static int background_count;

static void background_wrapper(lua_State *L, lua_Debug *ar) {
    if (running && pending) {
        stop_hook(L, ar);
        return;
    }
    if (background_hook) background_hook(L, ar);
}

static void restore_hook(lua_State *L) {
    if (background_hook)
        lua_sethook(L, background_wrapper, LUA_MASKCOUNT, background_count);
    else
        lua_sethook(L, NULL, 0, 0);
}

void tycho_repl_set_lua_hook(lua_Hook fn, int count) {
    background_hook = fn;
    background_count = count > 0 ? count : 1;
    if (main_L && !(running && pending)) restore_hook(main_L);
}

static void on_sigint(int sig) {
    /* OpenMP and OpenBLAS threads can receive the signal too; the main
     * thread is the one waiting in pselect and running Lua. */
    if (!pthread_equal(pthread_self(), main_thread)) {
        pthread_kill(main_thread, sig);
        return;
    }
    if (!running) {
        prompt_sigint = 1;
        return;
    }
    if (pending && kill_on_second) {
        signal(sig, SIG_DFL);
        raise(sig);
        return;
    }
    pending = 1;
    interrupting = 1;
    ty_interrupt();
    /* lua_sethook may be called from a signal handler (lua.c does so). A
     * count hook fires at the next VM instruction; call and return hooks
     * are left out so that it never fires on entering the message handler
     * of an error already raised. */
    lua_sethook(main_L, stop_hook, LUA_MASKLINE | LUA_MASKCOUNT, 1);
}

static void on_other_signal(int sig) {
    if (sig == SIGWINCH) winch = 1;
    if (sig == SIGCONT) resumed = 1;
}

void tycho_signals_install(lua_State *L, int interactive) {
    main_L = L;
    main_thread = pthread_self();
    kill_on_second = !interactive;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_sigint;
    sigaction(SIGINT, &sa, NULL);
    if (interactive) {
        sa.sa_handler = on_other_signal;
        sa.sa_flags = SA_RESTART;
        sigaction(SIGWINCH, &sa, NULL);
        sigaction(SIGCONT, &sa, NULL);
    }
}

/* ------------------------------------------------------------ running code */

static int exit_called;
static int exit_status;
/* The error value exit() raises to unwind: its address is unique. */
static const char exit_sentinel = 0;

/* Message handler: a traceback for errors, nothing added for exit(). */
static int msghandler(lua_State *L) {
    if (lua_touserdata(L, 1) == &exit_sentinel) return 1;
    const char *msg = lua_tostring(L, 1);
    if (!msg) {
        if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING) return 1;
        msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    }
    luaL_traceback(L, L, msg, 1);
    return 1;
}

int tycho_docall(lua_State *L, int nargs, int nresults) {
    int base = lua_gettop(L) - nargs;
    lua_pushcfunction(L, msghandler);
    lua_insert(L, base);
    pending = interrupting = 0;
    ty_clear_interrupt();
    running = 1;
    int status = lua_pcall(L, nargs, nresults, base);
    running = 0;
    /* A Ctrl-C that came too late to be raised must not hit the next
     * command; the background hook stays. */
    restore_hook(L);
    pending = interrupting = 0;
    ty_clear_interrupt();
    lua_remove(L, base);
    return status;
}

static int l_exit(lua_State *L) {
    int status = 0;
    if (lua_isboolean(L, 1))
        status = lua_toboolean(L, 1) ? 0 : 1;
    else
        status = (int)luaL_optinteger(L, 1, 0);
    exit_called = 1;
    exit_status = status;
    lua_pushlightuserdata(L, (void *)&exit_sentinel);
    return lua_error(L);
}

void tycho_open_exit(lua_State *L) {
    lua_pushcfunction(L, l_exit);
    lua_setglobal(L, "exit");
    lua_pushcfunction(L, l_exit);
    lua_setglobal(L, "quit");
}

int tycho_exit_requested(int *status) {
    if (exit_called) *status = exit_status;
    return exit_called;
}

/* ------------------------------------------------------------ helpers for repl.lua */

/* Seconds on a monotonic clock (wall time for %time and %timeit). */
static int l_now(lua_State *L) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    lua_pushnumber(L, (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9);
    return 1;
}

/* User and system CPU seconds of the process (all threads). */
static int l_cputimes(lua_State *L) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    lua_pushnumber(L, (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6);
    lua_pushnumber(L, (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6);
    return 2;
}

/* Whether Ctrl-C was pressed during the current command: the REPL's pcall
 * and xpcall then pass every error on, so a pcall in the user's loop
 * cannot swallow the interrupt and keep the command running. */
static int l_interrupting(lua_State *L) {
    lua_pushboolean(L, interrupting);
    return 1;
}

/* Whether a file name is a directory (for %run's messages). */
static int l_isdir(lua_State *L) {
    struct stat st;
    lua_pushboolean(L, stat(luaL_checkstring(L, 1), &st) == 0 && S_ISDIR(st.st_mode));
    return 1;
}

/* ------------------------------------------------------------ history */

static char history_path[4096];

/* $TYCHO_HISTORY (empty: no history file), else ~/.tycho_history. */
static void history_open(void) {
    const char *env = getenv("TYCHO_HISTORY");
    const char *home = getenv("HOME");
    if (env)
        snprintf(history_path, sizeof history_path, "%s", env);
    else if (home && *home)
        snprintf(history_path, sizeof history_path, "%s/.tycho_history", home);
    else
        history_path[0] = '\0';
    using_history();
    /* Multi-line inputs stay one entry: each is written after a timestamp
     * line, and the lines up to the next timestamp are read back as one. */
    history_comment_char = '#';
    history_write_timestamps = 1;
    history_multiline_entries = 1;
    if (history_path[0]) read_history(history_path);
    stifle_history(HISTORY_MAX);
}

/* Adds a finished input to the history and appends it to the file at once,
 * so a session that is killed loses nothing. */
static void history_add(const char *input) {
    if (strspn(input, " \t\n") == strlen(input)) return;
    HIST_ENTRY *last = history_length > 0 ? history_get(history_base + history_length - 1) : NULL;
    if (last && strcmp(last->line, input) == 0) return;
    add_history(input);
    if (!history_path[0]) return;
    if (access(history_path, F_OK) != 0) {
        FILE *f = fopen(history_path, "w");
        if (!f) return;
        fclose(f);
    }
    append_history(1, history_path);
}

/* At exit: caps the file at HISTORY_MAX inputs, keeping what other
 * sessions appended meanwhile. */
static void history_close(void) {
    if (history_path[0] && access(history_path, F_OK) == 0) {
        clear_history();
        unstifle_history();
        read_history(history_path);
        stifle_history(HISTORY_MAX);
        write_history(history_path);
    }
    clear_history();
}

/* ------------------------------------------------------------ the prompt */

static void (*idle_hook)(void);

static int event_hook(void) {
    if (idle_hook) idle_hook();
    return 0;
}

void tycho_repl_set_idle_hook(void (*fn)(void)) {
    idle_hook = fn;
    rl_event_hook = fn ? event_hook : NULL;
}

static char *line_read;
static int line_done;

static void on_line(char *line) {
    line_read = line;
    line_done = 1;
    rl_callback_handler_remove();
}

/* Reads one line with `prompt`. Returns it (malloc'd), or NULL with *eof
 * set on Ctrl-D, or NULL with *eof clear on Ctrl-C. */
static char *read_line(const char *prompt, int *eof) {
    *eof = 0;
    line_read = NULL;
    line_done = 0;
    fflush(stdout);
    fflush(stderr);

    /* SIGINT stays blocked except inside pselect, so a Ctrl-C between the
     * check of prompt_sigint and the wait cannot be missed. */
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGWINCH);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    prompt_sigint = 0;
    rl_callback_handler_install(prompt, on_line);
    int fd = fileno(rl_instream ? rl_instream : stdin);
    while (!line_done) {
        if (winch) {
            winch = 0;
            rl_resize_terminal();
        }
        if (resumed) { /* after Ctrl-Z and fg the shell has reset the terminal */
            resumed = 0;
            rl_deprep_terminal();
            rl_prep_terminal(1);
            rl_forced_update_display();
        }
        if (prompt_sigint) {
            prompt_sigint = 0;
            rl_free_line_state();
            rl_callback_sigcleanup();
            rl_echo_signal_char(SIGINT);
            rl_replace_line("", 1);
            rl_point = rl_end = rl_mark = 0;
            rl_callback_handler_remove();
            fputc('\n', stdout);
            break;
        }
        fd_set fds;
        FD_ZERO(&fds);
        FD_SET(fd, &fds);
        struct timespec period = {0, IDLE_PERIOD_US * 1000L};
        int r = pselect(fd + 1, &fds, NULL, NULL, idle_hook ? &period : NULL, &old);
        if (r < 0) {
            if (errno == EINTR) continue;
            rl_callback_handler_remove();
            *eof = 1;
            break;
        }
        if (r == 0) {
            if (idle_hook) idle_hook();
            continue;
        }
        rl_callback_read_char();
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (line_done && !line_read) *eof = 1;
    return line_read;
}

/* Prompts like IPython's: "In [3]: " and, aligned under it, "   ...: ".
 * Colour escapes are wrapped in \001 \002 so readline knows their width. */
static void make_prompt(char *out, size_t size, long count, int continued, int color) {
    const char *on = color ? "\001\033[32m\002" : "";
    const char *bold = color ? "\001\033[1m\002" : "";
    const char *unbold = color ? "\001\033[22m\002" : "";
    const char *off = color ? "\001\033[0m\002" : "";
    if (!continued) {
        snprintf(out, size, "%sIn [%s%ld%s]: %s", on, bold, count, unbold, off);
        return;
    }
    int width = snprintf(NULL, 0, "In [%ld]: ", count);
    snprintf(out, size, "%s%*s...: %s", on, width - 5, "", off);
}

/* Appends line to the chunk being entered (a malloc'd string). */
static char *append_line(char *chunk, const char *line) {
    size_t a = chunk ? strlen(chunk) : 0, b = strlen(line);
    char *s = realloc(chunk, a + b + 2);
    if (!s) {
        free(chunk);
        return NULL;
    }
    if (a) s[a++] = '\n';
    memcpy(s + a, line, b + 1);
    return s;
}

/* Prints the message of a failed tycho_docall and pops it. */
static void print_error(lua_State *L) {
    const char *msg = lua_tostring(L, -1);
    if (msg && strstr(msg, "interrupted")) msg = "\ninterrupted"; /* after the echoed ^C */
    fprintf(stderr, "%s\n", msg ? msg : "(error)");
    fflush(stderr);
    lua_pop(L, 1);
}

/* Calls M.init{color=, tty=, now=, cputimes=, isdir=, interrupting=, lazy=}. */
static int repl_init(lua_State *L, int M, int color) {
    lua_getfield(L, M, "init");
    lua_createtable(L, 0, 6);
    lua_pushboolean(L, color);
    lua_setfield(L, -2, "color");
    lua_pushboolean(L, isatty(STDIN_FILENO));
    lua_setfield(L, -2, "tty");
    lua_pushcfunction(L, l_now);
    lua_setfield(L, -2, "now");
    lua_pushcfunction(L, l_cputimes);
    lua_setfield(L, -2, "cputimes");
    lua_pushcfunction(L, l_isdir);
    lua_setfield(L, -2, "isdir");
    lua_pushcfunction(L, l_interrupting);
    lua_setfield(L, -2, "interrupting");
    lua_getfield(L, LUA_REGISTRYINDEX, TYCHO_LAZY_KEY);
    lua_setfield(L, -2, "lazy");
    return tycho_docall(L, 1, 0);
}

static int use_color(void) {
    const char *term = getenv("TERM");
    return isatty(STDOUT_FILENO) && !getenv("NO_COLOR") && !(term && strcmp(term, "dumb") == 0);
}

int tycho_repl_run(lua_State *L) {
    int top = lua_gettop(L);
    lua_getglobal(L, "require");
    lua_pushliteral(L, "tycho.repl");
    if (tycho_docall(L, 1, 1) != LUA_OK) {
        print_error(L);
        return 1;
    }
    int M = lua_gettop(L);
    int color = use_color();
    if (repl_init(L, M, color) != LUA_OK) {
        print_error(L);
        lua_settop(L, top);
        return 1;
    }

    rl_readline_name = "tycho";
    rl_catch_signals = 0; /* our handler above; readline's would kill Lua */
    rl_catch_sigwinch = 0;
    rl_change_environment = 0;
    tycho_complete_init(L);
    history_open();

    char *chunk = NULL;
    int status = 0;
    for (;;) {
        lua_getfield(L, M, "count");
        long count = (long)lua_tointeger(L, -1);
        lua_pop(L, 1);
        char prompt[128];
        make_prompt(prompt, sizeof prompt, count, chunk != NULL, color);
        int eof;
        char *line = read_line(prompt, &eof);
        if (!line) {
            free(chunk);
            chunk = NULL;
            if (eof) {
                fputc('\n', stdout);
                break;
            }
            continue; /* Ctrl-C: a fresh prompt */
        }
        int continued = chunk != NULL;
        int blank = strspn(line, " \t") == strlen(line);
        if (!continued && blank) {
            free(line);
            continue;
        }
        chunk = append_line(chunk, line);
        free(line);
        if (!chunk) {
            fprintf(stderr, "tycho: out of memory\n");
            continue;
        }

        lua_getfield(L, M, "input");
        lua_pushstring(L, chunk);
        lua_pushboolean(L, continued && blank); /* an empty line ends the chunk */
        int st = tycho_docall(L, 2, 1);
        int more = 0;
        if (st == LUA_OK) {
            const char *r = lua_tostring(L, -1);
            more = r && strcmp(r, "more") == 0;
            lua_pop(L, 1);
        } else if (!exit_called) {
            print_error(L); /* an error outside the user's code, e.g. Ctrl-C while printing */
        } else {
            lua_pop(L, 1);
        }
        if (more) continue;
        history_add(chunk);
        free(chunk);
        chunk = NULL;
        if (exit_called) {
            status = exit_status;
            break;
        }
    }
    free(chunk);
    history_close();
    lua_settop(L, top);
    return status;
}
