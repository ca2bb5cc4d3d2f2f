#!/usr/bin/env python3
"""replay_bench.py — how long `socklab replay FILE --batch` takes to load and
apply a recording, and how much memory it needs, at 2,000, 20,000 and
200,000 socket events; and how soon SIGTERM ends it while it loads.

The recordings are made here, in the format of tui/record.h, in two shapes:
  load   a load generator under trace: one client process connects, sends
         and closes, over and over (socket, connect with its three
         segments, send, close; the server accepts and closes first), every
         connection on a port of its own, 100 ms apart; after each close a
         sock_diag dump shows the server's TIME_WAIT with its 60 s timer,
         so the model lets it go a minute later, as the kernel does;
  worst  the same with a new client process for every connection and no
         dumps: no TIME_WAIT ever ends, so the model's tables of processes
         and sockets only grow (reported, no target).

Targets (the load shape): 200,000 events load in under 5 s; the time per
event at 200,000 is at most 3 times that at 20,000 (linear, not
quadratic); the peak memory at 200,000 is at most 3 times the file's size
plus 32 MiB; SIGTERM sent while the 200,000-event file loads ends socklab
within a second.

    bench/replay_bench.py [SOCKLAB]      (default build/socklab)
"""
import os
import signal
import subprocess
import sys
import tempfile
import time

SIZES = (2000, 20000, 200000)
T0 = 1000000000


def connection(c, t, seq, worst):
    """The lines of connection c at time t."""
    pid, port = (1000 + c if worst else 1000), 10000 + c % 50000
    ev = "v1 ph=%%s seq=%%d pid=%d tid=%d t=%d call=%%s" % (pid, pid, t)
    srv = "v1 ph=%%s seq=%%d pid=100 tid=100 t=%d call=%%s" % t
    wire = "v1 src=wire t=%d from=127.0.0.1:%%d to=127.0.0.1:%%d flags=%%s seq=%%d ack=%%d win=64 len=%%d" % t
    here, there = "local=127.0.0.1:%d peer=127.0.0.1:4000" % port, "local=127.0.0.1:4000 peer=127.0.0.1:%d" % port
    cseq = 4 * c if not worst else 0
    lines = []
    if worst:
        lines += ["v1 src=proc ev=start pid=%d name=client t=%d" % (pid, t),
                  "v1 ph=hello pid=%d tid=%d ppid=1 step=0 t=%d" % (pid, pid, t)]
    lines += [
        ev % ("before", cseq + 1, "socket dom=AF_INET type=SOCK_STREAM proto=6"),
        ev % ("after", cseq + 1, "socket dom=AF_INET type=SOCK_STREAM proto=6 ret=3 local=0.0.0.0:0 state=CLOSE"),
        ev % ("before", cseq + 2, "connect fd=3 a=127.0.0.1:4000"),
        wire % (port, 4000, "0x02", 100, 0, 0),
        wire % (4000, port, "0x12", 500, 101, 0),
        wire % (port, 4000, "0x10", 101, 501, 0),
        ev % ("after", cseq + 2, "connect fd=3 a=127.0.0.1:4000 ret=0 %s state=ESTABLISHED" % here),
        srv % ("before", seq, "accept fd=3"),
        srv % ("after", seq, "accept fd=3 ret=4 %s state=ESTABLISHED" % there),
        ev % ("before", cseq + 3, "send fd=3 flags=0x4000 len=6"),
        wire % (port, 4000, "0x18", 101, 501, 6),
        ev % ("after", cseq + 3, "send fd=3 flags=0x4000 len=6 ret=6 %s state=ESTABLISHED" % here),
        srv % ("before", seq + 1, "close fd=4"),
        wire % (4000, port, "0x11", 501, 107, 0),
        srv % ("after", seq + 1, "close fd=4 ret=0"),
        ev % ("before", cseq + 4, "close fd=3"),
        wire % (port, 4000, "0x11", 107, 502, 0),
        wire % (4000, port, "0x10", 502, 108, 0),
        ev % ("after", cseq + 4, "close fd=3 ret=0"),
    ]
    if worst:
        lines.append("v1 src=proc ev=exit pid=%d code=0 t=%d" % (pid, t))
    else:
        lines += ["v1 src=diag ev=begin t=%d" % t,
                  "v1 src=diag ev=sock fam=AF_INET %s state=TIME_WAIT rq=0 sq=0 timer=3 "
                  "exp=60000 inode=0 uid=0" % there,
                  "v1 src=diag ev=end t=%d" % t]
    return lines


def make_recording(path, events, worst):
    """Write about that many events; returns how many lines."""
    gap = 1000000 if worst else 100000000
    with open(path, "w") as f:
        head = ["v1 rec=socklab ver=1 mode=run title=bench t0=%d ns=1 wire=1 infer=0" % T0,
                "v1 src=proc ev=start pid=100 name=server t=%d" % T0,
                "v1 ph=hello pid=100 tid=100 ppid=1 step=0 t=%d" % T0,
                "v1 ph=after seq=1 pid=100 tid=100 call=listen fd=3 n=16 ret=0 "
                "local=127.0.0.1:4000 state=LISTEN t=%d" % T0]
        if not worst:
            head += ["v1 src=proc ev=start pid=1000 name=client t=%d" % T0,
                     "v1 ph=hello pid=1000 tid=1000 ppid=1 step=0 t=%d" % T0]
        f.write("\n".join(head) + "\n")
        n, c, seq = len(head), 0, 2
        while n < events:
            c += 1
            lines = connection(c, T0 + c * gap, seq, worst)
            seq += 2
            f.write("\n".join(lines) + "\n")
            n += len(lines)
    return n


def load(socklab, path, stop_after=None):
    """Run socklab replay PATH --batch, its output thrown away. Returns
    (seconds, peak RSS KiB, exit status); with stop_after, SIGTERM goes
    that many seconds in and the seconds count from it to the exit."""
    t = time.monotonic()
    p = subprocess.Popen([socklab, "replay", path, "--batch"], stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    if stop_after is not None:
        time.sleep(stop_after)
        t = time.monotonic()
        p.send_signal(signal.SIGTERM)
    _, status, ru = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    return time.monotonic() - t, ru.ru_maxrss, p.returncode


def main():
    socklab = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.environ.get("SOCKLAB_BUILD", "build"), "socklab")
    if not os.access(socklab, os.X_OK):
        print("replay_bench: %s is not built (make)" % socklab)
        return 1
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for shape in ("load", "worst"):
            for size in SIZES:
                path = os.path.join(tmp, "%s%d.rec" % (shape, size))
                lines = make_recording(path, size, shape == "worst")
                mib = os.path.getsize(path) / 1048576
                secs, rss, rc = load(socklab, path)
                results[shape, size] = (secs, rss, mib)
                print("   %-5s %7d events (%7d lines, %5.1f MiB): %6.2f s, peak RSS %6.1f MiB, exit %d"
                      % (shape, size, lines, mib, secs, rss / 1024, rc), flush=True)
        stop_secs, _, stop_rc = load(socklab, os.path.join(tmp, "load%d.rec" % SIZES[-1]),
                                     stop_after=0.3)
        print("   SIGTERM 0.3 s into loading %d events: exit %d after %.3f s"
              % (SIZES[-1], stop_rc, stop_secs))
    big, mid = results["load", SIZES[-1]], results["load", SIZES[-2]]
    per_big, per_mid = big[0] / SIZES[-1], max(mid[0], 0.001) / SIZES[-2]

    def verdict(what, ok, value):
        print("  %-62s %s  %s" % (what, "PASS" if ok else "MISS", value))

    print("Targets (the load shape)")
    verdict("%d events load in under 5 s" % SIZES[-1], big[0] < 5, "%.2f s" % big[0])
    verdict("time per event at %d <= 3 x at %d" % (SIZES[-1], SIZES[-2]),
            per_big <= 3 * per_mid, "%.1f us vs %.1f us" % (per_big * 1e6, per_mid * 1e6))
    verdict("peak RSS at %d <= 3 x file + 32 MiB" % SIZES[-1],
            big[1] / 1024 <= 3 * big[2] + 32, "%.1f MiB, file %.1f MiB" % (big[1] / 1024, big[2]))
    verdict("SIGTERM while loading: exit within 1 s", stop_secs < 1 and stop_rc == 1,
            "%.3f s, exit %d" % (stop_secs, stop_rc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
