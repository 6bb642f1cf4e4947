"""YAML -> validated ReleaseConfig, ``--set key=value`` overrides, and the config digest."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from .models import ReleaseConfig

# Fields that only say how or where to execute: excluded from the digest and the manifest, so the
# worker count, batch size, storage location or a size guard never change a release.
EXECUTION_ONLY = {"run": True, "s3": True, "output": {"uri", "max_shard_bytes"}}


class ConfigError(ValueError):
    """A config that cannot be used; the message names the file and the field."""


def load_config(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> ReleaseConfig:
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    for item in overrides:
        apply_override(raw, item, path)
    return validate_config(raw, str(path))


def validate_config(raw: dict[str, Any], origin: str = "<config>") -> ReleaseConfig:
    try:
        return ReleaseConfig.model_validate(raw)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"]) or "(top level)"
            problems.append(f"  {where}: {err['msg']}")
        raise ConfigError(f"{origin}: invalid config\n" + "\n".join(problems)) from None


def apply_override(raw: dict[str, Any], item: str, origin: Path | str = "--set") -> None:
    """``a.b.c=value`` with value parsed as YAML (numbers, lists, null); list indices allowed."""
    if "=" not in item:
        raise ConfigError(f"--set {item!r}: expected key=value")
    dotted, text = item.split("=", 1)
    keys = dotted.split(".")
    try:
        value = yaml.safe_load(text)
        node: Any = raw
        for key in keys[:-1]:
            node = node[int(key)] if isinstance(node, list) else node.setdefault(key, {})
        if isinstance(node, list):
            node[int(keys[-1])] = value
        else:
            node[keys[-1]] = value
    except (ValueError, IndexError, TypeError, AttributeError, yaml.YAMLError) as exc:
        raise ConfigError(f"--set {item!r}: cannot set {dotted} in {origin} ({type(exc).__name__}: {exc})") from None


def release_identity(config: ReleaseConfig) -> dict[str, Any]:
    """The part of the config that defines the release's bytes (everything but execution settings)."""
    return config.model_dump(mode="json", exclude=EXECUTION_ONLY)


def config_digest(config: ReleaseConfig) -> str:
    return identity_digest(release_identity(config))


def identity_digest(identity: dict[str, Any]) -> str:
    """The digest of a release identity (the manifest's ``config``): sha256 of its canonical JSON."""
    canonical = json.dumps(identity, sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()
