"""URLs lose their user info (an endpoint's password) in every message."""

import pytest

from corrupter.io.redact import redact_urls


@pytest.mark.parametrize("text, expected", [
    ("http://user:PASS@host:9000/b/k", "http://***@host:9000/b/k"),
    ('Could not connect to the endpoint URL: "https://u:p@w@s3.example:443/bucket/key"',
     'Could not connect to the endpoint URL: "https://***@s3.example:443/bucket/key"'),
    ("a http://u:1@h/x and http://v:2@g?q=1", "a http://***@h/x and http://***@g?q=1"),
    ("http://host:9000/no-user@in-path", "http://host:9000/no-user@in-path"),
    ("s3://bucket/key@v1 and mail@example.org", "s3://bucket/key@v1 and mail@example.org"),
])
def test_user_info_is_redacted_and_nothing_else(text, expected):
    assert redact_urls(text) == expected
