# viz: sources, Lua files and tests of this component (included by Makefile.am).
# Live plots: viz/ draws with cairo and shows windows with SDL2; the binding
# (lang/l_viz.c) goes into the tycho binary and the tycho.so module. Both
# link SDL2 and cairo dynamically (only libtycho is linked statically).
VIZ_SOURCES = viz/viz.h viz/view.h viz/window.c viz/png.c viz/axes.c viz/colormap.c \
	viz/chart.c viz/heatmap.c viz/grid.c viz/attention.c
VIZ_CFLAGS = $(SDL2_CFLAGS) $(CAIRO_CFLAGS)
VIZ_LIBS = $(SDL2_LIBS) $(CAIRO_LIBS) -lm

TYCHO_BIND += $(VIZ_SOURCES) lang/l_viz.c
lang_tycho_CFLAGS += $(VIZ_CFLAGS)
lang_tycho_LDADD += $(VIZ_LIBS)
lang_tycho_la_CFLAGS += $(VIZ_CFLAGS)
lang_tycho_la_LIBADD += $(VIZ_LIBS)

dist_tycholua_DATA += lang/lua/tycho/viz.lua lang/lua/tycho/docs_viz.lua
EXTRA_DIST += tests/viz_xvfb.sh examples/viz_demo.lua

if HAVE_CHECK
# Tests draw off-screen (the Xvfb test opens its own display) and leave
# their PNG files in tests/viz-png of the build tree, to be looked at.
# fontconfig's known leak is suppressed for LeakSanitizer (tests/viz.lsan).
AM_TESTS_ENVIRONMENT += TYCHO_HEADLESS=1; export TYCHO_HEADLESS; \
	TYCHO_VIZ_DIR='$(abs_top_builddir)/tests/viz-png'; export TYCHO_VIZ_DIR; \
	LSAN_OPTIONS="$${LSAN_OPTIONS:+$$LSAN_OPTIONS:}suppressions=$(abs_top_srcdir)/tests/viz.lsan"; \
	export LSAN_OPTIONS;

TEST_SUITES += tests/test_viz
check_PROGRAMS += tests/test_viz
TESTS += tests/lua/test_viz.lua examples/viz_demo.lua tests/viz_xvfb.sh
EXTRA_DIST += tests/lua/test_viz.lua
tests_test_viz_SOURCES = tests/test_viz.c $(VIZ_SOURCES)
tests_test_viz_CFLAGS = $(TEST_CFLAGS) $(VIZ_CFLAGS)
tests_test_viz_LDADD = $(CHECK_LIBS) $(VIZ_LIBS)
# Headless: cairo and fontconfig only, no SDL windows, so it runs under
# valgrind like the rest (test_viz is in TEST_SUITES). fontconfig loses one
# block parsing its configuration: tests/viz.supp suppresses exactly that,
# through valgrind's VALGRIND_OPTS, for check-valgrind only.
VALGRIND_LUA_TESTS += tests/lua/test_viz.lua
check-valgrind: export VALGRIND_OPTS += --suppressions=$(abs_top_srcdir)/tests/viz.supp
endif
EXTRA_DIST += tests/viz.supp tests/viz.lsan

clean-local: clean-viz-png
clean-viz-png:
	rm -rf tests/viz-png
.PHONY: clean-viz-png
