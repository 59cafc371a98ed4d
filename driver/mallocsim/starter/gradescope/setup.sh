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
# A mirror caught mid-sync fails one index or another; the packages usually come from the rest,
# and the install below says what is lacking.
apt-get update || echo "setup.sh: apt-get update failed; installing from the lists it has" >&2
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
# The payload pattern's secret (pattern_secret.py), drawn once, into the image: every container
# Gradescope starts from it grades the same code with the same bytes in its blocks. Drawn in each
# container instead, a file that read its payloads as its own data scored 0.0 or 83.35 from one
# submission of it to the next (lab check run 14, red-team pass 24). It lies in a cache folder of
# the image's own, which run_autograder names too (whatever HOME each is given), and which no
# submission's sandbox may read.
XDG_CACHE_HOME=/opt/mallocsim/cache /opt/mallocsim/bin/python -I -c \
    'import sys; from mallocsim.pattern_secret import grader_secret; sys.exit(grader_secret() is None)'
