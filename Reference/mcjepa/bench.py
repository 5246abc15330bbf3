"""CPU timings of the reference model: ms per pair (one direction) and training step time.

python3 -m mcjepa.bench --preset tiny --threads 2
python3 -m mcjepa.bench --weights w.safetensors --threads 2 --train-size ""   # a weights file (e.g. Swift-saved)
"""
from __future__ import annotations

import argparse
import time

import torch

from .model import PRESETS, MCJEPA, count_parameters, load_model


def _min_ms(fn, repeats: int) -> float:
    fn()  # warm-up (allocator, oneDNN primitive caches)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000.0)
    # The machine is shared, so the minimum (least disturbed run) is the figure that compares configurations.
    return min(times)


def bench_inference(model: MCJEPA, height: int, width: int, repeats: int) -> dict:
    img1, img2 = torch.rand(1, 3, height, width), torch.rand(1, 3, height, width)
    with torch.no_grad():
        feats1 = model.encode(img1)
        feats2 = model.encode(img2)
        encode_ms = _min_ms(lambda: model.encode(img2), repeats)
        decode_ms = _min_ms(lambda: model.flow(feats1, feats2), repeats)
    return {"encode_ms": encode_ms, "decode_ms": decode_ms,
            # A video stream encodes each frame once: one encode + one decode per pair.
            "stream_pair_ms": encode_ms + decode_ms,
            "isolated_pair_ms": 2 * encode_ms + decode_ms}


def bench_train_step(model: MCJEPA, height: int, width: int, repeats: int, batch: int = 1) -> float:
    from .losses import LossConfig, flow_losses
    cfg = LossConfig()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    img1, img2 = torch.rand(batch, 3, height, width), torch.rand(batch, 3, height, width)

    def step():
        opt.zero_grad(set_to_none=True)
        total, _ = flow_losses(model, img1, img2, cfg)
        total.backward()
        opt.step()
    return _min_ms(step, repeats)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="tiny", choices=sorted(PRESETS))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--sizes", default="384x640,448x1024", help="HxW list for inference timings")
    ap.add_argument("--train-size", default="256x320", help="HxW of the training step (both directions)")
    ap.add_argument("--train-batch", type=int, default=1, help="pairs per training step")
    ap.add_argument("--weights", default=None, help="load this safetensors file (config from its metadata, "
                    "strict names/shapes) instead of a random --preset model")
    ap.add_argument("--set", action="append", default=[], help="override a config field, e.g. decoder_stop_level=2")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    cfg = PRESETS[args.preset]()
    for item in args.set:
        key, value = item.split("=", 1)
        setattr(cfg, key, eval(value))  # developer tool: values are Python literals like (16,16) or 3
    if args.weights:
        model, _ = load_model(args.weights)
        cfg = model.cfg
    else:
        model = MCJEPA(cfg).eval()
    print(f"weights={args.weights or 'random ' + args.preset} params={count_parameters(model)} threads={args.threads} cfg={cfg}")
    for size in filter(None, args.sizes.split(",")):
        h, w = map(int, size.split("x"))
        r = bench_inference(model, h, w, args.repeats)
        print(f"inference {h}x{w}: encode {r['encode_ms']:.1f} ms, decode {r['decode_ms']:.1f} ms, "
              f"pair (stream, 1 encode) {r['stream_pair_ms']:.1f} ms, pair (2 encodes) {r['isolated_pair_ms']:.1f} ms")
    if args.train_size:
        h, w = map(int, args.train_size.split("x"))
        model.train()
        ms = bench_train_step(model, h, w, args.repeats, args.train_batch)
        print(f"train step {h}x{w} batch {args.train_batch} both directions: {ms:.1f} ms")


if __name__ == "__main__":
    main()
