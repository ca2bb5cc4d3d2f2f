#!/usr/bin/env python3
"""test_link.py — socklab's hosts and the link between them, measured on
real kernels (the engine's exact behaviour is tests/unit/test_link.c):

- no impairment: every frame passes, in order (no retransmission, no
  segment marked), and every byte arrives;
- delay=50ms one way: the client's smoothed RTT (TCP_INFO) is 100 +- 10 ms;
- rate=2mbit: a bulk transfer runs at 2 Mbit/s +- 10%;
- loss=10%,seed=S over 10,000 frames: 10 +- 1.5 % dropped, the same
  frames on a second run with the same seed;
- drop=syn:1 on lesson 02 (socklab run 02 --link): the first SYN marked
  dropped, the same SYN again 0.8 to 1.5 s later; the pcapng file holds
  every segment once, the dropped one with a comment that says so; the
  recording replays to the same segments and fates;
- three hosts, IPv6 ({NAME6}) and mtu=9000 (MSS 8960);
- a lesson.conf scenario with link lines runs on hosts by itself, and
  "@NAME" puts a program on host NAME;
- where no namespace can be made, --hosts says why and exits 1; bad
  --link settings are usage errors (exit 2).

The programs are tests/progs/link_peer (it measures and writes what it
measured to a file) and lesson 02's. As root, and as uid 65534 where the
checkout allows (the runs marked so)."""
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import pcapng
from pcapng import SYN
from tuilib import AS_NOBODY, BUILD, SOCKLAB, can_setpriv, check, finish, need, run

PEER = os.path.join(BUILD, "tests", "progs", "link_peer")
SEG = re.compile(r"^  (\d+\.\d+) (\S+) > (\S+) (\S+) seq=(\d+)(?: ack=\d+)?(?: win=\d+)?"
                 r"(?: len=(\d+))?.*?(?: \[([a-z-]+)\])?$", re.M)


def segments(text):
    """[(t, src, dst, flags, seq, len, fate)] of a --batch dump."""
    return [(float(m[0]), m[1], m[2], m[3], int(m[4]), int(m[5] or 0), m[6] or "passed")
            for m in SEG.findall(text)]


def values(path):
    with open(path) as f:
        return {k: float(v) for k, v in re.findall(r"(\w+)=([\d.]+)", f.read())}


def peers(prefix, tmp, tag, link, server_args, client_args, timeout=60, extra=()):
    """Run link_peer server and client on two hosts through the link;
    returns (socklab's result, server's numbers, client's numbers)."""
    s_out, c_out = os.path.join(tmp, tag + ".server"), os.path.join(tmp, tag + ".client")
    cmd = prefix + [SOCKLAB, "trace", "--batch", "--timeout", str(timeout - 10)] + list(extra)
    cmd += ["--link", link] if link else ["--hosts"]
    cmd += ["--", PEER, "server", "-b", "{server}", "-o", s_out] + server_args
    cmd += ["--", PEER, "client", "-b", "{server}", "-p", "{port}", "-o", c_out] + client_args
    r = run(cmd, timeout=timeout)
    if r.returncode != 0:
        print(r.stderr)
        return r, {}, {}
    return r, values(s_out), values(c_out)


def no_impairment(prefix, who, tmp):
    pcap = os.path.join(tmp, who + "-plain.pcapng")
    r, srv, _ = peers(prefix, tmp, who + "-plain", None, [], ["-n", "2000000"],
                      extra=["--pcap", pcap])
    segs = segments(r.stdout)
    data = [s for s in segs if s[2].startswith("10.0.0.1:") and s[5] > 0]
    check(r.returncode == 0 and srv.get("bytes") == 2000000,
          "%s: no impairment: 2,000,000 bytes from host client to host server (%s)"
          % (who, srv.get("bytes")))
    check(len(segs) > 1000 and all(s[6] == "passed" for s in segs),
          "%s: every one of the %d segments passed the link (no fate marked)" % (who, len(segs)))
    # The file is written as frames leave the link, the model's list as
    # they reach it: the same order, frame for frame.
    try:
        frames = [pcapng.tcp(f) for _, f, _ in pcapng.read(pcap)[1]]
    except (OSError, ValueError) as e:
        frames = []
        print("pcapng: %s" % e)
    left = [(t[0].split(":")[-1], t[1].split(":")[-1], t[5]) for t in frames if t is not None]
    came = [(s[1].split(":")[-1], s[2].split(":")[-1], s[5]) for s in segs]
    check(len(came) > 1000 and left == came,
          "%s: in order: the %d segments left the link in the order they reached it"
          % (who, len(came)))
    check(all(s[5] <= 1448 for s in data) and any(s[5] == 1448 for s in data),
          "%s: segments of at most 1448 bytes (eth0 MTU 1500)" % who)


def delay(prefix, who, tmp):
    r, _, cli = peers(prefix, tmp, who + "-delay", "delay=50ms", ["-e"], ["-r", "10"])
    rtt = cli.get("rtt_us", 0) / 1000
    # On a machine too busy to wake socklab on time, the frames leave
    # late and socklab says by how much on average; a round trip crosses
    # the link twice. (Here, under make test, 0 to 10 ms.)
    m = re.search(r"left ([\d.]+) ms after their time on average", r.stderr)
    late = float(m.group(1)) if m else 0.0
    check(r.returncode == 0 and 90 <= rtt <= 110 + 2 * late,
          "%s: delay=50ms each way: smoothed RTT %.1f ms (100 +- 10%s)"
          % (who, rtt, ", + 2 x %.1f ms the busy machine made the link late" % late if m else ""))


def rate(prefix, who, tmp):
    r, srv, _ = peers(prefix, tmp, who + "-rate", "rate=2mbit", [], ["-n", "250000"])
    mbit = srv["bytes"] * 8 / srv["secs"] / 1e6 if srv.get("secs") else 0
    check(r.returncode == 0 and 1.8 <= mbit <= 2.2,
          "%s: rate=2mbit: a bulk transfer at %.3f Mbit/s (2 +- 10%%)" % (who, mbit))


def lost(prefix, who, tmp, run_no):
    """The ordinals of the frames towards the server that were lost, and
    how many frames went that way."""
    r, srv, _ = peers(prefix, tmp, "%s-loss%d" % (who, run_no), "loss=10%,seed=11", [],
                      ["-n", "14500000"], timeout=90)
    towards = [s for s in segments(r.stdout) if s[2].startswith("10.0.0.1:")]
    check(r.returncode == 0 and srv.get("bytes") == 14500000,
          "%s: loss=10%% run %d: every byte still arrives (TCP retransmits)" % (who, run_no))
    return [i for i, s in enumerate(towards) if s[6] == "dropped-loss"], len(towards)


def loss(prefix, who, tmp):
    a, na = lost(prefix, who, tmp, 1)
    b, nb = lost(prefix, who, tmp, 2)
    share = 100 * len(a) / na if na else 0
    check(na >= 10000 and 8.5 <= share <= 11.5,
          "%s: loss=10%%: %d of %d frames towards the server dropped, %.2f%% (10 +- 1.5)"
          % (who, len(a), na, share))
    common = min(na, nb)
    check(common > 0 and [i for i in a if i < common] == [i for i in b if i < common],
          "%s: the same seed dropped the same frames on both runs (the first %d)"
          % (who, common))


def drop_syn(prefix, who, tmp):
    pcap, rec = os.path.join(tmp, who + ".pcapng"), os.path.join(tmp, who + ".rec")
    r = run(prefix + [SOCKLAB, "run", "02", "--batch", "--link", "to=server,drop=syn:1",
                      "--pcap", pcap, "--record", rec], timeout=60)
    check(r.returncode == 0, "%s: socklab run 02 --link to=server,drop=syn:1 exits 0" % who)
    if r.returncode != 0:
        print(r.stderr)
        return
    segs = segments(r.stdout)
    syns = [s for s in segs if s[3] == "SYN"]
    first = syns[0] if syns else None
    again = [s for s in syns[1:] if first and s[1] == first[1]]
    check(first is not None and first[6] == "dropped-rule" and
          all(s[6] == "passed" for s in syns[1:]),
          "%s: the first SYN marked dropped, no other" % who)
    check(len(again) == 1 and 0.8 <= again[0][0] - first[0] <= 1.5,
          "%s: the kernel sent that SYN again %.2f s later (0.8 to 1.5)"
          % (who, again[0][0] - first[0] if again else -1))
    try:
        linktype, frames = pcapng.read(pcap)
    except (OSError, ValueError) as e:
        check(False, "%s: the pcapng file reads back (%s)" % (who, e))
        return
    tcp = [(pcapng.tcp(f), c) for _, f, c in frames if pcapng.tcp(f) is not None]
    dropped = [t for t, c in tcp if c and "dropped" in c]
    check(linktype == 1 and len(tcp) == len(segs),
          "%s: the pcapng file holds every segment once (%d, socklab counted %d)"
          % (who, len(tcp), len(segs)))
    check(len(dropped) == 1 and dropped[0][2] == SYN and
          all(c is None for t, c in tcp if t is not dropped[0]),
          "%s: the dropped SYN, and only it, carries a comment (%s)"
          % (who, [c for _, c in tcp if c]))
    r2 = run([SOCKLAB, "replay", rec, "--batch"], timeout=30)
    check(r2.returncode == 0 and segments(r2.stdout) == segs,
          "%s: the replay shows the same segments with the same fates" % who)


def three_hosts(tmp):
    srv, cli = (os.path.join(BUILD, "lessons", "02-tcp-echo", p) for p in ("server", "client"))
    r = run([SOCKLAB, "trace", "--batch", "--link", "mtu=9000", "--", srv, "-b", "::", "-p", "0",
             "-n", "2", "--", "@alice", cli, "-b", "{server}", "-p", "{port}", "hi", "--",
             "@bob", cli, "-b", "{server6}", "-p", "{port}", "hello"], timeout=60)
    segs = segments(r.stdout)
    check(r.returncode == 0 and
          any(s[1].startswith("10.0.0.2:") and s[2].startswith("10.0.0.1:") for s in segs) and
          any(s[1].startswith("[fd00::3]:") and s[2].startswith("[fd00::1]:") for s in segs),
          "three hosts: alice (10.0.0.2) over IPv4, bob ([fd00::3]) over IPv6 to the server")
    check(re.search(r"^  \S+ 10\.0\.0\.2:\d+ > \S+ SYN seq=0 win=\d+ <mss 8960,", r.stdout, re.M)
          and re.search(r"^  \S+ \[fd00::3\]:\d+ > \S+ SYN seq=0 win=\d+ <mss 8940,", r.stdout,
                        re.M),
          "mtu=9000: the SYNs offer MSS 8960 (IPv4) and 8940 (IPv6)")


SCENARIOS = """title = The iterative TCP echo server, on hosts
programs = server client
run = server -b {server} -p 0
run = client -b {server} -p {port} hello
scenario.lost.title = the client's first data segment is lost
scenario.lost.link = to=server,drop=data:1
scenario.lost.link = delay=5ms
scenario.lost.run = server -b {server} -p 0 -n 1
scenario.lost.run = @laptop client -b {server} -p {port} hello
"""


def scenario(tmp):
    """A lesson scenario with link lines runs on hosts by itself, with its
    settings; @NAME names a client's host."""
    home = os.path.join(tmp, "home")
    os.makedirs(os.path.join(home, "lessons", "02-tcp-echo"))
    with open(os.path.join(home, "lessons", "02-tcp-echo", "lesson.conf"), "w") as f:
        f.write(SCENARIOS)
    r = run([SOCKLAB, "run", "02", "lost", "--batch"], timeout=60,
            env=dict(os.environ, SOCKLAB_HOME=home))
    segs = segments(r.stdout)
    data = [s for s in segs if s[2].startswith("10.0.0.1:") and s[5] > 0]
    check(r.returncode == 0 and len(data) >= 2 and data[0][6] == "dropped-rule" and
          data[1][4] == data[0][4] and data[1][6] == "delayed",
          "scenario.lost.link: on hosts without --hosts; the first data segment dropped, "
          "sent again by the kernel, delayed 5 ms the second time (%s)"
          % [(s[3], s[4], s[5], s[6]) for s in data[:2]])
    check(re.search(r"^  #\d+ client\[\d+\] 10\.0\.0\.2:\d+ 10\.0\.0\.1:\d+ ", r.stdout, re.M)
          is not None, "@laptop: the client runs on a host of its own, 10.0.0.2")


def refusals(tmp):
    r = run([SOCKLAB, "run", "02", "--batch", "--link", "loss=2"])
    check(r.returncode == 2 and "loss=2" in r.stderr, "--link loss=2 (no %): exit 2, says why")
    r = run([SOCKLAB, "run", "02", "--batch", "--hosts", "--no-netns"])
    check(r.returncode == 2, "--hosts with --no-netns: exit 2")
    r = run([SOCKLAB, "run", "02", "--batch", "--link", "to=nobody,loss=1%"])
    check(r.returncode == 1 and "no such host" in r.stderr,
          "--link to=HOST names a host that is not there: exit 1, the hosts listed")
    if shutil.which("unshare") is None:
        print("skip: no unshare(1): the refused namespace is not tried")
        return
    # A user namespace of our own where no network namespace may be made.
    r = run(["unshare", "-U", "-r", "sh", "-c", "echo 0 > /proc/sys/user/max_net_namespaces "
             "&& exec \"$0\" run 02 --batch --hosts", SOCKLAB])
    check(r.returncode == 1 and "--hosts needs a network namespace" in r.stderr and
          "max_net_namespaces" in r.stderr,
          "no namespace to be had: --hosts says why and exits 1 (%r)" % r.stderr.strip())


def main():
    need(SOCKLAB)
    need(PEER)
    with tempfile.TemporaryDirectory() as tmp:
        os.chmod(tmp, stat.S_IRWXU | stat.S_IRWXG | stat.S_IRWXO)
        me = "root" if os.geteuid() == 0 else "user"
        no_impairment([], me, tmp)
        delay([], me, tmp)
        rate([], me, tmp)
        loss([], me, tmp)
        drop_syn([], me, tmp)
        three_hosts(tmp)
        scenario(tmp)
        refusals(tmp)
        if can_setpriv():
            no_impairment(AS_NOBODY, "nobody", tmp)
            delay(AS_NOBODY, "nobody", tmp)
            drop_syn(AS_NOBODY, "nobody", tmp)


if __name__ == "__main__":
    main()
    finish()
