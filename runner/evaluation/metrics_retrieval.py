"""Retrieval metrics: BUCC bitext-mining F1, Tatoeba accuracy, LAReQA mAP@20, Mewsli-X mAP@20.

Pure Python and numpy (no torch, no faiss): these take the candidates or rankings that the
retrieval code produced and score them as XTREME / XTREME-R do.

Sources (google-research/xtreme):

* BUCC: ``third_party/utils_retrieve.py`` (``read_candidate2score``, ``bucc_optimize``,
  ``bucc_extract``) and ``evaluate.py`` ``bucc_f1``. The threshold is tuned on the dev ("sample")
  gold alignments and then applied to the test candidates.
* Tatoeba: ``evaluate.py`` ``accuracy`` over the nearest-neighbour index per source sentence.
* LAReQA: ``third_party/utils_lareqa.py`` ``average_precision_at_k`` / ``mean_avg_prec_at_k``,
  called with ``k=20`` by ``third_party/evaluate_retrieval.py``.
* Mewsli-X: ``third_party/utils_mewslix.py`` ``evaluate`` (``evaluate.py`` ``mewslix_map20``).

All values are points (0-100), as Python floats.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from typing import Any, Union

import numpy as np

__all__ = [
    "bucc_f1",
    "bucc_optimal_threshold",
    "map_at_k",
    "mewslix_map_at_20",
    "tatoeba_accuracy",
]

Pair = tuple[str, str]  # (source sentence id, target sentence id), e.g. ("de-000012", "en-000345")
CandidateScores = Union[Mapping[Pair, float], Iterable[tuple[str, str, float]]]


# --- BUCC 2018 --------------------------------------------------------------------------------------


def _candidate_scores(candidates: CandidateScores) -> dict[Pair, float]:
    """Returns ``{(src, trg): score}``; for repeated pairs the highest score wins, as in
    ``read_candidate2score``. Insertion order is kept: it breaks ties in ``bucc_optimize``."""
    if isinstance(candidates, Mapping):
        return {(str(s), str(t)): float(score) for (s, t), score in candidates.items()}
    scores: dict[Pair, float] = {}
    for src, trg, score in candidates:
        pair = (str(src), str(trg))
        scores[pair] = max(float(score), scores.get(pair, float(score)))
    return scores


def _gold_pairs(gold: Iterable[Sequence[str]]) -> set[Pair]:
    pairs = {(str(src), str(trg)) for src, trg in gold}
    if not pairs:
        raise ValueError("gold_pairs is empty: recall is undefined without gold alignments")
    return pairs


def bucc_optimal_threshold(candidates: CandidateScores, gold: Iterable[Sequence[str]]) -> float:
    """The score threshold that maximises F1 on a split with gold alignments (``bucc_optimize``).

    Candidates are sorted by descending score (a stable sort, so ties keep input order); after each
    candidate the F1 of "extract everything so far" is computed, and the threshold becomes the
    midpoint between the score of the best prefix's last candidate and the next one. Only a strictly
    better F1 moves it.

    Official quirks kept: with no correct candidate at all the threshold stays 0.0, and a midpoint
    inside a block of tied scores equals that score, so extraction (``score >= threshold``) takes the
    whole tied block. One deliberate difference: when the best prefix is the whole list, the script
    reads past its end (IndexError); here the threshold is then the lowest score, which keeps every
    candidate.

    Args:
        candidates: ``{(src_id, trg_id): score}``, or ``(src_id, trg_id, score)`` triples (repeated
            pairs keep their highest score); scores are the mining margin scores.
        gold: The gold ``(src_id, trg_id)`` pairs of the same split.

    Returns:
        The threshold, in the candidates' score units.

    Raises:
        ValueError: ``gold`` is empty.

    Example:
        >>> bucc_optimal_threshold({("a", "1"): 1.2, ("b", "2"): 1.1, ("c", "3"): 1.0},
        ...                        {("a", "1"), ("b", "2")})
        1.05
    """
    gold_pairs = _gold_pairs(gold)
    items = sorted(_candidate_scores(candidates).items(), key=lambda item: -item[1])
    threshold = 0.0
    best_f1 = 0.0
    n_correct = 0
    for n_extracted, (pair, score) in enumerate(items, start=1):
        n_correct += pair in gold_pairs
        if n_correct == 0:
            continue
        precision = n_correct / n_extracted
        recall = n_correct / len(gold_pairs)
        f1 = 2 * precision * recall / (precision + recall)
        if f1 > best_f1:
            best_f1 = f1
            next_score = items[n_extracted][1] if n_extracted < len(items) else score
            threshold = (score + next_score) / 2
    return threshold


def bucc_f1(
    candidate_pairs_with_scores: CandidateScores,
    gold_pairs: Iterable[Sequence[str]],
    threshold: float,
) -> dict[str, float]:
    """BUCC 2018 precision, recall and F1 of the pairs scoring at least ``threshold``.

    Extraction is ``bucc_extract`` (``score >= threshold``); scoring is ``evaluate.py`` ``bucc_f1``
    over sets of pairs, with all three values 0 when no extracted pair is correct.

    Args:
        candidate_pairs_with_scores: ``{(src_id, trg_id): score}`` or ``(src_id, trg_id, score)``
            triples (repeated pairs keep their highest score).
        gold_pairs: The gold ``(src_id, trg_id)`` alignments.
        threshold: Usually ``bucc_optimal_threshold`` of the dev ("sample") split.

    Returns:
        ``{"f1": ..., "precision": ..., "recall": ...}`` in points.

    Raises:
        ValueError: ``gold_pairs`` is empty.

    Example:
        >>> bucc_f1({("a", "1"): 1.2, ("b", "2"): 1.1, ("c", "3"): 1.0}, {("a", "1"), ("c", "3")}, 1.05)
        {'f1': 50.0, 'precision': 50.0, 'recall': 50.0}
    """
    gold = _gold_pairs(gold_pairs)
    extracted = {pair for pair, score in _candidate_scores(candidate_pairs_with_scores).items()
                 if score >= threshold}
    n_correct = len(gold & extracted)
    if n_correct == 0:
        return {"f1": 0.0, "precision": 0.0, "recall": 0.0}
    precision = n_correct / len(extracted)
    recall = n_correct / len(gold)
    f1 = 2 * precision * recall / (precision + recall)
    return {"f1": 100.0 * f1, "precision": 100.0 * precision, "recall": 100.0 * recall}


# --- Tatoeba ----------------------------------------------------------------------------------------


def _as_index_vector(values: Any, name: str) -> np.ndarray:
    """A 1-D array; a (n, 1) column, as faiss ``search(..., 1)`` returns, is accepted too."""
    array = np.asarray(values)
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 1:
        raise ValueError(f"{name} must be 1-D (or an (n, 1) column), got shape {array.shape}")
    return array


def tatoeba_accuracy(predicted_indices: Sequence[int], gold_indices: Sequence[int]) -> float:
    """Share of source sentences whose nearest neighbour is their translation, in points.

    XTREME writes one predicted target index per line and scores it with ``evaluate.py``
    ``accuracy`` against the gold index (for Tatoeba the gold of sentence i is i).

    Args:
        predicted_indices: Nearest-neighbour target index per source sentence.
        gold_indices: Index of the true translation per source sentence.

    Returns:
        Accuracy in points.

    Raises:
        ValueError: empty input or different lengths.

    Example:
        >>> tatoeba_accuracy([0, 1, 5, 3], [0, 1, 2, 3])
        75.0
    """
    predicted = _as_index_vector(predicted_indices, "predicted_indices")
    gold = _as_index_vector(gold_indices, "gold_indices")
    if len(predicted) != len(gold):
        raise ValueError(
            f"predicted_indices has {len(predicted)} entries but gold_indices has {len(gold)}")
    if len(gold) == 0:
        raise ValueError("tatoeba_accuracy needs at least one sentence, got empty inputs")
    return int(np.count_nonzero(predicted == gold)) / len(gold) * 100.0


# --- LAReQA -----------------------------------------------------------------------------------------


def _average_precision_at_k(relevant: set, ranked: Sequence[Hashable], k: int | None) -> float:
    """AP@k in [0, 1] as ``utils_lareqa.average_precision_at_k``.

    Repeated candidates count once; the divisor is ``min(len(relevant), k)``, so a ranking shorter
    than k is not padded out and relevant answers beyond k are missed, not excused.
    """
    if k:
        ranked = ranked[:k]
    score = 0.0
    hits = 0
    seen: set = set()  # the script's `pred not in ranked_predictions[:i]`, without the O(k^2) scan
    for i, candidate in enumerate(ranked):
        if candidate in relevant and candidate not in seen:
            hits += 1
            score += hits / (i + 1)
        seen.add(candidate)
    return score / (min(len(relevant), k) if k else len(relevant))


def map_at_k(
    ranked_candidate_ids: Sequence[Sequence[Hashable]],
    relevant_ids: Sequence[set],
    k: int | None = 20,
) -> float:
    """Mean average precision at k (LAReQA mAP@20), as ``utils_lareqa.mean_avg_prec_at_k``.

    For each question: walk its ranking down to rank k; at each first occurrence of a relevant
    candidate add precision-at-that-rank; divide by ``min(number relevant, k)``. LAReQA has one
    relevant answer sentence per language (several relevant ids per question).

    Args:
        ranked_candidate_ids: Per question, candidate ids best first (may be shorter than k).
        relevant_ids: Per question, the set of correct candidate ids (non-empty).
        k: Cut-off rank; ``None`` scores the whole ranking (the script's ``k=None``).

    Returns:
        mAP@k in points.

    Raises:
        ValueError: no question, different lengths, a question without relevant ids, or k < 1.

    Example:
        >>> map_at_k([["x", "r1", "r2"]], [{"r1", "r2"}])  # (1/2 + 2/3) / 2
        58.33333333333333
    """
    if len(ranked_candidate_ids) != len(relevant_ids):
        raise ValueError(f"ranked_candidate_ids has {len(ranked_candidate_ids)} questions but "
                         f"relevant_ids has {len(relevant_ids)}")
    if len(relevant_ids) == 0:
        raise ValueError("map_at_k needs at least one question, got empty inputs")
    if k is not None and k < 1:
        raise ValueError(f"k must be a positive rank or None, got {k}")
    scores = []
    for i, (ranked, relevant) in enumerate(zip(ranked_candidate_ids, relevant_ids)):
        if not relevant:  # the script would divide by zero
            raise ValueError(f"question {i} has no relevant candidate ids")
        scores.append(_average_precision_at_k(set(relevant), list(ranked), k))
    return 100.0 * float(np.mean(scores))


# --- Mewsli-X ---------------------------------------------------------------------------------------

MEWSLIX_TOP_K = 20  # utils_mewslix.TOP_K


def mewslix_map_at_20(
    predictions: Mapping[str, Sequence[str]],
    gold: Mapping[str, Sequence[str] | str],
    k: int = MEWSLIX_TOP_K,
) -> float:
    """Mewsli-X "mAP@20", as ``utils_mewslix.evaluate``: mean reciprocal rank over the top k.

    Each mention has exactly one gold entity (the script reads ``labels[0].strip()`` and ignores
    any further entry), so average precision reduces to the reciprocal rank of the first correct
    prediction: mAP@20 equals MRR@20 here. Mentions without predictions score 0; predictions for
    unknown mentions are ignored. Predicted ids are compared unstripped, as in the script.

    Args:
        predictions: Mention ``example_id`` -> predicted entity ids, best first.
        gold: Mention ``example_id`` -> gold entity id, as a singleton list (the data's format) or
            a plain string.
        k: Cut-off rank (20 in XTREME-R).

    Returns:
        mAP@20 (= MRR@20) in points.

    Raises:
        ValueError: ``gold`` is empty (the script would return 0.0) or a gold list is empty.

    Example:
        >>> mewslix_map_at_20({"m1": ["Q2", "Q1"], "m2": ["Q7"]}, {"m1": ["Q1"], "m2": ["Q9"]})
        25.0
    """
    if not gold:
        raise ValueError("gold is empty: there is no mention to score")
    reciprocal_ranks = []
    for example_id, labels in gold.items():
        if isinstance(labels, str):
            labels = [labels]
        if not labels:
            raise ValueError(f"gold[{example_id!r}] has no entity id")
        gold_entity = labels[0].strip()
        top_k = list(predictions.get(example_id, []))[:k]
        rank = next((r for r, entity in enumerate(top_k, start=1) if entity == gold_entity), None)
        reciprocal_ranks.append(1.0 / rank if rank else 0.0)
    # (sum / n) * 100 in this order, as the script and evaluate.py do, to be equal to the last bit.
    return sum(reciprocal_ranks) / len(reciprocal_ranks) * 100.0
