"""Layering: the simulated execution and the execution layer never import a venue (DESIGN §2)."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "clobflow"
FILES = sorted((SRC / "execution").glob("*.py")) + [
    SRC / "sim" / "matching.py",
    SRC / "sim" / "exec_models.py",
    SRC / "sim" / "validation.py",
]


FORBIDDEN = {"asyncio", "websockets", "httpx", "time", "random", "datetime"}  # no I/O, clock or RNG


def _imports(path: Path) -> set[str]:
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
    return out


def test_no_venue_network_or_clock_imports():
    assert len(FILES) >= 7
    for f in FILES:
        for mod in _imports(f):
            assert not mod.startswith("clobflow.venues"), (f.name, mod)
            assert mod.split(".")[0] not in FORBIDDEN, (f.name, mod)


def test_modules_stay_small():
    for f in FILES:
        assert len(f.read_text().splitlines()) <= 400, f.name
