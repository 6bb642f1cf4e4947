"""Release versions are semantic versions (semver.org 2.0.0), so a catalogue can say which is latest.

``1.0.0``, ``1.1.0-rc.1``: MAJOR.MINOR.PATCH, optionally ``-`` and dot-separated pre-release
identifiers. Build metadata (``+build.5``) is refused: the version becomes a path (a ``+`` in an S3
key is read as a space by some tools), and semver ignores it when ordering, so two versions that
differ only there would tie for latest. PEP 440 (``packaging.Version``) is a different scheme
(``1.0rc1``) and is not used.
"""

from __future__ import annotations

import re

# semver.org's regular expression, without the build-metadata group
_NUMBER = r"0|[1-9]\d*"
_IDENTIFIER = rf"(?:{_NUMBER}|\d*[a-zA-Z-][0-9a-zA-Z-]*)"
SEMVER = re.compile(rf"(?P<major>{_NUMBER})\.(?P<minor>{_NUMBER})\.(?P<patch>{_NUMBER})"
                    rf"(?:-(?P<prerelease>{_IDENTIFIER}(?:\.{_IDENTIFIER})*))?")


def check_semver(value: str, what: str = "version") -> str:
    """``value`` if it is a semantic version; ValueError naming ``what`` otherwise."""
    if not isinstance(value, str) or not SEMVER.fullmatch(value):
        hint = " (build metadata after '+' is not allowed: the version becomes a path)" if "+" in str(value) else ""
        raise ValueError(f"{what} {str(value)[:120]!r} is not a semantic version: MAJOR.MINOR.PATCH with an "
                         f"optional pre-release, e.g. 1.0.0 or 1.1.0-rc.1 (semver.org){hint}")
    return value


def semver_key(value: str) -> tuple:
    """Sort key in semver precedence: numbers compare as numbers, a pre-release is below its release
    (1.0.0-rc.1 < 1.0.0), numeric identifiers below alphanumeric ones, a longer pre-release above
    its prefix (1.0.0-alpha < 1.0.0-alpha.1)."""
    match = SEMVER.fullmatch(check_semver(value))
    assert match is not None
    core = (int(match["major"]), int(match["minor"]), int(match["patch"]))
    if match["prerelease"] is None:
        return (*core, 1, ())
    ids = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in match["prerelease"].split("."))
    return (*core, 0, ids)
