"""Converter for ``data/kalshi-polymarket-xvenue``: the NBA 2025-26 MVP markets of three players
recorded on both Polymarket and Kalshi, plus Kalshi's Super Bowl LX 1 Hz BBO.

Source (see SOURCE.md there): ``Polymarket_<Player>_<YES|NO>.csv.gz`` (market-channel events of
one token), ``Kalshi_<Player>.csv.gz`` (``orderbook_delta`` events of one market),
``Kalshi_Luka_{YES,NO}.csv.gz`` (an earlier one-ladder-per-file format) and
``kalshi_KXSB-26_superbowl_bbo_1s_20260208.csv.gz``. Players: Jokic, Luka, Shai.

Output (rules in ``xvenue_polymarket`` and ``xvenue_kalshi``):

- ``orderbook_snapshots``: top-of-book ``BookSnapshotRow`` (one level per side) per venue
  message: Polymarket per token file, Kalshi as the market's two-sided YES book.
- ``trades``: every ``last_trade_price`` row of both venues (no wallets).

**Market ids**

| venue | player | market | asset_id (YES / NO) |
|---|---|---|---|
| polymarket | Jokic / Luka / Shai | ``"0x" + sha256("nba-mvp-2025-26-<player lower>")`` -- DERIVED, the real condition ids were not recorded | real token ids, ``xvenue_polymarket.TOKENS`` |
| kalshi | Jokic | ``KXNBAMVP-26-NJOK`` (real) | ``KXNBAMVP-26-NJOK:yes`` |
| kalshi | Luka | ``KXNBAMVP-26-LDON`` (real) | ``KXNBAMVP-26-LDON:yes`` |
| kalshi | Shai | ``KXNBAMVP-26-SGIL`` (real) | ``KXNBAMVP-26-SGIL:yes`` |
| kalshi | Super Bowl | ``KXSB-26-NE``, ``KXSB-26-SEA`` (real) | ``<ticker>:yes`` |

No ``market_windows`` rows: these are not time windows, and no outcome or market metadata was
recorded (the ids above are the whole of it).

**Raw frames: none.** The files are the recorder's flattening of venue messages, not the
messages: Polymarket ``book`` messages kept only their best level per side (replaying them as
``book`` frames would claim a one-level book), condition ids and hashes are missing; the Kalshi
files mix three recorder versions with converted prices and no ``sid``/``seq``, and the Super
Bowl file is a 1 Hz BBO sample, not a stream.
"""

from __future__ import annotations

from pathlib import Path

from clobflow.recorder.converters import xvenue_kalshi, xvenue_polymarket
from clobflow.recorder.converters.common import Rows

NAME = "kalshi-polymarket-xvenue"


def iter_rows(directory: Path) -> Rows:
    """Polymarket rows (per file: snapshots, then trades), then Kalshi rows.

    Raises:
        FileNotFoundError: a source file is missing.
    """
    yield from xvenue_polymarket.iter_rows(Path(directory))
    yield from xvenue_kalshi.iter_rows(Path(directory))
