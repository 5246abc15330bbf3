#!/usr/bin/env python3
"""OpenCV DIS optical flow on an evaluation set, as a classical baseline for `mcjepa-video eval flow`.

Usage: python3 Reference/dis_baseline.py SETDIR OUTDIR [--preset ultrafast|fast|medium] [--threads 2]

For each SETDIR/PAIR/{img1.png,img2.png} it writes OUTDIR/PAIR.flo (Middlebury format) and prints the time DIS
took per pair (reading and writing excluded). Score with:
    mcjepa-video eval flow SETDIR --pred OUTDIR
"""
import argparse
import os
import sys
import time

import numpy as np

from dis_common import add_dis_arguments, make_dis, read_gray


def write_flo(path, flow):
    """Middlebury .flo: magic 202021.25, int32 width, height, then interleaved float32 (u, v), little-endian."""
    height, width = flow.shape[:2]
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        np.array([202021.25], "<f4").tofile(f)
        np.array([width, height], "<i4").tofile(f)
        flow.astype("<f4").tofile(f)
    os.replace(tmp, path)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("set")
    parser.add_argument("out")
    add_dis_arguments(parser)
    args = parser.parse_args()

    dis = make_dis(args)
    os.makedirs(args.out, exist_ok=True)
    pairs = sorted(p for p in os.listdir(args.set)
                   if not p.startswith(".") and os.path.isdir(os.path.join(args.set, p)))
    if not pairs:
        sys.exit(f"{args.set}: no pairs found")
    total = 0.0
    for pair in pairs:
        frames = [read_gray(os.path.join(args.set, pair, name)) for name in ("img1.png", "img2.png")]
        start = time.perf_counter()
        flow = dis.calc(frames[0], frames[1], None)
        elapsed = time.perf_counter() - start
        total += elapsed
        write_flo(os.path.join(args.out, pair + ".flo"), flow)
        print(f"{pair:32s} {frames[0].shape[1]}x{frames[0].shape[0]}  {1000 * elapsed:8.1f} ms")
    print(f"DIS {args.preset}, {args.threads} threads: {1000 * total / len(pairs):.1f} ms per pair "
          f"(mean over {len(pairs)} pairs)")


if __name__ == "__main__":
    main()
