#!/bin/bash
# Preprocess a video corpus into WebDataset shards with a Slurm job array.
#
#   sbatch --array=0-31 Pipelines/preprocess-slurm.sh /data/videos --out /data/shards --size 320x256 --stride 2
#
# Every array task runs the same command; `mcjepa-video preprocess` reads SLURM_ARRAY_TASK_ID (minus
# SLURM_ARRAY_TASK_MIN) and SLURM_ARRAY_TASK_COUNT and writes shards k with k % COUNT == INDEX of a plan computed
# from the inputs alone, so the union of the tasks' shards is exactly what one machine would write. Any array size
# works; more tasks than shards just leaves some idle. --resume makes reruns and requeues skip finished shards.
# To resubmit only some tasks later (sbatch --array=3,7), pass the run's worker count, --shard-count 8 (or export
# MCJEPA_SHARD_COUNT=8): the array index is then the worker index itself, so tasks 3 and 7 write the same shards
# as in the first submission (start the array at 0).
#
# Exit codes: 0 done; 75 transient (output not writable, I/O error): the task is requeued; 3 bad input (no usable
# videos): not retried. A video that fails to decode is recorded in its shard's stats and is not an error.
#SBATCH --job-name=mcjepa-preprocess
#SBATCH --array=0-7
#SBATCH --cpus-per-task=4
#SBATCH --mem=8G
#SBATCH --time=04:00:00
#SBATCH --requeue
#SBATCH --open-mode=append
#SBATCH --output=preprocess-%A_%a.log
set -uo pipefail

if [ "$#" -eq 0 ]; then
    echo "usage: sbatch --array=0-N $0 INPUTS... --out SHARDS [preprocess options]" >&2
    exit 2
fi

MCJEPA_VIDEO=${MCJEPA_VIDEO:-mcjepa-video}
"$MCJEPA_VIDEO" preprocess "$@" --resume --threads "${SLURM_CPUS_PER_TASK:-2}" --progress json
status=$?
if [ "$status" -eq 75 ] && [ -n "${SLURM_ARRAY_JOB_ID:-}" ]; then
    echo "task ${SLURM_ARRAY_TASK_ID}: transient failure, requeueing" >&2
    scontrol requeue "${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}"
fi
exit "$status"
