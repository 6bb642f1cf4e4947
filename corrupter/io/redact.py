"""Secrets out of what the tool prints or records: the user info of URLs (``http://user:pass@host``).

An S3 endpoint may carry a password in its URL; every message that names an endpoint, and every
error text that might quote one (botocore's "Could not connect to the endpoint URL: ..."), goes
through here first.
"""

from __future__ import annotations

import re

# scheme://USERINFO@ ; the user info runs to the last "@" before the path (passwords may hold "@")
_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)[^/?#\s]*@")


def redact_urls(text: str) -> str:
    """``text`` with the user info of every URL in it replaced by ``***``."""
    return _USERINFO.sub(r"\g<scheme>***@", text)


def refuse_userinfo(uri: str, what: str) -> str:
    """``uri`` if it carries no user info; else ValueError, naming it redacted. A release's location
    holds no credentials (S3 reads them from the environment), and a library quoting a part of such
    a URI (botocore's "Invalid bucket name \"user:pass@bucket\"") would print them."""
    if _USERINFO.match(uri):
        raise ValueError(f"{what} {redact_urls(uri)} holds user info (user:password@): credentials never go "
                         f"in a location; S3 takes them from the environment (AWS_ACCESS_KEY_ID, ...)")
    return uri
