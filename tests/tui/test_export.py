#!/usr/bin/env python3
"""test_export.py — `socklab export` of a recorded session as text and as
SVG, from data/lesson02.rec (lesson 02 run free; data/lesson02.dump is what
`socklab replay --batch` makes of it, the model the export must show).

- text: the ladder holds every segment of the dump, in its order, with the
  same flags and relative seq/ack; each socket's states are its history;
  the calls are there with their results.
- SVG: xmllint accepts it as XML; its arrows, read in document order, are
  the dump's segments in order (flags on the arrows, seq/ack beside them);
  a row per call unless --no-calls; its <metadata> is the text export.
- --from/--to keep exactly the segments inside the window.
- what must not work: no format, two formats, a bad time, --to before
  --from, a file that is not a recording (exit 1, no output file), an
  output folder that does not exist (exit 1, nothing left behind).
- a recording whose process names and output hold markup, control
  characters and bytes that are not UTF-8 still gives valid XML.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from tuilib import DATA, SOCKLAB, check, finish, need, run

REC = os.path.join(DATA, "lesson02.rec")
DUMP = os.path.join(DATA, "lesson02.dump")
SVG_NS = "{http://www.w3.org/2000/svg}"


def section(text, name):
    m = re.search(r"^%s\n((?:  .*\n)*)" % name, text, re.M)
    return m.group(1) if m else ""


def dump_segments():
    """(time, src port, dst port, flags, seq, ack) of each dump segment."""
    out = []
    with open(DUMP) as f:
        segs = section(f.read(), "segments")
    for line in segs.splitlines():
        m = re.match(r"  ([\d.]+) \S+:(\d+) > \S+:(\d+) (\S+) seq=(\d+)(?: ack=(\d+))?", line)
        out.append((m.group(1), m.group(2), m.group(3), m.group(4), m.group(5), m.group(6)))
    return out


TUPLE = re.compile(r" \S+:(\d+) (?:> )?(\*|\S+:(\d+))")


def histories(text, header, entry):
    """{(local port, peer port or "*"): [state, ...]} from the lines of a
    sockets section: header matches a socket's line, entry a change."""
    hist, cur = {}, None
    for line in text.splitlines():
        if re.match(header, line):
            m = TUPLE.search(line)
            cur = hist.setdefault((m.group(1), m.group(3) or "*"), [])
            continue
        m = re.match(entry, line)
        if m and cur is not None:
            cur.append(m.group(1))
    return hist


def dump_histories():
    with open(DUMP) as f:
        return histories(section(f.read(), "sockets"), r"  #\d+ ", r"\s+[\d.]+ \S+ -> (\S+) ")


def export(*args):
    return run([SOCKLAB, "export", REC] + list(args))


def usage_errors(tmp):
    for args, what in [([], "no format"), (["--svg", "--txt"], "two formats"),
                       (["--txt", "--from", "x"], "a bad --from"),
                       (["--txt", "--from", "-1"], "a negative --from"),
                       (["--txt", "--from", "2", "--to", "1"], "--to before --from"),
                       (["--txt", "--batch"], "--batch"),
                       (["--txt", "--record", "x"], "--record"),
                       (["-o", os.path.join(tmp, "x.png")], "an extension that is no format")]:
        r = export(*args)
        check(r.returncode == 2 and r.stderr.startswith("socklab: "),
              "export with %s: exit 2 and a message" % what)
    r = run([SOCKLAB, "export", "--txt"])
    check(r.returncode == 2, "export without a file: exit 2")
    r = run([SOCKLAB, "export", "--help"])
    check(r.returncode == 0 and r.stdout.startswith("usage: socklab export"), "export --help")
    bogus = os.path.join(tmp, "bogus.rec")
    with open(bogus, "w") as f:
        f.write("hello\n")
    out = os.path.join(tmp, "bogus.svg")
    r = run([SOCKLAB, "export", bogus, "-o", out])
    check(r.returncode == 1 and "not a socklab recording" in r.stderr and not os.path.exists(out),
          "a file that is not a recording: exit 1, says so, writes nothing")
    r = run([SOCKLAB, "export", os.path.join(tmp, "missing.rec"), "--txt"])
    check(r.returncode == 1 and "missing.rec" in r.stderr, "a missing recording: exit 1, names it")
    r = export("-o", os.path.join(tmp, "no", "such", "dir", "x.svg"))
    check(r.returncode == 1 and not os.path.exists(os.path.join(tmp, "no")),
          "an output folder that does not exist: exit 1, nothing made")


def text_export(want):
    r = export("--txt")
    check(r.returncode == 0 and r.stdout.startswith("socklab export: 02 The iterative TCP echo server"),
          "--txt: exit 0, titled with the recording's title")
    ladder = section(r.stdout, "ladder").splitlines()
    got = []
    for line in ladder:
        m = re.match(r"  ([\d.]+)  \S+:(\d+) > \S+:(\d+)  (\S+).*?  seq=(\d+)(?: ack=(\d+))?", line)
        got.append(m.groups() if m else line)
    check(got == want, "--txt: the ladder is the dump's %d segments, in order, same flags, seq "
          "and ack" % len(want))
    hist = histories(section(r.stdout, "states"), r"  #\d+ ", r"    [\d.]+  (\S+)")
    check(hist == dump_histories(), "--txt: each socket's states are its history in the model")
    calls = section(r.stdout, "calls")
    check(re.search(r"server\[\d+\]  listen\(3, \d+\) = 0  \[LISTEN\]", calls) is not None and
          len(re.findall(r"client\[\d+\]  connect\(3, 127\.0\.0\.1:\d+\) = 0", calls)) == 2,
          "--txt: the calls with their results and the state after them")
    return r.stdout


def svg_export(tmp, want, txt):
    out = os.path.join(tmp, "lesson02.svg")
    r = export("--svg", "-o", out)
    check(r.returncode == 0 and os.path.isfile(out), "--svg -o FILE: exit 0, the file is there")
    x = subprocess.run(["xmllint", "--noout", out], stderr=subprocess.PIPE, text=True)
    check(x.returncode == 0, "the SVG is well-formed XML (xmllint)%s" % (": " + x.stderr if x.stderr else ""))
    root = ET.parse(out).getroot()
    check(root.tag == SVG_NS + "svg" and int(root.get("width")) > 0, "its root is an <svg> with a size")
    rows = [g for g in root.iter(SVG_NS + "g") if "row" in g.get("class", "").split()]
    segs = [g for g in rows if "seg" in g.get("class").split()]
    calls = [g for g in rows if "call" in g.get("class").split()]
    flags, nums = [], []
    for g in segs:
        texts = list(g.iter(SVG_NS + "text"))
        flags.append(next(t.text for t in texts if t.get("class") == "flags").split()[0])
        nums.append(next("".join(t.itertext()) for t in texts if "".join(t.itertext()).startswith("seq=")))
    check(flags == [w[3] for w in want], "SVG: the arrows' flags, in document order, are the "
          "dump's segments in order")
    check([re.match(r"seq=(\d+)(?: ack=(\d+))?", n).groups() for n in nums] == [(w[4], w[5]) for w in want],
          "SVG: each arrow's seq and ack are its segment's")
    check([g.get("data-seg") for g in segs] == [str(i + 1) for i in range(len(want))],
          "SVG: the segment rows are numbered 1..%d" % len(want))
    check(len(calls) == 30, "SVG: a row per call (30), got %d" % len(calls))
    meta = root.find(SVG_NS + "metadata")
    check(meta is not None and meta.text.strip() == txt.strip(), "SVG: its metadata is the text export")
    r = export("--svg", "--no-calls")
    root = ET.fromstring(r.stdout)
    rows = [g for g in root.iter(SVG_NS + "g") if "row" in g.get("class", "").split()]
    check(r.returncode == 0 and len(rows) == len(want) and all("seg" in g.get("class") for g in rows),
          "--no-calls: a row per segment and nothing else")
    states = [t.text for t in root.iter(SVG_NS + "text") if t.get("class") == "state"]
    for st in ["LISTEN", "SYN_SENT", "SYN_RECV", "ESTABLISHED", "FIN_WAIT1", "CLOSE_WAIT",
               "LAST_ACK", "TIME_WAIT"]:
        check(st in states, "SVG: the state %s is written beside a lane" % st)


def window(want):
    t = [w[0] for w in want]
    # The times are printed cut to microseconds: the window ends just
    # before the next microsecond of the seventh segment.
    r = export("--txt", "--from", t[2], "--to", t[6] + "999")
    got = re.findall(r"^  ([\d.]+)  ", section(r.stdout, "ladder"), re.M)
    check(r.returncode == 0 and got == t[2:7], "--from/--to: the five segments of the window, no others")
    r = export("--txt", "--from", "999")
    check(r.returncode == 0 and section(r.stdout, "ladder") == "", "a window after the end: no segments")


def hostile(tmp):
    """Names and output with markup, control characters and invalid UTF-8."""
    with open(REC, "rb") as f:
        data = f.read()
    data = data.replace(b"name=server", b"name=%3Cserv%26er%01%FF%C3%28%22")
    data = re.sub(rb"(src=out pid=\d+ t=\d+ text=)", rb"\1%3C%2Fsvg%3E%1B%ED%A0%80", data, count=1)
    rec = os.path.join(tmp, "hostile.rec")
    with open(rec, "wb") as f:
        f.write(data)
    for fmt in ["svg", "html"]:
        out = os.path.join(tmp, "hostile." + fmt)
        r = run([SOCKLAB, "export", rec, "-o", out])
        # libxml2's HTML parser knows no HTML5: the page is checked by
        # what it must not contain (and test_export_html.py opens it).
        x = subprocess.run(["xmllint", "--noout", out] if fmt == "svg" else ["true"],
                           stderr=subprocess.PIPE, text=True)
        with open(out, "rb") as f:
            body = f.read()
        ok = (r.returncode == 0 and x.returncode == 0 and b"<serv" not in body and
              body.count(b"</svg>") == 1 and b"&lt;serv&amp;er" in body and b"&lt;/svg&gt;" in body)
        check(ok, "%s: markup, control bytes and invalid UTF-8 in names are escaped%s" %
              (fmt, ": " + x.stderr if x.stderr else ""))
        try:
            body.decode("utf-8")
            check(True, "%s: the file is valid UTF-8" % fmt)
        except UnicodeDecodeError as e:
            check(False, "%s: the file is valid UTF-8 (%s)" % (fmt, e))


def main():
    need(SOCKLAB)
    if shutil.which("xmllint") is None:
        print("FAIL xmllint is not installed (make deps installs libxml2-utils)")
        sys.exit(1)
    want = dump_segments()
    check(len(want) == 20, "the dump has lesson 02's 20 segments")
    with tempfile.TemporaryDirectory() as tmp:
        usage_errors(tmp)
        txt = text_export(want)
        svg_export(tmp, want, txt)
        window(want)
        hostile(tmp)
    finish()


if __name__ == "__main__":
    main()
