#!/usr/bin/env python3
"""The parameter-by-parameter mean of weights files of one model ("model soup", Wortsman et al. 2022).

Usage: python3 Reference/average_weights.py OUT W1 W2 [W3 ...]

Every file must hold the same tensor names and shapes (and the same model config in its metadata, when it has
one); OUT gets the mean of each tensor, computed in float64 and stored as float32, with the first file's config
and `averaged_from` (the inputs' paths) in its metadata. OUT is written atomically. Any mismatch is a one-line
error naming the file and the cause, and nothing is written.
"""
import argparse
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mcjepa.weights import load_file, save_file  # noqa: E402


def average(paths):
    """-> (mean tensors, metadata for the result). Raises ValueError naming the offending file."""
    first_tensors, first_meta = load_file(paths[0])
    sums = {name: t.to(torch.float64) for name, t in first_tensors.items()}
    for path in paths[1:]:
        tensors, meta = load_file(path)
        if set(tensors) != set(sums):
            missing, extra = sorted(set(sums) - set(tensors)), sorted(set(tensors) - set(sums))
            raise ValueError(f"{path}: tensor names differ from {paths[0]} (missing {missing[:3]}, extra {extra[:3]})")
        if meta.get("config") != first_meta.get("config"):
            raise ValueError(f"{path}: model config differs from {paths[0]}'s")
        for name, t in tensors.items():
            if t.shape != sums[name].shape:
                raise ValueError(f"{path}: {name} has shape {list(t.shape)}, {paths[0]} has {list(sums[name].shape)}")
            sums[name] += t.to(torch.float64)
    mean = {name: (s / len(paths)).to(torch.float32) for name, s in sums.items()}
    metadata = {k: v for k, v in first_meta.items() if k in ("config", "format")}
    metadata["averaged_from"] = json.dumps(paths)
    return mean, metadata


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out")
    parser.add_argument("weights", nargs="+")
    args = parser.parse_args()
    if len(args.weights) < 2:
        raise SystemExit(f"{args.out}: give at least two weights files to average")
    try:
        mean, metadata = average(args.weights)
    except (ValueError, OSError) as error:
        raise SystemExit(str(error).splitlines()[0])
    save_file(mean, args.out, metadata)
    print(f"{args.out}: mean of {len(args.weights)} files, {len(mean)} tensors")


if __name__ == "__main__":
    main()
