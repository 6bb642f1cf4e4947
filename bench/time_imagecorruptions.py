"""(Copied from the project's shared bench folder; reads the photos from tests/data/reference and
reports the best of 5 rounds, as bench/bench_ops.py does for our side.)

Time the reference CPU implementation (imagecorruptions 1.1.2) per corruption on real 224x224 photos.

Set up its environment once (it needs old pins):
    python -m venv .refenv && .refenv/bin/pip install 'numpy==1.26.4' 'scikit-image==0.20.0' \
        'scipy<1.14' imagecorruptions==1.1.2 'setuptools<81'
Run on one core, beside the project's own benchmark, one after the other:
    OMP_NUM_THREADS=1 .refenv/bin/python bench/time_imagecorruptions.py [--severity 3] [NAME ...]
Prints one line per corruption: ms per image and images per second.
"""
import argparse, os, time

import numpy as np

# Run in the reference's environment: bench/ is the script's folder, hence importable.
from imagecorruptions_compat import corrupt, get_corruption_names  # noqa: E402

here = os.path.dirname(os.path.abspath(__file__))
parser = argparse.ArgumentParser()
parser.add_argument("names", nargs="*")
parser.add_argument("--severity", type=int, default=3)
parser.add_argument("--seconds", type=float, default=2.0)
args = parser.parse_args()
photos = list(np.load(os.path.join(here, "..", "tests", "data", "reference", "photos224.npz")).values())
for name in args.names or get_corruption_names("all"):
    corrupt(photos[0], corruption_name=name, severity=args.severity)  # warm-up
    # Best of 5 rounds, as bench/bench_ops.py times our side (a change from the shared copy).
    ms = float("inf")
    for _ in range(5):
        start, n = time.perf_counter(), 0
        while time.perf_counter() - start < args.seconds / 5 or n < len(photos):
            for img in photos:
                corrupt(img, corruption_name=name, severity=args.severity)
                n += 1
        ms = min(ms, (time.perf_counter() - start) / n * 1000)
    print(f"{name:20s} {ms:9.2f} ms/img {1000 / ms:9.1f} img/s")
