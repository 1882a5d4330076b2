#!/bin/sh
# The C demo must run and print its final line.
out=`"${top_builddir:-.}/examples/demo"` || exit 1
echo "$out"
echo "$out" | grep -q "demo: ok"
