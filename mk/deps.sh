#!/usr/bin/env bash
# Install the Debian packages socklab needs, in two groups:
#   build  what `make` and `make run` need: a compiler, pkg-config,
#          ncursesw, libpcap, liburing (and addr2line, which comes with gcc)
#   test   what `make test` adds: cmocka, valgrind, tmux, nc, socat, nft,
#          tcpdump, ping, python3, ss, curl, clang's fuzzer runtime, and for
#          the export, install and lesson 20 tests chromium, xmllint and man
#
#   mk/deps.sh [GROUP]           install whatever is missing (as root), or
#                                print the exact sudo line and exit 1
#   mk/deps.sh --check [GROUP]   only check: exit 0 when nothing is missing
#   mk/deps.sh --ensure [GROUP]  check quietly; install only when something
#                                is missing
# GROUP is build, test or all (the default: both).
set -u

# pkg-config module -> Debian package, per group
BUILD_PC_PKGS=(
  "ncursesw:libncurses-dev"
  "libpcap:libpcap-dev"
  "liburing:liburing-dev"
)
TEST_PC_PKGS=(
  "cmocka:libcmocka-dev"
)
# command -> Debian package, per group
BUILD_CMD_PKGS=(
  # the compiler the Makefile runs (a fresh Debian has none)
  "cc:gcc"
  "pkg-config:pkg-config"
  "addr2line:binutils"
)
TEST_CMD_PKGS=(
  "nc:netcat-openbsd"
  # pgrep: tests look for processes a check left running (a minimal
  # Debian, such as a container's, has no procps); gcc by name: the
  # exercise tests build students' copies with it, and cc may be clang's
  "pgrep:procps"
  "gcc:gcc"
  "socat:socat"
  "python3:python3"
  "ss:iproute2"
  "valgrind:valgrind"
  "ping:iputils-ping"
  "tcpdump:tcpdump"
  "tmux:tmux"
  "nft:nftables"
  # an HTTP client no one here wrote, for lesson 20's tests
  "curl:curl"
  # a browser for the exported page, an XML checker (also for the graded
  # classes' JUnit XML), man for the installed manual pages, and prove,
  # which reads the graded classes' TAP
  "chromium:chromium"
  "xmllint:libxml2-utils"
  "man:man-db"
  "prove:perl"
)

mode=install
group=all
for arg in "$@"; do
  case $arg in
    --check|--ensure) mode=$arg ;;
    build|test|all) group=$arg ;;
    -h|--help)
      sed -n '2,15s/^# \{0,1\}//p' "$0"; exit 0 ;;
    *) echo "usage: mk/deps.sh [--check|--ensure] [build|test|all]" >&2; exit 2 ;;
  esac
done

PC_PKGS=() CMD_PKGS=()
if [ "$group" != test ]; then PC_PKGS+=("${BUILD_PC_PKGS[@]}"); CMD_PKGS+=("${BUILD_CMD_PKGS[@]}"); fi
if [ "$group" != build ]; then PC_PKGS+=("${TEST_PC_PKGS[@]}"); CMD_PKGS+=("${TEST_CMD_PKGS[@]}"); fi

missing=()
for pair in "${PC_PKGS[@]}"; do
  mod=${pair%%:*} pkg=${pair#*:}
  pkg-config --exists "$mod" 2>/dev/null || missing+=("$pkg")
done
for pair in "${CMD_PKGS[@]}"; do
  cmd=${pair%%:*} pkg=${pair#*:}
  # nft and ss live in /usr/sbin, which an ordinary user's PATH may lack.
  PATH=$PATH:/usr/sbin:/sbin command -v "$cmd" >/dev/null 2>&1 || missing+=("$pkg")
done

# clang's libFuzzer and sanitizer runtimes (for `make fuzz` and the fuzz
# smoke run in `make test`), when clang is there but cannot link them.
if [ "$group" != build ] && command -v clang >/dev/null 2>&1 &&
   ! printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { (void)d; (void)n; return 0; }\n' |
     clang -fsanitize=fuzzer -x c - -o /dev/null >/dev/null 2>&1; then
  missing+=("libclang-rt-$(clang -dumpversion | cut -d. -f1)-dev")
fi

if [ "$mode" = --check ]; then
  if [ ${#missing[@]} -gt 0 ]; then echo "missing: ${missing[*]}"; exit 1; fi
  exit 0
fi

if [ ${#missing[@]} -eq 0 ]; then
  [ "$mode" = install ] && echo "deps: everything is installed"
  exit 0
fi

echo "deps: missing packages: ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  echo "deps: not root; install them with:"
  echo "  sudo apt-get install -y ${missing[*]}"
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq || { echo "deps: apt-get update failed" >&2; exit 1; }
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
  { echo "deps: apt-get install failed" >&2; exit 1; }
echo "deps: installed ${missing[*]}"
