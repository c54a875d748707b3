"""``ShadowExecutionClient``: records every order, executes nothing, ends each order at once."""

from __future__ import annotations

from clobflow.core.orders import Cancelled, OrderStatus
from clobflow.execution.client import ExecutionClient
from clobflow.execution.orders import OrderManager
from clobflow.execution.shadow_client import ShadowExecutionClient
from tests.execution.helpers import BUY, FOK, S, SELL, book_2026_08, intent


def test_shadow_records_orders_and_ends_them_without_exposure():
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
    client.cancel("b", 260)
    assert client.next_due_ns() == 100
    first = client.poll(150)
    assert first == [Cancelled(client_order_id="a", ts_ns=100, reason="shadow")]
    for r in first + client.poll(300):
        om.apply(r)
    assert client.poll(10**6) == [] and client.next_due_ns() is None
    assert client.submitted == [(100, intents[0]), (200, intents[1])]
    assert client.cancels == [(260, "b")]
    assert om.open_orders() == [] and om.count(OrderStatus.FILLED) == 0
    assert om.get("b").status is OrderStatus.CANCELLED and om.get("b").last_reason == "shadow"
