"""tuilib.py — what the screen tests share: find the programs, drive socklab
in a private tmux server at 80x24, poll the screen until some text appears
(with a deadline), and report each check. Not a test itself."""
import os
import re
import shlex
import signal
import subprocess
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("SOCKLAB_BUILD", os.path.join(ROOT, "build"))
if not os.path.isabs(BUILD):
    BUILD = os.path.join(ROOT, BUILD)
SOCKLAB = os.path.join(BUILD, "socklab")
DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")


class Failed(Exception):
    pass


_failures = []


def check(ok, what):
    """Report one check; a failure is remembered and the test goes on."""
    print(("ok   " if ok else "FAIL ") + what, flush=True)
    if not ok:
        _failures.append(what)
    return ok


def finish():
    """Exit 0 when every check passed, else 1."""
    if _failures:
        print("%d check(s) failed" % len(_failures))
        sys.exit(1)
    print("all checks passed")
    sys.exit(0)


# A test stopped by a deadline (mk/runtests.sh sends SIGTERM) must still
# unwind its with-blocks, so that no tmux server or program outlives it.
def _stopped(signum, frame):
    sys.exit(128 + signum)


signal.signal(signal.SIGTERM, _stopped)


def cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def need(path):
    if not os.path.exists(path):
        print("FAIL %s is not built (make)" % path)
        sys.exit(1)


def state(pid):
    """The process's state letter, or None when it is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return None


def alive(pid):
    return state(pid) not in (None, "Z", "X")


def descendants(root):
    """Every living descendant of root."""
    parent = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open("/proc/%s/stat" % d) as f:
                    parent[int(d)] = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                pass
    found, grew = set(), True
    while grew:
        grew = False
        for pid, ppid in parent.items():
            if pid not in found and (ppid == root or ppid in found):
                found.add(pid)
                grew = True
    return sorted(p for p in found if alive(p))


def wait_gone(pids, limit):
    """Wait until none of pids lives; returns the seconds it took, or None."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit:
        if not any(alive(p) for p in pids):
            return time.monotonic() - t0
        time.sleep(0.01)
    return None


class Tmux:
    """A tmux server of our own (tmux -L socklab-test-PID), one window of
    80x24 running cmd. Always use it in a with-block: the server is killed
    at the end, whatever happens."""

    count = 0

    def __init__(self, cmd, width=80, height=24, env=None):
        Tmux.count += 1
        self.sock = "socklab-test-%d-%d" % (os.getpid(), Tmux.count)
        self.cmd = cmd
        self.width, self.height = width, height
        self.env = env or {}

    def _tmux(self, *args, check=True):
        return subprocess.run(["tmux", "-L", self.sock] + list(args), check=check,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def __enter__(self):
        env = " ".join("%s=%s" % (k, shlex.quote(v)) for k, v in self.env.items())
        # The pane stays after the program ends, so its last screen can be
        # read; the exit status is kept before echo resets $?.
        self._tmux("-f", "/dev/null", "new-session", "-d", "-x", str(self.width), "-y",
                   str(self.height), "-s", "t", "env LANG=C.UTF-8 %s %s; "
                   "rc=$?; echo; echo \"[exit $rc]\"; sleep 600" % (env, self.cmd))
        self.path = self._tmux("display-message", "-p", "#{socket_path}",
                               check=False).stdout.strip()
        return self

    # How long what ran in the window may take to end once its terminal
    # is gone (socklab ends within a second: test_stop.py checks that).
    REAP = 5.0

    def __exit__(self, *exc):
        server = self._tmux("display-message", "-p", "#{pid}", check=False).stdout.strip()
        left = descendants(int(server)) if server.isdigit() else []
        self._tmux("kill-server", check=False)
        # Nothing of the test outlives it. Under AddressSanitizer the leak
        # check at exit stops the process with ptrace, and the SIGCONT of
        # the terminal's hangup can cancel that stop: the process then
        # spins for ever. Such a process is killed, and said.
        wait_gone(left, self.REAP)
        for p in left:
            if alive(p):
                print("note: %s still running %.0f s after its terminal closed: killed" %
                      (cmdline(p).strip() or "pid %d" % p, self.REAP), flush=True)
                try:
                    os.kill(p, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        # The server is gone; its socket file is left behind otherwise.
        if self.path and os.path.basename(self.path) == self.sock:
            try:
                os.unlink(self.path)
            except FileNotFoundError:
                pass
        return False

    SETTLE = 2.0

    def _settled(self, s, rx):
        """s matched rx: read the screen until two reads in a row are the
        same, or the match goes away (then s, its last screen)."""
        until = time.time() + self.SETTLE
        while time.time() < until:
            time.sleep(0.05)
            again = self.screen()
            if again == s:
                break
            if not rx.search(again):
                break
            s = again
        return s

    def keys(self, *keys):
        self._tmux("send-keys", "-t", "t", *keys)

    def screen(self):
        return self._tmux("capture-pane", "-p", "-t", "t").stdout

    def wait_all(self, patterns, timeout=20.0, what=None):
        """wait_for until every regex of patterns matches the same screen
        (things that arrive from different sources, in any order)."""
        every = "".join("(?=(.|\n)*?%s)" % p for p in patterns)
        return self.wait_for(r"\A" + every, timeout=timeout, what=what)

    def wait_for(self, pattern, timeout=20.0, what=None):
        """Poll the screen until the regex matches; returns the screen, or
        None at the deadline. The screen returned has settled: a frame
        tmux has taken in only in part can match the pattern and still lack
        what the caller checks next, so it is read again until two reads
        agree (for at most SETTLE seconds more; a match that goes away
        meanwhile, a passing message, returns its last screen)."""
        deadline = time.time() + timeout
        rx = re.compile(pattern, re.M)
        while True:
            s = self.screen()
            if rx.search(s):
                return self._settled(s, rx)
            if time.time() > deadline:
                print("---- screen when waiting for %r timed out:" % (what or pattern))
                print(s)
                return None
            time.sleep(0.1)


def run(cmd, timeout=60, **kw):
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          timeout=timeout, **kw)


AS_NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


def can_setpriv():
    """Root with setpriv, and a checkout nobody can read (not inside a 0700
    folder such as mktemp -d's): the unprivileged path can be tried as
    nobody. Says why when it cannot."""
    if os.geteuid() != 0 or subprocess.run(["which", "setpriv"],
                                           stdout=subprocess.DEVNULL).returncode != 0:
        return False
    conf = os.path.join(ROOT, "lessons", "02-tcp-echo", "lesson.conf")
    if subprocess.run(AS_NOBODY + ["test", "-x", SOCKLAB, "-a", "-r", conf]).returncode != 0:
        print("skip: uid 65534 cannot reach %s (a folder on the way is closed to others):"
              " the runs as an ordinary user are left out" % ROOT)
        return False
    return True
