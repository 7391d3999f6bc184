#!/bin/sh
# The README's main job: installs what is missing, builds, and renders the bundled real
# trained scene from its five cameras into renders/*.png on the default OpenCL device.
set -eu
cd "$(dirname "$0")/.."
sh .ci/install-deps
export POCL_CACHE_DIR="${POCL_CACHE_DIR:-$PWD/.cache/pocl}"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCLS_BUILD_TESTS=OFF
cmake --build build -j"$(nproc 2>/dev/null || echo 2)"
./build/cli/clsplat render sample/fruit_drops/scene.ply --cameras sample/fruit_drops/cameras.json \
    --all --out renders --verbose
