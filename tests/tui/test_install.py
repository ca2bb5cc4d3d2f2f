#!/usr/bin/env python3
"""test_install.py — socklab installed like a real tool (mk/install.sh,
what `make install` and `make uninstall` run), into a DESTDIR of its own
with PREFIX=/usr/local, from this build (SOCKLAB_BUILD):

- the files are where a user looks: bin/socklab and bin/socklab-exercise,
  the manual pages, bash completion, a pkg-config file, the shim, the
  lessons with their lesson.conf, README and sources;
- the installed socklab, started from another folder with no SOCKLAB_*
  in its environment, lists the lessons and runs `socklab run 02 --batch`
  with the installed programs and shim (the segments captured, the
  handshakes and closes there); `socklab exercise 02` writes a copy into
  the folder it runs in, and `socklab check 02` builds it against the
  installed headers and libraries and runs the installed tests on it;
- `man -l` shows both pages, and every option the programs' --help names
  is described in them (the pages cannot fall behind the programs);
- a program built with `pkg-config --cflags --libs socklab` links;
- completion offers the commands, lesson numbers and a lesson's scenarios;
- uninstall leaves exactly the files that were there before: a file of
  someone else's in an installed folder stays, with its folder.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from tuilib import BUILD, ROOT, SOCKLAB, check, finish, need, run

PREFIX = "/usr/local"


def files_under(top):
    out = set()
    for d, dirs, files in os.walk(top):
        for name in files + [x for x in dirs if os.path.islink(os.path.join(d, x))]:
            out.add(os.path.relpath(os.path.join(d, name), top))
        for name in dirs:
            out.add(os.path.relpath(os.path.join(d, name), top) + "/")
    return out


def install_script(dest, what):
    env = dict(os.environ, PREFIX=PREFIX, DESTDIR=dest, B=BUILD, VERSION="0.test")
    return run([os.path.join(ROOT, "mk", "install.sh"), what], env=env, timeout=120)


def clean_env(dest):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOCKLAB_")}
    env["PATH"] = dest + PREFIX + "/bin:" + env.get("PATH", "/usr/bin:/bin")
    return env


def check_layout(root):
    for rel in ["bin/socklab", "bin/socklab-exercise", "lib/libsocklab.a",
                "include/socklab/socklab.h", "lib/pkgconfig/socklab.pc",
                "lib/socklab/lib/libsltrace.so", "lib/socklab/lessons/02-tcp-echo/server",
                "lib/socklab/tests/lessons/test_02_tcp_echo",
                "share/socklab/lessons/02-tcp-echo/lesson.conf",
                "share/socklab/lessons/02-tcp-echo/README.md",
                "share/socklab/lessons/02-tcp-echo/server.c",
                "share/man/man1/socklab.1", "share/man/man1/socklab-exercise.1",
                "share/bash-completion/completions/socklab",
                "share/bash-completion/completions/socklab-exercise"]:
        check(os.path.lexists(os.path.join(root, rel)), "installed: %s" % rel)
    lessons = sorted(os.listdir(os.path.join(ROOT, "lessons")))
    confs = [d for d in lessons if os.path.isfile(os.path.join(root, "share/socklab/lessons", d,
                                                                 "lesson.conf"))]
    check(confs == [d for d in lessons if re.match(r"\d\d-", d)], "every lesson's lesson.conf is installed")
    check(os.access(os.path.join(root, "share/socklab/lessons/14-udp/nft-loss.sh"), os.X_OK),
          "a lesson's script stays executable")


def check_runs(dest, root, where):
    env = clean_env(dest)
    socklab = os.path.join(root, "bin", "socklab")
    r = run([socklab, "list"], cwd=where, env=env)
    check(r.returncode == 0 and re.search(r"^02  ", r.stdout, re.M) and "timewait" in r.stdout,
          "installed socklab list, from another folder: the lessons and scenarios")
    r = run([socklab, "run", "02", "--batch"], cwd=where, env=env, timeout=120)
    segs = re.search(r"^segments\n((?:  .*\n)*)", r.stdout, re.M)
    segs = segs.group(1) if segs else ""
    check(r.returncode == 0 and len(re.findall(r"SYN seq=0", segs)) == 2 and
          len(re.findall(r"FIN,ACK", segs)) == 4 and "TIME_WAIT" in r.stdout,
          "installed socklab run 02 --batch from another folder: exit %d, two handshakes, four FINs"
          % r.returncode)
    check(re.search(r"^  client\[\d+\] exited 0", r.stdout, re.M) is not None,
          "the installed lesson programs ran (a client exited 0)")
    r = run([socklab, "exercise", "02"], cwd=where, env=env)
    check(r.returncode == 0 and os.path.isfile(os.path.join(where, "work/02-tcp-echo/server.c")),
          "installed socklab exercise 02 writes work/02-tcp-echo/ where it runs")
    r = run([socklab, "check", "02"], cwd=where, env=env, timeout=240)
    check(r.returncode == 1 and "0 of 3 steps pass" in r.stdout and "step 1" in r.stdout,
          "installed socklab check 02 builds the copy and runs the installed tests on it "
          "(exit %d: the unwritten step 1 fails)" % r.returncode)


def help_options(cmd):
    r = run(cmd + ["--help"])
    return set(re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", r.stdout))


def described(page, opt):
    """An option is in an mdoc page as .Fl -name (mdoc adds one dash), or
    written out in a quoted command line."""
    return re.search(r"\bFl (?:\S+ )*?-%s\b" % re.escape(opt[2:]), page) is not None or \
        re.search(r"[, ]-%s\b" % re.escape(opt[2:]), page) is not None or opt in page


def check_manuals(root):
    if shutil.which("man") is None:
        check(False, "man is installed (make deps installs man-db)")
        return
    for page, title in [("socklab.1", "SOCKLAB(1)"), ("socklab-exercise.1", "SOCKLAB-EXERCISE(1)")]:
        path = os.path.join(root, "share/man/man1", page)
        r = subprocess.run(["man", "--warnings", "-l", path], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, env=dict(os.environ, MANPAGER="cat", MANWIDTH="80"),
                           timeout=60)
        text = r.stdout.decode("utf-8", "replace")
        check(r.returncode == 0 and title in text and "NAME" in text and "EXIT STATUS" in text,
              "man -l %s: exit %d, the page renders" % (page, r.returncode))
        check(r.stderr.strip() == b"", "man --warnings: %s has no formatting warnings: %r"
              % (page, r.stderr[:200]))
    with open(os.path.join(root, "share/man/man1/socklab.1")) as f:
        page = f.read()
    missing = []
    for cmd in ["run", "trace", "watch", "replay", "export", "list"]:
        for opt in help_options([SOCKLAB, cmd]):
            if not described(page, opt):
                missing.append("socklab %s %s" % (cmd, opt))
    with open(os.path.join(root, "share/man/man1/socklab-exercise.1")) as f:
        xpage = f.read()
    for opt in help_options([os.path.join(BUILD, "socklab-exercise")]):
        if not described(xpage, opt):
            missing.append("socklab-exercise %s" % opt)
    check(not missing, "every option of the --help texts is in the manual pages: missing %s" % missing)


def check_pkgconfig(dest, root, tmp):
    prog = os.path.join(tmp, "uses_lib.c")
    with open(prog, "w") as f:
        f.write('#include <stdio.h>\n#include "socklab.h"\n'
                "int main(void)\n{\n\tchar err[SL_ERR_LEN];\n\t(void)err;\n"
                '\treturn sl_io_write_all(1, "linked\\n", 7) < 0;\n}\n')
    pc = os.path.join(root, "lib/pkgconfig")
    r = run(["pkg-config", "--define-variable=prefix=" + root, "--cflags", "--libs", "socklab"],
            env=dict(os.environ, PKG_CONFIG_PATH=pc))
    flags = r.stdout.split()
    check(r.returncode == 0 and "-lsocklab" in flags and "-I%s/include/socklab" % root in flags,
          "pkg-config --cflags --libs socklab: %s" % r.stdout.strip())
    exe = os.path.join(tmp, "uses_lib")
    c = run([os.environ.get("CC", "cc"), "-o", exe, prog] + flags)
    r = run([exe]) if c.returncode == 0 else c
    check(c.returncode == 0 and r.stdout == "linked\n",
          "a program built with those flags links against the installed library%s"
          % (": " + c.stderr[-300:] if c.returncode else ""))


def check_completion(dest, root):
    script = os.path.join(root, "share/bash-completion/completions/socklab")
    probe = ('source "%s"; t() { COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); '
             '_socklab; echo "${COMPREPLY[*]}"; }; t socklab ex; t socklab run ""; '
             't socklab run 03 time; t socklab export x.rec --s' % script)
    r = run(["bash", "-c", probe], env=clean_env(dest))
    lines = r.stdout.split("\n")
    check(r.returncode == 0 and len(lines) >= 4 and lines[0].split() == ["export", "exercise"] and
          "02" in lines[1].split() and "18" in lines[1].split() and lines[2] == "timewait" and
          lines[3] == "--svg",
          "completion: commands, lesson numbers, a lesson's scenarios, options: %r" % lines[:4])


def main():
    need(SOCKLAB)
    with tempfile.TemporaryDirectory() as tmp:
        dest = os.path.join(tmp, "dest")
        root = dest + PREFIX
        # Someone else's file in a folder the installation also uses.
        os.makedirs(os.path.join(root, "share", "man", "man1"))
        with open(os.path.join(root, "share", "man", "man1", "other.1"), "w") as f:
            f.write(".Dd\n")
        before = files_under(dest)
        r = install_script(dest, "install")
        check(r.returncode == 0, "install into a DESTDIR: exit %d %s" % (r.returncode, r.stderr.strip()))
        check_layout(root)
        where = os.path.join(tmp, "elsewhere")
        os.mkdir(where)
        check_runs(dest, root, where)
        check_manuals(root)
        check_pkgconfig(dest, root, tmp)
        check_completion(dest, root)
        r = install_script(dest, "install")
        check(r.returncode == 0, "installing again over it: exit 0")
        r = install_script(dest, "uninstall")
        after = files_under(dest)
        check(r.returncode == 0 and after == before,
              "uninstall leaves exactly what was there before (left: %s; gone: %s)"
              % (sorted(after - before)[:5], sorted(before - after)[:5]))
        r = install_script(dest, "uninstall")
        check(r.returncode == 1 and "nothing was installed" in r.stderr,
              "uninstall with nothing installed: exit 1, says so")
    finish()


if __name__ == "__main__":
    main()
