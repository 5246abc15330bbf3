#!/usr/bin/env python3
"""Preprocess a video corpus into WebDataset shards on a Ray cluster.

    python3 Pipelines/preprocess_ray.py --workers 16 --cpus-per-worker 4 -- /data/videos --out /data/shards --size 320x256

Everything after `--` goes to `mcjepa-video preprocess`, with relative paths (inputs, --out, --manifest, --model)
made absolute against the launcher's folder, since workers run elsewhere. Worker i runs the CLI with
`--shard-index i --shard-count N --resume`; the CLI writes shards k with k % N == i of a plan computed from the
inputs alone, so the workers together write exactly the shards one machine would. The output folder must be
shared by all nodes (NFS, a mounted bucket). Exit code 75 (transient I/O) is retried; 3 (no usable videos) and
2 (usage) are not, since a retry would fail the same way.
"""
import argparse
import os
import subprocess
import sys

RETRY = 75

# Options of `mcjepa-video preprocess` that take a value, and those whose value is a path. Positional arguments
# (the inputs) are paths too.
VALUE_OPTIONS = {"--manifest", "-o", "--output", "--out", "--extensions", "--stride", "--min-motion", "--max-pairs",
                 "--pairs-per-shard", "--cut-threshold", "--size", "--max-side", "--jpeg-quality", "--shard-index",
                 "--shard-count", "--model", "--threads", "--progress", "--start", "--duration"}
PATH_OPTIONS = {"--manifest", "-o", "--output", "--out", "--model"}


def absolute_arguments(args, cwd=None):
    """The preprocess arguments with every path made absolute against `cwd` (default: this process's folder):
    workers run on other machines, in other folders, where a relative path means something else."""
    cwd = cwd or os.getcwd()
    result, expecting = [], None
    for arg in args:
        if expecting is not None:
            result.append(os.path.normpath(os.path.join(cwd, arg)) if expecting in PATH_OPTIONS else arg)
            expecting = None
        elif arg.startswith("-") and "=" in arg:
            name, value = arg.split("=", 1)
            result.append(f"{name}={os.path.normpath(os.path.join(cwd, value))}" if name in PATH_OPTIONS else arg)
        elif arg.startswith("-"):
            result.append(arg)
            expecting = arg if arg in VALUE_OPTIONS else None
        else:
            result.append(os.path.normpath(os.path.join(cwd, arg)))
    return result


def run_worker(binary, index, count, threads, args, attempts):
    command = [binary, "preprocess", *args, "--shard-index", str(index), "--shard-count", str(count),
               "--resume", "--threads", str(threads), "--progress", "json"]
    for attempt in range(1, attempts + 1):
        status = subprocess.run(command).returncode
        if status != RETRY:
            return index, status, attempt
    return index, status, attempts


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, required=True, help="processes (the shard count N)")
    parser.add_argument("--cpus-per-worker", type=int, default=2)
    parser.add_argument("--attempts", type=int, default=3, help="tries per worker on exit code 75")
    parser.add_argument("--binary", default="mcjepa-video")
    parser.add_argument("--address", default=None, help="Ray cluster address (default: start or join locally)")
    parser.add_argument("preprocess_args", nargs=argparse.REMAINDER, help="-- INPUTS --out SHARDS [options]")
    options = parser.parse_args()
    args = [a for a in options.preprocess_args if a != "--"] if options.preprocess_args[:1] == ["--"] \
        else options.preprocess_args
    if not args:
        parser.error("pass the preprocess arguments after --")
    args = absolute_arguments(args)
    binary = os.path.abspath(options.binary) if os.sep in options.binary else options.binary

    import ray  # only the launcher needs it; absolute_arguments is testable without Ray
    ray.init(address=options.address)
    remote = ray.remote(num_cpus=options.cpus_per_worker)(run_worker)
    futures = [remote.remote(binary, i, options.workers, options.cpus_per_worker, args, options.attempts)
               for i in range(options.workers)]
    results = sorted(ray.get(futures))
    failed = [(i, status) for i, status, _ in results if status != 0]
    for i, status, attempts in results:
        print(f"worker {i}/{options.workers}: exit {status} after {attempts} attempt(s)")
    if failed:
        # Report the most actionable code: bad input (3) over transient (75) over anything else.
        codes = {status for _, status in failed}
        sys.exit(3 if 3 in codes else RETRY if RETRY in codes else 1)


if __name__ == "__main__":
    main()
