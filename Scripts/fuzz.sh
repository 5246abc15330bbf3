#!/usr/bin/env bash
# Fuzzing: small clips in several codecs and containers, mutated by zzuf (Debian package `zzuf`), through
# `info --count` and a small `flow`. A crash (the tool killed by a signal) or a hang (past the time limit) fails;
# a refusal (exit 1 or 3 with one line) is what a damaged file should get. A few minutes on 2 cores.
#
#   Scripts/fuzz.sh [MCJEPA_VIDEO_BINARY] [FILES]     (default: .build/debug/mcjepa-video, 100 files)
set -uo pipefail
cd "$(dirname "$0")/.."
tool=${1:-.build/debug/mcjepa-video}
count=${2:-100}
[ -x "$tool" ] || { echo "fuzz: $tool is not built (swift build)"; exit 1; }
command -v zzuf >/dev/null || { echo "fuzz: zzuf is not installed (Scripts/install-deps.sh)"; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Seeds: 8 frames of 64x48 in each codec/container pair (generated, so no licence question), and a real clip's start.
seeds=()
for spec in "libx264 mp4" "mjpeg avi" "mpeg4 mov" "mpeg2video mpg" "ffv1 mkv" "png mov"; do
    set -- $spec
    out="$work/seed-$1.$2"
    ffmpeg -v error -f lavfi -i "testsrc=size=64x48:rate=10:duration=0.8" -c:v "$1" -pix_fmt yuv420p "$out" 2>/dev/null \
        || ffmpeg -v error -f lavfi -i "testsrc=size=64x48:rate=10:duration=0.8" -c:v "$1" "$out" || continue
    seeds+=("$out")
done
ffmpeg -v error -i Samples/realshort.mp4 -t 0.5 -c copy "$work/seed-real.mp4" && seeds+=("$work/seed-real.mp4")
[ ${#seeds[@]} -gt 0 ] || { echo "fuzz: ffmpeg made no seed files"; exit 1; }

crashes=0; hangs=0; refused=0; accepted=0
keep=.build/fuzz-failures   # crashing and hanging files are copied here to reproduce them
check() { # status, what
    if [ "$1" -eq 124 ]; then hangs=$((hangs + 1)); echo "HANG: $2"; mkdir -p "$keep"; cp "$mutated" "$keep/"
    elif [ "$1" -ge 128 ]; then crashes=$((crashes + 1)); echo "CRASH (signal $(($1 - 128))): $2"; mkdir -p "$keep"; cp "$mutated" "$keep/"
    elif [ "$1" -eq 0 ]; then accepted=$((accepted + 1))
    else refused=$((refused + 1)); fi
}
for i in $(seq 1 "$count"); do
    seed=${seeds[$((i % ${#seeds[@]}))]}
    mutated="$work/fuzz-$i.${seed##*.}"
    # From 0.05% to 0.4% of the bits flipped (light damage reaches the decoders, heavy damage the demuxers), each
    # file its own zzuf seed, so a failure names the command that reproduces it.
    ratios=(0.0005 0.001 0.002 0.004); ratio=${ratios[$(((i / ${#seeds[@]}) % 4))]}
    zzuf -s "$i" -r "$ratio" < "$seed" > "$mutated"
    timeout 30 "$tool" info --count "$mutated" > /dev/null 2>&1
    check $? "info --count $mutated (zzuf -s $i -r $ratio < $seed)"
    timeout 60 "$tool" flow "$mutated" -o "$work/flow-$i" --max-side 32 --no-refine --progress none > /dev/null 2>&1
    check $? "flow $mutated (zzuf -s $i -r $ratio < $seed)"
    rm -rf "$work/flow-$i" "$mutated"
done
echo "fuzz: $count mutated files x (info --count, flow): $accepted accepted, $refused refused, $crashes crashes, $hangs hangs"
[ $crashes -eq 0 ] && [ $hangs -eq 0 ]
