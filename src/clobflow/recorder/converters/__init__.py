"""Dataset converters: bundled third-party recordings -> the recorder's normalised tables (always)
and raw frames (where the data allows it).

Map:

- ``CONVERTERS``: dataset name -> ``iter_rows(directory)`` yielding ``(table, row)`` pairs in a
  deterministic order (one module per dataset; each module's docstring lists every assumption,
  and data/CONVERSIONS.md summarises them).
- ``convert_to_sink(name, sink, *, data_dir=None)``: write one dataset into any ``TableSink``
  (batched per table), returning ``{table: rows written}``.
- ``convert_all(sink, *, data_dir=None)``: every registered dataset, ``{name: {table: rows}}``.
- ``raw_frames(name, *, data_dir=None)``: the dataset as ``RawFrame``s where that exists
  (the two datasets the simulator already renders as market-channel frames); otherwise
  ``RawFramesUnavailable`` whose message is the reason (``RAW_FRAMES`` lists them all).

``data_dir`` defaults to ``clobflow.sim.datasets.data_dir()`` (``$CLOBFLOW_DATA_DIR``, read at
call time, else the repo's ``data/``); a dataset lives in ``<data_dir>/<name>/``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import msgspec

from clobflow.recorder.converters import (
    binance_klines,
    kalshi_btc15m,
    pm_btc1h,
    pm_btc5m,
    pm_btc15m,
    pm_trades_wallets,
    xvenue,
)
from clobflow.recorder.converters.common import Rows
from clobflow.recorder.frames import RawFrame
from clobflow.recorder.sink import TableSink

__all__ = [
    "CONVERTERS",
    "RAW_FRAMES",
    "RawFramesUnavailable",
    "convert_all",
    "convert_to_sink",
    "dataset_dir",
    "iter_rows",
    "raw_frames",
]

CONVERTERS: dict[str, Callable[[Path], Rows]] = {
    pm_trades_wallets.NAME: pm_trades_wallets.iter_rows,
    pm_btc15m.NAME: pm_btc15m.iter_rows,
    pm_btc1h.NAME: pm_btc1h.iter_rows,
    pm_btc5m.NAME: pm_btc5m.iter_rows,
    kalshi_btc15m.NAME: kalshi_btc15m.iter_rows,
    xvenue.NAME: xvenue.iter_rows,
    binance_klines.NAME: binance_klines.iter_rows,
}
"""Registered dataset name -> ``iter_rows(directory) -> Iterator[(table, row)]``."""

RAW_FRAMES: dict[str, str] = {
    pm_btc15m.NAME: "yes: the simulator's market-channel frames (clobflow.sim.datasets)",
    pm_btc1h.NAME: "yes: the simulator's market-channel frames (clobflow.sim.datasets)",
    pm_trades_wallets.NAME: "no: REST trade history; frames would drop wallets and tx hashes "
    "and need invented token ids",
    pm_btc5m.NAME: "no: the day's market-channel files were not in the snapshot; only metadata "
    "and the Chainlink feed remain",
    kalshi_btc15m.NAME: "no: REST quotes polled every 30-60 s without sizes; stream frames "
    "would be invented",
    xvenue.NAME: "no: the recorder's flattened rows (BBO-only book rows, no condition ids, "
    "hashes, sid or seq; three Kalshi recorder versions)",
    binance_klines.NAME: "no: REST klines, not @trade stream messages",
}
"""Dataset name -> whether raw frames exist for it, and why (not)."""

BATCH_ROWS = 50_000


class RawFramesUnavailable(LookupError):
    """The dataset has no raw-frame form; the message says why."""


def dataset_dir(name: str, data_dir: str | Path | None = None) -> Path:
    """``<data_dir>/<name>`` for a registered dataset.

    Raises:
        KeyError: ``name`` is not registered (the message lists the names).
        FileNotFoundError: the directory does not exist.
    """
    if name not in CONVERTERS:
        raise KeyError(f"unknown dataset {name!r}: not one of {', '.join(sorted(CONVERTERS))}")
    if data_dir is None:
        from clobflow.sim.datasets import data_dir as default_data_dir

        data_dir = default_data_dir()
    directory = Path(data_dir) / name
    if not directory.is_dir():
        raise FileNotFoundError(f"dataset {name!r} not found in {data_dir}")
    return directory


def iter_rows(name: str, *, data_dir: str | Path | None = None) -> Rows:
    """The ``(table, row)`` pairs of a registered dataset (see ``dataset_dir`` for errors)."""
    directory = dataset_dir(name, data_dir)
    return CONVERTERS[name](directory)


def convert_to_sink(
    name: str, sink: TableSink, *, data_dir: str | Path | None = None, batch_rows: int = BATCH_ROWS
) -> dict[str, int]:
    """Convert dataset ``name`` into ``sink``; returns ``{table: rows written}`` (tables with
    at least one row). Calls ``sink.ensure_tables()`` first and writes batches of at most
    ``batch_rows`` rows of one table; a batch is durable when ``write`` returns (TableSink
    contract), so a failure leaves whole batches written and raises.

    Raises:
        KeyError / FileNotFoundError: see ``dataset_dir``; plus whatever the sink raises.
    """
    rows = iter_rows(name, data_dir=data_dir)
    sink.ensure_tables()
    pending: dict[str, list[msgspec.Struct]] = {}
    counts: dict[str, int] = {}
    for table, row in rows:
        batch = pending.setdefault(table, [])
        batch.append(row)
        if len(batch) >= batch_rows:
            sink.write(table, batch)
            counts[table] = counts.get(table, 0) + len(batch)
            pending[table] = []
    for table, batch in pending.items():
        if batch:
            sink.write(table, batch)
            counts[table] = counts.get(table, 0) + len(batch)
    return counts


def convert_all(sink: TableSink, *, data_dir: str | Path | None = None) -> dict[str, dict[str, int]]:
    """Convert every registered dataset (registry order) into ``sink``:
    ``{name: {table: rows written}}``.

    Raises:
        FileNotFoundError: a registered dataset is missing from ``data_dir``.
    """
    return {name: convert_to_sink(name, sink, data_dir=data_dir) for name in CONVERTERS}


def raw_frames(name: str, *, data_dir: str | Path | None = None) -> list[RawFrame]:
    """The dataset as raw frames (receive order), where ``RAW_FRAMES`` says they exist.

    Raises:
        RawFramesUnavailable: the dataset has no raw-frame form (message = reason).
        KeyError / FileNotFoundError: see ``dataset_dir``.
    """
    directory = dataset_dir(name, data_dir)
    from clobflow.sim.datasets import DATASETS

    conv = DATASETS.get(name)
    if conv is None:
        raise RawFramesUnavailable(f"{name}: {RAW_FRAMES.get(name, 'no raw-frame form')}")
    return conv(directory).frames
