"""``ShadowExecutionClient``: records every order, executes nothing, keeps orders working
(accepted, never filled) until they are cancelled or expire."""

from __future__ import annotations

from clobflow.core.orders import Accepted, Cancelled, Expired, OrderStatus, OrderType
from clobflow.execution.client import ExecutionClient
from clobflow.execution.orders import OrderManager
from clobflow.execution.shadow_client import ShadowExecutionClient
from tests.execution.helpers import BUY, FOK, S, SELL, book_2026_08, intent


def test_shadow_accepts_never_fills_and_cancels_on_request():
    books, tok = book_2026_08()
    client = ShadowExecutionClient()
    assert isinstance(client, ExecutionClient)
    om = OrderManager()
    intents = [intent("a", tok, BUY, 80_000, 100 * S, FOK), intent("b", tok, SELL, 90_000, 10 * S)]
    for t, it in zip((100, 200), intents):
        om.create(it, t)
        om.mark_submitted(it.client_order_id, t)
        client.submit(om.get(it.client_order_id), t)
    client.on_book(tok, books.book(tok), 250)  # market data changes nothing
    assert client.next_due_ns() == 100
    first = client.poll(150)
    assert first == [Accepted(client_order_id="a", ts_ns=100, venue_order_id="shadow-1")]
    for r in first + client.poll(300):
        om.apply(r)
    # both working: a strategy sees them in flight, exactly as in paper before a fill
    assert {o.client_order_id for o in om.open_orders()} == {"a", "b"} and client.working == 2
    client.cancel("b", 400)
    for r in client.poll(400):
        om.apply(r)
    assert om.get("b").status is OrderStatus.CANCELLED and om.get("b").last_reason == "requested"
    assert om.count(OrderStatus.FILLED) == 0 and om.get("a").filled_size == 0
    assert client.submitted == [(100, intents[0]), (200, intents[1])]
    assert client.cancels == [(400, "b")]
    client.cancel("b", 500)  # nothing left to cancel: recorded, no report
    assert client.poll(10**6) == []


def test_shadow_gtd_expires_unless_cancelled_first():
    books, tok = book_2026_08()
    client = ShadowExecutionClient()
    om = OrderManager()
    gtd = intent("g", tok, BUY, 70_000, 10 * S, OrderType.GTD, expire_at_ns=1_000)
    gtd2 = intent("h", tok, BUY, 70_000, 10 * S, OrderType.GTD, expire_at_ns=2_000)
    for it in (gtd, gtd2):
        om.create(it, 100)
        om.mark_submitted(it.client_order_id, 100)
        client.submit(om.get(it.client_order_id), 100)
    client.cancel("h", 500)
    reports = client.poll(5_000)
    assert [type(r) for r in reports] == [Accepted, Accepted, Cancelled, Expired]
    assert reports[-1].client_order_id == "g"
    for r in reports:
        om.apply(r)
    assert om.get("g").status is OrderStatus.EXPIRED and om.get("h").status is OrderStatus.CANCELLED
