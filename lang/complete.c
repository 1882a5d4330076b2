/* Tab completion at the prompt.
 *
 *   tycho.ra<TAB>     fields of nested tables (a.b.c<TAB>), through __index
 *   x:ma<TAB>         methods: of a tensor (the method table tycho.Tensor),
 *                     of a table or object (functions, following __index
 *                     tables, so nn modules complete their class's methods)
 *   x.sh<TAB>         a tensor's methods and properties (shape, dtype...)
 *   pri<TAB>          globals, lazily loaded modules (nn, optim...), keywords
 *   "dat<TAB>         file names inside a string, and after %run / %save
 *   %ti<TAB>          magics
 *
 * Values are looked up with ordinary indexing (so __index runs, and a lazy
 * module loads), always under lua_pcall: an error in a user's __index must
 * not longjmp out of readline. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <readline/readline.h>

#include <lauxlib.h>
#include <lua.h>

#include "repl.h"

static lua_State *cL;

/* The completions of the current attempt, handed out by generator(). */
static char **cands;
static size_t ncands, next_cand;

static const char *const keywords[] = {
    "and",      "break",  "do",   "else", "elseif", "end",   "false", "for",
    "function", "goto",   "if",   "in",   "local",  "nil",   "not",   "or",
    "repeat",   "return", "then", "true", "until",  "while", NULL,
};

static const char *const magics[] = {
    "%time", "%timeit", "%run", "%who", "%reset", "%hist", "%save", "%help", NULL,
};

/* Tensor properties: the non-method keys the tensor __index answers
 * (lang/l_tensor.c). */
static const char *const tensor_props[] = {
    "shape", "dtype", "device", "grad", "requires_grad", "grad_fn", "ndim", NULL,
};

static void clear_cands(void) {
    for (size_t i = 0; i < ncands; i++) free(cands[i]);
    free(cands);
    cands = NULL;
    ncands = next_cand = 0;
}

static int is_ident(const char *s) {
    if (!(isalpha((unsigned char)*s) || *s == '_')) return 0;
    for (s++; *s; s++)
        if (!(isalnum((unsigned char)*s) || *s == '_')) return 0;
    return 1;
}

/* Adds prefix..name to the table at index t when name starts with part;
 * names starting with "__" only when part does (metamethods are noise). */
static void offer(lua_State *L, int t, const char *prefix, const char *part, const char *name) {
    size_t n = strlen(part);
    if (strncmp(name, part, n) != 0 || !is_ident(name)) return;
    if (name[0] == '_' && name[1] == '_' && strncmp(part, "__", 2) != 0) return;
    lua_pushfstring(L, "%s%s", prefix, name);
    lua_pushboolean(L, 1);
    lua_rawset(L, t);
}

/* Offers the string keys of the table at idx (functions only when
 * only_funcs), then those of its metatable's __index tables, a few levels
 * deep (classes and their bases). */
static void offer_keys(lua_State *L, int t, int idx, const char *prefix, const char *part,
                       int only_funcs) {
    idx = lua_absindex(L, idx);
    for (int depth = 0; depth < 8 && lua_istable(L, idx); depth++) {
        lua_pushnil(L);
        while (lua_next(L, idx)) {
            if (lua_type(L, -2) == LUA_TSTRING && (!only_funcs || lua_isfunction(L, -1)))
                offer(L, t, prefix, part, lua_tostring(L, -2));
            lua_pop(L, 1);
        }
        if (!lua_getmetatable(L, idx)) break;
        lua_getfield(L, -1, "__index");
        lua_remove(L, -2);
        lua_replace(L, idx);
    }
}

/* Whether the value at idx is a tensor (its metatable is tycho.Tensor). */
static int is_tensor(lua_State *L, int idx) {
    if (lua_type(L, idx) != LUA_TUSERDATA || !lua_getmetatable(L, idx)) return 0;
    luaL_getmetatable(L, "tycho.Tensor");
    int yes = lua_rawequal(L, -1, -2);
    lua_pop(L, 2);
    return yes;
}

/* lua_pcall'ed: (expr) -> table {candidate = true}. expr is the word being
 * completed, e.g. "tycho.ra", "x:ma", "pri". */
static int collect(lua_State *L) {
    const char *expr = lua_tostring(L, 1);
    lua_newtable(L);
    int t = lua_gettop(L);

    const char *sep = strpbrk(expr, ".:");
    if (!sep) { /* a global */
        lua_pushglobaltable(L);
        offer_keys(L, t, -1, "", expr, 0);
        lua_getfield(L, LUA_REGISTRYINDEX, TYCHO_LAZY_KEY);
        offer_keys(L, t, -1, "", expr, 0);
        for (int i = 0; keywords[i]; i++) offer(L, t, "", expr, keywords[i]);
        lua_settop(L, t);
        return 1;
    }

    /* Walks the path up to the last separator: a.b.c:d -> value of a.b.c. */
    const char *last = expr + strlen(expr);
    while (last > expr && last[-1] != '.' && last[-1] != ':') last--;
    int method = last[-1] == ':';
    lua_pushglobaltable(L);
    const char *p = expr;
    while (p < last - 1) {
        const char *q = p;
        while (q < last - 1 && *q != '.' && *q != ':') q++;
        if (*q == ':' && q != last - 1) return 1; /* a:b.c is not Lua */
        lua_pushlstring(L, p, (size_t)(q - p));
        if (!is_ident(lua_tostring(L, -1))) return 1;
        int ty = lua_type(L, -2);
        if (ty != LUA_TTABLE && ty != LUA_TUSERDATA && ty != LUA_TSTRING) return 1;
        lua_gettable(L, -2);
        lua_remove(L, -2);
        p = q + 1;
    }
    int v = lua_gettop(L);
    lua_pushlstring(L, expr, (size_t)(last - expr));
    const char *prefix = lua_tostring(L, -1);

    if (is_tensor(L, v)) {
        lua_getglobal(L, "tycho");
        if (lua_istable(L, -1)) {
            lua_getfield(L, -1, "Tensor");
            offer_keys(L, t, -1, prefix, last, 1);
        }
        if (!method)
            for (int i = 0; tensor_props[i]; i++) offer(L, t, prefix, last, tensor_props[i]);
    } else if (lua_istable(L, v)) {
        offer_keys(L, t, v, prefix, last, method);
    } else if (lua_getmetatable(L, v)) { /* strings, other userdata */
        lua_getfield(L, -1, "__index");
        offer_keys(L, t, -1, prefix, last, method);
    }
    lua_settop(L, t);
    return 1;
}

/* Fills cands with the Lua completions of word. */
static void lua_candidates(const char *word) {
    lua_State *L = cL;
    int top = lua_gettop(L);
    lua_pushcfunction(L, collect);
    lua_pushstring(L, word);
    if (lua_pcall(L, 1, 1, 0) == LUA_OK && lua_istable(L, -1)) {
        size_t n = 0;
        lua_pushnil(L);
        while (lua_next(L, -2)) {
            n++;
            lua_pop(L, 1);
        }
        cands = calloc(n ? n : 1, sizeof *cands);
        lua_pushnil(L);
        while (cands && lua_next(L, -2)) {
            char *s = strdup(lua_tostring(L, -2));
            if (s) cands[ncands++] = s;
            lua_pop(L, 1);
        }
    }
    lua_settop(L, top);
}

static char *generator(const char *text, int state) {
    (void)text;
    if (state == 0) next_cand = 0;
    return next_cand < ncands ? strdup(cands[next_cand++]) : NULL;
}

/* Lists matches by their last part ("sum" rather than "x:sum"), as
 * IPython does. */
static void display_short(char **matches, int n, int maxlen) {
    (void)maxlen;
    char **shown = calloc((size_t)n + 2, sizeof *shown);
    if (!shown) return;
    int width = 0;
    for (int i = 0; i <= n; i++) {
        const char *m = matches[i];
        const char *d = strrchr(m, '.'), *c = strrchr(m, ':');
        if (c > d) d = c;
        shown[i] = (char *)(i > 0 && d ? d + 1 : m);
        int len = (int)strlen(shown[i]);
        if (i > 0 && len > width) width = len;
    }
    rl_display_match_list(shown, n, width);
    rl_forced_update_display();
    free(shown);
}

/* Whether position `end` of the line is inside a string literal. */
static int in_string(const char *line, int end) {
    char q = 0;
    for (int i = 0; i < end && line[i]; i++) {
        if (q && line[i] == '\\')
            i++;
        else if (q && line[i] == q)
            q = 0;
        else if (!q && (line[i] == '"' || line[i] == '\''))
            q = line[i];
    }
    return q != 0;
}

static int is_file_magic(void) {
    return strncmp(rl_line_buffer, "%run ", 5) == 0 || strncmp(rl_line_buffer, "%save ", 6) == 0;
}

/* Word breaks for file names: readline would otherwise start the word
 * after the last '/' (a Lua operator). */
static char *word_breaks(void) {
    static char in_quotes[] = "\"'";
    static char in_magic[] = " \t\n\"'";
    if (in_string(rl_line_buffer, rl_point)) return in_quotes;
    if (is_file_magic()) return in_magic;
    return NULL;
}

/* Whether the word is a file name: inside a string literal, or the
 * argument of a magic that takes one. */
static int wants_file(int start) {
    if (rl_completion_quote_character || in_string(rl_line_buffer, start)) return 1;
    return start > 0 && is_file_magic();
}

static char **attempt(const char *text, int start, int end) {
    (void)end;
    clear_cands();
    rl_completion_display_matches_hook = NULL;
    if (wants_file(start)) {
        rl_completion_append_character = '\0';
        return rl_completion_matches(text, rl_filename_completion_function);
    }
    rl_attempted_completion_over = 1; /* never fall back to file names */
    rl_completion_append_character = '\0';
    if (start == 0 && text[0] == '%') {
        size_t n = 0;
        while (magics[n]) n++;
        cands = calloc(n, sizeof *cands);
        for (size_t i = 0; cands && i < n; i++)
            if (strncmp(magics[i], text, strlen(text)) == 0) cands[ncands++] = strdup(magics[i]);
        rl_completion_append_character = ' ';
    } else {
        /* The word may start with characters that are not Lua names
         * ("%" is not a word break, so "a%b" arrives whole). */
        const char *w = text + strlen(text);
        while (w > text &&
               (isalnum((unsigned char)w[-1]) || w[-1] == '_' || w[-1] == '.' || w[-1] == ':'))
            w--;
        if (isdigit((unsigned char)*w)) return NULL; /* a number: 1.5 */
        lua_candidates(w);
        size_t skip = (size_t)(w - text);
        for (size_t i = 0; skip && i < ncands; i++) { /* put the skipped part back */
            char *s = malloc(skip + strlen(cands[i]) + 1);
            if (!s) continue;
            memcpy(s, text, skip);
            strcpy(s + skip, cands[i]);
            free(cands[i]);
            cands[i] = s;
        }
        rl_completion_display_matches_hook = display_short;
    }
    if (ncands == 0) return NULL;
    return rl_completion_matches(text, generator);
}

void tycho_complete_init(lua_State *L) {
    cL = L;
    rl_attempted_completion_function = attempt;
    /* Lua's operators and brackets end a word; '.' and ':' do not, so that
     * a.b:c arrives as one word. */
    rl_basic_word_break_characters = " \t\n\"'`@$><=;|&{}()[],+-*/^#~?";
    rl_completer_word_break_characters = rl_basic_word_break_characters;
    rl_completer_quote_characters = "\"'";
    rl_completion_word_break_hook = word_breaks;
    rl_sort_completion_matches = 1;
    /* List the choices at the first Tab, as IPython does (an ~/.inputrc
     * setting, read later, overrides this). */
    rl_variable_bind("show-all-if-ambiguous", "on");
}
