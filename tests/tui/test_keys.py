#!/usr/bin/env python3
"""test_keys.py — every key the help screen lists does what it says, on a
live `socklab run 02` at 80x24; the screen says "terminal too small (need
80x24)" in a smaller one and recovers when it grows; NO_COLOR leaves the
screen without colours."""
import re
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from tuilib import SOCKLAB, Tmux, check, finish, need

HELP_KEYS = ["space, n", "c ", "p ", "Tab", "r ", "1 ", "2 3 4", "5 6", "Up, Down",
             "PgUp, PgDn", "Home, End", "Esc", "? ", "q "]


def status(s):
    m = re.search(r"^ > (\S+) (.*)$", s, re.M)
    return (m.group(1), m.group(2)) if m else (None, None)


def step_until(t, pattern, limit=40):
    for _ in range(limit):
        s = t.screen()
        if re.search(pattern, s, re.M):
            return s
        t.keys("Space")
        time.sleep(0.3)
    return None


def socket_rows(t):
    """The rows of the sockets screen (3), as who, fd, local and peer."""
    t.keys("3")
    s = t.wait_for(r"^PROCESS", what="the sockets screen") or ""
    lines = s.splitlines()
    head = next((i for i, l in enumerate(lines) if l.startswith("PROCESS")), len(lines))
    # Rows start at the left edge; each one's history is indented under it.
    return [" ".join(l.split()[:4]) for l in lines[head + 1:] if l[:1].strip()]


def shown_socket(s):
    """The number of the socket the state diagram shows, or None."""
    m = re.search(r"TCP states: #(\d+)", s or "")
    return m.group(1) if m else None


def down_down_up(t):
    """The socket numbers the state diagram shows after Down, Down, Up.
    Each key is known to have taken effect when the number changes, so the
    number shown before it is read first."""
    t.keys("4")
    shown = shown_socket(t.wait_for(r"^- TCP states", what="the states screen"))
    got = []
    for key, rx in [("Down", r"TCP states: #(?!%s\b)\d+"), ("Down", r"TCP states: #(?!%s\b)\d+"),
                    ("Up", r"TCP states: #%s\b")]:
        # Up goes back to the one the first Down chose.
        want = rx % (got[0] if key == "Up" and got else shown)
        t.keys(key)
        shown = shown_socket(t.wait_for(want, timeout=5, what="the socket after " + key))
        got.append(shown)
        if shown is None:
            shown = shown_socket(t.screen())
    return tuple(got)


def keys():
    with Tmux("%s run 02" % SOCKLAB) as t:
        s = t.wait_for(r"before socket\(", what="the first stop")
        check(s is not None, "run 02 starts, stopped before socket()")
        t.keys("?")
        s = t.wait_for(r"help: keys", what="help")
        check(s is not None and all(("  " + k) in s or ("  " + k.strip()) in s for k in HELP_KEYS),
              "? shows the help with every key")
        check(s is not None and re.search(r"trace\s+on:", s) and re.search(r"diag\s+on:", s),
              "the help says which sources are on")
        t.keys("x")
        check(t.wait_for(r"^- ladder", what="help closed") is not None, "any key closes the help")
        t.keys("Space")
        check(t.wait_for(r"before bind\(", what="bind") is not None, "space steps one call (bind)")
        t.keys("n")
        check(t.wait_for(r"before listen\(", what="listen") is not None, "n steps one call (listen)")
        s = step_until(t, r"^ > client\[\d+\]")
        check(s is not None, "stepping goes on to a client once the server listens")
        who = status(t.screen())[0]
        t.keys("Tab")
        s = t.wait_for(r"^ > (?!%s )\S+ " % re.escape(who or ""), timeout=5, what="another process")
        check(who is not None and s is not None, "Tab selects another process")
        for key, title in [("2", r"^- ladder:"), ("3", r"^- sockets"), ("4", r"^- TCP states"),
                           ("5", r"^- source"), ("6", r"^- calls")]:
            t.keys(key)
            s = t.wait_for(title, what="screen " + key)
            check(s is not None and (key == "2" or not re.search(r"^- ladder", s, re.M)),
                  "%s shows that view full screen" % key)
        t.keys("Escape")
        s = t.wait_for(r"^- ladder", what="overview")
        check(s is not None and re.search(r"^- sockets", s, re.M) is not None, "Esc is the overview again")
        t.keys("1")
        check(t.wait_for(r"^- sockets", what="1") is not None, "1 is the overview")
        # Up/Down need two sockets: step on until a connection is made.
        t.keys("1")
        check(step_until(t, r"ESTABLISHED") is not None, "stepping on makes a connection")
        # Both ends established (the server's end comes from sock_diag a
        # moment later).
        t.keys("3")
        t.wait_for(r"ESTABLISHED(.|\n)*ESTABLISHED", what="both ends established")
        # Down, Down, Up on the state diagram. The list must stay put
        # meanwhile: a socket the wire or the kernel showed first may still
        # be folded into the one a process holds. Tried again (at most
        # three times) only when the list changed.
        for attempt in range(3):
            before = socket_rows(t)
            first, second, back = down_down_up(t)
            if socket_rows(t) == before:
                break
            print("(the list of sockets changed meanwhile: again)")
        check(first is not None and second is not None,
              "Down selects another socket (#%s -> #%s)" % (first, second))
        check(first is not None and back == first,
              "Up selects the previous one again (#%s -> #%s)" % (second, back))
        t.keys("6")
        t.wait_for(r"^- calls", what="calls")
        t.keys("PPage")
        s = t.wait_for(r"\[back: End\]", timeout=5, what="scrolled back")
        check(s is not None, "PgUp scrolls the calls back")
        t.keys("NPage")
        s = t.wait_for(r"^- calls \(\d+\) -", timeout=5, what="scrolled forward")
        check(s is not None, "PgDn scrolls forward again")
        t.keys("Home")
        s = t.wait_for(r"socket\(AF_INET, SOCK_STREAM\) = 3", timeout=5, what="oldest")
        check(s is not None and "[back: End]" in s, "Home shows the oldest calls")
        t.keys("End")
        s = t.wait_for(r"^- calls \(\d+\) -", timeout=5, what="newest")
        check(s is not None, "End goes back to the newest")
        t.keys("1")
        t.keys("c")
        s = t.wait_for(r"^ RUNNING|^ ENDED", what="running")
        check(s is not None, "c lets every process run free")
        t.keys("p")
        s = t.wait_for(r"^ PAUSED", what="paused")
        check(s is not None, "p pauses every process")
        t.keys("r")
        s = t.wait_for(r"restarted", what="restart")
        check(s is not None, "r restarts the lesson")
        s = t.wait_for(r"before socket\(", what="first stop again")
        check(s is not None and re.search(r"calls \(1\)", s) is not None,
              "after r the server is stopped before its first call again")
        t.keys("q")
        check(t.wait_for(r"\[exit 0\]", timeout=15, what="exit") is not None, "q quits (exit 0)")


def small_terminal():
    with Tmux("%s run 02" % SOCKLAB, width=60, height=20) as t:
        s = t.wait_for(r"terminal too small \(need 80x24\)", what="too small")
        check(s is not None, "at 60x20 the screen says: terminal too small (need 80x24)")
        subprocess.run(["tmux", "-L", t.sock, "resize-window", "-t", "t", "-x", "80", "-y", "24"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        s = t.wait_for(r"^- ladder", what="normal screen")
        check(s is not None, "grown to 80x24, the screen is drawn normally")
        t.keys("q")
        check(t.wait_for(r"\[exit 0\]", timeout=15, what="exit") is not None,
              "q still quits after the resize")


def colours():
    def sgr(env):
        with Tmux("%s run 02" % SOCKLAB, env=env) as t:
            t.wait_for(r"before socket\(", what="start")
            t.keys("4")
            t.wait_for(r"TCP states", what="states")
            out = subprocess.run(["tmux", "-L", t.sock, "capture-pane", "-e", "-p", "-t", "t"],
                                 stdout=subprocess.PIPE, text=True).stdout
            t.keys("q")
            t.wait_for(r"\[exit", timeout=15)
            return re.findall(r"\x1b\[[0-9;]*m", out)
    colour = re.compile(r"\x1b\[(?:[0-9;]*;)?(?:3[0-7]|4[0-7]|38;5;\d+|48;5;\d+)[;m]")
    with_colour = sgr({})
    without = sgr({"NO_COLOR": "1"})
    check(any(colour.match(x) for x in with_colour), "colours are used by default")
    check(not any(colour.match(x) for x in without), "NO_COLOR=1: no colours at all")


def main():
    need(SOCKLAB)
    keys()
    small_terminal()
    colours()


if __name__ == "__main__":
    main()
    finish()
