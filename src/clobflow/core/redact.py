"""Credential redaction: the one place that knows what a secret looks like.

Secrets come from the environment or sit inside URLs (``postgresql://user:PASSWORD@host/db``,
``wss://host/ws?token=...``); they must never reach the store, a log line, a journal or a report
(DESIGN §3.9). Everything that writes text a user or a database keeps passes it through here:

- ``redact_url(url)``: the password of ``user:pass@`` and the value of every query parameter
  whose name looks secret (``SECRET_NAME``: token, key, secret, password, signature,
  credential, auth, passphrase, ...) become ``***``; the rest stays readable;
- ``Redactor(secrets)``: ``text(s)`` redacts every URL inside ``s`` and every known secret
  value (e.g. from ``secret_values(os.environ)``); ``obj(value)`` walks JSON-like data: a value
  under a secret-looking key becomes ``***``, strings are redacted as text;
- ``secret_values(env)``: the values of the environment variables whose names look secret
  (``POLYMARKET_API_KEY``, ``CLOBFLOW_PASSPHRASE``, ``PGPASSWORD``...), for ``Redactor``.

Pure: the caller hands the environment in (core never reads it). Values shorter than
``MIN_SECRET_LEN`` are not treated as secrets (redacting "1" everywhere would destroy the text).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

MASK = "***"
MIN_SECRET_LEN = 6

SECRET_NAME = re.compile(
    r"(pass(word|wd|phrase)|^pass$|pwd|secret|token$|api[_-]?key|apikey|access[_-]?key|private[_-]?key|"
    r"(^|[_-])key$|signature|sig$|credential|auth|cookie|session)",
    re.IGNORECASE,
)
"""A name (env var, query parameter, JSON key) whose value is a secret. ``key`` and ``token``
alone or as a suffix count (``key``, ``api_key``, ``POLY_KEY``, ``access_token``), not as a
prefix (``token_ids``); a false positive only costs readability, never a leak."""

_URL = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\"<>]+")
_USERINFO_PW = re.compile(r"^([^:@/]*):([^@]*)@")


def is_secret_name(name: str) -> bool:
    return bool(SECRET_NAME.search(name))


def redact_url(url: str) -> str:
    """``url`` with its password and secret-looking query values replaced by ``***``. A string
    that is not a URL comes back unchanged."""
    if "://" not in url:
        return url
    try:
        parts = urlsplit(url)
    except ValueError:
        return _USERINFO_PW.sub(rf"\1:{MASK}@", url.split("://", 1)[1]) if "@" in url else url
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, hostport = netloc.rpartition("@")
        if ":" in userinfo:
            userinfo = userinfo.split(":", 1)[0] + ":" + MASK
        netloc = f"{userinfo}@{hostport}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(is_secret_name(k) for k, _ in pairs):
            query = urlencode([(k, MASK if is_secret_name(k) else v) for k, v in pairs], safe="*")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def secret_values(env: Mapping[str, str]) -> list[str]:
    """Values of ``env`` entries whose names look secret (at least ``MIN_SECRET_LEN`` long),
    plus the passwords of URLs found in any entry."""
    out = {v for k, v in env.items() if is_secret_name(k) and len(v) >= MIN_SECRET_LEN}
    for v in env.values():
        for m in _URL.finditer(v):
            netloc = urlsplit(m.group(0)).netloc if "://" in m.group(0) else ""
            userinfo = netloc.rpartition("@")[0]
            if ":" in userinfo and len(pw := userinfo.split(":", 1)[1]) >= MIN_SECRET_LEN:
                out.add(pw)
    return sorted(out, key=len, reverse=True)  # longest first: a secret containing another


class Redactor:
    """Redacts URLs (always) and the given secret values (exact occurrences) from text and
    JSON-like data. Immutable; cheap to build."""

    __slots__ = ("_secrets",)

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets = tuple(sorted({s for s in secrets if len(s) >= MIN_SECRET_LEN}, key=len, reverse=True))

    def text(self, s: str) -> str:
        if "://" in s:
            s = _URL.sub(lambda m: redact_url(m.group(0)), s)
        for secret in self._secrets:
            if secret in s:
                s = s.replace(secret, MASK)
        return s

    def obj(self, value: Any) -> Any:
        """A copy of JSON-like ``value`` (dicts, lists, tuples, scalars) with secrets masked:
        non-empty values under secret-looking keys, and strings redacted as text."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return {k: (MASK if isinstance(k, str) and is_secret_name(k) and value[k] not in (None, "")
                        else self.obj(value[k])) for k in value}
        if isinstance(value, (list, tuple)):
            return [self.obj(v) for v in value]
        return value


def redact_text(s: str, secrets: Iterable[str] = ()) -> str:
    """``Redactor(secrets).text(s)``."""
    return Redactor(secrets).text(s)
