"""Extractive QA: sliding-window features, n-best span decoding and EM/F1 scoring.

The recipe is XTREME's ``third_party/run_squad.py`` (the transformers 2.x SQuAD processor):

* The question keeps its first ``max_query_length`` (64) sub-tokens; the context is cut into
  windows of at most ``max_length`` (384) sub-tokens per feature, the windows starting every
  ``doc_stride`` (128) context sub-tokens until one reaches the end (so windows overlap).
* Training: a window whose span holds the whole answer is labelled with the answer's first and last
  sub-token; every other window (and every SQuAD v2.0 unanswerable question) points at the first
  token (``<s>`` / ``[CLS]``). Examples whose answer text does not sit at its ``answer_start`` are
  skipped, as the reference skips answers it cannot recover.
* Decoding: per window the ``n_best`` (20) highest start and end logits are paired; a pair counts
  when both ends are context tokens, end >= start, it spans at most ``max_answer_length`` (30)
  sub-tokens, and the window gives the start token its most central position ("max context").
  The best pair over all windows wins; its text is the context's characters between the two
  span's text comes from ``runner.modeling.answer_text`` (``qa.answer_text``): by default as XTREME
  maps it back through the context's whitespace words and ``get_final_text``. For SQuAD v2.0 the
  empty answer wins when the best window's null score (first-token start + end) is higher.
* Scoring: ``runner.evaluation.metrics_qa`` (SQuAD v1.1 script; MLQA script with the answer language).

Example:
    >>> window_spans(10, budget=4, stride=3)
    [(0, 4), (3, 7), (6, 10)]
    >>> max_context_flags([(0, 4), (3, 7), (6, 10)])[1]
    [False, True, True, True]
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from runner.evaluation.metrics_qa import mlqa_em_f1, squad_em_f1, squad_normalize
from runner.modeling.answer_text import ContextText, detokenizer
from runner.modeling.features import Encoded, collate, sorted_batches
from runner.training.device import autocast

KIND = "question_answering"


# ------------------------------------------------------------------------------------ features
@dataclass(frozen=True)
class PairTemplate:
    """Special tokens a tokenizer puts around a (question, context) pair, and the segment ids."""

    prefix: list[int]
    middle: list[int]
    suffix: list[int]
    types: tuple[int, int] | None  # segment id of (prefix + question + middle, context + suffix)

    def width(self) -> int:
        return len(self.prefix) + len(self.middle) + len(self.suffix)


def pair_template(tokenizer) -> PairTemplate:
    """Finds the pair layout by encoding a probe pair with the special-tokens mask."""
    enc = tokenizer("a b", "c d", return_special_tokens_mask=True, return_token_type_ids=True)
    ids, special = enc["input_ids"], enc["special_tokens_mask"]
    runs, i = [], 0
    while i < len(ids):  # the two runs of non-special positions are the question and the context
        if special[i]:
            i += 1
            continue
        j = i
        while j < len(ids) and not special[j]:
            j += 1
        runs.append((i, j))
        i = j
    if len(runs) != 2:
        raise ValueError(f"cannot find the question and context in the pair encoding of {type(tokenizer).__name__}")
    (a0, a1), (b0, b1) = runs
    types = None
    if "token_type_ids" in tokenizer.model_input_names and enc.get("token_type_ids"):
        types = (enc["token_type_ids"][a0], enc["token_type_ids"][b0])
    return PairTemplate(ids[:a0], ids[a1:b0], ids[b1:], types)


def window_spans(n_tokens: int, budget: int, stride: int) -> list[tuple[int, int]]:
    """``[start, end)`` context-token windows: starts every ``stride`` tokens, each at most ``budget``
    long, until a window reaches the end (the transformers 2.x SQuAD processor XTREME uses).

    A stride above the budget is clamped to it, so no context token is ever skipped.
    """
    budget = max(1, budget)
    stride = max(1, min(stride, budget))
    spans, start = [], 0
    while True:
        end = min(start + budget, n_tokens)
        spans.append((start, end))
        if end >= n_tokens:
            return spans
        start += stride


def max_context_flags(spans: Sequence[tuple[int, int]]) -> list[list[bool]]:
    """Per window, per token: is this the window where the token has the most context?

    The score of a token in a window is ``min(tokens left, tokens right) + 0.01 * window length``;
    the first window with the highest score owns the token (``_check_is_max_context``).
    """
    best: dict[int, tuple[float, int]] = {}
    for w, (s, e) in enumerate(spans):
        for p in range(s, e):
            score = min(p - s, e - 1 - p) + 0.01 * (e - s)
            if p not in best or score > best[p][0]:
                best[p] = (score, w)
    return [[best[p][1] == w for p in range(s, e)] for w, (s, e) in enumerate(spans)]


def answer_token_span(offsets: Sequence[tuple[int, int]], char_start: int, char_end: int) -> tuple[int, int] | None:
    """First and last context token overlapping ``[char_start, char_end)``; None if none does."""
    first = next((i for i, (s, e) in enumerate(offsets) if e > char_start and e > s), None)
    last = next((i for i in range(len(offsets) - 1, -1, -1)
                 if offsets[i][0] < char_end and offsets[i][1] > offsets[i][0]), None)
    if first is None or last is None or last < first:
        return None
    return first, last


def _answer_chars(ex: Mapping) -> tuple[int, int] | None:
    """Character span of the first answer, or None when its text is not at its ``answer_start``."""
    if not ex["answers"] or not ex["starts"]:
        return None
    start, text = ex["starts"][0], ex["answers"][0]
    if ex["context"][start:start + len(text)] != text:
        return None
    return start, start + len(text)


def encode_qa(examples: Sequence[dict], tokenizer, max_length: int, doc_stride: int = 128,
              max_query_length: int = 64, training: bool = False) -> Encoded:
    """Question + context windows; labels are ``[start, end]`` positions in the feature.

    Args:
        examples: ``squad``-adapter examples.
        tokenizer: a fast tokenizer (character offsets are needed).
        max_length: sub-tokens per feature.
        doc_stride: context sub-tokens between window starts.
        max_query_length: question sub-tokens kept.
        training: label windows and skip unrecoverable answers; otherwise keep what decoding needs.
    """
    tpl = pair_template(tokenizer)
    questions = tokenizer([ex["question"] for ex in examples], add_special_tokens=False)["input_ids"]
    contexts = tokenizer([ex["context"] for ex in examples], add_special_tokens=False, return_offsets_mapping=True)
    ids, labels, owners, types, windows = [], [], [], [], []
    offsets_out, kept, context_ids = [], [], []
    for i, ex in enumerate(examples):
        chars = _answer_chars(ex)
        if training and chars is None and ex["answers"]:
            continue  # the answer cannot be recovered from the context: skipped, as the reference does
        # the question never takes more than max_length - 8 (short test windows), so context fits
        q = questions[i][:max(1, min(max_query_length, max_length - tpl.width() - 8))]
        ctx, offsets = contexts["input_ids"][i], [tuple(o) for o in contexts["offset_mapping"][i]]
        answer = answer_token_span(offsets, *chars) if chars is not None else None
        ctx_at = len(tpl.prefix) + len(q) + len(tpl.middle)
        example_index = len(kept)
        for s, e in window_spans(len(ctx), max_length - tpl.width() - len(q), doc_stride):
            ids.append(tpl.prefix + q + tpl.middle + ctx[s:e] + tpl.suffix)
            inside = answer is not None and s <= answer[0] and answer[1] < e
            labels.append([ctx_at + answer[0] - s, ctx_at + answer[1] - s] if inside else [0, 0])
            owners.append(example_index)
            windows.append((ctx_at, s, e))
            if tpl.types is not None:
                first, second = tpl.types
                types.append([first] * ctx_at + [second] * (len(ids[-1]) - ctx_at))
        kept.append(ex)
        offsets_out.append(offsets)
        context_ids.append(ctx)
    extra = {"windows": windows}
    if not training:  # what decoding needs to turn a span into text (runner.modeling.answer_text)
        extra["offsets"] = offsets_out
        extra["examples"] = [{"id": ex["id"], "context": ex["context"], "answers": ex["answers"]} for ex in kept]
        extra["tokens"] = [tokenizer.convert_ids_to_tokens(ids) for ids in context_ids]
        extra["detokenizer"] = detokenizer(tokenizer)
        extra["lower_case"] = bool(getattr(tokenizer, "do_lower_case", False))
    return Encoded(KIND, ids, labels, owners, types if tpl.types is not None else None, extra=extra)


# ------------------------------------------------------------------------------------ decoding
def _top(values: Sequence[float], n: int) -> list[int]:
    """Indices of the ``n`` largest values, largest first (ties: lower index first)."""
    return np.argsort(-np.asarray(values, dtype=np.float64), kind="stable")[:n].tolist()


def window_candidates(start_logits: Sequence[float], end_logits: Sequence[float], ctx_at: int, ctx_len: int,
                      max_context: Sequence[bool], n_best: int, max_answer_length: int) -> list[tuple[float, int, int]]:
    """Valid (score, start, end) spans of one window, positions relative to its context tokens.

    The ``n_best`` best starts are paired with the ``n_best`` best ends (over the whole feature, as
    the reference does); pairs outside the context, reversed, longer than ``max_answer_length``
    sub-tokens, or starting on a token that another window sees more centrally are dropped.
    """
    out = []
    for i in _top(start_logits, n_best):
        for j in _top(end_logits, n_best):
            si, ej = i - ctx_at, j - ctx_at
            if not (0 <= si < ctx_len and 0 <= ej < ctx_len) or ej < si or ej - si + 1 > max_answer_length:
                continue
            if not max_context[si]:
                continue
            out.append((float(start_logits[i]) + float(end_logits[j]), si, ej))
    return out


def decode_example(context: str, offsets: Sequence[tuple[int, int]], windows: Sequence[tuple[int, int, int]],
                   logits: Sequence[tuple[Sequence[float], Sequence[float]]], n_best: int, max_answer_length: int,
                   allow_empty: bool = False, text: Callable[[int, int], str] | None = None) -> str:
    """The answer text of one example from the start/end logits of its windows.

    Args:
        context: the example's context.
        offsets: character span of each context token.
        windows: ``(ctx_at, start, end)`` per window: where its context starts in the feature and
            which context tokens it holds.
        logits: (start logits, end logits) per window, over the feature's positions.
        n_best: start and end candidates per window.
        max_answer_length: longest answer in sub-tokens.
        allow_empty: SQuAD v2.0: answer "" when the lowest null score beats the best span.
        text: (first, last context token) -> answer text; None: the context between their offsets.
    """
    flags = max_context_flags([(s, e) for _, s, e in windows])
    best, null = None, math.inf
    for (ctx_at, s, e), (start, end), flag in zip(windows, logits, flags):
        null = min(null, float(start[0]) + float(end[0]))
        for score, si, ej in window_candidates(start, end, ctx_at, e - s, flag, n_best, max_answer_length):
            if best is None or score > best[0]:
                best = (score, s + si, s + ej)
    if best is None or (allow_empty and null > best[0]):
        return ""
    if text is None:
        return context[offsets[best[1]][0]:offsets[best[2]][1]]
    return text(best[1], best[2])


def decode(enc: Encoded, logits: Sequence[tuple[Sequence[float], Sequence[float]]], n_best: int,
           max_answer_length: int, allow_empty: bool = False, answer_text: str = "xtreme",
           lang: str = "en") -> dict[str, str]:
    """Question id -> answer text for every example of ``enc`` (windows of one example are consecutive).

    ``answer_text`` and ``lang`` say how a span becomes text (``runner.modeling.answer_text``)."""
    by_example: dict[int, list[int]] = {}
    for f, owner in enumerate(enc.example_ids):
        by_example.setdefault(owner, []).append(f)
    out = {}
    for owner, feats in by_example.items():
        ex = enc.extra["examples"][owner]
        ctx = ContextText(ex["context"], enc.extra["offsets"][owner], enc.extra["tokens"][owner],
                          enc.extra["detokenizer"], enc.extra["lower_case"])
        out[ex["id"]] = decode_example(ex["context"], enc.extra["offsets"][owner], [enc.extra["windows"][f] for f in feats],
                                       [logits[f] for f in feats], n_best, max_answer_length, allow_empty,
                                       lambda first, last, ctx=ctx: ctx.answer(first, last, answer_text, lang))
    return out


# ------------------------------------------------------------------------------------- scoring
def squad_v2_em_f1(predictions: Mapping[str, str], references: Mapping[str, Sequence[str]]) -> dict[str, float]:
    """SQuAD v2.0 EM/F1 (``evaluate-v2.0.py``): an unanswerable question's gold is "", and F1 with
    an empty side is 1 only when both are empty. Used for the v2.0 intermediate dev set only."""
    em = f1 = 0.0
    for qid, golds in references.items():
        golds = [g for g in golds if squad_normalize(g)] or [""]
        pred = squad_normalize(predictions.get(qid, ""))
        em += max(float(pred == squad_normalize(g)) for g in golds)
        best = 0.0
        for g in golds:
            p_toks, g_toks = pred.split(), squad_normalize(g).split()
            if not p_toks or not g_toks:
                best = max(best, float(p_toks == g_toks))
                continue
            same = sum((Counter(p_toks) & Counter(g_toks)).values())
            if same:
                precision, recall = same / len(p_toks), same / len(g_toks)
                best = max(best, 2 * precision * recall / (precision + recall))
        f1 += best
    n = max(1, len(references))
    return {"em": 100.0 * em / n, "f1": 100.0 * f1 / n}


def score(predictions: Mapping[str, str], enc: Encoded, metric: str = "squad", lang: str = "en") -> dict[str, float]:
    """EM and F1 in points: ``squad`` (v1.1 script), ``mlqa`` (MLQA script, ``lang``) or ``squad_v2``."""
    references = {ex["id"]: ex["answers"] for ex in enc.extra["examples"]}
    if metric == "squad_v2":
        return squad_v2_em_f1(predictions, references)
    references = {k: v for k, v in references.items() if v}  # v1.1 scripts: every question has an answer
    if metric == "mlqa":
        return mlqa_em_f1(predictions, references, lang)
    return squad_em_f1(predictions, references)


# ---------------------------------------------------------------------------------- evaluation
def predict_logits(model, enc: Encoded, task: str, cfg, device, pad_id: int) -> list[tuple]:
    """(start logits, end logits) of every feature as float32 arrays, trimmed to its length."""
    model.eval()
    out: list = [None] * len(enc)
    with torch.no_grad():
        for batch_ids in sorted_batches(enc.lengths, cfg.eval_batch_size):
            batch = {k: v.to(device) for k, v in collate(enc, batch_ids, pad_id).items()}
            with autocast(device, cfg.precision):
                logits = model(batch, task).float().cpu()
            for row, f in enumerate(batch_ids):
                n = enc.lengths[f]
                out[f] = (logits[row, :n, 0].numpy(), logits[row, :n, 1].numpy())
    return out


def evaluate(model, enc: Encoded, task: str, train_cfg, qa_cfg, device, pad_id: int, metric: str = "squad",
             lang: str = "en") -> tuple[dict[str, float], dict[str, str]]:
    """(EM/F1 in points, id -> predicted answer) of one evaluation set."""
    logits = predict_logits(model, enc, task, train_cfg, device, pad_id)
    predictions = decode(enc, logits, qa_cfg.n_best, qa_cfg.max_answer_length, allow_empty=metric == "squad_v2",
                         answer_text=qa_cfg.answer_text, lang=lang)
    return score(predictions, enc, metric, lang), predictions


def dev_evaluator(qa_cfg, metric: str = "squad") -> Callable:
    """The English dev scorer of a QA training stage, in the shape ``training.evaluate_dev`` calls."""

    def evaluate_dev(model, task, cfg, device, pad_id: int) -> dict[str, float]:
        return evaluate(model, task.dev, task.name, cfg, qa_cfg, device, pad_id, metric)[0]

    return evaluate_dev
