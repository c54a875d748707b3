"""Typed config sections from plain mappings (parsed YAML/TOML), with errors that name the key.

``convert_section(data, cls, section)`` turns a mapping into the frozen msgspec Struct ``cls``.
Unknown keys, wrong types and values its ``__post_init__`` refuses all raise ``ConfigError``
whose key is the full dotted path (``risk.max_positions``, ``strategies[0].min_imbalance``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any, TypeVar

import msgspec

from clobflow.core.errors import ConfigError

T = TypeVar("T")

_PATH = re.compile(r"at `\$((?:\.[A-Za-z_]\w*|\[\d+\])*)`")
_UNKNOWN = re.compile(r"unknown field `([^`]+)`")


def key_of(exc: msgspec.ValidationError, section: str = "") -> str:
    """The dotted key path a msgspec validation error points at, under ``section``."""
    msg = str(exc)
    m = _PATH.search(msg)
    path = m.group(1).lstrip(".") if m else ""
    u = _UNKNOWN.search(msg)
    if u:
        path = f"{path}.{u.group(1)}" if path else u.group(1)
    if section and path:
        return f"{section}.{path}" if not path.startswith("[") else f"{section}{path}"
    return path or section


def convert_section(data: Any, cls: type[T], section: str) -> T:
    """Validate ``data`` into ``cls``; raises ``ConfigError`` naming ``section.key``."""
    if not isinstance(data, Mapping):
        raise ConfigError(section, f"must be a table, got {type(data).__name__}")
    try:
        return msgspec.convert(dict(data), cls)
    except ConfigError as exc:
        raise ConfigError(f"{section}.{exc.key}" if section else exc.key, exc.message) from None
    except msgspec.ValidationError as exc:
        raise ConfigError(key_of(exc, section), str(exc).split(" - at ")[0]) from None


def is_finite_number(v: object) -> bool:
    """An int or a finite float, not a bool (YAML ``true`` is not a number of dollars)."""
    return not isinstance(v, bool) and isinstance(v, (int, float)) and math.isfinite(v)
