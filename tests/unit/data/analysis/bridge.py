#!/usr/bin/env python3
"""bridge.py — a small userspace link between two veth ends, for making the
analysis test captures (see README.md). Not used when the tests run.

Every frame that enters one end leaves by the other, unless a rule drops
it or holds it back; each TCP frame is written to the capture file with its
fate, in the order the link handled it:

    T_US pass|drop|held HEX     one frame (T_US: microseconds since the
                                first), its first 128 bytes
    T_US release N              frame number N (0-based, TCP frames only),
                                held until now, leaves the link

  bridge.py OUT IF_CLIENT IF_SERVER [RULE ...]

RULE is DIR:KIND:FIRST[-LAST][:ACTION] — DIR c2s or s2c, KIND syn, data
(payload > 0), ack (no payload, no SYN/FIN/RST), fin or any, counted from 1
in that direction; ACTION drop (the default), hold=N (held until N more
frames of that direction have passed: they overtake it), late=N (the
same, but written to the file only when it leaves, as a capture behind the
link would see it) or delay=MS (written as it comes, sent MS milliseconds
later). SIGTERM ends it.
"""
import os
import select
import signal
import socket
import struct
import sys
import time

ETH_P_ALL = 3
SNAP = 128          # bytes of each frame kept: every header, not the data
PACKET_OUTGOING = 4


def tcp_kind(frame):
    """'syn', 'fin', 'data', 'ack', 'rst', or None when not IPv4 TCP."""
    if len(frame) < 34 or frame[12:14] != b"\x08\x00" or frame[23] != 6:
        return None
    ihl = (frame[14] & 15) * 4
    total = struct.unpack("!H", frame[16:18])[0]
    tcp = 14 + ihl
    if len(frame) < tcp + 20:
        return None
    doff = (frame[tcp + 12] >> 4) * 4
    flags = frame[tcp + 13]
    payload = total - ihl - doff
    if flags & 0x02:
        return "syn"
    if flags & 0x04:
        return "rst"
    if payload > 0:
        return "data"
    if flags & 0x01:
        return "fin"
    return "ack"


class Rule:
    def __init__(self, text):
        parts = text.split(":")
        if len(parts) not in (3, 4) or parts[0] not in ("c2s", "s2c"):
            raise SystemExit("bridge.py: bad rule %r" % text)
        self.dir, self.kind = parts[0], parts[1]
        lo, _, hi = parts[2].partition("-")
        self.first, self.last = int(lo), int(hi or lo)
        action = parts[3] if len(parts) == 4 else "drop"
        self.action, _, n = action.partition("=")
        self.n = int(n or 0)
        if self.action not in ("drop", "hold", "late", "delay"):
            raise SystemExit("bridge.py: bad action %r" % action)

    def matches(self, d, kind, counts):
        if d != self.dir:
            return False
        if self.kind != "any" and self.kind != kind:
            return False
        c = counts[(d, self.kind)]
        return self.first <= c <= self.last


def main():
    if len(sys.argv) < 4:
        raise SystemExit(__doc__)
    names = {"c2s": sys.argv[2], "s2c": sys.argv[3]}
    rules = [Rule(r) for r in sys.argv[4:]]
    socks = {}
    for d, name in names.items():
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        s.bind((name, 0))
        socks[d] = s
    # The file appears once the link is ready (make-captures.sh waits).
    out = open(sys.argv[1], "w")
    other = {"c2s": socks["s2c"], "s2c": socks["c2s"]}
    counts = {(d, k): 0 for d in ("c2s", "s2c")
              for k in ("syn", "data", "ack", "fin", "rst", "any")}
    t0 = [None]
    nframes = [0]
    held = []   # [frame, direction, frames still to pass, number, late]
    delayed = []  # [when to send (ns), frame, direction], in that order
    stop = []
    signal.signal(signal.SIGTERM, lambda *a: stop.append(1))

    def stamp():
        now = time.monotonic_ns()
        if t0[0] is None:
            t0[0] = now
        return (now - t0[0]) // 1000

    def write(line):
        out.write(line + "\n")
        out.flush()

    while not stop:
        wait = 0.2
        if delayed:
            wait = max(0.0, (delayed[0][0] - time.monotonic_ns()) / 1e9)
        try:
            ready, _, _ = select.select(list(socks.values()), [], [], wait)
        except InterruptedError:
            continue
        while delayed and delayed[0][0] <= time.monotonic_ns():
            _, frame, d = delayed.pop(0)
            other[d].send(frame)
        for d, s in socks.items():
            if s not in ready:
                continue
            frame, addr = s.recvfrom(65536)
            if addr[2] == PACKET_OUTGOING:
                continue
            kind = tcp_kind(frame)
            if kind is None:
                other[d].send(frame)
                continue
            counts[(d, kind)] += 1
            counts[(d, "any")] += 1
            rule = next((r for r in rules if r.matches(d, kind, counts)), None)
            num = nframes[0]
            if rule is not None and rule.action == "drop":
                nframes[0] += 1
                write("%d drop %s" % (stamp(), frame[:SNAP].hex()))
            elif rule is not None and rule.action == "delay":
                nframes[0] += 1
                write("%d pass %s" % (stamp(), frame[:SNAP].hex()))
                delayed.append([time.monotonic_ns() + rule.n * 1000000, frame, d])
            elif rule is not None:
                if rule.action == "hold":
                    nframes[0] += 1
                    write("%d held %s" % (stamp(), frame[:SNAP].hex()))
                held.append([frame, d, rule.n, num, rule.action == "late"])
            else:
                nframes[0] += 1
                write("%d pass %s" % (stamp(), frame[:SNAP].hex()))
                other[d].send(frame)
                # Frames held in this direction let one more pass.
                for h in list(held):
                    if h[1] != d:
                        continue
                    h[2] -= 1
                    if h[2] <= 0:
                        held.remove(h)
                        if h[4]:
                            nframes[0] += 1
                            write("%d pass %s" % (stamp(), h[0][:SNAP].hex()))
                        else:
                            write("%d release %d" % (stamp(), h[3]))
                        other[d].send(h[0])
    out.close()


if __name__ == "__main__":
    main()
