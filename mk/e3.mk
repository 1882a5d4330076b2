# e3: sources, Lua files and tests of this component (included by Makefile.am).
src_libtycho_la_SOURCES += src/e3_internal.h src/e3_cg.c src/e3_wigner.c src/e3_sh.c \
	src/e3_tp.c src/e3_tp_kernels.c
tychoinclude_HEADERS += src/e3.h
TYCHO_BIND += lang/l_e3.c
dist_tycholua_DATA += lang/lua/tycho/e3.lua lang/lua/tycho/docs_e3.lua
EXTRA_DIST += tests/e3/gen_reference.py tests/e3/reference.safetensors bench/e3.lua

if HAVE_CHECK
TEST_SUITES += tests/test_e3
check_PROGRAMS += tests/test_e3
tests_test_e3_SOURCES = tests/test_e3.c $(TEST_COMMON)
tests_test_e3_LDADD = $(TEST_LDADD)
tests_test_e3_CFLAGS = $(TEST_CFLAGS)
LUA_TESTS += tests/lua/test_e3.lua tests/lua/test_e3_reference.lua
VALGRIND_LUA_TESTS += tests/lua/test_e3.lua tests/lua/test_e3_reference.lua
endif
