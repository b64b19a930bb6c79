import math

import numpy as np
import polars as pl
import pytest

from store.analysis import (
    Filters, bootstrap_ci, complexity_correlation, complexity_table, gains, human_ceiling, scores,
    simple_vs_complex, spearman, summarize_gains, target_means,
)
from store.database import Store
from store.records import DevScore, Result, Run

# (intermediate, seed) -> per-language values on xnli; the baseline is 'none'
DESIGN = {
    ("none", 1): {"de": 70.0, "en": 80.0, "sw": 60.0},
    ("none", 2): {"de": 72.0, "en": 82.0, "sw": 62.0},
    ("mnli", 1): {"de": 74.0, "en": 84.0, "sw": 61.0},
    ("mnli", 2): {"de": 76.0, "en": 86.0, "sw": 63.0},
    ("squad", 1): {"de": 80.0, "en": 90.0, "sw": 70.0},
    ("sst2", 1): {"de": 69.0, "en": 79.0, "sw": 59.0},
    ("hellaswag", 1): {"de": 75.0, "en": 85.0, "sw": 65.0},
}


@pytest.fixture(scope="module")
def st(tmp_path_factory):
    root = tmp_path_factory.mktemp("analysis")
    with Store.open(root, read_only=False) as s:
        for (inter, seed), vals in DESIGN.items():
            dev = (DevScore("intermediate", inter, "f1" if inter == "squad" else "accuracy", 90.0),) if inter != "none" else ()
            run = Run(model="xlm-roberta-large", intermediate=inter, target="xnli", seed=seed, dev_scores=dev)
            s.write_run(run, [Result(lang, "accuracy", v, n_examples=100) for lang, v in vals.items()])
        # another model's baseline must never be matched with xlm-roberta-large runs
        s.write_run(Run(model="other", intermediate="none", target="xnli", seed=1), [Result("de", "accuracy", 10.0)])
    with Store.open(root, read_only=True) as s:
        yield s


def test_scores_average_over_seeds(st):
    s = scores(st, Filters(sources=("runner",), intermediates=("mnli",), languages=("de",)))
    assert s.select("value", "n_seeds").rows() == [(75.0, 2)]
    assert s["std"][0] == pytest.approx(math.sqrt(2))


def test_gains_match_same_model_target_language_metric_split(st):
    g = gains(st, Filters(sources=("runner",), models=("xlm-roberta-large",)))
    row = g.filter(pl.col("intermediate") == "mnli", pl.col("language") == "de").row(0, named=True)
    assert (row["value"], row["baseline"], row["gain"], row["n_seeds"], row["baseline_n_seeds"]) == (75.0, 71.0, 4.0, 2, 2)
    sq = g.filter(pl.col("intermediate") == "squad").sort("language")
    assert sq["gain"].to_list() == [9.0, 9.0, 9.0]
    assert "other" not in g["model"].to_list()


def test_per_seed_gains_keep_one_row_per_seed(st):
    g = gains(st, Filters(sources=("runner",), intermediates=("mnli",), models=("xlm-roberta-large",)), per_seed=True)
    assert sorted(g.filter(pl.col("language") == "de")["gain"].to_list()) == [3.0, 5.0]


def test_summary_and_interval(st):
    g = gains(st, Filters(sources=("runner",), models=("xlm-roberta-large",)))
    s = summarize_gains(g, by=("intermediate",)).sort("intermediate")
    d = dict(zip(s["intermediate"], s["mean_gain"]))
    assert d == pytest.approx({"hellaswag": 4.0, "mnli": 3.0, "squad": 9.0, "sst2": -2.0})
    sq = s.filter(pl.col("intermediate") == "squad").row(0, named=True)
    assert sq["ci_low"] == sq["ci_high"] == 9.0 and sq["n"] == 3


def test_bootstrap_ci_is_deterministic_and_brackets_the_mean():
    x = np.arange(20, dtype=float)
    lo, hi = bootstrap_ci(x, n_boot=500, seed=1)
    assert (lo, hi) == bootstrap_ci(x, n_boot=500, seed=1)
    assert lo < x.mean() < hi
    assert all(math.isnan(v) for v in bootstrap_ci([1.0]))


@pytest.mark.parametrize(
    "x, y, rho",
    [([1, 2, 3, 4], [1, 2, 3, 4], 1.0), ([1, 2, 3, 4], [4, 3, 2, 1], -1.0), ([1, 2, 3], [1, 1, 1], math.nan),
     ([1, 2], [2, 1], math.nan), ([1, 2, 2, 3], [1, 2, 3, 4], 0.9486832980505138), ([10, 20, 30, 40, 50], [5, 6, 7, 8, 7], 0.8207826816681233)],
)
def test_spearman_table(x, y, rho):
    got = spearman(x, y)
    assert (math.isnan(got) and math.isnan(rho)) or got == pytest.approx(rho)


def test_complexity_axes(st):
    c = complexity_table(st).sort("task")
    row = {r["task"]: r for r in c.iter_rows(named=True)}
    assert row["squad"]["format_rank"] == 5 and row["sst2"]["format_rank"] == 1 and row["ccg"]["format_rank"] is None
    assert row["mnli"]["c_measured"] == pytest.approx(100 * (1 - (90 - 100 / 3) / (92 - 100 / 3)))
    assert row["anli"]["c_measured"] is None
    assert 0 <= row["sst2"]["b_composite"] < row["squad"]["b_composite"] <= 1


def test_correlation_with_format_level(st):
    g = gains(st, Filters(sources=("runner",), models=("xlm-roberta-large",)))
    r = complexity_correlation(g, complexity_table(st), axis="A").row(0, named=True)
    # format ranks sst2 1, mnli 2, hellaswag 3, squad 5 vs gains -2, 3, 4, 9: perfectly monotone
    assert r["target_type"] == "classification" and r["rho"] == pytest.approx(1.0) and r["n"] == 4


def test_simple_vs_complex(st):
    g = gains(st, Filters(sources=("runner",), models=("xlm-roberta-large",)))
    s = simple_vs_complex(g, complexity_table(st))
    d = dict(zip(s["complexity"], s["mean_gain"]))
    assert d["simple (1-2)"] == pytest.approx(0.5) and d["complex (3-5)"] == pytest.approx(6.5)


def test_target_means_prefer_published_averages(st):
    m = target_means(st, Filters(sources=("fairseq_xlmr_readme",), models=("xlm-roberta-large",)))
    assert m.select("target", "value", "aggregation").rows() == [("mlqa", 70.7, "as published")]
    r = target_means(st, Filters(sources=("runner",), intermediates=("squad",)))
    assert r.select("value", "n_languages").rows() == [(80.0, 3)]


def test_settings_are_never_mixed(st):
    s = scores(st, Filters(sources=("fairseq_xlmr_readme",), targets=("xnli",)))
    assert s.is_empty()  # XNLI rows of that source are translate-test / translate-train-all only
    t = scores(st, Filters(sources=("fairseq_xlmr_readme",), targets=("xnli",), settings=("translate-test",)))
    assert set(t["setting"]) == {"translate-test"}


@pytest.mark.parametrize("hostile", ["'; DROP TABLE results; --", "x' OR '1'='1", "\\", "%", "ë🙂"])
def test_hostile_filter_values_are_parameters(st, hostile):
    before = st.query("SELECT count(*) AS n FROM results")["n"][0]
    assert scores(st, Filters(models=(hostile,), languages=(hostile,))).is_empty()
    assert st.query("SELECT count(*) AS n FROM results")["n"][0] == before


def test_filters_reject_a_bare_string():
    with pytest.raises(TypeError, match="tuple of strings"):
        Filters(models="xlm-roberta-large")


@pytest.mark.parametrize("cell, metric, expected", [("92.0 / 92.8 (m/mm)", "accuracy", 92.0), ("59.5 F1 / 80.4 acc", "accuracy", 80.4),
                                                    (">95", "accuracy", 95.0), ("86.8 F1", "f1", 86.8), ("", "f1", None)])
def test_human_ceiling(cell, metric, expected):
    assert human_ceiling(cell, metric) == expected


def _spearman_ci_reference(x, y, n_boot, seed):
    """The plain loop the vectorised interval must agree with."""
    a, b = np.asarray(x, float), np.asarray(y, float)
    rng = np.random.default_rng(seed)
    i = rng.integers(0, a.size, size=(n_boot, a.size))
    rhos = [r for r in (spearman(a[k], b[k]) for k in i) if not math.isnan(r)]
    return float(np.quantile(rhos, 0.025)), float(np.quantile(rhos, 0.975))


@pytest.mark.parametrize("seed", range(8))
def test_vectorised_spearman_ci_equals_the_loop(seed):
    from store.analysis import spearman_ci

    rng = np.random.default_rng(100 + seed)
    x = rng.integers(1, 6, size=9).astype(float)  # format levels: many ties
    y = np.round(rng.normal(size=9), 1)
    lo, hi = spearman_ci(x, y, n_boot=300, seed=seed)
    ref = _spearman_ci_reference(x, y, 300, seed)
    assert (lo, hi) == pytest.approx(ref, abs=1e-12)


def test_summarize_gains_equals_bootstrap_ci_per_group(st):
    g = gains(st, Filters(sources=("runner",), models=("xlm-roberta-large",)), per_seed=True)
    s = summarize_gains(g, by=("intermediate",), n_boot=200, seed=3)
    for row in s.iter_rows(named=True):
        vals = g.filter(pl.col("intermediate") == row["intermediate"])["gain"].to_numpy()
        lo, hi = bootstrap_ci(vals, n_boot=200, seed=3)
        assert (row["ci_low"], row["ci_high"]) == pytest.approx((lo, hi), nan_ok=True)


@pytest.mark.parametrize("size", [2, 7, 150])
def test_bootstrap_ci_equals_the_mean_of_indexed_resamples(size):
    """The count-matrix shortcut draws exactly the resamples of rng.integers, as indexing would."""
    x = np.random.default_rng(size).normal(size=size)
    idx = np.random.default_rng(5).integers(0, size, size=(400, size))
    means = x[idx].mean(axis=1)
    expected = (float(np.quantile(means, 0.025)), float(np.quantile(means, 0.975)))
    assert bootstrap_ci(x, n_boot=400, seed=5) == pytest.approx(expected, abs=1e-12)
