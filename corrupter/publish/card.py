"""README.md of a release: a dataset card with the Hugging Face YAML header (one config per
corruption/variant, its shards as data_files, license, task and size category) and a body saying
what the release is, how it was made and verified, how to read it, its license terms and how to cite
it. Everything comes from the manifest, the corruption registry and the config's ``card:`` section;
what the author did not give is said to be missing.

Text that comes from the input or the config (source URIs, sample keys, quarantine reasons, the
citation) is quoted in code blocks whose fence is longer than any run of backticks inside, and YAML
values are double-quoted scalars, so none of it can end a block or the header early.
"""

from __future__ import annotations

import json
import re
from typing import Any

from .. import ops
from ..config.card import CardConfig
from ..release.manifest import ReleaseManifest, ShardEntry
from .citation import title_of, yaml_string
from .shardlists import OPEN_CLIP_SIZES, TIMM_INFO, WIDS_INDEX, cells_of

PREVIEW = "preview.png"
MAX_TABLE_ROWS = 120  # cells listed one per row; a larger sweep is summarised per corruption
MAX_QUARANTINE_SHOWN = 100
SIZE_CATEGORIES = [(1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"),
                   (10_000_000, "1M<n<10M"), (100_000_000, "10M<n<100M"), (1_000_000_000, "100M<n<1B")]


def config_name(directory: str) -> str:
    """A cell's Hugging Face config name: ``fog/3`` -> ``fog-3``."""
    return directory.replace("/", "-")


def size_category(samples: int) -> str:
    return next((name for bound, name in SIZE_CATEGORIES if samples < bound), "n>1B")


def fenced(text: str, language: str = "") -> str:
    """``text`` in a code block no line of it can close."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{language}\n{text}\n{fence}"


def fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.10g}"
    if isinstance(value, (list, tuple)):
        if len(value) > 6:
            return f"[{fmt(value[0])}..{fmt(value[-1])}] ({len(value)} values)"
        return "[" + ", ".join(fmt(v) for v in value) + "]"
    return str(value)


def fmt_params(params: dict[str, Any]) -> str:
    return ", ".join(f"{k}={fmt(v)}" for k, v in params.items()) or "(none)"


def _hf_split(split: str) -> str:
    """Hugging Face split names are words joined by dots: ``val`` stays, ``my-split`` -> ``my_split``."""
    return re.sub(r"[^\w.]", "_", split)


def yaml_header(manifest: ReleaseManifest, card: CardConfig) -> str:
    split = _hf_split(manifest.config["input"]["split"])
    lines = ["---", f"pretty_name: {yaml_string(title_of(manifest, card))}", f"license: {card.license}"]
    if card.license == "other":
        slug = re.sub(r"[^a-z0-9.]+", "-", (card.license_name or "not given").lower()).strip("-") or "other"
        lines.append(f"license_name: {yaml_string(slug)}")
        if card.license_link:
            lines.append(f"license_link: {yaml_string(card.license_link)}")
    lines += ["task_categories:", "- image-classification",
              "size_categories:", f"- {size_category(manifest.totals.samples)}",
              "tags:", "- robustness", "- image-corruptions", "- webdataset", "- corrupter",
              "configs:"]
    for directory in cells_of(manifest):
        lines += [f"- config_name: {yaml_string(config_name(directory))}", "  data_files:",
                  f"  - split: {split}", f"    path: {yaml_string(directory + '/*.tar')}"]
    return "\n".join(lines + ["---"])


def _cells_section(manifest: ReleaseManifest) -> list[str]:
    cells = cells_of(manifest)
    lines = ["## What it holds", ""]
    if len(cells) <= MAX_TABLE_ROWS:
        lines += ["| cell (config) | corruption | variant | level | parameters | samples | shards |",
                  "|---|---|---|---|---|---|---|"]
        for directory, shards in cells.items():
            first = shards[0]
            lines.append(f"| `{config_name(directory)}` | {first.corruption} | `{first.variant}` | "
                         f"{first.level if first.level is not None else '-'} | {fmt_params(first.params)} | "
                         f"{sum(s.samples for s in shards):,} | {len(shards)} |")
    else:
        per: dict[str, list[list[ShardEntry]]] = {}
        for shards in cells.values():
            per.setdefault(shards[0].corruption, []).append(shards)
        lines += [f"{len(cells):,} cells; each variant's parameters are in `manifest.json` (`shards`).", "",
                  "| corruption | variants | first variant | last variant | samples |", "|---|---|---|---|---|"]
        for corruption, groups in per.items():
            lines.append(f"| {corruption} | {len(groups):,} | `{groups[0][0].variant}` | `{groups[-1][0].variant}` | "
                         f"{sum(s.samples for g in groups for s in g):,} |")
    return lines + [""]


def _corruptions_section(manifest: ReleaseManifest) -> list[str]:
    lines = ["## Corruptions", "",
             "Physical parameters of each level, from corrupter's registry (`corrupter list NAME`); a "
             "variant given by explicit parameters is named by them.", ""]
    used: dict[str, set[int]] = {}
    for shard in manifest.shards:
        used.setdefault(shard.corruption, set()).update([shard.level] if shard.level is not None else [])
    for name in sorted(used):
        spec = ops.get_corruption(name)
        lines += [f"### {name}", "",
                  f"{spec.summary} Family: {spec.family}; {'random (per-sample draws)' if spec.stochastic else 'deterministic'}."]
        if spec.reference:
            lines += ["", f"Reference: {spec.reference}"]
        if used[name]:
            lines += ["", "| level | parameters |", "|---|---|"]
            lines += [f"| {level} | {fmt_params(dict(spec.levels[level - 1]))} |" for level in sorted(used[name])]
        lines.append("")
    return lines


def _recipe_section(manifest: ReleaseManifest) -> list[str]:
    config = manifest.config
    pre, out = config["preprocess"], config["output"]
    resize = f"short side resized to {pre['resize']} (PIL bilinear)" if pre.get("resize") else "no resize"
    crop = f"centre crop {pre['crop']} x {pre['crop']}" if pre.get("crop") else "no crop"
    encoding = (f"JPEG quality {out['jpeg_quality']} ({out['jpeg_encoder']} encoder)" if out["format"] == "jpg"
                else "PNG")
    select = config["input"].get("select")
    lines = ["## How it was made", "",
             f"- Each input image: {resize}, {crop}; corrupted in float (or on its 8-bit levels, the same "
             f"bytes), rounded to 8 bits, written as {encoding}.",
             f"- Seed `{config['seed']}`; per-sample seeds: {manifest.seed_scheme}. The same config and software "
             f"give the same bytes.",
             f"- Input subset: {json.dumps(select) if select else 'every sample'}.",
             f"- Config digest `{manifest.config_digest}`; the whole config is in `manifest.json` (`config`).",
             f"- Computed on: {manifest.device_type}.", "",
             "Input shards (sha256):", "",
             fenced("\n".join(f"{s.uri}  {s.sha256}" for s in manifest.sources)), ""]
    return lines


def _counts_section(manifest: ReleaseManifest) -> list[str]:
    t = manifest.totals
    lines = ["## Counts", "",
             f"- {t.samples:,} samples in {t.shards:,} shards ({t.bytes:,} bytes).",
             f"- Input: {t.sources:,} shards, {t.source_samples_read:,} samples read, "
             f"{t.source_samples_selected:,} selected, {t.source_samples_quarantined:,} quarantined "
             f"(set aside with the reason, never written).", "",
             "### Quarantined inputs", ""]
    if not manifest.quarantined:
        return lines + ["None.", ""]
    shown = manifest.quarantined[:MAX_QUARANTINE_SHOWN]
    text = "\n".join(json.dumps({"source": q.source, "key": q.key, "reason": q.reason}) for q in shown)
    more = len(manifest.quarantined) - len(shown)
    return lines + [fenced(text, "json")] + ([f"and {more:,} more (all in `manifest.json`)."] if more else []) + [""]


def _software_section(manifest: ReleaseManifest) -> list[str]:
    return ["## Software", "", "| package | version |", "|---|---|",
            *[f"| {name} | {version} |" for name, version in sorted(manifest.software.items())], ""]


def _verified_section() -> list[str]:
    return ["## How it is verified", "",
            "`manifest.json`, written last, commits the release: it lists every shard with its sha256, size "
            "and sample count, the input shards with theirs, and every other file (this card, `croissant.json`, "
            f"`CITATION.cff`, `{PREVIEW}`, and per cell `{TIMM_INFO}`, `{OPEN_CLIP_SIZES}`, `{WIDS_INDEX}`) "
            "with its sha256. `corrupter verify` re-reads all of them, recomputes the config digest, re-plans "
            "the shards from the config and checks every count:", "",
            fenced("corrupter verify .", "bash"),
            "", "`corrupter.open_release` checks each shard's sha256 while it reads it.", ""]


def _reading_section(manifest: ReleaseManifest) -> list[str]:
    cells = cells_of(manifest)
    if not cells:
        return []
    directory, shards = next(iter(cells.items()))
    for name, candidate in cells.items():
        if candidate[0].corruption != "clean":
            directory, shards = name, candidate
            break
    split = manifest.config["input"]["split"]
    last = len(shards) - 1
    pattern = f"{directory}/{split}-{{000000..{last:06d}}}.tar" if last else shards[0].path
    corruption, variant = shards[0].corruption, shards[0].variant
    return ["## How to read it", "",
            f"Paths are relative to this directory. One cell, `{directory}`, with stock webdataset:", "",
            fenced(f"""import webdataset as wds
cell = wds.WebDataset("{pattern}", shardshuffle=False)
for image, label, meta in cell.decode("rgb").to_tuple("jpg;png", "cls", "json"):
    ...  # meta: corruption, variant, params, sampled values, seed, source shard and key""", "python"),
            "", f"timm (`{TIMM_INFO}` in each cell's directory):", "",
            fenced(f"""from timm.data import create_dataset
dataset = create_dataset("wds/{manifest.name}", root="{directory}", split="{split}")""", "python"),
            "", "Hugging Face `datasets` (the configs of the header above, or any cell's shards):", "",
            fenced(f"""from datasets import load_dataset
cell = load_dataset(".", "{config_name(directory)}", split="{_hf_split(split)}")
cell = load_dataset("webdataset", data_files={{"{_hf_split(split)}": "{directory}/*.tar"}}, split="{_hf_split(split)}")""",
                   "python"),
            "", f"wids (`{WIDS_INDEX}`) and open_clip (`{OPEN_CLIP_SIZES}`) find their shard lists in each cell's "
            f"directory; `croissant.json` describes the whole release (Croissant 1.0): with mlcroissant, "
            "`Dataset(\"croissant.json\").records(\"samples\")` gives each sample's image, key, label, "
            "corruption and variant.", "",
            "corrupter (every shard checked against the manifest while it streams; errors per cell, mCE):", "",
            fenced(f"""import corrupter
release = corrupter.open_release(".")
for sample in release.samples(release.cell("{corruption}", "{variant}")):
    sample.image, sample.label, sample.metadata""", "python"),
            "", fenced("corrupter evaluate . --model MODULE:FUNCTION --out results/", "bash"), ""]


def _license_section(card: CardConfig) -> list[str]:
    if card.license == "other":
        terms = card.license_name or "not given (card.license_name)"
        given = f"{terms}" + (f" ({card.license_link})" if card.license_link else "")
    elif card.license == "unknown":
        given = "not given in the release config (card.license): ask the release's authors"
    else:
        given = f"`{card.license}`" + (f" ({card.license_link})" if card.license_link else "")
    metadata = (f"`{card.metadata_license}`" if card.metadata_license
                else "not given (card.metadata_license)")
    return ["## License", "",
            f"The images are derived from the input images and inherit their terms: {given}. This release "
            "grants no other license for them. Images derived from ImageNet (as in ImageNet-C) stay under "
            "ImageNet's terms of access (https://image-net.org/download): non-commercial research and "
            "educational use, by those who accepted them; no permissive license is claimed for them.", "",
            f"This card and the metadata files: {metadata}. corrupter, the code that made the release, is "
            "Apache-2.0.", ""]


def _citation_section(card: CardConfig) -> list[str]:
    lines = ["## Citation", "", "Cite the release with `CITATION.cff`, and its source data:", ""]
    if card.source_citation:
        lines.append(fenced(card.source_citation))
    else:
        lines.append("The source data's citation was not given (card.source_citation).")
    return lines + [""]


def dataset_card(manifest: ReleaseManifest, card: CardConfig) -> bytes:
    """README.md's bytes."""
    t = manifest.totals
    corruptions = sorted({s.corruption for s in manifest.shards})
    about = [
        f"# {title_of(manifest, card)}", "",
        f"Release `{manifest.name}` version `{manifest.version}`: {t.samples:,} corrupted images in "
        f"{len(cells_of(manifest)):,} cells ({len(corruptions)} corruptions: {', '.join(corruptions)}), "
        f"WebDataset shards built by corrupter {manifest.software.get('corrupter', '?')}.", "",
        card.description or "No description was given (card.description in the release config).", "",
        f"Authors: {', '.join(card.authors) if card.authors else 'not given (card.authors)'}. "
        f"Homepage: {card.homepage or 'not given (card.homepage)'}.", "",
        f"![corruptions (rows) by variant (columns), the clean crop first]({PREVIEW})", "",
    ]
    body = (about + _cells_section(manifest) + _corruptions_section(manifest) + _recipe_section(manifest)
            + _counts_section(manifest) + _software_section(manifest) + _verified_section()
            + _reading_section(manifest) + _license_section(card) + _citation_section(card))
    return (yaml_header(manifest, card) + "\n\n" + "\n".join(body).rstrip("\n") + "\n").encode()
