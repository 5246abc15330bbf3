#!/bin/bash
# One supervised synthetic-pair stage of the tiny model on one GPU with the PyTorch reference trainer, sized to a
# wall-clock budget: a short probe measures steps/s, then the stage runs a full warm-up + cosine schedule of as many
# steps as fit. Run from the repository root:
#   Training/gpu/supervised-stage.sh OUT INIT SECONDS [extra mcjepa.train flags...]
# TEXTURES (default ../shared/data/textures), BATCH (16), LR (2e-4), WORKERS (14) override the defaults. The pairs
# come from the numpy source in WORKERS processes; on the H100 that ran stage 4 they bounded the rate (11.6 steps/s
# at batch 16, GPU 24% busy). Pass --synthetic-on-device to make them on the GPU instead (BatchedSyntheticPairs;
# checked against the numpy source on the CPU only: no GPU run of it yet).
set -u -o pipefail
out=$1 init=$(realpath "$2") seconds=$3
shift 3
textures=$(realpath "${TEXTURES:-../shared/data/textures}")
mkdir -p "$out" && out=$(realpath "$out")
cd Reference
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 -c "import torch, cv2; print('torch', torch.__version__, 'cv2', cv2.__version__, 'cuda', torch.cuda.is_available())"
common=(--preset tiny --synthetic "$textures" --device cuda --workers "${WORKERS:-14}" --batch "${BATCH:-16}"
        --crop 256x320 --content-batch 2 --content-size 64 --content-warmup 0 --supervised-weight 1 --clip 0
        --synthetic-max-shift 96 --synthetic-shift-power 2 --synthetic-layers 4 --synthetic-jitter
        --supervised-level-weight 1
        --loss photo_weight=0 --loss smooth_weight=0 --loss cycle_weight=0 --loss feature_weights=0,0,0,0,0,0
        --loss var_weights=0,0,0,0,0,0 --loss cov_weights=0,0,0,0,0,0
        --loss vicreg_inv=0 --loss vicreg_var=0 --loss vicreg_cov=0 "$@")
rm -rf /tmp/probe
python3 -m mcjepa.train "${common[@]}" --out /tmp/probe --init "$init" --steps 200 --lr 1e-6 --warmup 10 \
    --log-every 100 --ckpt-every 1000000 > /tmp/probe.txt || { cat /tmp/probe.txt; exit 1; }
rate=$(tail -1 /tmp/probe/log.jsonl | python3 -c "import json,sys; print(json.load(sys.stdin)['steps_per_s'])")
steps=$(python3 -c "print(int($rate * $seconds * 0.93 // 100 * 100))")
echo "probe: $rate steps/s -> $steps steps in ${seconds}s"
(sleep 90; nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader > "$out/gpu-utilisation.txt") &
python3 -m mcjepa.train "${common[@]}" --out "$out" --init "$init" --steps "$steps" --lr "${LR:-2e-4}" \
    --warmup 300 --ckpt-every 1000 --log-every 100 --resume > "$out/stdout.txt" 2>&1
status=$?
tail -3 "$out/stdout.txt"
exit $status
