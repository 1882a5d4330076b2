# nn, optim and data: the Lua front ends of issue 5, the C half of optim,
# and their tests and examples (included by Makefile.am).
TYCHO_BIND += lang/l_optim.c

dist_tycholua_DATA += lang/lua/tycho/nn.lua lang/lua/tycho/optim.lua lang/lua/tycho/data.lua \
	lang/lua/tycho/errors.lua
tycholuanndir = $(pkgdatadir)/lua/tycho/nn
dist_tycholuann_DATA = lang/lua/tycho/nn/module.lua lang/lua/tycho/nn/layers.lua \
	lang/lua/tycho/nn/functional.lua lang/lua/tycho/nn/init_fns.lua \
	lang/lua/tycho/nn/transformer.lua

EXTRA_DIST += examples/fashion_mnist_vit.lua bench/vit.lua tests/run_vit_quick.sh
if HAVE_CHECK
TESTS += tests/run_vit_quick.sh
endif
dist_tycholua_DATA += lang/lua/tycho/docs_nn.lua lang/lua/tycho/docs_optim.lua \
	lang/lua/tycho/docs_data.lua

if HAVE_CHECK
LUA_TESTS += tests/lua/test_nn.lua tests/lua/test_optim.lua tests/lua/test_data.lua
EXTRA_DIST += tests/nn/gen_vit_reference.py tests/nn/gen_optim_reference.py
endif

# tycho's own f32 GEMM and vectorisable exp/erf (src/gemm.c, src/vecmath.h)
if HAVE_CHECK
TEST_SUITES += tests/test_gemm
check_PROGRAMS += tests/test_gemm
tests_test_gemm_SOURCES = tests/test_gemm.c $(TEST_COMMON)
tests_test_gemm_LDADD = $(TEST_LDADD)
tests_test_gemm_CFLAGS = $(TEST_CFLAGS)
endif
