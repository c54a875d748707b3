"""kill -9 / restart suite: paper runs SIGKILLed at random points and restarted on the same
store, then store = journal = simulator ledger for every run (no order or fill lost or
doubled) and every killed run marked ``crashed``.

One ``clobflow venue`` subprocess (the bundled BTC 15-minute recording at 100x, looping) feeds
every run; each cycle starts ``clobflow run --mode paper`` on the same output folder and store,
kills it with SIGKILL a random 0.2-5 s after start, right after it logs an order or a fill (the
moment the store's last batch is most likely unwritten), or right after the simulated venue's
ledger grows (the venue answered; the engine may not have heard yet), and the next start
recovers it (``engine.recovery``: the journal, then the simulator's ledger through
``engine.reconcile``). A last clean run ends the series; ``engine.audit`` compares each run's
journal, store and simulator ledger.

Run from the repository root:
``python bench/kill_restart.py --cycles 20 [--db sqlite|postgresql] [--pg-url URL] [--seed N]``
(PostgreSQL: a throwaway schema in ``--pg-url``, default ``$CLOBFLOW_TEST_POSTGRES_URL``).
Prints one line per cycle, then the audit; exit status 1 if any run fails it.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import secrets
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

import sqlalchemy as sa  # noqa: E402

from clobflow.engine.audit import audit_run  # noqa: E402
from clobflow.sim.ledger import ledger_path, read_ledger  # noqa: E402
from clobflow.store.engine import normalize_url  # noqa: E402
from clobflow.store.store import Store  # noqa: E402
from tests.engine.procs import kill_restart_cycles, trading_config, venue  # noqa: E402


def _pg_schema(base: str) -> tuple[str, str]:
    name = f"kill_{secrets.token_hex(4)}"
    url = normalize_url(base)
    eng = sa.create_engine(url)
    with eng.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{name}"')
    eng.dispose()
    return name, url.update_query_dict({"options": f"-csearch_path={name}"}).render_as_string(hide_password=False)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cycles", type=int, default=20)
    ap.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    ap.add_argument("--pg-url", default=os.environ.get("CLOBFLOW_TEST_POSTGRES_URL", ""))
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="clobflow-kill-"))
    if args.db == "sqlite":
        store_url = f"sqlite:///{work / 'store.sqlite'}"
    else:
        if not args.pg_url:
            sys.exit("--pg-url (or CLOBFLOW_TEST_POSTGRES_URL) is needed for --db postgresql")
        _schema, store_url = _pg_schema(args.pg_url)
    out = work / "out"
    cfg = trading_config(work / "cfg.yaml", store_url)
    t0 = time.monotonic()
    with venue(speed=100) as http:
        res = kill_restart_cycles(http, cfg, out, store_url, args.cycles, random.Random(args.seed),
                                  log=lambda s: print(s, flush=True))
    store = Store(store_url)
    try:
        runs = [*res["killed"], res["final"]]
        audits = [audit_run(store, rid, out / f"journal-{rid}.jsonl", read_ledger(ledger_path(out, rid)))
                  for rid in runs]
        leftover = [r["run_id"] for r in store.running_runs()]
    finally:
        store.close()
    recovered = [tuple(int(x) for x in m) for o in res["outputs"]
                 for m in re.findall(r"(\d+) order\(s\), (\d+) fill\(s\) added, (\d+) order\(s\) and (\d+) position", o)]
    from_ledger = [tuple(int(x) for x in m) for o in res["outputs"] for m in re.findall(
        r"from the simulator's ledger: (\d+) order\(s\), (\d+) fill\(s\) added, (\d+) position", o)]
    bad = [a for a in audits if not a.ok]
    statuses = [a.status for a in audits]
    print(f"\n{args.db}: {len(res['killed'])} kill -9 cycles + 1 clean run in {time.monotonic() - t0:.0f} s")
    print(f"runs: {statuses.count('crashed')} crashed, {statuses.count('finished')} finished, "
          f"{len(leftover)} still 'running'")
    print(f"journal: {sum(a.journal_orders for a in audits)} orders, {sum(a.journal_fills for a in audits)} fills; "
          f"store: {sum(a.store_orders for a in audits)} orders, {sum(a.store_fills for a in audits)} fills")
    print(f"simulator ledger: {sum(a.venue_orders or 0 for a in audits)} orders arrived, "
          f"{sum(a.venue_fills or 0 for a in audits)} fills; orders sent but never arrived (killed in flight) "
          f"{sum(a.orders_not_at_venue for a in audits)}")
    print(f"adopted at restart from the ledger (the engine never heard): {sum(r[0] for r in from_ledger)} orders, "
          f"{sum(r[1] for r in from_ledger)} fills, {sum(r[2] for r in from_ledger)} positions opened")
    print(f"recovered at restart from journals: {sum(r[0] for r in recovered)} orders, "
          f"{sum(r[1] for r in recovered)} fills added; {sum(r[2] for r in recovered)} orders, "
          f"{sum(r[3] for r in recovered)} positions corrected")
    print(f"lost orders {sum(len(a.missing_orders) for a in audits)}, lost fills "
          f"{sum(len(a.missing_fills) for a in audits)}, extra {sum(len(a.extra_orders) + len(a.extra_fills) for a in audits)}, "
          f"doubled fills {sum(len(a.doubled_fills) for a in audits)}, filled_size mismatches "
          f"{sum(len(a.filled_mismatch) for a in audits)}; store vs ledger: fills missing "
          f"{sum(len(a.venue_fills_not_stored) for a in audits)}, fills the venue never made "
          f"{sum(len(a.stored_fills_not_at_venue) for a in audits)}, venue orders not stored "
          f"{sum(len(a.venue_orders_not_stored) for a in audits)}; unfilled orders stored but not journaled "
          f"(killed within their event) {sum(len(a.unjournaled_orders) for a in audits)}")
    for a in bad:
        print("FAILED", a.as_dict())
    ok = not bad and statuses == ["crashed"] * len(res["killed"]) + ["finished"] and not leftover
    print("OK" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
