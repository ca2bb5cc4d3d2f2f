#!/usr/bin/env python3
"""test_run02_stepped.py — `socklab run 02` stepped live, as a student would:
press space and watch. At 80x24, in tmux, it must show on the way

  - the SYN arrow of the handshake on the ladder (on loopback the
    handshake completes inside connect(), so SYN_SENT itself lasts µs),
  - ESTABLISHED on both ends of one connection (the same 4-tuple seen from
    each side),
  - the server blocked in accept() while no client has come,
  - the source line of the call a process is stopped before,
  - FIN_WAIT2 on the client and CLOSE_WAIT on the server (the client's
    shutdown() sent the first FIN),
  - TIME_WAIT, with its countdown, on the client: the active closer.

It is run as root (the lesson in a network namespace of its own) and, when
setpriv can drop to nobody, as an ordinary user (a user namespace too);
both must capture the segments (no "inferred" banner).
"""
import os
import re
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from tuilib import AS_NOBODY, SOCKLAB, Tmux, can_setpriv, check, finish, need

ROW = re.compile(r"^(\S+\[\d+\]|\(\w+\))\s+(\S+)\s+(\S+)\s+(\S+)\s+([A-Z_0-9]+)\b(.*)$", re.M)


def rows(screen):
    return [m.groups() for m in ROW.finditer(screen)]


def observe(screen, seen):
    rs = rows(screen)
    if re.search(r"[-<] SYN[ -]", screen) or any(r[4] == "SYN_SENT" for r in rs):
        seen.add("syn")
    est = {(r[2], r[3]) for r in rs if r[4] == "ESTABLISHED"}
    if any((p, l) in est for (l, p) in est):
        seen.add("established both ends")
    if any(r[0].startswith("client[") and r[4] == "FIN_WAIT2" for r in rs):
        seen.add("client FIN_WAIT2")
    if any(r[0].startswith("server[") and r[4] == "CLOSE_WAIT" for r in rs):
        seen.add("server CLOSE_WAIT")
    if any(r[0].startswith("client[") and r[4] == "TIME_WAIT" and re.search(r"TW \d+s", r[5])
           for r in rs):
        seen.add("client TIME_WAIT with countdown")
    if re.search(r"server\[\d+\] BLOCKED in accept\(3\)|server accept\(3\) BLOCKED", screen):
        seen.add("server blocked in accept")
    if re.search(r"^=> +\d+ .*\b(socket|bind|listen|accept|connect|send|recv|shutdown|close)\(",
                 screen, re.M):
        seen.add("source line of the current call")


WANT = ["syn", "established both ends", "server blocked in accept",
        "source line of the current call", "client FIN_WAIT2", "server CLOSE_WAIT",
        "client TIME_WAIT with countdown"]


EHASH_CHILD = "/proc/sys/net/ipv4/tcp_child_ehash_entries"


def own_table(screen, who):
    """The lesson's namespace hashes its sockets in a small table of its
    own (Linux 6.1 and later), so a sock_diag dump every 100 ms walks 1024
    buckets, not the host's hundreds of thousands. Read from inside that
    namespace, which takes root (nsenter)."""
    m = re.search(r"server\[(\d+)\]", screen)
    if os.geteuid() != 0 or not os.path.exists(EHASH_CHILD) or m is None:
        print("skip %s: the namespace's socket table (needs root, Linux 6.1+)" % who)
        return
    r = subprocess.run(["nsenter", "-t", m.group(1), "-n", "cat",
                        "/proc/sys/net/ipv4/tcp_ehash_entries"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    check(r.stdout.strip() == "1024",
          "%s: the lesson's namespace has a socket table of its own (%s buckets)"
          % (who, r.stdout.strip() or r.stderr.strip()))


def stepped(prefix, who):
    seen = set()
    with Tmux(" ".join(prefix + [SOCKLAB, "run", "02"])) as t:
        s = t.wait_for(r"STEPPING", what="the stepping status")
        check(s is not None, "%s: socklab run 02 starts, stepping" % who)
        if s is None:
            return
        check("private lo" in s and "INFERRED" not in s,
              "%s: the lesson runs on a private lo and segments are captured" % who)
        own_table(s, who)
        last = ""
        for _ in range(150):
            t.keys("Space")
            # Wait for the screen to change (or give up on this step).
            deadline = time.time() + 2.0
            while time.time() < deadline:
                time.sleep(0.1)
                s = t.screen()
                if s != last:
                    break
            time.sleep(0.15)
            s = t.screen()
            last = s
            observe(s, seen)
            if all(w in seen for w in WANT):
                break
        for w in WANT:
            check(w in seen, "%s: seen %s" % (who, w))
        t.keys("q")
        check(t.wait_for(r"\[exit 0\]", timeout=15, what="exit") is not None,
              "%s: q quits with exit status 0" % who)


def main():
    need(SOCKLAB)
    stepped([], "root" if os.geteuid() == 0 else "user")
    if can_setpriv():
        stepped(AS_NOBODY, "nobody")


if __name__ == "__main__":
    main()
    finish()
