#!/bin/sh
# require("tycho") from Debian's stock lua5.4 through the tycho.so C module
# built in lang/.libs: the tensor test file must pass there too.
# An ASan-built module cannot be loaded by an interpreter built without it.
[ "$TYCHO_SANITIZERS" = yes ] && { echo "sanitizer build: skipped"; exit 77; }
lua=$(command -v lua5.4) || { echo "lua5.4 not installed: skipped"; exit 77; }
mod=${top_builddir:-.}/lang/.libs/tycho.so
[ -f "$mod" ] || { echo "no $mod: skipped"; exit 77; }
srcdir=${srcdir:-.}
exec "$lua" -e "package.cpath = '$(dirname "$mod")/?.so;' .. package.cpath" \
    "$srcdir/tests/lua/test_tensor.lua"
