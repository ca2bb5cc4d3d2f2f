#!/usr/bin/env python3
"""test_replay_golden.py — `socklab replay` of a recorded session shows the
exact ladder, sockets, states and histories, at 80x24, every time.

The recording (data/lesson02.rec, lesson 02 run free in a private
namespace, see data/README.md) is replayed in tmux; End jumps to its end;
the overview, the full ladder (2), the sockets with their histories (3) and
the state diagram (4) are compared, character for character, with the
golden screens in data/. `socklab replay --batch` must print exactly
data/lesson02.dump; the same recording without its captured segments,
marked as a session where nothing could capture, must print exactly
data/lesson02.infer.dump (every segment inferred from the calls, and the
states they lead to). Then what must not work: a file that is not a
recording is refused with exit 1, and a recording with broken lines
replays the good ones.

  test_replay_golden.py            check
  test_replay_golden.py --update   write the golden files from this build
"""
import os
import sys
import tempfile

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from tuilib import DATA, SOCKLAB, Tmux, check, finish, need, run

REC = os.path.join(DATA, "lesson02.rec")
SCREENS = [("overview", None), ("ladder", "2"), ("sockets", "3"), ("states", "4")]


def golden_path(name):
    return os.path.join(DATA, "lesson02.%s.golden" % name)


def capture_screens():
    shots = {}
    # NO_COLOR: the same text on any terminal (edges are drawn with #).
    with Tmux("%s replay %s" % (SOCKLAB, REC), env={"NO_COLOR": "1"}) as t:
        if t.wait_for(r"REPLAY \d+/\d+", what="replay status") is None:
            return None
        t.keys("End")
        s = t.wait_for(r"REPLAY (\d+)/\1 ", what="replay at its end")
        if s is None:
            return None
        for name, key in SCREENS:
            if key is not None:
                t.keys(key)
                marker = {"2": "- ladder:", "3": "- sockets", "4": "- TCP states"}[key]
                if t.wait_for("^" + marker, what=name) is None:
                    return None
            shots[name] = t.screen()
    return shots


def inferred_recording(tmp):
    """REC as if nothing had captured: no wire lines, infer=1 in the header."""
    path = os.path.join(tmp, "lesson02.infer.rec")
    with open(REC) as f:
        lines = f.read().splitlines(True)
    lines[0] = lines[0].replace(" infer=0", " infer=1")
    with open(path, "w") as f:
        f.writelines(l for l in lines if not l.startswith("v1 src=wire "))
    return path


def main():
    update = "--update" in sys.argv[1:]
    need(SOCKLAB)
    shots = capture_screens()
    check(shots is not None, "replay runs in tmux and reaches the end of the recording")
    dump = run([SOCKLAB, "replay", REC, "--batch"])
    check(dump.returncode == 0, "socklab replay --batch exits 0")
    with tempfile.TemporaryDirectory() as tmp:
        inferred = run([SOCKLAB, "replay", inferred_recording(tmp), "--batch"])
    check(inferred.returncode == 0, "socklab replay --batch of the inferred session exits 0")
    if update:
        with open(os.path.join(DATA, "lesson02.infer.dump"), "w") as f:
            f.write(inferred.stdout)
    if update and shots is not None:
        for name, text in shots.items():
            with open(golden_path(name), "w") as f:
                f.write(text)
        with open(os.path.join(DATA, "lesson02.dump"), "w") as f:
            f.write(dump.stdout)
        print("golden files written")
        return
    if shots is not None:
        for name, text in shots.items():
            with open(golden_path(name)) as f:
                want = f.read()
            ok = check(text == want, "the %s screen is exactly the golden one" % name)
            if not ok:
                for i, (a, b) in enumerate(zip(want.splitlines(), text.splitlines())):
                    if a != b:
                        print("  line %d want: %r\n  line %d got:  %r" % (i, a, i, b))
        # What the golden itself must show, so that a wrong golden fails too.
        over = shots["overview"]
        check("TIME_WAIT" in over and "TW 60s" in over,
              "the clients' TIME_WAIT and its timer are on the overview")
        lad = shots["ladder"]
        check("SYN mss=65495" in lad and "SYN,ACK" in lad and "FIN,ACK" in lad,
              "the ladder shows SYN with its options, SYN,ACK and FIN,ACK")
        check(lad.count("PSH,ACK") == 4, "the ladder shows the four data segments")
        socks = shots["sockets"]
        check("SYN_SENT > ESTABLISHED > FIN_WAIT1 > FIN_WAIT2 > TIME_WAIT" in socks,
              "a client's history is the active close")
        check("SYN_RECV > ESTABLISHED > CLOSE_WAIT > LAST_ACK" in socks,
              "the server side's history is the passive close")
    with open(os.path.join(DATA, "lesson02.dump")) as f:
        check(dump.stdout == f.read(), "socklab replay --batch prints exactly data/lesson02.dump")
    with open(os.path.join(DATA, "lesson02.infer.dump")) as f:
        want = f.read()
    check(inferred.stdout == want,
          "the session without captures prints exactly data/lesson02.infer.dump")
    segs = want.split("\nsegments\n")[-1].splitlines()
    check(len(segs) == 22 and all(s.endswith("(inferred)") for s in segs),
          "the golden: 22 segments for two connections, every one inferred")
    check(want.count("ESTABLISHED -> FIN_WAIT1 (inferred: FIN sent)") == 2 and
          want.count("LAST_ACK -> CLOSE (inferred: ACK of FIN)") == 2,
          "the golden: each close() moves its end through the FIN it drew")
    with tempfile.TemporaryDirectory() as tmp:
        junk = os.path.join(tmp, "junk.rec")
        with open(junk, "wb") as f:
            f.write(b"\x00\xffnot a recording\nv1 ph=after\n" * 50)
        r = run([SOCKLAB, "replay", junk, "--batch"])
        check(r.returncode == 1 and "not a socklab recording" in r.stderr,
              "a file that is not a recording: exit 1 and a clear message")
        r = run([SOCKLAB, "replay", os.path.join(tmp, "missing.rec"), "--batch"])
        check(r.returncode == 1 and "No such file" in r.stderr, "a missing file: exit 1")
        broken = os.path.join(tmp, "broken.rec")
        with open(REC) as f:
            lines = f.read().splitlines(True)
        # Garble every 7th line after the header.
        for i in range(1, len(lines), 7):
            lines[i] = "v1 ph=after pid=x%%zz ===\n" if i % 2 else "\x01\x02garbage\n"
        with open(broken, "w") as f:
            f.writelines(lines)
        r = run([SOCKLAB, "replay", broken, "--batch"])
        check(r.returncode == 0 and "segments" in r.stdout,
              "a recording with broken lines still replays (exit 0)")


if __name__ == "__main__":
    main()
    finish()
