"""Kill switch on equity: stop new entries after a drawdown or a bad day.

``KillSwitch.update(equity, now_ns)`` is fed the portfolio's equity (collateral micro-units)
with the time. It trips when

- the drawdown from the high-water mark (highest equity seen) reaches ``max_drawdown``, or
- the day's loss — the equity the UTC day opened with minus the current equity — reaches
  ``max_daily_loss``.

Both thresholds are inclusive (a loss *equal* to the limit trips) and either may be ``None``
(off). The UTC day of a time is ``now_ns // 86_400e9``: Unix time is UTC and has no leap
seconds, so epoch days are UTC days. The day's opening equity is the last equity seen *before*
the first update of the new day (equity is a step function between updates, so that is the
best estimate of the equity at midnight); on the very first update it is that update's equity.

Once tripped it stays tripped — later updates never clear it — until an operator calls
``reset(now_ns)``. New entries stop; exits and cancels stay allowed (the risk engine decides
which intents are entries). ``trip(reason, now_ns)`` is the manual kill.
"""

from __future__ import annotations

from collections.abc import Callable

NS_PER_DAY = 86_400 * 1_000_000_000


class KillSwitch:
    """Drawdown and daily-loss kill switch. Thresholds in micro-units, > 0 or ``None``.

    Visible state: ``tripped``, ``reason`` (``"drawdown"``, ``"daily_loss"``, ``"manual"`` or
    ``None``), ``tripped_ns``, ``detail`` (the numbers at the trip), ``high_water``,
    ``day`` (UTC epoch day), ``day_open``, ``last_equity``, ``last_ns``. Raises ``ValueError``
    for a threshold <= 0.
    """

    __slots__ = ("max_drawdown", "max_daily_loss", "tripped", "reason", "tripped_ns", "detail",
                 "high_water", "day", "day_open", "last_equity", "last_ns", "reset_ns", "on_change")

    def __init__(self, max_drawdown: int | None = None, max_daily_loss: int | None = None,
                 on_change: Callable[[], None] | None = None) -> None:
        for name, v in (("max_drawdown", max_drawdown), ("max_daily_loss", max_daily_loss)):
            if v is not None and v <= 0:
                raise ValueError(f"{name} must be > 0 or None, got {v}")
        self.max_drawdown = max_drawdown
        self.max_daily_loss = max_daily_loss
        self.tripped = False
        self.reason: str | None = None
        self.tripped_ns: int | None = None
        self.detail: dict = {}
        self.high_water: int | None = None
        self.day: int | None = None
        self.day_open: int | None = None
        self.last_equity: int | None = None
        self.last_ns: int | None = None
        self.reset_ns: int | None = None
        self.on_change = on_change

    @property
    def drawdown(self) -> int:
        """High-water mark minus the last equity (micro-units, >= 0)."""
        if self.high_water is None or self.last_equity is None:
            return 0
        return self.high_water - self.last_equity

    @property
    def daily_loss(self) -> int:
        """The day's opening equity minus the last equity (negative on a winning day)."""
        if self.day_open is None or self.last_equity is None:
            return 0
        return self.day_open - self.last_equity

    def update(self, equity: int, now_ns: int) -> bool:
        """Record ``equity`` (micro-units) at ``now_ns``; returns ``tripped`` afterwards.

        An update with a time on an earlier UTC day than the current one (out of order) is
        counted in the current day.
        """
        day = now_ns // NS_PER_DAY
        if self.day is None:
            self.day = day
            self.day_open = equity
        elif day > self.day:
            self.day = day
            self.day_open = self.last_equity
        if self.high_water is None or equity > self.high_water:
            self.high_water = equity
        self.last_equity = equity
        self.last_ns = now_ns
        if self.tripped:
            return True
        dd = self.high_water - equity
        if self.max_drawdown is not None and dd >= self.max_drawdown:
            self._trip("drawdown", now_ns, {"drawdown": dd, "max": self.max_drawdown,
                                            "high_water": self.high_water, "equity": equity})
        else:
            loss = self.day_open - equity  # type: ignore[operator]
            if self.max_daily_loss is not None and loss >= self.max_daily_loss:
                self._trip("daily_loss", now_ns, {"daily_loss": loss, "max": self.max_daily_loss,
                                                  "day_open": self.day_open, "equity": equity,
                                                  "day": day})
        return self.tripped

    def trip(self, reason: str, now_ns: int) -> None:
        """Manual kill (operator or a component that detected something worse). Keeps the
        first reason if already tripped."""
        if not self.tripped:
            self._trip(reason or "manual", now_ns, {})

    def reset(self, now_ns: int) -> None:
        """Operator reset: clear the trip and re-base the high-water mark and the day's opening
        equity on the last equity seen (otherwise the next update would trip again at once:
        the operator has accepted the loss so far)."""
        was = self.tripped
        self.tripped = False
        self.reason = None
        self.tripped_ns = None
        self.detail = {}
        self.reset_ns = now_ns
        if self.last_equity is not None:
            self.high_water = self.last_equity
            self.day_open = self.last_equity
        if was and self.on_change is not None:
            self.on_change()

    def _trip(self, reason: str, now_ns: int, detail: dict) -> None:
        self.tripped = True
        self.reason = reason
        self.tripped_ns = now_ns
        self.detail = detail
        if self.on_change is not None:
            self.on_change()

    def __repr__(self) -> str:
        return f"KillSwitch(tripped={self.tripped}, reason={self.reason})"
