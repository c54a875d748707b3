"""Backtest throughput, clobflow vs NautilusTrader's ``BacktestEngine``, on the same recorded events.

The events: the bundled 15-minute BTC recording (``pm-btc15m-tob-1s``: 66 windows, 132 tokens,
~58k frames), converted to market-channel frames as ``clobflow backtest`` reads them
(``clobflow.sim.datasets.convert``). "Level updates" are counted once, from the frames, the same
for both engines: every level of a ``book`` snapshot plus every ``price_change`` entry.

clobflow: ``engine.backtest.run_backtest`` from the raw frame text (its parser, books with the
venue's integrity checks, kernel, the imbalance strategy of ``config/imbalance.yaml``, simulated
execution with latency, portfolio accounting, settlement, the JSON Lines journal). Measured twice:
without the SQL store (``store=False``: what Nautilus does too) and with it (the default run).

NautilusTrader (``pip install -e '.[bench]'``): one ``BinaryOption`` per token, a simulated venue
with ``BookType.L2_MBP`` (orders match against the book), a cash account, and a strategy
subscribed to every token's ``OrderBookDeltas`` that evaluates the same rule on each update of
either token of a market (top-5 imbalance of the YES book, mid zone, spread, one position per
market, at most ``max_positions`` markets, cooldown, time to close) and sends an IOC limit buy
for ``fixed_size_usd`` at the ask.

What is not equivalent (each favours Nautilus unless said otherwise):
- Nautilus gets pre-built ``OrderBookDeltas`` objects: JSON decoding and decimal parsing are done
  before its clock starts (clobflow's time includes parsing every frame's text).
- No journal: clobflow writes one JSON line per evaluation (a skip with its inputs, or a signal),
  Nautilus records nothing per evaluation.
- No venue integrity check (clobflow compares every ``price_change``'s best bid/ask with its book
  and keeps a trust state per book) and no staleness timer.
- No settlement: binary options do not resolve in its backtest; clobflow settles 65 windows (the
  strategy counts only positions of windows not yet ended towards ``max_positions``, which is
  what a settlement does for clobflow's).
- Latency: clobflow's simulated venue delays orders (50 ms) and reports (20 ms); Nautilus's
  default venue fills at once (no latency model).
- Prices and sizes are floats in Nautilus's strategy (its ``OrderBook`` API), exact integers in
  clobflow.
- Nautilus's own per-event work it does and clobflow does not: message bus, cache, order/position
  events and its risk engine (favours clobflow).

Rates are the median of ``--runs`` runs of each, alternated in one process, by wall time and
by the process's CPU time (steadier on a shared machine); the ratio is clobflow / Nautilus. Run: ``python bench/backtest_vs_nautilus.py [--runs 5]``.
"""

from __future__ import annotations

import argparse
import gc
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import msgspec

from clobflow.engine.backtest import run_backtest
from clobflow.engine.config import load_config
from clobflow.sim.datasets import Dataset, convert, rawfile

ROOT = Path(__file__).resolve().parents[1]
DATASET = "pm-btc15m-tob-1s"
CONFIG = ROOT / "config" / "imbalance.yaml"


def level_updates(ds: Dataset) -> int:
    """Snapshot levels plus ``price_change`` entries in the recording (both engines get these)."""
    n = 0
    for fr in ds.frames:
        for msg in _messages(fr.frame):
            t = msg.get("event_type")
            if t == "book":
                n += len(msg.get("bids", ())) + len(msg.get("asks", ()))
            elif t == "price_change":
                n += len(msg.get("price_changes", ()))
    return n


def _messages(frame: str) -> list[dict[str, Any]]:
    obj = msgspec.json.decode(frame)
    return obj if isinstance(obj, list) else [obj]


def run_clobflow(cfg: Any, ds: Dataset, out: Path, store: bool) -> tuple[float, float, dict[str, int]]:
    """(wall s, process CPU s, kernel counters) of one backtest."""
    gc.collect()
    t, c = time.perf_counter(), time.process_time()
    res = run_backtest(cfg, ds, out, store=store)
    return time.perf_counter() - t, time.process_time() - c, dict(res.kernel.counters)


# -- NautilusTrader ------------------------------------------------------------------------


def nautilus_inputs(ds: Dataset) -> tuple[list[Any], list[Any], list[tuple[Any, Any, int]]]:
    """Instruments (one ``BinaryOption`` per token), the recording as ``OrderBookDeltas`` (one per
    token per frame, ``F_LAST`` on its last delta) and the markets ``(yes id, no id, end_ns)``."""
    from nautilus_trader.model.currencies import USDC
    from nautilus_trader.model.data import BookOrder, OrderBookDelta, OrderBookDeltas
    from nautilus_trader.model.enums import AssetClass, BookAction, OrderSide, RecordFlag
    from nautilus_trader.model.identifiers import InstrumentId, Symbol, Venue
    from nautilus_trader.model.instruments import BinaryOption
    from nautilus_trader.model.objects import Price, Quantity

    venue = Venue("POLYMARKET")
    ids: dict[str, InstrumentId] = {}
    instruments, markets = [], []
    for m in ds.markets:
        pair = []
        for tok in (m.yes, m.no):
            sym = Symbol(f"{m.condition_id}-{tok.token_id}")
            iid = InstrumentId(sym, venue)
            ids[tok.token_id] = iid
            pair.append(iid)
            instruments.append(BinaryOption(
                instrument_id=iid, raw_symbol=sym, outcome=tok.outcome, description=m.question,
                asset_class=AssetClass.ALTERNATIVE, currency=USDC, price_precision=3,
                price_increment=Price.from_str("0.001"), size_precision=2, size_increment=Quantity.from_str("0.01"),
                activation_ns=m.start_ns or 0, expiration_ns=m.end_ns or 0, max_quantity=None,
                min_quantity=Quantity.from_int(5), maker_fee=0, taker_fee=0, ts_event=0, ts_init=0))
        markets.append((pair[0], pair[1], m.end_ns or 0))

    def px(s: str) -> Price:
        return Price(float(s), 3)

    def qty(s: str) -> Quantity:
        return Quantity(float(s), 2)

    data = []
    for fr in ds.frames:
        ts = fr.ts_recv_ns
        for msg in _messages(fr.frame):
            t = msg.get("event_type")
            if t == "book" and msg["asset_id"] in ids:
                iid = ids[msg["asset_id"]]
                rows = [(OrderSide.BUY, lv) for lv in msg["bids"]] + [(OrderSide.SELL, lv) for lv in msg["asks"]]
                deltas = [OrderBookDelta.clear(iid, 0, ts, ts)]
                for i, (side, lv) in enumerate(rows):
                    flags = RecordFlag.F_LAST if i == len(rows) - 1 else 0
                    deltas.append(OrderBookDelta(iid, BookAction.ADD, BookOrder(side, px(lv["price"]), qty(lv["size"]), 0),
                                                 flags, 0, ts, ts))
                data.append(OrderBookDeltas(iid, deltas))
            elif t == "price_change":
                by_token: dict[str, list[dict[str, str]]] = {}
                for ch in msg["price_changes"]:
                    by_token.setdefault(ch["asset_id"], []).append(ch)
                for tok, chs in by_token.items():
                    iid = ids[tok]
                    deltas = []
                    for i, ch in enumerate(chs):
                        q = qty(ch["size"])
                        side = OrderSide.BUY if ch["side"] == "BUY" else OrderSide.SELL
                        deltas.append(OrderBookDelta(
                            iid, BookAction.UPDATE if q.as_double() > 0 else BookAction.DELETE,
                            BookOrder(side, px(ch["price"]), q, 0),
                            RecordFlag.F_LAST if i == len(chs) - 1 else 0, 0, ts, ts))
                    data.append(OrderBookDeltas(iid, deltas))
    return instruments, data, markets


def _nautilus_strategy(markets: list[tuple[Any, Any, int]], c: Any) -> Any:
    from nautilus_trader.config import StrategyConfig
    from nautilus_trader.model.enums import BookType, OrderSide, TimeInForce
    from nautilus_trader.trading.strategy import Strategy

    min_imb, zone_lo, zone_hi = c.min_imbalance, c.yes_price_min, c.yes_price_max
    max_spread, depth, notional = c.max_spread, c.depth_levels, c.fixed_size_usd
    cooldown_ns, min_close_ns = int(c.cooldown_minutes * 60e9), int(c.min_minutes_to_close * 60e9)
    max_positions = c.max_positions

    class ImbalanceNautilus(Strategy):
        """The imbalance rule of ``clobflow.strategies.imbalance`` on Nautilus's books."""

        def __init__(self) -> None:
            super().__init__(StrategyConfig(strategy_id="Imbalance-001"))
            self.market_of = {}
            for yes, no, end in markets:
                self.market_of[yes] = self.market_of[no] = (yes, no, end)
            self.entered: dict[Any, int] = {}
            self.evaluations = self.signals = 0

        def on_start(self) -> None:
            for yes, no, _ in markets:
                self.subscribe_order_book_deltas(yes, BookType.L2_MBP)
                self.subscribe_order_book_deltas(no, BookType.L2_MBP)

        def on_order_book_deltas(self, deltas: Any) -> None:
            yes, no, end = self.market_of[deltas.instrument_id]
            self.evaluations += 1
            yb = self.cache.order_book(yes)
            nb = self.cache.order_book(no)
            if yb is None or nb is None:
                return
            bb, ba, na = yb.best_bid_price(), yb.best_ask_price(), nb.best_ask_price()
            if bb is None or ba is None or na is None:
                return
            bd = sum(lv.size() for lv in yb.bids()[:depth])
            ad = sum(lv.size() for lv in yb.asks()[:depth])
            if bd + ad == 0:
                return
            imb = (bd - ad) / (bd + ad)
            b, a = bb.as_double(), ba.as_double()
            mid, spread = (b + a) / 2, a - b
            if abs(imb) < min_imb or not zone_lo <= mid <= zone_hi or spread > max_spread + 1e-9:
                return
            now = self.clock.timestamp_ns()
            last = self.entered.get(yes)
            if last is not None and now - last < cooldown_ns:
                return
            if not self.portfolio.is_flat(yes) or not self.portfolio.is_flat(no):
                return
            # positions in windows that have not ended (clobflow's settle frees the slot; here
            # binary options never resolve, so an ended window's position no longer counts)
            if sum(1 for p in self.cache.positions_open(strategy_id=self.id)
                   if self.market_of[p.instrument_id][2] > now) >= max_positions:
                return
            if end - now < min_close_ns:
                return
            token, price = (yes, ba) if imb > 0 else (no, na)
            shares = max(int(notional / price.as_double()), 5)
            inst = self.cache.instrument(token)
            self.signals += 1
            self.entered[yes] = now
            self.submit_order(self.order_factory.limit(
                instrument_id=token, order_side=OrderSide.BUY, quantity=inst.make_qty(shares),
                price=price, time_in_force=TimeInForce.IOC))

    return ImbalanceNautilus()


def run_nautilus(instruments: list[Any], data: list[Any], markets: list[tuple[Any, Any, int]],
                 cfg: Any) -> tuple[float, float, dict[str, int]]:
    from nautilus_trader.backtest.engine import BacktestEngine, BacktestEngineConfig
    from nautilus_trader.config import LoggingConfig
    from nautilus_trader.model.currencies import USDC
    from nautilus_trader.model.enums import AccountType, BookType, OmsType
    from nautilus_trader.model.identifiers import Venue
    from nautilus_trader.model.objects import Money

    engine = BacktestEngine(BacktestEngineConfig(logging=LoggingConfig(bypass_logging=True)))
    engine.add_venue(Venue("POLYMARKET"), OmsType.NETTING, AccountType.CASH, base_currency=USDC,
                     starting_balances=[Money(cfg.engine.starting_cash_usd, USDC)], book_type=BookType.L2_MBP)
    for inst in instruments:
        engine.add_instrument(inst)
    engine.add_data(data)
    strat = _nautilus_strategy(markets, cfg.enabled_strategies()[0])
    engine.add_strategy(strat)
    gc.collect()
    t, c = time.perf_counter(), time.process_time()
    engine.run()
    secs, cpu = time.perf_counter() - t, time.process_time() - c
    orders = engine.cache.orders()
    counters = {"evaluations": strat.evaluations, "orders": len(orders),
                "fills": sum(1 for o in orders if o.filled_qty.as_double() > 0)}
    engine.dispose()
    return secs, cpu, counters


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    cfg = load_config(CONFIG)
    tmp = Path(tempfile.mkdtemp(prefix="clobflow-bench-nautilus-"))
    try:
        convert(DATASET, tmp)
        ds = rawfile.load(tmp)
        levels = level_updates(ds)
        print(f"{DATASET}: {len(ds.frames):,} frames, {len(ds.markets)} markets, {levels:,} level updates; "
              f"median of {args.runs} runs, alternated")
        try:
            import nautilus_trader
        except ImportError:
            nautilus_trader = None  # type: ignore[assignment]
            print("  nautilus_trader is not installed (pip install -e '.[bench]'): clobflow only")
        nt_inputs = nautilus_inputs(ds) if nautilus_trader is not None else None
        times: dict[str, list[float]] = {"clobflow": [], "clobflow+store": [], "nautilus": []}
        cpus: dict[str, list[float]] = {k: [] for k in times}
        last: dict[str, dict[str, int]] = {}
        for i in range(args.runs):
            for k, store in (("clobflow", False), ("clobflow+store", True)):
                s, c, last[k] = run_clobflow(cfg, ds, tmp / f"{k}{i}", store=store)
                times[k].append(s)
                cpus[k].append(c)
            if nt_inputs is not None:
                s, c, last["nautilus"] = run_nautilus(*nt_inputs, cfg)
                times["nautilus"].append(s)
                cpus["nautilus"].append(c)
        label = {"clobflow": "clobflow (journal, no SQL store)", "clobflow+store": "clobflow (journal + SQLite store)",
                 "nautilus": f"NautilusTrader {getattr(nautilus_trader, '__version__', '')} BacktestEngine"}
        rate: dict[str, float] = {}
        cpu_rate: dict[str, float] = {}
        for k, v in times.items():
            if not v:
                continue
            med = statistics.median(v)
            rate[k] = levels / med
            cpu_rate[k] = levels / statistics.median(cpus[k])
            c = last[k]
            print(f"  {label[k]:<40} {rate[k]:>10,.0f} level updates/s  ({med:6.2f} s wall; "
                  f"{cpu_rate[k]:,.0f}/s by CPU time; {c.get('orders', 0)} orders, {c.get('fills', 0)} fills)")
        if "nautilus" in rate:
            for k in ("clobflow", "clobflow+store"):
                print(f"  ratio {label[k]} / Nautilus: {rate[k] / rate['nautilus']:.2f}x wall, "
                      f"{cpu_rate[k] / cpu_rate['nautilus']:.2f}x CPU   (target >= 3x)")
        print(f"  target 400,000 level updates/s: clobflow at {rate['clobflow'] / 400_000:.2f} of it")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
