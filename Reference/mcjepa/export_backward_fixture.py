"""Writes the backward-pass parity fixture for the Swift port (model only, no losses):

  cd Reference && python3 -m mcjepa.export_backward_fixture   # -> ../Tests/MCJEPATests/Fixtures/backward_parity.safetensors

Weights and frames come from tiny_parity.safetensors (preset `test`; only the first pair, to keep the file small).
L = sum(full_fw * ct.full_fw) + sum_l sum(flow_fw.l * ct.flow_fw.l) + sum(full_bw * ct.full_bw)
    + sum_l sum(feats1.l * ct.feats1.l) + sum(rep1 * ct.rep1) + sum(emb1 * ct.emb1)
with fixed random cotangents ct.*; the file holds io.img1/io.img2 (1 pair), every ct.* and grad.<name> = dL/dparam.
"""
from __future__ import annotations

import json
import os

import torch

from .model import MCJEPA, ModelConfig
from .weights import load_file, save_file

HERE = os.path.dirname(__file__)
FIXTURES = os.path.join(HERE, "..", "..", "Tests", "MCJEPATests", "Fixtures")


def main() -> None:
    torch.set_num_threads(1)
    tensors, metadata = load_file(os.path.join(FIXTURES, "tiny_parity.safetensors"))
    cfg = ModelConfig.from_dict(json.loads(metadata["config"]))
    model = MCJEPA(cfg)
    model.load_state_dict({k: v for k, v in tensors.items() if not k.split(".")[0] in ("io", "loss", "grad")})
    img1, img2 = tensors["io.img1"][:1].contiguous(), tensors["io.img2"][:1].contiguous()
    g = torch.Generator().manual_seed(1)
    out = {"io.img1": img1, "io.img2": img2}

    feats1, feats2 = model.encode(img1), model.encode(img2)
    flows_fw, full_fw = model.flow(feats1, feats2)
    _, full_bw = model.flow(feats2, feats1)
    rep, emb = model.content(feats1)
    named = {"full_fw": full_fw, "full_bw": full_bw, "rep1": rep, "emb1": emb}
    for lv, f in zip(model.decoder.decoded_levels, flows_fw):
        named[f"flow_fw.l{lv}"] = f
    for i, f in enumerate(feats1):
        named[f"feats1.l{i + 1}"] = f
    loss = 0
    for name, value in named.items():
        ct = torch.randn(value.shape, generator=g)
        out[f"ct.{name}"] = ct
        loss = loss + (value * ct).sum()
    loss.backward()
    for name, p in model.named_parameters():
        out[f"grad.{name}"] = p.grad
    out = {k: v.detach().float().contiguous() for k, v in out.items()}
    path = os.path.join(FIXTURES, "backward_parity.safetensors")
    save_file(out, path, {"config": metadata["config"], "loss": f"{loss.item():.6g}",
                          "generator": "Reference/mcjepa/export_backward_fixture.py", "torch": torch.__version__})
    print(f"wrote {os.path.abspath(path)}: {len(out)} tensors, {os.path.getsize(path) / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
