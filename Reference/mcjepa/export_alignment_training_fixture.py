"""Writes the parity fixture of the flow losses trained through the feature alignment (`train.py
--train-through-alignment`) for the Swift port:

  cd Reference && python3 -m mcjepa.export_alignment_training_fixture
  # -> ../Tests/MCJEPATests/Fixtures/alignment_training_parity.safetensors

Weights, frames and loss config are tiny_parity.safetensors' (preset `test`, two 64x128 pairs moved by
(2.5, 1.25) px). loss.total = flow_losses(..., align_iterations=ITERATIONS) + supervised_epe, the end-point error of
the aligned forward flow against that motion (as the trainer's full flow pass with --supervised-weight 1). The file
holds io.target, io.flow_fw.full / io.flow_bw.full (the aligned flows), io.mask_fw.full, loss.* and grad.<name> =
d loss.total / d parameter (the weights stay in tiny_parity); and supervised.loss.* / supervised.grad.<name>, the same
for `supervised_flow_losses(..., level_weight=SUPERVISED_LEVEL_WEIGHT, align_iterations=ITERATIONS)`, the trainer's
supervised-only pass.
"""
from __future__ import annotations

import json
import os

import torch

from .alignment import ITERATIONS
from .export_fixtures import occlusion_margin
from .losses import LossConfig, end_point_error, flow_losses, occlusion_mask, supervised_flow_losses
from .model import MCJEPA, ModelConfig
from .weights import load_file, save_file

HERE = os.path.dirname(__file__)
FIXTURES = os.path.join(HERE, "..", "..", "Tests", "MCJEPATests", "Fixtures")
OUT = os.path.join(FIXTURES, "alignment_training_parity.safetensors")
SUPERVISED_LEVEL_WEIGHT = 0.5


def main() -> None:
    torch.set_num_threads(1)
    tensors, metadata = load_file(os.path.join(FIXTURES, "tiny_parity.safetensors"))
    model = MCJEPA(ModelConfig.from_dict(json.loads(metadata["config"])))
    model.load_state_dict({k: v for k, v in tensors.items() if k.split(".")[0] not in ("io", "loss", "grad")})
    cfg = LossConfig(**json.loads(metadata["loss_config"]))
    img1, img2 = tensors["io.img1"], tensors["io.img2"]
    target = torch.zeros(img1.shape[0], 2, img1.shape[2], img1.shape[3])
    target[:, 0], target[:, 1] = 2.5, 1.25
    total, terms, out = flow_losses(model, img1, img2, cfg, return_outputs=True, align_iterations=ITERATIONS)
    epe = end_point_error(out["fw"][1], target)
    terms["supervised_epe"] = epe
    total = total + epe
    total.backward()
    result = {"io.target": target, "io.flow_fw.full": out["fw"][1], "io.flow_bw.full": out["bw"][1],
              "io.mask_fw.full": occlusion_mask(out["fw"][1], out["bw"][1], cfg.occ_alpha1, cfg.occ_alpha2)}
    for name, value in terms.items():
        result[f"loss.{name}"] = value.reshape(1)
    result["loss.total"] = total.reshape(1)
    for name, p in model.named_parameters():
        # The content head gets no gradient from the flow losses: zero, as in the Swift pass.
        result[f"grad.{name}"] = p.grad if p.grad is not None else torch.zeros_like(p)
    # The supervised-only pass (train.py without self-supervised flow terms), multi-scale term on.
    model.zero_grad(set_to_none=True)
    supervised, supervised_terms = supervised_flow_losses(model, img1, img2, target, SUPERVISED_LEVEL_WEIGHT,
                                                          align_iterations=ITERATIONS)
    supervised.backward()
    for name, value in supervised_terms.items():
        result[f"supervised.loss.{name}"] = value.reshape(1)
    result["supervised.loss.total"] = supervised.reshape(1)
    for name, p in model.named_parameters():
        result[f"supervised.grad.{name}"] = p.grad if p.grad is not None else torch.zeros_like(p)
    result = {k: v.detach().float().contiguous() for k, v in result.items()}
    save_file(result, OUT, {"mask_margin_min": f"{occlusion_margin(out['fw'][1], out['bw'][1], cfg):.3e}",
                            "alignment_iterations": str(ITERATIONS),
                            "supervised_level_weight": str(SUPERVISED_LEVEL_WEIGHT), "loss_config": metadata["loss_config"],
                            "generator": "Reference/mcjepa/export_alignment_training_fixture.py",
                            "torch": torch.__version__})
    print(f"wrote {os.path.abspath(OUT)}: {len(result)} tensors, {os.path.getsize(OUT) / 1e6:.2f} MB; "
          f"total {total.item():.6g}, supervised_epe {epe.item():.4g}")


if __name__ == "__main__":
    main()
