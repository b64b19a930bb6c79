"""Evaluation metrics and their registry; classification and tagging metrics live here.

Every metric is a small pure function that returns points (0-100) as Python floats, computed as the
official XTREME / XTREME-R evaluation (google-research/xtreme ``evaluate.py``) computes it. QA
metrics are in ``runner.evaluation.metrics_qa`` and retrieval metrics in ``runner.evaluation.metrics_retrieval``; all of
them are registered in ``METRICS`` below, with their direction and the names of the values they
return (the names the store uses: ``accuracy``, ``f1``, ``em``, ``map@20``, ...).

Tagging F1 (UD-POS and WikiANN-NER) is seqeval's entity-level F1 in its default mode, exactly as
``evaluate.py`` ``f1`` calls it (``f1_score(labels, predictions)``, no ``mode="strict"``, no
scheme). Default mode is lenient about BIO: an ``I-X`` without a preceding ``B-X`` still opens an
entity. XTREME feeds UD-POS tags to the same function even though they carry no B-/I- prefix;
seqeval (1.2.2, the version the runner pins) then reads the first character of each tag as the
chunk tag and the rest as the type (``NOUN`` -> tag ``N``, type ``OUN``). Consequences:

* A run of identical POS tags is one "entity": gold ``NOUN NOUN`` against predicted ``NOUN VERB``
  shares no span, so POS "F1" is a span F1 over runs, not token accuracy.
* ``SCONJ`` and ``SYM`` start with ``S`` (seqeval's single-token tag), so each such token is its
  own span even in a run.
* ``CCONJ`` and ``SCONJ`` share the type ``CONJ``: an isolated CCONJ/SCONJ confusion counts as
  correct, and a CCONJ directly followed by SCONJ loses its span.
* ``X`` has the empty type ``_``, the same as the ``O`` that seqeval puts after each sentence, so an
  ``X`` (run) that ends a sentence never becomes a span.

XTREME's original 2020 install (``pip install seqeval``, then 0.0.x) took the whole tag after the
last ``-`` as the type, which differs from 1.2.2 only in the last two points for UD tags. We call
the installed seqeval rather than re-implement it, so the result is whatever ``evaluate.py`` would
give with the same seqeval.
"""

from __future__ import annotations

import difflib
import warnings
from collections import UserDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from runner.evaluation import metrics_qa, metrics_retrieval

__all__ = [
    "METRICS",
    "MetricRegistry",
    "MetricSpec",
    "accuracy",
    "get_metric",
    "register",
    "seqeval_f1",
]


# --- registry ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MetricSpec:
    """One metric: its function, direction and the names of the values it returns.

    Attributes:
        name: Registry key, e.g. ``"squad_em_f1"``.
        fn: The metric function; returns a float or a dict of floats, in points.
        higher_is_better: Direction, for "best" selection and gain signs.
        description: One line on what it measures and which official code it mirrors.
        outputs: Names of the values ``compute`` returns, as stored (``"f1"``, ``"em"``, ...);
            a float-returning ``fn`` has exactly one.

    Example:
        >>> get_metric("accuracy").compute(["a", "b"], ["a", "a"])
        {'accuracy': 50.0}
    """

    name: str
    fn: Callable[..., Any]
    higher_is_better: bool = True
    description: str = field(default="", kw_only=True)
    outputs: tuple[str, ...] = field(default=(), kw_only=True)

    def __post_init__(self) -> None:
        if not self.name or not self.description or not self.outputs:
            raise ValueError(f"MetricSpec {self.name!r} needs a name, a description and outputs")

    def compute(self, *args: Any, **kwargs: Any) -> dict[str, float]:
        """Runs ``fn`` and returns ``{output name: value}`` whatever shape ``fn`` returns."""
        value = self.fn(*args, **kwargs)
        if isinstance(value, Mapping):
            return {name: float(value[name]) for name in self.outputs}
        (only,) = self.outputs  # a scalar metric names exactly one output
        return {only: float(value)}


class MetricRegistry(UserDict):
    """A ``dict`` of ``MetricSpec`` by name that refuses duplicates and suggests near misses."""

    def __setitem__(self, name: str, spec: MetricSpec) -> None:
        if not isinstance(spec, MetricSpec) or spec.name != name:
            raise ValueError(f"register MetricSpec objects under their own name, got {name!r}: {spec!r}")
        if name in self.data:
            raise ValueError(f"metric {name!r} is already registered ({self.data[name].fn!r}); "
                             "pick another name instead of overwriting it")
        self.data[name] = spec

    def __missing__(self, name: str) -> MetricSpec:
        close = difflib.get_close_matches(str(name), list(self.data), n=3, cutoff=0.6)
        hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        raise KeyError(f"unknown metric {name!r}.{hint} Known metrics: {sorted(self.data)}")


METRICS = MetricRegistry()


def register(spec: MetricSpec) -> MetricSpec:
    """Adds ``spec`` to ``METRICS``.

    Args:
        spec: The metric to add.

    Returns:
        ``spec``, unchanged.

    Raises:
        ValueError: a metric of that name is already registered.

    Example:
        >>> register(METRICS["accuracy"])
        Traceback (most recent call last):
        ...
        ValueError: metric 'accuracy' is already registered (...); pick another name instead of overwriting it
    """
    METRICS[spec.name] = spec
    return spec


def get_metric(name: str) -> MetricSpec:
    """Looks a metric up by name.

    Args:
        name: Registry key, e.g. ``"seqeval_f1"``.

    Returns:
        The registered ``MetricSpec``.

    Raises:
        KeyError: unknown name; the message suggests near matches.

    Example:
        >>> get_metric("seqeval_f1").outputs
        ('f1', 'precision', 'recall')
    """
    return METRICS[name]


# --- classification ---------------------------------------------------------------------------------


def _check_same_length(predictions: Sequence[Any], labels: Sequence[Any], what: str) -> None:
    if len(predictions) != len(labels):
        raise ValueError(f"{what}: got {len(predictions)} predictions but {len(labels)} labels")
    if len(labels) == 0:
        raise ValueError(f"{what}: got empty predictions and labels; nothing to score")


def accuracy(predictions: Sequence[Any], labels: Sequence[Any]) -> float:
    """Share of predictions equal to their label, in points (XNLI, PAWS-X, XCOPA, Tatoeba).

    Same as ``evaluate.py`` ``accuracy``: ``==`` per pair, divided by the number of examples.

    Args:
        predictions: Predicted labels, one per example.
        labels: Gold labels, same order.

    Returns:
        Accuracy in points.

    Raises:
        ValueError: empty input or different lengths.

    Example:
        >>> accuracy(["entailment", "neutral", "contradiction"], ["entailment", "neutral", "neutral"])
        66.66666666666666
    """
    _check_same_length(predictions, labels, "accuracy")
    correct = sum(int(p == g) for p, g in zip(predictions, labels))
    return correct / len(labels) * 100.0  # (correct / n) * 100, in evaluate.py's order


# --- tagging ----------------------------------------------------------------------------------------


def _as_sentences(tags: Sequence[Sequence[str]], name: str) -> list[list[str]]:
    """Lists of tag strings; seqeval only flattens a batch whose sentences are ``list`` objects."""
    sentences = []
    for i, sentence in enumerate(tags):
        if isinstance(sentence, str):
            raise ValueError(f"{name}[{i}] is a string; expected one list of tags per sentence")
        sentences.append(list(sentence))
    return sentences


def seqeval_f1(pred_tags: Sequence[Sequence[str]], gold_tags: Sequence[Sequence[str]]) -> dict[str, float]:
    """Entity-level micro F1, precision and recall with seqeval's default mode (UD-POS, WikiANN).

    Mirrors ``evaluate.py`` ``f1``: ``seqeval.metrics.f1_score / precision_score / recall_score``
    with gold first, default (lenient, non-strict) mode, values times 100; 0 when there are no
    predicted or no gold spans. For POS tags without B-/I- prefixes see the module docstring:
    runs of the same tag form one span. seqeval's "seems not to be NE tag" warning, expected for
    POS, is silenced.

    Args:
        pred_tags: Predicted tags, one list per sentence.
        gold_tags: Gold tags, one list per sentence, same lengths as ``pred_tags``.

    Returns:
        ``{"f1": ..., "precision": ..., "recall": ...}`` in points.

    Raises:
        ValueError: no sentence, different numbers of sentences, or a sentence whose predicted and
            gold tag counts differ.

    Example:
        >>> seqeval_f1([["B-PER", "I-PER", "O", "O"]], [["B-PER", "I-PER", "O", "B-LOC"]])
        {'f1': 66.66666666666666, 'precision': 100.0, 'recall': 50.0}
    """
    _check_same_length(pred_tags, gold_tags, "seqeval_f1 (sentences)")
    pred = _as_sentences(pred_tags, "pred_tags")
    gold = _as_sentences(gold_tags, "gold_tags")
    for i, (p, g) in enumerate(zip(pred, gold)):
        if len(p) != len(g):
            raise ValueError(f"sentence {i}: pred_tags has {len(p)} tags but gold_tags has {len(g)}")
    # Imported here: seqeval pulls in scikit-learn (about 1.5 s), which only tagging needs.
    from seqeval.metrics import f1_score, precision_score, recall_score

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".* seems not to be NE tag\.", category=UserWarning)
        return {
            "f1": 100.0 * float(f1_score(gold, pred)),
            "precision": 100.0 * float(precision_score(gold, pred)),
            "recall": 100.0 * float(recall_score(gold, pred)),
        }


# --- the registry's contents ------------------------------------------------------------------------

for _spec in (
    MetricSpec("accuracy", accuracy, outputs=("accuracy",),
               description="Label accuracy (XNLI, PAWS-X, XCOPA); xtreme evaluate.py accuracy"),
    MetricSpec("seqeval_f1", seqeval_f1, outputs=("f1", "precision", "recall"),
               description="seqeval default-mode span F1 (UD-POS, WikiANN); xtreme evaluate.py f1"),
    MetricSpec("squad_em_f1", metrics_qa.squad_em_f1, outputs=("em", "f1"),
               description="SQuAD v1.1 EM / token F1 (XQuAD, TyDiQA-GoldP); evaluate-v1.1.py"),
    MetricSpec("mlqa_em_f1", metrics_qa.mlqa_em_f1, outputs=("em", "f1"),
               description="MLQA EM / F1 with per-language normalisation; mlqa_evaluation_v1.py"),
    MetricSpec("bucc_f1", metrics_retrieval.bucc_f1, outputs=("f1", "precision", "recall"),
               description="BUCC 2018 bitext F1 at a dev-tuned threshold; xtreme utils_retrieve.py"),
    MetricSpec("tatoeba_accuracy", metrics_retrieval.tatoeba_accuracy, outputs=("accuracy",),
               description="Tatoeba nearest-neighbour accuracy; xtreme evaluate.py accuracy"),
    MetricSpec("map_at_20", metrics_retrieval.map_at_k, outputs=("map@20",),
               description="LAReQA mean average precision at 20; xtreme utils_lareqa.py"),
    MetricSpec("mewslix_map_at_20", metrics_retrieval.mewslix_map_at_20, outputs=("map@20",),
               description="Mewsli-X mAP@20 (= MRR@20, one gold entity); xtreme utils_mewslix.py"),
):
    register(_spec)
del _spec
