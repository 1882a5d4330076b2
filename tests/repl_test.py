#!/usr/bin/env python3
"""Drives the real tycho binary through a pseudo-terminal, as a person
would type: prompts, multi-line input, Out history, completion, magics, an
error followed by a working command, Ctrl-C out of a Lua loop and out of a
long matmul loop with state intact, Ctrl-C at the prompt, history across
sessions, exit status; and the command line (script, -e, -i, --version).

Only the standard library (pty, os, select): no pexpect.

    tests/repl_test.py [path/to/tycho]

The binary is the argument, else $TYCHO_BIN (make check sets it), else
$TYCHO, else lang/tycho or ./tycho, else /tmp/tycho-lua/tycho (lang/devbuild).
The Lua files are found by the binary itself (its build tree) or through
$TYCHO_LUADIR, which this test sets to the source tree's lang/lua when it is
not set. Ends with "N passed, N failed";
exits 1 on failure, 77 (skipped) when there is no binary.
"""
import os
import pty
import re
import select
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRCDIR = os.path.dirname(HERE)
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[=>]|[\x01\x02\x07]")


def find_binary():
    cands = sys.argv[1:2] + [os.environ.get("TYCHO_BIN", ""), os.environ.get("TYCHO", ""),
                             "lang/tycho", "./tycho", "/tmp/tycho-lua/tycho"]
    for c in cands:
        if c and os.path.isfile(c) and os.access(c, os.X_OK):
            return os.path.abspath(c)
    return None


BINARY = find_binary()
TMP = tempfile.mkdtemp(prefix="tycho-repl-test-")


def base_env(**extra):
    env = dict(os.environ)
    env.setdefault("TYCHO_LUADIR", os.path.join(SRCDIR, "lang", "lua"))
    env.update({"TERM": "xterm", "COLUMNS": "200", "LINES": "50",
                "TYCHO_HISTORY": os.path.join(TMP, "history"), "INPUTRC": "/dev/null",
                "OMP_NUM_THREADS": "2"})
    env.pop("NO_COLOR", None)
    env.update(extra)
    return env


class Session:
    """One tycho process on a pseudo-terminal."""

    def __init__(self, args=(), **env):
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            try:
                os.execve(BINARY, [BINARY, *args], base_env(**env))
            finally:
                os._exit(127)
        self.raw = b""
        self.mark = 0  # expect() looks at the output after this offset
        self.status = None

    def text(self):
        return ANSI.sub("", self.raw.decode("utf-8", "replace")).replace("\r", "")

    def _read(self, timeout):
        r, _, _ = select.select([self.fd], [], [], timeout)
        if not r:
            return True
        try:
            data = os.read(self.fd, 65536)
        except OSError:  # EIO: the child is gone
            return False
        if not data:
            return False
        self.raw += data
        return True

    def expect(self, pattern, timeout=10.0):
        """Waits until pattern (a regex) appears in the output after the
        mark (an offset in the cleaned text); moves the mark past it."""
        rx = re.compile(pattern)
        end = time.time() + timeout
        alive = True
        while True:
            m = rx.search(self.text(), self.mark)
            if m:
                self.mark = m.end()
                return m
            if not alive:
                raise AssertionError("tycho exited while waiting for %r; output:\n%s"
                                     % (pattern, self.text()[self.mark:][-1500:]))
            if time.time() > end:
                raise AssertionError("timed out waiting for %r; output so far:\n%s"
                                     % (pattern, self.text()[self.mark:][-1500:]))
            alive = self._read(min(0.1, max(0.0, end - time.time())))

    def send(self, s):
        os.write(self.fd, s.encode() if isinstance(s, str) else s)

    def line(self, s):
        self.send(s + "\r")

    def prompt(self, n=None, timeout=10.0):
        return self.expect(r"In \[%s\]: " % (n if n is not None else r"\d+"), timeout)

    def run(self, s, timeout=10.0):
        """Types s, waits for the next prompt; returns the output between."""
        self._read(0.01)
        start = self.mark = len(self.text())
        self.line(s)
        self.expect(r"\nIn \[\d+\]: ", timeout)
        return self.text()[start:self.mark]

    def wait(self, timeout=10.0):
        end = time.time() + timeout
        while time.time() < end:
            self._read(0.05)
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.status = os.waitstatus_to_exitcode(status)
                return self.status
        raise AssertionError("tycho did not exit; output:\n" + self.text()[-1500:])

    def close(self):
        self._read(0.05)
        bad = re.search(r"AddressSanitizer|LeakSanitizer|runtime error:|Invalid (read|write)",
                        self.text())
        if self.status is None:
            try:
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass
        os.close(self.fd)
        if bad:
            raise AssertionError("sanitizer report:\n" + self.text()[bad.start():][:2000])


TESTS = []


def test(name):
    def wrap(fn):
        TESTS.append((name, fn))
        return fn
    return wrap


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def session(*args, **env):
    s = Session(args, **env)
    return s


# ---------------------------------------------------------------- the prompt

@test("startup: banner and the first prompt")
def _():
    t0 = time.time()
    s = session()
    try:
        s.expect(r"tycho \d+\.\d+\.\d+")
        s.prompt(1)
        check(time.time() - t0 < 5, "prompt took %.2f s" % (time.time() - t0))
    finally:
        s.close()


@test("expressions, Out[n], _, __, ; and local")
def _():
    s = session()
    try:
        s.prompt(1)
        out = s.run("1 + 1")
        check("Out[1]: 2" in out, out)
        out = s.run("x = 20")
        check("Out" not in out, out)
        out = s.run("x * 2")
        check("Out[3]: 40" in out, out)
        out = s.run("Out[1] + _")
        check("Out[4]: 42" in out, out)
        out = s.run("__")
        check("Out[5]: 40" in out, out)
        out = s.run("x;")
        check("Out" not in out, out)
        s.run("local y = x + 1")
        out = s.run("y")
        check("Out[8]: 21" in out, out)
        out = s.run("tycho.ones(2, 2):sum()")
        check("Out[9]:" in out and "4" in out, out)
        out = s.run("{1, 'two', {three = 3}}")
        check('Out[10]: {1, "two", {three = 3}}' in out, out)
    finally:
        s.close()


@test("multi-line input continues with ...: and an empty line ends it")
def _():
    s = session()
    try:
        s.prompt(1)
        s.line("function f(a)")
        s.expect(r"\.\.\.: ")
        s.line("  return a * 2")
        s.expect(r"\.\.\.: ")
        s.line("end")
        s.prompt(2)
        out = s.run("f(21)")
        check("Out[2]: 42" in out, out)
        s.line("t = {1,")
        s.expect(r"\.\.\.: ")
        s.line("2}")
        s.prompt(4)
        out = s.run("#t")
        check("Out[4]: 2" in out, out)
        s.line("u = (1 +")
        s.expect(r"\.\.\.: ")
        out = s.run("")  # the empty line ends it: a syntax error, and a fresh prompt
        check("<eof>" in out or "incomplete" in out, out)
        out = s.run("f(1)")
        check(re.search(r"Out\[\d+\]: 2", out), out)
    finally:
        s.close()


@test("an error, then a working command, state intact")
def _():
    s = session()
    try:
        s.prompt(1)
        s.run("keep = 'still here'")
        out = s.run("error('boom')")
        check("In[2]:1: boom" in out, out)
        out = s.run("nosuchfunction()")
        check("attempt to call a nil value" in out, out)
        out = s.run("tycho.zeros(2, 3):matmul(tycho.zeros(4, 5))")
        check("matmul: shapes (2,3) and (4,5) cannot be multiplied" in out, out)
        out = s.run("keep")
        check('"still here"' in out, out)
        out = s.run("1 +* 2")
        check("unexpected symbol" in out, out)
        out = s.run("3 + 4")
        check(re.search(r"Out\[\d+\]: 7", out), out)
    finally:
        s.close()


@test("tab completion: globals, nested tables, tensor methods, files")
def _():
    d = os.path.join(TMP, "files")
    os.makedirs(d, exist_ok=True)
    open(os.path.join(d, "datafile_xyz.txt"), "w").close()
    s = session()
    try:
        s.prompt(1)
        s.send("tycho.lins\t")
        s.expect(r"tycho\.linspace")
        s.line("(0, 1, 3)")
        s.expect(r"Out\[1\]:")
        s.prompt(2)
        s.send("tycho.ran\t\t")
        s.expect(r"randint")
        s.expect(r"randperm")
        listing = s.text()[-400:]
        check("randn" in listing and "tycho.randn" not in listing, "short names listed: " + listing)
        s.send("\x15")  # Ctrl-U: clear the line
        s.run("a = tycho.zeros(2)")
        s.send("a:mat\t")
        s.expect(r"a:matmul")
        s.send("\x15")
        s.send("a:ma\t\t")
        s.expect(r"masked_fill")
        s.send("\x15")
        s.send("a.sha\t")
        s.expect(r"a\.shape")
        s.line("")
        s.expect(r"Out\[\d+\]: \{2\}")
        s.run("nested = {inner = {value = 7}}")
        s.send("nested.in\t.va\t")
        s.expect(r"nested\.inner\.value")
        out = s.run("")
        check(re.search(r"Out\[\d+\]: 7", out), out)
        s.send("string.for\t")
        s.expect(r"string\.format")
        s.send("\x15")
        s.send('path = "%s/datafi\t' % d)
        s.expect(r'datafile_xyz\.txt"')
        s.run("")
        out = s.run("path")
        check("datafile_xyz.txt" in out, out)
        s.send("%tim\t")
        s.expect(r"%timeit")
        s.send("\x15")
        s.send("pri\t")
        s.expect(r"print")
        s.send("\x15")
        out = s.run("1")
        check(re.search(r"Out\[\d+\]: 1", out), out)
    finally:
        s.close()


@test("magics: %time, %timeit, %who, %run, %hist, %save, %reset, ?help")
def _():
    script = os.path.join(TMP, "script.lua")
    with open(script, "w") as f:
        f.write("local from_script = ...\nscript_arg2 = arg[2]\n")
    saved = os.path.join(TMP, "saved.lua")
    s = session()
    try:
        s.prompt(1)
        out = s.run("%time 6 * 7")
        check("CPU times: user" in out and "Wall time:" in out and "Out[1]: 42" in out, out)
        out = s.run("%timeit -n 100 -r 3 tycho.zeros(2) + 1")
        check(re.search(r"[\d.]+ [mun]?s \+- [\d.]+ [mun]?s per loop \(mean \+- std\. dev\. of 3 "
                        r"runs, 100 loops each\)", out), out)
        out = s.run("%timeit 1 + 1", timeout=30)
        check("of 7 runs" in out, out)
        s.run("w = tycho.randn(3, 4)")
        out = s.run("%who")
        check(re.search(r"w\s+tensor\s+\(3,4\) f32 cpu", out), out)
        out = s.run("%hist -n")
        check("1: %time 6 * 7" in out and "w = tycho.randn(3, 4)" in out, out)
        out = s.run("%%save %s" % saved)
        check("saved" in out, out)
        with open(saved) as f:
            text = f.read()
        check("w = tycho.randn(3, 4)" in text, text)
        r = subprocess.run([BINARY, saved], env=base_env(), capture_output=True, text=True,
                           timeout=60)
        check(r.returncode == 0, "saved script failed: " + r.stderr)
        out = s.run("%%run %s hello world" % script)
        out = s.run("from_script .. ' ' .. script_arg2")
        check('"hello world"' in out, out)
        out = s.run("?tycho.randn")
        check("tycho.randn(size..." in out and "Example:" in out, out)
        out = s.run("?w:matmul")
        check("a:matmul(b)" in out, out)
        out = s.run("%reset")
        check("removed" in out, out)
        out = s.run("%who")
        check("empty" in out, out)
    finally:
        s.close()


def interrupt_and_time(s, what):
    """Sends Ctrl-C; returns the seconds until "interrupted" shows."""
    s._read(0.01)
    s.mark = len(s.text())
    t0 = time.time()
    s.send("\x03")
    s.expect(r"interrupted", timeout=5)
    dt = time.time() - t0
    s.prompt()
    print("     (%s: interrupted after %.0f ms)" % (what, dt * 1000))
    return dt


@test("Ctrl-C stops while true do end; variables intact")
def _():
    s = session()
    try:
        s.prompt(1)
        s.run("x = 42")
        s.run("n = 0")
        s.line("while true do n = n + 1 end")
        time.sleep(0.5)
        dt = interrupt_and_time(s, "Lua loop")
        check(dt < 0.5, "took %.3f s" % dt)  # the target is 100 ms; the pty adds its own delay
        out = s.run("x")
        check("Out[4]: 42" in out, out)
        out = s.run("n > 0")
        check("true" in out, out)
    finally:
        s.close()


@test("Ctrl-C stops a long matmul loop; state intact")
def _():
    s = session()
    try:
        s.prompt(1)
        s.run("a = tycho.randn(512, 512)")
        s.run("keep = a:sum():item()")
        s.line("for i = 1, 1e9 do y = a:matmul(a) end")
        time.sleep(1.0)
        dt = interrupt_and_time(s, "matmul loop")
        check(dt < 0.5, "took %.3f s" % dt)
        out = s.run("a.shape")
        check("{512, 512}" in out, out)
        out = s.run("a:sum():item() == keep")
        check("true" in out, out)
        out = s.run("y.shape")
        check("{512, 512}" in out, out)
    finally:
        s.close()


@test("a second Ctrl-C while the first is handled does not kill the session")
def _():
    s = session()
    try:
        s.prompt(1)
        s.line("while true do end")
        time.sleep(0.3)
        s.send("\x03")
        s.send("\x03")
        s.send("\x03")
        s.expect(r"interrupted")
        time.sleep(0.3)
        s.line("2 + 2")
        s.expect(r"Out\[\d+\]: 4")
        # a pcall in the user's code cannot swallow the interrupt
        s.line("while true do pcall(function() while true do end end) end")
        time.sleep(0.3)
        s.send("\x03")
        s.expect(r"interrupted")
        s.line("3 + 3")
        s.expect(r"Out\[\d+\]: 6")
    finally:
        s.close()


@test("Ctrl-C at the prompt clears the line and the continuation")
def _():
    s = session()
    try:
        s.prompt(1)
        s.send("garbage garbage")
        time.sleep(0.2)
        s.send("\x03")
        s.prompt(1)
        s.line("function g()")
        s.expect(r"\.\.\.: ")
        s.send("\x03")
        s.prompt(1)
        out = s.run("10 + 1")
        check("Out[1]: 11" in out, out)
    finally:
        s.close()


@test("history is saved across sessions (Ctrl-D and exit())")
def _():
    hist = os.path.join(TMP, "history-2")
    s = session(TYCHO_HISTORY=hist)
    try:
        s.prompt(1)
        s.run("hist_marker = 123")
        s.line("function hist_f()")
        s.expect(r"\.\.\.: ")
        s.line("return 9 end")
        s.prompt(3)
        s.send("\x04")  # Ctrl-D
        check(s.wait() == 0, "status %s" % s.status)
    finally:
        s.close()
    with open(hist) as f:
        text = f.read()
    check("hist_marker = 123" in text, text)
    s = session(TYCHO_HISTORY=hist)
    try:
        s.prompt(1)
        s.send("\x1b[A\x1b[A")  # up twice: hist_marker = 123
        s.line("")
        s.prompt(2)
        out = s.run("hist_marker")
        check("Out[2]: 123" in out, out)
        s.send("\x1b[A\x1b[A\x1b[A")  # the multi-line entry comes back as one
        s.line("")
        s.prompt(4)
        out = s.run("hist_f()")
        check("Out[4]: 9" in out, out)
        s.line("exit(3)")
        check(s.wait() == 3, "exit(3) gave status %s" % s.status)
    finally:
        s.close()
    with open(hist) as f:
        text = f.read()
    check("exit(3)" in text, text)
    # the file is capped: 1100 inputs keep the last 1000
    with open(hist, "w") as f:
        for i in range(1100):
            f.write("#%d\nv%d = %d\n" % (1700000000 + i, i, i))
    s = session(TYCHO_HISTORY=hist)
    try:
        s.prompt(1)
        s.line("exit()")
        check(s.wait() == 0, "status %s" % s.status)
    finally:
        s.close()
    with open(hist) as f:
        lines = [l for l in f.read().splitlines() if not l.startswith("#")]
    check(len(lines) == 1000 and lines[-1] == "exit()" and lines[0] == "v101 = 101",
          "%d lines, first %r" % (len(lines), lines[:1]))


@test("colours on a terminal, none with NO_COLOR")
def _():
    s = session()
    try:
        s.prompt(1)
        s.run("1")
        check("\x1b[31mOut[1]:" in s.raw.decode(), repr(s.raw[-300:]))
    finally:
        s.close()
    s = session(NO_COLOR="1")
    try:
        s.prompt(1)
        s.run("1")
        check("\x1b[31m" not in s.raw.decode(), repr(s.raw[-300:]))
    finally:
        s.close()


@test("-i script.lua runs the script, then the prompt")
def _():
    script = os.path.join(TMP, "interactive.lua")
    with open(script, "w") as f:
        f.write("local v = ...\nfrom_i = v .. '!'\n")
    s = session("-i", script, "arg1")
    try:
        s.prompt(1)
        out = s.run("from_i")
        check('"arg1!"' in out, out)
    finally:
        s.close()


@test("nn, optim ... are globals loaded on first use when their file exists")
def _():
    luadir = os.path.join(TMP, "luadir")
    os.makedirs(os.path.join(luadir, "tycho"), exist_ok=True)
    for name in ("repl.lua", "docs.lua"):
        dst = os.path.join(luadir, "tycho", name)
        if not os.path.exists(dst):
            os.symlink(os.path.join(base_env()["TYCHO_LUADIR"], "tycho", name), dst)
    with open(os.path.join(luadir, "tycho", "nn.lua"), "w") as f:
        f.write("loaded_count = (loaded_count or 0) + 1\nreturn {marker = 42}\n")
    r = subprocess.run([BINARY, "-e", "print(rawget(_G, 'nn'), loaded_count); print(nn.marker, "
                        "nn.marker, loaded_count, rawget(_G, 'optim'), optim)"],
                       env=base_env(TYCHO_LUADIR=luadir), capture_output=True, text=True,
                       timeout=60)
    check(r.returncode == 0 and r.stdout == "nil\tnil\n42\t42\t1\tnil\tnil\n",
          r.stdout + r.stderr)
    s = session(TYCHO_LUADIR=luadir)
    try:
        s.prompt(1)
        s.send("nn.mar\t")
        s.expect(r"nn\.marker")
        out = s.run("")
        check("Out[1]: 42" in out, out)
        out = s.run("%who")
        check(not re.search(r"^nn\s", out, re.M) and "loaded_count" in out, out)
    finally:
        s.close()


# ---------------------------------------------------------------- the command line

def tycho(*args, stdin=None):
    return subprocess.run([BINARY, *args], env=base_env(), capture_output=True, text=True,
                          input=stdin, timeout=60)


@test("--version, --help, bad options")
def _():
    r = tycho("--version")
    check(r.returncode == 0 and re.match(r"tycho \d+\.\d+\.\d+\n$", r.stdout), r.stdout)
    r = tycho("--help")
    check(r.returncode == 0 and "usage: tycho" in r.stdout and "-e code" in r.stdout, r.stdout)
    r = tycho("--nonsense")
    check(r.returncode != 0 and "unrecognized option" in r.stderr, r.stderr)


@test("script mode: arg, ..., -e, errors with script lines and status 1")
def _():
    script = os.path.join(TMP, "args.lua")
    with open(script, "w") as f:
        f.write("local a, b = ...\nprint(arg[0], arg[1], arg[2], a, b, #arg)\n"
                "print(tycho.ones(2):sum():item())\n")
    r = tycho(script, "x", "y")
    check(r.returncode == 0, r.stderr)
    check(r.stdout.splitlines()[0] == "%s\tx\ty\tx\ty\t2" % script, r.stdout)
    check(r.stdout.splitlines()[1] in ("2", "2.0"), r.stdout)
    r = tycho("-e", "print(1 + 1)", "-e", "print(2 + 2)")
    check(r.returncode == 0 and r.stdout == "2\n4\n", r.stdout + r.stderr)
    bad = os.path.join(TMP, "bad.lua")
    with open(bad, "w") as f:
        f.write("local function inner()\n  error('broken here')\nend\ninner()\n")
    r = tycho(bad)
    check(r.returncode == 1, "status %d" % r.returncode)
    check("bad.lua:2: broken here" in r.stderr and "bad.lua:4:" in r.stderr
          and "stack traceback" in r.stderr, r.stderr)
    r = tycho("-e", "exit(5)")
    check(r.returncode == 5, "exit(5): %d" % r.returncode)
    r = tycho("-e", "x = (")
    check(r.returncode == 1 and "<eof>" in r.stderr, r.stderr)
    r = tycho(os.path.join(TMP, "missing.lua"))
    check(r.returncode == 1 and "cannot open" in r.stderr, r.stderr)
    r = tycho(stdin="print('from stdin')\n")
    check(r.returncode == 0 and r.stdout == "from stdin\n", r.stdout + r.stderr)
    r = tycho("-", "a1", stdin="print(...)\n")
    check(r.returncode == 0 and r.stdout == "a1\n", r.stdout + r.stderr)


@test("script mode: the first Ctrl-C raises 'interrupted' with a traceback")
def _():
    script = os.path.join(TMP, "loop.lua")
    with open(script, "w") as f:
        f.write("print('started')\nlocal n = 0\nwhile true do n = n + 1 end\n")
    p = subprocess.Popen([BINARY, script], env=base_env(), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        check(p.stdout.readline() == "started\n", "no start")
        time.sleep(0.3)
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=10)
        check(p.returncode == 1 and "interrupted" in err and "loop.lua:3" in err,
              "%d %s" % (p.returncode, err))
    finally:
        if p.poll() is None:
            p.kill()


def main():
    if not BINARY:
        print("SKIP: no tycho binary (pass its path, or set $TYCHO_BIN)")
        return 77
    print("binary:", BINARY)
    passed = failed = 0
    only = os.environ.get("REPL_TEST_ONLY")
    for name, fn in TESTS:
        if only and only not in name:
            continue
        t0 = time.time()
        try:
            fn()
            passed += 1
            print("ok   %-64s %.2f s" % (name, time.time() - t0))
        except Exception as e:  # noqa: BLE001 -- report every failure and go on
            failed += 1
            print("FAIL %s: %s" % (name, e))
        sys.stdout.flush()
    print("%d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
