"""Examples page latency: the data work for one pair on a store of 300 runs x 100,000 predictions.

Builds (or reuses) a generated store: 3 targets x 10 intermediate settings (none and the nine
tasks) x 10 seeds = 300 runner runs, each with 100,000 per-example predictions written through
``Store.write_run`` as phase 3 writes them (30,000,000 predictions):

* ``xnli``: accuracy over 15 languages (McNemar; the bootstrap draws over 4 kinds of example pair);
* ``udpos``: span F1 from per-sentence tp / n_pred / n_gold over its languages;
* ``xquad``: QA F1 / EM per question over 11 languages (continuous per-example scores).

A run's correctness is correlated with its baseline's through a shared per-example difficulty,
as real runs on one test set are. The timed work is what the Examples page does for one pair
(``store.pairs.pair_for`` + ``analyse_pair``: find the baseline, read both predictions files,
align them, the paired test per language, gain by bucket per language with intervals, flipped
examples), cold: a different pair on each call, nothing cached by the app (the files are in the
OS page cache after the first read, as on any machine that just wrote them). Ours draws the
accuracy pairs' resamples exactly as multinomials over the kinds of example pair and the F1 pairs'
as Poisson(1) weights from one matrix per pair (``store.paired.paired_bootstrap``). Beside it, a
pandas baseline does the same work the plain way (read both files whole, merge, the classic
bootstrap by drawing indices per group for every interval, the same McNemar). Target: p95 <= 300 ms.

Usage:
    python bench/examples_latency.py [--store DIR] [--repeats 20] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from a checkout

from store import paired  # noqa: E402
from store.catalog import load_catalog  # noqa: E402
from store.database import Store  # noqa: E402
from store.pairs import analyse_pair, find_pairs, pair_for  # noqa: E402
from store.predictions import predictions_path  # noqa: E402
from store.records import Result, Run  # noqa: E402

TARGETS = ("xnli", "udpos", "xquad")
INTERMEDIATES = ("none", "anli", "ccg", "commonsenseqa", "cosmosqa", "hellaswag", "mnli", "qqp", "squad", "sst2")
SEEDS = 10
EXAMPLES = 100_000
_WORDS = np.array("the a of to in is was that for on with as by at from it an be this which or are his not".split()
                  + [f"w{i}" for i in range(2000)])
_QWORDS = np.array(["what", "who", "when", "where", "which", "how", "why", "other"])
_TAGS = np.array(["NOUN", "VERB", "ADJ", "ADP", "DET", "PRON", "PROPN", "PUNCT"])


def _examples(target: str, n: int, rng: np.random.Generator) -> pl.DataFrame:
    """The target's test set: ids, languages, text and bucket attributes (shared by every run)."""
    langs = load_catalog().task_languages(target)
    lang = np.array(langs)[np.arange(n) % len(langs)]
    n_words = np.clip(rng.lognormal(2.6, 0.5, n).astype(int), 2, 120)
    pool = [" ".join(rng.choice(_WORDS, 24)) for _ in range(500)]
    text = [pool[i % 500].split(" ", int(k) % 24)[-1] for i, k in enumerate(rng.integers(0, 24, n))]
    frame = pl.DataFrame({
        "example_id": [f"{target}-{i:06d}" for i in range(n)], "language": lang, "text": text,
        "n_words": n_words.astype(np.int32), "n_tokens": (n_words * 1.4).astype(np.int32),
        "difficulty": rng.random(n),
    })
    if target == "xnli":
        gold = rng.choice(["entailment", "neutral", "contradiction"], n)
        return frame.with_columns(pl.Series("gold", gold), pl.Series("label_types", gold))
    if target == "udpos":
        tags = [" ".join(_TAGS[rng.integers(0, 8, 6)]) for _ in range(200)]
        return frame.with_columns(pl.Series("gold", [tags[i % 200] for i in range(n)]),
                                  pl.Series("n_gold", np.minimum(n_words, 60).astype(np.int32)),
                                  pl.Series("label_types", [",".join(sorted(set(tags[i % 200].split()))) for i in range(n)]))
    return frame.with_columns(pl.Series("gold", [pool[i % 500].split()[0] for i in range(n)]),
                              pl.Series("answer_words", rng.integers(1, 12, n).astype(np.int32)),
                              pl.Series("question_word", rng.choice(_QWORDS, n)))


def _run_predictions(target: str, ex: pl.DataFrame, skill: float, rng: np.random.Generator) -> pl.DataFrame:
    n = ex.height
    difficulty = ex["difficulty"].to_numpy()
    margin = skill - difficulty + rng.normal(0, 0.15, n)  # shared difficulty: runs agree on most examples
    base = ex.drop("difficulty")
    if target == "xnli":
        correct = margin > 0
        pred = np.where(correct, ex["gold"].to_numpy(), "neutral")
        return base.with_columns(pl.Series("prediction", pred), pl.Series("correct", correct))
    if target == "udpos":
        n_gold = ex["n_gold"].to_numpy()
        errors = np.where(margin > 0, 0, rng.binomial(n_gold, np.clip(-margin, 0.02, 0.9)))
        return base.with_columns(pl.Series("prediction", ex["gold"]), pl.Series("correct", errors == 0),
                                 pl.Series("tp", (n_gold - errors).astype(np.int32)), pl.Series("n_pred", n_gold.astype(np.int32)))
    em = margin > 0.1
    # token F1 of a partly right answer: overlap o of a p-token prediction with a g-token gold answer
    g = ex["answer_words"].to_numpy()
    pred_len = np.maximum(1, g + rng.integers(-2, 3, n))
    overlap = np.minimum(np.minimum(g, pred_len), np.maximum(0, np.round((margin + 0.4) * g))).astype(int)
    f1 = np.where(em, 100.0, 200.0 * overlap / (pred_len + g))
    return base.with_columns(pl.Series("prediction", ex["gold"]), pl.Series("correct", em),
                             pl.Series("em", np.where(em, 100.0, 0.0)), pl.Series("f1", f1))


def _results(target: str, frame: pl.DataFrame) -> list[Result]:
    out = []
    for (lang,), g in frame.group_by("language"):
        n = g.height
        if target == "xnli":
            out.append(Result(lang, "accuracy", 100.0 * g["correct"].mean(), n_examples=n))
        elif target == "udpos":
            out.append(Result(lang, "f1", 200.0 * g["tp"].sum() / (g["n_pred"].sum() + g["n_gold"].sum()), n_examples=n))
        else:
            out.append(Result(lang, "f1", float(g["f1"].mean()), n_examples=n))
            out.append(Result(lang, "em", float(g["em"].mean()), n_examples=n))
    return out


def build_store(path: Path, seeds: int = SEEDS, examples: int = EXAMPLES, targets=TARGETS) -> tuple[int, int, bool]:
    """(runs, predictions, built): writes every run with its predictions unless already there."""
    with Store.open(path, read_only=False) as st:
        have = st.query("SELECT count(*) AS n FROM runs WHERE source = 'runner'")["n"][0]
        want = len(targets) * len(INTERMEDIATES) * seeds
        if have >= want:
            return int(have), int(have) * examples, False
        for t_i, target in enumerate(targets):
            ex = _examples(target, examples, np.random.default_rng(t_i))
            for i_i, inter in enumerate(INTERMEDIATES):
                for seed in range(1, seeds + 1):
                    rng = np.random.default_rng([t_i, i_i, seed])
                    frame = _run_predictions(target, ex, 0.6 + 0.01 * i_i + rng.normal(0, 0.005), rng)
                    run = Run(model="xlm-roberta-large", intermediate=inter, target=target, seed=seed,
                              hparams={"learning_rate": 1e-5}, code_version="bench", hardware="synthetic")
                    st.write_run(run, _results(target, frame), predictions=frame)
        return want, want * examples, True


# ------------------------------------------------------------------------------ the pandas baseline
def _pandas_bootstrap(base: np.ndarray, run: np.ndarray, n_boot: int, rng) -> tuple[float, float]:
    """Percentile interval of mean(run) - mean(base) by resampling indices (the plain way)."""
    idx = rng.integers(0, len(base), size=(n_boot, len(base)))
    d = run[idx].mean(axis=1) - base[idx].mean(axis=1)
    return tuple(np.quantile(d, [0.025, 0.975]))


def _pandas_f1_bootstrap(b_tp, b_den, r_tp, r_den, n_boot, rng):
    idx = rng.integers(0, len(b_tp), size=(n_boot, len(b_tp)))
    d = 200 * r_tp[idx].sum(1) / r_den[idx].sum(1) - 200 * b_tp[idx].sum(1) / b_den[idx].sum(1)
    return tuple(np.quantile(d, [0.025, 0.975]))


def pandas_pair(store, run_id: str, baseline_id: str, target: str, n_boot: int = paired.N_BOOT) -> dict:
    """The Examples page's data work for one pair with pandas: whole files, merge, per-group loops."""
    rng = np.random.default_rng(0)
    b = pd.read_parquet(predictions_path(store.root, baseline_id))
    r = pd.read_parquet(predictions_path(store.root, run_id))
    keys = ["split", "language", "example_id"]
    if set(map(tuple, b[keys].values)) != set(map(tuple, r[keys].values)):
        raise ValueError("mismatched example sets")
    m = b.merge(r[[*keys, "prediction", "correct", "em", "f1", "tp", "n_pred"]], on=keys, suffixes=("_base", "_run"))

    def group_stats(g):
        if target == "udpos":
            return _pandas_f1_bootstrap(g["tp_base"].to_numpy(float), (g["n_pred_base"] + g["n_gold"]).to_numpy(float),
                                        g["tp_run"].to_numpy(float), (g["n_pred_run"] + g["n_gold"]).to_numpy(float), n_boot, rng)
        col = "correct" if target == "xnli" else "f1"
        return _pandas_bootstrap(g[f"{col}_base"].to_numpy(float), g[f"{col}_run"].to_numpy(float), n_boot, rng)

    tests = {}
    for lang, g in m.groupby("language"):
        gained = int((~g["correct_base"] & g["correct_run"]).sum())
        lost = int((g["correct_base"] & ~g["correct_run"]).sum())
        tests[lang] = (group_stats(g), paired.mcnemar_exact(gained, lost))
    attr = "n_words"
    edges = sorted({int(np.ceil(q)) for q in np.quantile(m[attr], [1 / 3, 2 / 3])})
    m["bucket"] = pd.cut(m[attr], [-np.inf, *edges, np.inf])
    buckets = {k: group_stats(g) for k, g in m.groupby(["language", "bucket"], observed=True)}
    flips = m[m["correct_base"] != m["correct_run"]]
    return {"tests": tests, "buckets": buckets, "flips": len(flips)}


# ------------------------------------------------------------------------------ timing
def p95(xs: list[float]) -> float:
    return statistics.quantiles(xs, n=20, method="inclusive")[-1]


def ours(store, run_id: str) -> object:
    """The page's data work: the pair, both files (needed columns), tests, buckets, flips."""
    return analyse_pair(store, pair_for(store, run_id))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--store", type=Path, default=None, help="store folder to build or reuse (default: a temp dir)")
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = ap.parse_args(argv)

    path = args.store or Path(tempfile.mkdtemp(prefix="xstilts-bench-examples-")) / "store"
    t0 = time.perf_counter()
    n_runs, n_preds, built = build_store(path)
    how = f"built in {time.perf_counter() - t0:.0f} s" if built else "reused"
    size = sum(p.stat().st_size for p in (path / "predictions").iterdir()) / 1e9
    print(f"store {path}: {n_runs} runs, {n_preds:,} predictions, {size:.2f} GB of predictions files ({how})")
    print(f"machine: {os.cpu_count()} CPUs, load average {', '.join(f'{x:.1f}' for x in os.getloadavg())} before timing")

    rows = []
    with Store.open(path, read_only=True) as store:
        pairs = find_pairs(store)
        for target in TARGETS:
            mine = [p for p in pairs if p.target == target]
            ms, theirs = [], []
            for i in range(args.repeats + 1):  # the first call warms imports and is not counted
                p = mine[i % len(mine)]  # a different pair each call: nothing reused between calls
                t = time.perf_counter()
                ours(store, p.run_id)
                if i:
                    ms.append((time.perf_counter() - t) * 1000)
            for i in range(max(3, args.repeats // 4)):
                p = mine[i % len(mine)]
                t = time.perf_counter()
                pandas_pair(store, p.run_id, p.baseline_id, target)
                theirs.append((time.perf_counter() - t) * 1000)
            rows.append({"target": target, "median_ms": statistics.median(ms), "p95_ms": p95(ms),
                         "pandas_median_ms": statistics.median(theirs)})
    head = f"{'pair of':<8} {'median':>7} {'p95':>7} {'pandas med':>11} {'ratio':>7}  p95<=300ms"
    print("\n" + head + "\n" + "-" * len(head))
    for r in rows:
        r["ratio"] = r["pandas_median_ms"] / r["median_ms"]
        verdict = "ok" if r["p95_ms"] <= 300 else "missed"
        print(f"{r['target']:<8} {r['median_ms']:>7.1f} {r['p95_ms']:>7.1f} {r['pandas_median_ms']:>11.1f} {r['ratio']:>6.2f}x  {verdict}")
    print(f"""
milliseconds for one pair (run vs its none baseline, {EXAMPLES:,} predictions each): find the baseline, read both
files, align, paired test per language, gain by n_words bucket per language with 95% intervals ({paired.N_BOOT}
resamples each), flipped examples. Cold: a different pair each call. ratio: pandas median / ours (>1: faster).""")
    if args.json:
        args.json.write_text(json.dumps({"runs": n_runs, "predictions": n_preds, "pairs": rows}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
