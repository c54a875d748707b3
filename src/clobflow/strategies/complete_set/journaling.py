"""What the pair bot records and watches: every decision as a ``DecisionLog`` row with the state
at that moment (``_log``; a steady skip is one row, ``_skip``), taker-detection hits on a market
(``_on_hit``) and across a neg-risk event (``_detect_event``), and stream observations (flash
moves, books turning untrusted: ``_observe``). A mixin of ``CompleteSetStrategy``: it reads the
strategy's ``log``, ``lim``, ``reproducible``, detectors and ``_events``; it decides nothing.
"""

from __future__ import annotations

from typing import Any

from clobflow.book.book_set import TrackedBook
from clobflow.core.fee_table import schedule_in_force
from clobflow.core.markets import BinaryMarket
from clobflow.strategies.base import StrategyContext
from clobflow.strategies.complete_set.inventory import required_margin
from clobflow.strategies.complete_set.market_state import PairMarket
from clobflow.strategies.complete_set.records import BOTH, DOWN, UP

_FLASH_MOVE = 100_000  # a mid move of 10 cents ...
_FLASH_NS = 2_000_000_000  # ... within 2 s is a flash move


class DecisionRecording:
    """The recording half of ``CompleteSetStrategy`` (see the module docstring)."""

    log: Any
    lim: Any
    reproducible: bool
    detector: Any
    multi_detector: Any
    _events: dict[str, list[BinaryMarket]]

    def _on_hit(self, ctx: StrategyContext, pm: PairMarket, hit: Any) -> None:
        pm.count(f"detect_{hit.classification}")
        self._log(ctx, pm, "detect", hit.classification, side=BOTH, price=hit.gross, size=hit.size,
                  margin=hit.net_margin, threshold=self.detector.config.min_margin,
                  detail={"reason": hit.reason, "fees": hit.fees, **hit.detail})

    def _detect_event(self, ctx: StrategyContext, market: BinaryMarket) -> None:
        """Taker detection across a neg-risk event: one YES of every listed outcome."""
        members = self._events.get(market.event_slug)
        if members is None or market not in members:
            members = self._events[market.event_slug] = sorted(
                (m for m in ctx.markets() if m.neg_risk and m.event_slug == market.event_slug),
                key=lambda m: m.condition_id)
        if len(members) < 2:
            return
        outcomes = []
        for m in members:
            y, n = ctx.book(m.yes.token_id), ctx.book(m.no.token_id)
            if y is None or n is None:
                return
            outcomes.append((y, n))
        now = ctx.now_ns
        hit = self.multi_detector.check(outcomes, now, schedule_in_force(market, now),
                                        augmented=any(m.neg_risk_augmented for m in members))
        if hit is None or self.log is None:
            return
        self.log.capture(now, market.event_slug, market.event_slug, "detect", hit.classification, BOTH, hit.gross,
                         hit.size, None, None, None, None, 0, 0, 0, 0, 0, 0, 0, 0, hit.net_margin,
                         self.multi_detector.config.min_margin, None, 0, "", "", None,
                         {"reason": hit.reason, "kind": "multi", "outcomes": len(members), "fees": hit.fees})

    def _observe(self, ctx: StrategyContext, pm: PairMarket, ty: TrackedBook, tn: TrackedBook, now: int) -> None:
        for side, tb in ((UP, ty), (DOWN, tn)):
            state = tb.state.name.lower()
            if state != pm.last_observe.get(side, "trusted"):
                pm.last_observe[side] = state
                if state != "trusted":
                    self._log(ctx, pm, "observe", "untrusted_book", side=side, detail={"state": state,
                                                                                      "why": tb.reason})
            mid = tb.book.mid()
            if mid is None:
                continue
            seen = pm.mid_seen.get(side)
            if seen is None or now - seen[0] > _FLASH_NS:
                pm.mid_seen[side] = (now, mid)
            elif abs(mid - seen[1]) >= _FLASH_MOVE:
                self._log(ctx, pm, "observe", "flash_move", side=side, price=mid,
                          detail={"value": abs(mid - seen[1]), "threshold": _FLASH_MOVE, "from": seen[1],
                                  "ms": (now - seen[0]) // 1_000_000})
                pm.mid_seen[side] = (now, mid)

    def _skip(self, ctx: StrategyContext, pm: PairMarket, reason: str, sev: int, left: int,
              force: bool = False) -> None:
        """Journal a skip once per change of reason (a steady state is one row, not thousands)."""
        if reason == pm.last_skip and not force:
            return
        pm.last_skip = reason
        pm.count(f"skip_{reason}")
        self._log(ctx, pm, "skip", reason, left=left, sev=sev)

    def _log(self, ctx: StrategyContext, pm: PairMarket, action: str, reason: str, *, side: str = "",
             price: int | None = None, size: int = 0, margin: int | None = None, threshold: int | None = None,
             left: int | None = None, sev: int = 0, order_id: str = "", latency: int | None = None,
             detail: dict | None = None) -> None:
        log = self.log
        if log is None:
            return
        if latency is not None and self.reproducible:
            # wall time differs between reruns; a reproducible run's log must be byte-identical,
            # so the measured delay goes to ``leg_latencies_ns`` (latency.json) only
            latency = None
        yb = ctx.book(pm.token[UP])
        nb = ctx.book(pm.token[DOWN])
        y = yb.book if yb is not None else None
        n = nb.book if nb is not None else None
        inv = pm.inv
        now = ctx.now_ns
        if left is None and pm.market.end_ns is not None:
            left = pm.market.end_ns - now
        if threshold is None and left is not None and action != "detect":
            threshold = required_margin(left, self.lim)
        state = inv.state(left, self.lim).value if left is not None else ""
        log.capture(now, pm.cid, pm.slug, action, reason, side, price, size,
                    y.best_bid() if y else None, y.best_ask() if y else None,
                    n.best_bid() if n else None, n.best_ask() if n else None,
                    y.best_bid_size() if y else 0, y.best_ask_size() if y else 0,
                    n.best_bid_size() if n else 0, n.best_ask_size() if n else 0,
                    inv.up, inv.down, inv.up_cost, inv.down_cost, margin, threshold,
                    None if left is None else left // 1_000_000, sev, state, order_id, latency, detail)
