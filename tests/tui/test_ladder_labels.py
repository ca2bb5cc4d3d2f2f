#!/usr/bin/env python3
"""test_ladder_labels.py — the ladder explains, at 80x24. Two of the real
captures of tests/unit/data/analysis (two Linux stacks joined by a link
that dropped frames) are turned into recordings, segment lines with the
link's fate, and replayed: the ladder must name the retransmissions (the
fast one on an arrow the link cut short with an X), the duplicate ACK
with its SACK block, the lost segment before the FIN, the window in
bytes, and count the drops and retransmissions in its title; on the
zero-window capture, window full, zero window, the probes and the window
update. --batch of the same replay prints the labels in brackets."""
import os
import re
import struct
import sys
import tempfile

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from tuilib import ROOT, SOCKLAB, Tmux, check, finish, need, run

CAPS = os.path.join(ROOT, "tests", "unit", "data", "analysis")
# The link that made the captures dropped frames by its rules.
FATES = {"pass": "passed", "drop": "dropped-rule", "held": "held"}


def frame_line(t, fate, frame, link_id):
    """One capture frame (Ethernet, IPv4, TCP) as a recording's wire line,
    the link's frame link_id."""
    ip = frame[14:]
    ihl = (ip[0] & 15) * 4
    total = struct.unpack("!H", ip[2:4])[0]
    tcp = ip[ihl:]
    sport, dport, seq, ack = struct.unpack("!HHII", tcp[:12])
    doff = (tcp[12] >> 4) * 4
    flags, win = tcp[13], struct.unpack("!H", tcp[14:16])[0]
    extra, i, opts = "", 0, tcp[20:doff]
    while i < len(opts) and opts[i] != 0:
        if opts[i] == 1:
            i += 1
            continue
        kind, size = opts[i], opts[i + 1]
        if kind == 2:
            extra += " mss=%d" % struct.unpack("!H", opts[i + 2:i + 4])
        elif kind == 3:
            extra += " ws=%d" % opts[i + 2]
        elif kind == 4:
            extra += " sack=1"
        elif kind == 5:
            extra += " blocks=" + ",".join("%d-%d" % struct.unpack("!II", opts[j:j + 8])
                                           for j in range(i + 2, i + size, 8))
        i += size
    return ("v1 src=wire t=%d from=%s:%d to=%s:%d flags=0x%02x seq=%d ack=%d win=%d len=%d%s "
            "id=%d fate=%s" % (t, ".".join(map(str, ip[12:16])), sport,
                               ".".join(map(str, ip[16:20])), dport, flags, seq, ack, win,
                               total - ihl - doff, extra, link_id, FATES[fate]))


def recording(name, tmp):
    t0 = 10 ** 12
    lines = ["v1 rec=socklab ver=1 mode=run title=%s t0=%d ns=1 wire=1 infer=0" % (name, t0)]
    with open(os.path.join(CAPS, name + ".cap")) as f:
        for line in f:
            if line.startswith("#"):
                continue
            us, fate, hexframe = line.split()
            lines.append(frame_line(t0 + int(us) * 1000, fate, bytes.fromhex(hexframe),
                                    len(lines)))
    path = os.path.join(tmp, name + ".rec")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


def ladder(rec, keys=(), want=r"^- ladder:"):
    with Tmux("%s replay %s" % (SOCKLAB, rec), env={"NO_COLOR": "1"}) as t:
        if t.wait_for(r"REPLAY \d+/\d+", what="replay status") is None:
            return None
        t.keys("End")
        if t.wait_for(r"REPLAY (\d+)/\1 ", what="the end of the recording") is None:
            return None
        t.keys("2")
        for k in keys:
            t.keys(k)
        return t.wait_for(want, what="the ladder")


def rows_with(screen, pattern):
    return [r for r in screen.splitlines() if re.search(pattern, r)]


def main():
    need(SOCKLAB)
    with tempfile.TemporaryDirectory() as tmp:
        rto = recording("rto", tmp)
        s = ladder(rto)
        check(s is not None, "the rto capture replays to its ladder")
        if s is not None:
            check(all(len(r) <= 80 for r in s.splitlines()) and len(s.splitlines()) <= 24,
                  "the ladder fits 80x24")
            check("ladder: 14 segments, 3 dropped, 3 retransmitted" in s,
                  "the title counts the drops and retransmissions")
            check(len(rows_with(s, r"\|-+ SYN [^|]*X +\| DROPPED seq=0")) == 1,
                  "the dropped SYN ends in X short of the server")
            check(len(rows_with(s, r"SYN retrans.*->\|")) == 1, "the SYN sent again: a retransmission")
            check(len(rows_with(s, r"PSH,ACK (len=552 )?fast retrans[^|]*X +\| DROPPED seq=1449")) == 1,
                  "the fast retransmission, dropped too")
            check(len(rows_with(s, r"PSH,ACK len=552 retransmission -*>\|")) == 1,
                  "the timer's retransmission")
            check(len(rows_with(s, r"FIN,ACK previous segment lost")) == 1,
                  "the FIN after the dropped segment: previous segment lost")
            check(len(rows_with(s, r"<-+ ACK duplicate ACK #1 SACK 2001-2002 -+\|")) == 1,
                  "the duplicate ACK with its SACK block (relative)")
            check(len(rows_with(s, r"seq=1 ack=1449 win=68608$")) == 2,
                  "the window in bytes (67 << 10)")
        batch = run([SOCKLAB, "replay", rto, "--batch"])
        check(batch.returncode == 0 and
              "PSH,ACK seq=1449 ack=1 win=64512 len=552 [TCP fast retransmission] [dropped-rule]"
              in batch.stdout, "--batch prints the labels")
        zw = recording("zerowin", tmp)
        s = ladder(zw, ["Home"], r"^- ladder: .*\[scrolled back")
        check(s is not None, "the zerowin capture replays to its ladder")
        if s is not None:
            check(len(rows_with(s, r"len=1448 (window full|win full)")) >= 2, "window full")
            check(len(rows_with(s, r"<-.* (zero window|zero win)")) >= 3, "zero window")
            check(len(rows_with(s, r"ACK (zero-window probe|ZW probe) -+>")) >= 3,
                  "the zero-window probes")
            check(len(rows_with(s, r"<-+ ACK (window update|win update) -+\| seq=1 ack=4345 win=2896")) == 1,
                  "the window update when the reader reads")
            check(len(rows_with(s, r"spurious retrans")) == 1,
                  "the early resend, spurious by the receiver's D-SACK")


if __name__ == "__main__":
    main()
    finish()
