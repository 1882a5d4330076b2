#!/bin/sh
# viz with real windows, under Xvfb: a chart, a heatmap and an image grid
# open SDL windows; a screenshot of each (SDL_RenderReadPixels) must match
# the PNG the same view writes. Then liveness: windows are pumped while Lua
# code runs (the count hook) and while the prompt waits (the idle hook, with
# the REPL in a pty); Ctrl-C still stops a loop with a window open; closing
# the last window ends nothing and stops the pumping.
# Skipped (77) when xvfb-run is missing; setup installs it.
command -v xvfb-run >/dev/null 2>&1 || { echo "xvfb-run not installed: skipped"; exit 77; }
command -v xauth >/dev/null 2>&1 || { echo "xauth not installed: skipped"; exit 77; }
bin=${TYCHO_BIN:-${top_builddir:-.}/lang/tycho}
[ -x "$bin" ] || { echo "no $bin: skipped"; exit 77; }
out=${TYCHO_VIZ_DIR:-${TY_TEST_TMPDIR:-/tmp}/viz-png}
mkdir -p "$out" || exit 1
# a display of our own, whatever the caller has
unset TYCHO_HEADLESS WAYLAND_DISPLAY
SDL_VIDEODRIVER=x11 TYCHO_VIZ_DIR=$out VIZ_OUT=$out TYCHO_BIN_PATH=$bin
export SDL_VIDEODRIVER TYCHO_VIZ_DIR VIZ_OUT TYCHO_BIN_PATH
# X11 and SDL keep memory until exit by design; the sanitizer build checks
# everything else
ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0
export ASAN_OPTIONS

script=$(mktemp) || exit 1
pyscript=$(mktemp) || exit 1
trap 'rm -f "$script" "$pyscript"' EXIT

cat >"$script" <<'EOF'
local C = viz._C
local out = os.getenv("VIZ_OUT")
local fails = 0
local function check(cond, what)
  if not cond then
    io.stderr:write("FAIL " .. what .. "\n")
    fails = fails + 1
  end
end
check(not viz.headless(), "a display is there, so views get windows")

-- the screen shows exactly what the PNG holds
local function compare(name)
  viz.pump()
  C.screenshot(name, out .. "/xvfb-" .. name .. "-screen.png")
  viz.save(name, out .. "/xvfb-" .. name .. "-file.png")
  local count, worst = C.diff(out .. "/xvfb-" .. name .. "-screen.png",
                              out .. "/xvfb-" .. name .. "-file.png")
  check(count == 0, name .. ": the screenshot differs from the PNG in " .. count
        .. " pixels (by up to " .. worst .. ")")
end
for step = 1, 500 do
  viz.plot("loss", step, 2 / (1 + 0.02 * step) + 0.05 * math.sin(step))
  viz.plot("loss", step, 2.2 / (1 + 0.015 * step), {series = "val"})
end
compare("loss")
-- the curve's colour where the probe says the curve is
local x, y = C.probe("loss", 250, 2.2 / (1 + 0.015 * 250))
local r, g, b = C.pixel(out .. "/xvfb-loss-screen.png", x, y)
check(r > 200 and g > 90 and g < 160 and b < 80, "orange val curve on screen: " .. r .. "," .. g .. "," .. b)
viz.heatmap("heat", tycho.arange(0, 12):reshape(3, 4))
compare("heat")
viz.image("images", tycho.rand(4, 1, 28, 28), {labels = {"a", "b", "c", "d"}})
compare("images")

-- while Lua code runs, the count hook pumps at least every 100 ms
local hook, mask, count = debug.gethook()
check(hook ~= nil and count == 100, "a count hook is installed while windows are open")
local before, t0 = C.pumps(), tycho.time and tycho.time() or os.clock()
local clock = tycho.time or os.clock
while clock() - t0 < 0.5 do end -- no viz call in here
local pumped = C.pumps() - before
check(pumped >= 5, "pumped " .. pumped .. " times in 0.5 s of pure Lua")

-- closing a window with the mouse hides the view; data and session stay
C.request_close("images")
viz.pump()
check(C.kind("images") == "images", "a closed window keeps its view")
viz.save("images", out .. "/xvfb-closed.png")
viz.show("images")
viz.pump()
compare("images")
-- closing them all stops the pumping
for _, name in ipairs(viz.names()) do C.request_close(name) end
viz.pump()
check(debug.gethook() == nil, "no hook once every window is closed")
viz.plot("loss", 501, 0.1) -- plotting into a hidden view is fine
check(#viz.names() == 3, "views survive their windows")
viz.close("heat")
if fails > 0 then os.exit(1) end
print("xvfb: windows ok")
EOF

cat >"$pyscript" <<'EOF'
# The REPL in a pty with a window open: the prompt's idle hook pumps it,
# and Ctrl-C still stops a loop (the count hook and the Ctrl-C hook share).
import os, pty, select, sys, time
bin = os.environ["TYCHO_BIN_PATH"]
pid, fd = pty.fork()
if pid == 0:
    os.environ["TYCHO_HISTORY"] = ""
    os.execv(bin, [bin])
buf = b""
def read_until(pattern, timeout=20):
    global buf
    end = time.time() + timeout
    while time.time() < end:
        r, _, _ = select.select([fd], [], [], 0.1)
        if r:
            try:
                data = os.read(fd, 4096)
            except OSError:
                break
            buf += data
            if pattern in buf:
                i = buf.index(pattern) + len(pattern)
                seen, buf = buf[:i], buf[i:]
                return seen
    sys.stderr.write("timed out waiting for %r; got %r\n" % (pattern, buf[-400:]))
    os.kill(pid, 9)
    sys.exit(1)
def send(s):
    os.write(fd, s.encode())
read_until(b"]: ")
send("viz.plot('pty', 1, 1); p0 = viz._C.pumps()\r")
read_until(b"]: ")
time.sleep(1.0)  # the prompt waits; the idle hook pumps about 50 times a second
send("print('pumps', viz._C.pumps() - p0)\r")
seen = read_until(b"]: ").decode(errors="replace")
n = int(seen.split("pumps")[-1].split()[0])
if n < 10:
    sys.stderr.write("FAIL the idle hook pumped %d times in 1 s\n" % n)
    sys.exit(1)
send("while true do end\r")
time.sleep(0.5)
send("\x03")
seen = read_until(b"]: ").decode(errors="replace")
if "interrupted" not in seen:
    sys.stderr.write("FAIL Ctrl-C with a window open: %r\n" % seen)
    sys.exit(1)
send("print('hook', select(3, debug.gethook()))\r")
seen = read_until(b"]: ").decode(errors="replace")
if "hook\t100" not in seen:
    sys.stderr.write("FAIL the pump hook did not come back after Ctrl-C: %r\n" % seen)
    sys.exit(1)
send("viz._C.request_close('pty'); viz.pump(); print('alive', #viz.names())\r")
seen = read_until(b"]: ").decode(errors="replace")
if "alive\t1" not in seen:
    sys.stderr.write("FAIL closing the window: %r\n" % seen)
    sys.exit(1)
send("exit()\r")
_, status = os.waitpid(pid, 0)
print("xvfb: prompt ok, idle hook pumped %d times a second" % n)
sys.exit(0 if os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0 else 1)
EOF

xvfb-run -a -s "-screen 0 1280x1024x24" sh -c '
  "$TYCHO_BIN_PATH" "$1" || exit 1
  command -v python3 >/dev/null 2>&1 || { echo "python3 missing: prompt part skipped"; exit 0; }
  python3 "$2"' sh "$script" "$pyscript"
