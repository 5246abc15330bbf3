"""average_weights.py: the mean of each tensor, the metadata it keeps, and one-line errors that write nothing."""
import json
import os
import subprocess
import sys

import torch

from test_train import REFERENCE

sys.path.insert(0, REFERENCE)
from mcjepa.model import build_model, load_model, weights_metadata  # noqa: E402
from mcjepa.weights import load_file, save_file  # noqa: E402


def _save(path, seed, preset="test"):
    torch.manual_seed(seed)
    model = build_model(preset)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path),
              dict(weights_metadata(model.cfg), step=str(seed)))
    return model.state_dict()


def _run(*args):
    return subprocess.run([sys.executable, os.path.join(REFERENCE, "average_weights.py"), *map(str, args)],
                          capture_output=True, text=True, timeout=120)


def test_the_result_is_the_mean_of_every_tensor_and_loads_as_a_model(tmp_path):
    states = [_save(tmp_path / f"w{i}.safetensors", seed=i) for i in range(3)]
    out = tmp_path / "soup.safetensors"
    result = _run(out, *[tmp_path / f"w{i}.safetensors" for i in range(3)])
    assert result.returncode == 0, result.stderr
    tensors, metadata = load_file(str(out))
    for name, value in tensors.items():
        expected = (states[0][name] + states[1][name] + states[2][name]) / 3
        assert torch.allclose(value, expected, atol=1e-6), name
    assert "step" not in metadata and len(json.loads(metadata["averaged_from"])) == 3
    model, _ = load_model(str(out))  # the config travels, so it loads without a preset
    assert model.cfg == build_model("test").cfg


def test_files_of_different_models_are_an_error_naming_the_file_and_nothing_is_written(tmp_path):
    _save(tmp_path / "a.safetensors", 0)
    _save(tmp_path / "b.safetensors", 1, preset="tiny")
    out = tmp_path / "soup.safetensors"
    result = _run(out, tmp_path / "a.safetensors", tmp_path / "b.safetensors")
    assert result.returncode != 0
    error = result.stderr.strip().splitlines()
    assert len(error) == 1 and error[0].startswith(str(tmp_path / "b.safetensors")), result.stderr
    assert not out.exists()
    result = _run(out, tmp_path / "a.safetensors")
    assert result.returncode != 0 and "at least two" in result.stderr and not out.exists()
