"""Paper and shadow modes: live (or simulator) market data into the kernel, in real time.

- ``paper``: orders are matched by the simulated matching engine against the live books;
- ``shadow``: the same decisions are journaled, nothing is placed (orders end as ``shadow``).

The feed discovers markets with the strategy's filters (categories, hours to close), adds them to
the kernel before their first event, and calls the kernel synchronously from the stream
callback. A timer task applies execution reports as their simulated latency elapses and ticks the
kernel's timer. ``stop()`` (or SIGINT/SIGTERM in ``run_live``) ends the run cleanly: pending
reports applied, strategies stopped, journal and store flushed.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from clobflow.core import display as D
from clobflow.core import ids
from clobflow.core.clock import LiveClock, VenueTimeClock, s_to_ns
from clobflow.core.errors import ConfigError, Retryable, VenueRejected
from clobflow.core.events import MarketResolved
from clobflow.core.markets import BinaryMarket
from clobflow.core.redact import Redactor, secret_values
from clobflow.engine.config import AppConfig
from clobflow.engine.kernel import Kernel
from clobflow.engine.lifecycle import install_stop_signals, wait_for_stop
from clobflow.core.ports import InstrumentDiff, MarketFilter, StreamSettings
from clobflow.engine import registry
from clobflow.engine.market_feed import MarketFeed
from clobflow.engine.modes import build_kernel, run_id_for, trust_policy
from clobflow.engine.recording import RunRecorder
from clobflow.engine.recovery import recover_run
from clobflow.engine.retire import retire
from clobflow.execution.sim_client import SimExecutionClient
from clobflow.observe.journal import Journal, JournalEntry, JsonlJournalFile
from clobflow.sim.ledger import SimLedger, ledger_path, read_ledger

LOGGED_ACTIONS = frozenset({"signal", "order", "fill", "risk_reject", "settle", "halted", "resumed",
                            "foreign_report", "position_conflict"})


@dataclass
class LiveRun:
    run_id: str
    kernel: Kernel
    feed: MarketFeed
    journal_path: Path


def discovery_for(config: AppConfig) -> MarketFilter:
    """The union of the enabled strategies' market filters."""
    strategies = config.enabled_strategies()
    tags = tuple(dict.fromkeys(t for s in strategies for t in s.categories))
    return MarketFilter(
        tags=tags,
        max_hours_to_close=max(s.max_hours_to_close for s in strategies),
        min_minutes_to_close=min(s.min_minutes_to_close for s in strategies),
        limit=200,
    )


_MICROS = frozenset({"price", "size", "fee", "pnl", "spread", "payout", "cost"})
_SHOW = {"price": D.price, "spread": D.price, "size": D.shares, "pnl": D.signed_money}


async def settle_unfollowed(kernel: Kernel, feed: MarketFeed, now_ns: int, log: Callable[[str], None]) -> None:
    """Positions taken over from earlier runs whose market discovery does not follow (it
    resolved while we were down, or the filters changed): look them up with the venue's
    instrument provider (Polymarket: Gamma), follow the market's metadata, and settle at once
    the ones that already resolved."""
    orphans = kernel.unfollowed_holdings()
    if not orphans:
        return
    tokens = [t for ts in orphans.values() for t in ts]
    try:
        found = await feed.instruments.lookup(tokens)
    except (Retryable, VenueRejected) as exc:
        log(f"cannot look up {len(orphans)} held market(s) at {feed.instruments.source}: {exc}")
        return
    seen: set[str] = set()
    for m, winner in found:
        if m.condition_id not in orphans or m.condition_id in seen:
            continue
        seen.add(m.condition_id)
        kernel.add_market(m)
        if winner:
            kernel.on_event(MarketResolved(m.condition_id, m.market_id, m.token_ids, winner, m.outcome_of(winner),
                                           now_ns, now_ns), ())
    missing = orphans.keys() - seen
    if missing:
        log(f"{len(missing)} held market(s) not found at {feed.instruments.source}; their positions stay open")


def line_for(e: JournalEntry, markets: Mapping[str, BinaryMarket] | None = None) -> str:
    """One log line for a journal entry worth a human's attention: the market named by its slug
    (from ``markets``; the whole id when unknown, never a cut-off prefix), money and sizes
    through ``core.display``."""
    inputs = e.inputs or {}
    keys = ("client_order_id", "price", "size", "fee", "pnl", "imbalance", "spread")
    parts = []
    for k in keys:
        if k not in inputs:
            continue
        v = inputs[k]
        if k in _MICROS and isinstance(v, int):
            v = _SHOW.get(k, D.money)(v)
        elif isinstance(v, float):
            v = f"{v:+.3f}"
        parts.append(f"{k}={v}")
    m = markets.get(e.market) if markets is not None and e.market else None
    name = m.slug if m is not None and m.slug else ids.raw(e.market)  # whole id, never a prefix
    return f"{e.action:11s} {e.reason:24s} {name} {' '.join(parts)}"


async def run_live(
    config: AppConfig,
    mode: str,
    out_dir: str | Path,
    *,
    ws_url: str | None = None,
    gamma_url: str | None = None,
    clob_url: str | None = None,
    duration_s: float | None = None,
    log: Callable[[str], None] = print,
    stop_event: asyncio.Event | None = None,
    on_started: Callable[[LiveRun], None] | None = None,
) -> LiveRun:
    """Run paper or shadow trading until ``duration_s`` passes, ``stop_event`` is set, or a
    SIGINT/SIGTERM arrives. Returns the finished run (everything flushed)."""
    if mode not in ("paper", "shadow"):
        raise ConfigError("engine.mode", f"run supports paper and shadow, not {mode!r}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    redactor, print_line = Redactor(secret_values(os.environ)), log
    log = lambda line: print_line(redactor.text(line))  # noqa: E731 - no credential in a log line
    local = LiveClock()
    clock = VenueTimeClock(local)  # the kernel's market time: follows the venue's timestamps
    started = local.now_ns()
    run_id = run_id_for(config, mode, "live", started)
    journal_path = out / f"journal-{run_id}.jsonl"
    jfile = JsonlJournalFile(journal_path)
    journal = Journal([jfile])
    holder: list[Kernel] = []
    journal.add_sink(lambda e: log(line_for(e, holder[0].markets if holder else None))
                     if e.action in LOGGED_ACTIONS else None)
    url = config.engine.store_url or f"sqlite:///{out / 'clobflow.sqlite'}"  # noqa: E501
    recorder = RunRecorder.open(url, run_id=run_id, mode=mode, strategy_names=[
        s.name for s in config.enabled_strategies()], config=config, started_ns=started)
    journal.add_sink(recorder.decision)
    if recorder.crashed_runs:
        log(f"marked {len(recorder.crashed_runs)} run(s) crashed (their process died): {', '.join(recorder.crashed_runs)}")
        for rid in recorder.crashed_runs:  # the journal holds what the store's last batch lost,
            # the simulated venue's ledger what the engine never heard (paper runs)
            ledger_file = ledger_path(out, rid)
            venue = read_ledger(ledger_file) if ledger_file.is_file() else None
            rec = recover_run(recorder.store, rid, out / f"journal-{rid}.jsonl", venue)
            log(f"recovered {rid} from its journal: {rec.orders_added} order(s), {rec.fills_added} fill(s) added, "
                f"{rec.orders_fixed} order(s) and {rec.positions_fixed} position(s) corrected"
                + (f"; from the simulator's ledger: {rec.venue_orders_added} order(s), {rec.venue_fills_added} "
                   f"fill(s) added, {rec.positions_opened} position(s) opened" if venue is not None else ""))
    f = config.feed
    feed_cfg = registry.adapter(f.venue).feed_config(
        {"ws_url": ws_url or f.ws_url, "gamma_url": gamma_url or f.gamma_url, "clob_url": clob_url or f.clob_url},
        discovery_for(config),
        StreamSettings(max_assets_per_conn=f.max_assets_per_conn, stall_after_s=f.stall_after_s,
                       reconnect_min_s=f.reconnect_min_delay_s, reconnect_max_s=f.reconnect_max_delay_s),
        trust_policy(config),
        f.subscription_refresh_interval_s,
    )

    def on_diff(diff: InstrumentDiff) -> None:
        for m in list(diff.added) + list(diff.changed):
            holder[0].add_market(m)
        for m in diff.removed:  # ended: forgotten now, or once settled and flat
            retire(holder[0], m.condition_id)

    def before_events(events: list) -> None:
        # the frame's venue time moves market time first, so reports due by then are applied
        # against the books as they were before this frame
        clock.observe(max((getattr(e, "ts_venue_ns", 0) for e in events), default=0))
        holder[0].process_due(clock.now_ns())

    feed = MarketFeed(feed_cfg, clock=local, on_diff=on_diff,
                      on_event=lambda ev, touched: holder[0].on_event(ev, touched),
                      before_events=before_events)
    ledger = SimLedger(ledger_path(out, run_id)) if mode == "paper" else None  # the venue's own record
    kernel = build_kernel(config, mode=mode, run_id=run_id, clock=clock, books=feed.books,
                          journal=journal, recorder=recorder, out_dir=out / run_id, ledger=ledger)
    holder.append(kernel)
    stop = stop_event or asyncio.Event()
    uninstall_signals = install_stop_signals(stop)
    timer_ns = s_to_ns(config.engine.timer_interval_s)
    try:
        kernel.start()
        adopted = recorder.adopt_open_positions(kernel, [s.name for s in config.enabled_strategies()], started)
        if adopted:
            log(f"{mode} run {run_id}: took over {adopted} open position(s) from earlier runs")
        await feed.start()
        log(f"{mode} run {run_id}: {len(feed.markets)} markets from {feed.instruments.source}")
        if adopted:
            await settle_unfollowed(kernel, feed, clock.now_ns(), log)
        if on_started is not None:
            on_started(LiveRun(run_id, kernel, feed, journal_path))
        deadline = None if duration_s is None else time.monotonic() + duration_s
        while not stop.is_set():
            now = clock.now_ns()
            due = kernel.next_due_ns()
            timeout = timer_ns / 1e9 if due is None else min(timer_ns / 1e9, max(0.0, (due - now) / 1e9))
            if deadline is not None:
                timeout = min(timeout, max(0.0, deadline - time.monotonic()))
            await wait_for_stop(stop, timeout)
            now = clock.now_ns()
            kernel.process_due(now)
            if kernel.timer_due(now):
                kernel.on_timer(now)
            if deadline is not None and time.monotonic() >= deadline:
                break
    finally:
        uninstall_signals()
        await feed.stop()
        if isinstance(kernel.execution, SimExecutionClient):
            # what the simulated venue already did (and its ledger holds) reaches the engine
            # before it stops, even if the report's latency has not elapsed yet
            for report in kernel.execution.drain_reports():
                kernel.dispatch(report, (), clock.now_ns())
            kernel.journal.end_of_event()
        kernel.stop()
        jfile.close()
        if ledger is not None:
            ledger.close()
        recorder.close(kernel, clock.now_ns())  # market time of the last event
    return LiveRun(run_id, kernel, feed, journal_path)
