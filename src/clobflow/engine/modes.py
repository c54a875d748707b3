"""Building a kernel for a mode. Only the clock and the execution client differ between modes:

| mode | clock | market data | execution |
|---|---|---|---|
| backtest | ``SimClock`` driven by recorded receive times | recorded raw frames | simulated matching |
| paper | ``LiveClock`` | live (or simulator) WebSocket | simulated matching against the live book |
| shadow | ``LiveClock`` | live (or simulator) WebSocket | none: intents journaled, nothing placed |
| live | — | — | not available yet (needs the venue client) |
"""

from __future__ import annotations

from pathlib import Path

import hashlib
from collections.abc import Callable

import msgspec

from clobflow.book.book_set import BookSet
from clobflow.book.trust import TrustPolicy
from clobflow.core.clock import Clock, s_to_ns
from clobflow.core.errors import ConfigError
from clobflow.core.markets import BinaryMarket
from clobflow.core.numbers import micros_from_number
from clobflow.engine.config import AppConfig
from clobflow.engine.kernel import Kernel
from clobflow.engine.recording import RunRecorder
from clobflow.execution.client import ExecutionClient
from clobflow.execution.shadow_client import ShadowExecutionClient
from clobflow.execution.sim_client import SimExecutionClient
from clobflow.execution.venue_record import VenueLog
from clobflow.observe.journal import Journal
from clobflow.portfolio.portfolio import Portfolio
from clobflow.risk.engine import RiskEngine
from clobflow.sim.exec_models import LatencyModel
from clobflow.strategies.complete_set.config import CompleteSetConfig
from clobflow.strategies.complete_set.strategy import CompleteSetStrategy
from clobflow.strategies.base import RunInfo, Strategy
from clobflow.strategies.imbalance import ImbalanceConfig, ImbalanceStrategy


def run_id_for(config: AppConfig, mode: str, source: str, started_ns: int | None) -> str:
    """A backtest's run id depends only on its inputs (repeatable); a live run's on its start."""
    config_json = msgspec.json.encode(config).decode()
    h = hashlib.sha1(f"{mode}|{source}|{config_json}|{started_ns or ''}".encode()).hexdigest()
    return f"{mode}-{h[:12]}"


def make_execution(mode: str, config: AppConfig, markets: Callable[[], dict[str, BinaryMarket]],
                   books: BookSet, ledger: VenueLog | None = None) -> ExecutionClient:
    """The mode's execution client; ``ledger``: the simulated venue's own record (paper)."""
    if mode in ("backtest", "paper"):
        s = config.sim
        latency = LatencyModel(
            submit_ns=int(s.submit_latency_ms * 1_000_000), ack_ns=int(s.ack_latency_ms * 1_000_000),
            jitter_ns=int(s.jitter_ms * 1_000_000), seed=s.seed,
        )
        return SimExecutionClient(markets, books.get_book, latency, trade_inference=s.trade_inference, ledger=ledger)
    if mode == "shadow":
        return ShadowExecutionClient()
    raise ConfigError("engine.mode", f"{mode!r} execution is not available (live trading comes with the venue client)")


def build_kernel(
    config: AppConfig,
    *,
    mode: str,
    run_id: str,
    clock: Clock,
    books: BookSet,
    journal: Journal,
    recorder: RunRecorder | None,
    out_dir: Path | None = None,
    ledger: VenueLog | None = None,
) -> Kernel:
    """One run's kernel. ``out_dir`` (the run's folder) is handed to strategies that write files
    of their own (``Strategy.attach_run``); ``ledger`` keeps the simulated venue's record."""
    strategies = [build_strategy(s) for s in config.enabled_strategies()]
    if not strategies:
        raise ConfigError("strategies", "no enabled strategy")
    if out_dir is not None:
        for st in strategies:
            st.attach_run(RunInfo(out_dir, reproducible=mode == "backtest"))
    risk = {s.name: RiskEngine(config.risk_for(s.config)) for s in strategies}
    portfolio = Portfolio(micros_from_number(config.engine.starting_cash_usd))
    kernel_ref: list[Kernel] = []
    execution = make_execution(mode, config, lambda: kernel_ref[0].by_token, books, ledger)  # by_token: add_market
    k = Kernel(
        run_id=run_id, mode=mode, clock=clock, books=books, strategies=strategies, risk=risk,
        execution=execution, portfolio=portfolio, journal=journal, recorder=recorder,
        timer_interval_ns=s_to_ns(config.engine.timer_interval_s),
    )
    kernel_ref.append(k)
    return k


def build_strategy(config: ImbalanceConfig | CompleteSetConfig) -> Strategy:
    """The strategy a config section describes (by its ``kind``)."""
    if isinstance(config, CompleteSetConfig):
        return CompleteSetStrategy(config)
    return ImbalanceStrategy(config)


def trust_policy(config: AppConfig) -> TrustPolicy:
    """The books' trust thresholds. The same in every mode: a backtest judges quote age on its
    simulated clock, so a gap in the recording makes a book stale exactly as it would live."""
    return TrustPolicy(stale_after_ns=s_to_ns(config.feed.stale_after_s))
