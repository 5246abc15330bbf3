import dataclasses
import io
import json
import os
import subprocess
import sys
import tarfile

import cv2
import numpy as np
import pytest
import torch

from mcjepa.data import ShardPairs, SyntheticPairs, VideoPairs, random_crop_pair
from mcjepa.model import MCJEPA, build_model, load_model, weights_metadata
from mcjepa.ops import backward_warp
from mcjepa.train import load_weights
from mcjepa.weights import load_file, save_file

REFERENCE = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))


def _photos(folder, count=2, seed=0, size=(180, 240)):
    rng = np.random.default_rng(seed)
    for i in range(count):
        img = cv2.GaussianBlur((rng.random((*size, 3)) * 255).astype(np.uint8), (7, 7), 2)
        cv2.imwrite(os.path.join(folder, f"photo{i}.png"), img)


def _run_train(*args, env=None, timeout=300):
    return subprocess.run([sys.executable, "-m", "mcjepa.train", *args], cwd=REFERENCE, capture_output=True,
                          text=True, timeout=timeout, env=env)


SMALL = ["--batch", "1", "--content-batch", "2", "--crop", "64x128", "--content-size", "64",
         "--content-warmup", "2", "--occlusion-start", "3", "--log-every", "1", "--threads", "1", "--preset", "test"]


def _photos_and_saved_model(tmp_path):
    """Photos for synthetic pairs in `tmp_path` and a random `test` model saved there: (its path, the model)."""
    _photos(tmp_path)
    init = tmp_path / "init.safetensors"
    model = build_model("test")
    save_file(model.state_dict(), str(init), weights_metadata(model.cfg))
    return init, model


def _flag_is_kept(tmp_path, init, flag, key, refusal):
    """One step from `init` with `flag`: the saved config carries `key`; a resumed step without the flag keeps it;
    --no-<flag> from that file fails with `refusal`. Returns the first step's model."""
    run = tmp_path / "run"
    common = ["--synthetic", str(tmp_path), "--out", str(run), "--ckpt-every", "1", *SMALL]
    first = _run_train(*common, "--steps", "1", "--init", str(init), flag)
    assert first.returncode == 0, first.stderr
    loaded, metadata = load_model(str(run / "step-0000001.safetensors"))
    assert getattr(loaded.cfg, key) and f'"{key}": true' in metadata["config"]
    second = _run_train(*common, "--steps", "2", "--resume")
    assert second.returncode == 0, second.stderr
    assert getattr(load_model(str(run / "step-0000002.safetensors"))[0].cfg, key)
    back = _run_train("--synthetic", str(tmp_path), "--out", str(tmp_path / "run2"), *SMALL, "--steps", "1",
                      "--init", str(run / "step-0000002.safetensors"), "--no-" + flag[2:])
    assert back.returncode != 0 and refusal in back.stderr
    return loaded


def test_help_exits_zero():
    result = _run_train("--help")
    assert result.returncode == 0 and "--resume" in result.stdout


def test_bad_crop_is_a_usage_error(tmp_path):
    result = _run_train("--synthetic", str(tmp_path), "--out", str(tmp_path / "run"), "--crop", "100x100")
    assert result.returncode == 2 and "multiples of 64" in result.stderr


def test_five_steps_then_resume_to_seven(tmp_path):
    _photos(tmp_path)
    run = tmp_path / "run"
    first = _run_train("--synthetic", str(tmp_path), "--out", str(run), "--steps", "5", "--ckpt-every", "5", *SMALL)
    assert first.returncode == 0, first.stderr
    records = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [1, 2, 3, 4, 5]
    assert "photo" not in records[1] and "photo" in records[2]  # flow losses start after the content warm-up
    assert all(np.isfinite(r["total"]) for r in records)
    latest = json.loads((run / "latest.json").read_text())
    weights, meta = load_file(str(run / latest["weights"]))
    assert latest["step"] == 5 and meta["step"] == "5"
    model = build_model("test")
    model.load_state_dict(weights)  # strict: every name and shape matches
    second = _run_train("--synthetic", str(tmp_path), "--out", str(run), "--steps", "7", "--resume", *SMALL)
    assert second.returncode == 0, second.stderr
    assert "resumed" in second.stdout
    records = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records][-2:] == [6, 7]


def test_synthetic_pairs_have_exact_flow(tmp_path):
    _photos(tmp_path, 3)
    source = SyntheticPairs([str(tmp_path)], size=(96, 128))
    sample = source.sample(np.random.default_rng(3))
    f0 = torch.from_numpy(sample["f0"]).permute(2, 0, 1)[None]
    f1 = torch.from_numpy(sample["f1"]).permute(2, 0, 1)[None]
    flow = torch.from_numpy(sample["flow"]).permute(2, 0, 1)[None]
    # Frame 1 warped back by the true flow reproduces frame 0 wherever the pixel stays visible and inside.
    err = (backward_warp(f1, flow) - f0).abs().mean(1)[0]
    assert flow.abs().max() > 0.5
    assert err.median() < 0.02
    # Random crop + flip keeps frames and flow consistent.
    crop = random_crop_pair(sample, 64, 64, np.random.default_rng(0))
    assert crop["f0"].shape == (64, 64, 3) and crop["flow"].shape == (64, 64, 2)


def test_video_and_shard_sources_read_pairs(tmp_path):
    path = str(tmp_path / "clip.avi")
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"MJPG"), 10, (96, 64))
    for i in range(6):
        frame = np.full((64, 96, 3), 40 * i, np.uint8)
        writer.write(frame)
    writer.release()
    pair = VideoPairs([str(tmp_path)], max_stride=1).sample(np.random.default_rng(0))
    assert pair["f0"].shape == (64, 96, 3) and abs(pair["f1"].mean() - pair["f0"].mean() - 40 / 255) < 0.05

    shard = tmp_path / "shard-000000.tar"
    with tarfile.open(shard, "w") as tar:
        for name, data in [("clip_000001.f0.png", cv2.imencode(".png", np.zeros((8, 8, 3), np.uint8))[1]),
                           ("clip_000001.f1.png", cv2.imencode(".png", np.full((8, 8, 3), 255, np.uint8))[1]),
                           ("clip_000001.json", np.frombuffer(b'{"fps": 25}', np.uint8))]:
            blob = data.tobytes()
            info = tarfile.TarInfo(name)
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    sample = ShardPairs([str(tmp_path)]).sample(np.random.default_rng(0))
    assert sample["f0"].max() == 0 and sample["f1"].min() == 1


def test_moving_average_of_the_weights_is_checkpointed_and_resumed(tmp_path):
    """--ema-decay 0.5: average_t = 0.5 average_{t-1} + 0.5 w_t from average_0 = the --init weights; each checkpoint
    writes it as step-N.ema.safetensors, and a resumed run continues it from that file."""
    _photos(tmp_path)
    init = tmp_path / "init.safetensors"
    model = build_model("test")
    save_file(model.state_dict(), str(init), {"step": "0"})
    run = tmp_path / "run"
    common = ["--synthetic", str(tmp_path), "--out", str(run), "--ckpt-every", "1", "--ema-decay", "0.5", *SMALL]
    first = _run_train(*common, "--steps", "2", "--init", str(init))
    assert first.returncode == 0, first.stderr
    second = _run_train(*common, "--steps", "3", "--resume")
    assert second.returncode == 0, second.stderr
    weights = [load_file(str(init))[0]] + [load_file(str(run / f"step-{s:07d}.safetensors"))[0] for s in (1, 2, 3)]
    averages = [load_file(str(run / f"step-{s:07d}.ema.safetensors"))[0] for s in (1, 2, 3)]
    expected = weights[0]
    for step in (1, 2, 3):
        expected = {n: 0.5 * expected[n] + 0.5 * weights[step][n] for n in expected}
        for n, value in averages[step - 1].items():
            torch.testing.assert_close(value, expected[n], rtol=1e-6, atol=1e-7, msg=f"step {step} {n}")
    moved = [n for n in expected if not torch.equal(averages[2][n], weights[3][n])]
    assert moved, "the average should lag the weights"
    bad = _run_train(*common[:4], "--steps", "1", "--ema-decay", "1")
    assert bad.returncode == 2 and "--ema-decay" in bad.stderr


def test_upsampler_width_warm_starts_a_convex_model_from_a_bilinear_file(tmp_path):
    """--upsampler-width 8 --init a bilinear file: every tensor carries over, the upsampler starts fresh, the saved
    weights carry upsampler_width in their config, and a resume keeps it without the option."""
    init, model = _photos_and_saved_model(tmp_path)
    run = tmp_path / "run"
    common = ["--synthetic", str(tmp_path), "--out", str(run), "--ckpt-every", "1", *SMALL]
    first = _run_train(*common, "--steps", "1", "--init", str(init), "--upsampler-width", "8")
    assert first.returncode == 0, first.stderr
    assert "starting decoder.upsampler.conv.weight" in first.stdout
    loaded, _ = load_model(str(run / "step-0000001.safetensors"))
    assert loaded.cfg.upsampler_width == 8
    torch.testing.assert_close(loaded.state_dict()["encoder.levels.0.conv.weight"],
                               model.state_dict()["encoder.levels.0.conv.weight"], rtol=0, atol=1e-2)
    second = _run_train(*common, "--steps", "2", "--resume")
    assert second.returncode == 0, second.stderr
    assert load_model(str(run / "step-0000002.safetensors"))[0].cfg.upsampler_width == 8
    bad = _run_train(*common, "--steps", "1", "--upsampler-width", "5000")
    assert bad.returncode == 2 and "--upsampler-width" in bad.stderr


def test_fine_head_trained_alone_from_a_file_without_it(tmp_path):
    """--fine-iterations 2 --fine-width 4 --train-only decoder.fine. --init a file without the head: the head starts
    fresh and moves, every other tensor stays exactly the file's, no content batch is made, and a resume keeps the
    head; a prefix that matches nothing is refused."""
    init, model = _photos_and_saved_model(tmp_path)
    run = tmp_path / "run"
    common = ["--synthetic", str(tmp_path), "--out", str(run), "--ckpt-every", "1", "--supervised-weight", "1", *SMALL]
    first = _run_train(*common, "--steps", "3", "--init", str(init), "--fine-iterations", "2", "--fine-width", "4",
                       "--train-only", "decoder.fine.")
    assert first.returncode == 0, first.stderr
    assert "starting decoder.fine.encode.weight" in first.stdout
    assert "no content batch" in first.stdout and "vicreg_inv" not in first.stdout
    loaded, _ = load_model(str(run / "step-0000003.safetensors"))
    assert (loaded.cfg.fine_iterations, loaded.cfg.fine_width) == (2, 4)
    trained = loaded.state_dict()
    for name, tensor in model.state_dict().items():
        assert torch.equal(trained[name], tensor), name
    assert trained["decoder.fine.out.weight"].abs().max() > 0
    second = _run_train(*common, "--steps", "4", "--resume", "--train-only", "decoder.fine.")
    assert second.returncode == 0, second.stderr
    assert load_model(str(run / "step-0000004.safetensors"))[0].cfg.fine_iterations == 2
    bad = _run_train(*common, "--steps", "1", "--out", str(tmp_path / "run2"), "--train-only", "decoder.fine.")
    assert bad.returncode != 0 and "--train-only decoder.fine.: no parameter" in bad.stderr


def test_refinement_iterations_warm_start_a_model_with_the_head(tmp_path):
    """--refinement-iterations 2 --refinement-width 4 --init a file without the head: every tensor carries over, the
    head starts fresh, the saved config carries both fields, and a resume keeps them without the options."""
    init, model = _photos_and_saved_model(tmp_path)
    run = tmp_path / "run"
    common = ["--synthetic", str(tmp_path), "--out", str(run), "--ckpt-every", "1", *SMALL]
    first = _run_train(*common, "--steps", "1", "--init", str(init), "--refinement-iterations", "2",
                       "--refinement-width", "4")
    assert first.returncode == 0, first.stderr
    assert "starting decoder.refinement.encode.weight" in first.stdout
    loaded, _ = load_model(str(run / "step-0000001.safetensors"))
    assert (loaded.cfg.refinement_iterations, loaded.cfg.refinement_width) == (2, 4)
    second = _run_train(*common, "--steps", "2", "--resume")
    assert second.returncode == 0, second.stderr
    assert load_model(str(run / "step-0000002.safetensors"))[0].cfg.refinement_iterations == 2
    bad = _run_train(*common, "--steps", "1", "--refinement-width", "8")
    assert bad.returncode == 2 and "--refinement-width" in bad.stderr


def test_per_level_estimators_start_as_copies_of_a_shared_one(tmp_path):
    """--per-level-estimators --init a file with a shared estimator: every level's estimator starts as a copy of it
    (the split model computes the same flow), the saved config carries per_level_estimators, a resume keeps it
    without the option, and a per-level file cannot start a shared model."""
    init, model = _photos_and_saved_model(tmp_path)
    split = MCJEPA(dataclasses.replace(model.cfg, per_level_estimators=True))
    load_weights(split, str(init), model.state_dict())
    img1, img2 = torch.rand(1, 3, 64, 128), torch.rand(1, 3, 64, 128)
    with torch.no_grad():
        torch.testing.assert_close(split.flow(split.encode(img1), split.encode(img2))[1],
                                   model.flow(model.encode(img1), model.encode(img2))[1], rtol=0, atol=0)
    loaded = _flag_is_kept(tmp_path, init, "--per-level-estimators", "per_level_estimators", "cannot be merged")
    assert sorted(loaded.decoder.estimators.keys()) == ["l3", "l4", "l5", "l6"]


def test_decoder_stop_level_warm_starts_a_finer_decoder(tmp_path):
    """--decoder-stop-level 2 --init a file that stops at level 3 (with an estimator per level and a convex
    upsampler): every file tensor carries over, level 2's own estimator starts as a copy of level 3's, its reduction
    and the upsampler (whose shapes depend on the stop level) start fresh; a resume keeps level 2 without the option,
    and a finer file cannot start a coarser decoder."""
    _photos(tmp_path)
    init = tmp_path / "init.safetensors"
    model = MCJEPA(dataclasses.replace(build_model("test").cfg, per_level_estimators=True, upsampler_width=8))
    save_file(model.state_dict(), str(init), weights_metadata(model.cfg))
    finer = MCJEPA(dataclasses.replace(model.cfg, decoder_stop_level=2))
    load_weights(finer, str(init), model.state_dict())
    state = finer.state_dict()
    for name, tensor in model.state_dict().items():
        if not name.startswith("decoder.upsampler."):
            torch.testing.assert_close(state[name], tensor, rtol=0, atol=0)
    torch.testing.assert_close(state["decoder.estimators.l2.out.weight"], state["decoder.estimators.l3.out.weight"],
                               rtol=0, atol=0)
    assert state["decoder.upsampler.mask.weight"].shape[0] == 9 * 4 * 4 and not state["decoder.upsampler.mask.weight"].any()
    run = tmp_path / "run"
    common = ["--synthetic", str(tmp_path), "--out", str(run), "--ckpt-every", "1", *SMALL]
    first = _run_train(*common, "--steps", "1", "--init", str(init), "--decoder-stop-level", "2")
    assert first.returncode == 0, first.stderr
    assert "starting decoder.reduce.l2.weight" in first.stdout
    second = _run_train(*common, "--steps", "2", "--resume")
    assert second.returncode == 0, second.stderr
    loaded, _ = load_model(str(run / "step-0000002.safetensors"))
    assert loaded.cfg.decoder_stop_level == 2 and loaded.cfg.per_level_estimators
    back = _run_train("--synthetic", str(tmp_path), "--out", str(tmp_path / "run2"), *SMALL, "--steps", "1",
                      "--init", str(run / "step-0000002.safetensors"), "--decoder-stop-level", "3")
    assert back.returncode != 0 and "cannot start a decoder that stops at level 3" in back.stderr


def test_content_dense_starts_a_local_projector_fresh_from_a_file_without_one(tmp_path):
    init, _ = _photos_and_saved_model(tmp_path)
    run = tmp_path / "run"
    result = _run_train("--synthetic", str(tmp_path), "--out", str(run), "--steps", "2", "--ckpt-every", "2", *SMALL,
                        "--init", str(init), "--content-dense", "0.5", "--content-dense-nn", "3")
    assert result.returncode == 0, result.stderr
    assert "starting local_projector.linears.0.weight" in result.stdout
    records = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert all(np.isfinite(r["dense"]) and np.isfinite(r["dense_inv_nn"]) and r["dense_pairs"] >= 0 for r in records)
    loaded, metadata = load_model(str(run / "step-0000002.safetensors"))
    assert loaded.cfg.local_projector_level == 3 and '"local_projector_widths": [32, 32]' in metadata["config"]
    bad = _run_train("--synthetic", str(tmp_path), "--out", str(tmp_path / "bad"), *SMALL, "--content-dense-level", "3")
    assert bad.returncode == 2 and "--content-dense-level needs --content-dense" in bad.stderr


def test_new_weights_lr_scale_speeds_up_only_the_tensors_init_lacks_and_resumes(tmp_path):
    """AdamW's first step moves every element with a gradient by about lr: by lr x K for the fresh local projector,
    by lr for the encoder --init carries; a resume with the same command keeps the groups."""
    init, _ = _photos_and_saved_model(tmp_path)
    initial = load_file(str(init))[0]

    def one_step(out, scale, *extra):
        result = _run_train("--synthetic", str(tmp_path), "--out", str(out), "--ckpt-every", "1", *SMALL,
                            "--init", str(init), "--content-dense", "0.5", "--new-weights-lr-scale", scale, "--lr", "1e-3",
                            "--warmup", "1", "--weight-decay", "0", "--clip", "0", "--content-warmup", "0", *extra)
        assert result.returncode == 0, result.stderr
        return result

    fast = one_step(tmp_path / "fast", "10", "--steps", "1")
    one_step(tmp_path / "plain", "1", "--steps", "1")
    assert "new weights learn at 10 x the rate" in fast.stdout
    a = load_file(str(tmp_path / "fast" / "step-0000001.safetensors"))[0]
    b = load_file(str(tmp_path / "plain" / "step-0000001.safetensors"))[0]
    encoder = next(n for n in initial if n.startswith("encoder.") and initial[n].ndim > 1)
    assert 0.5e-3 < (a[encoder] - initial[encoder]).abs().max() < 1.5e-3 and torch.equal(a[encoder], b[encoder])
    # Both runs start the projector from the same seed: the scaled one's step is 10 x the other's, 9 lr further.
    projector = "local_projector.linears.0.weight"
    assert projector not in initial
    further = (a[projector] - b[projector]).abs().max().item()
    assert 7e-3 < further < 11e-3
    resumed = one_step(tmp_path / "fast", "10", "--steps", "2", "--resume")
    assert "resumed from step-0000001" in resumed.stdout


def test_train_through_alignment_changes_only_the_flow_steps_and_resumes(tmp_path):
    _photos(tmp_path)
    common = ["--synthetic", str(tmp_path), "--ckpt-every", "3", *SMALL]
    plain = _run_train(*common, "--out", str(tmp_path / "plain"), "--steps", "3")
    aligned = _run_train(*common, "--out", str(tmp_path / "aligned"), "--steps", "3", "--train-through-alignment")
    assert plain.returncode == 0 and aligned.returncode == 0, aligned.stderr
    read = lambda run: [json.loads(line) for line in (tmp_path / run / "log.jsonl").read_text().splitlines()]
    plain_log, aligned_log = read("plain"), read("aligned")
    drop = lambda r: {k: v for k, v in r.items() if k not in ("time", "steps_per_s")}
    assert drop(plain_log[0]) == drop(aligned_log[0])  # content only: the option changes nothing there
    assert np.isfinite(aligned_log[2]["photo"]) and aligned_log[2]["photo"] != plain_log[2]["photo"]
    resumed = _run_train(*common, "--out", str(tmp_path / "aligned"), "--steps", "4", "--resume", "--train-through-alignment")
    assert resumed.returncode == 0, resumed.stderr
    assert np.isfinite(read("aligned")[-1]["total"])
