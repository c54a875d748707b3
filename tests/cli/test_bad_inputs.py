"""Every kind of bad input to ``clobflow``, through the real command (a subprocess each): one line
``clobflow: …`` on stderr naming the option or config key, exit code 2, never a traceback
(issue 10 finding 5).

A case is ``(id, argv, needle)``; ``argv`` may hold ``{cfg}`` (a YAML/TOML file written from the
case's config text), ``{tmp}`` (a scratch folder), ``{file}`` (an existing regular file),
``{data}`` (a tiny real recording, so a wrongly accepted config runs and exits 0 instead of
failing for another reason). Network options always point at a closed loopback port, so a wrongly
accepted case cannot reach a venue.
"""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from clobflow.sim.datasets import convert

ROOT = Path(__file__).resolve().parents[2]
DEAD = "http://127.0.0.1:9"  # discard port: nothing listens
DEAD_WS = "ws://127.0.0.1:9/ws/market"
NET = ["--ws-url", DEAD_WS, "--gamma-url", DEAD, "--clob-url", DEAD]

# -- config files: (id, yaml text, key the error must name) ------------------------------------

_IMB = "strategies:\n  - {{name: imbalance, {kv}}}\n"
_CS = "strategies:\n  - {{kind: complete_set, name: cs, {kv}}}\n"

CONFIGS: list[tuple[str, str, str]] = [
    ("cash-nan", "engine: {starting_cash_usd: .nan}", "starting_cash_usd"),
    ("cash-inf", "engine: {starting_cash_usd: .inf}", "starting_cash_usd"),
    ("cash-neg", "engine: {starting_cash_usd: -1}", "starting_cash_usd"),
    ("cash-str", "engine: {starting_cash_usd: lots}", "starting_cash_usd"),
    ("cash-huge", "engine: {starting_cash_usd: 1.0e+400}", "starting_cash_usd"),
    ("cash-bool", "engine: {starting_cash_usd: true}", "starting_cash_usd"),
    ("timer-zero", "engine: {timer_interval_s: 0}", "timer_interval_s"),
    ("timer-nan", "engine: {timer_interval_s: .nan}", "timer_interval_s"),
    ("mode-bogus", "engine: {mode: bogus}", "mode"),
    ("store-unsupported", "engine: {store_url: 'mysql://u@127.0.0.1:9/x'}", "store_url"),
    ("store-unreachable", "engine: {store_url: 'postgresql://u:secret@127.0.0.1:9/x'}", "store_url"),
    ("store-memory", "engine: {store_url: 'sqlite://'}", "store_url"),
    ("store-bad-driver", "engine: {store_url: 'postgresql+asyncpg://u@127.0.0.1:9/x'}", "store_url"),
    ("store-int", "engine: {store_url: 5}", "store_url"),
    ("live-opt-in-str", "engine: {live_opt_in: maybe}", "live_opt_in"),
    ("engine-unknown-key", "engine: {bogus: 1}", "bogus"),
    ("engine-not-a-map", "engine: 5", "engine"),
    ("submit-neg", "sim: {submit_latency_ms: -1}", "submit_latency_ms"),
    ("ack-nan", "sim: {ack_latency_ms: .nan}", "ack_latency_ms"),
    ("jitter-inf", "sim: {jitter_ms: .inf}", "jitter_ms"),
    ("seed-str", "sim: {seed: x}", "seed"),
    ("feed-assets-zero", "feed: {max_assets_per_conn: 0}", "max_assets_per_conn"),
    ("feed-assets-huge", "feed: {max_assets_per_conn: 100000}", "max_assets_per_conn"),
    ("feed-stall-neg", "feed: {stall_after_s: -5}", "stall_after_s"),
    ("feed-stale-nan", "feed: {stale_after_s: .nan}", "stale_after_s"),
    ("feed-stale-zero", "feed: {stale_after_s: 0}", "stale_after_s"),
    ("feed-ws-url-int", "feed: {ws_url: 5}", "ws_url"),
    ("risk-market-neg", "risk: {max_market_exposure_usd: -1}", "max_market_exposure_usd"),
    ("risk-total-nan", "risk: {max_total_exposure_usd: .nan}", "max_total_exposure_usd"),
    ("risk-breaker-zero", "risk: {breaker_max_failures: 0}", "breaker_max_failures"),
    ("risk-cooloff-neg", "risk: {breaker_cooloff_s: -1}", "breaker_cooloff_s"),
    ("risk-drawdown-neg", "risk: {max_drawdown_usd: -5}", "max_drawdown_usd"),
    ("risk-daily-nan", "risk: {max_daily_loss_usd: .nan}", "max_daily_loss_usd"),
    ("risk-window-neg", "risk: {recent_order_window_s: -1}", "recent_order_window_s"),
    ("risk-trusted-str", "risk: {require_trusted_book: sure}", "require_trusted_book"),
    ("strategies-empty", "strategies: []", "strategies"),
    ("strategies-map", "strategies: {name: x}", "strategies"),
    ("strategies-int", "strategies: [5]", "strategies[0]"),
    ("strategy-kind", "strategies: [{kind: bogus}]", "kind"),
    ("strategy-dup-names", "strategies: [{name: a}, {name: a}]", "strategies"),
    ("strategy-name-empty", _IMB.format(kv="name: ''").replace("name: imbalance, ", ""), "name"),
    ("min-imbalance-2", _IMB.format(kv="min_imbalance: 2"), "min_imbalance"),
    ("min-imbalance-nan", _IMB.format(kv="min_imbalance: .nan"), "min_imbalance"),
    ("max-positions-1e29", _IMB.format(kv="max_positions: 1e29"), "max_positions"),
    ("max-positions-float", _IMB.format(kv="max_positions: 1.0e+29"), "max_positions"),
    ("max-positions-neg", _IMB.format(kv="max_positions: -1"), "max_positions"),
    ("fixed-size-zero", _IMB.format(kv="fixed_size_usd: 0"), "fixed_size_usd"),
    ("fixed-size-inf", _IMB.format(kv="fixed_size_usd: .inf"), "fixed_size_usd"),
    ("yes-min-above-max", _IMB.format(kv="yes_price_min: 0.8, yes_price_max: 0.7"), "yes_price"),
    ("yes-max-above-1", _IMB.format(kv="yes_price_max: 1.5"), "yes_price_max"),
    ("max-spread-neg", _IMB.format(kv="max_spread: -0.1"), "max_spread"),
    ("depth-zero", _IMB.format(kv="depth_levels: 0"), "depth_levels"),
    ("depth-huge", _IMB.format(kv="depth_levels: 100000000"), "depth_levels"),
    ("cooldown-neg", _IMB.format(kv="cooldown_minutes: -1"), "cooldown_minutes"),
    ("signal-age-nan", _IMB.format(kv="max_signal_age_seconds: .nan"), "max_signal_age_seconds"),
    ("deviation-neg", _IMB.format(kv="max_price_deviation: -1"), "max_price_deviation"),
    ("fee-neg", _IMB.format(kv="max_fee_rate_bps: -1"), "max_fee_rate_bps"),
    ("refresh-old-key", _IMB.format(kv="subscription_refresh_interval: 10"), "subscription_refresh_interval"),
    ("refresh-zero", "feed: {subscription_refresh_interval_s: 0}", "subscription_refresh_interval_s"),
    ("reconnect-neg", "feed: {reconnect_min_delay_s: -1}", "reconnect_min_delay_s"),
    ("reconnect-order", "feed: {reconnect_min_delay_s: 10, reconnect_max_delay_s: 1}", "reconnect"),
    ("feed-venue-empty", "feed: {venue: ''}", "venue"),
    ("hours-neg", _IMB.format(kv="max_hours_to_close: -1"), "max_hours_to_close"),
    ("minutes-nan", _IMB.format(kv="min_minutes_to_close: .nan"), "min_minutes_to_close"),
    ("categories-int", _IMB.format(kv="categories: 5"), "categories"),
    ("strategy-unknown-key", _IMB.format(kv="bogus: 1"), "bogus"),
    ("cs-margin-nan", _CS.format(kv="margin_early: .nan"), "margin_early"),
    ("cs-quote-zero", _CS.format(kv="quote_size: 0"), "quote_size"),
    ("cs-hard-stop-neg", _CS.format(kv="hard_stop_s: -1"), "hard_stop_s"),
    ("cs-max-markets-zero", _CS.format(kv="max_markets: 0"), "max_markets"),
    ("cs-side-shares-huge", _CS.format(kv="max_side_shares: 1.0e+29"), "max_side_shares"),
    ("cs-chase-inf", _CS.format(kv="chase_interval_s: .inf"), "chase_interval_s"),
    ("top-unknown-section", "bogus: {a: 1}", "bogus"),
    ("top-list", "- 1\n- 2", "mapping"),
    ("dup-key", "engine: {starting_cash_usd: 10}\nengine: {starting_cash_usd: 20}", "engine"),
    ("dup-nested-key", "engine:\n  starting_cash_usd: 10\n  starting_cash_usd: 20", "starting_cash_usd"),
    ("yaml-syntax", "engine: {starting_cash_usd: [", "YAML"),
    ("yaml-deep", "a: " + "[" * 5000 + "]" * 5000, "YAML"),
]

CONFIG_EXTRA: list[tuple[str, bytes, str, str]] = [  # (id, raw bytes, suffix, needle)
    ("toml-syntax", b"[engine\nx=", ".toml", "TOML"),
    ("toml-nan", b"[engine]\nstarting_cash_usd = nan\n", ".toml", "starting_cash_usd"),
    ("yaml-not-utf8", b"engine: {mode: \xff\xfe}\n", ".yaml", "UTF-8"),
]

# -- options: (id, argv, needle) ---------------------------------------------------------------

OPTIONS: list[tuple[str, list[str], str]] = [
    ("no-such-command", ["bogus"], "bogus"),
    ("no-such-option", ["books", "--nope", "{file}"], "--nope"),
    # books
    ("books-dir", ["books", "{tmp}"], "not a file"),
    ("books-missing", ["books", "{tmp}/none.json"], "no such file"),
    ("books-missing-arg", ["books"], "file"),
    ("books-bad-json", ["books", "{badjson}"], "JSON"),
    ("books-deep-json", ["books", "{deepjson}"], "JSON"),
    # venue
    ("venue-speed-nan", ["venue", "--speed", "nan"], "--speed"),
    ("venue-speed-inf", ["venue", "--speed", "inf"], "--speed"),
    ("venue-speed-neg", ["venue", "--speed", "-1"], "--speed"),
    ("venue-speed-str", ["venue", "--speed", "fast"], "--speed"),
    ("venue-port-huge", ["venue", "--port", "70000"], "--port"),
    ("venue-port-neg", ["venue", "--port", "-1"], "--port"),
    ("venue-duration-zero", ["venue", "--duration", "0"], "--duration"),
    ("venue-duration-nan", ["venue", "--duration", "nan"], "--duration"),
    ("venue-dataset-bogus", ["venue", "--dataset", "bogus"], "bogus"),
    ("venue-dataset-dir", ["venue", "--dataset", "{tmp}"], "dataset"),
    ("venue-dataset-garbage", ["venue", "--dataset", "{badjsonl}"], "dataset"),
    ("venue-host-bad", ["venue", "--host", "999.1.1.1", "--duration", "1"], "999.1.1.1"),
    # demo
    ("demo-speed-zero", ["demo", "--speed", "0"], "--speed"),
    ("demo-speed-nan", ["demo", "--speed", "nan"], "--speed"),
    ("demo-duration-neg", ["demo", "--duration", "-1"], "--duration"),
    ("demo-duration-inf", ["demo", "--duration", "inf"], "--duration"),
    ("demo-dataset-bogus", ["demo", "--dataset", "bogus"], "bogus"),
    ("demo-out-file", ["demo", "--out", "{file}", "--duration", "1"], "--out"),
    ("demo-config-missing", ["demo", "--config", "{tmp}/none.yaml", "--duration", "1"], "none.yaml"),
    # backtest
    ("bt-strategy-bogus", ["backtest", "--strategy", "bogus"], "--strategy"),
    ("bt-data-bogus", ["backtest", "--data", "bogus"], "--data"),
    ("bt-data-dir", ["backtest", "--data", "{tmp}"], "--data"),
    ("bt-data-garbage", ["backtest", "--data", "{badjsonl}"], "--data"),
    ("bt-out-file", ["backtest", "--data", "{data}", "--out", "{file}"], "--out"),
    ("bt-out-unwritable", ["backtest", "--data", "{data}", "--out", "/proc/clobflow-out"], "--out"),
    ("bt-store-unsupported", ["backtest", "--data", "{data}", "--out", "{tmp}/o", "--store-url", "mysql://u@127.0.0.1:9/x"], "store"),
    ("bt-store-unreachable", ["backtest", "--data", "{data}", "--out", "{tmp}/o", "--store-url", "postgresql://u:pw@127.0.0.1:9/x"], "store"),
    ("bt-store-memory", ["backtest", "--data", "{data}", "--out", "{tmp}/o", "--store-url", ":memory:"], "store"),
    ("bt-start-garbage", ["backtest", "--data", "{data}", "--start", "yesterday"], "--start"),
    ("bt-end-before-start", ["backtest", "--data", "{data}", "--start", "2026-02-02", "--end", "2026-01-01"], "--start"),
    ("bt-market-none", ["backtest", "--data", "{data}", "--market", "no-such-market"], "--market"),
    ("bt-config-missing", ["backtest", "--config", "{tmp}/none.yaml"], "none.yaml"),
    ("bt-config-dir", ["backtest", "--config", "{tmp}"], "cannot read"),
    # run (network options on a dead loopback port)
    ("run-mode-live", ["run", "--mode", "live", *NET], "--mode"),
    ("run-mode-bogus", ["run", "--mode", "bogus", *NET], "--mode"),
    ("run-duration-nan", ["run", "--duration", "nan", *NET], "--duration"),
    ("run-duration-neg", ["run", "--duration", "-1", *NET], "--duration"),
    ("run-config-missing", ["run", "--config", "{tmp}/none.yaml", *NET], "none.yaml"),
    ("run-out-file", ["run", "--out", "{file}", "--duration", "1", *NET], "--out"),
    ("run-ws-url-bad", ["run", "--ws-url", "not-a-url", "--gamma-url", DEAD, "--clob-url", DEAD, "--duration", "5"], "--ws-url"),
    # watch
    ("watch-interval-bad", ["watch", "--updown", "btc", "--interval", "7m", *NET], "--interval"),
    ("watch-windows-neg", ["watch", "--updown", "btc", "--windows-ahead", "-1", *NET], "--windows-ahead"),
    ("watch-limit-neg", ["watch", "--tag", "crypto", "--limit", "-1", *NET], "--limit"),
    ("watch-duration-nan", ["watch", "--token", "1", "--duration", "nan", *NET], "--duration"),
    ("watch-duration-neg", ["watch", "--token", "1", "--duration", "-1", *NET], "--duration"),
    ("watch-refresh-zero", ["watch", "--tag", "crypto", "--refresh-interval", "0", *NET], "--refresh-interval"),
    ("watch-stale-neg", ["watch", "--token", "1", "--stale-after", "-1", *NET], "--stale-after"),
    ("watch-assets-zero", ["watch", "--token", "1", "--max-assets-per-conn", "0", *NET], "--max-assets-per-conn"),
    ("watch-hours-nan", ["watch", "--tag", "crypto", "--max-hours-to-close", "nan", *NET], "--max-hours-to-close"),
    ("watch-minutes-neg", ["watch", "--tag", "crypto", "--min-minutes-to-close", "-5", *NET], "--min-minutes-to-close"),
    # record
    ("record-out-file", ["record", "--out", "{file}", "--token", "1", "--duration", "1", *NET], "--out"),
    ("record-out-unwritable", ["record", "--out", "/proc/clobflow-rec", "--token", "1", "--duration", "1", *NET], "--out"),
    ("record-binance-bad", ["record", "--out", "{tmp}/r", "--binance", "BTC-USD!", "--duration", "1",
                            "--binance-url", "ws://127.0.0.1:9", *NET], "--binance"),
    ("record-rotate-zero", ["record", "--out", "{tmp}/r", "--token", "1", "--rotate-mb", "0", *NET], "--rotate-mb"),
    ("record-snapshot-neg", ["record", "--out", "{tmp}/r", "--token", "1", "--snapshot-interval", "-1", *NET], "--snapshot-interval"),
    ("record-health-nan", ["record", "--out", "{tmp}/r", "--token", "1", "--health-interval", "nan", *NET], "--health-interval"),
    ("record-assets-huge", ["record", "--out", "{tmp}/r", "--token", "1", "--max-assets-per-conn", "100000", *NET], "--max-assets-per-conn"),
    ("record-interval-bad", ["record", "--out", "{tmp}/r", "--updown", "btc", "--interval", "7m", *NET], "--interval"),
    ("record-clickhouse-bad", ["record", "--out", "{tmp}/r", "--token", "1", "--clickhouse", "bogus://x", "--duration", "1", *NET], "--clickhouse"),
    ("record-redis-bad", ["record", "--out", "{tmp}/r", "--token", "1", "--redis", "bogus://x", "--duration", "1", *NET], "--redis"),
    ("record-duration-inf", ["record", "--out", "{tmp}/r", "--token", "1", "--duration", "inf", *NET], "--duration"),
    # sweep
    ("sweep-grid-bad", ["sweep", "--grid", "nonsense", "--data", "{data}", "--out", "{tmp}/s"], "--grid"),
    ("sweep-grid-key", ["sweep", "--grid", "no_such_key=1,2", "--data", "{data}", "--out", "{tmp}/s"], "no_such_key"),
    ("sweep-grid-value", ["sweep", "--grid", "min_imbalance=a,b", "--data", "{data}", "--out", "{tmp}/s"], "min_imbalance"),
    ("sweep-grid-nan", ["sweep", "--grid", "min_imbalance=nan", "--data", "{data}", "--out", "{tmp}/s"], "min_imbalance"),
    ("sweep-workers-zero", ["sweep", "--grid", "min_imbalance=0.5", "--workers", "0"], "--workers"),
    ("sweep-executor-bogus", ["sweep", "--grid", "min_imbalance=0.5", "--executor", "bogus", "--data", "{data}", "--out", "{tmp}/s"], "--executor"),
    ("sweep-data-bogus", ["sweep", "--grid", "min_imbalance=0.5", "--data", "bogus", "--out", "{tmp}/s"], "bogus"),
    ("sweep-config-missing", ["sweep", "--grid", "min_imbalance=0.5", "--config", "{tmp}/none.yaml"], "none.yaml"),
    ("sweep-out-file", ["sweep", "--grid", "min_imbalance=0.5", "--data", "{data}", "--out", "{file}"], "--out"),
    ("sweep-limit-zero", ["sweep", "--grid", "min_imbalance=0.5", "--limit-markets", "0"], "--limit-markets"),
    # import (network on a dead loopback port)
    ("import-markets-no-out", ["import", "markets", "--url", DEAD], "--out"),
    ("import-markets-page", ["import", "markets", "--out", "{tmp}/i", "--url", DEAD, "--page-size", "0"], "--page-size"),
    ("import-markets-rps", ["import", "markets", "--out", "{tmp}/i", "--url", DEAD, "--max-rps", "nan"], "--max-rps"),
    ("import-markets-retries", ["import", "markets", "--out", "{tmp}/i", "--url", DEAD, "--retries", "-1"], "--retries"),
    ("import-markets-start", ["import", "markets", "--out", "{tmp}/i", "--url", DEAD, "--start", "garbage"], "--start"),
    ("import-markets-out-file", ["import", "markets", "--out", "{file}", "--url", DEAD], "--out"),
    ("import-prices-fidelity", ["import", "prices", "--out", "{tmp}/i", "--url", DEAD, "--token", "1", "--fidelity", "0"], "--fidelity"),
    ("import-prices-window", ["import", "prices", "--out", "{tmp}/i", "--url", DEAD, "--token", "1", "--window-days", "inf"], "--window-days"),
    ("import-trades-side", ["import", "trades", "--out", "{tmp}/i", "--url", DEAD, "--market", "0x1", "--side", "UP"], "--side"),
    ("import-trades-no-market", ["import", "trades", "--out", "{tmp}/i", "--url", DEAD], "--market"),
    ("import-trades-api", ["import", "trades", "--out", "{tmp}/i", "--url", DEAD, "--api", "v9"], "--api"),
    ("import-trades-page", ["import", "trades", "--out", "{tmp}/i", "--url", DEAD, "--market", "0x1", "--page-size", "-5"], "--page-size"),
    ("import-bundled-dataset", ["import", "bundled", "--db", "{tmp}/db", "--dataset", "bogus"], "bogus"),
    ("import-bundled-db-file", ["import", "bundled", "--db", "{file}"], "--db"),
]


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> dict[str, tuple[int, str, str]]:
    base = tmp_path_factory.mktemp("cli_bad")
    data_dir = base / "data"
    frames, _ = convert("pm-btc1h-l2-1s", data_dir)
    subs = {
        "{tmp}": str(base / "scratch"),
        "{file}": str(base / "a_file.txt"),
        "{data}": str(frames),
        "{badjson}": str(base / "bad.json"),
        "{deepjson}": str(base / "deep.json"),
        "{badjsonl}": str(base / "bad.jsonl"),
    }
    (base / "scratch").mkdir()
    (base / "a_file.txt").write_text("not a folder\n")
    (base / "bad.json").write_text("{not json")
    (base / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    (base / "bad.jsonl").write_bytes(b"\xff\xfe garbage\n{]\n")
    jobs: dict[str, list[str]] = {}
    for cid, text, _ in CONFIGS:
        path = base / f"{cid}.yaml"
        path.write_text(text + "\n")
        jobs[f"cfg-{cid}"] = ["backtest", "--config", str(path), "--data", str(frames),
                              "--out", str(base / "out" / cid), "--no-progress"]
    for cid, raw, suffix, _ in CONFIG_EXTRA:
        path = base / f"{cid}{suffix}"
        path.write_bytes(raw)
        jobs[f"cfg-{cid}"] = ["backtest", "--config", str(path), "--data", str(frames),
                              "--out", str(base / "out" / cid), "--no-progress"]
    for cid, argv, _ in OPTIONS:
        out = []
        for a in argv:
            for k, v in subs.items():
                a = a.replace(k, v)
            out.append(a)
        jobs[cid] = out
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), *filter(None, [env.get("PYTHONPATH")])])
    cwd = base / "cwd"
    cwd.mkdir()
    (cwd / "config").symlink_to(ROOT / "config")  # the commands' default config paths

    def run(argv: list[str]) -> tuple[int, str, str]:
        try:
            res = subprocess.run([sys.executable, "-m", "clobflow.cli.main", *argv], capture_output=True,
                                 text=True, timeout=90, cwd=cwd, env=env, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            return -999, "", "timed out (the bad input was accepted?)"
        return res.returncode, res.stdout, res.stderr

    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = {cid: pool.submit(run, argv) for cid, argv in jobs.items()}
        return {cid: f.result() for cid, f in futures.items()}


CASES = ([(f"cfg-{c}", n) for c, _, n in CONFIGS] + [(f"cfg-{c}", n) for c, _, _, n in CONFIG_EXTRA]
         + [(c, n) for c, _, n in OPTIONS])


def test_there_are_at_least_ninety_cases():
    assert len(CASES) >= 90 and len({c for c, _ in CASES}) == len(CASES)


@pytest.mark.parametrize("case,needle", CASES, ids=[c for c, _ in CASES])
def test_bad_input_gives_one_line_and_exit_2(results, case, needle):
    code, _out, err = results[case]
    assert "Traceback" not in err, err[-2000:]
    lines = err.strip().splitlines()
    assert code == 2, (code, err[-1000:])
    assert len(lines) == 1 and lines[0].startswith("clobflow: "), err[-1000:]
    assert "internal error" not in lines[0]
    assert any(n.lower() in lines[0].lower() for n in needle.split("|")), lines[0]
    assert "secret" not in lines[0] and ":pw@" not in lines[0], "a password was printed"
