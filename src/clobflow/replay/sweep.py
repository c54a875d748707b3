"""Parameter sweeps: one backtest per point of a grid, each in its own worker process.

Grid syntax (``parse_grid``), one string or several joined by commas::

    min_imbalance=0.3:0.7:0.1,max_spread=0.01,0.02,sim.submit_latency_ms=20:100:40

- ``key=start:stop:step``: exact decimal arithmetic (``0.3:0.7:0.1`` is 0.3, 0.4, 0.5, 0.6, 0.7;
  ``stop`` is included when it lands on the grid); a negative step counts down.
- ``key=v1,v2,...``: a list; a comma continues the current key until the next ``key=``; ranges
  and values can be mixed (``key=0.1,0.3:0.5:0.1``).
- Values: ``123`` -> int, ``0.5`` / ``1e-3`` -> float (from the exact decimal text),
  ``true``/``false`` -> bool, ``null``/``none`` -> None, anything else a string.
- Keys: a strategy key (``min_imbalance``: applied to every **enabled** strategy),
  ``strategies[i].key`` (one strategy), or ``section.key`` with section ``engine``, ``sim``,
  ``feed`` or ``risk`` (``sim.submit_latency_ms``).

Points are the cartesian product, first key outermost, numbered from 0 in that order; that
number is the run's directory (``OUT/runs/<n>/``: journal, SQLite store, report files). Every
point is validated by the config's own rules before anything runs: an unknown key or a bad value
raises ``GridError`` (one line, naming the key).

Each run is ``engine.backtest.run_backtest`` on the same data, loaded by each worker process
itself (``DatasetSpec``: a name or path plus a selection, never the frames) and cached for the
process's later runs. Runs always store to their own SQLite file (``engine.store_url`` is
cleared: parallel runs must not share a database). Backtests are deterministic and rows are kept
in run order, so the same grid on the same data gives the same table, CSV and JSON.

Outputs (``write_outputs``): ``OUT/sweep.csv`` and ``OUT/sweep.json`` (rows in run order; the
JSON also holds the grid, the data selection and the base config), ``OUT/sweep.png`` (net P&L:
heat-map over two varying parameters, best over the others when more vary; a line over one).
"""

from __future__ import annotations

import csv
import itertools
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import msgspec

from clobflow.core.errors import ConfigError
from clobflow.engine.config import STRATEGY_KINDS, AppConfig, parse_config
from clobflow.replay.executors import SweepExecutor, make_executor, usable_cpus
from clobflow.replay.selection import DatasetSpec, dataset_for, warm_worker
from clobflow.sim.datasets import Dataset

__all__ = [
    "METRICS", "Axis", "DatasetSpec", "GridError", "SweepResult", "SweepTask",
    "apply_params", "dataset_for", "grid_points", "local_workers", "parse_grid", "plan_sweep", "run_sweep",
    "run_task", "warm_worker", "write_outputs",
]

METRICS = ("trades", "win_rate", "pnl_net", "pnl_gross", "fees", "max_drawdown", "sharpe", "signals", "orders",
           "risk_rejects", "top_reject", "halted")
"""Result columns after the parameters: money in USD (floats of the report's exact decimal
strings), ``win_rate`` a fraction or None, ``sharpe`` hourly annualised (``replay.stats``),
``risk_rejects`` the run's count and ``top_reject`` its most frequent reason (``reason count``),
``halted`` the kill switch trips (``strategy:reason`` joined by ``;``, ``""`` when none)."""


def metrics_of(rep: Any) -> dict[str, Any]:
    """A sweep row's ``METRICS`` from a ``replay.report.Report``."""
    top = max(rep.reject_reasons.items(), key=lambda kv: (kv[1], kv[0]), default=None)
    halted = ";".join(f"{n}:{h['kill_switch']}" for n, h in sorted(rep.halts.items()) if h.get("kill_switch"))
    return {
        "trades": rep.trades, "win_rate": rep.win_rate, "pnl_net": float(rep.pnl_net_usd),
        "pnl_gross": float(rep.pnl_gross_usd), "fees": float(rep.fees_usd),
        "max_drawdown": float(rep.max_drawdown_usd), "sharpe": rep.sharpe, "signals": rep.signals,
        "orders": rep.orders, "risk_rejects": rep.risk_rejects,
        "top_reject": f"{top[0]} {top[1]}" if top else "", "halted": halted,
    }

MAX_POINTS = 100_000  # a typo like 0:1:0.0001 x 3 keys should fail, not queue a year of work


class GridError(ValueError):
    """A grid that cannot run; the message is one line naming the key."""


# -- grid ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Axis:
    """One grid key and its values, in grid order."""

    key: str
    values: tuple[Any, ...]


_KEY = re.compile(r"^(?:[A-Za-z_]\w*|strategies\[\d+\])(?:\.[A-Za-z_]\w*)?$")
_STRATEGY_INDEXED = re.compile(r"^strategies\[(\d+)\]\.(\w+)$")
_SECTIONS = {f.name: f.type for f in msgspec.structs.fields(AppConfig) if f.name != "strategies"}
_STRATEGY_KEYS = frozenset(f.name for cls in STRATEGY_KINDS.values() for f in msgspec.structs.fields(cls))


def _number(text: str) -> Decimal | None:
    try:
        d = Decimal(text)
    except InvalidOperation:
        return None
    return d if d.is_finite() else None


def _from_decimal(d: Decimal) -> int | float:
    # written without a fractional part -> int (so int fields like sim.seed work); else float,
    # converted from the exact decimal (float("0.3") is the double nearest 0.3, as in YAML)
    return int(d) if d.as_tuple().exponent >= 0 else float(d)  # type: ignore[operator]


def _scalar(text: str) -> Any:
    low = text.lower()
    if low in ("true", "false"):
        return low == "true"
    if low in ("null", "none"):
        return None
    d = _number(text)
    return text if d is None else _from_decimal(d)


def _range(key: str, text: str) -> list[int | float]:
    parts = text.split(":")
    nums = [_number(p.strip()) for p in parts]
    if len(parts) != 3 or any(n is None for n in nums):
        raise GridError(f"grid key {key!r}: range {text!r} must be start:stop:step with numbers")
    start, stop, step = nums  # type: ignore[misc]
    if step == 0 or (stop - start) * step < 0:
        raise GridError(f"grid key {key!r}: step {step} does not go from {start} to {stop}")
    count = int((stop - start) / step) + 1  # Decimal: exact for decimal steps; floor of a ratio
    if count > MAX_POINTS:
        raise GridError(f"grid key {key!r}: range {text!r} has {count:,} points (max {MAX_POINTS:,})")
    return [_from_decimal(start + i * step) for i in range(count)]


def parse_grid(spec: str | Sequence[str]) -> list[Axis]:
    """Parse grid text (see the module docstring) into axes, in the order given.

    Raises:
        GridError: empty grid, a value without a key, a repeated key or value, an empty value,
            a bad range, or more than ``MAX_POINTS`` points. Keys are checked by ``apply_params``.
    """
    text = spec if isinstance(spec, str) else ",".join(spec)
    if not text.strip():
        raise GridError("empty grid: give key=start:stop:step or key=v1,v2,...")
    groups: list[tuple[str, list[str]]] = []
    for piece in (p.strip() for p in text.split(",")):
        if "=" in piece:
            key, _, first = (s.strip() for s in piece.partition("="))
            if not _KEY.match(key):
                raise GridError(f"grid key {key!r} is not a name (key, section.key or strategies[i].key)")
            if any(k == key for k, _ in groups):
                raise GridError(f"grid key {key!r} is given twice")
            groups.append((key, [first]))
        elif not groups:
            raise GridError(f"grid value {piece!r} has no key: write key=value[,value...]")
        else:
            groups[-1][1].append(piece)
    axes = []
    for key, pieces in groups:
        values: list[Any] = []
        for p in pieces:
            if not p:
                raise GridError(f"grid key {key!r}: empty value")
            values.extend(_range(key, p) if ":" in p else [_scalar(p)])
        if len({(type(v) is bool, v) for v in values}) != len(values):
            raise GridError(f"grid key {key!r}: a value is repeated in {','.join(pieces)}")
        axes.append(Axis(key, tuple(values)))
    total = 1
    for a in axes:
        total *= len(a.values)
    if total > MAX_POINTS:
        raise GridError(f"the grid has {total:,} points (max {MAX_POINTS:,})")
    return axes


def grid_points(axes: Sequence[Axis]) -> list[dict[str, Any]]:
    """The cartesian product of ``axes`` as ``{key: value}`` dicts, first axis outermost."""
    keys = [a.key for a in axes]
    return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*(a.values for a in axes))]


def _targets(config: AppConfig, key: str) -> list[tuple[str | int, ...]]:
    """Paths into ``to_builtins(config)`` that grid ``key`` sets."""
    m = _STRATEGY_INDEXED.match(key)
    if m:
        i, k = int(m.group(1)), m.group(2)
        if i >= len(config.strategies):
            raise GridError(f"grid key {key!r}: the config has {len(config.strategies)} strategies")
        if k not in _STRATEGY_KEYS:
            raise GridError(f"grid key {key!r}: {k!r} is not a strategy key")
        return [("strategies", i, k)]
    if "." in key:
        section, k = key.split(".", 1)
        if section not in _SECTIONS:
            raise GridError(f"grid key {key!r}: unknown section {section!r} (one of {', '.join(_SECTIONS)})")
        if k not in {f.name for f in msgspec.structs.fields(_SECTIONS[section])}:
            raise GridError(f"grid key {key!r}: {section} has no key {k!r}")
        return [(section, k)]
    if key not in _STRATEGY_KEYS:
        raise GridError(f"unknown grid key {key!r}: not a strategy key (e.g. min_imbalance) nor section.key "
                        f"(e.g. sim.submit_latency_ms)")
    paths: list[tuple[str | int, ...]] = [("strategies", i, key) for i, s in enumerate(config.strategies) if s.enabled]
    if not paths:
        raise GridError(f"grid key {key!r}: the config has no enabled strategy")
    return paths


def apply_params(config: AppConfig, params: Mapping[str, Any]) -> AppConfig:
    """``config`` with each grid key set to its value, validated like a loaded file.

    Raises:
        GridError: an unknown key, or a value the config refuses (the message names the grid
            key, the value and the config's own reason).
    """
    data = msgspec.to_builtins(config)
    for key, value in params.items():
        for path in _targets(config, key):
            node: Any = data
            for p in path[:-1]:
                node = node[p]
            node[path[-1]] = value
    try:
        return parse_config(data, "grid")
    except ConfigError as exc:
        point = ", ".join(f"{k}={_label(v)}" for k, v in params.items())
        raise GridError(f"{point}: {exc.key}: {exc.message}") from None


def _validated(base: AppConfig, params: Mapping[str, Any]) -> AppConfig:
    """``apply_params``; on failure, blame a single key=value when one fails on its own (a
    clearer message than the whole point), else the point (keys that only clash together)."""
    try:
        return apply_params(base, params)
    except GridError:
        if len(params) > 1:
            for k, v in params.items():
                apply_params(base, {k: v})
        raise


def _label(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)  # floats print in their shortest exact form: 0.3, not 0.30000000000000004


# -- one run -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class SweepTask:
    """One grid point: the full config as builtins (re-validated in the worker), where to write."""

    n: int
    params: tuple[tuple[str, Any], ...]
    config: dict
    dataset: DatasetSpec
    out_dir: str
    phase: str = ""  # "", or "train"/"test" in a split sweep


def run_task(task: SweepTask) -> dict[str, Any]:
    """Run one backtest and its report in ``task.out_dir``; return its row: ``run``, the
    parameters, ``METRICS``, ``error`` (``""``, or ``"Type: message"`` with the metrics None;
    a failing point does not lose the rest of the sweep)."""
    from clobflow.engine.backtest import run_backtest
    from clobflow.replay.report import report_run

    row: dict[str, Any] = {"run": task.n, **dict(task.params)}
    row.update(dict.fromkeys(METRICS))
    try:
        cfg = parse_config(task.config, "grid")
        res = run_backtest(cfg, dataset_for(task.dataset), task.out_dir)
        rep, _paths, _texts = report_run(res.kernel, run_id=res.run_id, mode="backtest", frames=res.frames,
                                         starting_cash_usd=cfg.engine.starting_cash_usd, out_dir=task.out_dir)
        row.update(metrics_of(rep))
        row["error"] = ""
    except Exception as exc:  # noqa: BLE001 - reported in the row and by the CLI
        row["error"] = f"{type(exc).__name__}: {exc}".splitlines()[0]
    return row


# -- the sweep ---------------------------------------------------------------------------------

@dataclass
class SweepResult:
    """Rows in run order (``rows[n]`` is run ``n``) and the files written."""

    axes: list[Axis]
    rows: list[dict[str, Any]]
    paths: list[Path] = field(default_factory=list)
    split_ns: int | None = None  # a train/test sweep: METRICS are in-sample, test_* out-of-sample

    @property
    def keys(self) -> list[str]:
        return [a.key for a in self.axes]

    @property
    def columns(self) -> list[str]:
        test = [f"test_{m}" for m in METRICS] + ["test_error"] if self.split_ns is not None else []
        return ["run", *self.keys, *METRICS, "error", *test]

    def ranked(self) -> list[dict[str, Any]]:
        """Rows by net P&L (in-sample in a split sweep: the test half never chooses), best
        first; ties by run number; failed runs last."""
        return sorted(self.rows, key=lambda r: (r["pnl_net"] is None, -(r["pnl_net"] or 0.0), r["run"]))

    def best(self) -> dict[str, Any] | None:
        """The best row by in-sample net P&L (``None`` when every run failed)."""
        top = self.ranked()[0] if self.rows else None
        return top if top is not None and top["pnl_net"] is not None else None


def split_time(dataset: Dataset, fraction: float) -> int:
    """The train/test boundary at ``fraction`` of the data's receive-time span, moved forward
    to the next market window start (``BinaryMarket.start_ns``) so no window is cut in two
    (unchanged when no window starts after it).

    Raises:
        ValueError: ``fraction`` outside (0, 1), or data without frames.
    """
    if not 0 < fraction < 1:
        raise ValueError(f"split {fraction} must be in (0, 1)")
    if not dataset.frames:
        raise ValueError("no frames to split")
    first, last = dataset.frames[0].ts_recv_ns, dataset.frames[-1].ts_recv_ns
    raw = first + int((last - first) * fraction)
    starts = [m.start_ns for m in dataset.markets if m.start_ns is not None and raw <= m.start_ns < last]
    return min(starts) if starts else raw


def plan_sweep(config: AppConfig, axes: Sequence[Axis], dataset: DatasetSpec, out_dir: str | Path,
               split_ns: int | None = None) -> list[SweepTask]:
    """One validated task per grid point (run ``n`` writes ``out_dir/runs/<n>``). The base config
    loses ``engine.store_url``: every run gets its own SQLite file.

    With ``split_ns`` every point runs twice: on the data before it (``runs/<n>/train``) and
    from it on (``runs/<n>/test``); all train tasks come first (workers load each half once).

    Raises:
        GridError: a key or value the config refuses, or a split outside the data's range.
    """
    out, base = Path(out_dir), _base(config)
    configs = [(n, p, msgspec.to_builtins(_validated(base, p))) for n, p in enumerate(grid_points(axes))]
    if split_ns is None:
        return [SweepTask(n, tuple(p.items()), c, dataset, str(out / "runs" / str(n))) for n, p, c in configs]
    lo, hi = dataset.start_ns, dataset.end_ns
    if (lo is not None and split_ns <= lo) or (hi is not None and split_ns >= hi):
        raise GridError("the train/test split lies outside the selected time range")
    halves = {"train": replace(dataset, end_ns=split_ns), "test": replace(dataset, start_ns=split_ns)}
    return [SweepTask(n, tuple(p.items()), c, spec, str(out / "runs" / str(n) / phase), phase)
            for phase, spec in halves.items() for n, p, c in configs]


def _base(config: AppConfig) -> AppConfig:
    return msgspec.structs.replace(config, engine=msgspec.structs.replace(config.engine, store_url=None))


def run_sweep(
    config: AppConfig,
    axes: Sequence[Axis],
    dataset: DatasetSpec,
    out_dir: str | Path,
    *,
    executor: SweepExecutor | str = "local",
    workers: int | None = None,
    address: str | None = None,
    on_row: Callable[[dict[str, Any]], None] | None = None,
    split_ns: int | None = None,
) -> SweepResult:
    """Run every grid point of ``axes`` on ``config`` and write the outputs in ``out_dir``.

    ``executor``: ``"local"`` (a spawned process pool of ``workers``, default every usable CPU,
    never more than the points), ``"ray"``/``"dask"`` (at ``address``), or a ready
    ``SweepExecutor`` (used, not closed; tasks load the data through the per-process cache, so
    it needs no initializer). ``on_row`` sees each task's row as it arrives, in task order
    (with a split: every train row, then every test row; a row's ``phase`` says which).
    ``split_ns``: a train/test sweep (``plan_sweep``): each row holds the in-sample metrics and,
    beside them, the out-of-sample ones as ``test_<metric>``; ranking uses the train half only.

    Raises:
        GridError: a key or value the config refuses (before anything runs).
        ExecutorUnavailable: the ray/dask package is missing.
    """
    tasks = plan_sweep(config, axes, dataset, out_dir, split_ns)
    own = isinstance(executor, str)
    ex = make_executor(executor, workers=local_workers(workers, len(tasks)), address=address,  # type: ignore[arg-type]
                       initializer=warm_worker, initargs=(tasks[0].dataset,)) if own else executor
    done: list[dict[str, Any]] = []
    try:
        for task, row in zip(tasks, ex.map(run_task, tasks), strict=True):
            row["phase"] = task.phase
            done.append(row)
            if on_row is not None:
                on_row(row)
    finally:
        if own:
            ex.close()
    rows = [r for r in done if r["phase"] != "test"]
    for r, t in zip(rows, [r for r in done if r["phase"] == "test"], strict=False):
        r.update({f"test_{m}": t[m] for m in METRICS}, test_error=t["error"])
    for r in done:
        del r["phase"]
    result = SweepResult(list(axes), rows, split_ns=split_ns)
    result.paths = write_outputs(Path(out_dir), result, dataset=dataset, config=_base(config))
    return result


def local_workers(workers: int | None, points: int) -> int:
    """The local pool size: ``workers`` (default every usable CPU), at most one per point."""
    return max(1, min(workers or usable_cpus(), points))


def write_outputs(out_dir: Path, result: SweepResult, *, dataset: DatasetSpec | None = None,
                  config: AppConfig | None = None) -> list[Path]:
    """Write ``sweep.csv``, ``sweep.json`` and ``sweep.png``; return their paths. No times or
    absolute output paths go in, so the same sweep writes the same bytes."""
    out_dir.mkdir(parents=True, exist_ok=True)
    columns = result.columns
    csv_path, json_path, png_path = out_dir / "sweep.csv", out_dir / "sweep.json", out_dir / "sweep.png"
    with open(csv_path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(columns)
        for r in result.rows:
            w.writerow(["" if r.get(c) is None else _label(r[c]) for c in columns])
    doc = {
        "grid": {a.key: list(a.values) for a in result.axes},
        "dataset": asdict(dataset) if dataset is not None else None,
        "config": msgspec.to_builtins(config) if config is not None else None,
        "split_ns": result.split_ns,
        "best_run_by_train": (result.best() or {}).get("run") if result.split_ns is not None else None,
        "columns": columns,
        "rows": [{c: r.get(c) for c in columns} for r in result.rows],
    }
    json_path.write_text(json.dumps(doc, indent=1) + "\n")
    plot_sweep(result, png_path)
    return [csv_path, json_path, png_path]


def plot_sweep(result: SweepResult, path: Path) -> None:
    """Net P&L over the grid: a heat-map of the first two varying keys (cells: the best run over
    any other varying keys), a line over one varying key, one bar for a single point."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    varying = [a for a in result.axes if len(a.values) > 1]
    ok = [r for r in result.rows if r["pnl_net"] is not None]
    fig, ax = plt.subplots(figsize=(8, 5.5), dpi=100)
    if len(varying) >= 2:
        ya, xa = varying[0], varying[1]
        grid: list[list[float]] = [[float("nan")] * len(xa.values) for _ in ya.values]
        for r in ok:  # best over the other keys
            i, j = ya.values.index(r[ya.key]), xa.values.index(r[xa.key])
            cell = grid[i][j]
            grid[i][j] = r["pnl_net"] if cell != cell or r["pnl_net"] > cell else cell  # nan != nan
        finite = [v for row in grid for v in row if v == v]
        lo, hi = (min(finite), max(finite)) if finite else (-1.0, 1.0)
        span = max(abs(lo), abs(hi), 0.01)  # symmetric around 0: red losses, green gains
        im = ax.imshow(grid, cmap="RdYlGn", vmin=-span, vmax=span, origin="lower", aspect="auto")
        for i, row in enumerate(grid):
            for j, v in enumerate(row):
                if v == v:
                    ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=8)
        ax.set_xticks(range(len(xa.values)), [_label(v) for v in xa.values])
        ax.set_yticks(range(len(ya.values)), [_label(v) for v in ya.values])
        fig.colorbar(im, ax=ax, label="net P&L (USD)")
        extra = f" (best over {', '.join(a.key for a in varying[2:])})" if len(varying) > 2 else ""
        ax.set(xlabel=xa.key, ylabel=ya.key, title=f"net P&L by {ya.key} and {xa.key}{extra}")
    elif len(varying) == 1:
        a = varying[0]
        numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in a.values)
        pts = [(r[a.key], r["pnl_net"]) for r in ok]
        xs = [v if numeric else a.values.index(v) for v, _ in pts]
        ax.plot(xs, [p for _, p in pts], marker="o")
        if not numeric:
            ax.set_xticks(range(len(a.values)), [_label(v) for v in a.values])
        ax.axhline(0, color="grey", lw=0.8)
        ax.set(xlabel=a.key, ylabel="net P&L (USD)", title=f"net P&L by {a.key}")
        ax.grid(alpha=0.3)
    else:
        ax.bar(["run 0"], [ok[0]["pnl_net"] if ok else 0.0])
        ax.set(ylabel="net P&L (USD)", title="net P&L (single point)")
    fig.tight_layout()
    fig.savefig(path, metadata={"Software": None})  # no version stamp: same sweep, same bytes
    plt.close(fig)
