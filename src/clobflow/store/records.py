"""Typed rows the store writes: one Struct per table (plus a position update).

These are what ``Store.record_*``, ``Store.write`` and ``StoreWriter.submit`` take. Fields match
the columns of ``store.schema`` (minus the autoincrement ``id``); the same units apply: integer
micro-units for prices, sizes and money, integer ns for times. Conversion to SQL parameters
(``to_params``) happens on the writing thread, not the caller's:

- a ``core.events.Side`` is stored by name (``'BUY'``/``'SELL'``); other enums by value
  (``OrderStatus.FILLED`` -> ``'filled'``);
- ``*_json`` fields take JSON text as is, or any msgspec-encodable value, encoded with sorted
  keys (deterministic bytes for the same input);
- a ``float`` anywhere raises ``TypeError``: money is never a float (DESIGN §3.3), and a BIGINT
  column would silently round or re-type it.

Position **open** and **close** are not records: they are synchronous ``Store`` calls, because
the caller needs the uniqueness answer at decision time. ``PositionUpdate`` (size / cost / P&L
bookkeeping after fills) may go through the writer.
"""

from __future__ import annotations

from enum import Enum
from typing import Any

import msgspec

from clobflow.core.events import Side
from clobflow.core.orders import Fill, OrderIntent, OrderStatus


class SignalRow(msgspec.Struct, frozen=True):
    """A strategy signal value at ``ts_ns`` (``kind`` names it, ``value_json`` holds it)."""

    run_id: str
    ts_ns: int
    strategy: str
    market: str
    asset_id: str
    kind: str
    value_json: Any


class DecisionRow(msgspec.Struct, frozen=True):
    """One journaled decision. ``seq`` orders the decisions of a run (unique per run).
    ``action``: enter / skip / reject / cancel ...; ``reason``: a stable reason code;
    ``passed``: whether the checks let it through."""

    run_id: str
    seq: int
    ts_ns: int
    strategy: str
    market: str
    action: str
    reason: str
    passed: bool
    inputs_json: Any
    asset_id: str | None = None
    outcome_json: Any = None


class OrderRow(msgspec.Struct, frozen=True):
    """The current state of one order; written as an upsert keyed by ``client_order_id``.

    On conflict only ``status, filled_size, avg_price, reason, updated_ns, venue_order_id`` change,
    and only if ``updated_ns`` is not older than the stored one (a late, stale update never
    regresses the row). A ``None`` ``avg_price``/``venue_order_id`` keeps the stored value.
    """

    client_order_id: str
    run_id: str
    strategy: str
    market: str
    asset_id: str
    side: Side | str
    order_type: str
    price: int
    size: int
    filled_size: int
    status: str
    reason: str
    created_ns: int
    updated_ns: int
    avg_price: int | None = None
    venue_order_id: str | None = None

    @classmethod
    def from_intent(
        cls,
        intent: OrderIntent,
        run_id: str,
        *,
        status: OrderStatus | str = OrderStatus.PENDING,
        filled_size: int = 0,
        avg_price: int | None = None,
        updated_ns: int | None = None,
        venue_order_id: str | None = None,
        reason: str | None = None,
    ) -> OrderRow:
        return cls(
            client_order_id=intent.client_order_id,
            run_id=run_id,
            strategy=intent.strategy,
            market=intent.market,
            asset_id=intent.asset_id,
            side=intent.side,
            order_type=intent.order_type.value,
            price=intent.price,
            size=intent.size,
            filled_size=filled_size,
            status=status,
            reason=intent.reason if reason is None else reason,
            created_ns=intent.created_ns,
            updated_ns=intent.created_ns if updated_ns is None else updated_ns,
            avg_price=avg_price,
            venue_order_id=venue_order_id,
        )


class TransitionRow(msgspec.Struct, frozen=True):
    """One order state change. ``seq`` numbers the transitions of one order (unique per order);
    the order's ``OrderRow`` must be written first (same batch is fine: orders go first)."""

    client_order_id: str
    run_id: str
    seq: int
    ts_ns: int
    from_status: str
    to_status: str
    reason: str
    detail_json: Any = None


class FillRow(msgspec.Struct, frozen=True):
    """One execution; ``fill_id`` is the key, so recording the same fill twice is a no-op."""

    fill_id: str
    client_order_id: str
    run_id: str
    strategy: str
    market: str
    asset_id: str
    side: Side | str
    price: int
    size: int
    fee: int
    liquidity: str
    ts_ns: int

    @classmethod
    def from_fill(cls, fill: Fill, run_id: str) -> FillRow:
        return cls(
            fill_id=fill.fill_id,
            client_order_id=fill.client_order_id,
            run_id=run_id,
            strategy=fill.strategy,
            market=fill.market,
            asset_id=fill.asset_id,
            side=fill.side,
            price=fill.price,
            size=fill.size,
            fee=fill.fee,
            liquidity=fill.liquidity.value,
            ts_ns=fill.ts_ns,
        )


class PositionUpdate(msgspec.Struct, frozen=True):
    """New size / cost (and optionally realized P&L, fees) of an **open** position.

    ``None`` keeps the stored value. Applied only while the position is open: an update that
    reaches the database after the (synchronous) close is ignored, so it cannot overwrite the
    closing figures.
    """

    position_id: int
    size: int
    cost: int
    realized_pnl: int | None = None
    fees: int | None = None


Record = SignalRow | DecisionRow | OrderRow | TransitionRow | FillRow | PositionUpdate
RECORD_TYPES: tuple[type, ...] = (SignalRow, DecisionRow, OrderRow, TransitionRow, FillRow, PositionUpdate)

_json_encoder = msgspec.json.Encoder(order="sorted")


def _value(name: str, v: Any) -> Any:
    if name.endswith("_json"):
        if v is None or isinstance(v, str):
            return v
        if isinstance(v, bytes):
            return v.decode()
        return _json_encoder.encode(v).decode()
    if isinstance(v, float):
        raise TypeError(f"{name}={v!r}: floats are not stored; use integer micro-units / ns")
    if isinstance(v, Side):
        return v.name
    if isinstance(v, Enum):
        return v.value
    return v


def to_values(**values: Any) -> dict[str, Any]:
    """Keyword values converted like record fields (``to_params``). Raises ``TypeError`` on a float."""
    return {name: _value(name, v) for name, v in values.items()}


def to_params(row: msgspec.Struct) -> dict[str, Any]:
    """The row as SQL parameters (see the module docstring for the conversions).

    Raises:
        TypeError: a field holds a float.
    """
    return {name: _value(name, getattr(row, name)) for name in row.__struct_fields__}


_PLAIN = frozenset({int, str, bool, type(None)})  # stored as they are (``_value`` returns them)


def to_row(row: msgspec.Struct) -> tuple[Any, ...]:
    """``to_params(row)``'s values in field order, as a tuple (for a driver's ``executemany``):
    the plain values as they are, every other one (a ``_json`` field's object, an enum, a
    float to refuse) through the same conversion."""
    vals = msgspec.structs.astuple(row)
    return tuple([v if type(v) in _PLAIN else _value(n, v) for n, v in zip(row.__struct_fields__, vals)])

