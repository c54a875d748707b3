"""Load a raw-frame recording as a ``Dataset``: a single ``recorder.frames`` JSONL file
(optionally ``.gz``), or a ``clobflow record`` folder (``raw/…`` files + ``markets/`` log).

Only Polymarket market-channel frames are kept; other venues/channels are skipped. Markets come
from, in order of preference:

1. the markets the recording declares: ``markets.json`` next to the frames file (a JSON list of
   Gamma market dicts, as written by ``clobflow.sim.datasets.convert``), or a recorder folder's
   market log (every market discovery followed, with its window and fees);
2. ``new_market`` frames (ids, outcomes, slug, question, tick);
3. ``book`` frames: the tokens seen per condition id, first seen = YES/"Yes" (a guess: a book
   frame does not say which outcome it is). A condition id with other than two tokens yields no
   market (its frames still replay).

``market_resolved`` frames give the resolutions. Frames must be in receive order (as the
recorder writes them); they are not re-sorted.
"""

from __future__ import annotations

import json
from pathlib import Path

import msgspec

from clobflow.core.markets import BinaryMarket, OutcomeToken
from clobflow.core.numbers import NumberFormatError, parse_micros
from clobflow.recorder.frames import RawFrame, read_frames
from clobflow.sim.datasets.base import Dataset, Resolution
from clobflow.sim.datasets.gamma import market_from_gamma

MARKETS_FILE = "markets.json"
FRAMES_FILE = "frames.jsonl.gz"


def _events(text: str) -> list[dict]:
    try:
        obj = msgspec.json.decode(text)
    except msgspec.DecodeError:
        return []  # PONG and other plain-text frames
    items = obj if isinstance(obj, list) else [obj]
    return [e for e in items if isinstance(e, dict)]


def _tick(value: object) -> int | None:
    try:
        return parse_micros(str(value)) if value not in (None, "") else None
    except NumberFormatError:
        return None


def load(path: str | Path, *, name: str | None = None) -> Dataset:
    """Load a raw-frame file, or a directory holding ``frames.jsonl.gz`` (+ ``markets.json``).

    Raises:
        FileNotFoundError: nothing at ``path``.
        msgspec.DecodeError / ValidationError: a line is not a ``RawFrame``.
    """
    path = Path(path)
    if path.is_dir() and (path / "raw").is_dir():
        return load_recording(path, name=name)
    if path.is_dir():
        path = path / FRAMES_FILE
    if not path.exists():
        raise FileNotFoundError(str(path))
    frames: list[RawFrame] = [
        fr for fr in read_frames(path) if fr.venue == "polymarket" and fr.channel == "market"
    ]
    declared: list[BinaryMarket] = []
    markets_json = path.parent / MARKETS_FILE
    if markets_json.exists():
        declared = [market_from_gamma(d) for d in json.loads(markets_json.read_text())]
    return from_frames(frames, declared, name=name or path.name, description=f"raw-frame recording {path}")


def load_recording(root: str | Path, *, name: str | None = None, start_ns: int | None = None,
                   end_ns: int | None = None) -> Dataset:
    """A ``clobflow record`` folder: its Polymarket market-channel frames (receive order, across
    rotated files) and the markets its discovery followed (the market log)."""
    from clobflow.recorder.markets_log import read_markets
    from clobflow.recorder.raw_writer import iter_raw

    root = Path(root)
    frames = list(iter_raw(root, venue="polymarket", channel="market", start_ns=start_ns, end_ns=end_ns))
    declared = list(read_markets(root, "polymarket").values())
    return from_frames(frames, declared, name=name or root.name, description=f"clobflow recording {root}")


def from_frames(frames: list[RawFrame], declared: list[BinaryMarket], *, name: str, description: str) -> Dataset:
    """Markets and resolutions from frames, preferring ``declared`` markets (see module doc)."""
    announced: dict[str, BinaryMarket] = {}
    tokens: dict[str, list[str]] = {}
    ticks: dict[str, int] = {}
    resolutions: dict[str, Resolution] = {}
    for fr in frames:
        for ev in _events(fr.frame):
            et = ev.get("event_type")
            if et == "book":
                cid, asset = ev.get("market", ""), ev.get("asset_id", "")
                seen = tokens.setdefault(cid, [])
                if asset and asset not in seen:
                    seen.append(asset)
                t = _tick(ev.get("tick_size"))
                if t is not None:
                    ticks.setdefault(cid, t)
            elif et == "new_market":
                ids = ev.get("assets_ids") or ev.get("clob_token_ids") or []
                outs = ev.get("outcomes") or ["Yes", "No"]
                cid = ev.get("market") or ev.get("condition_id", "")
                if len(ids) == 2 and len(outs) == 2 and cid not in announced:
                    announced[cid] = BinaryMarket(
                        condition_id=cid,
                        slug=ev.get("slug", ""),
                        question=ev.get("question", ""),
                        yes=OutcomeToken(ids[0], outs[0]),
                        no=OutcomeToken(ids[1], outs[1]),
                        tick_size=_tick(ev.get("order_price_min_tick_size")) or 10_000,
                        min_order_size=5_000_000,
                        market_id=str(ev.get("id", "")),
                        event_slug=(ev.get("event_message") or {}).get("slug", ""),
                        tags=tuple(ev.get("tags") or ()),
                    )
            elif et == "market_resolved":
                cid = ev.get("market", "")
                resolutions[cid] = Resolution(
                    cid, ev.get("winning_asset_id", ""), ev.get("winning_outcome", ""), fr.ts_recv_ns
                )

    markets = list(declared)
    known = {m.condition_id for m in markets}
    for cid, m in announced.items():
        if cid not in known:
            markets.append(m)
            known.add(cid)
    for cid, ids in tokens.items():
        if cid in known or len(ids) != 2:
            continue
        markets.append(
            BinaryMarket(
                condition_id=cid,
                slug="",
                question="",
                yes=OutcomeToken(ids[0], "Yes"),
                no=OutcomeToken(ids[1], "No"),
                tick_size=ticks.get(cid, 10_000),
                min_order_size=5_000_000,
            )
        )
    return Dataset(
        name=name,
        markets=markets,
        frames=frames,
        resolutions=resolutions,
        description=description,
    )
