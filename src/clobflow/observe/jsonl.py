"""Reading JSON Lines files that a kill -9 may have torn: the journal, the simulator's ledger."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec


def read_tolerant(path: str | Path, type_: Any) -> tuple[list[Any], int]:
    """The objects of ``type_`` (a msgspec type) on the file's lines, in order, and how many
    lines did not decode (a write torn by a kill; skipped). Blank lines are ignored."""
    dec = msgspec.json.Decoder(type_)
    out: list[Any] = []
    torn = 0
    with open(path, "rb") as f:
        for line in f:
            if line.strip():
                try:
                    out.append(dec.decode(line))
                except msgspec.DecodeError:
                    torn += 1
    return out, torn
