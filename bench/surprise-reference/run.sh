#!/usr/bin/env bash
# Builds the C port of Surprise's SVD and runs it.
#
#   bench/surprise-reference/run.sh                      the full comparison (abrec bench surprise)
#   bench/surprise-reference/run.sh --data u.data --train TRAIN_ROWS --test TEST_ROWS [svd options]
#                                                        one fold, one JSON line on stdout
#
# CFLAGS overrides the optimisation flags (default -O2); OUT_DIR keeps the binary (default: a
# temporary directory, removed on exit).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"

if [ "$#" -eq 0 ]; then
  # The command compiles the reference itself, with the same flags.
  cd "$root"
  exec npx abrec bench surprise "--cflags=${CFLAGS:--O2}"
fi

command -v gcc >/dev/null || { echo "run.sh: gcc is not on PATH (Debian/Ubuntu: apt-get install gcc)" >&2; exit 1; }
if [ -n "${OUT_DIR:-}" ]; then
  out="$OUT_DIR"
  mkdir -p "$out"
else
  out="$(mktemp -d)"
  trap 'rm -rf "$out"' EXIT
fi
# shellcheck disable=SC2086 # CFLAGS is a list of flags
gcc ${CFLAGS:--O2} -std=c11 -o "$out/surprise-svd" "$here/svd.c" -lm
"$out/surprise-svd" "$@"
