#!/usr/bin/env bash
# Render every deck slides/*.md to build/slides/*.html with the Marp CLI
# pinned in slides/package.json (installed with `npm ci` on first use).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${B:-build}/slides
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
