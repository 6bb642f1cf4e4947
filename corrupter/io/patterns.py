"""Brace patterns of input shards (``val-{000000..000049}.tar``), counted before they are expanded.

braceexpand materialises every range it expands, so ``{0..9999999}`` costs gigabytes before a
single name is checked; count_names walks braceexpand's grammar and multiplies instead.
"""

from __future__ import annotations

import braceexpand

from .limits import MAX_SHARDS


def _expression_count(expr: str) -> int:
    """Names one ``{...}`` body gives, as braceexpand.parse_expression reads it."""
    match = braceexpand.int_range_re.match(expr)
    if match:
        start, end, step = match.groups()
        step = (int(step) or 1) if step else 1
        start, end = int(start), int(end)
        return len(range(start, end + 1, step) if start < end else range(start, end - 1, -step))
    match = braceexpand.char_range_re.match(expr)
    if match:
        return len(braceexpand.make_char_range(*match.groups()))
    parts = _split_top_level_commas(expr)
    if parts is None:  # not a sequence: the braces are literal
        return count_names(expr)
    return sum(count_names(part) for part in parts)


def _split_top_level_commas(seq: str) -> list[str] | None:
    """braceexpand.parse_sequence's split; None where it finds no sequence."""
    parts, start, pos, depth = [], 0, 0, 0
    while pos < len(seq):
        if seq[pos] == "\\":
            pos += 2
            continue
        if seq[pos] == "{":
            depth += 1
        elif seq[pos] == "}":
            depth -= 1
        elif seq[pos] == "," and depth == 0:
            parts.append(seq[start:pos])
            start = pos + 1
        pos += 1
    if depth != 0 or not parts:
        return None
    return parts + [seq[start:]]


def count_names(pattern: str) -> int:
    """How many names ``braceexpand.braceexpand(pattern)`` yields, without making them."""
    count, start, pos, depth = 1, 0, 0, 0
    while pos < len(pattern):
        if pattern[pos] == "\\":
            pos += 2
            continue
        if pattern[pos] == "{":
            if depth == 0:
                start = pos
            depth += 1
        elif pattern[pos] == "}":
            depth -= 1
            if depth == 0:
                count *= _expression_count(pattern[start + 1:pos])
        pos += 1
    if depth != 0:
        raise braceexpand.UnbalancedBracesError(f"Unbalanced braces: '{pattern}'")
    return count


def check_shard_patterns(patterns: str | list[str], limit: int = MAX_SHARDS) -> int:
    """The number of shards the patterns name; ValueError if over ``limit`` or unbalanced."""
    total = 0
    for item in [patterns] if isinstance(patterns, str) else patterns:
        try:
            names = count_names(item)
        except braceexpand.UnbalancedBracesError:
            raise ValueError(f"unbalanced braces in {item[:200]!r}") from None
        except RecursionError:
            raise ValueError(f"braces nested too deeply in {item[:200]!r}") from None
        total += names
        if total > limit:
            raise ValueError(f"names more than {limit:,} shards, the limit ({item[:200]!r} "
                             f"alone gives {names:,})")
    return total


def expand_shard_patterns(patterns: str | list[str], limit: int = MAX_SHARDS) -> list[str]:
    """Brace patterns to an ordered list of shard URIs, refused before expansion if over ``limit``."""
    check_shard_patterns(patterns, limit)
    items = [patterns] if isinstance(patterns, str) else list(patterns)
    return [name for item in items for name in braceexpand.braceexpand(item)]
