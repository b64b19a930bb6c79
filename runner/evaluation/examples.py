"""Per-example prediction rows of phase 3, in the columns of ``store.predictions``.

One function per kind of target output; each turns one language's examples and predictions into
rows (``example_id``, ``text``, ``gold``, ``prediction``, correctness and per-example scores, and
the bucket attributes the kind has). Example ids are the dataset's own where it has them (QA,
LAReQA, Mewsli-X), else the example's position in the test split (as read, after
``max_eval_examples``), which is the same for every run on the same data.

Per-example scores are the parts of the official metric, so the store can recompute it (and
resample it) from the rows: accuracy is the mean of ``correct``; span F1 is
``2 sum tp / (sum n_pred + sum n_gold)`` with seqeval's spans per sentence; QA EM / F1 are the
means of the per-question values of the same scorer; mAP@20 is the mean of ``score``.

Example:
    >>> rows = label_rows([{"text_a": "A cat.", "text_b": "An animal.", "label": 0}], [0], ("entailment", "neutral"), [6])
    >>> rows[0]["correct"], rows[0]["text"], rows[0]["n_words"]
    (True, 'A cat. ||| An animal.', 4)
"""

from __future__ import annotations

import bisect
import re
import warnings
from collections.abc import Mapping, Sequence

from runner.evaluation.metrics_qa import mlqa_em_f1, squad_em_f1
from runner.evaluation.metrics_retrieval import _average_precision_at_k
from runner.evaluation.predict import gold

WH_WORDS = ("what", "which", "who", "whom", "whose", "when", "where", "why", "how")
_WORD = re.compile(r"\w+", re.UNICODE)


def question_word(question: str) -> str:
    """The first English wh-word of a question (``how`` for "how many"), else ``other``.

    >>> question_word("In which year did it open?"), question_word("Wann wurde es eröffnet?")
    ('which', 'other')
    """
    for word in _WORD.findall(question.lower()):
        if word in WH_WORDS:
            return word
    return "other"


def n_words(text: str) -> int:
    """Whitespace words (scripts without spaces count one per run of text)."""
    return len(text.split())


def _example_text(ex: Mapping) -> str:
    if "text_a" in ex:
        return ex["text_a"] if not ex.get("text_b") else f"{ex['text_a']} ||| {ex['text_b']}"
    # multiple choice: the shared first segment, then the choices
    return f"{ex['first'][0]} ||| " + " | ".join(ex["second"])


def label_rows(examples: Sequence[Mapping], preds: Sequence[int], labels: Sequence[str],
               n_tokens: Sequence[int]) -> list[dict]:
    """Classification, sentence pairs and multiple choice: one label (or choice) per example.

    Args:
        examples: the adapter's examples in test-split order (``label`` an index).
        preds: predicted label (or choice) index per example.
        labels: the label names (empty for multiple choice: choices are numbered).
        n_tokens: model sub-tokens per example (all choices for multiple choice).
    """
    rows = []
    for i, (ex, pred) in enumerate(zip(examples, preds)):
        name = (lambda k: labels[k]) if labels else (lambda k: str(k))
        text = _example_text(ex)
        rows.append({
            "example_id": str(i), "text": text, "gold": name(ex["label"]), "prediction": name(pred),
            "correct": pred == ex["label"], "score": 100.0 * (pred == ex["label"]),
            "n_words": n_words(text.replace(" ||| ", " ").replace(" | ", " ")), "n_tokens": int(n_tokens[i]),
            "label_types": name(ex["label"]),
        })
    return rows


def spans(tags: Sequence[str]) -> set[tuple[str, int, int]]:
    """seqeval's spans of one sentence (default mode, as ``runner.evaluation.metrics.seqeval_f1`` scores)."""
    from seqeval.metrics.sequence_labeling import get_entities

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".* seems not to be NE tag\.", category=UserWarning)
        return set(get_entities(list(tags)))


def corpus_span_counts(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]]) -> list[tuple[int, int, int]]:
    """(tp, n_pred, n_gold) per sentence whose sums are exactly seqeval's corpus counts.

    seqeval reads a corpus as one sequence with an ``O`` after each sentence, and its chunking
    carries state across that separator (a sentence opening with a one-letter tag such as UPOS
    ``X`` continues the previous chunk's type), so spans are found on the whole corpus as seqeval
    does and each is counted in the sentence where it starts.
    """
    from seqeval.metrics.sequence_labeling import get_entities

    starts, pos = [], 0
    for sentence in gold:
        starts.append(pos)
        pos += len(sentence) + 1  # the separator
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".* seems not to be NE tag\.", category=UserWarning)
        g = set(get_entities([list(s) for s in gold] or [[]]))
        p = set(get_entities([list(s) for s in pred] or [[]]))
    counts = [[0, 0, 0] for _ in gold]
    for spans_, slot in ((g & p, 0), (p, 1), (g, 2)):
        for _, start, _ in spans_:
            counts[bisect.bisect_right(starts, start) - 1][slot] += 1
    return [tuple(c) for c in counts]


def tag_rows(examples: Sequence[Mapping], pred_tags: Sequence[Sequence[int]], labels: Sequence[str],
             n_tokens: Sequence[int], gold_tags: Sequence[Sequence[int]] | None = None) -> list[dict]:
    """Tagging (UD-POS, WikiANN): tags per word; span counts so that the corpus F1 is recoverable.

    Args:
        examples: the adapter's examples (``tokens``, ``tags`` as label indices) in split order.
        pred_tags: predicted tag indices per example, one per word.
        labels: the tag names.
        n_tokens: model sub-tokens per example (over its windows).
        gold_tags: the gold tags as scored (words the tokenizer keeps); default the examples' tags.
    """
    golds = [[labels[t] for t in (gold_tags[i] if gold_tags is not None else ex["tags"])] for i, ex in enumerate(examples)]
    preds = [[labels[t] for t in pred] for pred in pred_tags]
    counts = corpus_span_counts(golds, preds)
    rows = []
    for i, (ex, gold, got) in enumerate(zip(examples, golds, preds)):
        tp, n_pred, n_gold = counts[i]
        rows.append({
            "example_id": str(i), "text": " ".join(ex["tokens"]), "gold": " ".join(gold), "prediction": " ".join(got),
            "correct": gold == got, "tp": tp, "n_pred": n_pred, "n_gold": n_gold,
            "n_words": len(ex["tokens"]), "n_tokens": int(n_tokens[i]),
            "label_types": ",".join(sorted({t for t, _, _ in spans(gold)})),
        })
    return rows


def qa_rows(examples: Sequence[Mapping], predictions: Mapping[str, str], metric: str = "squad",
            lang: str = "en", n_tokens: Mapping[str, int] | None = None) -> list[dict]:
    """Extractive QA: per question EM and F1 (points) with the target's own scorer.

    Questions without a gold answer are left out under the v1.1 scripts, as they score them.
    """
    rows = []
    for ex in examples:
        golds = list(ex["answers"])
        if not golds and metric != "squad_v2":
            continue
        pred = predictions.get(ex["id"], "")
        if metric == "mlqa":
            s = mlqa_em_f1({ex["id"]: pred}, {ex["id"]: golds}, lang)
        elif golds:
            s = squad_em_f1({ex["id"]: pred}, {ex["id"]: golds})
        else:  # squad_v2 without an answer: right only when abstaining
            s = {"em": 100.0 * (pred == ""), "f1": 100.0 * (pred == "")}
        rows.append({
            "example_id": str(ex["id"]), "text": ex["question"], "gold": " || ".join(golds), "prediction": pred,
            "correct": s["em"] == 100.0, "em": s["em"], "f1": s["f1"], "score": s["f1"],
            "n_words": n_words(ex["question"]) + n_words(ex["context"]),
            "n_tokens": None if n_tokens is None else n_tokens.get(ex["id"]),
            "answer_words": n_words(golds[0]) if golds else 0, "question_word": question_word(ex["question"]),
        })
    return rows


def ranking_rows(queries: Sequence[tuple[str, str]], ranked: Sequence[Sequence], relevant: Sequence[set],
                 k: int = 20, gold_names: Sequence[str] | None = None) -> list[dict]:
    """Retrieval as ranking (LAReQA, Mewsli-X, Tatoeba with k = 1): rank of the first relevant
    candidate and average precision at k (points; for one relevant candidate, 100 / rank)."""
    rows = []
    for (qid, text), got, rel, in zip(queries, ranked, relevant):
        got = list(got)
        rank = next((i + 1 for i, c in enumerate(got[:k]) if c in rel), None)
        rows.append({
            "example_id": str(qid), "text": text,
            "gold": " || ".join(sorted(map(str, rel))) if gold_names is None else gold_names[len(rows)],
            "prediction": str(got[0]) if got else "", "correct": rank == 1, "gold_rank": rank,
            "score": 100.0 * _average_precision_at_k(set(rel), got, k), "n_words": n_words(text),
        })
    return rows


# ---------------------------------------------------------------------- from encoded features
def _per_example(enc, values) -> tuple[dict[int, list], dict[int, int]]:
    """Feature values gathered per example id (windows in order), and sub-tokens per example."""
    out: dict[int, list] = {}
    tokens: dict[int, int] = {}
    for i, ex_id in enumerate(enc.example_ids):
        out.setdefault(ex_id, []).append(values[i])
        tokens[ex_id] = tokens.get(ex_id, 0) + enc.real_tokens(i)
    return out, tokens


def label_feature_rows(examples: Sequence[Mapping], enc, preds: Sequence, labels: Sequence[str]) -> list[dict]:
    """:func:`label_rows` from a label kind's features (one feature per example)."""
    per, tokens = _per_example(enc, preds)
    kept = sorted(per)
    return [dict(r, example_id=str(k)) for k, r in zip(kept, label_rows(
        [examples[k] for k in kept], [per[k][0] for k in kept], labels, [tokens[k] for k in kept]))]


def tag_feature_rows(examples: Sequence[Mapping], enc, preds: Sequence, labels: Sequence[str]) -> list[dict]:
    """:func:`tag_rows` from tagging windows: each example's windows joined, gold as scored."""
    per, tokens = _per_example(enc, preds)
    golds, _ = _per_example(enc, [gold(enc, i) for i in range(len(enc))])
    kept = sorted(per)
    joined = [[t for window in per[k] for t in window] for k in kept]
    gold_joined = [[t for window in golds[k] for t in window] for k in kept]
    return [dict(r, example_id=str(k)) for k, r in zip(kept, tag_rows(
        [examples[k] for k in kept], joined, labels, [tokens[k] for k in kept], gold_joined))]


def qa_tokens(enc) -> dict[str, int]:
    """Sub-tokens per question id over its windows (QA features own an example index)."""
    out: dict[str, int] = {}
    for i, owner in enumerate(enc.example_ids):
        qid = enc.extra["examples"][owner]["id"]
        out[qid] = out.get(qid, 0) + enc.real_tokens(i)
    return out
