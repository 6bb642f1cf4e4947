"""The fidelity checks of docs/fidelity.md that are too slow for the test suite, to rerun at will.

    python bench/fidelity_checks.py fog [--seeds 300]       # our fog sampler vs the original, many seeds
    python bench/fidelity_checks.py frost [--seeds 200]     # our frost sampler vs the original, many seeds
    python bench/fidelity_checks.py hsv-cube                # brightness, saturate on all 2^24 colours
    python bench/fidelity_checks.py photos --reference DIR/deterministic.npz   # all five photos, exact

- fog, frost: statistics (tests/reference_stats.py) of our outputs with our own samplers against the
  original script's, both over the same number of seeds shared by the five photos of
  tests/data/reference (the reference protocol). The original is the NumPy transcription in
  tests/reference_numpy.py, which reproduces the original's stored statistics exactly
  (tests/ops/test_fidelity_checks.py). Passes when every statistic's mean over seeds agrees within
  4 standard errors of the difference at every severity; prints the relative difference of
  diff_abs_mean with its standard error. About 20 min (fog) and 10 min (frost) on 2 shared CPU
  cores; ``--seeds`` trades time for resolution.
- hsv-cube: every 8-bit colour through brightness and saturate at every severity, against the
  original's formula computed with scikit-image's rgb2hsv / hsv2rgb (``pip install -e '.[bench]'``),
  one level per call and all five in one call of the op's multi-level kernel (the worker's route for
  a unit's levels). Passes when every output byte is identical. About 10 min.
- photos: the seven deterministic corruptions on all five photos at every severity against the full
  reference output set (13 MB; the repository ships only the astronaut's). Make it in the reference
  environment described in bench/make_imagecorruptions_reference.py:
      .refenv/bin/python bench/make_imagecorruptions_reference.py tests/data/reference/photos224.npz REF
  then pass REF/deterministic.npz. Passes when contrast, brightness, saturate, pixelate and
  jpeg_compression are byte-identical and gaussian_blur / defocus_blur differ by at most one level on
  at most 0.03% / 3.6% of values.
Exit status 0 when the check passes, 1 when it does not.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from corrupter import ops  # noqa: E402
from corrupter.io.assets import load_assets  # noqa: E402
from corrupter.seeding import make_generator  # noqa: E402
from tests import reference_numpy  # noqa: E402
from tests.reference_stats import STATS, image_stats, to_uint8  # noqa: E402

PHOTOS = ROOT / "tests" / "data" / "reference" / "photos224.npz"
SEVERITIES = (1, 2, 3, 4, 5)


def load_photos() -> tuple[list[str], dict[str, np.ndarray], torch.Tensor]:
    photos = dict(np.load(PHOTOS))
    names = sorted(photos)
    batch = torch.stack([torch.from_numpy(photos[n]).permute(2, 0, 1) for n in names]).float() / 255
    return names, photos, batch


def photo_averaged(per_photo: list[dict[str, float]]) -> dict[str, float]:
    return {k: float(np.mean([s[k] for s in per_photo])) for k in STATS}


def our_runs(name: str, severity: int, seeds: range, names, photos, batch, chunk: int = 10) -> list[dict]:
    """Per seed (one generator seed shared by the five photos), our photo-averaged statistics."""
    spec = ops.get_corruption(name)
    assets = load_assets(spec.assets)
    runs = []
    for start in range(seeds.start, seeds.stop, chunk):
        block = range(start, min(start + chunk, seeds.stop))
        generators = [make_generator(100_000 + seed) for seed in block for _ in names]
        out, _ = ops.apply_batch(spec, batch.repeat(len(block), 1, 1, 1), spec.params(severity), generators, assets)
        out = to_uint8(out)
        for k in range(len(block)):
            runs.append(photo_averaged([image_stats(photos[p], out[k * len(names) + i]) for i, p in enumerate(names)]))
    return runs


def original_runs(name: str, severity: int, seeds: range, names, photos) -> list[dict]:
    """Per seed, the original's photo-averaged statistics (np.random.seed(seed) before each photo)."""
    params = ops.get_corruption(name).params(severity)
    textures = reference_numpy.frost_textures() if name == "frost" else None
    runs = []
    for seed in seeds:
        per_photo = []
        for p in names:
            rng = np.random.RandomState(seed)
            if name == "fog":
                out = reference_numpy.fog(photos[p], params["strength"], params["decay"], rng)
            else:
                out = reference_numpy.frost(photos[p], params["image_weight"], params["frost_weight"], rng, textures)
            per_photo.append(image_stats(photos[p], out))
        runs.append(photo_averaged(per_photo))
    return runs


def check_sampler(name: str, seeds: int) -> bool:
    names, photos, batch = load_photos()
    ok = True
    print(f"{name}: {seeds} seeds x {len(names)} photos per side; mean +- standard error over seeds")
    print("| severity | diff_abs_mean ours | original | relative difference | worst \\|z\\| (statistic) |")
    print("|---|---|---|---|---|")
    for severity in SEVERITIES:
        ours = our_runs(name, severity, range(seeds), names, photos, batch)
        ref = original_runs(name, severity, range(seeds), names, photos)
        worst_z, worst_k = 0.0, ""
        for k in STATS:
            a, b = np.array([r[k] for r in ours]), np.array([r[k] for r in ref])
            se = np.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b))
            z = abs(a.mean() - b.mean()) / se if se > 0 else 0.0
            if z > worst_z:
                worst_z, worst_k = z, k
        a, b = np.array([r["diff_abs_mean"] for r in ours]), np.array([r["diff_abs_mean"] for r in ref])
        sa, sb = a.std(ddof=1) / np.sqrt(len(a)), b.std(ddof=1) / np.sqrt(len(b))
        rel, rel_se = a.mean() / b.mean() - 1, np.hypot(sa, sb) / b.mean()
        print(f"| {severity} | {a.mean():.4f} +- {sa:.4f} | {b.mean():.4f} +- {sb:.4f} | "
              f"{100 * rel:+.2f}% +- {100 * rel_se:.2f}% | {worst_z:.2f} ({worst_k}) |", flush=True)
        ok &= worst_z <= 4
    return ok


def check_hsv_cube(chunk_bits: int = 20) -> bool:
    try:
        from skimage.color import hsv2rgb, rgb2hsv
    except ImportError:
        sys.exit("hsv-cube needs scikit-image: pip install -e '.[bench]'")
    edits = [("brightness", s) for s in SEVERITIES] + [("saturate", s) for s in SEVERITIES]
    mismatches = {edit: 0 for edit in edits}
    together_mismatches = {edit: 0 for edit in edits}  # the worker's multi-level kernel, five at once
    chunk = 1 << chunk_bits
    start_time = time.time()
    for start in range(0, 1 << 24, chunk):
        codes = np.arange(start, start + chunk, dtype=np.int64)
        levels = np.stack([codes >> 16, (codes >> 8) & 255, codes & 255], axis=-1).astype(np.uint8)
        hsv = rgb2hsv(levels[None] / 255.0)
        levels8 = torch.from_numpy(levels.T.copy()).reshape(1, 3, 1, chunk)
        images = levels8.float() / 255
        references = {}
        for name, severity in edits:
            params = ops.get_corruption(name).params(severity)
            edited = hsv.copy()
            if name == "brightness":  # make_imagenet_c.py: V <- clip(V + c, 0, 1)
                edited[..., 2] = np.clip(edited[..., 2] + params["shift"], 0, 1)
            else:  # S <- clip(S * a + b, 0, 1)
                edited[..., 1] = np.clip(edited[..., 1] * params["scale"] + params["shift"], 0, 1)
            reference = references[(name, severity)] = np.uint8(np.clip(hsv2rgb(edited), 0, 1) * 255)[0]
            ours = to_uint8(ops.get_corruption(name).apply(images, {}, **params))[0, 0]
            mismatches[(name, severity)] += int((ours != reference).any(axis=-1).sum())
        for name in ("brightness", "saturate"):
            spec = ops.get_corruption(name)
            together = ops.apply_batch_levels(spec, levels8, [spec.params(s) for s in SEVERITIES])
            for severity, output in zip(SEVERITIES, together, strict=True):
                ours = output[0, :, 0].T.numpy()
                together_mismatches[(name, severity)] += int((ours != references[(name, severity)]).any(axis=-1).sum())
        print(f"  colours {start + chunk:>9,} of {1 << 24:,} ({time.time() - start_time:.0f} s)", flush=True)
    print("| op | severity | colours whose output differs (of 16,777,216) | the same, five levels in one "
          "multi-level call |")
    print("|---|---|---|---|")
    for (name, severity), count in mismatches.items():
        print(f"| {name} | {severity} | {count} | {together_mismatches[(name, severity)]} |")
    return not any(mismatches.values()) and not any(together_mismatches.values())


# Deterministic corruptions: (largest share of values off, largest difference in levels) allowed.
PHOTO_LIMITS = {"contrast": (0, 0), "brightness": (0, 0), "saturate": (0, 0), "pixelate": (0, 0),
                "jpeg_compression": (0, 0), "gaussian_blur": (0.0003, 1), "defocus_blur": (0.036, 1)}


def check_photos(reference: Path) -> bool:
    expected = dict(np.load(reference))
    names, _, batch = load_photos()
    ok = True
    print("| op | severity | share of values off (worst photo) | largest difference (levels) |")
    print("|---|---|---|---|")
    for name, (share_limit, level_limit) in PHOTO_LIMITS.items():
        spec = ops.get_corruption(name)
        for severity in SEVERITIES:
            out = to_uint8(spec.apply(batch, {}, **spec.params(severity)))
            shares, largest = [], 0
            for i, photo in enumerate(names):
                key = f"{photo}/{name}/{severity}"
                if key not in expected:
                    sys.exit(f"{reference} has no {key}: is it the full deterministic.npz?")
                diff = np.abs(out[i].astype(int) - expected[key].astype(int))
                shares.append(float((diff > 0).mean()))
                largest = max(largest, int(diff.max()))
            print(f"| {name} | {severity} | {100 * max(shares):.4f}% | {largest} |", flush=True)
            ok &= max(shares) <= share_limit and largest <= level_limit
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="check", required=True)
    fog = sub.add_parser("fog", help="our fog sampler against the original, many seeds")
    fog.add_argument("--seeds", type=int, default=300)
    frost = sub.add_parser("frost", help="our frost sampler against the original, many seeds")
    frost.add_argument("--seeds", type=int, default=200)
    cube = sub.add_parser("hsv-cube", help="brightness and saturate on every 8-bit colour")
    cube.add_argument("--chunk-bits", type=int, default=20, help="colours per step, as a power of two")
    photos = sub.add_parser("photos", help="deterministic corruptions on all five photos, exact")
    photos.add_argument("--reference", type=Path, required=True, help="the full deterministic.npz")
    args = parser.parse_args(argv)
    torch.set_num_threads(max(torch.get_num_threads(), 1))
    if args.check in ("fog", "frost"):
        ok = check_sampler(args.check, args.seeds)
    elif args.check == "hsv-cube":
        ok = check_hsv_cube(args.chunk_bits)
    else:
        ok = check_photos(args.reference)
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
