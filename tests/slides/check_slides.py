#!/usr/bin/env python3
"""Check that the slides cannot drift from the code.

1. Every lesson folder lessons/NN-topic/ has a deck slides/NN-topic.md
   (a Marp deck: its front matter says `marp: true`).
2. Every fenced code block in a deck whose first line is a comment naming a
   lesson source file (`// lessons/02-tcp-echo/server.c`, `# lessons/...`,
   or lib/lesson's, which later lessons call: `// lib/lesson/stop.c`)
   has all its other lines in that file, verbatim and in one piece.
3. Every picture of a real run in a deck,
   `![socklab run 03 timewait](pictures/03-timewait.svg)`, exists, is XML,
   says in its metadata (the text form `socklab export` puts there) that
   it shows that lesson and scenario, and still shows what the current
   code does: the run is recorded again (`socklab run ... --batch
   --record`, exported as text) and both are reduced to what does not
   depend on timing (see signature()) and compared. Needs the build
   (SOCKLAB_BUILD, else build/); `make slides SLIDES_UPDATE=1` makes the
   pictures again after an intended change.

Run with --self-test to prove the checker itself catches a drifted snippet
and a drifted picture. Exit 0 when all holds; 1 with one line per problem
otherwise.
"""
import os
import re
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

NAMED = re.compile(r"^\s*(?://|#|/\*)\s*((?:lessons|lib)/[\w./-]+?)\s*(?:\*/)?\s*$")
FENCE = re.compile(r"^(```|~~~)")


def code_blocks(text):
    """Yield (line number, lines) for each fenced block of a Markdown text."""
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        start, fence = i + 1, m.group(1)
        j = start
        while j < len(lines) and not lines[j].startswith(fence):
            j += 1
        yield start + 1, lines[start:j]
        i = j + 1


def contains_block(haystack_lines, block):
    """True when block occurs in haystack_lines as consecutive lines."""
    n = len(block)
    if n == 0:
        return True
    for k in range(len(haystack_lines) - n + 1):
        if haystack_lines[k:k + n] == block:
            return True
    return False


def check_deck(root, deck):
    problems = []
    with open(deck, encoding="utf-8") as f:
        text = f.read()
    if not re.match(r"^---\s*\n(?:.*\n)*?marp:\s*true\s*\n(?:.*\n)*?---", text):
        problems.append(f"{deck}: front matter lacks 'marp: true'")
    for lineno, block in code_blocks(text):
        if not block:
            continue
        m = NAMED.match(block[0])
        if not m:
            continue
        src = os.path.join(root, m.group(1))
        if not os.path.isfile(src):
            problems.append(f"{deck}:{lineno}: names {m.group(1)}, which does not exist")
            continue
        with open(src, encoding="utf-8") as f:
            src_lines = f.read().split("\n")
        body = block[1:]
        # Trailing blank lines in a slide are layout, not code.
        while body and body[-1].strip() == "":
            body.pop()
        if not contains_block(src_lines, body):
            problems.append(f"{deck}:{lineno}: snippet is not in {m.group(1)} verbatim")
    return problems


PICTURE = re.compile(r"!\[(socklab run [^\]]*)\]\((pictures/[\w.-]+\.svg)\)")
SVG_NS = "{http://www.w3.org/2000/svg}"
CONTROL = ("SYN", "FIN", "RST")


def run_args(alt):
    """"socklab run 03 timewait h:480" -> ["03", "timewait"]."""
    out = []
    for w in alt.split()[2:]:
        if ":" in w:
            break
        out.append(w)
    return out


def section(text, name):
    m = re.search(r"^%s\n((?:  .*\n)*)" % name, text, re.M)
    return m.group(1) if m else ""


def role(name):
    """"client:44202" -> "client"; "server[123] fd 4" -> "server"."""
    return re.sub(r"(\[\d+\].*|:\d+)$", "", name)


def signature(text):
    """What a recorded run shows that does not depend on timing, from the
    text `socklab export --txt` writes.

    Per connection (ends named by their process, not by port): who opened
    it; the order of its SYN, FIN and RST segments; and for each direction
    the segments that carry something (SYN, FIN, RST, data; a run of data
    segments counts as one, pure ACKs not at all). Per TCP socket: its
    process, whether it listened, and its states in order (CLOSE left out).
    Left out because they vary from run to run of the same code: times,
    ports, pure ACKs (delayed or not), how data and a FIN interleave across
    the two directions, how many segments a write took, and a SYN or FIN
    sent again although the first was not lost (its ACK was late)."""
    conns = {}
    for line in section(text, "ladder").splitlines():
        m = re.match(r"  [\d.]+  (\S+) > (\S+)  (\S+)(.*?)  seq=", line)
        if not m:
            continue
        a, b, flags, rest = m.groups()
        key = frozenset((a, b))
        c = conns.setdefault(key, {"opener": a, "other": b, "control": [], ">": [], "<": []})
        d = ">" if a == c["opener"] else "<"
        if any(f in flags.split(",") for f in CONTROL):
            # The same SYN or FIN again is the kernel resending it. When
            # the first was not lost (its ACK was late on a busy machine:
            # the analysis may call it a retransmission, a spurious one,
            # or nothing) that is timing; one resent because the link
            # dropped the first is what the run shows.
            last = c.get("last" + d)
            c["last" + d] = (flags, "[DROPPED" in line)
            if last is not None and last[0] == flags and not last[1]:
                continue
            c["control"].append(d + flags)
            c[d].append(flags)
        elif "len=" in rest:
            if not c[d] or c[d][-1] != "data":
                c[d].append("data")
    links = sorted((role(c["opener"]), role(c["other"]), " ".join(c["control"]),
                    " ".join(c[">"]), " ".join(c["<"])) for c in conns.values())
    socks, cur = [], None
    for line in section(text, "states").splitlines():
        m = re.match(r"  #\d+ (.*?) \S+ > (\S+)$", line)
        if m:
            cur = [role(m.group(1)), m.group(2) == "*", []]
            socks.append(cur)
            continue
        m = re.match(r"    [\d.]+  (\S+)", line)
        if m and cur is not None and m.group(1) != "CLOSE" and \
                (not cur[2] or cur[2][-1] != m.group(1)):
            cur[2].append(m.group(1))
    return links, sorted((r, lst, " ".join(st)) for r, lst, st in socks if st)


def describe_difference(old, new):
    lines = []
    for what, a, b in (("connections", old[0], new[0]), ("sockets", old[1], new[1])):
        for x in a:
            if x not in b:
                lines.append("picture has %s %s, the code no longer" % (what[:-1], x))
        for x in b:
            if x not in a:
                lines.append("the code makes %s %s, the picture not" % (what[:-1], x))
    return "; ".join(lines)


def find_socklab(root):
    build = os.environ.get("SOCKLAB_BUILD", os.path.join(root, "build"))
    if not os.path.isabs(build):
        build = os.path.join(root, build)
    path = os.path.join(build, "socklab")
    return path if os.access(path, os.X_OK) else None


def rerecord(socklab, args):
    """The export text of a new run of `socklab run ARGS`, or an error."""
    with tempfile.TemporaryDirectory() as tmp:
        rec = os.path.join(tmp, "run.rec")
        r = subprocess.run([socklab, "run"] + args + ["--batch", "--record", rec],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=120)
        if r.returncode != 0:
            return None, "socklab run %s --batch failed: %s" % (" ".join(args), r.stderr.strip())
        r = subprocess.run([socklab, "export", rec, "--txt"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=60)
        if r.returncode != 0:
            return None, "socklab export failed: %s" % r.stderr.strip()
        return r.stdout, None


def check_pictures(root, deck, text, socklab):
    problems = []
    for m in PICTURE.finditer(text):
        alt, rel = m.group(1), m.group(2)
        args = run_args(alt)
        where = "%s: %s" % (deck, rel)
        path = os.path.join(os.path.dirname(deck), rel)
        if not args:
            problems.append("%s: the alt text names no lesson" % where)
            continue
        try:
            meta = ET.parse(path).getroot().find(SVG_NS + "metadata")
        except (OSError, ET.ParseError) as e:
            problems.append("%s: not a readable SVG: %s" % (where, e))
            continue
        old = meta.text.strip() + "\n" if meta is not None and meta.text else ""
        title = re.match(r"socklab export: (\S+?):? (\S+?):? ", old + "  ")
        if title is None or title.group(1) != args[0] or \
                (len(args) > 1 and title.group(2).rstrip(":") != args[1]):
            problems.append("%s: its metadata does not say it shows socklab run %s" %
                            (where, " ".join(args)))
            continue
        if socklab is None:
            continue
        new, err = rerecord(socklab, args)
        if err:
            problems.append("%s: %s" % (where, err))
            continue
        a, b = signature(old), signature(new)
        if not a[0] or not a[1]:
            problems.append("%s: the picture shows no segments or no states" % where)
        elif a != b:
            problems.append("%s: no longer what socklab run %s shows: %s (make slides "
                            "SLIDES_UPDATE=1 after an intended change)"
                            % (where, " ".join(args), describe_difference(a, b)))
    return problems


def check_tree(root, socklab=None):
    problems = []
    checked = 0
    lessons_dir = os.path.join(root, "lessons")
    slides_dir = os.path.join(root, "slides")
    lessons = sorted(d for d in os.listdir(lessons_dir)
                     if re.match(r"^\d\d-", d) and os.path.isdir(os.path.join(lessons_dir, d)))
    for lesson in lessons:
        deck = os.path.join(slides_dir, lesson + ".md")
        if not os.path.isfile(deck):
            problems.append(f"lessons/{lesson}: no deck slides/{lesson}.md")
    for name in sorted(os.listdir(slides_dir)):
        if re.match(r"^\d\d-.*\.md$", name):
            deck = os.path.join(slides_dir, name)
            problems += check_deck(root, deck)
            with open(deck, encoding="utf-8") as f:
                problems += check_pictures(root, deck, f.read(), socklab)
            checked += 1
    return problems, len(lessons), checked


def self_test():
    """The checker must flag a missing deck and a drifted snippet."""
    with tempfile.TemporaryDirectory() as root:
        os.makedirs(os.path.join(root, "lessons", "01-a"))
        os.makedirs(os.path.join(root, "lessons", "02-b"))
        os.makedirs(os.path.join(root, "slides"))
        with open(os.path.join(root, "lessons", "01-a", "x.c"), "w") as f:
            f.write("int main(void)\n{\n\treturn 0;\n}\n")
        good = "---\nmarp: true\n---\n# a\n```c\n// lessons/01-a/x.c\n{\n\treturn 0;\n}\n```\n"
        with open(os.path.join(root, "slides", "01-a.md"), "w") as f:
            f.write(good)
        problems, _, _ = check_tree(root)
        assert problems == ["lessons/02-b: no deck slides/02-b.md"], problems
        with open(os.path.join(root, "slides", "01-a.md"), "w") as f:
            f.write(good.replace("return 0;", "return 1;"))
        problems, _, _ = check_tree(root)
        assert any("not in lessons/01-a/x.c verbatim" in p for p in problems), problems
    # A picture whose run closes in the other order no longer matches.
    close_first = """socklab export: 03 TCP
ladder
  0.1  client:5 > server:7  SYN mss=1  seq=0 win=1
  0.2  server:7 > client:5  SYN,ACK  seq=0 ack=1 win=1
  0.3  client:5 > server:7  ACK  seq=1 ack=1 win=1
  0.4  client:5 > server:7  PSH,ACK len=3  seq=1 ack=1 win=1
  0.5  client:5 > server:7  FIN,ACK  seq=4 ack=1 win=1
  0.6  server:7 > client:5  FIN,ACK  seq=1 ack=5 win=1
  0.7  client:5 > server:7  ACK  seq=5 ack=2 win=1
states
  #1 client[10] 127.0.0.1:5 > 127.0.0.1:7
    0.1  SYN_SENT     (wire: SYN sent)
    0.2  ESTABLISHED  (wire: SYN,ACK received)
    0.5  FIN_WAIT1    (wire: FIN sent)
    0.6  TIME_WAIT    (wire: FIN received)
  #2 server[11] fd 4 127.0.0.1:7 > 127.0.0.1:5
    0.1  SYN_RECV     (wire: SYN received)
    0.3  ESTABLISHED  (wire: ACK received)
    0.5  CLOSE_WAIT   (wire: FIN received)
    0.6  LAST_ACK     (wire: FIN sent)
    0.7  CLOSE        (wire: ACK of FIN)
"""
    # Timing alone changes nothing: other ports, times, a pure ACK more.
    same = close_first.replace(":5", ":9").replace("0.4", "0.45") + ""
    same = same.replace("  0.5  client:9 > server:7  FIN,ACK",
                        "  0.46  server:7 > client:9  ACK  seq=1 ack=4 win=1\n"
                        "  0.5  client:9 > server:7  FIN,ACK")
    assert signature(same) == signature(close_first), (signature(same), signature(close_first))
    swapped = close_first.replace("0.5  client:5 > server:7  FIN,ACK", "0.5  server:7 > client:5  FIN,ACK")
    swapped = swapped.replace("0.6  server:7 > client:5  FIN,ACK", "0.6  client:5 > server:7  FIN,ACK")
    swapped = swapped.replace("FIN_WAIT1", "X").replace("CLOSE_WAIT", "FIN_WAIT1").replace("X", "CLOSE_WAIT")
    swapped = swapped.replace("TIME_WAIT", "Y").replace("LAST_ACK", "TIME_WAIT").replace("Y", "LAST_ACK")
    assert signature(swapped) != signature(close_first)
    assert "no longer" in describe_difference(signature(close_first), signature(swapped))
    # A FIN sent again although the first arrived (its ACK was late on a
    # busy machine) is timing; a SYN sent again after the link dropped the
    # first is what the picture shows, and a run without it differs.
    for label in (" [retransmission]", " [spurious retransmission]", ""):
        resent = close_first.replace(
            "  0.6  server:7 > client:5  FIN,ACK",
            "  0.55  client:5 > server:7  FIN,ACK  seq=4 ack=1 win=1%s\n"
            "  0.6  server:7 > client:5  FIN,ACK" % label)
        assert signature(resent) == signature(close_first), (label, signature(resent))
    lost = close_first.replace(
        "  0.1  client:5 > server:7  SYN mss=1  seq=0 win=1",
        "  0.1  client:5 > server:7  SYN mss=1  seq=0 win=1 [DROPPED by the link (rule)]\n"
        "  1.1  client:5 > server:7  SYN mss=1  seq=0 win=1 [retransmission]")
    assert signature(lost) != signature(close_first)
    print("check_slides self-test: ok")


def main():
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    if "--self-test" in sys.argv[1:]:
        self_test()
        return 0
    self_test()
    socklab = find_socklab(root)
    if socklab is None:
        print("check_slides: no built socklab: the pictures are not compared with new runs")
    problems, nlessons, ndecks = check_tree(root, socklab)
    for p in problems:
        print(p)
    pictures = sum(len(PICTURE.findall(open(os.path.join(root, "slides", d), encoding="utf-8").read()))
                   for d in os.listdir(os.path.join(root, "slides")) if re.match(r"^\d\d-.*\.md$", d))
    print(f"check_slides: {nlessons} lessons, {ndecks} decks, {pictures} pictures of real runs"
          f"{'' if socklab else ' (not run again)'}, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
