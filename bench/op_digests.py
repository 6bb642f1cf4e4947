"""Digests of ops' outputs (float and uint8) over many inputs: proof that a speed-up changed no byte.

    OMP_NUM_THREADS=1 python bench/op_digests.py --save before.json elastic_transform spatter
    (change the kernels)
    OMP_NUM_THREADS=1 python bench/op_digests.py --compare before.json

For every op named, severities 1-5, batch sizes 1-6 and several seeds per batch size, on the real
photos (tests/data/reference/photos224.npz) at 224x224 and resized to 200x257, 257x200 and 520x390
(fewer cases there), it records the SHA-256 of the float output of ``apply_batch`` (float32, before
quantisation) and of its ``quantize_uint8`` bytes, and of ``apply_batch_uint8`` where the op has an
8-bit kernel. ``--compare`` recomputes the cases of a saved file and lists every case that differs
(an op that has gained an 8-bit kernel since the save: its bytes against the saved quantised ones).
Generators are the worker's (``make_generator``), seeds seed * 100 + index, so each case also
checks that a batch's samples do not depend on each other's order.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from corrupter import ops
from corrupter.io.assets import load_assets
from corrupter.seeding import make_generator

# (height, width, seeds per batch size): the photos' own size gets the most cases.
SIZES = ((224, 224, 16), (200, 257, 8), (257, 200, 4), (520, 390, 2))
BATCH_SIZES = range(1, 7)


def photo_levels(height: int, width: int) -> torch.Tensor:
    """The five reference photos as uint8 (5, 3, H, W) levels, resized bilinearly when not 224x224."""
    photos = np.stack(list(np.load(ROOT / "tests" / "data" / "reference" / "photos224.npz").values()))
    levels = torch.from_numpy(photos).permute(0, 3, 1, 2).contiguous()
    if (height, width) == (224, 224):
        return levels
    resized = F.interpolate(levels.float(), size=(height, width), mode="bilinear", align_corners=False)
    return resized.round().clamp(0, 255).to(torch.uint8)


def digest(tensor: torch.Tensor) -> str:
    return hashlib.sha256(tensor.contiguous().numpy().tobytes()).hexdigest()[:24]


def case_digests(name: str, severity: int, levels: torch.Tensor, batch: int, seed: int) -> dict[str, str]:
    spec = ops.get_corruption(name)
    params = spec.params(severity)
    assets = load_assets(spec.assets, levels.device)
    # Consecutive photos starting at the seed: different batches see different mixes.
    chosen = levels[[(seed + i) % levels.shape[0] for i in range(batch)]]
    images = chosen.float() / 255

    def generators() -> list[torch.Generator]:
        return [make_generator(seed * 100 + i) for i in range(batch)]

    out, _ = ops.apply_batch(spec, images, params, generators(), assets)
    digests = {"float": digest(out), "uint8": digest(ops.quantize_uint8(out))}
    if spec.apply_uint8 is not None:
        digests["uint8_kernel"] = digest(ops.apply_batch_uint8(spec, chosen, params, generators(), assets)[0])
    return digests


def all_digests(names: list[str]) -> dict[str, dict[str, str]]:
    results: dict[str, dict[str, str]] = {}
    for height, width, seeds in SIZES:
        levels = photo_levels(height, width)
        for name in names:
            start = time.perf_counter()
            for severity in ops.get_corruption(name).level_numbers:
                for batch in BATCH_SIZES:
                    for seed in range(seeds):
                        key = f"{name}/{severity}/{height}x{width}/b{batch}/s{seed}"
                        results[key] = case_digests(name, severity, levels, batch, seed)
            print(f"{name} {height}x{width}: {time.perf_counter() - start:.1f} s", file=sys.stderr)
    return results


def with_new_kernels(saved: dict[str, str], now: dict[str, str]) -> dict[str, str]:
    """A saved case's digests, plus for an op that has gained an 8-bit kernel since: that kernel
    must give the saved quantised bytes."""
    if "uint8_kernel" in now and "uint8_kernel" not in saved:
        return {**saved, "uint8_kernel": saved["uint8"]}
    return saved


def main() -> None:
    parser = argparse.ArgumentParser()
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--save", help="write the digests of the named ops to this JSON file")
    group.add_argument("--compare", help="recompute the ops of this JSON file and list differences")
    parser.add_argument("names", nargs="*")
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.save:
        results = all_digests(args.names or ops.list_corruptions())
        Path(args.save).write_text(json.dumps(results, indent=1, sort_keys=True))
        print(f"{len(results)} cases saved to {args.save}")
        return
    saved = json.loads(Path(args.compare).read_text())
    names = args.names or sorted({key.split("/")[0] for key in saved})
    results = all_digests(names)
    keys = [k for k in saved if k.split("/")[0] in names]
    differ = [k for k in keys if results.get(k) != with_new_kernels(saved[k], results.get(k, {}))]
    for key in differ:
        expected = with_new_kernels(saved[key], results.get(key, {}))
        changed = [kind for kind in expected if results.get(key, {}).get(kind) != expected[kind]]
        print(f"DIFFERS {key}: {', '.join(changed)}")
    print(f"{len(keys)} cases compared, {len(differ)} differ")
    sys.exit(1 if differ else 0)


if __name__ == "__main__":
    main()
