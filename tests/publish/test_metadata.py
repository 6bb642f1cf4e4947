"""The metadata written with a release: the same config gives the same bytes, the manifest lists
every file with its sha256, verify catches a tampered, missing or unlisted one, old manifests still
read, and the card's config refuses what could break out of the card (the worst case included)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from corrupter.config import ConfigError
from corrupter.io.storage import open_storage
from corrupter.pipeline.plan import planned_shards, plan_units
from corrupter.pipeline.worker import ShardWorker
from corrupter.publish.metadata import write_metadata
from corrupter.release.errors import ManifestError
from corrupter.release.layout import release_storage
from corrupter.release.lifecycle import claim_release, commit_release
from corrupter.release.manifest import dump_manifest, parse_manifest
from corrupter.release.verify import verify_release
from tests.pipeline.releases import small_config

CARD = {"title": 'Demo: "fog" # not a comment', "authors": ["A. Author", "B. Büchner"], "license": "other",
        "license_name": "ImageNet terms of access", "license_link": "https://image-net.org/download",
        "description": "Two lines.\nThe second: --- and key: value", "source_citation": "@article{x, title={Y}}"}


def build(out: Path, **fields) -> Path:
    """A small release built in this process (no Ray), committed with its metadata as `run` does."""
    config = small_config(out, card=CARD, **fields)
    release = release_storage(config)
    claim_release(config, release)
    worker = ShardWorker(config, "cpu")
    receipts = [r for unit in plan_units(config) for r in worker.run(unit).receipts]
    commit_release(config, release, receipts, lambda manifest: write_metadata(config, release, manifest))
    return Path(release.uri)


@pytest.fixture(scope="module")
def two(tmp_path_factory) -> tuple[Path, Path]:
    return build(tmp_path_factory.mktemp("a")), build(tmp_path_factory.mktemp("b"))


def metadata(release: Path) -> dict[str, bytes]:
    return {p.relative_to(release).as_posix(): p.read_bytes() for p in sorted(release.rglob("*"))
            if p.is_file() and p.suffix != ".tar" and p.name != "manifest.json"}


def test_two_builds_give_the_same_metadata_bytes(two):
    a, b = metadata(two[0]), metadata(two[1])
    assert sorted(a) == ["CITATION.cff", "README.md", "contrast/1/_info.json", "contrast/1/shardindex.json",
                         "contrast/1/sizes.json", "contrast/2/_info.json", "contrast/2/shardindex.json",
                         "contrast/2/sizes.json", "croissant.json", "preview.png"]
    assert a == b


def test_the_manifest_lists_every_metadata_file_with_its_sha256(two):
    import hashlib

    manifest = json.loads((two[0] / "manifest.json").read_text())
    assert manifest["format"] == "corrupter-release/2"
    listed = {f["path"]: (f["sha256"], f["bytes"]) for f in manifest["files"]}
    assert listed == {path: (hashlib.sha256(data).hexdigest(), len(data)) for path, data in metadata(two[0]).items()}
    assert verify_release(open_storage(str(two[0])), planned_shards)[1] == []


def test_the_shard_lists_agree_with_the_manifest(two):
    manifest = json.loads((two[0] / "manifest.json").read_text())
    shard = next(s for s in manifest["shards"] if s["path"].startswith("contrast/2/"))
    info = json.loads((two[0] / "contrast/2/_info.json").read_text())
    assert info["splits"]["val"] == {"name": "val", "num_samples": shard["samples"], "filenames": ["val-000000.tar"],
                                     "shard_lengths": [shard["samples"]]}
    assert json.loads((two[0] / "contrast/2/sizes.json").read_text()) == {"val-000000.tar": shard["samples"]}
    index = json.loads((two[0] / "contrast/2/shardindex.json").read_text())
    assert index["__kind__"] == "wids-shard-index-v1" and index["wids_version"] == 1
    assert index["shardlist"] == [{"url": "val-000000.tar", "nsamples": shard["samples"], "filesize": shard["bytes"],
                                   "sha256": shard["sha256"]}]


@pytest.mark.parametrize("change", ["tamper", "remove", "add"])
def test_verify_catches_a_tampered_missing_or_unlisted_metadata_file(two, tmp_path, change):
    import shutil

    copy = Path(shutil.copytree(two[0], tmp_path / "copy"))
    card = copy / "README.md"
    card.chmod(0o644)
    if change == "tamper":
        card.write_text(card.read_text().replace("license: other", "license: OTHER"))  # same size: the sha256 tells
        expected = ("README.md", "sha256")
    elif change == "remove":
        (copy / "contrast/1/_info.json").unlink()
        expected = ("contrast/1/_info.json", "missing")
    else:
        (copy / "contrast/1/extra.json").write_text("{}")
        expected = ("contrast/1/extra.json", "not listed")
    problems = verify_release(open_storage(str(copy)), planned_shards)[1]
    assert [(p.path, expected[1] in p.problem) for p in problems] == [(expected[0], True)]


def test_the_card_header_and_citation_parse_back_to_what_the_config_said(two):
    text = (two[0] / "README.md").read_text()
    header = yaml.safe_load(text.split("---\n")[1])
    assert header["pretty_name"] == CARD["title"]
    assert header["license"] == "other" and header["license_name"] == "imagenet-terms-of-access"
    assert header["task_categories"] == ["image-classification"] and header["size_categories"] == ["n<1K"]
    assert [c["config_name"] for c in header["configs"]] == ["contrast-1", "contrast-2"]
    assert header["configs"][0]["data_files"] == [{"split": "val", "path": "contrast/1/*.tar"}]
    assert "ImageNet's terms of access" in text and "no permissive license is claimed" in text
    assert "![corruptions (rows) by variant (columns), the clean crop first](preview.png)" in text
    cff = yaml.safe_load((two[0] / "CITATION.cff").read_text())
    assert (cff["cff-version"], cff["type"], cff["version"], cff["title"]) == ("1.2.0", "dataset", "1.0.0", CARD["title"])
    assert [a["name"] for a in cff["authors"]] == CARD["authors"]


def test_what_the_card_config_leaves_out_the_card_says_is_missing(two):
    from corrupter.config import CardConfig
    from corrupter.publish.card import dataset_card
    from corrupter.publish.citation import citation_cff

    manifest = parse_manifest((two[0] / "manifest.json").read_bytes(), "m")
    text = dataset_card(manifest, CardConfig()).decode()
    for missing in ("card.description", "card.authors", "card.homepage", "card.license", "card.source_citation",
                    "card.metadata_license"):
        assert f"({missing}" in text, missing
    assert "\nlicense: unknown\n" in text and "# t 1.0.0\n" in text  # the title falls back to NAME VERSION
    cff = yaml.safe_load(citation_cff(manifest, CardConfig()))
    assert cff["authors"] == [{"name": "not given (card.authors in the release config)"}]


WORST_TITLE = 'x"\n---\nlicense: mit\nconfigs: []\n#'


@pytest.mark.parametrize("field,value,says", [
    ("title", WORST_TITLE, "card.title must be one line"),
    ("title", "x" * 201, "card.title has 201 characters"),
    ("title", "a\u2028b", "card.title must be one line"),
    ("authors", ["ok", "two\nlines"], "card.authors.1 must be one line"),
    ("authors", ["same", "same"], "lists a name twice"),
    ("license", "MIT\nfoo: bar", "card.license"),
    ("license_link", "javascript:alert(1)", "card.license_link"),
    ("homepage", "https://example.org/a b", "card.homepage"),
    ("description", "x" * 10_001, "card.description has 10001 characters"),
    ("description", "a\x00b", "control characters"),
    ("source_citation", "```\nbreak out", "code fence"),
    ("nonsense", "x", "card.nonsense"),
])
def test_the_card_config_refuses_what_could_break_the_card_naming_the_field(tmp_path, field, value, says):
    with pytest.raises(ConfigError) as caught:
        small_config(tmp_path, card={field: value})
    assert says in str(caught.value)


def test_a_format_1_manifest_still_reads_and_format_2_needs_its_files(two):
    raw = json.loads((two[0] / "manifest.json").read_text())
    old = {k: v for k, v in raw.items() if k != "files"} | {"format": "corrupter-release/1"}
    assert parse_manifest(json.dumps(old).encode(), "old").files == []
    assert json.loads(dump_manifest(parse_manifest(json.dumps(old).encode(), "old"))).keys() == old.keys()
    with pytest.raises(ManifestError, match="files: required"):
        parse_manifest(json.dumps({k: v for k, v in raw.items() if k != "files"}).encode(), "new")
    with pytest.raises(ManifestError):
        parse_manifest(json.dumps(raw | {"files": [{"path": "../x", "sha256": "0" * 64, "bytes": 1}]}).encode(), "bad")
