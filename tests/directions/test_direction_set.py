from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import save_file

from harc.directions import DirectionSet
from harc.errors import DirectionError


def _directions(with_response: bool = True) -> DirectionSet:
    torch.manual_seed(0)
    unit = lambda: torch.nn.functional.normalize(torch.randn(5, 16), dim=-1)  # noqa: E731
    extra = {"harm_resp": unit(), "refusal_resp": unit()} if with_response else {}
    return DirectionSet(
        harm=unit(),
        refusal=unit(),
        harm_norm=torch.rand(5),
        refusal_norm=torch.rand(5),
        metadata={"model": "tiny", "harmful": {"name": "builtin", "n": 3}},
        **extra,
    )


@pytest.mark.parametrize("with_response", [True, False])
def test_round_trip(tmp_path, with_response):
    original = _directions(with_response)
    path = original.save(tmp_path / "dirs")
    assert path.suffix == ".safetensors" and path.with_suffix(".json").exists()
    loaded = DirectionSet.load(path)
    for name, tensor in original.tensors().items():
        torch.testing.assert_close(getattr(loaded, name), tensor)
    assert loaded.has_response is with_response
    assert loaded.metadata["model"] == "tiny" and loaded.metadata["num_slots"] == 5
    assert json.loads(path.with_suffix(".json").read_text())["harc_version"]


def test_refuses_pickles_and_foreign_files(tmp_path):
    with pytest.raises(DirectionError, match="no pickles"):
        DirectionSet.load(tmp_path / "dirs.pt")
    with pytest.raises(DirectionError, match="no such"):
        DirectionSet.load(tmp_path / "missing.safetensors")
    foreign = tmp_path / "foreign.safetensors"
    save_file({"harm": torch.zeros(2, 3)}, str(foreign))
    with pytest.raises(DirectionError, match="not a harc direction file"):
        DirectionSet.load(foreign)
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"not a safetensors file")
    with pytest.raises(DirectionError, match="unreadable"):
        DirectionSet.load(garbage)


def test_shape_validation():
    with pytest.raises(DirectionError, match="slots, hidden"):
        DirectionSet(harm=torch.zeros(3, 4), refusal=torch.zeros(3, 5))
    with pytest.raises(DirectionError, match="harm_resp"):
        DirectionSet(harm=torch.zeros(3, 4), refusal=torch.zeros(3, 4), harm_resp=torch.zeros(2, 4))


def test_a_damaged_sidecar_or_file_is_a_clear_error(tmp_path):
    path = _directions().save(tmp_path / "dirs")
    sidecar = path.with_suffix(".json")
    sidecar.write_text('{"model": "x", ')
    with pytest.raises(DirectionError, match="damaged metadata sidecar"):
        DirectionSet.load(path)
    sidecar.write_text("[1, 2]")
    with pytest.raises(DirectionError, match="not a JSON object"):
        DirectionSet.load(path)
    sidecar.unlink()
    path.write_bytes(path.read_bytes()[:40])
    with pytest.raises(DirectionError, match="unreadable safetensors file"):
        DirectionSet.load(path)
