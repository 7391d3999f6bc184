#!/bin/sh
# Runs a test binary under Oclgrind (an OpenCL device simulator) with its data-race,
# uninitialised-memory and API checks, on the small problem set (CLS_TEST_SMALL=1).
# Oclgrind reports problems on stderr but keeps the exit code of the program, so the log
# is checked here: any report fails the test.
#   usage: oclgrind-run.sh <test binary> [args...]
set -u
log=$(mktemp "${TMPDIR:-/tmp}/clsplat-oclgrind.XXXXXX")
trap 'rm -f "$log"' EXIT
CLS_TEST_SMALL=1 CK_FORK=no oclgrind --data-races --uninitialized --check-api --log "$log" "$@"
status=$?
if [ -s "$log" ]; then
    echo "Oclgrind reported problems:"
    head -n 200 "$log"
    exit 1
fi
exit $status
