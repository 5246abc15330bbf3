#!/usr/bin/env bash
# The figures a training stage is judged by, for weights W, written to OUT/ (each file starts with its command):
#   flow-dev-eval.txt     eval flow on ../shared/data/flow-dev: the network alone (--no-refine), then refined (the default)
#   synthetic-eval.txt    the held-out synthetic EPE on stage 3's 16 sharp pairs (eval_epe at step 0 of a 1-step run
#                         that writes nothing else of use), then the 24 pairs of Reference/synthetic_flow_set.py
#   davis-dev-eval.txt    label-propagation J&F on ../shared/data/davis-dev
# Usage: Scripts/evaluate-weights.sh W OUT [DATA]   (DATA defaults to ../shared/data; needs a release build)
set -euo pipefail
weights=${1:?usage: $0 WEIGHTS OUT [DATA]}
out=${2:?usage: $0 WEIGHTS OUT [DATA]}
data=${3:-../shared/data}
[ -d "$data" ] || { echo "$0: $data: no such data folder" >&2; exit 1; }
data=$(cd "$data" && pwd)
tool=$PWD/.build/release/mcjepa-video
[ -x "$tool" ] || { echo "$0: build first: swift build -c release" >&2; exit 1; }
[ -f "$weights" ] || { echo "$0: $weights: no such weights file" >&2; exit 1; }
mkdir -p "$out"
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

run() {  # run FILE ARGS...: appends "$ mcjepa-video ARGS" and its output to FILE
    local file=$1; shift
    echo "\$ mcjepa-video $*" >>"$file"
    "$tool" "$@" >>"$file" 2>&1
    echo >>"$file"
}

: >"$out/flow-dev-eval.txt"
run "$out/flow-dev-eval.txt" eval flow "$data/flow-dev" --model "$weights" --no-refine
run "$out/flow-dev-eval.txt" eval flow "$data/flow-dev" --model "$weights"

: >"$out/synthetic-eval.txt"
"$tool" train --out "$scratch/heldout" --init "$weights" --steps 1 --eval-synthetic 16 \
    --synthetic "$data/textures" --synthetic-max-shift 96 --synthetic-shift-power 2 --synthetic-layers 4 \
    --synthetic-jitter --supervised-level-weight 1 --preset tiny --batch 16 --crop 256x320 --content-batch 2 \
    --content-size 64 --content-warmup 0 --supervised-weight 1 --lr 5e-5 --warmup 100 --clip 0 --log-every 1 \
    --threads 2 --loss photo_weight=0 --loss smooth_weight=0 --loss cycle_weight=0 \
    --loss feature_weights=0,0,0,0,0,0 --loss var_weights=0,0,0,0,0,0 --loss cov_weights=0,0,0,0,0,0 \
    --loss vicreg_inv=0 --loss vicreg_var=0 --loss vicreg_cov=0 >/dev/null 2>&1
{
    echo "\$ mcjepa-video train --out HELDOUT --init $weights --steps 1 --eval-synthetic 16 ... (stage 3's pair options; the command is in $0)"
    grep '"step":0' "$scratch/heldout/log.jsonl" | grep eval_epe
    echo
} >>"$out/synthetic-eval.txt"
(cd Reference && python3 synthetic_flow_set.py "$data/textures" "$scratch/synthetic" >/dev/null)
run "$out/synthetic-eval.txt" eval flow "$scratch/synthetic" --model "$weights" --no-refine
run "$out/synthetic-eval.txt" eval flow "$scratch/synthetic" --model "$weights"

: >"$out/davis-dev-eval.txt"
run "$out/davis-dev-eval.txt" eval vos "$data/davis-dev" --model "$weights"
echo "$out: flow-dev-eval.txt synthetic-eval.txt davis-dev-eval.txt"
