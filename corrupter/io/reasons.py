"""Why a sample or a shard was set aside, as the manifest records it: the same text on every run.

Exception messages may carry memory addresses (PIL names an in-memory file "<_io.BytesIO object at
0x7f...>", a repr says "<... at 0x55d0...>"); a reason that changes from run to run would change the
manifest's bytes, so every reason is recorded through ``stable_reason``.
"""

from __future__ import annotations

import re

_OBJECT_AT = re.compile(r" ?<[^<>]* at 0x[0-9a-fA-F]+>")  # a repr with its address: cut whole
_ADDRESS = re.compile(r"\b0x[0-9a-fA-F]{8,}\b")  # any other pointer-sized hex number


def stable_reason(text: str) -> str:
    """``text`` without memory addresses: object reprs that carry one are cut, a bare address is
    replaced by ``0x...``."""
    return _ADDRESS.sub("0x...", _OBJECT_AT.sub("", text))


def error_reason(exc: BaseException) -> str:
    """``Type: message`` of an exception, stable."""
    return stable_reason(f"{type(exc).__name__}: {exc}")
