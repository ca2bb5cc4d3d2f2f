#!/usr/bin/env python3
"""test_loadgen.py — the load generator counts what it says and catches a
server that gets an echo wrong.

Against small Python servers on 127.0.0.1, port 0, each one misbehaving in
one known way, loadgen must:
  - with a correct echo server, at 1 connection (its blocking path) and at
    10 (its epoll loop), finish -n COUNT with exactly COUNT messages and
    every connection served (fairness: none starved);
  - with replies that trickle back one byte at a time, still put each
    reply together whole;
  - exit 1 naming the byte, when one reply byte differs;
  - exit 1 when the server closes a connection in the middle of a run;
  - in redis mode, accept "+PONG\\r\\n" for "PING\\r\\n";
  - in HTTP mode, read answers by their head and Content-Length (the head
    and body cut anywhere), count exactly, and exit 1 on a body that
    differs from the first answer's, a status other than 200, or
    "Connection: close";
  - hold -i idle connections beside the busy ones, and exit 1 when the
    server closes one of them.
Every run is bounded by -n and by a timeout here."""
import os
import re
import socket
import subprocess
import sys
import threading
import time

BUILD = os.environ.get("SOCKLAB_BUILD", "build")
LOADGEN = os.path.join(BUILD, "bench", "loadgen")
failures = 0
checks = 0


def check(cond, what, detail=""):
    global failures, checks
    checks += 1
    if cond:
        print("ok   " + what)
    else:
        failures += 1
        print("FAIL " + what)
        if detail:
            print("\n".join("    | " + l for l in detail.splitlines()[-15:]))


class Server:
    """A threaded TCP server on 127.0.0.1:0; handler(conn) serves one
    connection."""

    def __init__(self, handler):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.handler = handler
        self.conns = []
        threading.Thread(target=self.accept_loop, daemon=True).start()

    def accept_loop(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(c)
            threading.Thread(target=self.serve, args=(c,), daemon=True).start()

    def serve(self, c):
        try:
            self.handler(c)
        except OSError:
            pass
        finally:
            c.close()

    def close(self):
        self.sock.close()
        for c in self.conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def echo(c):
    while True:
        b = c.recv(65536)
        if not b:
            return
        c.sendall(b)


def trickle(c):
    while True:
        b = c.recv(65536)
        if not b:
            return
        for i in range(len(b)):
            c.sendall(b[i:i + 1])


def corrupt_at(n):
    """Echo, but flip one bit of the n-th byte this connection sends back."""
    def handler(c):
        sent = 0
        while True:
            b = bytearray(c.recv(65536))
            if not b:
                return
            if sent <= n < sent + len(b):
                b[n - sent] ^= 0x20
            sent += len(b)
            c.sendall(bytes(b))
    return handler


def close_after(n):
    """Echo n requests' worth of bytes (64 each), then close."""
    def handler(c):
        got = 0
        while got < n * 64:
            b = c.recv(min(65536, n * 64 - got))
            if not b:
                return
            got += len(b)
            c.sendall(b)
    return handler


def pong(c):
    buf = b""
    while True:
        b = c.recv(65536)
        if not b:
            return
        buf += b
        while b"\r\n" in buf:
            line, buf = buf.split(b"\r\n", 1)
            c.sendall(b"+PONG\r\n" if line == b"PING" else b"-ERR\r\n")


def http_server(body=b"hello, http\n", bad_at=None, status=200, close=False):
    """Answer every GET with body; the bad_at-th answer (counting from 0,
    after the reference) gets one byte changed. Answers are written a few
    bytes at a time, so the head and the body arrive in pieces."""
    count = [0]

    def handler(c):
        buf = b""
        while True:
            b = c.recv(65536)
            if not b:
                return
            buf += b
            while b"\r\n\r\n" in buf:
                _, buf = buf.split(b"\r\n\r\n", 1)
                n = count[0]
                count[0] += 1
                data = bytearray(body)
                if bad_at is not None and n == bad_at + 1:
                    data[len(data) // 2] ^= 0x20
                head = ("HTTP/1.1 %d X\r\nContent-Length: %d\r\n%s\r\n"
                        % (status if n > 0 else 200, len(data),
                           "Connection: close\r\n" if close and n > 0 else "")).encode()
                out = head + bytes(data)
                for i in range(0, len(out), 7):
                    c.sendall(out[i:i + 7])
    return handler


def loadgen(port, *args):
    cmd = [LOADGEN, "-p", str(port), "-w", "0", "-d", "0", "-T", "20"] + list(args)
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired as e:
        return 124, (e.stdout or "") + (e.stderr or "") if isinstance(e.stdout, str) else "timed out"
    return r.returncode, r.stdout + r.stderr


def result(out):
    m = re.search(r"^result (.*)$", out, re.M)
    return dict(kv.split("=", 1) for kv in m.group(1).split()) if m else {}


def main():
    if not os.access(LOADGEN, os.X_OK):
        print("FAIL %s is not built (make)" % LOADGEN)
        return 1

    with Server(echo) as s:
        for conns, count in [(1, 3000), (10, 5000)]:
            rc, out = loadgen(s.port, "-c", str(conns), "-n", str(count))
            r = result(out)
            check(rc == 0 and r.get("msgs") == str(count) and r.get("conns") == str(conns),
                  "echo, %d connection%s: exit 0, exactly %d messages counted"
                  % (conns, "" if conns == 1 else "s", count), out)
            check(r.get("starved") == "0" and int(r.get("min_conn", "0")) > 0,
                  "echo, %d connection%s: every connection got replies" %
                  (conns, "" if conns == 1 else "s"), out)
        rc, out = loadgen(s.port, "-c", "3", "-n", "300", "-s", "5000")
        check(rc == 0 and result(out).get("msgs") == "300",
              "echo, 5000-byte messages: every reply put together and checked", out)

        # The runs above made 1 + 10 + 3 connections; the accepting thread
        # may still lag behind the kernel for the last of them: count from
        # when it has them all, or this run's would be counted short.
        deadline = time.time() + 10
        while len(s.conns) < 14 and time.time() < deadline:
            time.sleep(0.05)
        before = len(s.conns)
        rc, out = loadgen(s.port, "-c", "2", "-i", "50", "-n", "1000")
        r = result(out)
        deadline = time.time() + 10
        while len(s.conns) - before < 52 and time.time() < deadline:
            time.sleep(0.05)  # the accepting thread may lag behind the kernel
        check(rc == 0 and r.get("msgs") == "1000" and r.get("idle") == "50" and
              len(s.conns) - before == 52, "echo, 2 busy and 50 idle connections: all 52 "
              "made, 1000 messages on the busy ones (%d accepted)" % (len(s.conns) - before), out)

    with Server(trickle) as s:
        for conns in (1, 4):
            rc, out = loadgen(s.port, "-c", str(conns), "-n", "200")
            check(rc == 0 and result(out).get("msgs") == "200",
                  "replies one byte at a time, %d connection%s: still whole and right"
                  % (conns, "" if conns == 1 else "s"), out)

    for conns in (1, 5):
        with Server(corrupt_at(64 * 7 + 10)) as s:
            rc, out = loadgen(s.port, "-c", str(conns), "-n", "100000")
            check(rc == 1 and re.search(r"reply 7 differs at byte 10: got 0x.., expected 0x..", out),
                  "a wrong byte, %d connection%s: exit 1, says which reply and byte"
                  % (conns, "" if conns == 1 else "s"), out)

    for conns in (1, 3):
        with Server(close_after(50)) as s:
            rc, out = loadgen(s.port, "-c", str(conns), "-n", "100000")
            # "closed it after 50 replies", or a reset "after 50 replies"
            # when request 51 reached the closed socket first.
            check(rc == 1 and re.search(r"connection \d+: (the server closed it|recv) after 50 replies", out),
                  "the server closes mid-run, %d connection%s: exit 1, after 50 replies"
                  % (conns, "" if conns == 1 else "s"), out)

    first = []

    def only_first(c):
        """Echo on the first connection; close every later one at once."""
        if first:
            return
        first.append(c)
        echo(c)

    with Server(only_first) as s:
        rc, out = loadgen(s.port, "-c", "1", "-i", "3", "-d", "10")
        check(rc == 1 and re.search(r"idle connection \d: the server closed it", out),
              "the server closes an idle connection: exit 1, says so", out)

    with Server(pong) as s:
        rc, out = loadgen(s.port, "-c", "2", "-n", "1000", "-m", "redis")
        check(rc == 0 and result(out).get("msgs") == "1000" and result(out).get("mode") == "redis",
              "redis mode: PING answered by +PONG, 1000 messages", out)

    with Server(echo) as s:
        rc, out = loadgen(s.port, "-c", "2", "-n", "100", "-m", "redis")
        check(rc == 1 and "differs at byte 0" in out,
              "redis mode against an echo server: exit 1 (PING is not +PONG)", out)

    with Server(http_server(body=bytes(range(256)) * 20)) as s:
        for conns in (1, 4):
            rc, out = loadgen(s.port, "-c", str(conns), "-n", "500", "-m", "http", "-u", "/x")
            r = result(out)
            check(rc == 0 and r.get("msgs") == "500" and r.get("mode") == "http" and
                  r.get("size") == "5120",
                  "http mode, %d connection%s: 500 answers of 5120 bytes, read in pieces"
                  % (conns, "" if conns == 1 else "s"), out)
    with Server(http_server(bad_at=20)) as s:
        rc, out = loadgen(s.port, "-c", "1", "-n", "500", "-m", "http")
        check(rc == 1 and "body differs" in out, "http mode, a body byte changed: exit 1", out)
    with Server(http_server(status=404)) as s:
        rc, out = loadgen(s.port, "-c", "2", "-n", "500", "-m", "http")
        check(rc == 1 and "is not 200" in out, "http mode, a 404: exit 1", out)
    with Server(http_server(close=True)) as s:
        rc, out = loadgen(s.port, "-c", "2", "-n", "500", "-m", "http")
        check(rc == 1 and "no close" in out, "http mode, Connection: close: exit 1", out)

    rc, out = loadgen(1, "-n", "0", "-d", "0")
    check(rc == 2 and "give a duration (-d) or a count (-n)" in out,
          "neither -d nor -n: usage error, exit 2", out)

    print("%d checks, %d failed" % (checks, failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
