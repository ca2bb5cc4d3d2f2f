#!/usr/bin/env bash
# Install socklab, or remove exactly what was installed.
#   mk/install.sh install      (make install PREFIX=... DESTDIR=...)
#   mk/install.sh uninstall    (make uninstall, same PREFIX and DESTDIR)
# Environment: PREFIX (default /usr/local), DESTDIR (default empty), B (the
# build folder, default build), VERSION (for the pkg-config file).
#
# What goes where, under PREFIX:
#   bin/socklab, bin/socklab-exercise
#   lib/libsocklab.a, include/socklab/*.h, lib/pkgconfig/socklab.pc
#   lib/socklab/           laid out as build/: lessons/NN-topic/PROG (and a
#                          folder beside them, lesson 20's www), the
#                          trace shim lib/libsltrace.so, the libraries and
#                          test programs that `socklab check` uses
#   share/socklab/         laid out as the tree: lessons/NN-topic/ (README,
#                          lesson.conf, exercise.conf, sources), lib/*.h,
#                          exercise/support/, tests/lessons/*.c
#   share/man/man1/socklab.1, socklab-exercise.1
#   share/bash-completion/completions/socklab, socklab-exercise
# socklab finds share/socklab and lib/socklab from its own path (tui/paths.c),
# so an installation under DESTDIR, or moved whole, works as it is.
#
# Every file installed, and every folder the installation had to make, is
# listed in share/socklab/install-manifest (paths without DESTDIR);
# uninstall removes those files, then those folders when they are empty,
# and nothing else.
set -euo pipefail
cd "$(dirname "$0")/.."
PREFIX=${PREFIX:-/usr/local}
DESTDIR=${DESTDIR:-}
B=${B:-build}
VERSION=${VERSION:-0}
MANIFEST_REL=share/socklab/install-manifest
manifest=$DESTDIR$PREFIX/$MANIFEST_REL

case $PREFIX in
  /*) ;;
  *) echo "install: PREFIX must be an absolute path: $PREFIX" >&2; exit 2 ;;
esac

entries=()

# Make folder $1 (under PREFIX, without DESTDIR) and every missing parent,
# noting each one made.
make_dir() {
  local d=$1 missing=()
  while [ ! -d "$DESTDIR$d" ]; do
    missing=("$d" "${missing[@]}")
    d=$(dirname "$d")
  done
  for d in "${missing[@]}"; do
    mkdir -m 755 "$DESTDIR$d"
    entries+=("d $d")
  done
}

# put MODE SOURCE DEST (DEST under PREFIX, a file path)
put() {
  local mode=$1 src=$2 dest=$PREFIX/$3
  make_dir "$(dirname "$dest")"
  install -m "$mode" "$src" "$DESTDIR$dest"
  entries+=("f $dest")
}

# link TARGET DEST: a symbolic link DEST -> TARGET
put_link() {
  local dest=$PREFIX/$2
  make_dir "$(dirname "$dest")"
  ln -sfn "$1" "$DESTDIR$dest"
  entries+=("f $dest")
}

need_built() {
  local f
  for f in "$@"; do
    [ -e "$f" ] || { echo "install: $f is not built (make)" >&2; exit 1; }
  done
}

do_install() {
  local f d lesson prog t mode
  need_built "$B/socklab" "$B/socklab-exercise" "$B/lib/libsocklab.a" "$B/lib/liblesson.a" \
    "$B/lib/libsltrace.so"
  put 755 "$B/socklab" bin/socklab
  put 755 "$B/socklab-exercise" bin/socklab-exercise
  # The library for anyone's programs.
  put 644 "$B/lib/libsocklab.a" lib/libsocklab.a
  for f in lib/*.h; do put 644 "$f" "include/socklab/$(basename "$f")"; done
  make_dir "$PREFIX/lib/pkgconfig"
  sed -e "s|@PREFIX@|$PREFIX|" -e "s|@VERSION@|$VERSION|" mk/socklab.pc.in \
    > "$DESTDIR$PREFIX/lib/pkgconfig/socklab.pc"
  chmod 644 "$DESTDIR$PREFIX/lib/pkgconfig/socklab.pc"
  entries+=("f $PREFIX/lib/pkgconfig/socklab.pc")
  # What socklab and socklab-exercise use at run time, laid out as build/.
  put 755 "$B/lib/libsltrace.so" lib/socklab/lib/libsltrace.so
  put 644 "$B/lib/libsocklab.a" lib/socklab/lib/libsocklab.a
  put 644 "$B/lib/liblesson.a" lib/socklab/lib/liblesson.a
  for d in lessons/[0-9]*/; do
    lesson=$(basename "$d")
    for f in "$d"*; do
      [ -f "$f" ] || continue
      # A script among the programs (lesson 14's nft-loss.sh) stays runnable.
      case $f in *.sh) mode=755 ;; *) mode=644 ;; esac
      put "$mode" "$f" "share/socklab/lessons/$lesson/$(basename "$f")"
    done
    for f in "$d"*.c; do
      [ -e "$f" ] || continue
      # common.c is not a program: the build links it into the lesson's
      # programs (the Makefile's LESSON_PROG_SRC leaves it out too).
      [ "$(basename "$f")" = common.c ] && continue
      prog=$B/lessons/$lesson/$(basename "$f" .c)
      need_built "$prog"
      put 755 "$prog" "lib/socklab/lessons/$lesson/$(basename "$prog")"
    done
    # A folder a lesson's programs read from beside them (lesson 20's
    # www, its server's document root), as make put it there.
    for w in "$B/lessons/$lesson"/*/; do
      [ -d "$w" ] || continue
      while IFS= read -r f; do
        put 644 "$f" "lib/socklab/lessons/$lesson/${f#"$B/lessons/$lesson/"}"
      done < <(find "$w" -type f ! -name '.*' | sort)
    done
  done
  for t in "$B"/tests/lessons/test_[0-9]*; do
    [ -x "$t" ] && put 755 "$t" "lib/socklab/tests/lessons/$(basename "$t")"
  done
  # What a student's copy is built with, and what `lint` reads.
  for f in lib/*.h lib/lesson/*.h; do put 644 "$f" "share/socklab/$f"; done
  for f in exercise/support/*; do put 644 "$f" "share/socklab/$f"; done
  for f in tests/lessons/test_[0-9]*.c; do put 644 "$f" "share/socklab/$f"; done
  put 644 man/socklab.1 share/man/man1/socklab.1
  put 644 man/socklab-exercise.1 share/man/man1/socklab-exercise.1
  put 644 completion/socklab.bash share/bash-completion/completions/socklab
  put_link socklab share/bash-completion/completions/socklab-exercise
  write_manifest
  echo "install: $(grep -c '^f ' "$manifest") files in $DESTDIR$PREFIX (list: $DESTDIR$PREFIX/$MANIFEST_REL)"
}

# The new entries, with those of an earlier installation to the same place
# (so that uninstall still removes what only the earlier one put there).
write_manifest() {
  local tmp
  tmp=$(mktemp)
  {
    [ -f "$manifest" ] && grep -v "^f $PREFIX/$MANIFEST_REL\$" "$manifest"
    printf '%s\n' "${entries[@]}"
    echo "f $PREFIX/$MANIFEST_REL"
  } | sort -u > "$tmp"
  install -m 644 "$tmp" "$manifest"
  rm -f "$tmp"
}

do_uninstall() {
  local line path n=0 lines=()
  if [ ! -f "$manifest" ]; then
    echo "uninstall: no $manifest: nothing was installed there" >&2
    exit 1
  fi
  mapfile -t lines < "$manifest"
  # Files first (the manifest among them), then the folders the
  # installation made, deepest first, each only when empty: something else
  # may have been put there since.
  for line in "${lines[@]}"; do
    path=${line#? }
    case $line in "f $PREFIX"/*) ;; *) continue ;; esac
    if [ -e "$DESTDIR$path" ] || [ -L "$DESTDIR$path" ]; then
      rm -f "$DESTDIR$path"
      n=$((n + 1))
    fi
  done
  printf '%s\n' "${lines[@]}" | sed -n 's/^d //p' | sort -r | while read -r path; do
    rmdir "$DESTDIR$path" 2>/dev/null || true
  done
  echo "uninstall: removed $n files from $DESTDIR$PREFIX"
}

case ${1:-} in
  install) do_install ;;
  uninstall) do_uninstall ;;
  *) echo "usage: mk/install.sh install|uninstall" >&2; exit 2 ;;
esac
