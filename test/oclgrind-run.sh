#!/bin/sh
# Runs a test binary under Oclgrind (an OpenCL device simulator) with its data-race,
# uninitialised-memory and API checks, on the small problem set (CLS_TEST_SMALL=1).
# Oclgrind reports problems on stderr but keeps the exit code of the program, so the log
# is checked here: any report fails the test.
#   usage: oclgrind-run.sh [--races-only] <test binary> [args...]
# --races-only leaves out --uninitialized (see test/engine_backward_tests.cmake for why).
set -u
checks="--data-races --uninitialized --check-api"
if [ "${1:-}" = "--races-only" ]; then
    checks="--data-races --check-api"
    shift
fi
log=$(mktemp "${TMPDIR:-/tmp}/clsplat-oclgrind.XXXXXX")
trap 'rm -f "$log"' EXIT
CLS_TEST_SMALL=1 CK_FORK=no oclgrind $checks --log "$log" "$@"
status=$?
if [ -s "$log" ]; then
    echo "Oclgrind reported problems:"
    head -n 200 "$log"
    exit 1
fi
exit $status
