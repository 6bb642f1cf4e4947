"""What every record of a release read back from storage is built on: typed, closed, never coerced."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

Count = Annotated[int, Field(ge=0)]
Sha256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]


class Closed(BaseModel):
    """Every field typed, nothing extra, nothing coerced (``"3"`` is not a count), immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)
