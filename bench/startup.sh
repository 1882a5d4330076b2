#!/bin/sh
# The `startup` row of ../shared/bench/BENCHMARKS.md: a fresh process that
# creates a 2x2 random tensor and prints its sum, timed from process start
# to exit, next to its peer measured in the same run.
#
#   bench/startup.sh [path/to/tycho]      (default: $TYCHO, else ./tycho)
#
# Prints, in tybench's format:
#   startup: 12.3 ms  (peer 1300 ms python3 -c 'import torch; ...', ratio 105x)
#   startup-prompt: 14.0 ms  (tycho on a pseudo-terminal until "In [1]:" is drawn)
#
# How: python3 (standard library only) starts `tycho -e 'print(tycho.randn(2,
# 2):sum())'` with subprocess and times it with time.perf_counter from
# before the fork to after the wait; one warm-up run (page cache), then the
# median of 21 runs. The peer is exactly peer_torch.py's w4_startup (median
# of 5 after one warm-up), with the first python3 that imports torch
# (/usr/bin/python3 has Debian's python3-torch); "peer n/a" without one.
# startup-prompt: tycho with no arguments on a pseudo-terminal, from before
# the fork until the first prompt has been read back (median of 11), then
# Ctrl-D; it includes reading the history file and loading repl.lua.
set -e
TYCHO=${1:-${TYCHO:-./tycho}}
if [ ! -x "$TYCHO" ]; then
    echo "startup: no tycho binary at $TYCHO (pass its path)" >&2
    exit 1
fi
exec python3 - "$TYCHO" <<'EOF'
import os, pty, select, statistics, subprocess, sys, time

tycho = os.path.abspath(sys.argv[1])
env = dict(os.environ, TYCHO_HISTORY=os.devnull)


def median_ms(cmd, runs):
    subprocess.run(cmd, capture_output=True, check=True, env=env)
    ts = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run(cmd, capture_output=True, check=True, env=env)
        ts.append(time.perf_counter() - t)
    return statistics.median(ts) * 1e3


def peer_ms():
    code = "import torch; x = torch.randn(2, 2); print(x.sum().item())"
    for py in ("/usr/bin/python3", sys.executable, "python3"):
        try:
            r = subprocess.run([py, "-c", "import torch"], capture_output=True, timeout=120)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if r.returncode == 0:
            return median_ms([py, "-c", code], 5)
    return None


def prompt_ms(runs):
    ts = []
    for i in range(runs + 1):
        t = time.perf_counter()
        pid, fd = pty.fork()
        if pid == 0:
            os.execve(tycho, [tycho], dict(env, TERM="dumb"))
        buf = b""
        while b"In [1]: " not in buf:
            r, _, _ = select.select([fd], [], [], 10)
            if not r:
                raise SystemExit("startup-prompt: no prompt after 10 s: %r" % buf[-200:])
            buf += os.read(fd, 4096)
        dt = time.perf_counter() - t
        os.write(fd, b"\x04")
        os.waitpid(pid, 0)
        os.close(fd)
        if i:  # the first run warms the page cache
            ts.append(dt)
    return statistics.median(ts) * 1e3


t = median_ms([tycho, "-e", "print(tycho.randn(2,2):sum())"], 21)
p = peer_ms()
if p is None:
    print("startup: %.1f ms  (peer n/a: no python3 with torch)" % t)
else:
    print("startup: %.1f ms  (peer %.0f ms python3 -c 'import torch; ...', ratio %.0fx)"
          % (t, p, p / t))
print('startup-prompt: %.1f ms  (tycho on a pseudo-terminal until "In [1]:" is drawn)'
      % prompt_ms(11))
EOF
