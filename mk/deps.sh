#!/usr/bin/env bash
# Install the Debian packages socklab's build and tests need.
#   mk/deps.sh           install whatever is missing (as root), or print
#                        the exact sudo line and exit 1
#   mk/deps.sh --check   only check: exit 0 when nothing is missing
#   mk/deps.sh --ensure  check quietly; install only when something is missing
set -u

# pkg-config module -> Debian package
PC_PKGS=(
  "cmocka:libcmocka-dev"
  "libpcap:libpcap-dev"
  "liburing:liburing-dev"
  "ncursesw:libncurses-dev"
)
# command -> Debian package
CMD_PKGS=(
  "nc:netcat-openbsd"
  "socat:socat"
  "python3:python3"
  "pkg-config:pkg-config"
  "ss:iproute2"
  "valgrind:valgrind"
  "ping:iputils-ping"
  "tcpdump:tcpdump"
  "tmux:tmux"
  "addr2line:binutils"
  "nft:nftables"
  "xmllint:libxml2-utils"
  "prove:perl"
)

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
if command -v clang >/dev/null 2>&1 &&
   ! printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { (void)d; (void)n; return 0; }\n' |
     clang -fsanitize=fuzzer -x c - -o /dev/null >/dev/null 2>&1; then
  missing+=("libclang-rt-$(clang -dumpversion | cut -d. -f1)-dev")
fi

mode=${1:-install}
case $mode in
  --check)
    if [ ${#missing[@]} -gt 0 ]; then echo "missing: ${missing[*]}"; exit 1; fi
    exit 0 ;;
  --ensure|install) ;;
  -h|--help)
    sed -n '2,7s/^# \{0,1\}//p' "$0"; exit 0 ;;
  *) echo "usage: mk/deps.sh [--check|--ensure]" >&2; exit 2 ;;
esac

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
