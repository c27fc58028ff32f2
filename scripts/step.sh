#!/usr/bin/env bash
# One set-up step of `make demo` and `make test`. When its command fails, the last line it prints
# names the step and the command that re-runs just that step:
#   ontask setup: step NAME failed (exit N); re-run it alone with: make NAME
# Steps run side by side (make -j) print that line amid the others' output; --collect runs them
# and prints the lines of those that failed again once all have ended, so they come last.
# Usage: step.sh NAME -- COMMAND [ARG...]       run one step (NAME is the make target re-running it)
#        step.sh --collect -- COMMAND [ARG...]  run steps (a make -j), their failures said last
set -uo pipefail

if [[ "${1:-}" == --collect ]]; then
  [[ "${2:-}" == -- ]] || { echo "usage: step.sh --collect -- COMMAND [ARG...]" >&2; exit 2; }
  shift 2
  failed="$(mktemp)"
  trap 'rm -f "$failed"' EXIT
  ONTASK_SETUP_FAILED="$failed" "$@"
  status=$?
  # Each failed step once, in the order they failed.
  [[ $status -ne 0 ]] && awk '!seen[$0]++' "$failed" >&2
  exit $status
fi

[[ $# -ge 3 && "$2" == -- ]] || { echo "usage: step.sh NAME -- COMMAND [ARG...]" >&2; exit 2; }
name="$1"
shift 2
"$@"
status=$?
if [[ $status -ne 0 ]]; then
  line="ontask setup: step $name failed (exit $status); re-run it alone with: make $name"
  echo "$line" >&2
  [[ -n "${ONTASK_SETUP_FAILED:-}" ]] && echo "$line" >> "$ONTASK_SETUP_FAILED"
fi
exit $status
