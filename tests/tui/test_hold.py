#!/usr/bin/env python3
"""test_hold.py — hold and drop by hand, on the screen: `socklab run 02
--hosts` at 80x24 in tmux, stepped. h holds every frame on the link; the
client steps into connect() and its SYN waits on the wire (HELD on the
ladder); x drops it (DROPPED, the arrow ends in an X); h again lets the
frames go, and the kernel's own retransmission of that SYN (about a
second later) opens the connection. The link panel (7) counts the drop,
and its keys change the settings, both ways or one.
As root, and as uid 65534 where the checkout allows."""
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from tuilib import AS_NOBODY, SOCKLAB, Tmux, can_setpriv, check, finish, need


def step_until(t, pattern, limit=40):
    """Step (space) until pattern is on the screen; the screen, or None."""
    import re

    rx = re.compile(pattern, re.M)
    for _ in range(limit):
        s = t.screen()
        if rx.search(s):
            return t.wait_for(pattern, timeout=5)
        t.keys("Space")
        time.sleep(0.3)
    return None


def hold_and_drop(prefix, who):
    with Tmux("%s%s run 02 --hosts" % (prefix, SOCKLAB)) as t:
        s = t.wait_for(r"before socket\(", what="the first stop")
        check(s is not None and "2 hosts, link" in s,
              "%s: run 02 --hosts starts stepped, the title says 2 hosts and a link" % who)
        t.keys("h")
        check(t.wait_for(r"HOLD: every frame waits", what="hold on") is not None,
              "%s: h: hold mode on" % who)
        s = step_until(t, r"\|- SYN .*\| HELD seq=0")
        check(s is not None, "%s: a client steps into connect(): its SYN is HELD on the wire" % who)
        t.keys("x")
        s = t.wait_all([r"\|-+ SYN [^|]*-X +\| .*DROPPED seq=0", r"frame #\d+ dropped on the link"],
                       what="the SYN dropped")
        check(s is not None, "%s: x: the SYN is DROPPED on the ladder, its arrow ends in an X" % who)
        t.keys("h")
        s = t.wait_for(r"SYN,ACK", timeout=10, what="the connection after the retransmission")
        check(s is not None,
              "%s: h again: the held frames go, the SYN sent again opens the connection" % who)
        t.keys("7")
        s = t.wait_for(r"to server: 1 dropped \(1 by hand\), 0 held", what="the link panel")
        check(s is not None, "%s: 7: the link panel counts one segment dropped by hand" % who)
        t.keys("+")
        s = t.wait_all([r"link both ways: delay 1ms", r"^ delay +1ms +1ms +1ms"],
                       what="a delay of 1 ms both ways")
        check(s is not None, "%s: + in the panel: the delay both ways goes up to 1 ms" % who)
        t.keys("Right", "Down", "Down", "+")
        s = t.wait_all([r"link to server: delay 1ms loss 0.1%", r"^ loss +\(differ\) +0.1% +0%"],
                       what="loss towards the server")
        check(s is not None, "%s: Right, Down, Down, +: 0.1%% loss towards the server only" % who)
        t.keys("q")
        check(t.wait_for(r"\[exit 0\]", timeout=15, what="exit") is not None,
              "%s: q quits, exit 0" % who)


def main():
    need(SOCKLAB)
    hold_and_drop("", "root")
    if can_setpriv():
        hold_and_drop(" ".join(AS_NOBODY) + " ", "nobody")


if __name__ == "__main__":
    main()
    finish()
