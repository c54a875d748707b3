"""Hostile variants of real venue messages, for fuzzing parsers (tests and ``bench/fuzz.py``).

``Mutator(seeds, rng).frame()`` returns one frame (``bytes``) made from a random seed message by
one or more mutations; the choice is driven entirely by ``rng`` (a ``random.Random``), so a
Hypothesis test can hand in its own ``st.randoms()`` and a failing input replays from its seed.

Mutations, each named in ``KINDS`` (counted by the bench):

- structural, on the decoded JSON: ``delete`` a key, ``retype`` a value (another JSON type),
  ``number`` (a numeric value replaced by a hostile number: NaN, inf, 1e400, negative, huge,
  too many decimals, other scripts' digits...), ``nest`` (a value wrapped 1 to 5,000 levels
  deep), ``list`` (items duplicated, dropped or shuffled), ``tag`` (another or unknown
  ``event_type``), ``scale`` (a number multiplied out of range);
- on the bytes: ``truncate``, ``flip`` (random bytes overwritten, often not UTF-8), ``splice``
  (two frames glued), ``raw`` (random bytes, no seed at all).

Venue-neutral and pure (no venue import): the seeds are plain JSON values.
"""

from __future__ import annotations

import json
import random
from typing import Any

HOSTILE_NUMBERS: tuple[Any, ...] = (
    "nan", "NaN", "inf", "-inf", "Infinity", "1e400", "1.5e400", "-1.5e400", "1e29", "1e-7",
    "-1", "-0", "0", "1", "1.0", "5", "-10", "-0.000001", "0.0000001", "0.5000000", "1.000001",
    "9" * 40, "9" * 5000, "0x10", "1_000", " 0.5", "0.5 ", "", ".", "-", "+0.5", "١", "٠.٥",
    "4102444800001", "99999999999999999999", "1700000000000.5",
    0, -1, 1, 5, 10**30, -(10**30), 1e300, -1e300, 0.5, 1.5, 2.0**63, True, None,
)
HOSTILE_VALUES: tuple[Any, ...] = (
    None, True, False, 0, -1, 10**19, 1.5, "", "x" * 300, [], {}, [[]], {"a": None},
    ["0.5"], {"price": "0.5", "size": "1"}, "BUY", "SELL", "buy", "sideways", "\u0000", "é",
)
EVENT_TYPES: tuple[str, ...] = (
    "book", "price_change", "last_trade_price", "tick_size_change", "best_bid_ask", "new_market",
    "market_resolved", "trade", "aggTrade", "serverShutdown", "bookTicker", "", "BOOK", "unknown",
)
NEST_DEPTHS = (1, 2, 10, 100, 500, 1000, 5000)
KINDS = ("delete", "retype", "number", "nest", "list", "tag", "scale", "truncate", "flip",
         "splice", "raw")
_STRUCTURAL = KINDS[:7]
_TAG_KEYS = ("event_type", "e")


def _paths(tree: Any) -> list[tuple]:
    """Every node's path (a tuple of keys / indexes) in ``tree``, the root included."""
    out: list[tuple] = []
    stack: list[tuple[tuple, Any]] = [((), tree)]
    while stack:
        path, node = stack.pop()
        out.append(path)
        if isinstance(node, dict):
            stack.extend((path + (k,), v) for k, v in node.items())
        elif isinstance(node, list):
            stack.extend((path + (i,), v) for i, v in enumerate(node))
    return out


class _Index:
    """A seed's node paths by what mutations want: every node, keys, tags, numbers, lists."""

    __slots__ = ("paths", "keyed", "tagged", "numbers", "lists")

    def __init__(self, tree: Any) -> None:
        self.paths = _paths(tree)
        self.keyed = [p for p in self.paths if p and isinstance(p[-1], str)]
        self.tagged = [p for p in self.keyed if p[-1] in _TAG_KEYS]
        self.numbers = [p for p in self.paths if _is_numberish(_get(tree, p))]
        self.lists = [p for p in self.paths if isinstance(_get(tree, p), list)]


def _get(tree: Any, path: tuple) -> Any:
    for k in path:
        tree = tree[k]
    return tree


def _replace(tree: Any, path: tuple, fn) -> Any:  # noqa: ANN001
    """A copy of ``tree`` with the node at ``path`` replaced by ``fn(node)``; containers along the
    path are copied, the rest is shared (the seed is never modified). ``fn`` may return
    ``_DELETE`` to remove the node."""
    if not path:
        return fn(tree)
    head, rest = path[0], path[1:]
    copy: Any = dict(tree) if isinstance(tree, dict) else list(tree)
    new = _replace(copy[head], rest, fn)
    if new is _DELETE:
        del copy[head]
    else:
        copy[head] = new
    return copy


_DELETE = object()


class Mutator:
    """Makes hostile frames from ``seeds`` (decoded JSON messages). See the module docstring."""

    def __init__(self, seeds: list[Any], rng: random.Random) -> None:
        if not seeds:
            raise ValueError("no seeds")
        self.seeds = seeds
        self.rng = rng
        self._index = [_Index(s) for s in seeds]
        self.last_kinds: list[str] = []
        self._nests: list[tuple[bytes, bytes]] = []

    # -- entry points --------------------------------------------------------------------------

    def frame(self) -> bytes:
        """One hostile frame from a random seed: 1-3 mutations, structural and/or on bytes."""
        r = self.rng
        self.last_kinds = []
        if r.random() < 0.04:
            return self._raw()
        i = r.randrange(len(self.seeds))
        return self.mutate(self.seeds[i], self._index[i])

    def mutate(self, tree: Any, index: _Index | None = None) -> bytes:
        """``tree`` after 1-3 structural mutations, serialised, maybe mutated as bytes.
        ``index``: the seed's precomputed paths (later mutations reuse them; a path the first
        one removed is skipped)."""
        r = self.rng
        n = 1 + (r.random() < 0.25) + (r.random() < 0.05)
        self._nests = []
        index = index or _Index(tree)
        for _ in range(n):
            try:
                tree = self._structural(tree, index)
            except (KeyError, IndexError, TypeError):
                pass  # the path no longer exists after an earlier mutation
        data = _dumps(tree)
        for token, wrapped in reversed(self._nests):  # the latest may hold an earlier token
            data = data.replace(token, wrapped)
        if r.random() < 0.2:
            data = self._bytes(data)
        return data

    # -- structural ----------------------------------------------------------------------------

    def _structural(self, tree: Any, ix: _Index) -> Any:
        r = self.rng
        kind = r.choice(_STRUCTURAL)
        self.last_kinds.append(kind)
        if kind == "delete":
            if ix.keyed:
                return _replace(tree, r.choice(ix.keyed), lambda _: _DELETE)
            return tree
        if kind == "tag":
            if ix.tagged:
                return _replace(tree, r.choice(ix.tagged), lambda _: r.choice(EVENT_TYPES))
            return tree
        path = r.choice(ix.paths)
        if kind == "retype":
            return _replace(tree, path, lambda _: r.choice(HOSTILE_VALUES))
        if kind == "number":
            return _replace(tree, r.choice(ix.numbers or ix.paths), lambda _: r.choice(HOSTILE_NUMBERS))
        if kind == "scale":
            return _replace(tree, r.choice(ix.numbers or ix.paths), self._scaled)
        if kind == "nest":
            # Built as text after serialising (json.dumps itself would recurse too deep).
            depth = r.choice(NEST_DEPTHS)
            token = f"\u0001nest{len(self._nests)}\u0001"

            def nest(node: Any) -> Any:
                inner = _dumps(node)
                if r.random() < 0.7:
                    wrapped = b"[" * depth + inner + b"]" * depth
                else:
                    wrapped = b'{"x":' * depth + inner + b"}" * depth
                self._nests.append((_dumps(token), wrapped))
                return token

            return _replace(tree, path, nest)
        # "list": duplicate, drop or shuffle the items of a random list
        if not ix.lists:
            return tree

        def edit(items: list) -> list:
            items = list(items)
            op = r.randrange(3)
            if op == 0 and items:
                items.insert(r.randrange(len(items) + 1), r.choice(items))
            elif op == 1 and items:
                del items[r.randrange(len(items))]
            else:
                r.shuffle(items)
            return items

        return _replace(tree, r.choice(ix.lists), edit)

    def _scaled(self, value: Any) -> Any:
        r = self.rng
        try:
            x = float(value)
        except (TypeError, ValueError, OverflowError):
            return r.choice(HOSTILE_NUMBERS)
        y = x * r.choice((-1, 2, 10, 1000, 1e6, 1e12, -1e-3))
        return repr(y) if isinstance(value, str) else y

    # -- bytes ---------------------------------------------------------------------------------

    def _bytes(self, data: bytes) -> bytes:
        r = self.rng
        kind = r.choice(("truncate", "flip", "splice"))
        self.last_kinds.append(kind)
        if kind == "truncate":
            return data[: r.randrange(len(data) + 1)]
        if kind == "flip":
            b = bytearray(data)
            for _ in range(1 + r.randrange(4)):
                if b:
                    b[r.randrange(len(b))] = r.randrange(256)
            return bytes(b)
        other = _dumps(r.choice(self.seeds))
        cut = r.randrange(len(data) + 1)
        return data[:cut] + other[r.randrange(len(other) + 1):]

    def _raw(self) -> bytes:
        r = self.rng
        self.last_kinds.append("raw")
        n = r.choice((0, 1, 2, 8, 64, 512))
        if r.random() < 0.5:
            return bytes(r.randrange(256) for _ in range(n))
        alphabet = b'{}[]":,0123456789.-eE truefalsnul\\'
        return bytes(r.choice(alphabet) for _ in range(n))


def _is_numberish(v: Any) -> bool:
    if isinstance(v, bool):
        return False
    if isinstance(v, (int, float)):
        return True
    return isinstance(v, str) and 0 < len(v) < 40 and v.replace(".", "", 1).lstrip("-").isdigit()


def _dumps(tree: Any) -> bytes:
    """JSON bytes; NaN/inf floats come out as the non-JSON tokens ``NaN``/``Infinity`` (hostile
    too), and lone surrogates as invalid UTF-8."""
    return json.dumps(tree, separators=(",", ":"), ensure_ascii=False,
                      check_circular=False).encode("utf-8", "surrogatepass")
