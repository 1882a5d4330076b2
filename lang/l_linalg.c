/* Matrix products and einsum: matmul, mm, bmm, mv, dot, outer, linear,
 * einsum (operands as varargs or one table). */
#include "l_util.h"

#define PRODUCT(name)                                                                              \
    static int l_##name(lua_State *L) {                                                            \
        ty_tensor *a = tyl_check_tensor(L, 1), *b = tyl_check_tensor(L, 2);                        \
        tyl_box *slot = tyl_slot(L);                                                               \
        return tyl_fill(L, slot, ty_##name(a, b), #name);                                          \
    }
PRODUCT(matmul)
PRODUCT(mm)
PRODUCT(bmm)
PRODUCT(mv)
PRODUCT(dot)
PRODUCT(outer)

/* linear(x, w [, b]): x @ w^T + b, w of shape (out, in). */
static int l_linear(lua_State *L) {
    ty_tensor *x = tyl_check_tensor(L, 1), *w = tyl_check_tensor(L, 2);
    ty_tensor *b = lua_isnoneornil(L, 3) ? NULL : tyl_check_tensor(L, 3);
    tyl_box *slot = tyl_slot(L);
    return tyl_fill(L, slot, ty_linear(x, w, b), "linear");
}

/* einsum("ij,jk->ik", a, b) or einsum("ij,jk->ik", {a, b}) */
static int l_einsum(lua_State *L) {
    const char *eq = luaL_checkstring(L, 1);
    int n, top = lua_gettop(L);
    bool table = lua_type(L, 2) == LUA_TTABLE && !tyl_is_tensor(L, 2);
    n = table ? (int)luaL_len(L, 2) : top - 1;
    if (n < 1) return tyl_errorf(L, "einsum: no operands given");
    if (n > 64) return tyl_errorf(L, "einsum: at most 64 operands, got %d", n);
    ty_tensor *ops[64];
    for (int i = 0; i < n; i++) {
        if (table) {
            lua_rawgeti(L, 2, i + 1);
            ops[i] = tyl_to_tensor(L, -1);
            if (!ops[i]) return tyl_errorf(L, "einsum: operand %d is not a tensor", i + 1);
            lua_pop(L, 1); /* the table keeps it alive */
        } else {
            ops[i] = tyl_check_tensor(L, i + 2);
        }
    }
    tyl_box *slot = tyl_slot(L);
    return tyl_fill(L, slot, ty_einsum(eq, n, ops), "einsum");
}

static const luaL_Reg both[] = {
    {"matmul", l_matmul}, {"mm", l_mm},       {"bmm", l_bmm},       {"mv", l_mv},
    {"dot", l_dot},       {"outer", l_outer}, {"linear", l_linear}, {NULL, NULL},
};

static const luaL_Reg module_only[] = {
    {"einsum", l_einsum},
    {NULL, NULL},
};

void tyl_open_linalg(lua_State *L) {
    tyl_reg_both(L, both);
    tyl_reg_module(L, module_only);
}
