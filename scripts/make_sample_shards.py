"""Build data/sample/: two small ImageNet-style WebDataset shards of real photographs.

The photos come from scikit-image's bundled data (all public domain or CC0, see data/sample/README.md).
Run once by a maintainer (needs scikit-image: pip install -e .[bench]); the shards are committed so
`make demo` needs no download.
"""

import io
import json
import os
import sys

from PIL import Image
from skimage import data

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from corrupter.io.tarwriter import DeterministicTarWriter  # noqa: E402

# (loader, ImageNet-1k class index, wnid, class name, licence)
PHOTOS = {
    "skimage_chelsea": (data.chelsea, 281, "n02123045", "tabby, tabby cat", "CC0 (Stefan van der Walt)"),
    "skimage_coffee": (data.coffee, 967, "n07920052", "espresso", "CC0 (Rachel Michetti)"),
    "skimage_rocket": (data.rocket, 657, "n03773504", "missile", "public domain (SpaceX)"),
    "skimage_camera": (data.camera, 872, "n04485082", "tripod", "CC0 (Lav Varshney)"),
    "skimage_clock": (data.clock, 409, "n02708093", "analog clock", "public domain (Stefan van der Walt)"),
    "skimage_astronaut": (data.astronaut, 834, "n04350905", "suit, suit of clothes", "public domain (NASA)"),
}
SHARDS = [["skimage_chelsea", "skimage_coffee", "skimage_rocket"],
          ["skimage_camera", "skimage_clock", "skimage_astronaut"]]


def main(out_dir: str = "data/sample") -> None:
    os.makedirs(out_dir, exist_ok=True)
    for index, keys in enumerate(SHARDS):
        with open(os.path.join(out_dir, f"val-{index:06d}.tar"), "wb") as fh, DeterministicTarWriter(fh) as tar:
            for key in keys:
                loader, label, wnid, name, licence = PHOTOS[key]
                buffer = io.BytesIO()
                Image.fromarray(loader()).save(buffer, format="JPEG", quality=92)  # greyscale stays greyscale
                meta = {"label": label, "wnid": wnid, "class_name": name, "licence": licence,
                        "origin": f"scikit-image data.{loader.__name__}()"}
                tar.write(key, {"jpg": buffer.getvalue(), "cls": str(label).encode(),
                                "json": json.dumps(meta, sort_keys=True).encode()})


if __name__ == "__main__":
    main(*sys.argv[1:])
