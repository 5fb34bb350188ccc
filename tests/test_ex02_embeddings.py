"""Exercise 02: build_model() and compute_embedding(), tested against the selected tree."""

from __future__ import annotations

import re

import pytest
import torch

from facekit import standin
from facekit.testing import close, raises

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


def _assert_tensor(got, call: str) -> None:
    # A NumPy array has a shape and a dtype too: without this, "dtype float32, expected
    # torch.float32" is all a student would read.
    assert isinstance(got, torch.Tensor), (
        f"{call} returned {type(got).__module__}.{type(got).__name__}, expected a torch.Tensor: return the "
        f"model's output as it is (no .numpy(), no .tolist())"
    )


def _shape_text(shape) -> str:
    return ", ".join(str(n) for n in shape)


# -- build_model ----------------------------------------------------------------------------


@pytest.mark.function("build_model")
def test_build_model_returns_module_in_eval_mode_on_cpu(model):
    assert isinstance(model, torch.nn.Module), (
        f"build_model() returned {type(model).__name__}, not a torch.nn.Module"
    )
    training = [name or "the model" for name, m in model.named_modules() if m.training]
    assert not training, (
        f"build_model(): {training[:3]} in training mode: call model.eval() before returning it"
    )
    devices = {p.device.type for p in model.parameters()}
    assert devices == {"cpu"}, f"build_model(): parameters on {devices}, expected the CPU"


@pytest.mark.function("build_model")
def test_build_model_has_no_classifier(model):
    names = list(model.state_dict())
    assert not [n for n in names if n.startswith("head.fc.")], (
        "build_model(): the classifier head.fc must be gone (num_classes=0)"
    )
    assert "head.norm.weight" in names, "build_model(): timm's num_classes=0 keeps the head LayerNorm"


@pytest.mark.function("build_model")
def test_build_model_width_is_320(model):
    # What the model computes, not an attribute timm always sets.
    with torch.inference_mode():
        out = model(torch.zeros(2, 3, 64, 64))
    assert tuple(out.shape) == (2, WIDTH), (
        f"build_model(): the model maps [2, 3, 64, 64] to {list(out.shape)}, expected [2, {WIDTH}]: "
        f"no classifier (1000 ImageNet classes), num_classes=0"
    )


@pytest.mark.function("build_model")
def test_build_model_loads_every_checkpoint_tensor_but_the_classifier(model, checkpoint):
    state = model.state_dict()
    expected = {k: v for k, v in checkpoint.items() if not k.startswith("head.fc.")}
    extra, missing = sorted(set(state) - set(expected)), sorted(set(expected) - set(state))
    assert not extra and not missing, (
        f"build_model(): tensors not in the checkpoint {extra[:5]}, missing {missing[:5]}"
    )
    differing = [k for k in expected if not torch.equal(state[k], expected[k])]
    assert not differing, f"build_model(): these tensors were not loaded from the checkpoint: {differing[:5]}"


# -- compute_embedding ----------------------------------------------------------------------


@pytest.mark.function("compute_embedding")
def test_single_image_gives_one_row_of_320(ex, embedder, face_tensor):
    embedding = ex.compute_embedding(embedder, face_tensor)
    _assert_tensor(embedding, "compute_embedding(one image [3, 224, 224])")
    assert tuple(embedding.shape) == (1, WIDTH), (
        f"compute_embedding(one image [3, 224, 224]) has shape {list(embedding.shape)}, expected [1, {WIDTH}]"
    )


# broad: most mistakes in compute_embedding fail it; facekit check shows a narrower failure first.
@pytest.mark.function("compute_embedding", broad=True)
@pytest.mark.parametrize("n", [1, 3])
def test_batch_gives_n_rows_each_equal_to_its_single_embedding(ex, embedder, faces, n):
    batch = faces[:n]
    embeddings = ex.compute_embedding(embedder, batch)
    assert tuple(embeddings.shape) == (n, WIDTH), (
        f"compute_embedding(a batch [{n}, 3, 224, 224]) has shape {list(embeddings.shape)}, expected [{n}, {WIDTH}]"
    )
    for i in range(n):
        single = ex.compute_embedding(embedder, batch[i])
        close(
            embeddings[i : i + 1],
            single,
            f"compute_embedding(batch)[{i}] vs compute_embedding(batch[{i}])",
            atol=1e-5,
            rtol=1e-4,
        )


@pytest.mark.function("compute_embedding")
def test_embedding_is_float32_finite_and_without_grad(ex, embedder, face_tensor):
    embedding = ex.compute_embedding(embedder, face_tensor)
    _assert_tensor(embedding, "compute_embedding(one image [3, 224, 224])")
    assert embedding.dtype == torch.float32, (
        f"compute_embedding: dtype {embedding.dtype}, expected torch.float32"
    )
    assert torch.isfinite(embedding).all(), "compute_embedding: the embedding holds NaN or infinity"
    assert not embedding.requires_grad and embedding.grad_fn is None, (
        "compute_embedding: the result carries autograd history: run the model inside torch.inference_mode()"
    )


@pytest.mark.function("compute_embedding")
def test_compute_embedding_leaves_the_image_alone(ex, embedder, face_tensor):
    image = face_tensor.clone()
    ex.compute_embedding(embedder, image)
    assert tuple(image.shape) == (3, 224, 224) and torch.equal(image, face_tensor), (
        f"compute_embedding changed the caller's image (now {list(image.shape)}): no in-place "
        f"operations (unsqueeze_, sub_, ...) on it"
    )


@pytest.mark.function("compute_embedding")
@pytest.mark.parametrize("dtype", [torch.float64, torch.float16], ids=str)
def test_other_float_dtypes_work(ex, embedder, face_tensor, dtype):
    call = f"compute_embedding(a {dtype} image [3, 224, 224])"
    try:
        embedding = ex.compute_embedding(embedder, face_tensor.to(dtype))
    except NotImplementedError:
        raise
    except Exception as err:  # noqa: BLE001 - the message says what went wrong
        pytest.fail(
            f"{call} raised {type(err).__name__} ({err}): a float image of any dtype is an image; "
            f"convert it to the model's dtype",
            pytrace=False,
        )
    assert embedding.dtype == torch.float32, (
        f"{call} gave {embedding.dtype}, expected the model's torch.float32"
    )
    expected = ex.compute_embedding(embedder, face_tensor.to(dtype).float())
    close(embedding, expected, f"{call} vs the same image as float32", atol=1e-4, rtol=1e-4)


@pytest.mark.function("compute_embedding")
def test_different_images_give_different_embeddings(ex, embedder, faces):
    embeddings = ex.compute_embedding(embedder, faces)
    assert not torch.allclose(embeddings[0], embeddings[1]) and not torch.allclose(
        embeddings[0], embeddings[2]
    ), "compute_embedding gave one embedding for three different images"


# broad: the whole pipeline against timm; a mistake in either function fails it.
@pytest.mark.function("build_model", broad=True)
def test_build_model_and_compute_embedding_equal_timm_pre_logits(ex, model, reference_model, faces):
    with torch.inference_mode():
        features = reference_model.forward_features(faces)
        expected = reference_model.forward_head(features, pre_logits=True)
        pooled = features.mean((2, 3))  # the head's average pool without its LayerNorm
    got = ex.compute_embedding(model, faces)
    what = "compute_embedding(build_model(), 3 faces) vs timm's forward_head(..., pre_logits=True)"
    if (
        isinstance(got, torch.Tensor)
        and got.shape == pooled.shape
        and torch.allclose(got.float(), pooled, atol=1e-5, rtol=1e-4)
    ):
        what += (
            " (it equals forward_features averaged over the image without the head's LayerNorm: "
            "call the model, built with num_classes=0, which applies both)"
        )
    close(got, expected, what, atol=1e-5, rtol=1e-4)


@pytest.mark.function("compute_embedding")
def test_other_image_sizes_work(ex, embedder, face_tensor):
    image = torch.nn.functional.interpolate(face_tensor[None], size=(160, 256), mode="bilinear")[0]
    shape = tuple(ex.compute_embedding(embedder, image).shape)
    assert shape == (1, WIDTH), (
        f"compute_embedding(an image [3, 160, 256]) has shape {list(shape)}, expected [1, {WIDTH}]"
    )


# -- bad input ------------------------------------------------------------------------------


@pytest.mark.function("compute_embedding")
def test_not_a_tensor_is_a_type_error(ex, embedder, face_tensor):
    with raises(TypeError, "compute_embedding(model, a list)") as info:
        ex.compute_embedding(embedder, face_tensor.tolist())
    assert "Tensor" in str(info.value) and "list" in str(info.value), (
        f"compute_embedding(a list): say that a Tensor was expected and a list given: {info.value}"
    )


@pytest.mark.function("compute_embedding")
@pytest.mark.parametrize("dtype", [torch.uint8, torch.int64, torch.bool], ids=str)
def test_non_float_dtype_is_a_type_error(ex, embedder, face_tensor, dtype):
    with raises(TypeError, f"compute_embedding(model, a {dtype} image)") as info:
        ex.compute_embedding(embedder, face_tensor.to(dtype))
    assert str(dtype) in str(info.value), (
        f"compute_embedding: say which dtype was given ({dtype}): {info.value}"
    )


@pytest.mark.function("compute_embedding")
@pytest.mark.parametrize(
    "shape",
    [
        (224, 224),
        (1, 1, 3, 224, 224),
        (1, 224, 224),
        (2, 4, 64, 64),
        (224, 224, 3),
        (0, 3, 64, 64),
        (64,),
        (2, 3, 3, 64, 64),
    ],
    ids=lambda shape: "x".join(map(str, shape)),
)
def test_wrong_shape_is_a_value_error(ex, embedder, shape):
    with raises(ValueError, f"compute_embedding(model, a tensor of shape {shape})") as info:
        ex.compute_embedding(embedder, torch.zeros(shape))
    message = str(info.value)
    # The shape given; only one image [3, H, W] (3 dimensions) may be named as the batch of one
    # it became: a [224, 224] reported as (1, 224, 224) went through unsqueeze(0) unchecked.
    text = _shape_text(shape)
    given = (
        text in message if len(shape) == 3 else re.search(rf"(?<!\d, ){re.escape(text)}(?!\d|, \d)", message)
    )
    assert given, f"compute_embedding({shape}): say which shape was given: {message!r}"
    expected_part = message.replace(_shape_text(shape), "")
    assert re.search(r"\b3\b", expected_part), (
        f"compute_embedding({shape}): say what was expected (3 channels): {message!r}"
    )


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
    with raises(
        Exception, "build_model() with a checkpoint missing stages.2.blocks.0.conv_dw.weight"
    ) as info:
        ex.build_model()
    assert "stages.2.blocks.0.conv_dw.weight" in str(info.value), (
        f"build_model(): name the missing tensor stages.2.blocks.0.conv_dw.weight: {info.value}"
    )


@pytest.mark.function("build_model")
def test_unexpected_tensor_is_an_error(ex, use_checkpoint, checkpoint):
    use_checkpoint({**checkpoint, "head.extra.weight": torch.zeros(3)})
    with raises(
        Exception, "build_model() with a checkpoint holding an extra tensor head.extra.weight"
    ) as info:
        ex.build_model()
    assert "head.extra.weight" in str(info.value), f"build_model(): name the unexpected tensor: {info.value}"


@pytest.mark.function("build_model")
def test_misshapen_tensor_is_an_error(ex, use_checkpoint, checkpoint):
    use_checkpoint({**checkpoint, "head.norm.weight": torch.ones(768)})
    with raises(Exception, "build_model() with head.norm.weight of 768 values instead of 320") as info:
        ex.build_model()
    assert "head.norm.weight" in str(info.value), f"build_model(): name the misshapen tensor: {info.value}"


@pytest.mark.function("build_model")
def test_truncated_checkpoint_is_an_error(ex, use_checkpoint, checkpoint):
    cache = use_checkpoint(checkpoint)
    blob = next(cache.glob("models--*/blobs/*"))
    blob.write_bytes(blob.read_bytes()[: blob.stat().st_size // 2])
    with raises(Exception, "build_model() with a checkpoint file cut in half"):
        ex.build_model()
