import json
import os
import struct

import pytest
import torch

from mcjepa.export_fixtures import CONVEX_OUT, CONVEX_WIDTH, DEFAULT_OUT, LEVEL2_OUT, build_fixture
from mcjepa.model import build_model
from mcjepa.weights import load_file, save_file


def test_safetensors_round_trip_and_compatibility(tmp_path):
    model = build_model("test")
    path = str(tmp_path / "w.safetensors")
    save_file(model.state_dict(), path, {"config": "x"})
    tensors, meta = load_file(path)
    assert meta == {"config": "x"}
    for name, value in model.state_dict().items():
        assert torch.equal(tensors[name], value)
    safetensors_torch = pytest.importorskip("safetensors.torch")
    theirs = safetensors_torch.load_file(path)
    assert set(theirs) == set(tensors)
    other = str(tmp_path / "theirs.safetensors")
    safetensors_torch.save_file({k: v.contiguous() for k, v in model.state_dict().items()}, other)
    mine, _ = load_file(other)
    assert all(torch.equal(mine[k], v) for k, v in model.state_dict().items())


def test_loader_refuses_truncated_and_lying_files(tmp_path):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(struct.pack("<Q", 10_000) + b"{}")
    with pytest.raises(ValueError, match="beyond the file"):
        load_file(str(bad))
    header = b'{"w":{"dtype":"F32","shape":[1000],"data_offsets":[0,4000]}}'
    bad.write_bytes(struct.pack("<Q", len(header)) + header + b"\0" * 16)
    with pytest.raises(ValueError, match="inconsistent"):
        load_file(str(bad))


@pytest.mark.parametrize("path, level, width", [(DEFAULT_OUT, None, 0), (LEVEL2_OUT, 2, 0), (CONVEX_OUT, None, CONVEX_WIDTH)])
def test_committed_fixture_is_reproduced_by_the_reference(path, level, width):
    if not os.path.exists(path):
        pytest.skip("fixture not generated")
    committed, meta = load_file(path)
    assert os.path.getsize(path) < 3_000_000
    torch.set_num_threads(1)
    fresh, _ = build_fixture(level, width)
    assert json.loads(meta["decoded_levels"])[-1] == (level or 3)
    assert set(fresh) == set(committed)
    for name, value in fresh.items():
        assert value.shape == committed[name].shape, name
        assert torch.allclose(value, committed[name], rtol=1e-4, atol=1e-5), name
    model_names = set(build_model("test").state_dict())
    assert model_names <= set(committed)
    assert {f"grad.{n}" for n in model_names} <= set(committed)
