"""CLI reads while a dashboard serves the same store: `store info` with and without it.

The dashboard holds the store's index open read-only for as long as it serves
(``dashboard.data.open_store``). A reader that tried to bring the index up to date first had to
wait for that connection, then gave up with a warning (about 2.5 s per command). Readers now
open the index read-only when nothing is new, so they run beside the dashboard.

The benchmark builds a store (the bundled data plus 200 runner-shaped runs), then times
``store info`` as a user types it (a new process each time): alternately with nothing else
open and with a second process holding the index exactly as the dashboard does
(``dashboard.data.open_store``: ``Store.open(read_only=True)`` plus a query, kept open), and prints the medians
and their ratio (1.0: the dashboard costs the reader nothing). It also checks that no
"held by another process" warning was printed.

Usage:
    python bench/store_readers.py [--repeats 5] [--store DIR]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from a checkout

from store.database import Store  # noqa: E402
from store.records import Result, Run  # noqa: E402
from store.shards import write_shard  # noqa: E402

#: What the app does on its first page view (``dashboard.data.open_store`` without Streamlit's cache
#: around it, whose import would load this process and not the reader's).
HOLDER = """
import sys, time
from store.database import Store
store = Store.open(sys.argv[1], read_only=True, create=False)
store.query("SELECT 1")
print("holding", flush=True)
time.sleep(3600)
"""


def build(path: Path, runs: int = 200) -> Path:
    """A store with the bundled data and ``runs`` runner-shaped XNLI runs (written as shards, indexed once)."""
    if (path / "index.duckdb").exists():
        return path
    langs = ("ar", "bg", "de", "el", "en", "es", "fr", "hi", "ru", "sw", "th", "tr", "ur", "vi", "zh")
    for i in range(runs):
        run = Run(model="xlm-roberta-large", intermediate=("none", "mnli", "squad", "sst2")[i % 4], target="xnli",
                  seed=i, created_at="2026-11-25T00:00:00+00:00")
        write_shard(path / "runs", run, [Result(lang, "accuracy", 70.0 + (i % 7), n_examples=5010) for lang in langs])
    Store.open(path, read_only=False, rebuild=True).close()
    return path


def time_info(store: Path) -> tuple[float, str]:
    """Wall seconds of ``store info --store STORE`` in a new process, and what it printed on stderr."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    t0 = time.perf_counter()
    p = subprocess.run([sys.executable, "-m", "store.cli", "info", "--store", str(store)], env=env, cwd=ROOT,
                       capture_output=True, text=True, check=True)
    return time.perf_counter() - t0, p.stderr


def measure(store: Path, repeats: int) -> dict:
    """Medians of ``store info`` alone and beside a process holding the index as the dashboard does.

    The two are interleaved (alone, then beside, ``repeats`` times) so that load from other
    processes on the machine falls on both alike.
    """
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    alone, beside, warnings = [], [], 0
    for _ in range(repeats):
        alone.append(time_info(store)[0])
        holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(store)], env=env, cwd=ROOT,
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        try:
            assert holder.stdout.readline().strip() == "holding"
            seconds, err = time_info(store)
            beside.append(seconds)
            warnings += "held by another process" in err
        finally:
            holder.terminate()
            holder.wait(timeout=30)
    return {"alone_s": statistics.median(alone), "beside_s": statistics.median(beside),
            "ratio": statistics.median(beside) / statistics.median(alone), "warnings": warnings, "repeats": repeats}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--store", type=Path, help="reuse this folder (built there if absent)")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="xstilts-readers-") as tmp:
        store = build(args.store or Path(tmp) / "store")
        r = measure(store, args.repeats)
    print(f"store info, median of {r['repeats']} (new process each): alone {r['alone_s']:.2f} s, "
          f"beside a dashboard holding the index {r['beside_s']:.2f} s")
    print(f"ratio beside / alone: {r['ratio']:.2f}x (1.00x: the dashboard costs a reader nothing); "
          f"'held by another process' warnings: {r['warnings']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
