"""Where a sweep's backtests run: local worker processes, or a Ray / Dask cluster.

The contract (``SweepExecutor``) is one method: ``map(fn, items)`` returns an iterator over
``fn(item)`` **in the order of** ``items`` (a sweep's table must not depend on which worker
finished first), plus ``close()``. ``fn`` and every item must be picklable (module-level
functions, plain data). An exception raised by ``fn`` is re-raised by the iterator.

An optional ``initializer(*initargs)`` prepares a worker, e.g. loads the dataset once per process.
The local pool runs it once per worker process; the cluster adapters cannot hook worker start-up
portably, so they call it before **every** task: it must be idempotent and cheap when repeated
(the sweep's loader caches the dataset per process, so only the first call loads).

- ``LocalExecutor(workers)``: a ``concurrent.futures.ProcessPoolExecutor`` on the ``spawn``
  context. Spawn, not fork: the parent may hold threads (Rich's progress refresher, SQLAlchemy
  pools) that a fork would copy mid-operation, and spawned workers start exactly like cluster
  workers do (import clobflow, load the data themselves), so the local path tests the remote one.
- ``RayExecutor(address)`` / ``DaskExecutor(address)``: adapters importing ``ray`` /
  ``dask.distributed`` lazily. Neither is a clobflow dependency; without the package the
  constructor raises ``ExecutorUnavailable`` with a one-line message.

Running a sweep on a cluster
----------------------------
1. Install clobflow (the same version) **and** the scheduler package in the driver's environment
   and on every worker: ``pip install 'ray[default]'`` or ``pip install 'dask[distributed]'``.
2. Make the data visible to every worker at the same path: a raw-frame recording on a shared
   filesystem (``--data /shared/rec/frames.jsonl.gz``), or the bundled datasets via
   ``CLOBFLOW_DATA_DIR=/shared/data`` set on the workers. Workers load the data themselves;
   frames are never shipped from the driver.
3. ``--out`` must be on a filesystem the workers can write (each run writes ``runs/<n>/``: journal,
   SQLite store, report); the result rows come back to the driver, which writes the sweep table.
4. Run, e.g.::

       clobflow sweep --config config/imbalance.yaml --data /shared/rec/frames.jsonl.gz \\
           --grid "min_imbalance=0.3:0.7:0.1" --out /shared/sweeps/a \\
           --executor ray --executor-address ray://head:10001
       # or: --executor dask --executor-address tcp://scheduler:8786

   Without ``--executor-address`` Ray starts (or joins, via ``RAY_ADDRESS``) a local instance and
   Dask starts a local cluster. ``--workers`` only sizes the local pool; a cluster decides its
   own parallelism.
"""

from __future__ import annotations

import importlib
import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from functools import partial
from typing import Any, Protocol, TypeVar, runtime_checkable

__all__ = [
    "EXECUTORS",
    "DaskExecutor",
    "ExecutorUnavailable",
    "LocalExecutor",
    "RayExecutor",
    "SweepExecutor",
    "make_executor",
    "usable_cpus",
]

T = TypeVar("T")
R = TypeVar("R")

EXECUTORS = ("local", "ray", "dask")


class ExecutorUnavailable(RuntimeError):
    """An executor cannot run tasks: its optional package is missing, its cluster cannot be
    reached, or a local worker process died. The message is one line."""


@runtime_checkable
class SweepExecutor(Protocol):
    """Runs ``fn`` over ``items`` somewhere; results come back in item order."""

    def map(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[R]: ...

    def close(self) -> None: ...


class _Base:
    def __enter__(self):  # noqa: ANN204
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:  # pragma: no cover - overridden
        pass


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity mask, e.g. under ``taskset`` or a
    container's cpuset), which ``os.cpu_count()`` (the machine's) overstates."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):  # not Linux
        return os.cpu_count() or 1


class LocalExecutor(_Base):
    """A pool of ``workers`` spawned processes (default: every usable CPU, ``usable_cpus``),
    created on first ``map`` and kept until ``close()``; ``initializer(*initargs)`` runs once
    in each. Tasks go out one at a time (``chunksize=1``), so every worker is busy while tasks
    remain."""

    def __init__(self, workers: int | None = None, *, initializer: Callable[..., object] | None = None,
                 initargs: tuple = ()) -> None:
        if workers is not None and workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        self.workers = workers or usable_cpus()
        self._initializer = initializer
        self._initargs = initargs
        self._pool: ProcessPoolExecutor | None = None

    def map(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[R]:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                max_workers=self.workers, mp_context=multiprocessing.get_context("spawn"),
                initializer=self._initializer, initargs=self._initargs,
            )
        # chunksize 1: each task is a whole backtest (seconds), so balance beats batching.
        return _unbroken(self._pool.map(fn, items, chunksize=1))

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


def _unbroken(results: Iterator[R]) -> Iterator[R]:
    try:
        yield from results
    except BrokenProcessPool:
        raise ExecutorUnavailable(
            "a worker process died (killed, out of memory, or the calling script lacks the "
            "`if __name__ == '__main__':` guard that spawned workers need)"
        ) from None


def _init_then(initializer: Callable[..., object] | None, initargs: tuple, fn: Callable[[T], R], item: T) -> R:
    """Cluster task body: (idempotent) worker set-up, then the task."""
    if initializer is not None:
        initializer(*initargs)
    return fn(item)


def _require(module: str, executor: str, install: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError:
        raise ExecutorUnavailable(
            f"the {executor} executor needs the optional package {module.split('.')[0]!r}, which is not "
            f"installed: pip install '{install}' (here and on every worker), or use --executor local"
        ) from None


class RayExecutor(_Base):
    """Tasks on a Ray cluster at ``address`` (``ray://head:10001``; ``None``: ``RAY_ADDRESS`` or
    a local instance). One Ray task per item; results fetched in item order."""

    def __init__(self, address: str | None = None, *, initializer: Callable[..., object] | None = None,
                 initargs: tuple = ()) -> None:
        self._ray = _require("ray", "ray", "ray[default]")
        self._address = address
        self._initializer = initializer
        self._initargs = initargs
        self._started = False

    def map(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[R]:
        ray = self._ray
        if not ray.is_initialized():
            try:
                ray.init(address=self._address, ignore_reinit_error=True, log_to_driver=False)
            except Exception as exc:  # noqa: BLE001 - any connection failure becomes one line
                raise ExecutorUnavailable(f"cannot reach Ray at {self._address or 'auto'}: {exc}") from None
            self._started = True
        # ray.remote wants a plain function (not a partial): pass the set-up as arguments
        task = ray.remote(_init_then)
        init, args = self._initializer, self._initargs
        refs = [task.remote(init, args, fn, item) for item in items]  # submit all, collect in order
        return (ray.get(ref) for ref in refs)

    def close(self) -> None:
        if self._started:
            self._ray.shutdown()
            self._started = False


class DaskExecutor(_Base):
    """Futures on a Dask cluster at ``address`` (``tcp://scheduler:8786``; ``None``: a local
    cluster). Results gathered in item order."""

    def __init__(self, address: str | None = None, *, initializer: Callable[..., object] | None = None,
                 initargs: tuple = ()) -> None:
        self._distributed = _require("dask.distributed", "dask", "dask[distributed]")
        self._address = address
        self._initializer = initializer
        self._initargs = initargs
        self._client: Any = None

    def map(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[R]:
        if self._client is None:
            try:
                self._client = self._distributed.Client(self._address)
            except Exception as exc:  # noqa: BLE001
                raise ExecutorUnavailable(f"cannot reach Dask at {self._address or 'a local cluster'}: {exc}") from None
        # pure=False: identical inputs must still run (and each run writes its own directory)
        futures = self._client.map(partial(_init_then, self._initializer, self._initargs, fn), list(items),
                                   pure=False)
        return (f.result() for f in futures)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


def make_executor(kind: str, *, workers: int | None = None, address: str | None = None,
                  initializer: Callable[..., object] | None = None, initargs: tuple = ()) -> SweepExecutor:
    """The executor named ``kind`` (``local``, ``ray``, ``dask``).

    Raises:
        ValueError: unknown ``kind``.
        ExecutorUnavailable: ``ray`` / ``dask`` is not installed.
    """
    if kind == "local":
        return LocalExecutor(workers, initializer=initializer, initargs=initargs)
    if kind == "ray":
        return RayExecutor(address, initializer=initializer, initargs=initargs)
    if kind == "dask":
        return DaskExecutor(address, initializer=initializer, initargs=initargs)
    raise ValueError(f"unknown executor {kind!r}: one of {', '.join(EXECUTORS)}")
