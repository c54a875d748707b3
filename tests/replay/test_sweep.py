"""A small sweep in worker processes equals the same backtests run one by one in-process, and is
repeatable; it uses every usable CPU at once; the same sweep on a real ``dask.distributed``
LocalCluster (2 worker processes on loopback; ``dask[distributed]`` is in the test extra) and on
a local Ray instance (when the optional ``ray`` is installed, else skipped with the reason)
gives the local pool's rows, ``sweep.csv``/``sweep.json`` bytes and run journals; the executors'
contracts; the CLI's one-line errors."""

from __future__ import annotations

import csv
import json
import multiprocessing
import operator
import os
import sys

import pytest
import typer
from typer.testing import CliRunner

from clobflow.cli import sweep_cmd
from clobflow.cli.errors import UserError
from clobflow.core.numbers import micros_from_number
from clobflow.engine.backtest import run_backtest
from clobflow.engine.config import parse_config
from clobflow.replay.executors import DaskExecutor, ExecutorUnavailable, LocalExecutor, make_executor, usable_cpus
from clobflow.replay.report import build_report
from clobflow.replay.selection import DatasetSpec
from clobflow.replay.sweep import METRICS, apply_params, grid_points, local_workers, parse_grid, run_sweep

# Six windows of 2025-12-26 (~5,000 frames): enough for the grid to change the outcome.
SPEC = DatasetSpec("pm-btc15m-tob-1s", limit_markets=6)
GRID = "min_imbalance=0.3:0.5:0.2,max_spread=0.01,0.02"
BASE = {"engine": {"mode": "backtest"}}
OUTPUTS = ("sweep.csv", "sweep.json")


@pytest.fixture(scope="module")
def sweeps(tmp_path_factory):
    """The same 2x2 sweep twice, 2 worker processes each."""
    cfg, axes = parse_config(BASE), parse_grid(GRID)
    out = [tmp_path_factory.mktemp(f"sweep{i}") for i in range(2)]
    return cfg, axes, out, [run_sweep(cfg, axes, SPEC, d, workers=2) for d in out]


def test_sweep_rows_equal_in_process_backtests(sweeps, tmp_path):
    cfg, axes, out, (first, _) = sweeps
    points = grid_points(axes)
    assert [r["run"] for r in first.rows] == [0, 1, 2, 3]
    assert [{k: r[k] for k in first.keys} for r in first.rows] == points
    assert all(r["error"] == "" for r in first.rows), first.rows
    ds = SPEC.load()
    pnls = set()
    for n, params in enumerate(points):
        c = apply_params(cfg, params)
        res = run_backtest(c, ds, tmp_path / str(n))
        k = res.kernel
        rep, _ = build_report(run_id=res.run_id, mode="backtest", frames=res.frames, portfolio=k.portfolio,
                              starting_cash=micros_from_number(c.engine.starting_cash_usd), markets=k.markets,
                              journal_counts=k.journal.counts, counters=k.counters, max_exposure=k.max_exposure,
                              bought=k.bought)
        row = first.rows[n]
        assert row["pnl_net"] == float(rep.pnl_net_usd), params
        assert (row["trades"], row["signals"], row["orders"], row["win_rate"]) == (
            rep.trades, rep.signals, rep.orders, rep.win_rate)
        assert row["pnl_gross"] == float(rep.pnl_gross_usd) and row["fees"] == float(rep.fees_usd)
        pnls.add(row["pnl_net"])
        # each run wrote its own journal and store
        run_dir = out[0] / "runs" / str(n)
        assert (run_dir / "journal.jsonl").stat().st_size > 0 and (run_dir / "clobflow.sqlite").exists()
        assert (run_dir / "report.json").exists()
    assert len(pnls) > 1  # the grid matters on this data, so equality above is not vacuous


def test_sweep_outputs_and_a_second_sweep_is_identical(sweeps):
    _, _, out, (first, second) = sweeps
    assert first.rows == second.rows
    assert first.ranked() == second.ranked()
    assert [r["pnl_net"] for r in first.ranked()] == sorted((r["pnl_net"] for r in first.rows), reverse=True)
    for name in ("sweep.csv", "sweep.json"):
        assert (out[0] / name).read_bytes() == (out[1] / name).read_bytes(), name
    assert (out[0] / "sweep.png").stat().st_size > 1000
    with open(out[0] / "sweep.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["run", "min_imbalance", "max_spread", *METRICS, "error"]
    assert [float(r["pnl_net"]) for r in rows] == [r["pnl_net"] for r in first.rows]
    doc = json.loads((out[0] / "sweep.json").read_text())
    assert doc["grid"] == {"min_imbalance": [0.3, 0.5], "max_spread": [0.01, 0.02]}
    assert doc["rows"] == first.rows and doc["dataset"]["limit_markets"] == 6


def test_local_executor_keeps_item_order_and_raises_task_errors():
    with LocalExecutor(2) as ex:
        assert list(ex.map(operator.neg, range(7))) == [-i for i in range(7)]
        with pytest.raises(TypeError):
            list(ex.map(operator.neg, ["x"]))
    with pytest.raises(ValueError, match="workers must be >= 1"):
        LocalExecutor(0)


def _wait_together(barrier) -> int:
    barrier.wait(timeout=60)  # opens only when every party waits at the same time
    return os.getpid()


def test_the_local_pool_uses_every_usable_cpu_at_once():
    n = usable_cpus()
    assert n == len(os.sched_getaffinity(0))
    assert LocalExecutor().workers == n and local_workers(None, 1000) == n and local_workers(None, 3) == min(n, 3)
    with multiprocessing.Manager() as mgr, LocalExecutor() as ex:
        barrier = mgr.Barrier(n)
        pids = list(ex.map(_wait_together, [barrier] * n))
    assert len(set(pids)) == n and os.getpid() not in pids


def same_as_local(sweeps, out, result) -> None:
    _, _, (ref_dir, _), (ref, _) = sweeps
    assert all(r["error"] == "" for r in result.rows), result.rows
    assert result.rows == ref.rows
    assert len({r["pnl_net"] for r in ref.rows}) > 1  # the grid matters: equality is not vacuous
    for name in OUTPUTS:
        assert (out / name).read_bytes() == (ref_dir / name).read_bytes(), name
    for n in range(len(ref.rows)):  # each run's journal, written on a worker, is the local one
        a, b = ref_dir / "runs" / str(n) / "journal.jsonl", out / "runs" / str(n) / "journal.jsonl"
        assert a.read_bytes() == b.read_bytes() and a.stat().st_size > 0, n


def test_a_dask_local_cluster_gives_the_local_pool_s_sweep(sweeps, tmp_path):
    distributed = pytest.importorskip("dask.distributed", reason="dask[distributed] is not installed (test extra)")
    cfg, axes, _, _ = sweeps
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None, silence_logs=40) as cluster:
        # as `clobflow sweep --executor dask --executor-address tcp://...`
        result = run_sweep(cfg, axes, SPEC, tmp_path, executor="dask", address=cluster.scheduler_address)
        with distributed.Client(cluster) as client:
            # the backtests ran in the cluster's worker processes, not here
            ran = client.run(lambda: __import__("sys").modules.get("clobflow.engine.backtest") is not None)
    assert len(ran) == 2 and any(ran.values())
    same_as_local(sweeps, tmp_path, result)
    # a cluster that cannot be reached is one line
    import dask

    with dask.config.set({"distributed.comm.timeouts.connect": "2s"}), DaskExecutor("tcp://127.0.0.1:9") as ex:
        with pytest.raises(ExecutorUnavailable, match="cannot reach Dask") as err:
            list(ex.map(abs, [1]))
    assert "\n" not in str(err.value)


def test_a_local_ray_instance_gives_the_local_pool_s_sweep(sweeps, tmp_path):
    ray = pytest.importorskip("ray", reason="ray is not installed (optional: pip install 'clobflow[ray]')")
    cfg, axes, _, _ = sweeps
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, _node_ip_address="127.0.0.1")
    try:
        result = run_sweep(cfg, axes, SPEC, tmp_path, executor="ray")  # joins the running instance
    finally:
        ray.shutdown()
    same_as_local(sweeps, tmp_path, result)


@pytest.mark.parametrize(("kind", "modules"), [("ray", ["ray"]), ("dask", ["dask", "dask.distributed"])])
def test_cluster_executors_fail_clearly_when_not_installed(monkeypatch, kind, modules):
    for m in modules:
        monkeypatch.setitem(sys.modules, m, None)  # makes `import m` raise ImportError
    with pytest.raises(ExecutorUnavailable) as err:
        make_executor(kind, address="ray://head:10001")
    msg = str(err.value)
    assert "\n" not in msg and "not installed" in msg and "pip install" in msg
    with pytest.raises(ValueError, match="unknown executor 'spark'"):
        make_executor("spark")


def cli(*args: str):
    app = typer.Typer()
    app.command("sweep")(sweep_cmd.sweep)
    app.command("noop")(lambda: None)
    return CliRunner().invoke(app, ["sweep", *args])


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--grid", "min_imbalanse=0.3"], "'min_imbalanse'"),
        (["--grid", "min_imbalance=0.5:1.5:0.5"], "min_imbalance=1.5: strategies[0].min_imbalance"),
        (["--grid", "min_imbalance=0.3", "--executor", "ray"], "--executor ray"),
        (["--grid", "min_imbalance=0.3", "--executor", "spark"], "--executor 'spark'"),
        (["--grid", "min_imbalance=0.3", "--start", "soon"], "--start: 'soon'"),
        (["--grid", "min_imbalance=0.3", "--data", "nope"], "--data 'nope'"),
    ],
)
def test_cli_errors_are_one_line_before_any_work(monkeypatch, tmp_path, args, needle):
    monkeypatch.setitem(sys.modules, "ray", None)
    res = cli(*args, "--out", str(tmp_path))
    assert isinstance(res.exception, UserError), res.output
    assert needle in str(res.exception) and "\n" not in str(res.exception)
    assert not (tmp_path / "runs").exists()


def test_cli_sweep_prints_the_ranked_table(tmp_path):
    res = cli("--grid", "max_spread=0.01,0.02", "--limit-markets", "3", "--market", "btc-updown-15m-1766745000", "--market",
              "btc-updown-15m-1766745900", "--workers", "2", "--out", str(tmp_path))
    assert res.exit_code == 0, (res.output, res.exception)
    assert "sweep by net P&L" in res.output and "max_spread" in res.output
    assert all((tmp_path / n).exists() for n in ("sweep.csv", "sweep.json", "sweep.png"))


def test_a_train_test_split_runs_each_point_on_both_halves_and_chooses_on_train(tmp_path):
    """--split: every point runs before and after the boundary (a window start); the row holds
    the in-sample metrics with the out-of-sample ones beside them; the best is the best train
    net P&L, whatever the test half says; each half equals a plain backtest of that half."""
    from dataclasses import replace

    from clobflow.replay.sweep import split_time

    spec = DatasetSpec("pm-btc15m-tob-1s", limit_markets=8)
    ds = spec.load()
    cut = split_time(ds, 0.6)
    assert cut in {m.start_ns for m in ds.markets}  # moved to a window start: no window is cut
    cfg, axes = parse_config(BASE), parse_grid(GRID)
    seen = []
    res = run_sweep(cfg, axes, spec, tmp_path, workers=2, split_ns=cut, on_row=seen.append)
    assert len(seen) == 8 and len(res.rows) == 4
    assert all(r["error"] == "" and r["test_error"] == "" for r in res.rows)
    best = res.best()
    assert best["pnl_net"] == max(r["pnl_net"] for r in res.rows)
    # the in-sample number is the train half's own backtest; the out-of-sample, the test half's
    for half, key in (("train", "pnl_net"), ("test", "test_pnl_net")):
        sub = replace(spec, end_ns=cut) if half == "train" else replace(spec, start_ns=cut)
        c = apply_params(cfg, grid_points(axes)[best["run"]])
        r = run_backtest(c, sub.load(), tmp_path / f"check-{half}")
        k = r.kernel
        rep, _ = build_report(run_id=r.run_id, mode="backtest", frames=r.frames, portfolio=k.portfolio,
                              starting_cash=micros_from_number(c.engine.starting_cash_usd), markets=k.markets,
                              journal_counts=k.journal.counts, counters=k.counters, max_exposure=k.max_exposure)
        assert best[key] == float(rep.pnl_net_usd), half
    with open(tmp_path / "sweep.csv", newline="") as f:
        cols = next(csv.reader(f))
    assert "test_pnl_net" in cols and "test_halted" in cols and "risk_rejects" in cols
    doc = json.loads((tmp_path / "sweep.json").read_text())
    assert doc["split_ns"] == cut and doc["best_run_by_train"] == best["run"]
    assert (tmp_path / "runs" / str(best["run"]) / "test" / "report.json").exists()


def test_the_cli_counts_runs_from_one_and_shows_halts_and_rejects(tmp_path):
    out = tmp_path / "cli"
    r = cli("--config", "config/imbalance.yaml", "--limit-markets", "4", "--workers", "1",
            "--grid", "min_imbalance=0.3,0.5", "--out", str(out), "--train-until", "2025-12-26T11:15:00Z")
    assert r.exit_code == 0, r.output
    assert "  1/4 (run 0 train)" in r.output and "  4/4 (run 1 test)" in r.output and " 0/4" not in r.output
    assert "risk rejects" in r.output and "halted" in r.output and "best on train: run" in r.output
    # piped output is not cut at 80 columns: the table's numbers are not elided
    assert "…" not in r.output
