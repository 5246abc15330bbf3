"""Self-supervised MC-JEPA training (flow + content with one shared encoder), single process or torchrun DDP.

Each step: one content batch (two augmented global views, optionally from two frames of a clip, `--content-temporal`,
and multi-crop local views, `--content-local-views` -> VICReg) and, after `--content-warmup` steps, one flow batch
(both directions -> photometric, feature regression, smoothness, cycle, variance-covariance); both gradients go
into the shared encoder. AdamW with linear warm-up then cosine decay. Checkpoints every `--ckpt-every` steps:
`step-XXXXXXX.safetensors` (weights, state_dict names, config in the metadata) and `step-XXXXXXX.state.pt`
(optimizer, step, RNG), plus `latest.json`; `--resume` continues from `latest.json`.

Supervised warm-up on synthetic pairs (Pipelines/train-tiny.yaml): with `--supervised-weight` > 0 and every
self-supervised flow weight zero (`--loss photo_weight=0 ...`), a step computes only the forward flow and its EPE
(+ `--supervised-level-weight` x the mean per-level EPE); with every VICReg weight zero it skips the content pass.

  python3 -m mcjepa.train --data videos/ --synthetic textures/ --out runs/tiny --steps 100000
  torchrun --nproc_per_node 8 -m mcjepa.train --preset paper --data shards/ --out runs/paper --device cuda
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import random
import time
from typing import Dict, List, Optional

import cv2
import numpy as np
import torch
import torch.distributed as dist
import torch.nn as nn

from .data import BatchedSyntheticPairs, MixedSampler, ShardPairs, SyntheticPairs, VideoPairs, find_files, VIDEO_EXTENSIONS
from .losses import LossConfig, content_losses, end_point_error, flow_losses, supervised_flow_losses
from .model import MCJEPA, ModelConfig, NUM_LEVELS, PRESETS, count_parameters, weights_metadata
from .alignment import ITERATIONS as ALIGNMENT_ITERATIONS
from .weights import load_file, save_file


class TrainStep(nn.Module):
    """The loss of one step as a module `forward`, so DistributedDataParallel can wrap it.

    Terms whose weights are all zero are not computed (as the Swift `Trainer.step`): no content pass when every
    VICReg weight is zero (`content` is then None), and the supervised-only flow pass (forward flow, optional
    multi-scale term) when no self-supervised flow term is on and the batch has exact flow.
    """

    def __init__(self, model: MCJEPA, loss_cfg: LossConfig, content_dense: float = 0.0, content_dense_nn: int = 0,
                 align_iterations: int = 0):
        super().__init__()
        self.align_iterations = align_iterations
        self.model = model
        self.loss_cfg = loss_cfg
        self.content_dense = content_dense
        self.content_dense_nn = content_dense_nn

    def forward(self, content: Optional[Dict[str, torch.Tensor]], flow: Optional[Dict[str, torch.Tensor]],
                flow_on: bool, supervised_weight: float = 0.0, level_weight: float = 0.0):
        total = next(self.model.parameters()).new_zeros(())
        terms = {}
        if content is not None:
            dense = None if self.content_dense == 0 else {
                "weight": self.content_dense, "boxes_a": content["boxes_a"], "boxes_b": content["boxes_b"],
                "same_frame": content["same_frame"], "nearest_neighbours": self.content_dense_nn}
            total, terms = content_losses(self.model, content["a"], content["b"], self.loss_cfg, dense,
                                          content.get("local"))
            terms = {k: v.detach() for k, v in terms.items()}
            terms["content"] = total.detach()
        if flow_on and flow is not None:
            if "flow" in flow and supervised_weight > 0 and not self.loss_cfg.has_self_supervised_flow_terms():
                total = total + self._supervised_only(flow, supervised_weight, level_weight, terms)
            else:
                total = total + self._full_flow(flow, supervised_weight, terms)
        terms["total"] = total.detach()
        return total, terms

    def _supervised_only(self, flow, supervised_weight: float, level_weight: float, terms) -> torch.Tensor:
        """Forward flow against the exact one: half the cost of the full flow pass."""
        loss, flow_terms = supervised_flow_losses(self.model, flow["f0"], flow["f1"], flow["flow"], level_weight,
                                                  flow.get("flow_mask"), self.loss_cfg.epe_cap, self.align_iterations)
        terms.update({k: v.detach() for k, v in flow_terms.items()})
        terms["synthetic_epe"] = terms.pop("supervised_epe")
        weighted = supervised_weight * loss
        terms["flow"] = weighted.detach()
        return weighted

    def _full_flow(self, flow, supervised_weight: float, terms) -> torch.Tensor:
        """Both directions with every flow loss; on pairs with exact flow also the EPE (monitored, and supervised
        when `supervised_weight` > 0)."""
        flow_total, flow_terms, outputs = flow_losses(self.model, flow["f0"], flow["f1"], self.loss_cfg, True,
                                                      self.align_iterations)
        terms.update({k: v.detach() for k, v in flow_terms.items()})
        terms["flow"] = flow_total.detach()
        if "flow" in flow:
            epe = end_point_error(outputs["fw"][1], flow["flow"], flow.get("flow_mask"), self.loss_cfg.epe_cap)
            terms["synthetic_epe"] = epe.detach()
            if supervised_weight > 0:
                flow_total = flow_total + supervised_weight * epe
        return flow_total


class StepBatches(torch.utils.data.IterableDataset):
    """The (content, flow) batches of steps start..steps-1, made by `DataLoader` worker processes.

    On a GPU the synthetic pairs (about 50 ms each on one core) and not the model bound the step rate, hence
    workers. The loader takes one item from each worker in turn, so worker k makes the batches of steps
    start + k, start + k + N, ...; each has its own sampler seeded by (seed, rank, start, k). A resumed run is
    thus reproducible for the same worker count, but its data differ from those of the uninterrupted run.
    """

    def __init__(self, args, loss_cfg: LossConfig, rank: int, world: int, start: int, make_flow: bool = True):
        self.args, self.loss_cfg, self.rank, self.world, self.start = args, loss_cfg, rank, world, start
        self.make_flow = make_flow

    def __iter__(self):
        info = torch.utils.data.get_worker_info()
        if info is not None:
            cv2.setNumThreads(1)  # one core per worker: OpenCV's own threads would oversubscribe them
        worker, count = (info.id, info.num_workers) if info else (0, 1)
        args = self.args
        sampler = make_sampler(args, build_sources(args, self.rank, self.world),
                               seed=[args.seed, self.rank, self.start, worker, 7919])
        yield from step_batches(args, self.loss_cfg, sampler, range(self.start + worker, args.steps, count),
                                self.make_flow)


def make_sampler(args, sources, seed) -> MixedSampler:
    """The flow and content sampler of `args` (its content options: temporal positives, gap, multi-crop)."""
    return MixedSampler(sources, crop=args.crop, content_size=args.content_size, seed=seed,
                        temporal=args.content_temporal, gap=args.content_gap, local_views=args.content_local_views,
                        local_size=args.content_local_size or 64)


def step_batches(args, loss_cfg: LossConfig, sampler: MixedSampler, steps, make_flow: bool = True):
    """(step, content batch or None, flow batch or None) for each step: no content batch when every VICReg weight
    is zero, no flow batch during the content warm-up or when the flow pairs are made elsewhere. Used in this
    process (with the checkpointed sampler) and by `StepBatches`' workers."""
    want_content = loss_cfg.has_content_terms()
    for step in steps:
        content = sampler.content_batch(args.content_batch) if want_content else None
        flow = sampler.flow_batch(args.batch) if make_flow and step >= args.content_warmup else None
        yield step, content, flow


def lr_at(step: int, base_lr: float, warmup: int, total: int, min_ratio: float = 0.01) -> float:
    """Linear warm-up over `warmup` steps, then cosine decay to min_ratio * base_lr at `total`."""
    if step < warmup:
        return base_lr * (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return base_lr * (min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))


def parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python3 -m mcjepa.train", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="tiny", choices=sorted(PRESETS), help="model size (default tiny)")
    ap.add_argument("--data", nargs="*", default=[], help="video files/folders and WebDataset .tar shards/folders")
    ap.add_argument("--synthetic", nargs="*", default=[], help="folders of still photos for synthetic pairs")
    ap.add_argument("--out", required=True, help="run folder: checkpoints, latest.json, log.jsonl")
    ap.add_argument("--steps", type=int, default=100000)
    ap.add_argument("--batch", type=int, default=4, help="flow pairs per step (per process)")
    ap.add_argument("--content-batch", type=int, default=16, help="content images per step (per process), >= 2")
    ap.add_argument("--crop", default="256x320", help="flow crop HxW, multiples of 64")
    ap.add_argument("--content-size", type=int, default=128, help="content view side, a multiple of 64")
    ap.add_argument("--content-temporal", type=float, default=0.0, metavar="P",
                    help="share (0...1) of content items whose two global views come from two frames of a clip "
                         "(temporal positives) instead of one frame: a flow pair's frames, or with --content-gap "
                         "frames 1..G apart (default 0)")
    ap.add_argument("--content-gap", type=int, default=None, metavar="G",
                    help="temporal positives' frames are 1 to G frames apart in one video (uniform, either order) "
                         "instead of a flow pair's frames; still photos give two views of one photo, shards a stored "
                         "pair's frames (with --content-temporal above 0)")
    ap.add_argument("--content-local-views", type=int, default=0, metavar="M",
                    help="multi-crop: smaller local views per content item (each a crop of 5-40%% of the item's "
                         "frame), in the VICReg loss against both global views (logged: vicreg_inv_local)")
    ap.add_argument("--content-local-size", type=int, default=None, metavar="S",
                    help="local view side, a multiple of 64 smaller than --content-size (with --content-local-views; "
                         "default 64)")
    ap.add_argument("--content-dense", type=float, default=0.0,
                    help="weight of the dense content loss (VICRegL-style, 0 = off): a local projector "
                         "(local_projector.*, not used by inference) embeds every cell of --content-dense-level's "
                         "feature map of both views, and the cells of the two views that cover the same point of the "
                         "frame must agree (VICReg invariance, variance and covariance over all cells)")
    ap.add_argument("--content-dense-level", type=int, default=None,
                    help="encoder level of the dense content loss (1..6; with --content-dense); default: the "
                         "continued file's projector's, else 3, the level propagation reads")
    ap.add_argument("--content-dense-nn", type=int, default=0,
                    help="with --content-dense: VICRegL's feature-space matching as well, each cell's nearest cell of "
                         "the other view in the projector's embedding, the K closest pairs per item and direction in "
                         "an invariance term of their own (dense_inv_nn); 0 = off")
    ap.add_argument("--content-warmup", type=int, default=1000, help="content-only steps before flow losses")
    ap.add_argument("--occlusion-start", type=int, default=3000,
                    help="step from which forward-backward occlusion masks are applied (before: all visible)")
    ap.add_argument("--min-visible", type=float, default=0.5,
                    help="occlusion masks apply only while at least this fraction of pixels is visible")
    ap.add_argument("--lr", type=float, default=5e-4)
    ap.add_argument("--weight-decay", type=float, default=0.05)
    ap.add_argument("--warmup", type=int, default=500, help="learning-rate warm-up steps")
    ap.add_argument("--clip", type=float, default=1.0, help="gradient norm clip (0 = off)")
    ap.add_argument("--supervised-weight", type=float, default=0.0, help="EPE weight on synthetic pairs")
    ap.add_argument("--train-through-alignment", action="store_true",
                    help="the flow losses and the supervised EPE see the full flow after the feature alignment "
                         "(alignment.py), as at inference; gradients reach the decoder and the level-1 features")
    ap.add_argument("--supervised-level-weight", type=float, default=0.0,
                    help="weight of the multi-scale term (mean per-level EPE) when training supervised only")
    ap.add_argument("--synthetic-max-shift", type=float, default=12.0,
                    help="largest translation (px) of a synthetic layer between the two frames of a pair")
    ap.add_argument("--synthetic-shift-power", type=float, default=1.0,
                    help="skew of synthetic translations: max-shift * |u|^P (u uniform), 1 = uniform, 2 = mostly small")
    ap.add_argument("--synthetic-layers", type=int, default=3,
                    help="most layers in a synthetic pair (a background and 1 to N-1 moving cut-outs)")
    ap.add_argument("--synthetic-jitter", action="store_true",
                    help="photometric jitter on synthetic pairs (colour shared by both frames, small per-frame "
                         "changes, noise)")
    ap.add_argument("--synthetic-motion-blur", type=float, default=0.0,
                    help="motion blur on synthetic pairs: longest exposure as a fraction of the frame interval "
                         "(0 = sharp, up to 1); each pair draws its own in [0, F]")
    ap.add_argument("--synthetic-shape", choices=["ellipse", "blob"], default="ellipse",
                    help="outline of the synthetic cut-outs: ellipse, or blob (irregular, with thin limbs and holes)")
    ap.add_argument("--synthetic-rotation", type=float, default=5.0,
                    help="largest rotation (degrees) of a synthetic layer between the two frames")
    ap.add_argument("--synthetic-zoom", type=float, default=0.05,
                    help="largest scale change of a synthetic layer, as a log factor (0.1 = x0.90 to x1.11)")
    ap.add_argument("--synthetic-on-device", action="store_true",
                    help="make the synthetic flow pairs batch-wise with torch on --device (BatchedSyntheticPairs: "
                         "the numpy source cannot keep a GPU busy); only with --synthetic and no --data")
    ap.add_argument("--max-stride", type=int, default=2, help="largest frame distance of video pairs")
    ap.add_argument("--max-side", type=int, default=None,
                    help="shrink video frames whose longer side is larger to this side (default: full size; "
                         "mcjepa-video train decodes at 640)")
    ap.add_argument("--max-frames", type=int, default=None,
                    help="use only the first N frames of each video (default: all; mcjepa-video train keeps 300)")
    ap.add_argument("--ema-decay", type=float, default=0.0,
                    help="decay of a moving average of the weights (0 = off, e.g. 0.999): each checkpoint also "
                         "writes step-N.ema.safetensors, from which --resume restores the average")
    ap.add_argument("--ckpt-every", type=int, default=1000)
    ap.add_argument("--log-every", type=int, default=10)
    ap.add_argument("--resume", action="store_true", help="continue from OUT/latest.json")
    ap.add_argument("--init", default="", help="start from these weights (safetensors)")
    ap.add_argument("--new-weights-lr-scale", type=float, default=1.0, metavar="K",
                    help="learning-rate multiplier (step and weight decay) for the parameters --init does not have "
                         "(fresh tensors, e.g. a new local projector): they have further to go than the ones carried "
                         "over; no effect without --init (default 1)")
    ap.add_argument("--decoder-stop-level", type=int, default=None, choices=range(1, 7), metavar="L",
                    help="decode flow down to this pyramid level (2 = quarter resolution); default: the --init file's, "
                         "else the preset's; finer than the --init file's, the new levels' reductions (and a convex "
                         "upsampler) start fresh and a new level's own estimator as a copy of the file's finest")
    ap.add_argument("--upsampler-width", type=int, default=None,
                    help="convex upsampling to full size with a mask head of this width (0 = bilinear); default: the "
                         "--init file's, else the preset's (tiny: 32); from a bilinear --init file the upsampler "
                         "starts as bilinear upsampling")
    ap.add_argument("--per-level-estimators", action=argparse.BooleanOptionalAction, default=None,
                    help="one flow estimator per decoded level instead of one shared by all (more parameters, the "
                         "same work); default: the --init file's, else the preset's (tiny: one per level; test and "
                         "paper: shared); from an --init file with a shared estimator every level's starts as a copy "
                         "of it")
    ap.add_argument("--refinement-iterations", type=int, default=None, metavar="K",
                    help="iterations of the recurrent refinement at the decoder's finest level (0 = none); default: "
                         "the --init file's, else the preset's (0); from an --init file without it the head starts "
                         "fresh (its last conv at zero: the file's flow)")
    ap.add_argument("--refinement-width", type=int, default=None, metavar="W",
                    help="width of the refinement's update block (with --refinement-iterations); default: the --init "
                         "file's, else 64")
    ap.add_argument("--fine-iterations", type=int, default=None, metavar="K",
                    help="iterations of the fine head at 1/4 resolution (0 = none), whose correction is added to the "
                         "full-size flow; default: the --init file's, else 0; from an --init file without it the head "
                         "starts fresh (its last conv at zero: the file's flow)")
    ap.add_argument("--fine-width", type=int, default=None, metavar="W",
                    help="width of the fine head's update block (with --fine-iterations); default: the --init file's, "
                         "else 32")
    ap.add_argument("--train-only", action="append", default=[], metavar="PREFIX",
                    help="update only the parameters whose names start with PREFIX (repeatable, e.g. decoder.fine.); "
                         "the others keep their values, and with neither encoder. nor expander. trained the content "
                         "loss, which reaches neither, is not computed")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = torch default)")
    ap.add_argument("--device", default="cpu", help="cpu or cuda")
    ap.add_argument("--workers", type=int, default=0,
                    help="data worker processes (0 = batches made in the training process); with N > 0 the "
                         "batches of step s come from worker s mod N, seeded by (seed, rank, start step, worker)")
    ap.add_argument("--loss", action="append", default=[], help="override a LossConfig field, e.g. smooth_weight=50")
    args = ap.parse_args(argv)
    args.crop = tuple(int(v) for v in args.crop.lower().split("x"))
    if len(args.crop) != 2 or any(v <= 0 or v % 64 for v in args.crop):
        ap.error(f"--crop {args.crop}: H and W must be positive multiples of 64")
    if args.content_size <= 0 or args.content_size % 64:
        ap.error("--content-size must be a positive multiple of 64")
    if not 0 <= args.content_temporal <= 1:
        ap.error(f"--content-temporal must be in 0.0...1.0, got {args.content_temporal}")
    if args.content_gap is not None:
        if not 1 <= args.content_gap <= 100_000:
            ap.error(f"--content-gap must be in 1...100000, got {args.content_gap}")
        if args.content_temporal == 0:
            ap.error("--content-gap needs --content-temporal above 0 (the share of items it applies to)")
    if not 0 <= args.content_local_views <= 64:
        ap.error(f"--content-local-views must be in 0...64, got {args.content_local_views}")
    if args.content_local_size is not None:
        if args.content_local_views == 0:
            ap.error("--content-local-size needs --content-local-views above 0")
        if args.content_local_size <= 0 or args.content_local_size % 64:
            ap.error(f"--content-local-size {args.content_local_size}: expected a positive multiple of 64")
    if args.content_local_views and (args.content_local_size or 64) >= args.content_size:
        ap.error(f"--content-local-size {args.content_local_size or 64}: expected smaller than --content-size "
                 f"{args.content_size}")
    if not 0 <= args.content_dense <= 1000:
        ap.error("--content-dense must be in 0...1000")
    if args.content_dense_level is not None and (args.content_dense == 0 or not 1 <= args.content_dense_level <= 6):
        ap.error("--content-dense-level needs --content-dense above 0 and must be in 1...6")
    if args.content_dense_nn and (args.content_dense == 0 or not 0 <= args.content_dense_nn <= 4096):
        ap.error("--content-dense-nn needs --content-dense above 0 and must be in 0...4096")
    if args.content_batch < 2:
        ap.error("--content-batch must be >= 2 (VICReg variance needs a batch)")
    if args.synthetic_max_shift < 0:
        ap.error("--synthetic-max-shift must be >= 0")
    if args.synthetic_shift_power < 1:
        ap.error("--synthetic-shift-power must be >= 1")
    if not 0 <= args.synthetic_motion_blur <= 1:
        ap.error("--synthetic-motion-blur must be in [0, 1]")
    if args.synthetic_layers < 2:
        ap.error("--synthetic-layers must be at least 2")
    if args.upsampler_width is not None and not 0 <= args.upsampler_width <= 1024:
        ap.error("--upsampler-width must be in [0, 1024] (0 = bilinear)")
    if args.refinement_iterations is not None and not 0 <= args.refinement_iterations <= 64:
        ap.error("--refinement-iterations must be in [0, 64] (0 = none)")
    if args.refinement_width is not None and not 1 <= args.refinement_width <= 1024:
        ap.error("--refinement-width must be in [1, 1024]")
    if args.refinement_width is not None and not (args.refinement_iterations or 0) > 0:
        ap.error("--refinement-width needs --refinement-iterations above 0")
    if args.fine_iterations is not None and not 0 <= args.fine_iterations <= 64:
        ap.error("--fine-iterations must be in [0, 64] (0 = none)")
    if args.fine_width is not None and not 1 <= args.fine_width <= 1024:
        ap.error("--fine-width must be in [1, 1024]")
    if args.fine_width is not None and not (args.fine_iterations or 0) > 0:
        ap.error("--fine-width needs --fine-iterations above 0")
    if not 0 <= args.synthetic_rotation <= 45:
        ap.error("--synthetic-rotation must be in [0, 45] degrees")
    if not 0 <= args.synthetic_zoom <= 0.5:
        ap.error("--synthetic-zoom must be in [0, 0.5]")
    if args.supervised_level_weight < 0:
        ap.error("--supervised-level-weight must be >= 0")
    if not args.data and not args.synthetic:
        ap.error("give --data and/or --synthetic")
    if args.synthetic_on_device and (args.data or not args.synthetic):
        ap.error("--synthetic-on-device needs --synthetic and no --data (flow batches come from it alone)")
    if args.max_side is not None and not 8 <= args.max_side <= 8192:
        ap.error(f"--max-side must be in 8...8192, got {args.max_side}")
    if args.max_frames is not None and not 1 <= args.max_frames <= 100_000:
        ap.error(f"--max-frames must be in 1...100000, got {args.max_frames}")
    if not 0 < args.new_weights_lr_scale <= 1000:
        ap.error("--new-weights-lr-scale must be in (0, 1000]")
    if args.workers < 0:
        ap.error("--workers must be >= 0")
    if not 0 <= args.ema_decay < 1:
        ap.error("--ema-decay must be in [0, 1)")
    return args


def loss_config(overrides) -> LossConfig:
    cfg = LossConfig()
    for item in overrides:
        key, value = item.split("=", 1)
        if not hasattr(cfg, key):
            raise SystemExit(f"--loss {item}: LossConfig has no field {key}")
        current = getattr(cfg, key)
        setattr(cfg, key, tuple(float(v) for v in value.split(",")) if isinstance(current, tuple) else float(value))
    return cfg


def build_sources(args, rank: int, world: int):
    sources = []
    shards = find_files(args.data, (".tar",))
    videos = find_files(args.data, VIDEO_EXTENSIONS)
    if shards:
        sources.append(ShardPairs(shards, rank, world))
    if videos:
        sources.append(VideoPairs(videos, args.max_stride, args.max_side, args.max_frames))
    if args.synthetic:
        h, w = args.crop
        sources.append(SyntheticPairs(args.synthetic, size=(h + 64, w + 64), max_shift=args.synthetic_max_shift,
                                      shift_power=args.synthetic_shift_power, max_layers=args.synthetic_layers,
                                      jitter=args.synthetic_jitter, motion_blur=args.synthetic_motion_blur,
                                      shape=args.synthetic_shape, max_rotation=args.synthetic_rotation,
                                      max_zoom=args.synthetic_zoom))
    if not sources:
        raise SystemExit(f"no videos, shards or images found in {args.data + args.synthetic}")
    return sources


def save_checkpoint(out: str, step: int, model: MCJEPA, optimizer, sampler: Optional[MixedSampler], args,
                    average: Optional[Dict[str, torch.Tensor]] = None) -> None:
    """Weights (and their moving average, when kept), then optimizer/RNG state, then latest.json: each written to
    a temporary name and renamed, so a crash leaves the previous checkpoint intact. `sampler` is None when worker
    processes make the batches (their samplers are seeded from the step a run starts at instead)."""
    name = f"step-{step:07d}"
    meta = dict(weights_metadata(model.cfg), step=str(step))
    save_file(model.state_dict(), os.path.join(out, name + ".safetensors"), meta)
    if average is not None:
        save_file(average, os.path.join(out, name + ".ema.safetensors"), dict(meta, ema_decay=str(args.ema_decay)))
    state = {"step": step, "optimizer": optimizer.state_dict(), "sampler": sampler.state() if sampler else None,
             "torch_rng": torch.get_rng_state(), "python_rng": random.getstate(), "args": vars(args)}
    tmp = os.path.join(out, f".{name}.state.pt.tmp")
    torch.save(state, tmp)
    os.replace(tmp, os.path.join(out, name + ".state.pt"))
    tmp = os.path.join(out, ".latest.json.tmp")
    with open(tmp, "w") as f:
        json.dump({"step": step, "weights": name + ".safetensors", "state": name + ".state.pt"}, f)
    os.replace(tmp, os.path.join(out, "latest.json"))


def split_shared_estimator(model: MCJEPA, tensors: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """A file's tensors with its shared estimator (`decoder.estimator.*`) copied to every level's
    (`decoder.estimators.l<level>.*`) when `model` has one per level and the file does not; else as they are."""
    if not model.cfg.per_level_estimators or not any(n.startswith("decoder.estimator.") for n in tensors):
        return tensors
    split = {n: t for n, t in tensors.items() if not n.startswith("decoder.estimator.")}
    for lv in model.decoder.decoded_levels:
        for n, t in tensors.items():
            if n.startswith("decoder.estimator."):
                split[f"decoder.estimators.l{lv}." + n[len("decoder.estimator."):]] = t.clone()
    return split


def extend_to_finer_levels(model: MCJEPA, tensors: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """A file's tensors for a model whose decoder stops at a finer level than the file's: a new level's own
    estimator starts as a copy of the file's finest (with an estimator per level), and a convex upsampler, whose
    shapes depend on the stop level, is left out to start fresh; the new levels' reductions are missing and start
    fresh too. Else the tensors as they are."""
    levels = [int(n.split(".")[2][1:]) for n in tensors if n.startswith("decoder.reduce.l") and n.endswith(".weight")]
    finest = min(levels, default=model.cfg.decoder_stop_level)
    if model.cfg.decoder_stop_level >= finest:
        return tensors
    extended = {n: t for n, t in tensors.items() if not n.startswith("decoder.upsampler.")}
    source = f"decoder.estimators.l{finest}."
    for lv in range(model.cfg.decoder_stop_level, finest):
        for n, t in tensors.items():
            if n.startswith(source):
                extended[f"decoder.estimators.l{lv}." + n[len(source):]] = t.clone()
    return extended


def fresh_names(model: MCJEPA, tensors: Dict[str, torch.Tensor]) -> List[str]:
    """The parameters of `model` that a warm start from `tensors` does not carry, which `load_weights` starts fresh
    (copies of a shared or coarser estimator are carried): the Swift `warmStart`'s `fresh`."""
    carried = extend_to_finer_levels(model, split_shared_estimator(model, tensors))
    return [n for n, p in model.named_parameters() if n not in carried or carried[n].shape != p.shape]


def trainable_names(model: MCJEPA, prefixes: List[str]) -> set:
    """Names of the parameters `--train-only` trains (all without prefixes); a prefix that matches none is an error."""
    names = [n for n, _ in model.named_parameters()]
    for prefix in prefixes:
        if not any(n.startswith(prefix) for n in names):
            raise SystemExit(f"--train-only {prefix}: no parameter of the model starts with it")
    return {n for n in names if not prefixes or any(n.startswith(p) for p in prefixes)}


def load_weights(model: MCJEPA, path: str, tensors: Dict[str, torch.Tensor], fresh_upsampler: bool = False) -> None:
    """`tensors` (read from `path`) into `model`, names and shapes exactly; with `fresh_upsampler`, a file without
    the convex upsampler's tensors may start a model with one (they keep their bilinear-stencil initialisation); a
    file without the recurrent refinement or the fine head a model with one (its zero `out` conv leaves the file's
    flow); a
    shared estimator starts a model with one per level (`split_shared_estimator`), and a file whose decoder stops at a
    coarser level one that decodes finer levels (`extend_to_finer_levels`: their reductions start fresh)."""
    coarser = {f"decoder.reduce.l{lv}.{kind}" for lv in range(model.cfg.decoder_stop_level, NUM_LEVELS)
               for kind in ("weight", "bias") if f"decoder.reduce.l{lv}.weight" not in tensors}
    tensors = extend_to_finer_levels(model, split_shared_estimator(model, tensors))
    # A local projector the model lacks or has at another shape is left out (it is a training head).
    own = model.state_dict()
    tensors = {n: t for n, t in tensors.items()
               if not n.startswith("local_projector.") or (n in own and own[n].shape == t.shape)}
    missing, unexpected = model.load_state_dict(tensors, strict=False)
    fresh = [n for n in missing if n in coarser or (n.startswith("decoder.upsampler.") and (fresh_upsampler or coarser))
             or (n.startswith("decoder.refinement.") and not any(t.startswith("decoder.refinement.") for t in tensors))
             or (n.startswith("decoder.fine.") and not any(t.startswith("decoder.fine.") for t in tensors))
             or n.startswith("local_projector.")]
    if missing and fresh == missing and not unexpected:
        print(f"{path}: starting {', '.join(missing)} fresh", flush=True)
        return
    if missing or unexpected:
        raise SystemExit(f"{path}: missing {missing}, unexpected {unexpected}")


def main(argv=None) -> None:
    args = parse_args(argv)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    distributed = world > 1
    if distributed:
        dist.init_process_group("nccl" if args.device == "cuda" else "gloo")
    device = torch.device(f"cuda:{local_rank}" if args.device == "cuda" else "cpu")
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.device == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed crop sizes: let cuDNN pick its fastest convolutions
    torch.manual_seed(args.seed + rank)
    random.seed(args.seed + rank)
    os.makedirs(args.out, exist_ok=True)

    cfg = PRESETS[args.preset]()
    # Continuing a model (--resume's checkpoint, else --init) keeps its upsampler unless --upsampler-width asks for
    # another.
    # The file is read once, for its config here and its tensors below.
    latest = os.path.join(args.out, "latest.json")
    info = None
    if args.resume and os.path.exists(latest):
        with open(latest) as f:
            info = json.load(f)
    continued = os.path.join(args.out, info["weights"]) if info else args.init
    tensors, metadata = load_file(continued) if continued else ({}, {})
    continued_cfg = json.loads(metadata["config"]) if "config" in metadata else {}
    # Defaults: the continued file's (which writes upsampler_width and per_level_estimators only when set), else the
    # preset's.
    preset_cfg = {} if continued else cfg.to_dict()
    width = (args.upsampler_width if args.upsampler_width is not None
             else continued_cfg.get("upsampler_width", preset_cfg.get("upsampler_width", 0)))

    def kept(option: Optional[bool], key: str, what: str) -> bool:
        # A feature the continued file has cannot be switched off (its weights have nowhere to go).
        on = option if option is not None else continued_cfg.get(key, preset_cfg.get(key, False))
        if continued_cfg.get(key, False) and not on:
            raise SystemExit(f"{continued}: {what}")
        return on

    per_level = kept(args.per_level_estimators, "per_level_estimators",
                     "has an estimator per level, which cannot be merged into a shared one")
    stop = (args.decoder_stop_level if args.decoder_stop_level is not None
            else continued_cfg.get("decoder_stop_level", cfg.decoder_stop_level))
    if stop > continued_cfg.get("decoder_stop_level", stop):
        raise SystemExit(f"{continued}: decodes down to level {continued_cfg['decoder_stop_level']}, which cannot "
                         f"start a decoder that stops at level {stop}")
    iterations = (args.refinement_iterations if args.refinement_iterations is not None
                  else continued_cfg.get("refinement_iterations", preset_cfg.get("refinement_iterations", 0)))
    if continued_cfg.get("refinement_iterations", 0) and not iterations:
        raise SystemExit(f"{continued}: has a recurrent refinement, which cannot be dropped")
    refinement_width = 0 if not iterations else (
        args.refinement_width or continued_cfg.get("refinement_width") or 64)
    fine = (args.fine_iterations if args.fine_iterations is not None
            else continued_cfg.get("fine_iterations", preset_cfg.get("fine_iterations", 0)))
    if continued_cfg.get("fine_iterations", 0) and not fine:
        raise SystemExit(f"{continued}: has a fine head, which cannot be dropped")
    fine_width = 0 if not fine else (args.fine_width or continued_cfg.get("fine_width") or 32)
    cfg = dataclasses.replace(cfg, decoder_stop_level=stop, upsampler_width=width, per_level_estimators=per_level,
                              refinement_iterations=iterations, refinement_width=refinement_width,
                              fine_iterations=fine, fine_width=fine_width)
    # The local projector: the continued file's (kept when the level is the same), else a fresh one at the asked
    # level with --content-dense; without --content-dense a continued file's stays, unused.
    projector_level = continued_cfg.get("local_projector_level", 0)
    if args.content_dense > 0:
        projector_level = args.content_dense_level or projector_level or 3
    if projector_level == continued_cfg.get("local_projector_level", 0) and projector_level > 0:
        cfg = dataclasses.replace(cfg, local_projector_level=projector_level,
                                  local_projector_widths=tuple(continued_cfg["local_projector_widths"]))
    else:
        cfg = cfg.with_local_projector(projector_level)
    try:
        model = MCJEPA(cfg).to(device)
    except ValueError as error:
        raise SystemExit(f"the network: {error}")
    loss_cfg = loss_config(args.loss)
    trained = trainable_names(model, args.train_only)
    if args.train_only:
        for n, p in model.named_parameters():
            p.requires_grad_(n in trained)
        if not any(n.startswith(("encoder.", "expander.")) for n in trained) and loss_cfg.has_content_terms():
            # VICReg reaches only the encoder and the expander: with both frozen it would be computed for nothing.
            loss_cfg.vicreg_inv = loss_cfg.vicreg_var = loss_cfg.vicreg_cov = 0.0
            if rank == 0:
                print("no content batch: its loss reaches no trained parameter", flush=True)
    make_flow = not args.synthetic_on_device
    # Workers only when they have batches to make: with on-device pairs and no content terms they would have none.
    # With workers this process makes no batches, so it opens no sources and keeps no sampler.
    use_workers = args.workers > 0 and (make_flow or loss_cfg.has_content_terms())
    sampler = None if use_workers else make_sampler(args, build_sources(args, rank, world), seed=args.seed * 1000 + rank)
    # --new-weights-lr-scale: the parameters --init does not carry (recomputed from the same --init on a resume, as
    # the Swift trainer does) learn in groups of their own at K x the rate, step and weight decay alike.
    fresh = set()
    if args.new_weights_lr_scale != 1 and args.init:
        fresh = set(fresh_names(model, tensors if continued == args.init else load_file(args.init)[0]))
        if rank == 0:
            count = sum(p.numel() for n, p in model.named_parameters() if n in fresh and n in trained)
            print(f"{count} new weights learn at {args.new_weights_lr_scale:g} x the rate", flush=True)
    groups = []
    for scaled in ([False, True] if args.new_weights_lr_scale != 1 and args.init else [False]):
        chosen = [(n, p) for n, p in model.named_parameters() if n in trained and (n in fresh) == scaled]
        scale = args.new_weights_lr_scale if scaled else 1.0
        groups += [{"params": [p for n, p in chosen if p.ndim > 1], "weight_decay": args.weight_decay, "lr_scale": scale},
                   {"params": [p for n, p in chosen if p.ndim <= 1], "weight_decay": 0.0,  # biases and norm gains
                    "lr_scale": scale}]
    optimizer = torch.optim.AdamW(groups, lr=args.lr)
    start = 0
    if info is not None:
        load_weights(model, continued, tensors)
        state = torch.load(os.path.join(args.out, info["state"]), map_location=device, weights_only=False)
        optimizer.load_state_dict(state["optimizer"])
        if sampler and state["sampler"] is not None:
            sampler.set_state(state["sampler"])
        torch.set_rng_state(state["torch_rng"])
        random.setstate(state["python_rng"])
        start = state["step"]
        if rank == 0:
            print(f"resumed from {info['weights']} at step {start}", flush=True)
    elif args.init:
        load_weights(model, args.init, tensors, fresh_upsampler=width > 0)

    # The moving average starts at the initial (or --init) weights; a resumed run restores its own from the
    # checkpoint's .ema.safetensors.
    average = None
    if args.ema_decay > 0:
        saved = os.path.join(args.out, f"step-{start:07d}.ema.safetensors")
        if start > 0 and os.path.exists(saved):
            average = {n: t.to(device) for n, t in load_file(saved)[0].items()}
        else:
            average = {n: p.detach().clone() for n, p in model.named_parameters()}
    step_module = TrainStep(model, loss_cfg, args.content_dense, args.content_dense_nn,
                            ALIGNMENT_ITERATIONS if args.train_through_alignment else 0)
    if distributed:
        # The decoder is idle during the content warm-up, hence find_unused_parameters.
        step_module = nn.parallel.DistributedDataParallel(
            step_module, device_ids=[local_rank] if args.device == "cuda" else None, find_unused_parameters=True)
    if rank == 0:
        made_by = f"{args.workers} worker processes" if use_workers else f"{len(sampler.sources)} sources"
        print(f"preset {args.preset}: {count_parameters(model)} parameters, batches from {made_by}, "
              f"world size {world}", flush=True)

    log = open(os.path.join(args.out, "log.jsonl"), "a") if rank == 0 else None
    t_last, steps_since = time.perf_counter(), 0
    visible = 0.0  # fraction of pixels passing the occlusion test at the last flow step
    if use_workers:
        # iter() forks the workers now, before the on-device source below resizes and copies its photos: a child
        # forked after OpenCV's or torch's thread pools have started hangs in its first parallel op.
        batches = iter(torch.utils.data.DataLoader(
            StepBatches(args, loss_cfg, rank, world, start, make_flow), batch_size=None, num_workers=args.workers,
            pin_memory=args.device == "cuda", prefetch_factor=4, persistent_workers=False))
    else:
        batches = step_batches(args, loss_cfg, sampler, range(start, args.steps), make_flow)
    device_synthetic = None
    if args.synthetic_on_device:
        device_synthetic = BatchedSyntheticPairs(
            args.synthetic, crop=args.crop, max_shift=args.synthetic_max_shift, shift_power=args.synthetic_shift_power,
            max_layers=args.synthetic_layers, jitter=args.synthetic_jitter, motion_blur=args.synthetic_motion_blur,
            shape=args.synthetic_shape, max_rotation=args.synthetic_rotation, max_zoom=args.synthetic_zoom,
            device=device,
            seed=(args.seed * 1000 + rank) * 1000003 + start)  # a resumed run draws new pairs
    for step, content_cpu, flow_cpu in batches:
        lr = lr_at(step, args.lr, args.warmup, args.steps)
        for group in optimizer.param_groups:
            group["lr"] = lr * group.get("lr_scale", 1.0)  # checkpoints made before lr_scale existed lack it
        flow_on = step >= args.content_warmup
        # Masks switch on at --occlusion-start, but only while most pixels pass the forward-backward test: with
        # flows that are not yet opposite the mask is ~empty and would silence the photometric term.
        loss_cfg.use_occlusion = step >= args.occlusion_start and visible >= args.min_visible
        # With every VICReg weight at zero the content pass contributes nothing: no content batch is made.
        content = {k: v.to(device, non_blocking=True) for k, v in content_cpu.items()} if content_cpu else None
        flow = {k: v.to(device, non_blocking=True) for k, v in flow_cpu.items()} if flow_on and flow_cpu else None
        if flow_on and device_synthetic is not None:
            flow = device_synthetic.batch(args.batch)
        optimizer.zero_grad(set_to_none=True)
        total, terms = step_module(content, flow, flow_on, args.supervised_weight, args.supervised_level_weight)
        if not torch.isfinite(total):
            raise SystemExit(f"step {step}: loss is {total.item()}; lower --lr or check the data")
        if total.requires_grad:  # False only on a step with neither a content nor a flow term
            total.backward()
        if args.clip > 0:
            terms["grad_norm"] = torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip).detach()
        optimizer.step()
        if average is not None:
            with torch.no_grad():  # average = decay * average + (1 - decay) * weights
                for n, p in model.named_parameters():
                    average[n].mul_(args.ema_decay).add_(p.detach(), alpha=1 - args.ema_decay)
        if "visible" in terms:
            visible = float(terms["visible"])
        terms["occlusion_on"] = torch.tensor(float(loss_cfg.use_occlusion))
        steps_since += 1
        done = step + 1
        if rank == 0 and (done % args.log_every == 0 or done == args.steps):
            now = time.perf_counter()
            record = {"step": done, "lr": lr, "steps_per_s": steps_since / (now - t_last)}
            record.update({k: round(float(v), 6) for k, v in terms.items()})
            print(json.dumps(record), flush=True)
            log.write(json.dumps(record) + "\n")
            log.flush()
            t_last, steps_since = now, 0
        if rank == 0 and (done % args.ckpt_every == 0 or done == args.steps):
            save_checkpoint(args.out, done, model, optimizer, sampler, args, average)
    if log:
        log.close()
    if distributed:
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
