"""The venue-id migration on SQLite and PostgreSQL: a store created at the revision before it,
holding bare Polymarket ids, is upgraded to ``POLYMARKET:`` ids (idempotently), downgrades back,
and a position opened before the migration is still found and adopted by a restarted run."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import text

from clobflow.store import Store
from clobflow.store.migrate import head_revision

BEFORE = "0001"  # the revision before 0003_venue_ids
CID, YES, NO = "0x" + "ab" * 32, "1234567890123456789", "9876543210987654321"
Q = "POLYMARKET:"


def _seed_bare(store: Store) -> None:
    """Rows as an engine before the migration wrote them (only that revision's columns)."""
    with store._engine.begin() as c:  # noqa: SLF001 - writes as the old engine did, by SQL
        c.execute(text("INSERT INTO runs (run_id, mode, strategy, config_json, started_ns, status) "
                       "VALUES ('r1', 'paper', 'imbalance', '{}', 1, 'finished')"))
        c.execute(text("INSERT INTO signals (run_id, ts_ns, strategy, market, asset_id, kind, value_json) "
                       f"VALUES ('r1', 1, 'imbalance', '{CID}', '{YES}', 'imbalance', '{{}}')"))
        for seq, (market, asset) in enumerate([(CID, YES), (CID, None), ("", None), (CID, "")], 1):
            c.execute(text("INSERT INTO decisions (run_id, seq, ts_ns, strategy, market, asset_id, action, "
                           "reason, passed, inputs_json) VALUES ('r1', :seq, 1, 'imbalance', :m, :a, "
                           "'skip', 'x', :p, '{}')"), {"seq": seq, "m": market, "a": asset, "p": True})
        c.execute(text("INSERT INTO orders (client_order_id, run_id, strategy, market, asset_id, side, "
                       "order_type, price, size, filled_size, status, reason, created_ns, updated_ns) "
                       f"VALUES ('o1', 'r1', 'imbalance', '{CID}', '{NO}', 'BUY', 'FAK', 500000, 5000000, "
                       "5000000, 'filled', '', 1, 2)"))
        c.execute(text("INSERT INTO fills (fill_id, client_order_id, run_id, strategy, market, asset_id, side, "
                       f"price, size, fee, liquidity, ts_ns) VALUES ('f1', 'o1', 'r1', 'imbalance', '{CID}', "
                       f"'{NO}', 'BUY', 500000, 5000000, 0, 'taker', 2)"))
        c.execute(text("INSERT INTO positions (run_id, strategy, market, mode, asset_id, status, size, cost, "
                       "realized_pnl, fees, opened_ns) VALUES ('r1', 'imbalance', "
                       f"'{CID}', 'paper', '{NO}', 'open', 5000000, 2500000, 0, 0, 2)"))


def _ids(store: Store) -> dict[str, list[tuple]]:
    with store._engine.connect() as c:  # noqa: SLF001
        return {t: sorted((tuple(r) for r in c.execute(text(f"SELECT market, asset_id FROM {t}"))),
                          key=lambda r: tuple("" if x is None else x for x in r))
                for t in ("signals", "decisions", "orders", "fills", "positions")}


@pytest.fixture
def old_store(db_url: str) -> Iterator[Store]:
    """A store at the revision before venue ids, holding the rows an older engine wrote."""
    store = Store(db_url)
    store.migrate(BEFORE)
    _seed_bare(store)
    yield store
    store.close()


def test_bare_rows_are_qualified_and_the_downgrade_strips_them(old_store: Store) -> None:
    bare = _ids(old_store)
    old_store.migrate()
    assert old_store.revision() == head_revision()
    got = _ids(old_store)
    assert got["positions"] == [(Q + CID, Q + NO)]
    assert got["fills"] == got["orders"] == [(Q + CID, Q + NO)]
    assert got["signals"] == [(Q + CID, Q + YES)]
    # empty and missing ids stay empty and missing
    assert set(got["decisions"]) == {(Q + CID, Q + YES), (Q + CID, None), ("", None), (Q + CID, "")}
    old_store.downgrade(BEFORE)
    assert _ids(old_store) == bare
    old_store.migrate()
    assert _ids(old_store) == got


def test_the_upgrade_leaves_qualified_ids_alone(old_store: Store) -> None:
    """A store an engine with qualified ids already wrote to (or one migrated twice)."""
    with old_store._engine.begin() as c:  # noqa: SLF001
        c.execute(text(f"UPDATE fills SET market = '{Q}{CID}', asset_id = 'BINANCE:ETHUSDT'"))
    old_store.migrate()
    assert _ids(old_store)["fills"] == [(Q + CID, "BINANCE:ETHUSDT")]


def test_a_position_opened_before_the_migration_is_found_by_its_qualified_market(old_store: Store) -> None:
    old_store.migrate()
    (row,) = old_store.open_positions("imbalance", "paper")
    assert (row["market"], row["asset_id"]) == (Q + CID, Q + NO)
    assert old_store.open_position_exists("imbalance", Q + CID, "paper")
    assert not old_store.open_position_exists("imbalance", CID, "paper")
