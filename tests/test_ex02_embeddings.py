"""Exercise 02: build_model() and compute_embedding(), tested against the selected tree."""

from __future__ import annotations

import re

import pytest
import torch

from facekit import standin
from facekit.testing import raises_besides_todo

EXERCISE = "ex02_embeddings"
WIDTH = 320  # ConvNeXt-Atto's last stage; 768 is ConvNeXt-Tiny's


@pytest.fixture(scope="module")
def ex(load_exercise):
    return load_exercise(EXERCISE)


@pytest.fixture(scope="module")
def model(ex02_model):
    """The tree's build_model(), built once per session."""
    return ex02_model


@pytest.fixture(scope="module")
def faces(face_tensor):
    """Three different images of one size: the face, its mirror image, a darker copy."""
    return torch.stack([face_tensor, face_tensor.flip(-1), face_tensor * 0.5 - 0.5])


@pytest.fixture(scope="module")
def reference_model(checkpoint):
    """timm's own ConvNeXt-Atto with the full checkpoint, classifier included."""
    import timm

    reference = timm.create_model("convnext_atto", pretrained=False)
    reference.load_state_dict(checkpoint, strict=True)
    return reference.eval()


def _shape_text(shape) -> str:
    return ", ".join(str(n) for n in shape)


# -- build_model ----------------------------------------------------------------------------


@pytest.mark.function("build_model")
def test_build_model_returns_module_in_eval_mode_on_cpu(model):
    assert isinstance(model, torch.nn.Module)
    assert not any(m.training for m in model.modules()), "call model.eval() before returning it"
    assert {p.device.type for p in model.parameters()} == {"cpu"}


@pytest.mark.function("build_model")
def test_build_model_has_no_classifier(model):
    names = list(model.state_dict())
    assert not [n for n in names if n.startswith("head.fc.")], "the classifier head.fc must be gone"
    assert "head.norm.weight" in names, "timm's num_classes=0 keeps the head LayerNorm"


@pytest.mark.function("build_model")
def test_build_model_width_is_320(model):
    assert model.num_features == WIDTH


@pytest.mark.function("build_model")
def test_build_model_loads_every_checkpoint_tensor_but_the_classifier(model, checkpoint):
    state = model.state_dict()
    expected = {k: v for k, v in checkpoint.items() if not k.startswith("head.fc.")}
    assert sorted(state) == sorted(expected)
    differing = [k for k in expected if not torch.equal(state[k], expected[k])]
    assert not differing, f"these tensors were not loaded from the checkpoint: {differing[:5]}"


# -- compute_embedding ----------------------------------------------------------------------


@pytest.mark.function("compute_embedding")
def test_single_image_gives_one_row_of_320(ex, embedder, face_tensor):
    embedding = ex.compute_embedding(embedder, face_tensor)
    assert tuple(embedding.shape) == (1, embedder.num_features) == (1, WIDTH)


@pytest.mark.function("compute_embedding")
@pytest.mark.parametrize("n", [1, 3])
def test_batch_gives_n_rows_each_equal_to_its_single_embedding(ex, embedder, faces, n):
    batch = faces[:n]
    embeddings = ex.compute_embedding(embedder, batch)
    assert tuple(embeddings.shape) == (n, WIDTH)
    for i in range(n):
        single = ex.compute_embedding(embedder, batch[i])
        torch.testing.assert_close(embeddings[i : i + 1], single, atol=1e-5, rtol=1e-4)


@pytest.mark.function("compute_embedding")
def test_embedding_is_float32_finite_and_without_grad(ex, embedder, face_tensor):
    embedding = ex.compute_embedding(embedder, face_tensor)
    assert embedding.dtype == torch.float32
    assert torch.isfinite(embedding).all()
    assert not embedding.requires_grad and embedding.grad_fn is None, "run the model without autograd"


@pytest.mark.function("compute_embedding")
def test_embedding_is_deterministic(ex, embedder, face_tensor):
    first = ex.compute_embedding(embedder, face_tensor)
    assert torch.equal(first, ex.compute_embedding(embedder, face_tensor))


@pytest.mark.function("compute_embedding")
def test_different_images_give_different_embeddings(ex, embedder, faces):
    embeddings = ex.compute_embedding(embedder, faces)
    assert not torch.allclose(embeddings[0], embeddings[1])
    assert not torch.allclose(embeddings[0], embeddings[2])


@pytest.mark.function("build_model")
def test_build_model_and_compute_embedding_equal_timm_pre_logits(ex, model, reference_model, faces):
    with torch.inference_mode():
        expected = reference_model.forward_head(reference_model.forward_features(faces), pre_logits=True)
    torch.testing.assert_close(ex.compute_embedding(model, faces), expected, atol=1e-5, rtol=1e-4)


@pytest.mark.function("compute_embedding")
def test_other_image_sizes_work(ex, embedder, face_tensor):
    image = torch.nn.functional.interpolate(face_tensor[None], size=(160, 256), mode="bilinear")[0]
    assert tuple(ex.compute_embedding(embedder, image).shape) == (1, WIDTH)


# -- bad input ------------------------------------------------------------------------------


@pytest.mark.function("compute_embedding")
def test_not_a_tensor_is_a_type_error(ex, embedder, face_tensor):
    with pytest.raises(TypeError, match="Tensor") as info:
        ex.compute_embedding(embedder, face_tensor.tolist())
    assert "list" in str(info.value), "say what was given"


@pytest.mark.function("compute_embedding")
@pytest.mark.parametrize("dtype", [torch.uint8, torch.int64, torch.bool], ids=str)
def test_non_float_dtype_is_a_type_error(ex, embedder, face_tensor, dtype):
    with pytest.raises(TypeError) as info:
        ex.compute_embedding(embedder, face_tensor.to(dtype))
    assert str(dtype) in str(info.value), "say which dtype was given"


@pytest.mark.function("compute_embedding")
@pytest.mark.parametrize("shape", [(224, 224), (1, 1, 3, 224, 224), (1, 224, 224), (2, 4, 64, 64),
                                   (224, 224, 3), (0, 3, 64, 64)],
                         ids=lambda shape: "x".join(map(str, shape)))
def test_wrong_shape_is_a_value_error(ex, embedder, shape):
    with pytest.raises(ValueError) as info:
        ex.compute_embedding(embedder, torch.zeros(shape))
    message = str(info.value)
    assert _shape_text(shape) in message, f"say which shape was given: {message!r}"
    expected_part = message.replace(_shape_text(shape), "")
    assert re.search(r"\b3\b", expected_part), f"say what was expected (3 channels): {message!r}"


# -- strict loading -------------------------------------------------------------------------


@pytest.fixture
def use_checkpoint(tmp_path, monkeypatch):
    """Put a modified checkpoint in a fresh hub cache and point huggingface_hub at it."""
    from huggingface_hub import constants

    def use(state):
        cache = tmp_path / "hub"
        standin.write_hub_cache(cache, state)
        monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
        monkeypatch.setenv("HF_HUB_CACHE", str(cache))
        return cache

    return use


@pytest.mark.function("build_model")
def test_missing_tensor_is_an_error(ex, use_checkpoint, checkpoint):
    state = dict(checkpoint)
    del state["stages.2.blocks.0.conv_dw.weight"]
    use_checkpoint(state)
    with raises_besides_todo() as info:
        ex.build_model()
    assert "stages.2.blocks.0.conv_dw.weight" in str(info.value)


@pytest.mark.function("build_model")
def test_unexpected_tensor_is_an_error(ex, use_checkpoint, checkpoint):
    use_checkpoint({**checkpoint, "head.extra.weight": torch.zeros(3)})
    with raises_besides_todo() as info:
        ex.build_model()
    assert "head.extra.weight" in str(info.value)


@pytest.mark.function("build_model")
def test_misshapen_tensor_is_an_error(ex, use_checkpoint, checkpoint):
    use_checkpoint({**checkpoint, "head.norm.weight": torch.ones(768)})
    with raises_besides_todo() as info:
        ex.build_model()
    assert "head.norm.weight" in str(info.value)


@pytest.mark.function("build_model")
def test_truncated_checkpoint_is_an_error(ex, use_checkpoint, checkpoint):
    cache = use_checkpoint(checkpoint)
    blob = next(cache.glob("models--*/blobs/*"))
    blob.write_bytes(blob.read_bytes()[: blob.stat().st_size // 2])
    with raises_besides_todo():
        ex.build_model()
