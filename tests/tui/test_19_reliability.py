#!/usr/bin/env python3
"""test_19_reliability.py — lesson 19's scenarios on real kernels: each
one run with `socklab run 19 NAME --batch --record FILE` (the sender and
the receiver on two hosts, socklab's link between them) and checked
segment by segment against what its README says to watch for:

- the default run: 100,000 bytes in segments of 1,448, all delivered;
- syn-lost: the first SYN dropped by the link, the same SYN (same port,
  seq 0) sent again 0.8 to 1.5 s later, passed; connect() took that long;
- ack-lost: the handshake's last ACK dropped; the receiver's socket in
  SYN_RECV for about a second, its SYN,ACK sent again 0.8 to 1.5 s later,
  and the receiver's accept() only then;
- data-lost (a large window): after the dropped data segment, at least
  three duplicate ACKs, then the same sequence range sent again within a
  round trip or two (a fast retransmission, long before any timer), each
  byte delivered once and in order;
- data-lost-rto (a tiny window): no duplicate ACK before the dropped
  range is sent again, 200 ms or more later (the minimum RTO);
- reorder: the segment held back arrives after the next one, the
  receiver acknowledges up to the hole again with a SACK block for the
  early one, no retransmission at all, bytes in order;
- zero-window: a window of 0 from the receiver, at least one probe from
  the sender while it lasts (no data: seq one below what was acknowledged),
  then a window update (the same ACK, a window above 0);
- mss: the one 10,000-byte send() crosses the link as segments of at most
  1,448 payload bytes (7 of them); mss-loopback: as one segment;
- nagle: with Nagle's algorithm the second write of a request leaves
  only after the receiver's (delayed) ACK of the first, 30 ms or more
  later; with TCP_NODELAY before it; the second sender, started "after
  500ms", runs on the first one's host (no third host);
- slow-link: queue drops in two episodes at least (slow start's
  overshoot, then the congestion window grown back), every dropped range
  sent again, every byte delivered, no faster than 2 Mbit/s; the
  sender's congestion window over time (socklab's TCP_INFO samples)
  cut and grown back at least twice: the sawtooth.
The labels socklab's TCP analysis gives the segments are checked too: retransmission, duplicate ACK with SACK blocks, fast
retransmission, out-of-order and previous segment lost, zero window,
zero-window probe, window update.

And the screen at 80x24: `socklab run 19 syn-lost`, continued, shows on
the ladder the dropped SYN (ending in X) and the SYN sent again.

The runs go three at a time; as root, and as uid 65534 where the checkout
allows (the same checks)."""
import os
import re
import subprocess
import sys
import tempfile
import threading
import urllib.parse

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from tuilib import AS_NOBODY, SOCKLAB, Tmux, can_setpriv, check, finish, need

JOBS = 3
SEG = re.compile(r"^  (\d+\.\d+) (\S+) > (\S+) (\S+) (.*)$", re.M)


class Seg:
    """One segment of a --batch dump."""

    def __init__(self, m):
        self.t, self.src, self.dst, self.flags = float(m[1]), m[2], m[3], m[4]
        rest = m[5]
        # " [TCP label, label] [fate]": the analysis's labels, then the
        # link's fate (either may be missing).
        self.labels = []
        while True:
            lm = re.search(r" ?\[([^\]]*)\]$", rest)
            if lm is None:
                break
            words = lm.group(1)
            words = words[4:] if words.startswith("TCP ") else words
            self.labels = [w.strip() for w in words.split(",")] + self.labels
            rest = rest[:lm.start()]
        num = lambda k: int(re.search(r"\b%s=(\d+)" % k, rest).group(1)) \
            if re.search(r"\b%s=(\d+)" % k, rest) else None
        self.seq, self.ack, self.len = num("seq"), num("ack"), num("len") or 0
        w = re.search(r"\bwin=(\S+)", rest)
        self.win = w.group(1) if w else None
        s = re.search(r"<SACK ([^>]*)>", rest)
        self.sack = s.group(1) if s else None

    def dropped(self):
        return any(l.startswith("dropped") for l in self.labels)

    def label(self, word):
        return any(word in l for l in self.labels)

    def __repr__(self):
        return "%.3f %s>%s %s seq=%s ack=%s win=%s len=%d %s" % (
            self.t, self.src.split(":")[-1], self.dst.split(":")[-1], self.flags, self.seq,
            self.ack, self.win, self.len, self.labels)


class Run:
    def __init__(self, name, rc, out, err, rec):
        self.name, self.rc, self.err = name, rc, err
        sec = re.search(r"^segments\n((?:  .*\n)*)", out, re.M)
        self.segs = [Seg(m) for m in SEG.finditer(sec.group(1) if sec else "")]
        # TCP_INFO over time: {"LOCAL > PEER": [(t, cwnd), ...]}
        self.samples, cur = {}, None
        tcp = re.search(r"^tcp over time\n((?:  .*\n)*)", out, re.M)
        for line in (tcp.group(1) if tcp else "").splitlines():
            m = re.match(r"^    ([\d.]+) \S+ cwnd=(\d+) ", line)
            if m and cur is not None:
                self.samples[cur].append((float(m.group(1)), int(m.group(2))))
            elif not line.startswith("    "):
                cur = line.strip()
                self.samples[cur] = []
        socks = re.search(r"^sockets\n((?:  .*\n)*)", out, re.M)
        self.sockets = socks.group(1) if socks else ""
        names, self.out = {}, []
        self.hosts = re.findall(r" src=link ev=host i=\d+ name=(\S+)", rec)
        for line in rec.splitlines():
            m = re.search(r" src=proc ev=start pid=(\d+) name=(\S+)", line)
            if m:
                names[m.group(1)] = urllib.parse.unquote(m.group(2))
            m = re.search(r" src=out pid=(\d+) .*text=(\S*)", line)
            if m:
                self.out.append((names.get(m.group(1), "?"), urllib.parse.unquote(m.group(2))))
        m = re.search(r"listening on \S+:(\d+)", self.text("receiver"))
        self.port = ":" + m.group(1) if m else None

    def text(self, prog):
        return "\n".join(t for p, t in self.out if p == prog)

    def to_receiver(self, data=None):
        """Segments towards the receiver's port (data: only those with
        bytes, or only those without)."""
        return [s for s in self.segs if self.port and s.dst.endswith(self.port) and
                (data is None or (s.len > 0) == data)]

    def from_receiver(self):
        return [s for s in self.segs if self.port and s.src.endswith(self.port)]

    def delivered(self, nbytes):
        """The receiver read nbytes, each in its place, and the sender saw
        it close."""
        return (re.search(r"end of file: %d bytes .* every byte in order" % nbytes,
                          self.text("receiver")) is not None and
                "the receiver has read all %d bytes" % nbytes in self.text("sender"))


def run_scenario(prefix, scen, tmp, tag):
    rec = os.path.join(tmp, "%s-%s.rec" % (tag, scen or "default"))
    cmd = prefix + [SOCKLAB, "run", "19"] + ([scen] if scen else []) + [
        "--batch", "--timeout", "60", "--record", rec]
    p = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=90)
    try:
        with open(rec) as f:
            text = f.read()
    except OSError:
        text = ""
    return Run(scen, p.returncode, p.stdout, p.stderr, text)


def segs_text(segs, n=12):
    return "\n       ".join(repr(s) for s in segs[:n])


def verify(ok, what, detail=None):
    """check(), and on failure what was seen (detail: a list of segments
    or any text)."""
    check(ok, what)
    if not ok and detail is not None:
        print("     seen: " + (segs_text(detail) if isinstance(detail, list) else str(detail)))


# ---- what each scenario must show ----

def default(r, who):
    data = r.to_receiver(True)
    check(r.delivered(100000) and all(s.len <= 1448 for s in data) and
          sum(1 for s in data if s.len == 1448) >= 60 and not any(s.dropped() for s in r.segs),
          "%s: default: 100,000 bytes in segments of 1,448, none lost" % who)


def syn_lost(r, who):
    syns = [s for s in r.to_receiver() if s.flags == "SYN"]
    first = syns[0] if syns else None
    again = [s for s in syns[1:] if first and s.src == first.src and s.seq == first.seq]
    verify(first is not None and first.dropped() and len(again) == 1 and not again[0].dropped(),
           "%s: syn-lost: the first SYN dropped by the link, the same SYN (seq %s) passed once"
           " again" % (who, first.seq if first else "?"), syns)
    gap = again[0].t - first.t if again else -1
    check(0.8 <= gap <= 1.5, "%s: syn-lost: sent again %.3f s later (0.8 to 1.5)" % (who, gap))
    check(bool(again) and again[0].label("retransmission"),
          "%s: syn-lost: the second SYN is labelled a retransmission (%s)"
          % (who, again[0].labels if again else None))
    m = re.search(r"connect\(\): \S+ -> \S+ after ([\d.]+) ms", r.text("sender"))
    check(m is not None and 800 <= float(m.group(1)) <= 1500 and r.delivered(1000),
          "%s: syn-lost: the sender's connect() took %s ms, then all 1,000 bytes arrived"
          % (who, m.group(1) if m else "?"))


def ack_lost(r, who):
    to, back = r.to_receiver(), r.from_receiver()
    lost = [s for s in to if s.dropped()]
    verify(len(lost) == 1 and lost[0].flags == "ACK" and lost[0].len == 0 and
           to.index(lost[0]) == 1,
           "%s: ack-lost: the handshake's last ACK, and only it, dropped" % who, to)
    synacks = [s for s in back if s.flags == "SYN,ACK"]
    gap = synacks[1].t - synacks[0].t if len(synacks) == 2 else -1
    check(len(synacks) == 2 and synacks[0].seq == synacks[1].seq and 0.8 <= gap <= 1.5 and
          synacks[1].label("retransmission"),
          "%s: ack-lost: the receiver sent its SYN,ACK again %.3f s later (0.8 to 1.5), "
          "labelled a retransmission" % (who, gap))
    m = re.search(r"^ +([\d.]+) - -> SYN_RECV .*\n +([\d.]+) SYN_RECV -> ESTABLISHED",
                  r.sockets, re.M)
    check(m is not None and 0.8 <= float(m.group(2)) - float(m.group(1)) <= 1.5,
          "%s: ack-lost: the receiver's connection sat in SYN_RECV for %s s" %
          (who, "%.3f" % (float(m.group(2)) - float(m.group(1))) if m else "?"))
    acc = re.search(r"\[ *([\d.]+) ms\] accept\(\)", r.text("receiver"))
    check(acc is not None and r.delivered(1000),
          "%s: ack-lost: accept() returned only then, all bytes delivered" % who)


def first_drop(r):
    data = r.to_receiver(True)
    lost = [s for s in data if s.dropped()]
    return data, (lost[0] if len(lost) == 1 else None)


def resent(data, lost):
    return [s for s in data if s.t > lost.t and s.seq == lost.seq]


def acks_of_hole(r, lost, again):
    """The receiver's ACKs that ask again for the lost bytes before they
    are sent again: all but the first ACK up to them (that one
    acknowledged the segment before the hole)."""
    upto = [s for s in r.from_receiver() if s.len == 0 and s.ack == lost.seq and
            again and s.t < again[0].t]
    return upto[1:]


def data_lost(r, who):
    data, lost = first_drop(r)
    verify(lost is not None, "%s: data-lost: one data segment dropped by the link" % who, data)
    if lost is None:
        return
    again = resent(data, lost)
    dups = acks_of_hole(r, lost, again)
    verify(len(again) == 1 and again[0].len == lost.len and not again[0].dropped(),
           "%s: data-lost: the dropped range (seq %d, %d bytes) sent again, exactly once"
           % (who, lost.seq, lost.len), again)
    check(len(dups) >= 3,
          "%s: data-lost: %d duplicate ACKs (ack=%d) came before it" % (who, len(dups), lost.seq))
    gap = again[0].t - lost.t if again else -1
    check(0 < gap < 0.15, "%s: data-lost: sent again %.0f ms after the loss: fast, "
          "before any timer (a round trip is 20 ms)" % (who, gap * 1000))
    # Each SACK block starts right after the hole: the bytes beyond it
    # have arrived.
    after = "%d-" % (lost.seq + lost.len)
    verify(len(dups) >= 3 and all(s.label("duplicate ACK") and s.sack and
                                  s.sack.startswith(after) for s in dups),
           "%s: data-lost: each labelled a duplicate ACK, with a SACK block from %s on"
           % (who, after), [(s.labels, s.sack) for s in dups])
    check(bool(again) and again[0].label("fast retransmission"),
          "%s: data-lost: the resend is labelled a fast retransmission (%s)"
          % (who, again[0].labels if again else None))
    check(r.delivered(30000), "%s: data-lost: every byte delivered, in order" % who)


def data_lost_rto(r, who):
    data, lost = first_drop(r)
    verify(lost is not None, "%s: data-lost-rto: one data segment dropped" % who, data)
    if lost is None:
        return
    again = resent(data, lost)
    gap = again[0].t - lost.t if again else -1
    dups = acks_of_hole(r, lost, again)
    check(len(again) == 1 and gap >= 0.2,
          "%s: data-lost-rto: the dropped range sent again %.0f ms later (the RTO: 200 ms "
          "at least)" % (who, gap * 1000))
    check(len(dups) == 0, "%s: data-lost-rto: no duplicate ACK came first (%d)"
          % (who, len(dups)))
    check(bool(again) and again[0].label("retransmission") and
          not again[0].label("fast retransmission"),
          "%s: data-lost-rto: labelled a retransmission, not a fast one (%s)"
          % (who, again[0].labels if again else None))
    check(r.delivered(6000), "%s: data-lost-rto: every byte delivered, in order" % who)


def reorder(r, who):
    data = r.to_receiver(True)
    late = [s for s in data if s.label("reordered")]
    verify(len(late) == 1 and not any(s.dropped() for s in r.segs),
           "%s: reorder: one data segment held back by the link, none dropped" % who, data)
    if not late:
        return
    seqs = [s.seq for s in data]
    check(seqs.count(late[0].seq) == 1 and len(set(seqs)) == len(seqs),
          "%s: reorder: no segment sent twice (no retransmission)" % who)
    early = next((s for s in data if s.seq == late[0].seq + late[0].len), None)
    again = [s for s in r.from_receiver() if s.ack == late[0].seq and s.len == 0][1:]
    sack = "%d-%d" % (early.seq, early.seq + early.len) if early else "?"
    check(len(again) >= 1 and again[0].sack == sack,
          "%s: reorder: the receiver acknowledges up to the hole (ack=%d) again, with a SACK "
          "block for the segment that came early (%s)" % (who, late[0].seq, sack))
    check(late[0].label("out-of-order") and early is not None and
          early.label("previous segment lost"),
          "%s: reorder: labelled out-of-order, the one before it previous segment lost"
          % who)
    check(r.delivered(30000), "%s: reorder: every byte delivered, in order" % who)


def zero_window(r, who):
    back = r.from_receiver()
    zero = [s for s in back if s.win == "0"]
    check(len(zero) >= 1, "%s: zero-window: the receiver advertises a window of 0" % who)
    if not zero:
        return
    z = zero[0]
    update = [s for s in back if s.t > z.t and s.ack == z.ack and s.win not in ("0", None)]
    until = update[0].t if update else float("inf")
    probes = [s for s in r.to_receiver() if z.t < s.t < until and s.len <= 1 and
              s.seq is not None and s.seq in (z.ack - 1, z.ack)]
    check(len(probes) >= 1, "%s: zero-window: %d probes from the sender while it lasts"
          % (who, len(probes)))
    verify(bool(update) and update[0].t - z.t > 1.0,
           "%s: zero-window: then a window update, when the receiver reads again" % who, back)
    check(z.label("zero window") and probes and all(p.label("zero-window probe")
                                                     for p in probes) and
          update and update[0].label("window update"),
          "%s: zero-window: labelled zero window, zero-window probe, window update" % who)
    check(r.delivered(100000), "%s: zero-window: every byte delivered, in order" % who)


def mss(r, who):
    data = r.to_receiver(True)
    check(r.delivered(10000) and "in 1 send() call" in r.text("sender") and
          sum(s.len for s in data) == 10000 and len(data) == 7 and
          all(s.len <= 1448 for s in data),
          "%s: mss: one 10,000-byte send() crossed as %d segments of %s bytes"
          % (who, len(data), [s.len for s in data]))


def mss_loopback(r, who):
    data = r.to_receiver(True)
    check(r.delivered(10000) and [s.len for s in data] == [10000],
          "%s: mss-loopback: the same send() as one segment of 10,000 bytes (%s)"
          % (who, [s.len for s in data]))


def requests(r, conn):
    """Per request after the first: (the second write's segment, the
    receiver's ACK of the first write) on connection conn (the sender's
    port)."""
    out, seen = [], set()
    # A write sent again (the link, in a loaded machine, held it past the
    # sender's timer) is the same write: its first copy counts.
    data = []
    for s in r.to_receiver(True):
        if s.src == conn and s.seq not in seen:
            seen.add(s.seq)
            data.append(s)
    back = [s for s in r.from_receiver() if s.dst == conn]
    for first, second in zip(data[2::2], data[3::2]):
        ack = next((s for s in back if s.ack == first.seq + first.len), None)
        out.append((first, second, ack))
    return out


def nagle(r, who):
    conns = []
    for s in r.to_receiver():
        if s.flags == "SYN" and s.src not in conns:
            conns.append(s.src)
    # "after 500ms sender ...": the second sender on the first one's host.
    check(len(conns) == 2 and r.hosts == ["receiver", "sender"],
          "%s: nagle: two senders from one host, one after the other (hosts %s)"
          % (who, r.hosts))
    if len(conns) != 2:
        return
    held = requests(r, conns[0])
    waited = [b.t - a.t for a, b, ack in held if ack is not None and b.t >= ack.t]
    check(len(held) == 4 and sum(1 for w in waited if w >= 0.03) >= 3,
          "%s: nagle: with Nagle's algorithm the second write waits for the delayed ACK of "
          "the first: %s ms" % (who, ["%.0f" % (w * 1000) for w in waited]))
    at_once = requests(r, conns[1])
    before = sum(1 for a, b, ack in at_once if ack is None or b.t <= ack.t)
    check(len(at_once) == 4 and before >= 3,
          "%s: nagle: with TCP_NODELAY it leaves before that ACK (%d of %d)"
          % (who, before, len(at_once)))
    check(re.search(r"with Nagle's algorithm", r.text("sender")) and
          re.search(r"with TCP_NODELAY", r.text("sender")) and
          r.text("receiver").count("every byte in order") == 2,
          "%s: nagle: both senders done, every byte in order" % who)


def cuts(series):
    """The congestion window's cuts: how often it fell to 70% or less of
    the highest it had reached since the last cut, each after growing by
    5 segments or more from the lowest it had fallen to."""
    n, peak, low = 0, 0, None
    for _, c in series:
        if low is None or c < low:
            low = c
        peak = max(peak, c)
        if c <= 0.7 * peak and peak - (low if n else 0) >= 5:
            n, peak, low = n + 1, c, c
    return n


def slow_link(r, who):
    data = r.to_receiver(True)
    drops = [s for s in data if s.label("dropped-queue") or s.label("queue")]
    episodes = []
    for s in drops:
        if not episodes or s.t - episodes[-1] > 0.5:
            episodes.append(s.t)
        else:
            episodes[-1] = s.t
    check(len(episodes) >= 2,
          "%s: slow-link: %d segments dropped by the full queue, in %d episodes (slow start, "
          "then the window grown back: at least 2)" % (who, len(drops), len(episodes)))
    passed = [s for s in data if not s.dropped()]
    check(drops and all(any(p.t > d.t and p.seq <= d.seq and p.seq + p.len >= d.seq + d.len
                            for p in passed) for d in drops),
          "%s: slow-link: every dropped range sent again" % who)
    m = re.search(r"read all 1000000 bytes and closed: [\d.]+ ms after connect\(\), "
                  r"([\d.]+) Mbit/s", r.text("sender"))
    check(r.delivered(1000000) and m is not None and float(m.group(1)) <= 2.2,
          "%s: slow-link: every byte delivered, at %s Mbit/s (the link's 2 at most)"
          % (who, m.group(1) if m else "?"))
    check(len(re.findall(r"bytes sent so far; MSS 1448, cwnd \d+", r.text("sender"))) >= 3,
          "%s: slow-link: the sender's TCP_INFO lines while it sends (cwnd)" % who)
    # The sender's socket over time (TCP_INFO in socklab's sock_diag dumps).
    series = next((v for k, v in r.samples.items() if k.startswith("10.0.0.2:")), [])
    top = max((c for _, c in series), default=0)
    verify(len(series) >= 20 and top >= 20 and cuts(series) >= 2,
           "%s: slow-link: cwnd over time: slow start up to %d segments, then cut, grown "
           "back and cut again, %d times (the sawtooth)" % (who, top, cuts(series)),
           " ".join("%.2f:%d" % p for p in series[::10]))


CHECKS = [(None, default), ("syn-lost", syn_lost), ("ack-lost", ack_lost),
          ("data-lost", data_lost), ("data-lost-rto", data_lost_rto), ("reorder", reorder),
          ("zero-window", zero_window), ("mss", mss), ("mss-loopback", mss_loopback),
          ("nagle", nagle), ("slow-link", slow_link)]


def scenarios(prefix, who, tmp):
    listed = subprocess.run([SOCKLAB, "list"], stdout=subprocess.PIPE, text=True).stdout
    names = re.findall(r"^    socklab run 19 (\S+)", listed, re.M)
    check(sorted(names) == sorted(n for n, _ in CHECKS if n),
          "%s: every scenario of lesson 19 has its checks here (%s)" % (who, names))
    # The longest first, JOBS at a time.
    queue = sorted(CHECKS, key=lambda c: c[0] not in ("slow-link", "zero-window", "ack-lost"))
    results, lock = {}, threading.Lock()

    def worker():
        while True:
            with lock:
                if not queue:
                    return
                name, _ = queue.pop(0)
            results[name] = run_scenario(prefix, name, tmp, who)

    threads = [threading.Thread(target=worker) for _ in range(JOBS)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    for name, fn in CHECKS:
        r = results[name]
        ok = r.rc == 0 and r.port is not None
        check(ok, "%s: socklab run 19 %s --batch exits 0%s" %
              (who, name or "", "" if ok else ": " + r.err.strip()[-300:]))
        if ok:
            fn(r, who)


def screen(prefix, who):
    with Tmux("%s%s run 19 syn-lost" % (prefix, SOCKLAB), env={"NO_COLOR": "1"}) as t:
        s = t.wait_for(r"before socket\(", what="the first stop")
        check(s is not None and "2 hosts, link" in s,
              "%s: screen: run 19 syn-lost starts stepped, on 2 hosts and a link" % who)
        t.keys("c")
        s = t.wait_for(r"ENDED", timeout=30, what="the end of the run")
        t.keys("2")
        s = t.wait_for(r"^ +\d+\.\d+ +\|-+ SYN [^|]*-X +\| DROPPED seq=0", what="the ladder")
        rows = s.splitlines() if s else []
        drop = [r for r in rows if re.search(r"SYN [^|]*-X +\| DROPPED seq=0", r)]
        again = [r for r in rows if re.search(r"\|-+ SYN .*->\| seq=0", r)]
        t0 = float(drop[0].split()[0]) if drop else -9
        t1 = float(again[0].split()[0]) if again else -9
        check(len(drop) == 1 and len(again) == 1 and 0.8 <= t1 - t0 <= 1.5 and
              all(len(r) <= 80 for r in rows),
              "%s: screen: the ladder at 80x24 shows the SYN dropped (X) and the SYN sent "
              "again %.3f s later" % (who, t1 - t0))
        check(bool(again) and "retrans" in again[0],
              "%s: screen: the SYN sent again is labelled a retransmission" % who)


def main():
    need(SOCKLAB)
    me = "root" if os.geteuid() == 0 else "user"
    with tempfile.TemporaryDirectory() as tmp:
        os.chmod(tmp, 0o777)
        scenarios([], me, tmp)
        screen("", me)
        if can_setpriv():
            scenarios(AS_NOBODY, "nobody", tmp)
            screen(" ".join(AS_NOBODY) + " ", "nobody")


if __name__ == "__main__":
    main()
    finish()
