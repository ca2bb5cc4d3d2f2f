#!/usr/bin/env python3
"""test_trace_any.py — `socklab trace` of a program socklab did not write,
here a Python client the test writes, against lesson 02's server on the
host's loopback:

- free-running (not stepped), a client that connects, talks and closes
  within milliseconds still shows its handshake on the ladder (SYN,
  SYN,ACK, ACK) and ESTABLISHED in its socket's history; in --batch each
  of its ten segments is there exactly once (the capture takes every TCP
  segment from the start and keeps those of ports learnt later);
- stepped, through a wrapper script that forks twice before it execs
  python3 (as pyenv's shims do; python3 may be one itself), the first stop
  is the script's socket(), not a fork() of the wrapper; --all-stops
  stops at the wrapper's fork() first;
- the trace socket takes only the session's programs: a connection from
  uid 65534 that says it is a process "EVIL[31337]" with a socket to
  10.9.9.9 is refused and counted on the status line, none of it shows,
  and stepping goes on; 100 connections from a process outside the
  session (root, like socklab) are refused too, and the real client's
  calls and segments all show.
The captured segments need root; otherwise they are inferred and the
checks of the wire are left out, saying so."""
import os
import re
import socket
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from tuilib import AS_NOBODY, BUILD, SOCKLAB, Tmux, can_setpriv, check, finish, need, run

SERVER = os.path.join(BUILD, "lessons", "02-tcp-echo", "server")
ROOT = os.geteuid() == 0

CLIENT = r"""
import os, socket, sys, time
port = int(sys.argv[1])
# With a second argument: wait until that file exists (the test's cue).
while len(sys.argv) > 2 and not os.path.exists(sys.argv[2]):
    time.sleep(0.02)
s = socket.create_connection(("127.0.0.1", port))
s.sendall(b"hello from python\n")
s.shutdown(socket.SHUT_WR)
while s.recv(4096):
    pass
s.close()
"""

# As pyenv's shims do: a command substitution or two (each a fork), then
# exec the interpreter with the same arguments.
WRAPPER = """#!/bin/sh
here=$(pwd)
name=$(basename "$0")
exec python3 "$@"
"""

EVIL = r"""
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.connect("\0" + sys.argv[1])
try:
    s.send(b"v1 ph=hello pid=31337 tid=31337 ppid=1 exe=EVIL step=0")
    s.send(b"v1 ph=after seq=1 pid=31337 tid=31337 call=connect fd=3 ret=0 "
           b"local=10.9.9.9:1 peer=10.9.9.9:2 state=ESTABLISHED")
    s.settimeout(5)
    got = s.recv(100)
    print("closed" if got == b"" else "got %r" % got)
except (ConnectionResetError, BrokenPipeError):
    print("closed")
except socket.timeout:
    print("still open")
"""


def start_server():
    p = subprocess.Popen([SERVER, "-p", "0"], stdout=subprocess.PIPE, text=True)
    m = re.search(r"listening on .*:(\d+)$", p.stdout.readline().strip())
    if m is None:
        p.kill()
        p.wait()
        return None, None
    return p, m.group(1)


def pane_socklab(t):
    """socklab's pid, under the tmux pane's shell."""
    shell = t._tmux("display-message", "-p", "#{pane_pid}").stdout.strip()
    r = run(["pgrep", "-P", shell, "-x", "socklab"])
    pids = r.stdout.split()
    return int(pids[0]) if pids else None


def trace_name(pid):
    """The abstract name socklab listens on for the shim ("socklab-PID-N")."""
    with open("/proc/net/unix") as f:
        for line in f:
            m = re.search(r"@(socklab-%d-\d+)$" % pid, line.strip())
            if m:
                return m.group(1)
    return None


def free_running(tmp, port, client):
    cmd = "%s trace -- %s %s %s" % (SOCKLAB, sys.executable, client, port)
    with Tmux(cmd) as t:
        s = t.wait_for(r"exited with status 0", what="the client's end")
        check(s is not None, "trace, not stepped: the client runs to its end (status 0)")
        t.keys("2")
        t.keys("Home")
        s = t.wait_all([r"\|-+ SYN[ -]", r"\|<-+ SYN,ACK[ -]", r"^\s*[\d.]+\s+\|-+ ACK -+>\|"],
                       what="the handshake on the ladder")
        check(s is not None, "the ladder shows SYN, SYN,ACK and ACK")
        if s is not None:
            order = [m.group(1) for m in re.finditer(r"\|<?-+ (SYN,ACK|SYN|ACK) ", s)][:3]
            check(order == ["SYN", "SYN,ACK", "ACK"], "in that order, first (%s)" % order)
            check(ROOT == ("inferred" not in s),
                  "captured as root, inferred otherwise (root: %s)" % ROOT)
        t.keys("3")
        s = t.wait_for(r"SYN_SENT > ESTABLISHED", what="ESTABLISHED in the history")
        check(s is not None, "the client's socket history shows SYN_SENT > ESTABLISHED")
        t.keys("q")
    if not ROOT:
        print("skip: each segment once (no capture without root: the segments are inferred)")
        return
    r = run([SOCKLAB, "trace", "--batch", "--", sys.executable, client, port], timeout=60)
    segs = re.findall(r"^  [\d.]+ \S+ > \S+ (\S+) ", r.stdout.split("segments", 1)[-1], re.M)
    check(r.returncode == 0 and segs[:3] == ["SYN", "SYN,ACK", "ACK"] and
          segs.count("SYN") == 1 and segs.count("SYN,ACK") == 1 and segs.count("FIN,ACK") == 2
          and len(segs) == 10,
          "--batch: the ten segments of the connection, each once, handshake first (%s)" % segs)


def stepped_wrapper(tmp, port, client):
    wrapper = os.path.join(tmp, "python3-wrapper")
    with open(wrapper, "w") as f:
        f.write(WRAPPER)
    os.chmod(wrapper, 0o755)
    cmd = "%s trace --step -- %s %s %s" % (SOCKLAB, wrapper, client, port)
    with Tmux(cmd) as t:
        s = t.wait_for(r"before \w+\(", what="the first stop")
        first = re.search(r"before (\w+)\(", s or "")
        check(first is not None and first.group(1) == "socket",
              "stepped through a wrapper that forks: the first stop is socket() (%s)" %
              (first.group(1) if first else None))
        t.keys("6")
        s = t.wait_for(r"fork\(\) = \d+", what="the wrapper's forks in the calls log")
        check(s is not None, "the wrapper's fork() calls are in the calls log, not stopped at")
        t.keys("q")
    cmd = "%s trace --step --all-stops -- %s %s %s" % (SOCKLAB, wrapper, client, port)
    with Tmux(cmd) as t:
        s = t.wait_for(r"before \w+\(", what="the first stop")
        first = re.search(r"before (\w+)\(", s or "")
        check(first is not None and first.group(1) == "fork",
              "with --all-stops the first stop is the wrapper's fork() (%s)" %
              (first.group(1) if first else None))
        t.keys("q")


def strangers(tmp, port, client):
    cmd = "%s trace --step -- %s %s %s" % (SOCKLAB, sys.executable, client, port)
    with Tmux(cmd) as t:
        s = t.wait_for(r"before socket\(", what="the client stopped at socket()")
        pid = pane_socklab(t)
        name = trace_name(pid) if pid else None
        check(s is not None and name is not None, "the client is stopped at socket(); "
              "socklab listens on @%s" % name)
        if name is None:
            return
        if can_setpriv():
            evil = os.path.join(tmp, "evil.py")
            with open(evil, "w") as f:
                f.write(EVIL)
            r = run(AS_NOBODY + [sys.executable, evil, name], timeout=30)
            check(r.stdout.strip() == "closed",
                  "a connection from uid 65534 is closed by socklab (%s %s)" %
                  (r.stdout.strip(), r.stderr.strip()[-200:]))
            s = t.wait_for(r"1 refused", what="the refusal on the status line")
            check(s is not None, "the status line counts it: 1 refused")
            check(s is not None and "31337" not in s and "EVIL" not in s and "10.9.9.9" not in s,
                  "nothing it sent shows")
            t.keys("Space")
            s = t.wait_for(r"before connect\(", what="the next stop")
            check(s is not None, "stepping goes on: space takes the client to connect()")
        else:
            print("skip: the uid 65534 connection (needs root and setpriv)")
        t.keys("q")
    # 100 strangers of socklab's own uid, then the real client.
    flag = os.path.join(tmp, "go")
    cmd = "%s trace -- %s %s %s %s" % (SOCKLAB, sys.executable, client, port, flag)
    with Tmux(cmd) as t:
        deadline = time.time() + 10
        name = None
        while name is None and time.time() < deadline:
            pid = pane_socklab(t)
            name = trace_name(pid) if pid else None
            time.sleep(0.05)
        held = []
        for _ in range(100):
            c = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            try:
                c.connect("\0" + (name or "none"))
                c.send(b"v1 ph=hello pid=31337 tid=31337 ppid=1 exe=EVIL step=0")
            except OSError:
                pass
            held.append(c)
        s = t.wait_for(r"100 refused", what="100 refusals")
        check(s is not None, "100 connections from outside the session are refused and counted")
        open(flag, "w").close()
        s = t.wait_for(r"exited with status 0", what="the client's end")
        check(s is not None, "the real client runs to its end meanwhile")
        t.keys("6")
        s = t.wait_for(r"connect\(\d+, 127\.0\.0\.1:%s\) = 0" % port, what="its connect()")
        check(s is not None and "EVIL" not in s, "its calls show, and none of the strangers'")
        t.keys("2")
        t.keys("Home")
        s = t.wait_for(r"\|-+ SYN[ -]", what="its SYN")
        check(s is not None, "and its segments")
        for c in held:
            c.close()
        t.keys("q")


def main():
    need(SOCKLAB)
    need(SERVER)
    server, port = start_server()
    check(port is not None, "lesson 02's server is listening")
    if port is None:
        return
    try:
        with tempfile.TemporaryDirectory() as tmp:
            os.chmod(tmp, 0o755)   # uid 65534 runs a script from here
            client = os.path.join(tmp, "client.py")
            with open(client, "w") as f:
                f.write(CLIENT)
            os.chmod(client, 0o644)
            free_running(tmp, port, client)
            stepped_wrapper(tmp, port, client)
            strangers(tmp, port, client)
    finally:
        server.kill()
        server.wait()


if __name__ == "__main__":
    main()
    finish()
