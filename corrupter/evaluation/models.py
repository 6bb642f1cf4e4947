"""Model specs -> a classifier on float (B, 3, H, W) images in [0, 1] returning (B, classes) logits.

Three forms, none of which downloads anything:
- ``MODULE:FUNCTION``: the user's function returns such a module (their own model and normalisation);
- ``torchvision:NAME``: torchvision's architecture, weights from ``--weights FILE`` (a state dict) or
  torch's local hub cache, ImageNet normalisation as the weights' own transforms give it;
- ``timm:NAME`` (the ``timm`` extra): timm's architecture, weights from ``--weights FILE`` or the
  local Hugging Face cache only, the normalisation of the model's pretrained config.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


class ModelSpecError(ValueError):
    """A model spec that cannot be turned into a model; the message says how to fix it."""


@dataclass(frozen=True)
class ModelSpec:
    """What to evaluate: ``spec`` as the user wrote it and an optional local weights file."""

    spec: str
    weights: str | None = None

    @property
    def kind(self) -> str:
        prefix = self.spec.split(":", 1)[0]
        return prefix if prefix in ("torchvision", "timm") else "function"

    def describe(self) -> dict[str, str | None]:
        """For results.json: the spec, and the weights file by name and sha256 (not its path)."""
        digest = None
        if self.weights:
            from ..io.storage import sha256_file

            digest = "sha256:" + sha256_file(self.weights)
        return {"spec": self.spec, "weights": Path(self.weights).name if self.weights else None,
                "weights_sha256": digest}


class Normalized(nn.Module):
    """(x - mean) / std in front of a model that expects normalised input."""

    def __init__(self, model: nn.Module, mean: tuple[float, ...], std: tuple[float, ...]) -> None:
        super().__init__()
        self.model = model
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.model((images - self.mean) / self.std)


def parse_model_spec(spec: str, weights: str | None = None) -> ModelSpec:
    """Check the spec's form (not yet its import) and the weights file; errors say what is wrong."""
    if ":" not in spec or not all(spec.split(":", 1)):
        raise ModelSpecError(f"--model {spec!r}: expected MODULE:FUNCTION, torchvision:NAME or timm:NAME")
    if weights is not None and not os.path.isfile(weights):
        raise ModelSpecError(f"--weights {weights}: no such file")
    parsed = ModelSpec(spec, weights)
    if parsed.kind == "function" and weights is not None:
        raise ModelSpecError(f"--weights applies to torchvision: and timm: models; {spec} loads its own")
    return parsed


def check_model(spec: ModelSpec) -> None:
    """The cheap half of ``load_model``, run before any worker starts: the function imports, the
    architecture exists, the weights are there. Builds nothing."""
    kind, name = spec.kind, spec.spec.split(":", 1)[1]
    if kind == "function":
        _function(spec)
    elif kind == "torchvision":
        _torchvision_weights(spec, name)
    else:
        _timm_weights(spec, name)


def load_model(spec: ModelSpec) -> nn.Module:
    """The classifier, in eval mode, on the CPU."""
    loaders: dict[str, Callable[[ModelSpec], nn.Module]] = {
        "function": _from_function, "torchvision": _from_torchvision, "timm": _from_timm}
    model = loaders[spec.kind](spec)
    if not isinstance(model, nn.Module):
        raise ModelSpecError(f"--model {spec.spec}: returned {type(model).__name__}, not a torch.nn.Module")
    return model.eval()


def _function(spec: ModelSpec) -> Callable[[], nn.Module]:
    module_name, function_name = spec.spec.split(":", 1)
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ModelSpecError(f"--model {spec.spec}: cannot import {module_name} ({exc})") from None
    function = getattr(module, function_name, None)
    if not callable(function):
        raise ModelSpecError(f"--model {spec.spec}: {module_name} has no function {function_name}")
    return function


def _from_function(spec: ModelSpec) -> nn.Module:
    return _function(spec)()


def _load_state_dict(model: nn.Module, path: str, spec: str) -> None:
    if path.endswith(".safetensors"):
        from safetensors.torch import load_file

        state = load_file(path)
    else:
        state = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    try:
        model.load_state_dict(state)
    except (RuntimeError, TypeError) as exc:
        first = str(exc).strip().splitlines()[0]
        raise ModelSpecError(f"--weights {path} does not fit {spec}: {first}") from None


def _torchvision_weights(spec: ModelSpec, name: str):
    """(weights file, torchvision's default weights entry) of a torchvision: spec."""
    import torchvision

    try:
        default = torchvision.models.get_model_weights(name).DEFAULT
    except (ValueError, KeyError):
        raise ModelSpecError(f"--model {spec.spec}: torchvision has no model {name!r}") from None
    path = spec.weights or _torch_hub_cached(default.url)
    if path is None:
        cache = Path(torch.hub.get_dir()) / "checkpoints" / Path(default.url).name
        raise ModelSpecError(
            f"--model {spec.spec}: no weights. corrupter downloads nothing: pass --weights FILE (a state "
            f"dict), or place {Path(default.url).name} (from {default.url}) at {cache}")
    return path, default


def _from_torchvision(spec: ModelSpec) -> nn.Module:
    import torchvision

    name = spec.spec.split(":", 1)[1]
    path, default = _torchvision_weights(spec, name)
    model = torchvision.models.get_model(name, weights=None)
    _load_state_dict(model, path, spec.spec)
    transforms = default.transforms()
    return Normalized(model, tuple(transforms.mean), tuple(transforms.std))


def _torch_hub_cached(url: str) -> str | None:
    path = Path(torch.hub.get_dir()) / "checkpoints" / Path(url).name
    return str(path) if path.is_file() else None


def _timm_weights(spec: ModelSpec, name: str) -> str:
    try:
        import timm
    except ImportError:
        raise ModelSpecError(f"--model {spec.spec}: timm is not installed (pip install 'corrupter[timm]')") from None
    if not timm.is_model(name) and not timm.list_models(name):
        raise ModelSpecError(f"--model {spec.spec}: timm has no model {name!r}")
    path = spec.weights or _hf_cached(timm.models.get_pretrained_cfg(name))
    if path is None:
        raise ModelSpecError(
            f"--model {spec.spec}: no weights in the local Hugging Face cache, and corrupter downloads "
            f"nothing: pass --weights FILE (a state dict or .safetensors)")
    return path


def _from_timm(spec: ModelSpec) -> nn.Module:
    import timm

    name = spec.spec.split(":", 1)[1]
    path = _timm_weights(spec, name)
    model = timm.create_model(name, pretrained=False)
    _load_state_dict(model, path, spec.spec)
    config = timm.data.resolve_data_config({}, model=model)
    return Normalized(model, tuple(config["mean"]), tuple(config["std"]))


def _hf_cached(pretrained_cfg: object) -> str | None:
    """The weights file of a timm pretrained config if the Hugging Face cache already holds it."""
    hub_id = getattr(pretrained_cfg, "hf_hub_id", None)
    if not hub_id:
        return None
    from huggingface_hub import try_to_load_from_cache

    for filename in ("model.safetensors", "pytorch_model.bin"):
        found = try_to_load_from_cache(hub_id, filename)
        if isinstance(found, str):
            return found
    return None
