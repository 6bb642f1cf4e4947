"""CITATION.cff (Citation File Format 1.2.0) of a release: a dataset, its title, version and authors
from the config's ``card:`` section. Authors the config does not name are written as one entity
saying so (the format requires at least one author); nothing is invented."""

from __future__ import annotations

import json

from ..config.card import CardConfig
from ..release.manifest import ReleaseManifest

NO_AUTHORS = "not given (card.authors in the release config)"


def yaml_string(value: str) -> str:
    """A YAML double-quoted scalar for any text the card config accepts (JSON's escapes are YAML's)."""
    return json.dumps(value, ensure_ascii=False)


def title_of(manifest: ReleaseManifest, card: CardConfig) -> str:
    return card.title or f"{manifest.name} {manifest.version}"


def citation_cff(manifest: ReleaseManifest, card: CardConfig) -> bytes:
    lines = [
        "cff-version: 1.2.0",
        f"message: {yaml_string('If you use this dataset, please cite it as below, and cite its source data (README.md, Citation).')}",
        "type: dataset",
        f"title: {yaml_string(title_of(manifest, card))}",
        f"version: {yaml_string(manifest.version)}",
        "authors:",
        *[f"  - name: {yaml_string(author)}" for author in (card.authors or [NO_AUTHORS])],
    ]
    if card.homepage:
        lines.append(f"url: {yaml_string(card.homepage)}")
    if card.description:
        lines.append(f"abstract: {yaml_string(card.description)}")
    lines.append(f"keywords: {json.dumps(['image classification', 'robustness', 'corruptions', 'webdataset'])}")
    return ("\n".join(lines) + "\n").encode()
