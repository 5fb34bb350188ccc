"""facekit.hub: cache first, clear errors offline, corrupted files caught."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
import torch

from facekit import course, hub, standin
from facekit.cli.testing import standin_dir

MODEL_ID, FILENAME = standin.MODEL_ID, standin.FILENAME


@pytest.fixture
def hub_cache(tmp_path, monkeypatch):
    """An empty hub cache that huggingface_hub uses for this test only, offline."""
    from huggingface_hub import constants

    cache = tmp_path / "hub"
    cache.mkdir()
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    return cache


@pytest.fixture(scope="module")
def small_state():
    return {"w": torch.arange(6, dtype=torch.float32).reshape(2, 3)}


def test_offline_and_not_cached_fails_at_once_naming_the_model(hub_cache):
    started = time.perf_counter()
    with pytest.raises(hub.WeightsNotFoundError) as info:
        hub.download(MODEL_ID, FILENAME)
    assert time.perf_counter() - started < 2, "must not wait on the network"
    message = str(info.value)
    assert MODEL_ID in message and "facekit download" in message and "HF_HUB_OFFLINE" in message
    assert isinstance(info.value, FileNotFoundError)


def test_cached_file_is_used_without_the_network(hub_cache, small_state, monkeypatch):
    from huggingface_hub import constants, file_download

    snapshot = standin.write_hub_cache(hub_cache, small_state)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)

    def no_network(*args, **kwargs):
        raise AssertionError("hub.download asked the network for a cached file")

    monkeypatch.setattr(file_download, "get_hf_file_metadata", no_network)
    monkeypatch.setattr(file_download, "_get_metadata_or_catch_error", no_network, raising=False)
    assert hub.download(MODEL_ID, FILENAME) == snapshot


def test_unreachable_hub_is_translated(hub_cache, monkeypatch):
    from huggingface_hub import constants
    from huggingface_hub.errors import LocalEntryNotFoundError

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)

    def unreachable(*args, **kwargs):
        raise LocalEntryNotFoundError("An error happened ... check your connection")

    monkeypatch.setattr("huggingface_hub.hf_hub_download", unreachable)
    with pytest.raises(hub.WeightsNotFoundError, match="could not be reached") as info:
        hub.download(MODEL_ID, FILENAME)
    assert MODEL_ID in str(info.value)


@pytest.mark.parametrize("damage", ["flip", "truncate"])
def test_corrupted_blob_is_detected(hub_cache, small_state, damage):
    snapshot = standin.write_hub_cache(hub_cache, small_state)
    blob = snapshot.resolve()
    data = bytearray(blob.read_bytes())
    if damage == "flip":
        data[-1] ^= 0xFF  # inside the tensor data: safetensors would load it silently
    else:
        data = data[: len(data) // 2]
    blob.write_bytes(bytes(data))
    with pytest.raises(hub.CorruptWeightsError, match="corrupted") as info:
        hub.download(MODEL_ID, FILENAME)
    assert "--force" in str(info.value)


def test_flipped_bytes_load_silently_without_the_check(hub_cache, small_state):
    """Why the checksum exists: safetensors itself does not notice."""
    from safetensors.torch import load_file

    snapshot = standin.write_hub_cache(hub_cache, small_state)
    blob = snapshot.resolve()
    data = bytearray(blob.read_bytes())
    data[-1] ^= 0xFF
    blob.write_bytes(bytes(data))
    loaded = load_file(hub.download(MODEL_ID, FILENAME, verify=False))
    assert not torch.equal(loaded["w"], small_state["w"])


def test_git_sha1_named_blob_is_verified(tmp_path):
    import hashlib

    content = b'{"architecture": "convnext_atto"}'
    blobs = tmp_path / "blobs"
    blobs.mkdir()
    name = hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()
    (blobs / name).write_bytes(content)
    hub.verify_cached_file(blobs / name)
    (blobs / name).write_bytes(content.replace(b"atto", b"tiny"))
    with pytest.raises(hub.CorruptWeightsError):
        hub.verify_cached_file(blobs / name)


def test_reference_build_model_reports_a_corrupted_cache(hub_cache, small_state):
    from solutions.ex02_embeddings import build_model

    snapshot = standin.build_cache(hub_cache)
    blob = snapshot.resolve()
    data = bytearray(blob.read_bytes())
    data[len(data) // 2] ^= 0x01
    blob.write_bytes(bytes(data))
    with pytest.raises(hub.CorruptWeightsError):
        build_model()


def test_standin_checkpoint_has_the_published_names_and_shapes_and_is_seeded():
    import timm

    published = timm.create_model("convnext_atto", pretrained=False, num_classes=1000).state_dict()
    state = standin.make_state_dict()
    assert {k: tuple(v.shape) for k, v in state.items()} == {k: tuple(v.shape) for k, v in published.items()}
    assert {"head.fc.weight", "head.fc.bias"} <= set(state)
    again = standin.make_state_dict()
    assert all(torch.equal(state[k], again[k]) for k in state)
    # LayerNorms carry noise too, so no property holds by accident of a fresh LayerNorm.
    assert not torch.equal(state["head.norm.weight"], torch.ones(320))
    assert not torch.equal(state["head.norm.bias"], torch.zeros(320))


def test_standin_file_says_it_is_not_pretrained(tmp_path):
    from safetensors import safe_open

    snapshot = standin.build_cache(tmp_path)
    with safe_open(str(snapshot), framework="pt") as f:
        assert "NOT pretrained" in f.metadata()["facekit"]
    assert standin.is_standin(snapshot)


def test_hub_weights_after_standin_mean_the_real_cache_again(tmp_path, pytestconfig, tmp_path_factory):
    """In one process (a notebook kernel), switching back to "hub" must leave the stand-in cache."""
    script = (
        "import os, sys; from huggingface_hub import constants; from facekit import notebooks\n"
        "real = constants.HF_HUB_CACHE\n"
        "notebooks.setup('ex04_storage')\n"
        "assert constants.HF_HUB_CACHE == sys.argv[1] and constants.HF_HUB_OFFLINE, constants.HF_HUB_CACHE\n"
        "os.environ['KIT_WEIGHTS'] = 'hub'  # the student's choice, in the kernel, before running setup again\n"
        "notebooks.setup('ex04_storage')\n"
        "assert constants.HF_HUB_CACHE == real, (constants.HF_HUB_CACHE, real)\n"
        "assert not constants.HF_HUB_OFFLINE and 'HF_HUB_OFFLINE' not in os.environ\n"
        "print('weights:', notebooks._choice.weights.mode)\n"
    )
    standin_cache = str(standin_dir(pytestconfig, tmp_path_factory))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "KIT_"))}
    env.update(HF_HUB_CACHE=str(tmp_path / "real"), KIT_WEIGHTS="standin", KIT_STANDIN_CACHE=standin_cache)
    proc = subprocess.run(
        [sys.executable, "-c", script, standin_cache],
        env=env,
        capture_output=True,
        text=True,
        cwd=course.repo_root(),
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().endswith("weights: hub"), proc.stdout


def test_a_damaged_standin_cache_is_found_removed_and_rebuilt(tmp_path, small_state):
    from facekit import hub_switch

    cache = tmp_path / "standin"
    assert not hub_switch.standin_ready(cache)
    snapshot = standin.write_hub_cache(cache, small_state)
    assert hub_switch.standin_ready(cache)
    blob = snapshot.resolve()
    blob.write_bytes(blob.read_bytes()[:-1] + b"\x00")
    assert not hub_switch.standin_ready(cache)
    assert not standin.repo_folder(cache).exists(), "a damaged stand-in cache is removed"
