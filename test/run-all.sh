#!/bin/sh
# The README's test command: installs what is missing, builds, and runs the whole suite on
# the default OpenCL device (PoCL on a machine without a GPU), including the Oclgrind race,
# bounds and uninitialised-memory checks; then builds again with AddressSanitizer and
# UndefinedBehaviorSanitizer and runs the suite once more (without Oclgrind, which cannot
# run under ASan).
set -eu
cd "$(dirname "$0")/.."
sh .ci/install-deps
jobs=$(nproc 2>/dev/null || echo 2)
# PoCL compiles every kernel once and keeps it here for both builds and later runs.
export POCL_CACHE_DIR="${POCL_CACHE_DIR:-$PWD/.cache/pocl}"
mkdir -p "$POCL_CACHE_DIR"

cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build build -j"$jobs"
ctest --test-dir build --output-on-failure

cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DCLS_SANITIZE=ON
cmake --build build-asan -j"$jobs"
# CK_FORK=no: Check's forked children would exit without LeakSanitizer's report.
# CLS_TEST_SMALL=1: the small problem sets, which run the same host code.
# --repeat until-pass:2: LeakSanitizer's exit-time scan now and then crashes in its own tracer
# ("Tracer caught signal 11") while PoCL's worker threads wind down, with every check passed; a
# real leak or sanitizer error fails both runs.
CLS_TEST_SMALL=1 CK_FORK=no ASAN_OPTIONS=detect_leaks=1 LSAN_OPTIONS="suppressions=$PWD/test/lsan.supp" UBSAN_OPTIONS=print_stacktrace=1 \
    ctest --test-dir build-asan --output-on-failure --label-exclude oclgrind --repeat until-pass:2
