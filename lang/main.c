/* tycho: the binary. Lua 5.4 with the tensor library preloaded.
 *
 *   tycho                      the interactive prompt (lang/repl.c)
 *   tycho script.lua args...   runs a script; `arg` and `...` as in lua5.4
 *   tycho -e 'code'            runs code (several -e run in order)
 *   tycho -i script.lua        runs the script, then the prompt
 *   tycho --headless ...       plots render to PNG files (TYCHO_HEADLESS=1)
 *
 * Every state gets the globals tycho, exit and quit, and the globals nn,
 * optim, data, viz, e3, hyper for those of lang/lua/tycho/<name>.lua that
 * exist; these are loaded on first use (a __index on _G), so start-up
 * stays fast.
 *
 * Where the Lua files are found (the first that exists wins):
 *   $TYCHO_LUADIR, then <exe dir>/../lang/lua and <exe dir>/lang/lua (the
 *   build tree; libtool puts the real binary in .libs/), then the
 *   compile-time -DTYCHO_LUADIR="..." (the installed copy). */
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "l_util.h"
#include "repl.h"
#include "tycho.h"
#include "tycho_lua.h"

#define PROGNAME "tycho"

static const char *const usage_text =
    "usage: " PROGNAME " [options] [script.lua [args...]]\n"
    "  -e code      run code (may be repeated)\n"
    "  -i           enter the prompt after running the script or -e code\n"
    "  --headless   no windows: plots render to PNG files\n"
    "  --version    print the version and exit\n"
    "  --help       print this help and exit\n"
    "  --           stop handling options\n"
    "  -            run standard input as a script\n"
    "With no script and no -e, starts the prompt (or runs standard input when\n"
    "it is not a terminal). The Lua files are found through $TYCHO_LUADIR,\n"
    "the build tree, or the installed copy.\n";

/* The parsed command line. */
typedef struct {
    int argc;
    char **argv;
    int script;      /* index of the script in argv, 0 if none */
    int interactive; /* -i */
    int has_e;       /* at least one -e */
    int exit_status; /* status to return from pmain */
} options;

/* Lazily created globals: the Lua modules tycho.<name>. */
static const char *const lazy_modules[] = {"nn", "optim", "data", "viz", "e3", "hyper", NULL};

/* Parses argv; returns 0, or 1 after printing --help/--version, or -1 on a
 * bad option (usage printed). */
static int parse_args(options *o) {
    int i;
    for (i = 1; i < o->argc; i++) {
        const char *a = o->argv[i];
        if (a[0] != '-') break;
        if (strcmp(a, "--") == 0) {
            i++;
            break;
        }
        if (strcmp(a, "-") == 0) break; /* the script is stdin */
        if (strcmp(a, "-e") == 0 || strncmp(a, "-e", 2) == 0) {
            if (a[2] == '\0' && ++i >= o->argc) {
                fprintf(stderr, PROGNAME ": '-e' needs an argument\n%s", usage_text);
                return -1;
            }
            o->has_e = 1;
        } else if (strcmp(a, "-i") == 0) {
            o->interactive = 1;
        } else if (strcmp(a, "--headless") == 0) {
            setenv("TYCHO_HEADLESS", "1", 1);
        } else if (strcmp(a, "--version") == 0 || strcmp(a, "-v") == 0) {
            printf(PROGNAME " " TY_VERSION "\n");
            return 1;
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(usage_text, stdout);
            return 1;
        } else {
            fprintf(stderr, PROGNAME ": unrecognized option '%s'\n%s", a, usage_text);
            return -1;
        }
    }
    o->script = i < o->argc ? i : 0;
    return 0;
}

/* Prints an error message left by tycho_docall (unless exit() caused it). */
static int report(lua_State *L, int status) {
    if (status == LUA_OK) return 0;
    int code;
    if (tycho_exit_requested(&code)) return code;
    const char *msg = lua_tostring(L, -1);
    if (!msg) msg = "(error object is not a string)";
    fprintf(stderr, PROGNAME ": %s\n", msg);
    fflush(stderr);
    lua_pop(L, 1);
    return 1;
}

/* Whether dir holds the tycho Lua files. */
static int is_luadir(const char *dir) {
    char path[4096];
    if (snprintf(path, sizeof path, "%s/tycho/repl.lua", dir) >= (int)sizeof path) return 0;
    return access(path, R_OK) == 0;
}

/* Finds the directory of the Lua files (see the top of this file) and
 * writes it to out; returns 0, or -1 when there is none. */
static int find_luadir(char *out, size_t size) {
    const char *env = getenv("TYCHO_LUADIR");
    if (env && *env) {
        snprintf(out, size, "%s", env);
        return 0;
    }
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) *slash = '\0';
        static const char *const rel[] = {"/../lang/lua", "/lang/lua", "/../../lang/lua"};
        for (size_t k = 0; k < sizeof rel / sizeof rel[0]; k++) {
            if (snprintf(out, size, "%s%s", exe, rel[k]) < (int)size && is_luadir(out)) return 0;
        }
    }
#ifdef TYCHO_LUADIR
    snprintf(out, size, "%s", TYCHO_LUADIR);
    if (is_luadir(out)) return 0;
#endif
    out[0] = '\0';
    return -1;
}

/* Puts dir/?.lua and dir/?/init.lua in front of package.path. */
static void set_lua_path(lua_State *L, const char *dir) {
    lua_getglobal(L, "package");
    lua_getfield(L, -1, "path");
    lua_pushfstring(L, "%s/?.lua;%s/?/init.lua;%s", dir, dir, lua_tostring(L, -1));
    lua_setfield(L, -3, "path");
    lua_pop(L, 2);
}

/* _G's __index: a lazy module name loads require("tycho.<name>") once and
 * stores it as a real global; any other name is nil as usual. Upvalue 1:
 * the table of lazy names. */
static int lazy_index(lua_State *L) {
    lua_pushvalue(L, 2);
    if (lua_rawget(L, lua_upvalueindex(1)) == LUA_TNIL) return 1;
    lua_getglobal(L, "require");
    lua_pushfstring(L, "tycho.%s", lua_tostring(L, 2));
    lua_call(L, 1, 1);
    lua_pushvalue(L, 2);
    lua_pushvalue(L, -2);
    lua_rawset(L, 1);
    return 1;
}

/* Registers the lazy globals whose files exist in dir. */
static void set_lazy_globals(lua_State *L, const char *dir) {
    lua_newtable(L);
    for (int i = 0; lazy_modules[i]; i++) {
        char path[4096];
        if (snprintf(path, sizeof path, "%s/tycho/%s.lua", dir, lazy_modules[i]) >=
                (int)sizeof path ||
            access(path, R_OK) != 0)
            continue;
        lua_pushboolean(L, 1);
        lua_setfield(L, -2, lazy_modules[i]);
    }
    lua_pushvalue(L, -1);
    lua_setfield(L, LUA_REGISTRYINDEX, TYCHO_LAZY_KEY);
    lua_pushglobaltable(L);
    lua_createtable(L, 0, 1);
    lua_pushvalue(L, -3);
    lua_pushcclosure(L, lazy_index, 1);
    lua_setfield(L, -2, "__index");
    lua_setmetatable(L, -2);
    lua_pop(L, 2);
}

/* arg: the script at 0, its arguments at 1.., the interpreter and options
 * before the script at negative indices (as lua5.4 does). */
static void create_arg_table(lua_State *L, const options *o) {
    int script = o->script;
    lua_createtable(L, o->argc - script, script + 1);
    for (int i = 0; i < o->argc; i++) {
        lua_pushstring(L, o->argv[i]);
        lua_rawseti(L, -2, i - script);
    }
    lua_setglobal(L, "arg");
}

/* Runs every -e chunk in order; returns the first failure's status. */
static int run_e_chunks(lua_State *L, const options *o) {
    int last = o->script ? o->script : o->argc;
    for (int i = 1; i < last; i++) {
        const char *a = o->argv[i];
        if (strcmp(a, "--") == 0) break;
        if (strncmp(a, "-e", 2) != 0) continue;
        const char *code = a[2] ? a + 2 : o->argv[++i];
        int status = luaL_loadbuffer(L, code, strlen(code), "=(command line)");
        if (status == LUA_OK) status = tycho_docall(L, 0, 0);
        if (status != LUA_OK) return report(L, status);
        int code_exit;
        if (tycho_exit_requested(&code_exit)) return code_exit;
    }
    return 0;
}

/* Runs the script (NULL name: stdin) with its arguments as `...`. */
static int run_script(lua_State *L, const options *o) {
    const char *name = o->script ? o->argv[o->script] : NULL;
    if (name && strcmp(name, "-") == 0) name = NULL; /* stdin */
    int status = luaL_loadfile(L, name);
    if (status != LUA_OK) return report(L, status);
    int nargs = 0;
    for (int i = o->script + 1; o->script && i < o->argc; i++, nargs++) {
        luaL_checkstack(L, 1, "too many arguments to the script");
        lua_pushstring(L, o->argv[i]);
    }
    status = tycho_docall(L, nargs, 0);
    if (status != LUA_OK) return report(L, status);
    int code;
    if (tycho_exit_requested(&code)) return code;
    return 0;
}

/* Everything that touches Lua, under one lua_pcall so that an error while
 * setting up (out of memory) is reported, not a panic. */
static int pmain(lua_State *L) {
    options *o = lua_touserdata(L, 1);
    luaL_openlibs(L);
    luaL_requiref(L, "tycho", luaopen_tycho, 1);
    lua_pop(L, 1);

    char dir[4096];
    int have_dir = find_luadir(dir, sizeof dir) == 0;
    if (have_dir) {
        set_lua_path(L, dir);
        set_lazy_globals(L, dir);
    } else {
        lua_newtable(L);
        lua_setfield(L, LUA_REGISTRYINDEX, TYCHO_LAZY_KEY);
    }
    tycho_open_exit(L);
    create_arg_table(L, o);

    int stdin_tty = isatty(STDIN_FILENO);
    int prompt = o->interactive || (!o->script && !o->has_e && stdin_tty);
    tycho_signals_install(L, prompt);
    /* viz keeps its windows live through the prompt's idle hook and a Lua
     * count hook that the Ctrl-C handling keeps in place */
    static const tyl_viz_host viz_host = {tycho_repl_set_idle_hook, tycho_repl_set_lua_hook};
    tyl_viz_set_host(&viz_host);

    /* Generational GC: most tensors die young (every `a + b` makes one),
     * and minor collections reclaim them while their memory is still in
     * cache. It halves the cost of small ops against the incremental mode
     * (bench/small.lua). Switched on here, after start-up, rather than on the empty
     * state: measured, that keeps it twice as fast on small ops. */
    lua_gc(L, LUA_GCGEN, 0, 0);
    tyl_set_generational(true);

    int status = run_e_chunks(L, o);
    int code;
    if (status == 0 && !tycho_exit_requested(&code) &&
        (o->script || (!o->has_e && !stdin_tty && !o->interactive)))
        status = run_script(L, o);
    if (status == 0 && prompt && !tycho_exit_requested(&code)) {
        if (!have_dir) {
            fprintf(stderr, PROGNAME ": cannot find the Lua files (tycho/repl.lua); "
                                     "set TYCHO_LUADIR to the lang/lua directory\n");
            status = 1;
        } else {
            status = tycho_repl_run(L);
        }
    }
    o->exit_status = status;
    return 0;
}

/* OpenMP threads that finish a parallel loop spin for a while before they
 * sleep, waiting for the next one. On a machine busy with other work (a
 * shared CI box, make -j2 check) the spinning thread takes the core from
 * the one that has work, and a 2-thread training step became 2-5 times
 * slower than a 1-thread one. Sleeping right away costs a few microseconds
 * per parallel loop instead. libgomp reads its settings once, when it is
 * loaded, before main (and glibc resets environ after .preinit_array
 * functions run), so the only way to change its default is to set the
 * variable and exec ourselves again: about a millisecond, once. A user's
 * own OMP_WAIT_POLICY or GOMP_SPINCOUNT wins; TYCHO_NO_REEXEC=1 skips it. */
static void omp_wait_default(char **argv) {
    if (getenv("OMP_WAIT_POLICY") || getenv("GOMP_SPINCOUNT") || getenv("TYCHO_NO_REEXEC")) return;
    /* under valgrind /proc/self/exe is valgrind's tool, not us */
    const char *preload = getenv("LD_PRELOAD");
    if (preload && strstr(preload, "vgpreload")) return;
    if (setenv("OMP_WAIT_POLICY", "passive", 1) != 0) return;
    execv("/proc/self/exe", argv);
    /* exec failed (no /proc): carry on with libgomp's default */
}

int main(int argc, char **argv) {
    omp_wait_default(argv);
    options o = {.argc = argc, .argv = argv};
    int r = parse_args(&o);
    if (r != 0) return r > 0 ? 0 : 2;

    lua_State *L = luaL_newstate();
    if (!L) {
        fprintf(stderr, PROGNAME ": cannot create the Lua state: out of memory\n");
        return 1;
    }
    lua_pushcfunction(L, pmain);
    lua_pushlightuserdata(L, &o);
    int status = lua_pcall(L, 1, 0, 0);
    if (status != LUA_OK) {
        const char *msg = lua_tostring(L, -1);
        fprintf(stderr, PROGNAME ": %s\n", msg ? msg : "(error object is not a string)");
        o.exit_status = 1;
    }
    lua_close(L);
    return o.exit_status;
}
