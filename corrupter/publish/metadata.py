"""Every metadata file of a release, written just before the manifest commits it (the manifest then
lists each with its sha256, so `corrupter verify` checks them like shards):

    CORRUPTION/VARIANT/_info.json, sizes.json, shardindex.json    shardlists.py
    README.md        the dataset card (card.py)
    preview.png      the grid of corruptions x variants (preview.py)
    croissant.json   Croissant 1.0 (croissant.py)
    CITATION.cff     (citation.py)

All of it comes from the manifest (less its ``created`` time, which no file repeats), the config's
``card:`` section and the first samples of the shards: the same config and software give the same
bytes.
"""

from __future__ import annotations

from ..config import ReleaseConfig
from ..io.storage import Storage
from ..release.lifecycle import write_release_file
from ..release.manifest import FileEntry, ReleaseManifest
from ..release.reader import Release
from .card import PREVIEW, dataset_card
from .citation import citation_cff
from .croissant import croissant_json
from .preview import preview_png
from .shardlists import shard_lists

CARD, CROISSANT, CITATION = "README.md", "croissant.json", "CITATION.cff"


def metadata_files(config: ReleaseConfig, release: Storage, manifest: ReleaseManifest) -> dict[str, bytes]:
    """Release-relative path -> bytes of every metadata file of the (not yet committed) release."""
    files = shard_lists(manifest)
    files[CARD] = dataset_card(manifest, config.card)
    files[CITATION] = citation_cff(manifest, config.card)
    files[CROISSANT] = croissant_json(manifest, config.card)
    building = Release(release, manifest, manifest_sha256="")
    building.config = config  # the live one: its s3 settings read the input (the manifest holds none)
    files[PREVIEW] = preview_png(building)
    return dict(sorted(files.items()))


def write_metadata(config: ReleaseConfig, release: Storage, manifest: ReleaseManifest) -> list[FileEntry]:
    """Write them all (create-once; see write_release_file) and return their manifest entries."""
    return [write_release_file(release, path, data)
            for path, data in metadata_files(config, release, manifest).items()]
