"""MC-JEPA: one ConvNeXt encoder shared by a PWC-style flow decoder (motion) and a VICReg expander (content).

Levels are numbered 1..6 with stride 2**level. `encode` runs once per frame; `flow` takes two frames' feature
pyramids, so a video frame's features serve both pairs it belongs to. Parameter names (state_dict keys) are the
contract with the Swift port: see Reference/MODEL.md.
"""
from __future__ import annotations

import json
import dataclasses
from dataclasses import dataclass, field, asdict
from typing import Dict, List, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from .alignment import ITERATIONS as ALIGNMENT_ITERATIONS, align_flow
from .ops import (LayerNorm2d, gelu, leaky_relu, correlation, backward_warp, upsample_flow, normalize_image,
                  InputPadder, CORRELATION_RADIUS)

NUM_LEVELS = 6
PAD_MULTIPLE = 2 ** NUM_LEVELS
FINE_LEVEL = 2  # the level the fine head refines the flow at (1/4)


@dataclass
class ModelConfig:
    # Channels of levels 1..6 (strides 2, 4, 8, 16, 32, 64).
    widths: Tuple[int, ...] = (16, 16, 32, 64, 128, 256)
    # ConvNeXt blocks at levels 3..6 (levels 1 and 2 are the split stem: conv + LayerNorm only).
    blocks: Tuple[int, ...] = (1, 1, 2, 1)
    # The decoder runs from level 6 down to this level, then the flow is upsampled bilinearly to full size.
    decoder_stop_level: int = 2
    # Each decoded level's features are reduced by a 1x1 conv to this many channels for the shared estimator.
    reduced_channels: int = 32
    # Hidden widths of the shared flow estimator (3x3 convs, leaky ReLU 0.1), followed by a 3x3 conv to 2.
    estimator_widths: Tuple[int, ...] = (96, 96, 64, 48, 32)
    # LayerNorm2d after every hidden estimator conv (before the activation).
    estimator_norm: bool = True
    # Hidden widths of the dilated context network, and their dilations; followed by a 3x3 conv to 2.
    context_widths: Tuple[int, ...] = (64, 64, 64, 48, 32, 32)
    context_dilations: Tuple[int, ...] = (1, 2, 4, 8, 16, 1)
    # VICReg expander on the global-average-pooled level-6 features: Linear+LayerNorm+ReLU per hidden layer,
    # then a final Linear.
    expander_widths: Tuple[int, ...] = (512, 512, 512)
    # 0: the stop level's flow is upsampled bilinearly to full size. > 0: convex upsampling (RAFT's): a 3x3 conv of
    # this width (leaky ReLU 0.1) and a 1x1 conv on concat(estimator hidden, frame-1 features, flow) at the stop
    # level give, for each of the 2^stop x 2^stop full-size pixels of a cell, softmax weights over the cell's 3x3
    # neighbourhood (`convex_upsample`).
    upsampler_width: int = 0
    # False: one flow estimator shared by every decoded level (`decoder.estimator.*`). True: one per level, as in
    # PWC-Net (`decoder.estimators.l<level>.*`): more parameters for the same work.
    per_level_estimators: bool = False
    # 0: none. > 0: this many iterations of the recurrent refinement at the stop level (`RecurrentRefinement`),
    # after the context network, with an update block of `refinement_width` channels shared by every iteration.
    refinement_iterations: int = 0
    refinement_width: int = 0
    # 0: none. > 0: this many iterations of the fine head at level 2 (`FineHead`): the same update block at 1/4, on
    # frame-1 level-2 features, whose correction is added to the full-size flow. Needs decoder_stop_level > 2.
    fine_iterations: int = 0
    fine_width: int = 0
    # 0: none. 1..6: the encoder level whose feature map the local projector (`local_projector.*`, the expander's
    # layers as 1x1 convs, widths `local_projector_widths`) embeds pixel by pixel for the dense content loss
    # (`dense_vicreg_terms`, train.py --content-dense). Training only: inference never runs it.
    local_projector_level: int = 0
    local_projector_widths: Tuple[int, ...] = ()

    def to_dict(self) -> dict:
        d = {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}
        if d["upsampler_width"] == 0:
            del d["upsampler_width"]  # files of bilinear models stay as they were (and readable by older builds)
        if not d["per_level_estimators"]:
            del d["per_level_estimators"]  # likewise for models with a shared estimator
        if d["refinement_iterations"] == 0:
            del d["refinement_iterations"], d["refinement_width"]  # and for models without the refinement
        if d["fine_iterations"] == 0:
            del d["fine_iterations"], d["fine_width"]  # and without the fine head
        if d["local_projector_level"] == 0:
            del d["local_projector_level"], d["local_projector_widths"]  # and without the local projector
        return d

    def with_local_projector(self, level: int) -> "ModelConfig":
        """The local projector --content-dense adds at `level`: 1x1 convs C -> 2C -> 2C (C the level's width)."""
        widths = (2 * self.widths[level - 1],) * 2 if level > 0 else ()
        return dataclasses.replace(self, local_projector_level=level, local_projector_widths=widths)

    @staticmethod
    def from_dict(d: dict) -> "ModelConfig":
        return ModelConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})


def paper_config() -> ModelConfig:
    """ConvNeXt-T sized MC-JEPA (the paper's encoder; decoder widths as in PWC-Net)."""
    return ModelConfig(widths=(48, 48, 96, 192, 384, 768), blocks=(3, 3, 9, 3), decoder_stop_level=2,
                       reduced_channels=64, estimator_widths=(128, 128, 96, 64, 32), estimator_norm=True,
                       context_widths=(128, 128, 128, 96, 64, 32), expander_widths=(8192, 8192, 8192))


def tiny_config() -> ModelConfig:
    """The CPU default and the built-in weights' network: an estimator per decoded level and a convex upsampler of
    width 32 (see MODEL.md for the timing measurements that chose the widths). The training recipe's first steps
    trained it with one shared estimator and bilinear upsampling (`--upsampler-width 0 --no-per-level-estimators`)."""
    return ModelConfig(widths=(16, 16, 32, 64, 128, 256), blocks=(1, 1, 2, 1), decoder_stop_level=3,
                       reduced_channels=32, estimator_widths=(48, 48, 32, 32, 32), estimator_norm=True,
                       context_widths=(32, 32, 32, 32, 32, 32), expander_widths=(512, 512, 512),
                       upsampler_width=32, per_level_estimators=True)


def test_config() -> ModelConfig:
    """The structure of `tiny` at very small widths, with one shared estimator and bilinear upsampling, for the
    committed parity fixtures (their variants add the convex upsampler and per-level estimators)."""
    return ModelConfig(widths=(8, 8, 16, 16, 24, 32), blocks=(1, 1, 2, 1), decoder_stop_level=3,
                       reduced_channels=8, estimator_widths=(16, 16, 12, 8, 8), estimator_norm=True,
                       context_widths=(12, 12, 12, 8, 8, 8), expander_widths=(32, 32, 32))


PRESETS = {"paper": paper_config, "tiny": tiny_config, "test": test_config}


class ConvNeXtBlock(nn.Module):
    """depthwise 7x7 conv -> LayerNorm2d -> 1x1 conv to 4C -> GELU -> 1x1 conv to C -> residual add."""

    def __init__(self, channels: int):
        super().__init__()
        self.dwconv = nn.Conv2d(channels, channels, 7, padding=3, groups=channels)
        self.norm = LayerNorm2d(channels)
        self.pwconv1 = nn.Conv2d(channels, 4 * channels, 1)
        self.pwconv2 = nn.Conv2d(4 * channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.pwconv2(gelu(self.pwconv1(self.norm(self.dwconv(x)))))


class EncoderLevel(nn.Module):
    """One pyramid level: a stride-2 conv + LayerNorm2d, then ConvNeXt blocks."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int, padding: int, num_blocks: int):
        super().__init__()
        self.conv = nn.Conv2d(in_ch, out_ch, kernel, stride=2, padding=padding)
        self.norm = LayerNorm2d(out_ch)
        self.blocks = nn.ModuleList([ConvNeXtBlock(out_ch) for _ in range(num_blocks)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.norm(self.conv(x))
        for block in self.blocks:
            x = block(x)
        return x


class Encoder(nn.Module):
    """Split-stem ConvNeXt: level 1 = conv 4x4 s2 p1, level 2 = conv 3x3 s2 p1, levels 3..6 = conv 2x2 s2 p0."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        w = cfg.widths
        levels = [EncoderLevel(3, w[0], 4, 1, 0), EncoderLevel(w[0], w[1], 3, 1, 0)]
        for i in range(2, NUM_LEVELS):
            levels.append(EncoderLevel(w[i - 1], w[i], 2, 0, cfg.blocks[i - 2]))
        self.levels = nn.ModuleList(levels)

    def forward(self, x: torch.Tensor) -> List[torch.Tensor]:
        feats = []
        for level in self.levels:
            x = level(x)
            feats.append(x)
        return feats


class FlowEstimator(nn.Module):
    """Shared across levels: input concat(correlation (81), reduced f1 features, upsampled flow (2))."""

    def __init__(self, in_ch: int, widths: Tuple[int, ...], norm: bool):
        super().__init__()
        chans = [in_ch] + list(widths)
        self.convs = nn.ModuleList([nn.Conv2d(chans[i], chans[i + 1], 3, padding=1) for i in range(len(widths))])
        self.norms = nn.ModuleList([LayerNorm2d(c) for c in widths]) if norm else None
        self.out = nn.Conv2d(widths[-1], 2, 3, padding=1)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Returns (residual flow, last hidden features)."""
        for i, conv in enumerate(self.convs):
            x = conv(x)
            if self.norms is not None:
                x = self.norms[i](x)
            x = leaky_relu(x)
        return self.out(x), x


class ContextNetwork(nn.Module):
    """Dilated 3x3 convs (leaky ReLU 0.1) on concat(estimator hidden features, flow) -> residual flow."""

    def __init__(self, in_ch: int, widths: Tuple[int, ...], dilations: Tuple[int, ...]):
        super().__init__()
        chans = [in_ch] + list(widths)
        self.convs = nn.ModuleList([nn.Conv2d(chans[i], chans[i + 1], 3, padding=d, dilation=d)
                                    for i, d in enumerate(dilations)])
        self.out = nn.Conv2d(widths[-1], 2, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for conv in self.convs:
            x = leaky_relu(conv(x))
        return self.out(x)


def convex_upsample(flow: torch.Tensor, mask: torch.Tensor, factor: int) -> torch.Tensor:
    """[N,2,h,w] flow (cell pixels), [N,9*factor^2,h,w] logits -> [N,2,h*factor,w*factor] flow in full-size pixels.

    Full-size pixel (y*factor + dy, x*factor + dx) is factor * sum_k softmax_k(mask[k*factor^2 + dy*factor + dx])
    * flow at cell (y + ky - 1, x + kx - 1), k = 3*ky + kx, with the border cells repeated (so that a constant flow
    stays constant up to the frame's edge).
    """
    n, _, h, w = flow.shape
    neighbours = F.unfold(F.pad(flow, (1, 1, 1, 1), mode="replicate") * factor, 3).view(n, 2, 9, 1, h, w)
    weights = torch.softmax(mask.view(n, 1, 9, factor * factor, h, w), dim=2)
    up = (weights * neighbours).sum(2).view(n, 2, factor, factor, h, w)
    return up.permute(0, 1, 4, 2, 5, 3).reshape(n, 2, h * factor, w * factor)


def bilinear_stencil_logits(factor: int) -> torch.Tensor:
    """[9*factor^2] mask biases whose softmax is the bilinear (half-pixel centred) upsampling stencil: a convex
    upsampler starts as a bilinear one (zero-weight neighbours get log 1e-4)."""
    t = (torch.arange(factor, dtype=torch.float64) + 0.5) / factor - 0.5  # sub-pixel offset from the cell centre
    along = torch.stack([(-t).clamp(min=0), 1 - t.abs(), t.clamp(min=0)])  # [3 neighbours, factor]
    weights = along[:, None, :, None] * along[None, :, None, :]  # [ky, kx, dy, dx]
    return weights.reshape(9 * factor * factor).clamp(min=1e-4).log().float()


class ConvexUpsampler(nn.Module):
    """Mask head of the convex upsampling: concat(estimator hidden, frame-1 features, flow) at the stop level ->
    3x3 conv (leaky ReLU 0.1) -> 1x1 conv to 9 * factor^2 logits."""

    def __init__(self, in_ch: int, width: int, factor: int):
        super().__init__()
        self.factor = factor
        self.conv = nn.Conv2d(in_ch, width, 3, padding=1)
        self.mask = nn.Conv2d(width, 9 * factor * factor, 1)

    def forward(self, hidden: torch.Tensor, features: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
        mask = self.mask(leaky_relu(self.conv(torch.cat([hidden, features, flow], dim=1))))
        return convex_upsample(flow, mask, self.factor)


class RecurrentRefinement(nn.Module):
    """RAFT-style update iterations at one level, light for the CPU: `iterations` times, warp frame 2's features
    by the current flow, correlate with frame 1's, and add the residual flow of one shared block on concat(correlation,
    flow, context): 1x1 conv -> leaky ReLU -> 3x3 depthwise conv -> 1x1 conv -> leaky ReLU -> 3x3 conv to 2.
    No recurrent hidden state: the flow carries what one iteration passes to the next (see RecurrentRefinement.swift).
    The `out` conv starts at zero, so a model warm-started from weights without the head computes what they did.
    Two heads use it: `decoder.refinement` at the stop level (context: the estimator's hidden features) and
    `decoder.fine` at level 2 (context: frame 1's level-2 features)."""

    def __init__(self, in_ch: int, width: int, iterations: int):
        super().__init__()
        self.iterations = iterations
        self.encode = nn.Conv2d(in_ch, width, 1)
        self.depthwise = nn.Conv2d(width, width, 3, padding=1, groups=width)
        self.pointwise = nn.Conv2d(width, width, 1)
        self.out = nn.Conv2d(width, 2, 3, padding=1)

    def forward(self, flow: torch.Tensor, context: torch.Tensor, f1: torch.Tensor, f2: torch.Tensor) -> torch.Tensor:
        for _ in range(self.iterations):
            corr = correlation(f1, backward_warp(f2, flow))
            x = leaky_relu(self.encode(torch.cat([corr, flow, context], dim=1)))
            x = leaky_relu(self.pointwise(self.depthwise(x)))
            flow = flow + self.out(x)
        return flow


class FlowDecoder(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.stop_level = cfg.decoder_stop_level
        self.decoded_levels = list(range(NUM_LEVELS, cfg.decoder_stop_level - 1, -1))  # coarse -> fine
        self.reduce = nn.ModuleDict({f"l{lv}": nn.Conv2d(cfg.widths[lv - 1], cfg.reduced_channels, 1)
                                     for lv in self.decoded_levels})
        corr_ch = (2 * CORRELATION_RADIUS + 1) ** 2
        est_in = corr_ch + cfg.reduced_channels + 2
        if cfg.per_level_estimators:
            self.estimators = nn.ModuleDict({f"l{lv}": FlowEstimator(est_in, cfg.estimator_widths, cfg.estimator_norm)
                                             for lv in self.decoded_levels})
        else:
            self.estimator = FlowEstimator(est_in, cfg.estimator_widths, cfg.estimator_norm)
        context_in = cfg.estimator_widths[-1] + 2
        self.context = ContextNetwork(context_in, cfg.context_widths, cfg.context_dilations)
        self.upsampler = None
        if cfg.upsampler_width > 0:
            self.upsampler = ConvexUpsampler(cfg.estimator_widths[-1] + cfg.widths[cfg.decoder_stop_level - 1] + 2,
                                             cfg.upsampler_width, 2 ** cfg.decoder_stop_level)
        self.refinement = None
        if cfg.refinement_iterations > 0:
            self.refinement = RecurrentRefinement((2 * CORRELATION_RADIUS + 1) ** 2 + 2 + cfg.estimator_widths[-1],
                                                  cfg.refinement_width, cfg.refinement_iterations)
        # Registered last: its parameters come after every other decoder parameter, as in the Swift port.
        self.fine = None
        if cfg.fine_iterations > 0:
            if cfg.decoder_stop_level <= FINE_LEVEL:
                raise ValueError(f"fine_iterations needs a decoder that stops above level {FINE_LEVEL} "
                                 f"(decoder_stop_level is {cfg.decoder_stop_level})")
            self.fine = RecurrentRefinement((2 * CORRELATION_RADIUS + 1) ** 2 + 2 + cfg.widths[FINE_LEVEL - 1],
                                            cfg.fine_width, cfg.fine_iterations)

    def fine_full(self, coarse: torch.Tensor, coarse_full: torch.Tensor, f1: torch.Tensor,
                  f2: torch.Tensor) -> torch.Tensor:
        """The fine head (FineHead.swift): the stop level's flow upsampled to level 2, refined there, and the
        refinement's correction (not its flow) added to the stop level's full-size flow, which keeps the convex
        upsampler's edges; with its zero `out` conv, exactly `coarse_full`."""
        start = upsample_flow(coarse, f1.shape[-2], f1.shape[-1])
        refined = self.fine(start, f1, f1, f2)
        return coarse_full + upsample_flow(refined - start, coarse_full.shape[-2], coarse_full.shape[-1])

    def estimator_at(self, level: int) -> "FlowEstimator":
        """The estimator that decodes `level` (the shared one, unless the config has one per level)."""
        return self.estimators[f"l{level}"] if hasattr(self, "estimators") else self.estimator

    def all_estimators(self) -> List["FlowEstimator"]:
        return list(self.estimators.values()) if hasattr(self, "estimators") else [self.estimator]

    def forward(self, feats1: List[torch.Tensor], feats2: List[torch.Tensor], return_hidden: bool = False):
        """Flow from frame 1 to frame 2 at every decoded level, coarse (level 6) to fine (stop level).

        Each flow is in pixels of its own level's grid. The last entry already includes the context network's
        refinement and the recurrent refinement's (when the config has one).
        With `return_hidden`, also the estimator's last hidden features at the stop level: (flows, hidden).
        """
        flows = []
        flow = None
        for lv in self.decoded_levels:
            f1, f2 = feats1[lv - 1], feats2[lv - 1]
            n, _, h, w = f1.shape
            if flow is None:
                # Coarsest level: no prior motion, so frame 2's features are used unwarped.
                up = f1.new_zeros(n, 2, h, w)
                f2w = f2
            else:
                up = upsample_flow(flow, h, w)
                f2w = backward_warp(f2, up)
            corr = correlation(f1, f2w)
            est_in = torch.cat([corr, self.reduce[f"l{lv}"](f1), up], dim=1)
            residual, hidden = self.estimator_at(lv)(est_in)
            flow = up + residual
            if lv == self.stop_level:
                flow = flow + self.context(torch.cat([hidden, flow], dim=1))
                if self.refinement is not None:
                    flow = self.refinement(flow, hidden, f1, f2)
            flows.append(flow)
        return (flows, hidden) if return_hidden else flows


class Expander(nn.Module):
    """VICReg expander: [Linear -> LayerNorm -> ReLU] per hidden width, then a final Linear."""

    def __init__(self, in_dim: int, widths: Tuple[int, ...]):
        super().__init__()
        dims = [in_dim] + list(widths)
        self.linears = nn.ModuleList([nn.Linear(dims[i], dims[i + 1]) for i in range(len(widths))])
        self.norms = nn.ModuleList([nn.LayerNorm(d, eps=1e-6) for d in widths[:-1]])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for i, linear in enumerate(self.linears):
            x = linear(x)
            if i < len(self.norms):
                x = F.relu(self.norms[i](x))
        return x


class MCJEPA(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.encoder = Encoder(cfg)
        self.decoder = FlowDecoder(cfg)
        self.expander = Expander(cfg.widths[-1], cfg.expander_widths)
        if (cfg.local_projector_level > 0) != bool(cfg.local_projector_widths):
            raise ValueError("local_projector_level and local_projector_widths go together")
        self.local_projector = (Expander(cfg.widths[cfg.local_projector_level - 1], cfg.local_projector_widths)
                                if cfg.local_projector_level > 0 else None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # ConvNeXt initialisation: truncated normal (std 0.02) weights, zero biases, for every conv and linear.
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.trunc_normal_(m.weight, std=0.02)
                nn.init.zeros_(m.bias)
        # The estimator and context net follow PWC-Net instead: Kaiming for leaky ReLU, so the flow head is alive.
        # Their 2-channel output convs get std 1e-3 (residuals add up over levels and are scaled x2 per level), so the initial flow is a fraction of a pixel and the
        # forward-backward occlusion test starts with (almost) every pixel visible.
        estimators = self.decoder.all_estimators()
        heads = [e.out for e in estimators] + [self.decoder.context.out]
        for m in [m for e in estimators for m in e.modules()] + list(self.decoder.context.modules()):
            if isinstance(m, nn.Conv2d) and m not in heads:
                nn.init.kaiming_normal_(m.weight, a=0.1, nonlinearity="leaky_relu")
                nn.init.zeros_(m.bias)
        for head in heads:
            nn.init.trunc_normal_(head.weight, std=1e-3)
        # The convex upsampler starts as bilinear upsampling: its mask logits are the stencil's, whatever the input.
        if self.decoder.upsampler is not None:
            up = self.decoder.upsampler
            nn.init.kaiming_normal_(up.conv.weight, a=0.1, nonlinearity="leaky_relu")
            nn.init.zeros_(up.conv.bias)
            nn.init.zeros_(up.mask.weight)
            with torch.no_grad():
                up.mask.bias.copy_(bilinear_stencil_logits(up.factor))
        # The recurrent refinement and the fine head: Kaiming for their hidden convs, a zero `out` conv (they start as
        # the identity).
        for ref in (self.decoder.refinement, self.decoder.fine):
            if ref is None:
                continue
            for conv in (ref.encode, ref.depthwise, ref.pointwise):
                nn.init.kaiming_normal_(conv.weight, a=0.1, nonlinearity="leaky_relu")
                nn.init.zeros_(conv.bias)
            nn.init.zeros_(ref.out.weight)
            nn.init.zeros_(ref.out.bias)

    @staticmethod
    def prepare(rgb01: torch.Tensor) -> torch.Tensor:
        """RGB in [0, 1], H and W multiples of 64 -> normalised network input."""
        return normalize_image(rgb01)

    def encode(self, rgb01: torch.Tensor) -> List[torch.Tensor]:
        """[N,3,H,W] RGB in [0,1] with H, W multiples of 64 -> features of levels 1..6."""
        return self.encoder(self.prepare(rgb01))

    def flow(self, feats1: List[torch.Tensor], feats2: List[torch.Tensor]) -> Tuple[List[torch.Tensor], torch.Tensor]:
        """-> (flows per decoded level coarse..fine, full-resolution flow in input pixels, with the fine head's
        correction when the config has one)."""
        flows, hidden = self.decoder(feats1, feats2, return_hidden=True)
        if self.decoder.upsampler is not None:
            full = self.decoder.upsampler(hidden, feats1[self.cfg.decoder_stop_level - 1], flows[-1])
        else:
            full = upsample_flow(flows[-1], feats1[0].shape[-2] * 2, feats1[0].shape[-1] * 2)
        if self.decoder.fine is not None:
            full = self.decoder.fine_full(flows[-1], full, feats1[FINE_LEVEL - 1], feats2[FINE_LEVEL - 1])
        return flows, full

    def content(self, feats: List[torch.Tensor]) -> Tuple[torch.Tensor, torch.Tensor]:
        """-> (representation = global average pool of level 6, expander embedding)."""
        rep = feats[-1].mean(dim=(2, 3))
        return rep, self.expander(rep)

    def local_embedding(self, feats: List[torch.Tensor]) -> torch.Tensor:
        """The local projector on every pixel of level `local_projector_level`: [N*H*W, D], row n*H*W + y*W + x."""
        fmap = feats[self.cfg.local_projector_level - 1]
        return self.local_projector(fmap.permute(0, 2, 3, 1).reshape(-1, fmap.shape[1]))

    @torch.no_grad()
    def estimate_flow(self, img1: torch.Tensor, img2: torch.Tensor, flip_average: bool = False,
                      alignment_iterations: int = ALIGNMENT_ITERATIONS) -> torch.Tensor:
        """Any-size RGB [0,1] frames -> full-resolution flow from img1 to img2 (padding handled here).

        alignment_iterations: Gauss-Newton steps of the feature alignment on the level-1 features (`alignment.py`)
        after the decoder, on the padded frames; 0 gives the decoder's flow alone. As the Swift `FlowEstimator`.

        flip_average: the mean with the flow of the pair mirrored left to right, mirrored back (u negated), as the
        Swift `FlowEstimator(flipAverage:)`; the mirrored frames are padded after mirroring.
        """
        padder = InputPadder(img1.shape[-2], img1.shape[-1], PAD_MULTIPLE)

        def flow(a, b):
            feats1, feats2 = self.encode(padder.pad_tensor(a)), self.encode(padder.pad_tensor(b))
            full = align_flow(self.flow(feats1, feats2)[1], feats1[0], feats2[0], alignment_iterations)
            return padder.unpad(full)

        forward = flow(img1, img2)
        if not flip_average:
            return forward
        mirrored = flow(img1.flip(-1), img2.flip(-1)).flip(-1)
        mirrored[:, 0] = -mirrored[:, 0]
        return 0.5 * (forward + mirrored)


def build_model(preset: str = "tiny") -> MCJEPA:
    return MCJEPA(PRESETS[preset]())


def weights_metadata(cfg: ModelConfig) -> Dict[str, str]:
    """The metadata every weights file of this model carries: its config (which `load_model` and the Swift loader
    read back) and the format tag. Callers add their own keys (step, ema_decay) to a copy."""
    return {"config": json.dumps(cfg.to_dict()), "format": "mcjepa-v1"}


def load_model(path: str, preset: Optional[str] = None) -> Tuple[MCJEPA, Dict[str, str]]:
    """A weights file -> (model in eval mode, the file's metadata).

    The config is the one the file carries in its metadata (both trainers and the fixture exporters write it), so
    any weights load at the size they were trained at. `preset` is only for files without one (a bare state_dict);
    a file with a config never takes the preset's. Names and shapes must match exactly: a wrong file fails here,
    not with wrong flow.
    """
    from .weights import load_file  # weights.py does not import the model; the import stays one-way at load time

    tensors, metadata = load_file(path)
    if "config" in metadata:
        cfg = ModelConfig.from_dict(json.loads(metadata["config"]))
    elif preset is not None:
        cfg = PRESETS[preset]()
    else:
        raise ValueError(f"{path}: no model config in the metadata; name a preset for a bare state_dict")
    model = MCJEPA(cfg)
    model.load_state_dict(tensors, strict=True)
    return model.eval(), metadata


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
