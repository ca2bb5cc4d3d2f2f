#!/usr/bin/env bash
# Render every deck slides/*.md to build/slides/*.html with the Marp CLI
# pinned in slides/package.json (installed with `npm ci` on first use).
#
# Pictures from real runs: an image in a deck written
#   ![socklab run 03 timewait](pictures/03-timewait.svg)
# (the alt text is the run; Marp's own keywords such as h:480 may follow)
# is made here: the run is recorded with `socklab run ... --batch
# --record`, then exported with `socklab export --svg --no-calls` to
# build/slides/pictures/, beside the rendered decks. SLIDES_UPDATE=1 also
# copies each picture to slides/pictures/, the copies committed with the
# decks, which tests/slides/check_slides.py compares with a new run.
set -euo pipefail
cd "$(dirname "$0")/.."
B=${B:-build}
out=$B/slides
socklab=$B/socklab

# "socklab run 03 timewait h:480" -> "03 timewait"
run_args() {
  local w args=()
  for w in $1; do
    case $w in
      socklab|run) ;;
      *:*) break ;;
      *) args+=("$w") ;;
    esac
  done
  echo "${args[*]}"
}

make_pictures() {
  local deck line alt pic name args
  mkdir -p "$out/pictures" "$out/rec"
  for deck in slides/[0-9]*.md; do
    [ -e "$deck" ] || continue
    { grep -o '!\[socklab run [^]]*\](pictures/[A-Za-z0-9._-]*\.svg)' "$deck" || true; } |
      while read -r line; do
        alt=${line#\!\[}
        alt=${alt%%\]*}
        pic=${line##*\(}
        pic=${pic%\)}
        name=$(basename "$pic" .svg)
        args=$(run_args "$alt")
        # shellcheck disable=SC2086  # the lesson and scenario are two words
        "$socklab" run $args --batch --record "$out/rec/$name.rec" >/dev/null
        "$socklab" export "$out/rec/$name.rec" --svg --no-calls -o "$out/pictures/$name.svg"
        echo "slides: $pic from socklab run $args"
        if [ "${SLIDES_UPDATE:-}" = 1 ]; then
          mkdir -p slides/pictures
          cp "$out/pictures/$name.svg" "slides/$pic"
        fi
      done
  done
}

if [ ! -x "$socklab" ]; then
  echo "slides: $socklab is not built (make)" >&2
  exit 1
fi
make_pictures
if ! command -v npm >/dev/null 2>&1; then
  echo "slides: npm is needed (Debian: apt-get install npm)" >&2
  exit 1
fi
if [ ! -x slides/node_modules/.bin/marp ] ||
   [ slides/package-lock.json -nt slides/node_modules/.package-lock.json ]; then
  (cd slides && npm ci --no-audit --no-fund --loglevel=error)
fi
mkdir -p "$out"
n=0
for deck in slides/[0-9]*.md; do
  [ -e "$deck" ] || continue
  html="$out/$(basename "${deck%.md}").html"
  slides/node_modules/.bin/marp --html "$deck" -o "$html"
  n=$((n + 1))
done
echo "slides: $n decks rendered to $out/"
