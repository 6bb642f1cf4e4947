"""What differs between two releases, from their manifests alone (`corrupter diff A B`): config fields
(dotted names), software versions, cells added and removed, shards whose bytes differ, and the other
files the manifests list (metadata), so "is B a superset of A with the same bytes?" is one question
with one answer. The answer is about the shards (the data); metadata files name their version and
differ between any two versions, so they are listed but do not decide it.

Nothing but the two manifests is read: the answer is about what they record. Whether the stored bytes
still match their manifest is `corrupter verify`'s question.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .manifest import ReleaseManifest
from .objects import listed_objects

# config fields that name the release rather than define its bytes
NAMING_FIELDS = {"name", "version"}


@dataclass
class ReleaseDiff:
    config: list[tuple[str, Any, Any]] = field(default_factory=list)  # (dotted name, in A, in B); absent: ...
    software: list[tuple[str, str | None, str | None]] = field(default_factory=list)
    cells_added: list[str] = field(default_factory=list)  # "corruption/variant", in B only
    cells_removed: list[str] = field(default_factory=list)  # in A only
    changed: list[str] = field(default_factory=list)  # shards in both with different sha256
    added: list[str] = field(default_factory=list)  # shards in B only
    removed: list[str] = field(default_factory=list)  # shards in A only
    same: int = 0  # shards in both with the same sha256
    files_changed: list[str] = field(default_factory=list)  # other listed files (metadata), by the same rules
    files_added: list[str] = field(default_factory=list)
    files_removed: list[str] = field(default_factory=list)

    @property
    def b_holds_a(self) -> bool:
        """Every shard of A is in B with the same bytes (B is A, or a superset of it)."""
        return not self.changed and not self.removed

    def verdict(self, a: str, b: str) -> str:
        if self.b_holds_a and not self.added:
            return f"IDENTICAL SHARDS: {b} holds exactly the {self.same} shards of {a}, byte for byte"
        if self.b_holds_a:
            cells = f" ({len(self.cells_added)} new cells)" if self.cells_added else ""
            return (f"SUPERSET: {b} holds every one of the {self.same} shards of {a} with the same bytes, and "
                    f"adds {len(self.added)}{cells}")
        return (f"DIFFERENT: {len(self.changed)} shards of {a} have other bytes in {b}, {len(self.removed)} are "
                f"not in it ({self.same} the same, {len(self.added)} added)")


def diff_releases(a: ReleaseManifest, b: ReleaseManifest, where_a: str, where_b: str) -> ReleaseDiff:
    result = ReleaseDiff()
    result.config = diff_values(a.config, b.config)
    for name in sorted(set(a.software) | set(b.software)):
        if a.software.get(name) != b.software.get(name):
            result.software.append((name, a.software.get(name), b.software.get(name)))
    cells_a = {f"{s.corruption}/{s.variant}" for s in a.shards}
    cells_b = {f"{s.corruption}/{s.variant}" for s in b.shards}
    result.cells_added, result.cells_removed = sorted(cells_b - cells_a), sorted(cells_a - cells_b)
    objects_a = {o.path: o for o in listed_objects(a, where_a)}
    objects_b = {o.path: o for o in listed_objects(b, where_b)}
    for path in sorted(set(objects_a) | set(objects_b)):
        shard = (objects_a.get(path) or objects_b[path]).kind == "shards"
        if path not in objects_b:
            (result.removed if shard else result.files_removed).append(path)
        elif path not in objects_a:
            (result.added if shard else result.files_added).append(path)
        elif objects_a[path].sha256 != objects_b[path].sha256:
            (result.changed if shard else result.files_changed).append(path)
        elif shard:
            result.same += 1
    return result


MISSING = "(absent)"


def diff_values(a: Any, b: Any, prefix: str = "") -> list[tuple[str, Any, Any]]:
    """Leaves that differ, by dotted name. Lists of mappings that each have a distinct ``name`` (the
    corruptions) are compared by that name (``corruptions.fog.severities``), other lists by index."""
    if isinstance(a, dict) and isinstance(b, dict):
        found = []
        for key in sorted(set(a) | set(b), key=str):
            name = f"{prefix}.{key}" if prefix else str(key)
            found += diff_values(a.get(key, MISSING), b.get(key, MISSING), name) if key in a and key in b \
                else [(name, a.get(key, MISSING), b.get(key, MISSING))]
        return found
    if isinstance(a, list) and isinstance(b, list):
        by_name_a, by_name_b = _by_name(a), _by_name(b)
        if by_name_a is not None and by_name_b is not None:
            return diff_values(by_name_a, by_name_b, prefix)
        if len(a) != len(b):
            return [(prefix, a, b)]
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in diff_values(x, y, f"{prefix}.{i}")]
    return [] if a == b and type(a) is type(b) else [(prefix, a, b)]


def _by_name(items: list[Any]) -> dict[str, Any] | None:
    if not items or not all(isinstance(i, dict) and isinstance(i.get("name"), str) for i in items):
        return None
    names = [i["name"] for i in items]
    return dict(zip(names, items)) if len(set(names)) == len(names) else None
