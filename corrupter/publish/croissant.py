"""croissant.json: the release as Croissant 1.0 JSON-LD (https://mlcommons.org/croissant), for dataset
catalogues and mlcroissant.

    distribution   one cr:FileObject per shard (contentUrl relative to the release, application/x-tar,
                   sha256), and two cr:FileSets of the files inside them: the images (*.jpg / *.png)
                   and the labels (*.cls)
    recordSet      "samples": image and key of every sample

Not (yet) in the RecordSet: label, corruption and variant. mlcroissant 1.1 reads files inside an
archive only as whole contents or paths (no JSON inside a tar), and its join on a file's path
rewrites the path it then reads the image from; a key alone repeats across cells.

Deterministic: sorted keys, no dates (the manifest's ``created`` is left out).
"""

from __future__ import annotations

import json
from typing import Any

from ..config.card import CardConfig
from ..release.manifest import ReleaseManifest
from .citation import title_of

CONTEXT = {
    "@language": "en",
    "@vocab": "https://schema.org/",
    "citeAs": "cr:citeAs",
    "column": "cr:column",
    "conformsTo": "dct:conformsTo",
    "cr": "http://mlcommons.org/croissant/",
    "rai": "http://mlcommons.org/croissant/RAI/",
    "data": {"@id": "cr:data", "@type": "@json"},
    "dataType": {"@id": "cr:dataType", "@type": "@vocab"},
    "dct": "http://purl.org/dc/terms/",
    "examples": {"@id": "cr:examples", "@type": "@json"},
    "extract": "cr:extract",
    "field": "cr:field",
    "fileProperty": "cr:fileProperty",
    "fileObject": "cr:fileObject",
    "fileSet": "cr:fileSet",
    "format": "cr:format",
    "includes": "cr:includes",
    "isLiveDataset": "cr:isLiveDataset",
    "jsonPath": "cr:jsonPath",
    "key": "cr:key",
    "md5": "cr:md5",
    "parentField": "cr:parentField",
    "path": "cr:path",
    "recordSet": "cr:recordSet",
    "references": "cr:references",
    "regex": "cr:regex",
    "repeated": "cr:repeated",
    "equivalentProperty": "cr:equivalentProperty",
    "samplingRate": "cr:samplingRate",
    "replace": "cr:replace",
    "sc": "https://schema.org/",
    "separator": "cr:separator",
    "source": "cr:source",
    "subField": "cr:subField",
    "transform": "cr:transform",
}
STEM = r"^(.*)\.[^./]+$"  # a member's path without its extension: the sample's key in its shard


def _field(record_set: str, name: str, data_type: str, source: dict[str, Any], description: str,
           references: str | None = None) -> dict[str, Any]:
    field = {"@type": "cr:Field", "@id": f"{record_set}/{name}", "name": name, "description": description,
             "dataType": data_type, "source": source}
    if references:
        field["references"] = {"field": {"@id": references}}
    return field


def _from(file_set: str, **extract: str) -> dict[str, Any]:
    return {"fileSet": {"@id": file_set}, "extract": extract}


def croissant(manifest: ReleaseManifest, card: CardConfig) -> dict[str, Any]:
    shards = sorted(manifest.shards, key=lambda s: s.path)
    image_format = "image/png" if manifest.config["output"]["format"] == "png" else "image/jpeg"
    image_glob = "*.png" if image_format == "image/png" else "*.jpg"
    contained = [{"@id": f"shard/{s.path}"} for s in shards]
    distribution: list[dict[str, Any]] = [
        {"@type": "cr:FileObject", "@id": f"shard/{s.path}", "name": s.path, "contentUrl": s.path,
         "contentSize": f"{s.bytes} B", "encodingFormat": "application/x-tar", "sha256": s.sha256}
        for s in shards]
    distribution += [
        {"@type": "cr:FileSet", "@id": "images", "name": "images", "containedIn": contained,
         "encodingFormat": image_format, "includes": image_glob,
         "description": "the corrupted images inside the shards, one per sample"},
        {"@type": "cr:FileSet", "@id": "cls-labels", "name": "cls-labels", "containedIn": contained,
         "encodingFormat": "text/plain", "includes": "*.cls",
         "description": "each sample's label: the class index as decimal text"},
    ]
    samples = {
        "@type": "cr:RecordSet", "@id": "samples", "name": "samples",
        "description": "the corrupted images with their keys; each sample's label, corruption and variant "
                       "are in its .cls and .json members beside the image (the cls-labels file set)",
        "field": [
            _field("samples", "image", "sc:ImageObject", _from("images", fileProperty="content"),
                   "the corrupted image"),
            _field("samples", "key", "sc:Text", {**_from("images", fileProperty="filename"),
                                                 "transform": {"regex": STEM}},
                   "the sample's key (the input's key)"),
        ],
    }
    document: dict[str, Any] = {
        "@context": CONTEXT,
        "@type": "sc:Dataset",
        "conformsTo": "http://mlcommons.org/croissant/1.0",
        "name": title_of(manifest, card),
        "description": card.description or (
            f"Release {manifest.name} {manifest.version}: corrupted images built by corrupter (README.md)."),
        "version": manifest.version,
        "license": card.license_link or card.license,
        "url": card.homepage or "README.md",
        "citeAs": card.source_citation or f"{manifest.name} {manifest.version} (CITATION.cff)",
        "distribution": distribution,
        "recordSet": [samples],
    }
    if card.authors:
        document["creator"] = [{"@type": "sc:Person", "name": author} for author in card.authors]
    return document


def croissant_json(manifest: ReleaseManifest, card: CardConfig) -> bytes:
    return (json.dumps(croissant(manifest, card), indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()
