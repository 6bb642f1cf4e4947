"""``card:``, what only the release's author knows: its title, description, authors, the license its
images inherit from the input, how to cite the source data, a homepage. They go into the dataset card
(README.md) and CITATION.cff written with the release; a field left out is said to be missing there,
never invented.

Every value lands in a YAML header or a Markdown body, so each is bounded and checked: one-line
fields refuse line breaks and control characters (no way to end the card's YAML header and start
another key), the license is a Hugging Face license identifier, the links are http(s) URLs.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator

MAX_LINE = 200  # title, an author, license_name
MAX_URL = 2000
MAX_TEXT = 10_000  # description, source_citation
MAX_AUTHORS = 100

# Not one line of printable YAML text: C0 and C1 controls, DEL, the Unicode line breaks, lone
# surrogates and the non-characters YAML refuses.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff\ufffe\uffff]")
_TEXT_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff\ufffe\uffff]")  # \t \n allowed
_LICENSE = re.compile(r"[a-z0-9][a-z0-9.+-]{0,63}")  # Hugging Face's ids: cc0-1.0, cc-by-nc-4.0, other, unknown
_URL = re.compile(r"https?://[^\s<>\"'`]+")


def _one_line(value: str, field: str) -> str:
    if not value.strip():
        raise ValueError(f"{field} is empty (leave it out instead)")
    if len(value) > MAX_LINE:
        raise ValueError(f"{field} has {len(value)} characters; the limit is {MAX_LINE}")
    if _CONTROL.search(value):
        raise ValueError(f"{field} must be one line of text: no line breaks or control characters "
                         f"(it goes into the card's YAML header)")
    return value


def _text(value: str, field: str) -> str:
    if not value.strip():
        raise ValueError(f"{field} is empty (leave it out instead)")
    if len(value) > MAX_TEXT:
        raise ValueError(f"{field} has {len(value)} characters; the limit is {MAX_TEXT}")
    if _TEXT_CONTROL.search(value.replace("\r\n", "\n")):
        raise ValueError(f"{field} holds control characters (only line breaks and tabs are allowed)")
    if "```" in value or "~~~" in value:
        raise ValueError(f"{field} may not hold a Markdown code fence (``` or ~~~): the card quotes it in one")
    return value.replace("\r\n", "\n")


def _url(value: str, field: str) -> str:
    if len(value) > MAX_URL or not _URL.fullmatch(value):
        raise ValueError(f"{field} {value[:80]!r} is not an http(s) URL of at most {MAX_URL} characters "
                         f"without spaces or quotes")
    return value


class CardConfig(BaseModel):
    """What the dataset card says that the config cannot know. Every field is optional."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    title: str | None = Field(None, description="one line; default: 'NAME VERSION'")
    description: str | None = Field(None, description="what the release is for (Markdown, several lines)")
    authors: list[str] = Field(default_factory=list, max_length=MAX_AUTHORS,
                               description="names of the people or the organisation who made the release")
    license: str = Field("unknown", description="Hugging Face license id of the IMAGES, which they inherit "
                         "from the input: 'other' with license_name/license_link for terms such as "
                         "ImageNet's; 'unknown' (the default) says it was not given")
    license_name: str | None = Field(None, description="the input's terms when license is 'other', e.g. "
                                     "'ImageNet terms of access'")
    license_link: str | None = Field(None, description="where the input's terms are written")
    metadata_license: str | None = Field(None, description="license of the card and metadata files "
                                         "(e.g. cc0-1.0); the images keep the input's terms")
    source_citation: str | None = Field(None, description="how to cite the source data (BibTeX or text)")
    homepage: str | None = Field(None, description="http(s) URL of the release's page")

    @field_validator("title", "license_name")
    @classmethod
    def _line(cls, value: str | None, info) -> str | None:  # noqa: ANN001
        return None if value is None else _one_line(value, f"card.{info.field_name}")

    @field_validator("authors")
    @classmethod
    def _authors(cls, value: list[str]) -> list[str]:
        for index, author in enumerate(value):
            _one_line(author, f"card.authors.{index}")
        if len(set(value)) != len(value):
            raise ValueError("card.authors lists a name twice")
        return value

    @field_validator("description", "source_citation")
    @classmethod
    def _multi_line(cls, value: str | None, info) -> str | None:  # noqa: ANN001
        return None if value is None else _text(value, f"card.{info.field_name}")

    @field_validator("license", "metadata_license")
    @classmethod
    def _license_id(cls, value: str | None, info) -> str | None:  # noqa: ANN001
        if value is not None and not _LICENSE.fullmatch(value):
            raise ValueError(f"card.{info.field_name} {value[:80]!r} is not a license identifier as the Hugging "
                             f"Face hub lists them (lower case, e.g. cc0-1.0, cc-by-4.0, other, unknown)")
        return value

    @field_validator("license_link", "homepage")
    @classmethod
    def _link(cls, value: str | None, info) -> str | None:  # noqa: ANN001
        return None if value is None else _url(value, f"card.{info.field_name}")
