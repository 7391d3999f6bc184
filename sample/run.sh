#!/bin/sh
# The README's main job: installs what is missing, builds, trains a 3DGS scene on the bundled
# real capture (sample/maupertuis: 4 drone photos + COLMAP model) on the default OpenCL device,
# renders the trained scene from the capture's cameras into renders/, and measures the renders
# against the photos (eval/metrics.json, side-by-side images in eval/test/).
set -eu
cd "$(dirname "$0")/.."
sh .ci/install-deps
export POCL_CACHE_DIR="${POCL_CACHE_DIR:-$PWD/.cache/pocl}"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCLS_BUILD_TESTS=OFF
cmake --build build -j"$(nproc 2>/dev/null || echo 2)"
./build/cli/clsplat train sample/maupertuis --downscale 8 --iters 1500 --out trained --verbose
./build/cli/clsplat render trained/scene.ply --cameras trained/cameras.json --all --out renders --verbose
./build/cli/clsplat eval trained/scene.ply sample/maupertuis --downscale 8 --split all --out eval
