"""Credential redaction (``core.redact``): URLs, secret-looking names, env values."""

from __future__ import annotations

import pytest

from clobflow.core.redact import MASK, Redactor, is_secret_name, redact_url, secret_values


@pytest.mark.parametrize("url, shown", [
    ("postgresql://postgres:pw-123456@127.0.0.1:5432/test?options=-csearch_path%3Dt_x",
     "postgresql://postgres:***@127.0.0.1:5432/test?options=-csearch_path%3Dt_x"),
    ("postgresql://postgres@127.0.0.1:5432/test", "postgresql://postgres@127.0.0.1:5432/test"),
    ("redis://:pw123456@h:6379/0", "redis://:***@h:6379/0"),
    ("wss://x/ws?apikey=abc&token=def&x=1", "wss://x/ws?apikey=***&token=***&x=1"),
    ("not a url", "not a url"),
])
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_names() -> None:
    for name in ("POLYMARKET_API_KEY", "api_secret", "PASSPHRASE", "PGPASSWORD", "access_token", "key", "sig"):
        assert is_secret_name(name), name
    for name in ("token_ids", "store_url", "max_spread", "passive", "keywords", "market"):
        assert not is_secret_name(name), name


def test_text_and_objects_lose_every_secret() -> None:
    env = {"POLY_API_KEY": "abcdefgh", "PATH": "/usr/bin", "DATABASE_URL": "postgresql://u:verysecret@h/db", "X": "1"}
    assert secret_values(env) == ["verysecret", "abcdefgh"]
    r = Redactor(secret_values(env))
    line = "key abcdefgh failed at postgresql://u:other-pw@h/db (verysecret)"
    assert r.text(line) == f"key {MASK} failed at postgresql://u:{MASK}@h/db ({MASK})"
    obj = {"engine": {"store_url": "postgresql://u:pw1234567@h/db"}, "api_key": "zzz", "token_ids": ["1"], "n": 3}
    assert r.obj(obj) == {"engine": {"store_url": f"postgresql://u:{MASK}@h/db"}, "api_key": MASK,
                          "token_ids": ["1"], "n": 3}
