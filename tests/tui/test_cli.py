#!/usr/bin/env python3
"""test_cli.py — socklab's commands without a screen: --help and --version
everywhere, usage errors (exit 2), `socklab list`, and `--batch`, which
runs a lesson free and prints the model as text. Through --batch it checks
the three ways a lesson can run: in a private namespace as root, in one as
an ordinary user (user namespace), and on the host's loopback without a
capture, where the segments are inferred from the calls and marked so.
It also checks a scenario with "then" lines (lesson 03 timewait) and that
a recording replays to the same segments."""
import os
import re
import sys
import tempfile

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from tuilib import AS_NOBODY, SOCKLAB, can_setpriv, check, finish, need, run


def section(text, name):
    m = re.search(r"^%s\n((?:  .*\n)*)" % name, text, re.M)
    return m.group(1) if m else ""


def usage():
    r = run([SOCKLAB, "--help"])
    check(r.returncode == 0 and r.stdout.startswith("usage: socklab"), "socklab --help: exit 0")
    for cmd in ["run", "trace", "watch", "replay", "list"]:
        r = run([SOCKLAB, cmd, "--help"])
        check(r.returncode == 0 and r.stdout.startswith("usage: socklab %s" % cmd),
              "socklab %s --help: exit 0, its own usage" % cmd)
    r = run([SOCKLAB, "--version"])
    check(r.returncode == 0 and re.match(r"socklab \d+\.\d+", r.stdout), "socklab --version")
    for args, what in [(["frobnicate"], "an unknown command"), (["run"], "run without a lesson"),
                       (["run", "99"], "a lesson that does not exist"),
                       (["run", "03", "nosuch"], "a scenario that does not exist"),
                       (["run", "02", "--bogus"], "an unknown option"),
                       (["watch", "0"], "port 0 for watch"), (["watch", "70000"], "port 70000"),
                       (["trace"], "trace without a command"),
                       (["run", "02", "--batch", "--timeout", "x"], "a bad --timeout"),
                       (["list", "--batch"], "--batch with list"),
                       (["trace", "--free", "--", "true"], "--free with trace")]:
        r = run([SOCKLAB] + args)
        check(r.returncode == 2 and r.stderr.startswith("socklab: "),
              "%s: exit 2 and a message" % what)
    r = run([SOCKLAB], stdin=open(os.devnull))
    check(r.returncode == 1 and "terminal" in r.stderr, "the menu without a terminal: exit 1, says why")
    r = run([SOCKLAB, "list"])
    check(r.returncode == 0 and re.search(r"^02  ", r.stdout, re.M) and "timewait" in r.stdout,
          "socklab list shows the lessons and lesson 03's scenarios")


def run02(prefix, who, extra, want_inferred):
    r = run(prefix + [SOCKLAB, "run", "02", "--batch"] + extra, timeout=90)
    check(r.returncode == 0, "%s: run 02 --batch exits 0" % who)
    segs = section(r.stdout, "segments")
    socks = section(r.stdout, "sockets")
    inferred = segs.count("(inferred)")
    total = len(segs.splitlines())
    if want_inferred:
        check(total >= 20 and inferred == total, "%s: every segment is marked inferred" % who)
    else:
        check(total >= 20 and inferred == 0, "%s: the segments are captured, none inferred" % who)
    check(len(re.findall(r"SYN seq=0", segs)) == 2 and len(re.findall(r"FIN,ACK", segs)) == 4,
          "%s: two handshakes and four FINs" % who)
    check(len(re.findall(r"^  #\d+ client\[\d+\] \S+ \S+ TIME_WAIT timewait \d+s$", socks, re.M)) == 2,
          "%s: both clients end in TIME_WAIT, with the timer" % who)
    check(re.search(r"^  #\d+ server\[\d+\] fd 3 127\.0\.0\.1:\d+ \* LISTEN$", socks, re.M) is not None,
          "%s: the server still listens" % who)
    check("SYN_SENT -> ESTABLISHED" in socks and "CLOSE_WAIT -> LAST_ACK" in socks,
          "%s: the histories show the handshake and the passive close" % who)
    return r


def main():
    need(SOCKLAB)
    usage()
    root = os.geteuid() == 0
    run02([], "root" if root else "user", [], want_inferred=False)
    if can_setpriv():
        run02(AS_NOBODY, "nobody, own namespace", [], want_inferred=False)
        run02(AS_NOBODY, "nobody, host lo", ["--no-netns"], want_inferred=True)
    r = run([SOCKLAB, "run", "03", "timewait", "--batch"], timeout=90)
    procs = section(r.stdout, "processes")
    check(r.returncode == 0 and re.search(r"rebind\[\d+\] exited 1", procs) and
          re.search(r"rebind\[\d+\] exited 0", procs),
          "03 timewait: after the runs, rebind fails, rebind -r succeeds")
    check(re.search(r"^  #\d+ server\[\d+\] \S+ \S+ TIME_WAIT", section(r.stdout, "sockets"), re.M)
          is not None, "03 timewait: the server (the active closer) holds TIME_WAIT")
    with tempfile.TemporaryDirectory() as tmp:
        rec = os.path.join(tmp, "s.rec")
        live = run([SOCKLAB, "run", "02", "--batch", "--record", rec], timeout=90)
        again = run([SOCKLAB, "replay", rec, "--batch"])
        check(live.returncode == 0 and again.returncode == 0 and
              section(live.stdout, "segments") == section(again.stdout, "segments") and
              len(section(live.stdout, "segments")) > 0,
              "a recorded session replays to the same segments")
        r = run([SOCKLAB, "run", "02", "--batch", "--record", os.path.join(tmp, "no", "dir")])
        check(r.returncode == 1 and "record" in r.stderr, "--record to a folder that does not exist: exit 1")


if __name__ == "__main__":
    main()
    finish()
