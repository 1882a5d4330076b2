/* The tycho REPL and what the tycho binary (lang/main.c) shares with it:
 * running Lua code so that Ctrl-C can stop it, exit(), and the readline
 * prompt loop. The REPL's behaviour that is easier in Lua (evaluating a
 * chunk, printing results, magics, help) lives in lang/lua/tycho/repl.lua;
 * this side owns the terminal, the signals and the history file. */
#ifndef TYCHO_REPL_H
#define TYCHO_REPL_H

#include <lua.h>

/* Registry key of the table {name = true} of the globals main.c creates
 * lazily (nn, optim, ...): completion lists them, %who skips them. */
#define TYCHO_LAZY_KEY "tycho.lazy_globals"

/* Installs the SIGINT handler. While tycho_docall runs Lua code, Ctrl-C
 * sets libtycho's interrupt flag (long C kernels poll it) and a Lua hook
 * that raises "interrupted" at the next Lua instruction. `interactive`: a
 * second Ctrl-C never kills the process; otherwise (scripts) a second
 * Ctrl-C while the first is pending kills it, as in lua5.4. */
void tycho_signals_install(lua_State *L, int interactive);

/* lua_pcall of the function below nargs arguments, interruptible by Ctrl-C,
 * with a traceback appended to error messages. Returns the pcall status;
 * on error the message is on the stack. */
int tycho_docall(lua_State *L, int nargs, int nresults);

/* Sets the globals exit([code]) and quit([code]): they leave the REPL or
 * the script (history is saved) with the given status (true -> 0, false
 * -> 1, default 0). tycho_exit_requested returns 1 and the status once
 * exit was called, even if a pcall of the user's caught the error it
 * raises to unwind. */
void tycho_open_exit(lua_State *L);
int tycho_exit_requested(int *status);

/* Runs the interactive prompt until Ctrl-D or exit(); returns the exit
 * status. Needs the Lua module tycho.repl on package.path. */
int tycho_repl_run(lua_State *L);

/* Called about 50 times a second while the prompt waits for a key (and as
 * readline's rl_event_hook): an SDL window can pump its events here so it
 * stays live. NULL removes it. */
void tycho_repl_set_idle_hook(void (*fn)(void));

/* A Lua count hook that stays installed while code runs (viz pumps its
 * windows from it): the Ctrl-C hook takes its place while an interrupt is
 * pending and puts it back afterwards, and so does the end of each
 * command. NULL removes it. */
void tycho_repl_set_lua_hook(lua_Hook fn, int count);

/* Tab completion (lang/complete.c): installs readline's completion
 * functions, which look values up in L. */
void tycho_complete_init(lua_State *L);

#endif
