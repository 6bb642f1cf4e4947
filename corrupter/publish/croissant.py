"""croissant.json: the release as Croissant 1.0 JSON-LD (https://mlcommons.org/croissant), for dataset
catalogues and mlcroissant.

    distribution   one cr:FileObject per shard (contentUrl relative to the release, application/x-tar,
                   sha256), and two cr:FileSets of the files inside them: the images (*.jpg / *.png)
                   and the labels (*.cls)
    recordSet      "samples": per sample its image, key, label (the class index of its .cls member),
                   corruption and variant; the record sets it is joined from come first

Croissant cannot name the archive a member came from (mlcommons/croissant#684): a member's
``fullpath`` and ``filename`` are its name inside its tar, KEY.EXT, the same in every cell.
mlcroissant 1.1 (as 1.0 did) extracts each tar into a directory of its own, CROISSANT_CACHE/extract/
plus the sha256 of the FileObject's contentUrl, and gives that path as the member's ``filepath``. So:

    member-images   each image member: image, key, and member (EXTRACTION-DIR/KEY, from its filepath)
    member-labels   each .cls member: label, member, and archive (EXTRACTION-DIR)
    shards          inline data, one row per shard: archive (sha256 of its contentUrl), shard (its
                    path), corruption and variant (from the manifest)
    member-cells    member-labels joined with shards on archive: member, label, corruption, variant
    samples         member-images joined with member-cells on member

Two joins, one per record set (mlcroissant joins once per record set), and neither on a FileSet's own
columns: mlcroissant rewrites the join column in place, and would then read the image from the
rewritten path. The joins depend on mlcroissant's layout: ``filepath`` and the extraction directory
are its, not Croissant's. Not used: the ``.json`` members (mlcroissant reads a member's content as
bytes, which no regex or jsonPath transform accepts), and a table of every sample (a heat map's 3,969
cells would make it large). mlcroissant's cache is keyed by the relative contentUrl, which every
version of a benchmark shares: give each release its own CROISSANT_CACHE.

Deterministic: sorted keys, shards sorted by path, no dates (the manifest's ``created`` is left out).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from ..config.card import CardConfig
from ..release.manifest import ReleaseManifest, ShardEntry
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
# A member's name is KEY.EXT, one path component: output keys hold no '/' or '.' (io/shards.safe_key).
STEM = r"^(.*)\.[^./]+$"  # a member's path without its extension: the sample's key in its shard
MEMBER = r"^.*/([^/]+/[^/]+)\.[^./]+$"  # a member's filepath -> EXTRACTION-DIR/KEY: one sample of one shard
ARCHIVE = r"^.*/([^/]+)/[^/]+$"  # a member's filepath -> EXTRACTION-DIR: its shard


def extraction_dir(content_url: str) -> str:
    """Where mlcroissant extracts a FileObject's archive: the sha256 of its contentUrl (hex), under
    CROISSANT_CACHE/extract/."""
    return hashlib.sha256(content_url.encode()).hexdigest()


def _field(record_set: str, name: str, data_type: str, source: dict[str, Any] | None, description: str,
           references: str | None = None) -> dict[str, Any]:
    field = {"@type": "cr:Field", "@id": f"{record_set}/{name}", "name": name, "description": description,
             "dataType": data_type}
    if source is not None:
        field["source"] = source
    if references:
        field["references"] = {"field": {"@id": references}}
    return field


def _from(file_set: str, file_property: str, regex: str | None = None) -> dict[str, Any]:
    source: dict[str, Any] = {"fileSet": {"@id": file_set}, "extract": {"fileProperty": file_property}}
    if regex:
        source["transform"] = {"regex": regex}
    return source


def _of(field: str) -> dict[str, Any]:
    return {"field": {"@id": field}}


def _record_set(name: str, description: str, fields: list[dict[str, Any]], **more: Any) -> dict[str, Any]:
    return {"@type": "cr:RecordSet", "@id": name, "name": name, "description": description, "field": fields,
            **more}


def _record_sets(shards: list[ShardEntry]) -> list[dict[str, Any]]:
    member = "EXTRACTION-DIR/KEY (the member's path as mlcroissant extracts it, less the extension)"
    images = _record_set("member-images", "each image member of the shards", [
        _field("member-images", "image", "sc:ImageObject", _from("images", "content"), "the corrupted image"),
        _field("member-images", "key", "sc:Text", _from("images", "filename", STEM), "the sample's key"),
        _field("member-images", "member", "sc:Text", _from("images", "filepath", MEMBER), member),
    ])
    labels = _record_set("member-labels", "each .cls member of the shards", [
        _field("member-labels", "label", "sc:Integer", _from("cls-labels", "content"), "the class index"),
        _field("member-labels", "member", "sc:Text", _from("cls-labels", "filepath", MEMBER), member),
        _field("member-labels", "archive", "sc:Text", _from("cls-labels", "filepath", ARCHIVE),
               "the directory mlcroissant extracted the member's shard into"),
    ])
    table = _record_set("shards", "each shard's cell, by the directory mlcroissant extracts it into", [
        _field("shards", "archive", "sc:Text", None, "sha256 of the shard's contentUrl (hex)"),
        _field("shards", "shard", "sc:Text", None, "the shard's path (its contentUrl)"),
        _field("shards", "corruption", "sc:Text", None, "the shard's corruption"),
        _field("shards", "variant", "sc:Text", None, "the shard's variant"),
    ], key={"@id": "shards/archive"}, data=[
        {"shards/archive": extraction_dir(s.path), "shards/shard": s.path, "shards/corruption": s.corruption,
         "shards/variant": s.variant} for s in shards])
    cells = _record_set("member-cells", "each .cls member with its label and its shard's cell", [
        _field("member-cells", "archive", "sc:Text", _of("member-labels/archive"), "the member's shard",
               references="shards/archive"),
        _field("member-cells", "member", "sc:Text", _of("member-labels/member"), member),
        _field("member-cells", "label", "sc:Integer", _of("member-labels/label"), "the class index"),
        _field("member-cells", "corruption", "sc:Text", _of("shards/corruption"), "the corruption"),
        _field("member-cells", "variant", "sc:Text", _of("shards/variant"), "the variant"),
    ])
    samples = _record_set("samples", "every sample: its corrupted image, key, label, corruption, variant", [
        _field("samples", "member", "sc:Text", _of("member-images/member"), member,
               references="member-cells/member"),
        _field("samples", "image", "sc:ImageObject", _of("member-images/image"), "the corrupted image"),
        _field("samples", "key", "sc:Text", _of("member-images/key"), "the sample's key (the input's key)"),
        _field("samples", "label", "sc:Integer", _of("member-cells/label"),
               "the class index (the sample's .cls member)"),
        _field("samples", "corruption", "sc:Text", _of("member-cells/corruption"),
               "the corruption (the first directory of the shard's path)"),
        _field("samples", "variant", "sc:Text", _of("member-cells/variant"),
               "the variant (the second directory of the shard's path)"),
    ])
    return [images, labels, table, cells, samples]


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
        "recordSet": _record_sets(shards),
    }
    if card.authors:
        document["creator"] = [{"@type": "sc:Person", "name": author} for author in card.authors]
    return document


def croissant_json(manifest: ReleaseManifest, card: CardConfig) -> bytes:
    return (json.dumps(croissant(manifest, card), indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()
