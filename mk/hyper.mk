# hyper: sources, Lua files and tests of this component (included by Makefile.am).
