#!/bin/sh
# End-to-end checks of the clsplat command: the main job on the bundled sample, and one clear
# message plus a non-zero exit for each kind of bad input.
#   usage: cli-test.sh <clsplat binary> <source dir> <scratch dir> [shared data dir]
set -u
bin=$1
src=$2
tmp=$3
data=${4:-}
rm -rf "$tmp" && mkdir -p "$tmp"
failures=0
passed=0

ok() { # ok <description> <command...>
    desc=$1; shift
    if out=$("$@" 2>&1); then passed=$((passed + 1)); else
        echo "FAIL: $desc: exit $? from: $*"; echo "$out" | head -n 5; failures=$((failures + 1)); fi
}
fails() { # fails <description> <expected text in stderr> <command...>
    desc=$1; want=$2; shift 2
    out=$("$@" 2>&1 >/dev/null); status=$?
    if [ $status -eq 0 ]; then echo "FAIL: $desc: exit 0 from: $*"; failures=$((failures + 1))
    elif ! printf '%s' "$out" | grep -qF -- "$want"; then
        echo "FAIL: $desc: message lacks '$want': $out"; failures=$((failures + 1))
    else passed=$((passed + 1)); fi
}

scene=$src/sample/fruit_drops/scene.ply
cams=$src/sample/fruit_drops/cameras.json

ok "help" "$bin" --help
ok "render help" "$bin" render --help
ok "devices" "$bin" devices
ok "info" "$bin" info "$scene"
ok "render all sample views" "$bin" render "$scene" --cameras "$cams" --all --out "$tmp/renders"
for i in 00 01 02 03 04; do
    [ -s "$tmp/renders/fruit_drops_$i.png" ] || { echo "FAIL: renders/fruit_drops_$i.png missing"; failures=$((failures + 1)); }
done
ok "render one view with alpha, depth, 16 bit, width" "$bin" render "$scene" --cameras "$cams" --index 2 \
    --out "$tmp/one.png" --alpha --depth --16bit --width 320 --background 1,1,1 --antialiased
[ -s "$tmp/one.png" ] && [ -s "$tmp/one.depth.pfm" ] || { echo "FAIL: one.png or one.depth.pfm missing"; failures=$((failures + 1)); }
ok "convert to splat" "$bin" convert "$scene" "$tmp/scene.splat"
ok "render the splat" "$bin" render "$tmp/scene.splat" --cameras "$cams" --out "$tmp/splat.png"
ok "grad against a render of another view" "$bin" grad "$scene" --cameras "$cams" --index 2 \
    --target "$tmp/renders/fruit_drops_01.png" --out "$tmp/grads.ply"
[ -s "$tmp/grads.ply" ] || { echo "FAIL: grads.ply missing"; failures=$((failures + 1)); }
ok "train help" "$bin" train --help
ok "bench render" "$bin" bench render "$scene" --cameras "$cams" --repeats 2 --warmup 1
ok "bench grad" "$bin" bench grad "$scene" --cameras "$cams" --repeats 2 --warmup 1
ok "bench sort" "$bin" bench sort --count 100000 --bits 13 --repeats 2

fails "unknown command" "unknown command" "$bin" frobnicate
fails "missing cameras" "--cameras SOURCE is required" "$bin" render "$scene"
fails "missing scene file" "no-such.ply" "$bin" render "$tmp/no-such.ply" --cameras "$cams"
fails "bad index" "--index 99" "$bin" render "$scene" --cameras "$cams" --index 99
fails "negative index" "--index" "$bin" render "$scene" --cameras "$cams" --index -1
fails "bad width" "--width" "$bin" render "$scene" --cameras "$cams" --width 0
fails "bad background" "--background" "$bin" render "$scene" --cameras "$cams" --background 1,2
fails "unknown option" "--bogus" "$bin" render "$scene" --cameras "$cams" --bogus
fails "index and all" "exclude" "$bin" render "$scene" --cameras "$cams" --all --index 1
fails "no such device" "no OpenCL device matches" "$bin" render "$scene" --cameras "$cams" --device no-such-device
printf 'ply\nformat binary_little_endian 1.0\nelement vertex 3\nproperty float x\nend_header\n' > "$tmp/bad.ply"
fails "malformed ply" "bad.ply" "$bin" info "$tmp/bad.ply"
fails "convert to unknown extension" "scene.xyz" "$bin" convert "$scene" "$tmp/scene.xyz"
fails "output folder missing" "no_dir" "$bin" render "$scene" --cameras "$cams" --out "$tmp/no_dir/x.png"
[ ! -e "$tmp/no_dir" ] || { echo "FAIL: a failed write created files"; failures=$((failures + 1)); }
fails "grad without target" "--target IMAGE is required" "$bin" grad "$scene" --cameras "$cams" --out "$tmp/g.ply"
fails "grad target missing" "no-such.png" "$bin" grad "$scene" --cameras "$cams" --target "$tmp/no-such.png" --out "$tmp/g.ply"
fails "train without out" "--out DIR is required" "$bin" train "$src/sample"
fails "train bad downscale" "--downscale" "$bin" train "$src/sample" --out "$tmp/t" --downscale 3
fails "train on a folder without data" "sample" "$bin" train "$src/sample" --out "$tmp/t" --iters 1
echo '{"frames": [' > "$tmp/broken.json"
fails "broken json" "broken.json" "$bin" render "$scene" --cameras "$tmp/broken.json"

fails "eval bad split" "--split" "$bin" eval "$scene" "$src/sample" --split train
fails "eval without dataset" "expected SCENE and DATASET" "$bin" eval "$scene"

# Training and evaluation end to end, on the real 4-photo maupertuis capture when present.
if [ -n "$data" ] && [ -d "$data/maupertuis" ]; then
    ok "train with --eval and a checkpoint" "$bin" train "$data/maupertuis" --downscale 8 --iters 40 --eval \
        --save-every 20 --out "$tmp/train" --quiet
    for f in scene.ply cameras.json metrics.json checkpoint.bin; do
        [ -s "$tmp/train/$f" ] || { echo "FAIL: train/$f missing"; failures=$((failures + 1)); }
    done
    ok "resume to 60 steps" "$bin" train "$data/maupertuis" --downscale 8 --iters 60 --eval \
        --resume "$tmp/train/checkpoint.bin" --out "$tmp/train" --quiet
    ok "eval a trained scene" "$bin" eval "$tmp/train/scene.ply" "$data/maupertuis" --downscale 8 --split all \
        --out "$tmp/eval"
    [ -s "$tmp/eval/metrics.json" ] || { echo "FAIL: eval/metrics.json missing"; failures=$((failures + 1)); }
else
    echo "SKIP training end to end: ../shared/data not present"
fi

echo "cli: $passed passed, $failures failed"
[ $failures -eq 0 ]
