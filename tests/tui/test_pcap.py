#!/usr/bin/env python3
"""test_pcap.py — `--pcap FILE` writes what the capture saw in the pcapng
format (tcpdump -r, Wireshark). The file is read back here, without
tcpdump (pcapng.py): its section header, its interface's link type, and
every TCP segment in it.
The first three segments of the first connection must be the handshake,
SYN, SYN-ACK, ACK, in that order; no segment may be there twice (lo shows
each frame going out and coming in); and the file must hold exactly the
segments socklab itself counted. Without a capture, --pcap is refused."""
import os
import re
import stat
import struct
import sys
import tempfile

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import pcapng
from pcapng import ACK, FIN, RST, SYN
from tuilib import AS_NOBODY, SOCKLAB, can_setpriv, check, finish, need, run


def read_pcap(path):
    """[(ts, src, dst, flags, seq, ack, len)] of every TCP segment."""
    linktype, frames = pcapng.read(path)
    if linktype != 1:
        raise ValueError("unexpected link type %d" % linktype)
    segs = []
    for ns, frame, _comment in frames:
        t = pcapng.tcp(frame)
        if t is not None:
            segs.append((ns / 1e9,) + t)
    return linktype, segs


def one_run(prefix, who, tmp):
    path = os.path.join(tmp, "%s.pcap" % who)
    r = run(prefix + [SOCKLAB, "run", "02", "--batch", "--pcap", path], timeout=60)
    check(r.returncode == 0, "%s: socklab run 02 --batch --pcap exits 0" % who)
    if r.returncode != 0:
        print(r.stderr)
        return
    try:
        linktype, segs = read_pcap(path)
    except (OSError, ValueError, struct.error) as e:
        check(False, "%s: the pcap file reads back (%s)" % (who, e))
        return
    check(linktype == 1, "%s: a pcapng file of Ethernet frames (lo), link type %d" % (who, linktype))
    first = segs[0] if segs else None
    conn = [s for s in segs if first and {s[1], s[2]} == {first[1], first[2]}]
    flags = [s[3] & (SYN | ACK | FIN | RST) for s in conn[:3]]
    check(flags == [SYN, SYN | ACK, ACK],
          "%s: the first connection opens with SYN, SYN-ACK, ACK in order" % who)
    check(len(conn) >= 3 and conn[0][1] == conn[2][1] == conn[1][2],
          "%s: SYN and ACK from the client, SYN-ACK from the server" % who)
    keys = [(s[1], s[2], s[3], s[4], s[5], s[6]) for s in segs]
    dups = [k for i, k in enumerate(keys) if k in keys[:i] and
            abs(segs[i][0] - segs[keys.index(k)][0]) < 0.002]
    check(not dups, "%s: every segment is in the file once" % who)
    counted = len(re.findall(r"^  \d+\.\d+ \S+ > \S+ ", r.stdout, re.M))
    check(counted == len(segs) and counted >= 20,
          "%s: the file holds the %d segments socklab counted (%d)" % (who, counted, len(segs)))


def main():
    need(SOCKLAB)
    with tempfile.TemporaryDirectory() as tmp:
        os.chmod(tmp, stat.S_IRWXU | stat.S_IRWXG | stat.S_IRWXO)
        one_run([], "root" if os.geteuid() == 0 else "user", tmp)
        if can_setpriv():
            one_run(AS_NOBODY, "nobody", tmp)
            r = run(AS_NOBODY + [SOCKLAB, "run", "02", "--batch", "--no-netns", "--pcap",
                                 os.path.join(tmp, "none.pcap")])
            check(r.returncode == 1 and "--pcap: no capture" in r.stderr,
                  "nobody on the host's lo: --pcap is refused with a reason (exit 1)")


if __name__ == "__main__":
    main()
    finish()
