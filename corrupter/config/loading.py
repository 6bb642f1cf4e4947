"""YAML -> validated ReleaseConfig, ``--set key=value`` overrides, and the config digest."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from .models import ReleaseConfig
from .selection import read_keys_file

MAX_CONFIG_BYTES = 4 * 1024**2
MAX_CONFIG_VALUES = 200_000  # values in a config with its YAML aliases expanded (alias bombs)
MAX_CONFIG_DEPTH = 32

# Fields that only say how or where to execute: excluded from the digest and the manifest, so the
# worker count, batch size, storage location or a size guard never change a release.
EXECUTION_ONLY = {"run": True, "s3": True, "output": {"uri", "max_shard_bytes"}}


class ConfigError(ValueError):
    """A config that cannot be used; the message names the file and the field."""


def load_yaml(text: str, origin: str) -> Any:
    """yaml.safe_load, refusing a document that aliases expand beyond MAX_CONFIG_VALUES values
    or that nests deeper than MAX_CONFIG_DEPTH: counted on the node graph, before building it."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _count_values(node, origin, {}, 0)
        return loader.construct_document(node)
    except RecursionError:
        raise ConfigError(f"{origin}: nested too deeply (the limit is {MAX_CONFIG_DEPTH} levels)") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{origin}: not valid YAML: {exc}") from None
    finally:
        loader.dispose()


def _count_values(node: yaml.Node, origin: str, sizes: dict[int, int], depth: int) -> int:
    """Values under ``node`` with every alias expanded; memoised per node, so linear in the file."""
    if id(node) in sizes:
        if sizes[id(node)] < 0:
            raise ConfigError(f"{origin}: a YAML alias refers to a node that contains it (line "
                              f"{node.start_mark.line + 1})")
        return sizes[id(node)]
    if depth > MAX_CONFIG_DEPTH:
        raise ConfigError(f"{origin}: nested more than {MAX_CONFIG_DEPTH} levels deep (line {node.start_mark.line + 1})")
    sizes[id(node)] = -1  # in progress
    children: list[yaml.Node] = []
    if isinstance(node, yaml.SequenceNode):
        children = node.value
    elif isinstance(node, yaml.MappingNode):
        children = [n for pair in node.value for n in pair]
    total = 1 + sum(_count_values(child, origin, sizes, depth + 1) for child in children)
    if total > MAX_CONFIG_VALUES:
        raise ConfigError(f"{origin}: holds more than {MAX_CONFIG_VALUES:,} values once its YAML aliases are "
                          f"expanded (line {node.start_mark.line + 1}: {total:,}); write them out or shorten them")
    sizes[id(node)] = total
    return total


def load_config(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> ReleaseConfig:
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_CONFIG_BYTES:
            raise ConfigError(f"{path}: config of {size:,} bytes; the limit is {MAX_CONFIG_BYTES:,}")
        raw = load_yaml(path.read_text(), str(path))
    except (FileNotFoundError, IsADirectoryError):
        raise ConfigError(f"{path}: config file not found") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text ({exc})") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    for item in overrides:
        apply_override(raw, item, path)
    resolve_keys_file(raw, str(path))
    return validate_config(raw, str(path))


def resolve_keys_file(raw: dict[str, Any], origin: str) -> None:
    """``input.select.keys_file`` (a path, relative to the current directory like ``input.shards``)
    replaced by ``keys``, the list it holds: the release identity then holds the keys themselves, so
    editing the file cannot change a release behind its digest."""
    select = raw.get("input", {}).get("select") if isinstance(raw.get("input"), dict) else None
    if not isinstance(select, dict) or "keys_file" not in select:
        return
    path = select.pop("keys_file")
    if "keys" in select:
        raise ConfigError(f"{origin}: input.select: give keys or keys_file, not both")
    if not isinstance(path, str) or not path:
        raise ConfigError(f"{origin}: input.select.keys_file must be a path, got {str(path)[:60]!r}")
    try:
        select["keys"] = read_keys_file(path)
    except ValueError as exc:
        raise ConfigError(f"{origin}: input.select.{exc}") from None


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
    value = load_yaml(text, f"--set {dotted}")
    try:
        node: Any = raw
        for key in keys[:-1]:
            node = node[int(key)] if isinstance(node, list) else node.setdefault(key, {})
        if isinstance(node, list):
            node[int(keys[-1])] = value
        else:
            node[keys[-1]] = value
    except (ValueError, IndexError, TypeError, AttributeError) as exc:
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
