"""``RiskEngine``: one strategy's pre-trade gate, circuit breaker and kill switch.

``check(intent, view, now_ns)`` runs the checks of ``risk.checks`` in a fixed order and returns
the first failure as a ``RiskDecision`` (or ``ok``). The order is cheapest and most fundamental
first, so the journaled reason is the most basic one that applies:

==  ======================  =======  ===================================================
#   reason                  applies  reads
==  ======================  =======  ===================================================
1   kill_switch             entry    own flag
2   breaker_open            all      own state (O(1) cool-off check)
3   signal_stale            all      intent (``signal_ns``, or ``created_ns`` when 0)
4   book_missing            all      view.book
    book_untrusted          all
    book_suspect            all      (only with ``require_trusted_book``)
    book_pending_check      all      (only with ``require_trusted_book``: a venue check pending)
5   market_unknown          all      view.market (unknown, or the token is not its own)
    market_closed           all      market flags, ``end_ns <= now``
    too_close_to_close      entry    ``end_ns - now < min_seconds_to_close``
6   duplicate_in_flight     all      view.in_flight (``max_live_orders_per_market`` live)
    recent_order            all      view.last_order_ns (token)
    cooldown                entry    view.last_entry_ns / ``record_entry`` (the later)
    position_exists         entry    view.has_position (with ``one_position_per_market``)
    max_adds                entry    view.entry_count (adds to a held market, ``max_adds``)
    max_positions           entry    view.open_position_count (markets not held yet)
    market_exposure         entry    view.market_exposure + intent notional
    total_exposure          entry    view.total_exposure + intent notional
7   spread_too_wide         entry    book spread (a one-sided book fails)
    price_deviation         all      intent price vs best ask (BUY) / best bid (SELL);
                                     a post-only order vs its own side's best
    fee_rate_too_high       entry    ``fee_rate_bps(price, schedule)``; post-only passes
==  ======================  =======  ===================================================

Entries and exits: a BUY is an entry (it adds exposure); a SELL is an exit (outcome tokens
cannot be shorted here, so a SELL can only reduce a holding). Exits skip the entry-only checks,
so a tripped kill switch, a full book of positions or a wide spread never trap a position.
The breaker still blocks exits: it opens when the venue keeps rejecting or answers are
unknown, and sending more orders — of any side — before reconciliation risks selling twice.
For the same reason a live order on the market blocks another order there (cancel first).

``can_trade(now_ns)`` is the hot-path gate: a precomputed flag (kill switch not tripped and
breaker closed), refreshed by the breaker and kill switch through their ``on_change`` hooks,
so it stays right when the kernel feeds ``engine.breaker`` / ``engine.kill_switch`` directly.
``on_gate(can_trade)`` (optional, set by the owner) is called when that flag flips: the kernel
journals one ``halted`` line per halt and one ``resumed`` when it clears. ``halt_reason()`` says
why it is closed; ``entry_room(view, market)`` is how much more notional an entry may add before
an exposure limit refuses it (strategies size or skip with it instead of being rejected).

Position policy lives here, not in the kernel: ``one_position_per_market`` (no entry on a
market already held or with an entry working) and ``max_adds`` (with scale-in allowed, how many
entries may follow the first while the position is open; ``None``: no limit).
"""

from __future__ import annotations

import msgspec

from collections.abc import Callable

from clobflow.core.events import Side
from clobflow.core.orders import OrderIntent
from clobflow.risk import checks as C
from clobflow.risk.breaker import BreakerState, CircuitBreaker
from clobflow.risk.checks import Code, Violation
from clobflow.risk.config import RiskConfig
from clobflow.risk.kill_switch import KillSwitch
from clobflow.risk.view import RiskView


class RiskDecision(msgspec.Struct, frozen=True):
    """The verdict on one intent. ``reason`` is ``"ok"`` or a ``checks.Code``; ``detail`` holds
    the numbers compared (micro-units, ns, bps, ppm; e.g. ``{"spread": 30000, "max": 20000}``)."""

    ok: bool
    reason: str
    detail: dict = msgspec.field(default_factory=dict)


class RiskEngine:
    """Pre-trade checks plus breaker and kill switch for one strategy.

    Built from a validated ``RiskConfig``; the limits are converted once to integers here.
    ``counts`` tallies decisions by reason (``"ok"`` included).
    """

    __slots__ = ("config", "breaker", "kill_switch", "counts", "on_gate", "_last_entry", "_can_trade", "gate_open",
                 "_max_positions", "_one_per_market", "_max_adds", "_max_market", "_max_total", "_cooldown_ns",
                 "_min_to_close_ns", "_max_signal_ns", "_max_dev_ppm", "_max_spread",
                 "_max_fee_bps", "_recent_ns", "_require_trusted", "_max_live")

    def __init__(self, config: RiskConfig | None = None) -> None:
        cfg = config or RiskConfig()
        self.config = cfg
        self._max_positions = cfg.max_positions
        self._one_per_market = cfg.one_position_per_market
        self._max_adds = cfg.max_adds
        self._max_market = cfg.max_market_exposure
        self._max_total = cfg.max_total_exposure
        self._cooldown_ns = cfg.cooldown_ns
        self._min_to_close_ns = cfg.min_ns_to_close
        self._max_signal_ns = cfg.max_signal_age_ns
        self._max_dev_ppm = cfg.max_price_deviation_ppm
        self._max_spread = cfg.max_spread_micros
        self._max_fee_bps = cfg.max_fee_rate_bps
        self._recent_ns = cfg.recent_order_window_ns
        self._require_trusted = cfg.require_trusted_book
        self._max_live = cfg.max_live_orders_per_market
        self._can_trade = True
        self.gate_open = True  # the flag itself, for the hot path: True means can_trade is True
        self.on_gate: Callable[[bool], None] | None = None
        self._last_entry: dict[str, int] = {}
        self.counts: dict[str, int] = {}
        self.breaker = CircuitBreaker(cfg.breaker_max_failures, cfg.breaker_cooloff_ns, self._refresh)
        self.kill_switch = KillSwitch(cfg.max_drawdown, cfg.max_daily_loss, self._refresh)

    # -- hot-path gate ---------------------------------------------------------------------

    def can_trade(self, now_ns: int) -> bool:
        """O(1): True when the kill switch is not tripped and the breaker is closed at ``now_ns``.
        (Exits may still pass ``check`` while the kill switch is tripped.)"""
        if self._can_trade:
            return True
        if self.kill_switch.tripped:
            return False
        # Only the breaker blocks: its cool-off may be over (poll fires on_change -> _refresh).
        self.breaker.poll(now_ns)
        return self._can_trade

    def _refresh(self) -> None:
        was = self._can_trade
        self._can_trade = self.gate_open = not self.kill_switch.tripped and self.breaker.state is BreakerState.CLOSED
        if self._can_trade is not was and self.on_gate is not None:
            self.on_gate(self._can_trade)

    def halt_reason(self) -> str:
        """Why ``can_trade`` is False: ``kill_switch`` (its ``reason`` says which limit) or
        ``breaker_open`` ("" when trading is allowed)."""
        if self.kill_switch.tripped:
            return "kill_switch"
        if self.breaker.state is BreakerState.OPEN:
            return "breaker_open"
        return ""

    def entry_room(self, view: RiskView, market: str) -> int:
        """Notional (micro-units) an entry on ``market`` may still add before ``market_exposure``
        or ``total_exposure`` refuses it (>= 0)."""
        room = min(self._max_market - view.market_exposure(market), self._max_total - view.total_exposure())
        return room if room > 0 else 0

    # -- bookkeeping -----------------------------------------------------------------------

    def record_entry(self, market: str, now_ns: int) -> None:
        """An entry was sent on ``market`` at ``now_ns``: starts its cooldown."""
        prev = self._last_entry.get(market)
        if prev is None or now_ns > prev:
            self._last_entry[market] = now_ns

    def forget_market(self, market: str) -> None:
        """The market ended and left the run: drop its cooldown clock."""
        self._last_entry.pop(market, None)

    def last_entry_ns(self, market: str) -> int | None:
        """The last ``record_entry`` time of ``market`` (``None`` if never)."""
        return self._last_entry.get(market)

    # -- the check -------------------------------------------------------------------------

    def check(self, intent: OrderIntent, view: RiskView, now_ns: int) -> RiskDecision:
        """Judge ``intent`` at ``now_ns`` against ``view``. Never raises for a bad intent: every
        refusal is a decision with a reason code. Does not record anything but ``counts``."""
        v = self._first_violation(intent, view, now_ns)
        if v is None:
            self.counts["ok"] = self.counts.get("ok", 0) + 1
            return RiskDecision(True, Code.OK, {})
        self.counts[v.reason] = self.counts.get(v.reason, 0) + 1
        return RiskDecision(False, v.reason, v.detail)

    def _first_violation(self, intent: OrderIntent, view: RiskView, now_ns: int) -> Violation | None:
        entry = intent.side == Side.BUY
        ks = self.kill_switch
        if entry and ks.tripped:
            return C.check_kill_switch(True, ks.reason)
        br = self.breaker
        if br.state is BreakerState.OPEN and br.is_open(now_ns):
            return C.check_breaker(True, br.failures, br.opened_ns)
        v = C.check_signal_age(intent.signal_ns or intent.created_ns, now_ns, self._max_signal_ns)
        if v is not None:
            return v
        tb = view.book(intent.asset_id)
        v = C.check_book(tb, self._require_trusted)
        if v is not None:
            return v
        cid = intent.market
        market = view.market(cid)
        v = C.check_market_known(market, cid, intent.asset_id) or C.check_market_open(market, now_ns)  # type: ignore[arg-type]
        if v is not None:
            return v
        if entry and (v := C.check_time_to_close(market, now_ns, self._min_to_close_ns)) is not None:  # type: ignore[arg-type]
            return v
        v = (C.check_in_flight(view.in_flight(cid), self._max_live)
             or C.check_recent_order(view.last_order_ns(intent.asset_id), now_ns, self._recent_ns))
        if v is not None:
            return v
        book = tb.book  # type: ignore[union-attr]
        if entry:
            last = view.last_entry_ns(cid)
            own = self._last_entry.get(cid)
            if own is not None and (last is None or own > last):
                last = own
            has = view.has_position(cid)
            add = intent.notional
            v = (C.check_cooldown(last, now_ns, self._cooldown_ns)
                 or C.check_position_exists(has, self._one_per_market)
                 or (C.check_max_adds(view.entry_count(cid), self._max_adds) if has else None)
                 or C.check_max_positions(view.open_position_count(), has, self._max_positions)
                 or C.check_market_exposure(view.market_exposure(cid), add, self._max_market)
                 or C.check_total_exposure(view.total_exposure(), add, self._max_total)
                 or C.check_spread(book, self._max_spread))
            if v is not None:
                return v
        v = C.check_price_deviation(intent.side, intent.price, book, self._max_dev_ppm, intent.post_only)
        if v is not None:
            return v
        if entry:
            return C.check_fee_rate(intent.price, market.fee_schedule, self._max_fee_bps, intent.post_only)  # type: ignore[union-attr]
        return None

    def status(self, now_ns: int) -> dict:
        """A JSON-friendly snapshot for health pages and the journal."""
        br = self.breaker
        ks = self.kill_switch
        return {
            "can_trade": self.can_trade(now_ns),
            "breaker": {"state": br.poll(now_ns).value, "failures": br.failures, "opened_ns": br.opened_ns,
                        "trips": br.trips},
            "kill_switch": {"tripped": ks.tripped, "reason": ks.reason, "tripped_ns": ks.tripped_ns,
                            "high_water": ks.high_water, "drawdown": ks.drawdown, "daily_loss": ks.daily_loss},
            "counts": dict(self.counts),
        }
