#!/usr/bin/env python3
"""peer.py — the two ends of each capture (see README.md). Not used when
the tests run.

  peer.py offload IFNAME                  tx checksum, TSO and GSO off
  peer.py server PORTFILE [RCVBUF PAUSE]  accept one client, (wait PAUSE s,)
                                          read to EOF, close
  peer.py send ADDR PORTFILE BYTES [PAUSE] connect, send BYTES, (wait
                                          PAUSE s,) shut down the write
                                          side, read to EOF
  peer.py idle ADDR PORTFILE SECONDS      connect with keep-alive after 1 s
                                          idle, stay idle, close
  peer.py duplex PORTFILE BYTES           accept one client; send BYTES
                                          while reading until EOF or a reset
  peer.py reset ADDR PORTFILE BYTES READ  connect; send BYTES while reading
                                          READ bytes; close with the rest
                                          unread (the kernel resets)
"""
import array
import fcntl
import os
import socket
import struct
import sys
import threading
import time

SIOCETHTOOL = 0x8946
ETHTOOL_STXCSUM = 0x17
ETHTOOL_STSO = 0x1f
ETHTOOL_SGSO = 0x24


def offload(name):
    """The ethtool -K NAME tx off tso off gso off of DESIGN.md, by ioctl."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for cmd in (ETHTOOL_STXCSUM, ETHTOOL_STSO, ETHTOOL_SGSO):
        val = array.array("B", struct.pack("II", cmd, 0))
        addr, _ = val.buffer_info()
        ifr = struct.pack("16sP", name.encode(), addr)
        fcntl.ioctl(s, SIOCETHTOOL, ifr)
    s.close()


def wait_port(path):
    for _ in range(500):
        try:
            with open(path) as f:
                text = f.read().strip()
            if text:
                return int(text)
        except FileNotFoundError:
            pass
        time.sleep(0.01)
    raise SystemExit("peer.py: no port in %s" % path)


def server(portfile, rcvbuf=0, pause=0.0):
    c = listen_once(portfile, rcvbuf)
    time.sleep(pause)
    while c.recv(65536):
        pass
    c.close()


def listen_once(portfile, rcvbuf=0):
    ls = socket.socket()
    if rcvbuf:
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    ls.bind(("10.0.0.1", 0))
    ls.listen(1)
    with open(portfile + ".tmp", "w") as f:
        f.write("%d\n" % ls.getsockname()[1])
    os.rename(portfile + ".tmp", portfile)
    c, _ = ls.accept()
    ls.close()
    return c


def send_quietly(sock, data):
    try:
        sock.sendall(data)
    except (BrokenPipeError, ConnectionResetError):
        pass   # the peer reset the connection: expected here


def send_in_thread(sock, nbytes):
    t = threading.Thread(target=send_quietly, args=(sock, b"y" * nbytes))
    t.start()
    return t


def duplex(portfile, nbytes):
    c = listen_once(portfile)
    t = send_in_thread(c, nbytes)
    try:
        while c.recv(65536):
            pass
    except ConnectionResetError:
        pass
    t.join()
    c.close()


def reset(addr, portfile, nbytes, nread):
    s = connect(addr, portfile)
    t = send_in_thread(s, nbytes)
    got = 0
    while got < nread:
        got += len(s.recv(min(nread - got, 65536)))
    t.join()
    s.close()


def connect(addr, portfile):
    s = socket.socket()
    s.connect((addr, wait_port(portfile)))
    return s


def send(addr, portfile, nbytes, pause=0.0):
    s = connect(addr, portfile)
    s.sendall(b"x" * nbytes)
    time.sleep(pause)
    s.shutdown(socket.SHUT_WR)
    while s.recv(65536):
        pass
    s.close()


def idle(addr, portfile, seconds):
    s = connect(addr, portfile)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 1)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, 1)
    s.sendall(b"hello")
    time.sleep(seconds)
    s.close()


def main():
    a = sys.argv[1:]
    if not a:
        raise SystemExit(__doc__)
    if a[0] == "offload":
        offload(a[1])
    elif a[0] == "server":
        server(a[1], int(a[2]) if len(a) > 2 else 0, float(a[3]) if len(a) > 3 else 0.0)
    elif a[0] == "send":
        send(a[1], a[2], int(a[3]), float(a[4]) if len(a) > 4 else 0.0)
    elif a[0] == "idle":
        idle(a[1], a[2], float(a[3]))
    elif a[0] == "duplex":
        duplex(a[1], int(a[2]))
    elif a[0] == "reset":
        reset(a[1], a[2], int(a[3]), int(a[4]))
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
