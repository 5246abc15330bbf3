"""Seconds one data worker (one thread, as in a `DataLoader` worker) takes to make one step's batches for a training
command's data options: on a GPU the workers, not the model, often bound the step rate, and workers / seconds per
step is that bound. Takes `mcjepa.train`'s flags (its --out is not needed):

python3 -m mcjepa.bench_batches --repeats 3 -- --data videos/ --synthetic textures/ --crop 384x512 --content-size 192 \
    --content-temporal 0.5 --content-gap 30 --content-local-views 4
"""
from __future__ import annotations

import argparse
import time

import cv2
import torch

from .train import build_sources, loss_config, make_sampler, parse_args


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(prog="python3 -m mcjepa.bench_batches", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=3, help="timed steps after one untimed (photo caches)")
    ap.add_argument("train_flags", nargs=argparse.REMAINDER, help="mcjepa.train flags, after --")
    args = ap.parse_args(argv)
    if args.repeats < 1:
        ap.error("--repeats must be at least 1")
    flags = [f for f in args.train_flags if f != "--"]
    train = parse_args(flags + ([] if "--out" in flags else ["--out", "unused"]))
    cv2.setNumThreads(1)
    torch.set_num_threads(1)
    sampler = make_sampler(train, build_sources(train, 0, 1), seed=train.seed)
    content = loss_config(train.loss).has_content_terms()
    times = {"content": [], "flow": []}
    cpu = {"content": [], "flow": []}
    for repeat in range(args.repeats + 1):
        for name, make in (("content", lambda: sampler.content_batch(train.content_batch) if content else None),
                           ("flow", lambda: sampler.flow_batch(train.batch))):
            start, start_cpu = time.perf_counter(), time.process_time()
            make()
            if repeat:
                times[name].append(time.perf_counter() - start)
                cpu[name].append(time.process_time() - start_cpu)
    # The mean, not the minimum: the cost varies with the sources and frames drawn, and the rate is their average.
    mean = {k: sum(v) / len(v) for k, v in times.items()}
    step = mean["content"] + mean["flow"]
    print(f"content batch {train.content_batch}: {mean['content']:.3f} s, flow batch {train.batch}: {mean['flow']:.3f} s, "
          f"one step {step:.3f} s per worker -> at most {1 / step:.2f} steps/s per worker")
    # The process's CPU time (its decoder threads too), which a busy machine does not inflate: the rate a worker with
    # a core to itself reaches.
    step_cpu = sum(sum(v) / len(v) for v in cpu.values())
    print(f"CPU: one step {step_cpu:.3f} s per worker (content {sum(cpu['content']) / len(cpu['content']):.3f} s) "
          f"-> at most {1 / step_cpu:.2f} steps/s per worker with a core each")


if __name__ == "__main__":
    main()
