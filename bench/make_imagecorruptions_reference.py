"""(Copied from the project's shared reference folder, where it made tests/data/reference/;
`bench/fidelity_checks.py photos` compares our outputs with the full deterministic.npz it writes.)

Reference statistics of the ImageNet-C corruptions as computed by the `imagecorruptions` package.

Run in its own environment, since imagecorruptions 1.1.2 needs old pins:
    python -m venv .refenv && .refenv/bin/pip install 'numpy==1.26.4' 'scikit-image==0.20.0' \
        'scipy<1.14' imagecorruptions==1.1.2 'setuptools<81'
    .refenv/bin/python make_imagecorruptions_reference.py PHOTOS.npz OUT_DIR

PHOTOS.npz holds uint8 224x224x3 arrays (ImageNet-C recipe: resize short side to 256, centre-crop 224).
Writes OUT_DIR/stats.json (per image, corruption, severity, several seeds: summary statistics) and
OUT_DIR/deterministic.npz (exact uint8 outputs of the corruptions that draw no random numbers).
"""
import json, sys
import numpy as np

# Run in the reference's environment: bench/ is the script's folder, hence importable.
from imagecorruptions_compat import corrupt, get_corruption_names  # noqa: E402

DETERMINISTIC = ["contrast", "brightness", "saturate", "pixelate", "jpeg_compression",
                 "defocus_blur", "gaussian_blur"]


def high_freq_ratio(img):
    """Share of spectral energy (grey image, DC removed) outside the central 56x56 frequencies."""
    g = img.astype(np.float64).mean(axis=2) / 255.0
    f = np.fft.fftshift(np.abs(np.fft.fft2(g - g.mean())) ** 2)
    c = f.shape[0] // 2
    low = f[c - 28:c + 28, c - 28:c + 28].sum()
    return float(1.0 - low / f.sum())


def stats(clean, out):
    c = clean.astype(np.float64) / 255.0
    o = out.astype(np.float64) / 255.0
    d = o - c
    return {
        "mean": [float(v) for v in o.mean(axis=(0, 1))],
        "std": [float(v) for v in o.std(axis=(0, 1))],
        "diff_mean": float(d.mean()),
        "diff_abs_mean": float(np.abs(d).mean()),
        "diff_rms": float(np.sqrt((d ** 2).mean())),
        "high_freq_ratio": high_freq_ratio(out),
    }


def main(photos_path, out_dir, seeds_random=6, seeds_slow=2):
    photos = dict(np.load(photos_path))
    names = get_corruption_names("all")
    result = {"package": "imagecorruptions==1.1.2", "photos": sorted(photos), "clean": {}, "runs": {},
              }
    exact = {}
    for pname, img in sorted(photos.items()):
        result["clean"][pname] = stats(img, img)
    for name in names:
        result["runs"][name] = {}
        for sev in range(1, 6):
            per_photo = {}
            for pname, img in sorted(photos.items()):
                if name in DETERMINISTIC:
                    seeds = [0]
                elif name == "glass_blur":
                    seeds = list(range(seeds_slow))
                else:
                    seeds = list(range(seeds_random))
                runs = []
                for s in seeds:
                    np.random.seed(s)
                    out = np.uint8(corrupt(img, corruption_name=name, severity=sev))
                    runs.append(stats(img, out))
                    if name in DETERMINISTIC:
                        exact[f"{pname}/{name}/{sev}"] = out
                per_photo[pname] = runs
            result["runs"][name][str(sev)] = per_photo
            print(name, sev, flush=True)
    with open(f"{out_dir}/stats.json", "w") as f:
        json.dump(result, f, indent=1)
    np.savez_compressed(f"{out_dir}/deterministic.npz", **exact)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
