"""Classification and tagging metrics, and the metric registry (runner/metrics.py)."""

import ast
import doctest
import pathlib

import pytest

from runner.evaluation import metrics, metrics_qa, metrics_retrieval
from runner.evaluation.metrics import METRICS, MetricSpec, accuracy, get_metric, register, seqeval_f1

# --- accuracy ---------------------------------------------------------------------------------------

ACCURACY_CASES = [
    # id, predictions, labels, expected points
    ("all-right", ["a", "b", "c"], ["a", "b", "c"], 100.0),
    ("all-wrong", ["a", "a"], ["b", "b"], 0.0),
    ("two-of-three", [0, 1, 2], [0, 1, 1], 200 / 3),
    ("one-of-four", ["entailment", "neutral", "x", "y"], ["entailment", "a", "b", "c"], 25.0),
    ("types-not-coerced", ["1", "2"], [1, 2], 0.0),  # evaluate.py reads both as strings
]


@pytest.mark.parametrize("predictions, labels, expected",
                         [c[1:] for c in ACCURACY_CASES], ids=[c[0] for c in ACCURACY_CASES])
def test_accuracy(predictions, labels, expected):
    result = accuracy(predictions, labels)
    assert type(result) is float
    assert result == pytest.approx(expected, rel=1e-12)


ERROR_CASES = [
    # id, function, args, error message fragment
    ("accuracy-empty", accuracy, ([], []), "empty"),
    ("accuracy-lengths", accuracy, ([1, 2, 3], [1, 2]), "3 predictions but 2 labels"),
    ("seqeval-empty", seqeval_f1, ([], []), "empty"),
    ("seqeval-sentences", seqeval_f1, ([["O"]], [["O"], ["O"]]), "1 predictions but 2 labels"),
    ("seqeval-tokens", seqeval_f1, ([["O"], ["O", "O"]], [["O"], ["O"]]),
     "sentence 1: pred_tags has 2 tags but gold_tags has 1"),
    ("seqeval-string-sentence", seqeval_f1, (["B-PER"], [["B-PER"]]), r"pred_tags\[0\] is a string"),
]


@pytest.mark.parametrize("fn, args, message", [c[1:] for c in ERROR_CASES], ids=[c[0] for c in ERROR_CASES])
def test_bad_input_raises_value_error(fn, args, message):
    with pytest.raises(ValueError, match=message):
        fn(*args)


# --- seqeval F1 -------------------------------------------------------------------------------------

# Expected values by hand from seqeval's span extraction (default mode), documented in metrics.py.
SEQEVAL_CASES = [
    # id, pred_tags, gold_tags, (f1, precision, recall)
    ("ner-exact", [["B-PER", "I-PER", "O", "B-LOC"]], [["B-PER", "I-PER", "O", "B-LOC"]],
     (100.0, 100.0, 100.0)),
    ("ner-missed-entity", [["B-PER", "I-PER", "O", "O"]], [["B-PER", "I-PER", "O", "B-LOC"]],
     (200 / 3, 100.0, 50.0)),
    ("ner-boundary-error", [["B-PER", "O", "O", "B-LOC"]], [["B-PER", "I-PER", "O", "B-LOC"]],
     (50.0, 50.0, 50.0)),
    ("ner-wrong-type", [["B-ORG", "I-ORG"]], [["B-PER", "I-PER"]], (0.0, 0.0, 0.0)),
    # Default (lenient) mode: I- without B- still opens the entity; strict IOB2 would give 0.
    ("ner-lenient-i-start", [["I-PER", "I-PER", "O"]], [["B-PER", "I-PER", "O"]], (100.0, 100.0, 100.0)),
    # Sentences are separated by "O": an entity cannot run across them.
    ("ner-sentence-boundary", [["B-PER"], ["I-PER"]], [["B-PER", ], ["B-PER"]], (100.0, 100.0, 100.0)),
    ("ner-micro-over-sentences", [["B-PER", "O"], ["O", "O"]], [["B-PER", "O"], ["B-LOC", "O"]],
     (200 / 3, 100.0, 50.0)),
    # POS without prefixes: a run of identical tags is one span, so one wrong token spoils the run.
    ("pos-exact", [["NOUN", "NOUN", "VERB"]], [["NOUN", "NOUN", "VERB"]], (100.0, 100.0, 100.0)),
    ("pos-run-broken", [["NOUN", "VERB", "VERB"]], [["NOUN", "NOUN", "VERB"]], (0.0, 0.0, 0.0)),
    ("pos-one-of-three-spans", [["DET", "ADJ", "VERB"]], [["DET", "NOUN", "PUNCT"]],
     (100 / 3, 100 / 3, 100 / 3)),
    # SYM and SCONJ start with "S" (single-token tag): each token is its own span.
    ("pos-s-initial-singletons", [["SYM", "VERB"]], [["SYM", "SYM"]], (50.0, 50.0, 50.0)),
    # CCONJ and SCONJ both have seqeval type "CONJ": an isolated confusion counts as correct.
    ("pos-cconj-sconj-collide", [["NOUN", "SCONJ", "NOUN"]], [["NOUN", "CCONJ", "NOUN"]],
     (100.0, 100.0, 100.0)),
    # X has type "_", like the "O" seqeval appends per sentence: an X ending a sentence is no span.
    ("pos-final-x-dropped", [["NOUN", "VERB"]], [["NOUN", "X"]], (200 / 3, 50.0, 100.0)),
    ("pos-inner-x-kept", [["X", "NOUN"]], [["X", "NOUN"]], (100.0, 100.0, 100.0)),
    ("tuples-accepted", [("B-PER", "O")], [("B-PER", "O")], (100.0, 100.0, 100.0)),
    ("no-entities", [["O", "O"]], [["O", "O"]], (0.0, 0.0, 0.0)),
]


@pytest.mark.filterwarnings("ignore::UserWarning")  # seqeval's undefined-precision warning
@pytest.mark.parametrize("pred_tags, gold_tags, expected",
                         [c[1:] for c in SEQEVAL_CASES], ids=[c[0] for c in SEQEVAL_CASES])
def test_seqeval_f1(pred_tags, gold_tags, expected):
    result = seqeval_f1(pred_tags, gold_tags)
    assert list(result) == ["f1", "precision", "recall"]
    assert all(type(v) is float for v in result.values())
    assert tuple(result.values()) == pytest.approx(expected, rel=1e-12)


def test_seqeval_f1_puts_gold_first():
    # Over-prediction lowers precision, not recall: swapping the arguments would swap them.
    result = seqeval_f1([["B-PER", "B-LOC"]], [["B-PER", "O"]])
    assert (result["precision"], result["recall"]) == (50.0, 100.0)


# --- registry ---------------------------------------------------------------------------------------

# One tiny case per registered metric: (args, kwargs, expected values by output name).
REGISTRY_CASES = {
    "accuracy": ((["a", "b"], ["a", "a"]), {}, {"accuracy": 50.0}),
    "seqeval_f1": (([["B-PER", "O"]], [["B-PER", "B-LOC"]]), {},
                   {"f1": 200 / 3, "precision": 100.0, "recall": 50.0}),
    "squad_em_f1": (({"q": "the cat"}, {"q": ["Cat", "dog"]}), {}, {"em": 100.0, "f1": 100.0}),
    "mlqa_em_f1": (({"q": "der Hund"}, {"q": ["Hund"]}), {"lang": "de"}, {"em": 100.0, "f1": 100.0}),
    "bucc_f1": (({("s", "t"): 1.1, ("s", "u"): 0.9}, {("s", "t")}, 1.0), {},
                {"f1": 100.0, "precision": 100.0, "recall": 100.0}),
    "tatoeba_accuracy": (([0, 2], [0, 1]), {}, {"accuracy": 50.0}),
    "map_at_20": (([["a", "b"]], [{"b"}]), {}, {"map@20": 50.0}),
    "mewslix_map_at_20": (({"m": ["Q2", "Q1"]}, {"m": ["Q1"]}), {}, {"map@20": 50.0}),
}


def test_every_registered_metric_has_a_case():
    assert set(METRICS) == set(REGISTRY_CASES)


@pytest.mark.parametrize("name", sorted(REGISTRY_CASES))
def test_registered_metric_computes_its_outputs(name):
    spec = get_metric(name)
    args, kwargs, expected = REGISTRY_CASES[name]
    assert spec.name == name and spec.higher_is_better and spec.description
    result = spec.compute(*args, **kwargs)
    assert tuple(result) == spec.outputs
    assert result == pytest.approx(expected, rel=1e-12)


REGISTRY_ERRORS = [
    # id, action, error type, message fragment
    ("duplicate",
     lambda: register(MetricSpec("accuracy", accuracy, description="again", outputs=("accuracy",))),
     ValueError, "already registered"),
    ("duplicate-by-item", lambda: METRICS.__setitem__("bucc_f1", METRICS["bucc_f1"]), ValueError,
     "already registered"),
    ("duplicate-by-update", lambda: METRICS.update({"accuracy": METRICS["accuracy"]}), ValueError,
     "already registered"),
    ("key-not-name", lambda: METRICS.__setitem__("acc", METRICS["accuracy"]), ValueError, "own name"),
    ("unknown-suggests", lambda: get_metric("acuracy"), KeyError, "Did you mean 'accuracy'"),
    ("unknown-suggests-qa", lambda: METRICS["squad_f1"], KeyError, "squad_em_f1"),
    ("unknown-no-match", lambda: get_metric("bleu"), KeyError, "unknown metric 'bleu'"),
    ("spec-needs-description", lambda: MetricSpec("x", accuracy, outputs=("x",)), ValueError, "description"),
    ("spec-needs-outputs", lambda: MetricSpec("x", accuracy, description="d"), ValueError, "outputs"),
]


@pytest.mark.parametrize("action, error, message", [c[1:] for c in REGISTRY_ERRORS],
                         ids=[c[0] for c in REGISTRY_ERRORS])
def test_registry_refuses_loudly(action, error, message):
    before = dict(METRICS)
    with pytest.raises(error, match=message):
        action()
    assert dict(METRICS) == before  # nothing was overwritten or added


def test_metric_spec_is_frozen():
    with pytest.raises(AttributeError):
        get_metric("accuracy").higher_is_better = False


@pytest.mark.parametrize("module", [metrics, metrics_qa, metrics_retrieval], ids=lambda m: m.__name__)
def test_docstring_examples_run(module):
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


@pytest.mark.parametrize("module", [metrics, metrics_qa, metrics_retrieval], ids=lambda m: m.__name__)
def test_metrics_do_not_import_frameworks(module):
    tree = ast.parse(pathlib.Path(module.__file__).read_text(encoding="utf-8"))
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom) and node.module}
    assert imported, "the scan found no import at all"
    assert not imported & {"torch", "streamlit", "transformers"}
