#!/bin/bash
# One joint MC-JEPA stage (flow + content, one shared encoder) of the tiny model on one GPU with the PyTorch reference
# trainer, sized to a wall-clock budget: a short probe measures steps/s, then the stage runs a full warm-up + cosine
# schedule of as many steps as fit. The recipe is the Swift trainer's joint one (stages 47-48): video and synthetic
# flow pairs (synthetic ones supervised at 0.1), VICReg on 16 items at 192 px, half of them temporal positives up to
# 30 frames apart, four 64 px local views per item, and the dense content loss with feature-space neighbours. Run from
# the repository root:
#   Training/gpu/joint-stage.sh OUT INIT SECONDS [extra mcjepa.train flags...]
# VIDEOS (default ../shared/data/videos), TEXTURES (../shared/data/textures), BATCH (8), CONTENT_BATCH (16), LR (3e-5),
# WARMUP (100), WORKERS (14), PROBE_STEPS (100) override the defaults; extra flags come last and win. OUT ends with
# model.safetensors, the last step's moving average of the weights (as the Swift trainer's), which the Swift tool
# loads (`--model OUT/model.safetensors`).
# Only the random streams differ from the Swift run's. Videos are read as Swift reads them: at most 640 px on the longer
# side, the first 300 frames of each; a local projector INIT lacks (stage 47's has none) learns at 10x the rate
# (--new-weights-lr-scale 10). No pair is made on the GPU: with
# --data the batches come from the numpy sources in WORKERS processes (--synthetic-on-device needs no --data). One
# worker makes a step's batches in 2.4 CPU-seconds on the 2-core dev machine (4.9 before the workers made the same
# batches with less work; `cd Reference && nice -n 10 python3 -m mcjepa.bench_batches --repeats 5 -- FLAGS`, its
# `CPU:` line, FLAGS this script's data flags), so 14 workers with a core each bound the rate near 6 steps/s; the
# probe measures the real rate.
set -u -o pipefail
out=$1 init=$(realpath "$2") seconds=$3
shift 3
videos=$(realpath "${VIDEOS:-../shared/data/videos}")
textures=$(realpath "${TEXTURES:-../shared/data/textures}")
mkdir -p "$out" && out=$(realpath "$out")
cd Reference
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 -c "import torch, cv2; print('torch', torch.__version__, 'cv2', cv2.__version__, 'cuda', torch.cuda.is_available())"
common=(--preset tiny --data "$videos" --max-side 640 --max-frames 300 --synthetic "$textures" --device cuda
        --workers "${WORKERS:-14}"
        --batch "${BATCH:-8}" --crop 384x512 --content-batch "${CONTENT_BATCH:-16}" --content-size 192 --content-warmup 0
        --content-temporal 0.5 --content-gap 30 --content-local-views 4 --content-local-size 64
        --content-dense 1 --content-dense-nn 20 --new-weights-lr-scale 10
        --synthetic-max-shift 96 --synthetic-shift-power 1 --synthetic-layers 6 --synthetic-shape blob
        --synthetic-rotation 10 --synthetic-zoom 0.1 --synthetic-jitter --synthetic-motion-blur 0.8
        --occlusion-start 0 --min-visible 0.3 --supervised-weight 0.1 --clip 0 --ema-decay 0.995
        --loss feature_weights=0.02,0.02,0.02,0.02,0.02,0.02 --loss smooth_weight=10 --loss occ_alpha2=4 "$@")
probe_steps=${PROBE_STEPS:-100}
rm -rf /tmp/probe
python3 -m mcjepa.train "${common[@]}" --out /tmp/probe --init "$init" --steps "$probe_steps" --lr 1e-9 --warmup 10 \
    --log-every $((probe_steps / 2)) --ckpt-every 1000000 > /tmp/probe.txt 2>&1 || { cat /tmp/probe.txt; exit 1; }
# The rate of the probe's second half: the first includes the workers' start and cuDNN's algorithm search.
rate=$(tail -1 /tmp/probe/log.jsonl | python3 -c "import json,sys; print(json.load(sys.stdin)['steps_per_s'])")
steps=$(python3 -c "print(max(int($rate * $seconds * 0.93 // 50 * 50), 10))")
echo "probe: $rate steps/s -> $steps steps in ${seconds}s"
(sleep 90; nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader > "$out/gpu-utilisation.txt") &
python3 -m mcjepa.train "${common[@]}" --out "$out" --init "$init" --steps "$steps" --lr "${LR:-3e-5}" \
    --warmup "${WARMUP:-100}" --ckpt-every 500 --log-every 50 --resume > "$out/stdout.txt" 2>&1
status=$?
tail -3 "$out/stdout.txt"
[ $status -eq 0 ] || exit $status
last=$(python3 -c "import json; print(json.load(open('$out/latest.json'))['weights'])")
average="$out/${last%.safetensors}.ema.safetensors"
[ -f "$average" ] && cp "$average" "$out/model.safetensors" || cp "$out/$last" "$out/model.safetensors"
echo "weights: $out/model.safetensors (from ${last%.safetensors})"
