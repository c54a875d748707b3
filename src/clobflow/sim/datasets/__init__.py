"""Bundled real recordings as replayable market-channel frames, plus the dataset registry.

- ``load_dataset(name_or_path)``: a registered name (``pm-btc1h-l2-1s``, ``pm-btc15m-tob-1s``),
  converted in memory from the repo's ``data/`` folder, or a raw-frame recording (file or
  directory) loaded as is.
- ``convert(name_or_path, out_dir)``: write a dataset in the recorder's format
  (``out_dir/frames.jsonl.gz`` + ``out_dir/markets.json``), loadable again by ``load_dataset``.
- ``data_dir()``: where the bundled data lives: ``$CLOBFLOW_DATA_DIR`` if set (read at call
  time), else ``<repo>/data`` found relative to the installed package.

Every assumption the converters make is listed in their module docstrings and in
data/CONVERSIONS.md.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import clobflow
from clobflow.recorder.frames import write_frames
from clobflow.sim.datasets import btc1h, btc15m, rawfile
from clobflow.sim.datasets.base import Dataset, Resolution
from clobflow.sim.datasets.gamma import gamma_event, gamma_market, market_from_gamma

__all__ = [
    "DATASETS",
    "Dataset",
    "Resolution",
    "convert",
    "data_dir",
    "gamma_event",
    "gamma_market",
    "load_dataset",
    "market_from_gamma",
]

DATASETS: dict[str, Callable[..., Dataset]] = {
    btc1h.NAME: btc1h.convert,
    btc15m.NAME: btc15m.convert,
}
"""Registered dataset names -> converter ``(directory, *, limit_markets=None) -> Dataset``."""


def data_dir() -> Path:
    """The directory holding the bundled recordings (``$CLOBFLOW_DATA_DIR`` overrides)."""
    env = os.environ.get("CLOBFLOW_DATA_DIR")
    if env:
        return Path(env)
    return Path(clobflow.__file__).resolve().parents[2] / "data"


def load_dataset(name_or_path: str | Path, *, limit_markets: int | None = None) -> Dataset:
    """A registered dataset converted from ``data_dir()/<name>``, or a raw-frame recording.

    ``limit_markets`` keeps only the first N markets of a registered dataset (quick tests).

    Raises:
        KeyError: ``name_or_path`` is neither a registered name nor an existing path (the
            message lists the registered names).
        FileNotFoundError: a registered dataset's files are missing from ``data_dir()``.
    """
    key = str(name_or_path)
    conv = DATASETS.get(key)
    if conv is not None:
        directory = data_dir() / key
        if not directory.is_dir():
            raise FileNotFoundError(f"dataset {key!r} not found in {data_dir()}")
        return conv(directory, limit_markets=limit_markets)
    path = Path(name_or_path).expanduser()
    if path.exists():
        return rawfile.load(path)
    raise KeyError(
        f"unknown dataset {key!r}: not one of {', '.join(sorted(DATASETS))} and not a file"
    )


def convert(name_or_path: str | Path, out_dir: str | Path) -> tuple[Path, Path]:
    """Write a dataset as ``out_dir/frames.jsonl.gz`` + ``out_dir/markets.json``.

    ``markets.json`` is a JSON list of Gamma-shaped market dicts as they were when the
    recording started (open, not resolved). Returns the two paths.
    """
    ds = load_dataset(name_or_path)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    frames_path = out / rawfile.FRAMES_FILE
    markets_path = out / rawfile.MARKETS_FILE
    write_frames(frames_path, ds.frames)
    markets_path.write_text(json.dumps([gamma_market(m) for m in ds.markets], indent=1) + "\n")
    return frames_path, markets_path
