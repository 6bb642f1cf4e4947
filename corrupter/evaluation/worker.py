"""The work of one evaluation unit, as a plain class (no Ray): one shard of a release, read through the
release reader (its sha256 checked while it streams), classified in batches, counted.

The actor pool (pipeline/ray_pool.py) builds one EvalWorker per actor and calls ``run`` per shard;
tests and the benchmark call it directly.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from dataclasses import dataclass

import torch

from ..release import Release, Sample, open_release
from .models import ModelSpec, load_model


class ModelOutputError(ValueError):
    """The model's output is not (batch, classes) logits; the same on every try, so the job stops."""


@dataclass(frozen=True)
class ShardUnit:
    """One shard of the release to evaluate; ``unit_id`` is its path in the release."""

    unit_id: str

    @property
    def shard(self) -> str:
        return self.unit_id


@dataclass(frozen=True)
class ShardCounts:
    """What one shard counted, once all of it was read and its sha256 matched the manifest."""

    shard: str
    samples: int
    top1_correct: int
    top5_correct: int
    parameters_sha256: str  # of the model that counted them (resume refuses to mix models)
    device: str
    seconds: float  # the whole unit: open, read, sha256, decode, classify
    forward_seconds: float  # of which in the model (uint8 -> float, forward, top-5): the bound

    @property
    def images(self) -> int:  # the pool's progress bar counts these
        return self.samples


def parameters_digest(model: torch.nn.Module) -> str:
    """sha256 over the model's state (names, dtypes, shapes, bytes): which weights did the counting."""
    digest = hashlib.sha256()
    for name, tensor in model.state_dict().items():
        tensor = tensor.detach().cpu().contiguous()
        digest.update(f"{name}|{tensor.dtype}|{tuple(tensor.shape)}|".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())  # any dtype, 0-d too
    return digest.hexdigest()


class EvalWorker:
    """Classifies the shards of one release with one model; built once per actor.

    ``release_uri`` is opened here (S3 settings from the environment), and must still be the release
    whose manifest hashes to ``manifest_sha256``: a release is immutable, so anything else is refused.
    """

    def __init__(self, release_uri: str, manifest_sha256: str, model: ModelSpec, batch_size: int,
                 threads: int = 1, *, device: str) -> None:
        torch.set_num_threads(threads)
        self.release: Release = open_release(release_uri)
        if self.release.manifest_sha256 != manifest_sha256:
            raise ValueError(f"{release_uri}: its manifest.json changed while it was being evaluated "
                             f"(sha256 {self.release.manifest_sha256}, expected {manifest_sha256})")
        self.spec, self.batch_size = model, batch_size
        self.classes = self.release.config.input.num_classes
        self.device = torch.device(device)
        loaded = load_model(model)
        self.parameters_sha256 = parameters_digest(loaded)
        self.model = loaded.to(self.device)

    def run(self, unit: ShardUnit) -> ShardCounts:
        start = time.perf_counter()
        samples = top1 = top5 = 0
        forward = 0.0
        # The shard's counts are returned only when read_shard has run to its end: then its bytes were
        # the manifest's. A mismatch raises from inside the loop and nothing of the shard is kept.
        for images, labels in self._batches(self.release.read_shard(self.release.shard(unit.shard))):
            began = time.perf_counter()
            correct1, correct5 = self._classify(images, labels, unit.shard)
            forward += time.perf_counter() - began
            samples, top1, top5 = samples + len(labels), top1 + correct1, top5 + correct5
        return ShardCounts(unit.shard, samples, top1, top5, self.parameters_sha256, self.device.type,
                           time.perf_counter() - start, forward)

    def _batches(self, samples: Iterator[Sample]) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """``batch_size`` samples at a time as (uint8 (B, 3, H, W), labels); a change of image size
        starts a new batch (a release without a crop may hold several sizes)."""
        images: list[torch.Tensor] = []
        labels: list[int] = []
        for sample in samples:
            if images and (len(images) == self.batch_size or sample.image.shape != images[0].shape):
                yield torch.stack(images), torch.tensor(labels)
                images, labels = [], []
            images.append(sample.image)
            labels.append(sample.label)
        if images:
            yield torch.stack(images), torch.tensor(labels)

    @torch.inference_mode()
    def _classify(self, images: torch.Tensor, labels: torch.Tensor, shard: str) -> tuple[int, int]:
        """(top-1 correct, top-5 correct) of one batch."""
        inputs = images.to(self.device, non_blocking=True).float().div_(255)
        logits = self.model(inputs)
        expected = (len(labels), self.classes)
        if not isinstance(logits, torch.Tensor) or tuple(logits.shape) != expected:
            got = tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__
            raise ModelOutputError(
                f"--model {self.spec.spec} returned {got} for a batch of {len(labels)} images of {shard}; "
                f"expected logits of shape {expected} (batch, classes: the release's input.num_classes)")
        labels = labels.to(logits.device)
        top = logits.topk(min(5, self.classes), dim=1).indices
        return int((top[:, 0] == labels).sum()), int((top == labels[:, None]).any(dim=1).sum())
