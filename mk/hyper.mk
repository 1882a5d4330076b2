# hyper: sources, Lua files and tests of this component (included by Makefile.am).
# Hypernetworks and continual learning are Lua over the existing C ops:
# lang/lua/tycho/hyper.lua, its help texts, a test file, two examples
# (run by make check in their quick mode) and the hypernet-step benchmark.
dist_tycholua_DATA += lang/lua/tycho/hyper.lua lang/lua/tycho/docs_hyper.lua
EXTRA_DIST += examples/hyper_continual.lua examples/hyper_vit.lua bench/hyper.lua

if HAVE_CHECK
# make check passes no arguments to test scripts: TYCHO_QUICK=1 stands for
# --quick (examples that have no quick mode ignore it).
AM_TESTS_ENVIRONMENT += TYCHO_QUICK=1; export TYCHO_QUICK;
LUA_TESTS += tests/lua/test_hyper.lua examples/hyper_continual.lua examples/hyper_vit.lua
endif

# `make bench-hyper`: hypernet-step of ../shared/bench/BENCHMARKS.md, then
# the peer (PyTorch, when /usr/bin/python3 has it) in the same sitting.
bench-hyper: lang/tycho
	TYCHO_LUADIR='$(abs_top_srcdir)/lang/lua' $(top_builddir)/lang/tycho $(srcdir)/bench/hyper.lua
	@if /usr/bin/python3 -c 'import torch' 2>/dev/null; then \
	  echo "# peer:"; /usr/bin/python3 $(PEER_TORCH) --threads 2 --only hypernet; \
	else echo "# peer: /usr/bin/python3 cannot import torch (apt-get install python3-torch)"; fi
.PHONY: bench-hyper
