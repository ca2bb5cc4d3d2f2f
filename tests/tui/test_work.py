#!/usr/bin/env python3
"""test_work.py — `socklab run NN --work`: the visualizer runs the student's
copy of a lesson (built by `socklab-exercise build NN --print-dir`) instead
of the lesson's own programs.

Everything happens in a temporary work folder (SOCKLAB_WORK), never in the
tree's work/. It checks, for lesson 02:

  - without a copy, --work exits 1 and runs nothing;
  - the untouched stub (bind and listen left to write) fails the way the
    stub does: the server ends with status 1 and never listens, no client
    starts, and the batch ends at once instead of waiting for --timeout;
  - the copy with every step solved (`socklab exercise 02 --solved 99`,
    plus one line of our own) runs like the lesson: a LISTEN socket, two
    clients through the handshake into TIME_WAIT; the recording's header
    says "(your work)", every traced program ran from the copy's build
    folder, and bind()'s call site resolves to the copy's server.c, at the
    line our extra line moved it to;
  - a compile error in the copy: exit 1, the compiler's message on stderr,
    nothing run (no model printed), with and without --batch;
  - on the screen (with tmux): the stub's failure stays on the status
    line, the header says "(your work)" and the source view shows the
    copy's server.c (our extra line right above bind's line);
  - lesson 03's timewait scenario runs the copy's programs too, its
    "then" lines included, and --pcap writes the capture;
  - --work is for run only, and --help mentions it.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from tuilib import BUILD, ROOT, SOCKLAB, Tmux, check, finish, need, run

EXERCISE = os.path.join(BUILD, "socklab-exercise")
MARK = "/* socklab test: my own bind, one line down */"


def section(text, name):
    m = re.search(r"^%s\n((?:  .*\n)*)" % name, text, re.M)
    return m.group(1) if m else ""


def exercise(env, *args):
    r = run([SOCKLAB, "exercise"] + list(args), timeout=60, env=env)
    check(r.returncode == 0, "socklab exercise %s: exit 0" % " ".join(args))
    return r


def batch(env, *args, timeout=90):
    t0 = time.time()
    r = run([SOCKLAB, "run"] + list(args) + ["--batch", "--timeout", "40"],
            timeout=timeout, env=env)
    return r, time.time() - t0


def add_mark(path):
    """Put MARK on its own line above the bind() call; return bind's new
    line number (1-based)."""
    with open(path) as f:
        lines = f.read().split("\n")
    at = next(i for i, l in enumerate(lines) if re.match(r"\s*if \(bind\(fd,", l))
    lines.insert(at, "\t" + MARK)
    with open(path, "w") as f:
        f.write("\n".join(lines))
    return at + 2


def rec_lines(path):
    with open(path) as f:
        return f.read().splitlines()


def field(line, key):
    m = re.search(r"(?:^| )%s=(\S*)" % key, line)
    return urllib.parse.unquote(m.group(1)) if m else None


def addr2line(at):
    obj, off = at.rsplit("+", 1)
    r = run(["addr2line", "-e", obj, "-f", "-i", off], timeout=20)
    out = r.stdout.splitlines()
    return out[1].split(" ")[0] if r.returncode == 0 and len(out) >= 2 else ""


def usage():
    r = run([SOCKLAB, "run", "--help"])
    check(r.returncode == 0 and "--work" in r.stdout, "socklab run --help lists --work")
    r = run([SOCKLAB, "--help"])
    check(r.returncode == 0 and "--work" in r.stdout, "socklab --help mentions run NN --work")
    r = run([SOCKLAB, "trace", "--work", "--", "true"])
    check(r.returncode == 2 and "--work" in r.stderr, "trace --work: exit 2 (run only)")


def no_copy(env):
    r, _ = batch(env, "02", "--work")
    check(r.returncode == 1 and "socklab exercise 02" in r.stderr and r.stdout == "",
          "no copy yet: exit 1, says to start one, runs nothing")


def no_helper(tmp, env):
    """A socklab with no socklab-exercise beside it."""
    alone = os.path.join(tmp, "alone")
    os.mkdir(alone)
    shutil.copy(SOCKLAB, alone)
    e = dict(env, SOCKLAB_HOME=ROOT)
    r = run([os.path.join(alone, "socklab"), "run", "02", "--work", "--batch"], env=e)
    check(r.returncode == 1 and "socklab-exercise" in r.stderr and r.stdout == "",
          "no socklab-exercise next to socklab: exit 1, says so, runs nothing")


def stub(env):
    exercise(env, "02")
    r, took = batch(env, "02", "--work")
    procs, socks = section(r.stdout, "processes"), section(r.stdout, "sockets")
    check(r.returncode == 1, "the stub: --work --batch exits 1")
    check(re.search(r"^  server\[\d+\] exited 1, ", procs, re.M) is not None and
          "client[" not in procs, "the stub: the server exits 1 and no client is started")
    check(socks.strip() != "" and "LISTEN" not in socks,
          "the stub: the server's socket never listens (bind and listen are stubs)")
    check("server ended (exit status 1) before it said where it listens" in r.stderr,
          "the stub: says the server ended before it listened")
    check(took < 30, "the stub: the run ends at once, not at --timeout (%.1f s)" % took)


def stub_screen(env):
    """The stub on the screen: why nothing else started stays in view."""
    with Tmux("%s run 02 --work --free" % SOCKLAB, env={"SOCKLAB_WORK": env["SOCKLAB_WORK"]}) as t:
        s = t.wait_for(r"server ended \(exit status 1\) before it said", timeout=60,
                       what="the reason")
        check(s is not None, "the stub on the screen: says the server ended before it listened")
        time.sleep(1.5)
        s = t.screen()
        check("server ended (exit status 1) before it said" in s and
              "every program has ended" not in s, "the stub on the screen: the reason stays")
        check(re.search(r"^=> +\d+ +close\(fd\);", s, re.M) is not None,
              "the stub on the screen: the source view shows the stub's close(fd)")
        t.keys("q")
        check(t.wait_for(r"\[exit 0\]", timeout=15, what="exit") is not None, "q quits, exit 0")


def solved(tmp, env, work):
    exercise(env, "02", "--force", "--solved", "99")
    src = os.path.join(work, "02-tcp-echo", "server.c")
    bind_line = add_mark(src)
    rec = os.path.join(tmp, "work.rec")
    pcap = os.path.join(tmp, "work.pcap")
    r, took = batch(env, "02", "--work", "--record", rec, "--pcap", pcap)
    print("     (solved copy, built and run in %.1f s)" % took)
    procs, socks = section(r.stdout, "processes"), section(r.stdout, "sockets")
    check(r.returncode == 0, "solved: --work --batch exits 0")
    check(re.search(r"^  #\d+ server\[\d+\] fd 3 127\.0\.0\.1:\d+ \* LISTEN$", socks, re.M)
          is not None, "solved: the server listens")
    check(len(re.findall(r"^  client\[\d+\] exited 0", procs, re.M)) == 2,
          "solved: both clients run and exit 0")
    check(len(re.findall(r"^  #\d+ client\[\d+\] \S+ \S+ TIME_WAIT timewait \d+s$", socks,
                         re.M)) == 2 and "SYN_SENT -> ESTABLISHED" in socks,
          "solved: the clients go through ESTABLISHED into TIME_WAIT")
    lines = rec_lines(rec) if os.path.exists(rec) else []
    title = field(lines[0], "title") if lines else None
    check(title == "02 The iterative TCP echo server (your work)",
          "the recording's title says it is your work (%r)" % title)
    progs = os.path.join(work, ".build", "lessons", "02-tcp-echo")
    exes = [field(l, "exe") for l in lines if " ph=hello " in l]
    check(len(exes) == 3 and all(os.path.dirname(e) == progs for e in exes),
          "every traced program ran from the copy's build folder (%s)" % exes)
    binds = [field(l, "at") for l in lines if " ph=before " in l and " call=bind " in l]
    where = addr2line(binds[0]) if binds and binds[0] else ""
    check(where == "%s:%d" % (src, bind_line),
          "bind()'s call site is the copy's server.c:%d (%s)" % (bind_line, where))
    with open(pcap, "rb") as f:
        head = f.read(4)
    check(head == b"\x0a\x0d\x0d\x0a" and os.path.getsize(pcap) > 24 * 10,
          "--pcap with --work writes the captured segments (pcapng)")
    return src, bind_line


def broken(env, src, screens):
    with open(src) as f:
        text = f.read()
    with open(src, "w") as f:
        f.write(text + "\nthis is not C;\n")
    r, _ = batch(env, "02", "--work")
    check(r.returncode == 1 and r.stdout == "", "a compile error: exit 1, nothing run")
    check(re.search(r"server\.c:\d+:\d+: error:", r.stderr) is not None,
          "a compile error: the compiler's message is shown")
    if screens:
        with Tmux("%s run 02 --work" % SOCKLAB, env={"SOCKLAB_WORK": env["SOCKLAB_WORK"]}) as t:
            s = t.wait_for(r"\[exit \d+\]", timeout=60, what="the exit")
            check(s is not None and "[exit 1]" in s and
                  re.search(r"server\.c:\d+:\d+: error:", s) and "STEPPING" not in s,
                  "on a terminal: the compiler's message, exit 1, no screen started")
    with open(src, "w") as f:
        f.write(text)


def screen(env, bind_line):
    """The screen: the header, and the copy's source around bind()."""
    with Tmux("%s run 02 --work" % SOCKLAB, env={"SOCKLAB_WORK": env["SOCKLAB_WORK"]}) as t:
        s = t.wait_for(r"STEPPING", timeout=60, what="the stepping status")
        check(s is not None and re.search(r"socklab +02 The iterative TCP echo server "
                                          r"\(your work\)", s) is not None,
              "the header says it is your work")
        if s is None:
            return
        rx = re.compile(r"^=> +%d .*\bbind\(" % bind_line, re.M)
        for _ in range(12):
            s = t.screen()
            if rx.search(s):
                break
            t.keys("Space")
            time.sleep(0.4)
        lines = s.splitlines()
        at = next((i for i, l in enumerate(lines) if rx.search(l)), None)
        check(at is not None and at > 0 and "socklab test: my own bind" in lines[at - 1],
              "the source view shows the copy's server.c: bind() at line %d, our line "
              "above it" % bind_line)
        t.keys("q")
        check(t.wait_for(r"\[exit 0\]", timeout=15, what="exit") is not None, "q quits, exit 0")


def scenario(tmp, env, work):
    exercise(env, "03", "--solved", "99")
    rec = os.path.join(tmp, "timewait.rec")
    r, _ = batch(env, "03", "timewait", "--work", "--record", rec)
    procs = section(r.stdout, "processes")
    check(r.returncode == 0 and re.search(r"rebind\[\d+\] exited 1", procs) and
          re.search(r"rebind\[\d+\] exited 0", procs),
          "03 timewait --work: after the runs, rebind fails, rebind -r succeeds")
    progs = os.path.join(work, ".build", "lessons", "03-tcp-lifecycle")
    exes = [field(l, "exe") for l in rec_lines(rec) if " ph=hello " in l] \
        if os.path.exists(rec) else []
    check(len(exes) == 4 and all(os.path.dirname(e) == progs for e in exes) and
          sum(os.path.basename(e) == "rebind" for e in exes) == 2,
          "03 timewait --work: the run and then lines all ran the copy's programs")


def main():
    need(SOCKLAB)
    need(EXERCISE)
    usage()
    with tempfile.TemporaryDirectory(prefix="socklab-work-test-") as tmp:
        work = os.path.join(tmp, "work")
        env = dict(os.environ, SOCKLAB_WORK=work)
        env.pop("SOCKLAB_HOME", None)
        no_copy(env)
        no_helper(tmp, env)
        stub(env)
        screens = shutil.which("tmux") is not None
        if screens:
            stub_screen(env)
        src, bind_line = solved(tmp, env, work)
        broken(env, src, screens)
        if screens:
            screen(env, bind_line)
        else:
            print("skip the screen checks: tmux is not installed")
        scenario(tmp, env, work)


if __name__ == "__main__":
    try:
        main()
    except subprocess.TimeoutExpired as e:
        check(False, "a command ran past its deadline: %s" % e)
    finish()
