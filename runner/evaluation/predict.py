"""Predictions of the label kinds (classification, pair classification, multiple choice, tagging).

Each of these kinds predicts the argmax of its logits: one label (or choice) per feature, or for
tagging one label per labelled position (the first sub-token of each word). Tagging windows are
joined back into sentences before scoring. Scores are in points: accuracy, or for tagging
seqeval's span F1 / precision / recall (``metric`` ``f1``) or token accuracy. The kind table
(``runner.kinds``) says which decoder and scorer each kind uses.

Example:
    >>> import torch
    >>> decode_tags(torch.tensor([3, 1, 2, 0]), torch.tensor([-100, 1, -100, 0]))
    [1, 0]
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from runner.evaluation.metrics import accuracy, seqeval_f1
from runner.modeling.features import IGNORE, Encoded, sorted_batches
from runner.training.device import autocast

#: (argmax of one feature's logits, its label tensor) -> the prediction stored for it.
Decoder = Callable[[torch.Tensor, torch.Tensor], object]
#: (label names, metric, features, predictions) -> {metric: points}.
Scorer = Callable[[tuple[str, ...], str, Encoded, list], dict[str, float]]


def decode_label(best: torch.Tensor, labels: torch.Tensor) -> int:
    """One label (or choice) index per feature."""
    return int(best)


def decode_tags(best: torch.Tensor, labels: torch.Tensor) -> list[int]:
    """The label indices at the positions that carry a label (first sub-tokens)."""
    return best[labels != IGNORE].tolist()


@torch.no_grad()
def predict(model, enc: Encoded, task: str, cfg, device: torch.device, pad_id: int, decode: Decoder) -> list:
    """Predictions per feature, decoded from the argmax of the task head's logits."""
    model.eval()
    out: list = [None] * len(enc)
    multiple_of = 8 if device.type == "cuda" else 1
    for indices in sorted_batches(enc.lengths, cfg.eval_batch_size):
        batch = {k: v.to(device) for k, v in enc.collate(indices, pad_id, multiple_of).items()}
        with autocast(device, cfg.precision):
            logits = model(batch, task)
        best = logits.argmax(-1).cpu()
        labels = batch["labels"].cpu()
        for row, i in enumerate(indices):
            out[i] = decode(best[row], labels[row])
    return out


def gold(enc: Encoded, i: int):
    """The gold label(s) of feature ``i``, in the shape ``predict`` returns."""
    if enc.token_labels:
        return [y for y in enc.labels[i] if y != IGNORE]
    return enc.labels[i]


def by_example(enc: Encoded, values: list) -> list[list[int]]:
    """Joins tagging windows back into sentences (features of one example are consecutive)."""
    out: dict[int, list[int]] = {}
    for i, v in enumerate(values):
        out.setdefault(enc.example_ids[i], []).extend(v)
    return [out[k] for k in sorted(out)]


def score_labels(labels: tuple[str, ...], metric: str, enc: Encoded, preds: list) -> dict[str, float]:
    """Accuracy in points of one label (or choice) per feature."""
    return {"accuracy": accuracy(preds, [gold(enc, i) for i in range(len(enc))])}


def score_tags(labels: tuple[str, ...], metric: str, enc: Encoded, preds: list) -> dict[str, float]:
    """seqeval F1 / precision / recall over sentences (``metric`` ``f1``), else token accuracy."""
    golds = [gold(enc, i) for i in range(len(enc))]
    pred_sents, gold_sents = by_example(enc, preds), by_example(enc, golds)
    if metric == "f1":
        return seqeval_f1([[labels[t] for t in s] for s in pred_sents], [[labels[t] for t in s] for s in gold_sents])
    return {"accuracy": accuracy([t for s in pred_sents for t in s], [t for s in gold_sents for t in s])}


def dev_evaluator(decode: Decoder, score: Scorer) -> Callable:
    """The English dev scorer of a label-kind stage, in the shape ``training.loop.evaluate_dev`` calls."""

    def evaluate_dev(model, task, cfg, device, pad_id: int) -> dict[str, float]:
        preds = predict(model, task.dev, task.name, cfg, device, pad_id, decode)
        return score(task.labels, task.metric, task.dev, preds)

    return evaluate_dev
