import dataclasses
import os
import pytest
import torch

from mcjepa.model import (MCJEPA, PRESETS, build_model, count_parameters, load_model, paper_config, tiny_config,
                          weights_metadata)
from mcjepa.weights import save_file


def test_encoder_levels_have_strides_2_to_64_and_configured_widths():
    model = build_model("tiny").eval()
    with torch.no_grad():
        feats = model.encode(torch.rand(1, 3, 128, 192))
    assert [f.shape[1] for f in feats] == list(tiny_config().widths)
    assert [tuple(f.shape[-2:]) for f in feats] == [(128 // 2 ** k, 192 // 2 ** k) for k in range(1, 7)]


def _tiny_shared_bilinear():
    """tiny with one shared estimator and bilinear upsampling (the recipe's first steps; MODEL.md section 12)."""
    return MCJEPA(dataclasses.replace(tiny_config(), per_level_estimators=False, upsampler_width=0))


def test_flow_returns_decoded_levels_coarse_to_fine_and_full_resolution():
    model = _tiny_shared_bilinear().eval()
    with torch.no_grad():
        f1, f2 = model.encode(torch.rand(2, 3, 128, 192)), model.encode(torch.rand(2, 3, 128, 192))
        flows, full = model.flow(f1, f2)
    stop = tiny_config().decoder_stop_level
    assert model.decoder.decoded_levels == list(range(6, stop - 1, -1))
    assert [tuple(f.shape) for f in flows] == [(2, 2, 128 // 2 ** lv, 192 // 2 ** lv) for lv in range(6, stop - 1, -1)]
    assert full.shape == (2, 2, 128, 192)
    scale = 2 ** stop
    expected = torch.nn.functional.interpolate(flows[-1], size=(128, 192), mode="bilinear", align_corners=True)
    assert torch.allclose(full, expected * scale, atol=1e-5)


def test_estimate_flow_handles_sizes_that_are_not_multiples_of_64():
    model = build_model("test").eval()
    flow = model.estimate_flow(torch.rand(1, 3, 50, 90), torch.rand(1, 3, 50, 90))
    assert flow.shape == (1, 2, 50, 90)


def test_flip_average_is_the_mean_with_the_mirrored_flow_and_mirror_symmetric():
    torch.manual_seed(0)
    model = build_model("test").eval()
    a, b = torch.rand(1, 3, 40, 45), torch.rand(1, 3, 40, 45)

    def mirror_flow(f):
        f = f.flip(-1).clone()
        f[:, 0] = -f[:, 0]
        return f

    averaged = model.estimate_flow(a, b, flip_average=True)
    forward, back = model.estimate_flow(a, b), mirror_flow(model.estimate_flow(a.flip(-1), b.flip(-1)))
    assert torch.allclose(averaged, 0.5 * (forward + back), atol=1e-6)
    assert not torch.allclose(forward, back, atol=1e-4)
    assert torch.allclose(model.estimate_flow(a.flip(-1), b.flip(-1), flip_average=True), mirror_flow(averaged), atol=1e-6)


def test_parameter_names_follow_the_documented_scheme():
    names = set(_tiny_shared_bilinear().state_dict())  # MODEL.md section 12's table
    for name in ["encoder.levels.0.conv.weight", "encoder.levels.0.norm.weight", "encoder.levels.1.conv.bias",
                 "encoder.levels.4.blocks.1.dwconv.weight", "encoder.levels.5.blocks.0.pwconv2.weight",
                 "decoder.reduce.l6.weight", "decoder.reduce.l3.bias", "decoder.estimator.convs.0.weight",
                 "decoder.estimator.norms.4.bias", "decoder.estimator.out.weight", "decoder.context.convs.5.weight",
                 "decoder.context.out.bias", "expander.linears.2.weight", "expander.norms.1.weight"]:
        assert name in names, name
    assert "decoder.reduce.l2.weight" not in names  # tiny stops at level 3
    assert not any("running" in n or "num_batches" in n for n in names)  # no BatchNorm buffers


def test_the_tiny_preset_is_the_built_in_weights_network():
    path = os.path.join(os.path.dirname(__file__), "..", "..", "Sources", "MCJEPA", "Weights", "mcjepa-tiny.safetensors")
    model, _ = load_model(path)
    assert model.cfg == tiny_config()
    names = set(build_model("tiny").state_dict())
    assert "decoder.estimators.l3.out.weight" in names and "decoder.upsampler.mask.bias" in names


def test_presets_sizes():
    assert 1_500_000 < count_parameters(build_model("tiny")) < 2_500_000
    assert count_parameters(build_model("test")) < 200_000
    paper = MCJEPA(paper_config())
    assert paper.encoder.levels[4].blocks.__len__() == 9
    assert sorted(PRESETS) == ["paper", "test", "tiny"]


def test_content_pools_level_6_and_expands():
    model = build_model("tiny").eval()
    with torch.no_grad():
        feats = model.encode(torch.rand(3, 3, 128, 128))
        rep, emb = model.content(feats)
    assert torch.allclose(rep, feats[-1].mean(dim=(2, 3)))
    assert emb.shape == (3, tiny_config().expander_widths[-1])


def test_load_model_takes_the_config_from_the_file_and_a_preset_only_for_a_bare_state_dict(tmp_path):
    torch.manual_seed(0)
    saved = build_model("test")
    tensors = {k: v.contiguous() for k, v in saved.state_dict().items()}
    with_config, bare = str(tmp_path / "with.safetensors"), str(tmp_path / "bare.safetensors")
    save_file(tensors, with_config, dict(weights_metadata(saved.cfg), step="7"))
    save_file(tensors, bare)
    model, metadata = load_model(with_config, preset="tiny")  # the file's config wins over a preset
    assert model.cfg == saved.cfg and metadata["step"] == "7" and not model.training
    assert all(torch.equal(model.state_dict()[k], v) for k, v in tensors.items())
    assert load_model(bare, preset="test")[0].cfg == saved.cfg
    with pytest.raises(ValueError, match="bare.safetensors: no model config"):
        load_model(bare)
    with pytest.raises(RuntimeError):
        load_model(bare, preset="tiny")  # strict: names and shapes must match


def test_convex_upsampler_starts_as_bilinear_and_round_trips_its_config(tmp_path):
    """A fresh convex upsampler is the half-pixel bilinear stencil (border cells repeated, as F.interpolate
    clamps); its config field is written only when nonzero, so bilinear files are unchanged."""
    import dataclasses
    import torch.nn.functional as F
    from mcjepa.model import bilinear_stencil_logits, convex_upsample
    flow = torch.randn(2, 2, 5, 7)
    logits = bilinear_stencil_logits(8)[None, :, None, None].expand(2, 576, 5, 7)
    bilinear = F.interpolate(flow, scale_factor=8, mode="bilinear", align_corners=False) * 8
    assert (convex_upsample(flow, logits, 8) - bilinear).abs().max() < 0.02 * flow.abs().max() * 8
    cfg = dataclasses.replace(PRESETS["test"](), upsampler_width=8)
    model = MCJEPA(cfg)
    assert "upsampler_width" not in PRESETS["test"]().to_dict()
    path = str(tmp_path / "convex.safetensors")
    save_file(model.state_dict(), path, weights_metadata(cfg))
    loaded, _ = load_model(path)
    assert loaded.cfg.upsampler_width == 8
    img = torch.rand(1, 3, 64, 128)
    flows, full = loaded.flow(loaded.encode(img), loaded.encode(img))
    assert full.shape == (1, 2, 64, 128)


def test_recurrent_refinement_starts_as_the_identity_and_round_trips_its_config(tmp_path):
    """A fresh head (zero `out` conv) leaves the flow of the same weights without it; its config fields are written
    only when it is on, so files without it are unchanged and load without it."""
    base = build_model("test").eval()
    cfg = dataclasses.replace(base.cfg, refinement_iterations=3, refinement_width=8)
    refined = MCJEPA(cfg).eval()
    missing, unexpected = refined.load_state_dict(base.state_dict(), strict=False)
    assert sorted(missing) == sorted(k for k in refined.state_dict() if k.startswith("decoder.refinement."))
    assert not unexpected and len(missing) == 8
    img1, img2 = torch.rand(1, 3, 64, 128), torch.rand(1, 3, 64, 128)
    with torch.no_grad():
        before = base.flow(base.encode(img1), base.encode(img2))[1]
        assert torch.equal(refined.flow(refined.encode(img1), refined.encode(img2))[1], before)
        refined.decoder.refinement.out.bias.fill_(0.25)
        assert not torch.equal(refined.flow(refined.encode(img1), refined.encode(img2))[1], before)
    assert "refinement_iterations" not in base.cfg.to_dict()
    path = str(tmp_path / "refined.safetensors")
    save_file(refined.state_dict(), path, weights_metadata(cfg))
    loaded, _ = load_model(path)
    assert loaded.cfg.refinement_iterations == 3 and loaded.cfg.refinement_width == 8


def test_fine_head_starts_as_the_identity_comes_last_and_round_trips_its_config(tmp_path):
    """A fresh fine head (zero `out` conv) leaves the full-size flow of the same weights without it, bit for bit; its
    parameters are the decoder's last; its config fields are written only when it is on; it needs a decoder that stops
    above level 2."""
    base = build_model("test").eval()
    cfg = dataclasses.replace(base.cfg, upsampler_width=8, fine_iterations=2, fine_width=8)
    base = MCJEPA(dataclasses.replace(cfg, fine_iterations=0, fine_width=0)).eval()
    fine = MCJEPA(cfg).eval()
    missing, unexpected = fine.load_state_dict(base.state_dict(), strict=False)
    assert sorted(missing) == sorted(k for k in fine.state_dict() if k.startswith("decoder.fine."))
    assert not unexpected and len(missing) == 8
    decoder_names = [k for k in fine.state_dict() if k.startswith("decoder.")]
    assert all(k.startswith("decoder.fine.") for k in decoder_names[-8:])
    img1, img2 = torch.rand(1, 3, 64, 128), torch.rand(1, 3, 64, 128)
    with torch.no_grad():
        before = base.flow(base.encode(img1), base.encode(img2))[1]
        assert torch.equal(fine.flow(fine.encode(img1), fine.encode(img2))[1], before)
        fine.decoder.fine.out.bias.fill_(0.25)
        assert not torch.equal(fine.flow(fine.encode(img1), fine.encode(img2))[1], before)
    assert "fine_iterations" not in base.cfg.to_dict()
    path = str(tmp_path / "fine.safetensors")
    save_file(fine.state_dict(), path, weights_metadata(cfg))
    loaded, _ = load_model(path)
    assert loaded.cfg.fine_iterations == 2 and loaded.cfg.fine_width == 8
    with pytest.raises(ValueError, match="fine_iterations needs a decoder that stops above level 2"):
        MCJEPA(dataclasses.replace(cfg, decoder_stop_level=2))
