#!/usr/bin/env python3
"""echo_client.py PORT [MESSAGE] — a small Python client for lesson 02's echo
server, used by the screen tests to show that `socklab trace` works on a
program that is not C: connect to 127.0.0.1:PORT, send MESSAGE and a
newline, half-close (shutdown SHUT_WR) so the server sees EOF, read the
echo until the server closes, print it. Exits 0 when the echo matched."""
import socket
import sys


def main():
    if len(sys.argv) not in (2, 3):
        print("usage: echo_client.py PORT [MESSAGE]", file=sys.stderr)
        return 2
    port = int(sys.argv[1])
    message = (sys.argv[2] if len(sys.argv) == 3 else "hello from python") + "\n"
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(message.encode())
        s.shutdown(socket.SHUT_WR)
        echo = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            echo += chunk
    print(echo.decode(), end="")
    return 0 if echo.decode() == message else 1


if __name__ == "__main__":
    sys.exit(main())
