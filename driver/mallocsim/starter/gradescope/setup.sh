#!/usr/bin/env bash
# setup.sh - Gradescope runs this once, as root, when it builds the autograder's image: a C
# compiler (each mm.c is built as its lab builds it), valgrind (the instruction-counted throughput
# that makes a grade the same on every run), and mallocsim from the source shipped in this zip
# (mallocsim-src/, written by `mallocsim init --gradescope`), in a virtual environment of its own.
# mallocsim needs Python 3.11 or newer: choose Gradescope's Ubuntu 24.04 base image.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
# The sandbox links libseccomp, in both word sizes (the CS:APP lab builds mm.c -m32, as its
# handout does, and grades it in a 32-bit engine); gcc-multilib builds those; the cmu lab compiles
# with clang, as its Makefile does. Without them the engine's build failed and no grade was made
# (lab check run 11, on a fresh image).
dpkg --add-architecture i386
apt-get update
apt-get install -y --no-install-recommends build-essential make python3 python3-venv valgrind \
    clang gcc-multilib libseccomp-dev libseccomp-dev:i386
if ! python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    echo "setup.sh: mallocsim needs Python 3.11 or newer; this image has $(python3 --version):" \
        "choose the Ubuntu 24.04 base image in the autograder settings" >&2
    exit 1
fi
python3 -m venv /opt/mallocsim
/opt/mallocsim/bin/pip install --quiet --upgrade pip
/opt/mallocsim/bin/pip install --quiet /autograder/source/mallocsim-src
/opt/mallocsim/bin/mallocsim --help > /dev/null
