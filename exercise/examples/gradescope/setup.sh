#!/usr/bin/env bash
# setup.sh — Gradescope runs this once, as root, when it builds the
# autograder's image (Ubuntu). The autograder zip holds setup.sh,
# run_autograder and socklab/ (a copy of the course's socklab tree).
set -euo pipefail
apt-get update
/autograder/source/socklab/mk/deps.sh
make -C /autograder/source/socklab -j"$(nproc)"
