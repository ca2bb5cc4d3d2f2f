#!/usr/bin/env python3
"""test_tcptime.py — TCP over time (view 8). A bulk transfer
(tests/progs/bulk: 16 MB over loopback, read slowly) traced by socklab at
80x24 shows the sender's congestion window: the values line with a cwnd
above 0, the plot's columns of #, the time axis; PgUp moves a ^ back along
the ladder's time and names the segment there. --batch prints the same
series ("tcp over time"); in the recording, every sock_diag dump taken
while the sender's queues held data has a sample of it (how many a second
that makes depends on the machine's load: bench/tcptime.sh measures it),
and the replay prints the series again; a recording made before samples
existed replays without them. As uid 65534 the series is there too:
sock_diag needs no privilege."""
import os
import re
import sys
import tempfile

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from tuilib import AS_NOBODY, BUILD, DATA, SOCKLAB, Tmux, can_setpriv, check, finish, need, run

BULK = os.path.join(BUILD, "tests", "progs", "bulk")
ARGS = [BULK, "16", "5"]


def section(text, name):
    m = re.search(r"^%s\n((?:  .*\n)*)" % name, text, re.M)
    return m.group(1) if m else ""


def series(text):
    """{socket: [(t, cwnd), ...]} from a dump's "tcp over time"."""
    out, cur = {}, None
    for line in section(text, "tcp over time").splitlines():
        if not line.startswith("    "):
            cur = line.strip()
            out[cur] = []
            continue
        m = re.match(r"\s+(\d+\.\d+) \S+ cwnd=(\d+) ssthresh=\S+ srtt=\d+\.\d+ms "
                     r"inflight=\d+ rwnd=\d+ retrans=\d+$", line)
        if m is None or cur is None:
            return None
        out[cur].append((float(m.group(1)), int(m.group(2))))
    return out


def check_series(text, who):
    s = series(text)
    check(s is not None and len(s) >= 1, "%s: --batch prints a \"tcp over time\" section" % who)
    if not s:
        return s
    sender = max(s, key=lambda k: len(s[k]))
    pts = s[sender]
    check(len(pts) >= 10, "%s: %d samples of %s" % (who, len(pts), sender))
    check(all(c > 0 for _, c in pts), "%s: every sample has a congestion window" % who)
    return s


def fields(line):
    return dict(kv.split("=", 1) for kv in line.split()[1:] if "=" in kv)


def check_every_busy_dump(rec):
    """In the recording: each dump (its sock lines carry its time) where a
    connected socket's queues hold data has that socket's sample, taken
    at the dump's time."""
    dump_t, busy, sampled = None, set(), set()
    with open(rec) as f:
        for line in f:
            if not line.startswith("v1 src="):
                continue
            d = fields(line)
            if d.get("src") == "diag" and d.get("ev") == "begin":
                dump_t = d.get("t")
            elif (d.get("src") == "diag" and d.get("ev") == "sock" and "peer" in d and
                  d.get("state") == "ESTABLISHED" and (d.get("rq") != "0" or d.get("sq") != "0")):
                busy.add((dump_t, d["local"], d["peer"]))
            elif d.get("src") == "tcpinfo":
                sampled.add((d.get("t"), d.get("local"), d.get("peer")))
    missing = busy - sampled
    check(len(busy) >= 10 and not missing,
          "every dump while data was queued has the socket's sample (%d such, %d without)" %
          (len(busy), len(missing)))


def screen_test():
    with Tmux("%s trace -- %s" % (SOCKLAB, " ".join(ARGS)), env={"NO_COLOR": "1"}) as t:
        if t.wait_for(r"bulk", what="the traced program") is None:
            check(False, "socklab trace starts the bulk transfer")
            return
        t.keys("8")
        s = t.wait_all([r"now: cwnd [1-9]\d*", r"cwnd \(segments\)", r"^time \(s\)"],
                       what="cwnd on the TCP over time view")
        check(s is not None, "view 8 shows the congestion window of the transfer at 80x24")
        if s is None:
            return
        rows = s.splitlines()
        check(len(rows) <= 24 and all(len(r) <= 80 for r in rows), "the view fits 80x24")
        plot = [r for r in rows if re.match(r"^ +(\d+ )?\|#", r)]
        check(len(plot) >= 3, "the plot draws the window as columns of # (%d rows)" % len(plot))
        check(any(r.startswith(n) for r in rows for n in ("srtt", "in flight", "rwnd", "retrans")),
              "the round trip, bytes in flight, window and retransmissions have their lines")
        end = t.wait_for(r"exited with status 0", timeout=60, what="the transfer's end")
        check(end is not None, "the transfer ends")
        t.keys("PPage")
        s = t.wait_all([r"^ then: cwnd \d+", r"^ \^ \d+\.\d+ \S+"], what="the ladder's time")
        check(s is not None and re.search(r"^time \(s\) .*\^", s, re.M) is not None,
              "PgUp puts a ^ on the time axis at the ladder's segment, and names it")


def main():
    need(SOCKLAB)
    need(BULK)
    screen_test()
    with tempfile.TemporaryDirectory() as tmp:
        rec = os.path.join(tmp, "bulk.rec")
        r = run([SOCKLAB, "trace", "--batch", "--record", rec, "--"] + ARGS, timeout=120)
        check(r.returncode == 0, "trace --batch of the transfer exits 0")
        live = check_series(r.stdout, "root" if os.geteuid() == 0 else "user")
        with open(rec) as f:
            lines = sum(1 for line in f if line.startswith("v1 src=tcpinfo "))
        check(live and lines == sum(len(v) for v in live.values()),
              "the recording holds every sample (%d tcpinfo lines)" % lines)
        check_every_busy_dump(rec)
        again = run([SOCKLAB, "replay", rec, "--batch"], timeout=60)
        check(again.returncode == 0 and live and series(again.stdout) == live,
              "its replay prints the same series")
    old = run([SOCKLAB, "replay", os.path.join(DATA, "lesson02.rec"), "--batch"])
    check(old.returncode == 0 and "tcp over time" not in old.stdout and "segments" in old.stdout,
          "a recording from before the samples replays, without them")
    if can_setpriv():
        r = run(AS_NOBODY + [SOCKLAB, "trace", "--batch", "--"] + ARGS, timeout=120)
        check(r.returncode == 0, "as uid 65534: trace --batch exits 0")
        check_series(r.stdout, "uid 65534")


if __name__ == "__main__":
    main()
    finish()
