#!/usr/bin/env python3
"""test_input.py — programs that wait for Enter keep waiting under socklab,
in `c` (continue) mode too, and the student gives them their input: lesson
03's closewait, run free, holds the server's end in CLOSE_WAIT and the
client's in FIN_WAIT2, and the status line says the server waits for
input; Enter with the server selected sends it a line, it calls close()
at last (LAST_ACK, and the client's end goes to TIME_WAIT). The backlog
scenario, run free, keeps the third client in SYN_SENT with its SYN sent
again and no RST, the other programs waiting for input."""
import re
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from tuilib import SOCKLAB, Tmux, check, finish, need


def select(t, name, limit=8):
    """Tab until the status line's process is name[...]; returns its line."""
    for _ in range(limit):
        m = re.search(r"^ > (\w+)\[\d+\] (.*)$", t.screen(), re.M)
        if m and m.group(1) == name:
            return m.group(2)
        t.keys("Tab")
        time.sleep(0.2)
    return None


def closewait():
    with Tmux("%s run 03 closewait" % SOCKLAB) as t:
        t.wait_for(r"before socket\(", what="the first stop")
        t.keys("c")
        t.keys("3")
        s = t.wait_all([r"^server\[\d+\]\s+\d+ \S+\s+\S+\s+CLOSE_WAIT", r"^client\[\d+\].*FIN_WAIT2"],
                       what="CLOSE_WAIT and FIN_WAIT2")
        check(s is not None, "c: the server's end stays in CLOSE_WAIT, the client's in FIN_WAIT2")
        s = t.wait_for(r"waiting for input: server\[\d+\]|server\[\d+\] waits for input",
                       what="the status line")
        check(s is not None, "the status line says the server waits for input")
        time.sleep(1)
        check(re.search(r"^server\[\d+\]\s+\d+ .*CLOSE_WAIT", t.screen(), re.M) is not None,
              "and it keeps waiting (a second later, still CLOSE_WAIT)")
        line = select(t, "server")
        check(line is not None and "waits for input" in line,
              "selected, the server's line says it waits for input (%s)" % line)
        t.keys("Enter")
        s = t.wait_all([r"CLOSE_WAIT > LAST_ACK", r"^client\[\d+\].*TIME_WAIT"],
                       what="the server's close()")
        check(s is not None, "Enter sends it a line: it closes (LAST_ACK), the client's end goes "
              "to TIME_WAIT")
        t.keys("q")


def backlog():
    with Tmux("%s run 03 backlog --free" % SOCKLAB) as t:
        t.keys("3")
        s = t.wait_for(r"SYN_SENT", what="SYN_SENT")
        check(s is not None, "--free: the third client's connection stays in SYN_SENT")
        t.keys("2")
        t.keys("Home")
        # Three handshakes' SYNs, and the third's again (1 s later).
        s = t.wait_for(r"(?s)(?:[<-] SYN mss.*?){4}", timeout=10,
                       what="the third client's SYN sent again")
        check(s is not None and "RST" not in s, "its SYN is sent again, and no RST comes")
        s = t.wait_for(r"waiting for input: (\S+ ){2}", what="who waits for input")
        check(s is not None, "the status line lists the programs that wait for input")
        t.keys("q")


def main():
    need(SOCKLAB)
    closewait()
    backlog()


if __name__ == "__main__":
    main()
    finish()
