#!/usr/bin/env python3
"""test_export_html.py — the page `socklab export --html` writes, opened in
a real browser: headless Chromium (Debian's package, which `make deps`
installs for this test), driven over the DevTools protocol with Python's
standard library only (a WebSocket client of a few lines, on loopback).

From data/lesson02.rec (20 segments, 30 calls):
- the page loads and nothing but the page itself is requested (every
  request the browser makes is logged by the protocol's Network domain);
- a screenshot of the ladder is not blank: it has the arrows' colours;
- the keys step through it: Home shows nothing, → shows one row,
  shift+→ moves to the next segment (the SYN, then the SYN,ACK), rows not
  reached are hidden, End shows everything again; the step is also in the
  title.

Chromium runs with a new empty profile and the flags that keep it off the
network (--disable-background-networking and others), and is stopped at
the end whatever happens.
"""
import base64
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request
import zlib

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from tuilib import DATA, SOCKLAB, check, finish, need, run

REC = os.path.join(DATA, "lesson02.rec")
DEADLINE = 30  # seconds for any one wait


class WebSocket:
    """A WebSocket client (RFC 6455): text frames, masked as a client's
    must be; enough for the DevTools protocol."""

    def __init__(self, url):
        assert url.startswith("ws://")
        hostport, path = url[5:].split("/", 1)
        host, port = hostport.rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=DEADLINE)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(("GET /%s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\n"
                           "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                           "Sec-WebSocket-Version: 13\r\n\r\n" % (path, hostport, key)).encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise IOError("the browser closed the connection during the handshake")
            head += chunk
        head, self.buf = head.split(b"\r\n\r\n", 1)
        if b" 101 " not in head.split(b"\r\n")[0]:
            raise IOError("no WebSocket: %r" % head[:80])

    def send(self, text):
        data = text.encode()
        n = len(data)
        if n < 126:
            hdr = struct.pack("!BB", 0x81, 0x80 | n)
        elif n < 65536:
            hdr = struct.pack("!BBH", 0x81, 0x80 | 126, n)
        else:
            hdr = struct.pack("!BBQ", 0x81, 0x80 | 127, n)
        mask = os.urandom(4)
        self.sock.sendall(hdr + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))

    def _read(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                raise IOError("the browser closed the connection")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def recv(self):
        """One whole message (fragments joined)."""
        parts = []
        while True:
            b0, b1 = self._read(2)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack("!H", self._read(2))[0]
            elif n == 127:
                n = struct.unpack("!Q", self._read(8))[0]
            payload = self._read(n)
            if b0 & 0x0F == 0x8:
                raise IOError("the browser closed the WebSocket")
            if b0 & 0x0F in (0x9, 0xA):  # ping, pong: not for us
                continue
            parts.append(payload)
            if b0 & 0x80:
                return b"".join(parts).decode()


class DevTools:
    """Commands to one page; events are kept for who asks."""

    def __init__(self, url):
        self.ws = WebSocket(url)
        self.next_id = 0
        self.events = []

    def call(self, method, **params):
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == self.next_id:
                if "error" in msg:
                    raise IOError("%s: %s" % (method, msg["error"]))
                return msg.get("result", {})
            if "method" in msg:
                self.events.append(msg)

    def wait_event(self, method):
        end = time.time() + DEADLINE
        while time.time() < end:
            for e in self.events:
                if e["method"] == method:
                    return e
            msg = json.loads(self.ws.recv())
            if "method" in msg:
                self.events.append(msg)
        raise IOError("no %s within %d s" % (method, DEADLINE))

    def js(self, expr):
        r = self.call("Runtime.evaluate", expression=expr, returnByValue=True)
        return r["result"].get("value")

    def key(self, key, code, shift=False):
        mods = 8 if shift else 0
        for kind in ("rawKeyDown", "keyUp"):
            self.call("Input.dispatchKeyEvent", type=kind, key=key, code=key,
                      windowsVirtualKeyCode=code, nativeVirtualKeyCode=code, modifiers=mods)


def png_pixels(data):
    """(width, height, rows of RGB tuples) of an 8-bit RGB or RGBA PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat = 8, b""
    while pos < len(data):
        n, kind = struct.unpack("!I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h, depth, colour = struct.unpack("!IIBB", body[:10])
            assert depth == 8 and colour in (2, 6), "PNG kind %d/%d" % (depth, colour)
            bpp = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    raw = zlib.decompress(idat)
    stride = w * bpp
    prev = bytearray(stride)
    rows = []
    for y in range(h):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 0xFF
            elif f == 2:
                line[i] = (line[i] + b) & 0xFF
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xFF
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        rows.append([tuple(line[i:i + 3]) for i in range(0, stride, bpp)])
        prev = line
    return w, h, rows


def start_chromium(profile):
    cmd = ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
           "--no-first-run", "--no-default-browser-check", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", "--disable-extensions",
           "--disable-default-apps", "--metrics-recording-only", "--mute-audio",
           "--user-data-dir=" + profile, "--remote-debugging-address=127.0.0.1",
           "--remote-debugging-port=0", "--window-size=1280,900", "about:blank"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    port_file = os.path.join(profile, "DevToolsActivePort")
    end = time.time() + DEADLINE
    while time.time() < end and proc.poll() is None:
        if os.path.exists(port_file):
            with open(port_file) as f:
                lines = f.read().split("\n")
            if len(lines) >= 2 and lines[0].isdigit():
                return proc, int(lines[0])
        time.sleep(0.05)
    raise IOError("chromium did not start its DevTools endpoint (exit %r)" % proc.poll())


def page_socket(port):
    end = time.time() + DEADLINE
    while time.time() < end:
        with urllib.request.urlopen("http://127.0.0.1:%d/json/list" % port, timeout=DEADLINE) as r:
            pages = [t for t in json.load(r) if t.get("type") == "page"]
        if pages:
            return pages[0]["webSocketDebuggerUrl"]
        time.sleep(0.05)
    raise IOError("no page in chromium")


def stop(proc):
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def state(dt):
    return dt.js("[+document.body.getAttribute('data-step'), +document.body.getAttribute('data-segment'),"
                 " (document.querySelector('.row.current') || {getAttribute: function () { return ''; }})"
                 ".getAttribute('data-text'), document.title]")


def check_page(dt, url):
    dt.call("Network.enable")
    dt.call("Page.enable")
    dt.call("Emulation.setDeviceMetricsOverride", width=1280, height=900, deviceScaleFactor=1,
            mobile=False)
    dt.call("Page.navigate", url=url)
    dt.wait_event("Page.loadEventFired")
    requests = [e["params"]["request"]["url"] for e in dt.events
                if e["method"] == "Network.requestWillBeSent"]
    check(requests == [url], "loading the page requests the page and nothing else: %s" % requests)
    rows, segs = dt.js("[document.querySelectorAll('#ladder .row').length,"
                       " document.querySelectorAll('#ladder .row.seg').length]")
    check((rows, segs) == (50, 20), "the page holds the ladder: 50 rows, 20 of them segments (%d, %d)"
          % (rows, segs))
    step, seg, cur, title = state(dt)
    check(step == 50 and seg == 20, "it opens with everything shown (step %d, segment %d)" % (step, seg))

    shot = base64.b64decode(dt.call("Page.captureScreenshot", format="png")["data"])
    w, h, px = png_pixels(shot)
    colours = {}
    for row in px:
        for p in row:
            colours[p] = colours.get(p, 0) + 1
    background = max(colours, key=colours.get)
    ink = sum(n for c, n in colours.items() if c != background)
    green = sum(n for (r, g, b), n in colours.items() if g > r + 40 and g > b + 40)
    check(w == 1280 and ink > w * h // 50 and green > 50,
          "the screenshot is not blank: %d of %d pixels drawn, %d green (the SYN arrows)"
          % (ink, w * h, green))

    dt.key("Home", 36)
    step, seg, cur, title = state(dt)
    hidden = dt.js("Array.prototype.filter.call(document.querySelectorAll('#ladder .row'),"
                   " function (r) { return getComputedStyle(r).visibility === 'hidden'; }).length")
    check(step == 0 and seg == 0 and hidden == 50, "Home: no row shown (step %d, %d hidden)" % (step, hidden))
    dt.key("ArrowRight", 39)
    step, seg, cur, title = state(dt)
    check(step == 1 and "socket(" in cur and "step 1 of 50" in title,
          "right arrow: one row, the server's socket() (%r, title %r)" % (cur, title))
    dt.key("ArrowRight", 39, shift=True)
    step, seg, cur, title = state(dt)
    check(seg == 1 and " SYN " in cur + " " and "SYN,ACK" not in cur,
          "shift+right: the first segment, the SYN (%r, step %d)" % (cur, step))
    first = step
    dt.key("ArrowRight", 39, shift=True)
    step, seg, cur, title = state(dt)
    check(seg == 2 and "SYN,ACK" in cur and step == first + 1,
          "shift+right again: the next segment, the SYN,ACK (%r)" % cur)
    hidden = dt.js("Array.prototype.filter.call(document.querySelectorAll('#ladder .row'),"
                   " function (r) { return getComputedStyle(r).visibility === 'hidden'; }).length")
    check(hidden == 50 - step, "the rows not reached yet are hidden (%d of 50)" % hidden)
    dt.key("ArrowLeft", 37)
    step2, seg, cur, title = state(dt)
    check(step2 == step - 1 and seg == 1, "left arrow: one row back")
    dt.key("End", 35)
    step, seg, cur, title = state(dt)
    check(step == 50 and seg == 20, "End: everything again")
    requests = [e["params"]["request"]["url"] for e in dt.events
                if e["method"] == "Network.requestWillBeSent"]
    check(requests == [url], "after all that, still no request but the page's own")


def main():
    need(SOCKLAB)
    if shutil.which("chromium") is None:
        print("FAIL chromium is not installed (make deps installs it for this test)")
        sys.exit(1)
    t0 = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        page = os.path.join(tmp, "lesson02.html")
        r = run([SOCKLAB, "export", REC, "--html", "-o", page])
        check(r.returncode == 0 and os.path.isfile(page), "export --html -o FILE: exit 0")
        with open(page) as f:
            body = f.read()
        check("http://" not in body.replace('xmlns="http://www.w3.org/2000/svg"', "") and
              "https://" not in body and "default-src 'none'" in body,
              "the page names no address and forbids every fetch (Content-Security-Policy)")
        profile = os.path.join(tmp, "profile")
        os.mkdir(profile)
        proc = None
        try:
            proc, port = start_chromium(profile)
            dt = DevTools(page_socket(port))
            check_page(dt, "file://" + page)
        except (IOError, OSError, ValueError) as e:
            check(False, "driving chromium: %s" % e)
        finally:
            if proc is not None:
                stop(proc)
    print("chromium part took %.1f s" % (time.time() - t0))
    finish()


if __name__ == "__main__":
    main()
