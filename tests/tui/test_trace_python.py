#!/usr/bin/env python3
"""test_trace_python.py — `socklab trace -- python3 echo_client.py PORT`:
the trace shim works on any dynamically linked program, here a Python
client of lesson 02's echo server (started outside socklab, on the host's
loopback). Stepped, the screen must show the client stopped before its
connect(), then its socket ESTABLISHED with the server's end, the
connect() in the calls log with its result, and, once it runs free to the
end, the client (which half-closed first) in TIME_WAIT. The segments are
captured when the test runs as root, inferred otherwise (and then marked
inferred)."""
import os
import re
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from tuilib import BUILD, SOCKLAB, Tmux, check, finish, need

HERE = os.path.dirname(os.path.abspath(__file__))
SERVER = os.path.join(BUILD, "lessons", "02-tcp-echo", "server")


def start_server():
    p = subprocess.Popen([SERVER, "-p", "0", "-n", "1"], stdout=subprocess.PIPE, text=True)
    line = p.stdout.readline()
    m = re.search(r"listening on .*:(\d+)$", line.strip())
    if m is None:
        p.kill()
        return None, None
    return p, m.group(1)


def main():
    need(SOCKLAB)
    need(SERVER)
    server, port = start_server()
    check(port is not None, "lesson 02's server is listening")
    if port is None:
        return
    try:
        # The interpreter itself, not a wrapper script around it.
        cmd = "%s trace --step -- %s %s %s" % (SOCKLAB, sys.executable,
                                                os.path.join(HERE, "echo_client.py"), port)
        with Tmux(cmd) as t:
            s = t.wait_for(r"before \w+\(", what="the first stop")
            check(s is not None and "STEPPING" in s, "the Python client starts, stopped at a call")
            seen_before_connect = False
            for _ in range(60):
                s = t.screen()
                if re.search(r"python3?[\w.]*\[\d+\] before connect\(\d+, 127\.0\.0\.1:%s\)" % port, s):
                    seen_before_connect = True
                    break
                t.keys("Space")
                time.sleep(0.3)
            check(seen_before_connect, "the client is shown stopped before connect(fd, 127.0.0.1:%s)" % port)
            t.keys("Space")
            client_end = r"^python\S*\[\d+\]\s+\d+\s+127\.0\.0\.1:\d+\s+127\.0\.0\.1:%s\s+ESTABLISHED" % port
            # The server's end comes from sock_diag, a moment after the
            # client's own report of its connect().
            server_end = r"^\(\w+\)\s+-\s+127\.0\.0\.1:%s\s+127\.0\.0\.1:\d+\s+ESTABLISHED" % port
            s = t.wait_all([client_end, server_end], what="both ends ESTABLISHED")
            check(s is not None or re.search(client_end, t.screen(), re.M) is not None,
                  "after connect() the client's socket is ESTABLISHED")
            check(s is not None, "and so is the server's end (a process socklab did not start)")
            t.keys("c")
            s = t.wait_for(r"exited with status 0", what="the client's exit")
            check(s is not None, "c lets the client run to its end (exit status 0)")
            t.keys("6")
            s = t.wait_for(r"connect\(\d+, 127\.0\.0\.1:%s\) = (0|-1 EINPROGRESS)" % port,
                           what="connect in the calls log")
            check(s is not None, "the calls log shows connect() and its result")
            t.keys("3")
            s = t.wait_for(r"^python\S*\[\d+\].*127\.0\.0\.1:%s\s+TIME_WAIT" % port, timeout=10,
                           what="TIME_WAIT")
            check(s is not None, "the client, which closed first, ends in TIME_WAIT")
            check(s is not None and "ESTABLISHED" in s, "its history shows ESTABLISHED")
            if os.geteuid() == 0:
                t.keys("2")
                t.keys("Home")
                s = t.wait_for(r"[-<] SYN[ -]", timeout=5, what="the SYN arrow")
                check(s is not None and "inferred" not in s, "as root the handshake is captured")
            t.keys("q")
    finally:
        server.kill()
        server.wait()


if __name__ == "__main__":
    main()
    finish()
