"""What each head kind does, in one table: one entry per kind, and no branch on a kind's name elsewhere.

A task declaration (``runner.tasks``) names the kind of each training stage and of the task; every
step of a run that differs between kinds reads the kind's entry here:

==================== =================================== ============================= =========================
kind                 encoder input                       head, loss                    decoding, scorer
==================== =================================== ============================= =========================
classification       one sentence, truncated             first token, cross-entropy    argmax, accuracy
pair_classification  a sentence pair, truncated          first token, cross-entropy    argmax, accuracy
multiple_choice      one pair per choice                 first token per choice, CE    argmax choice, accuracy
tagging              words -> sub-tokens, in windows     every token, CE on first      argmax per word, seqeval F1
                                                         sub-tokens
question_answering   question + context windows          start/end logits, mean CE     n-best spans, SQuAD/MLQA
(span extraction)                                                                      EM/F1
retrieval            sentences, mean-pooled layer        none (no fine-tuning)         nearest neighbours / margin
                                                                                       mining, accuracy or F1
dual_encoder         (query, candidate) pairs            pooled + L2 norm, in-batch    ranking, mAP@20
                                                         softmax
masked_lm            corpus sequences (--variant mlm)    the model's MLM head, CE on   - (trained, never scored)
                                                         masked tokens
==================== =================================== ============================= =========================

Each entry also holds its kind-specific encoder settings (``options``), the English dev evaluator
of a training stage (``dev_evaluator``), the phase-3 evaluator of a target (``evaluate_target``),
the config section that defines runs of the kind (``config_section``) and, for ``runner plan``,
the mean tokens per example assumed when the catalog gives no size (``assumed_tokens``).

Example:
    >>> KINDS["pair_classification"].head.__name__, KINDS["tagging"].config_section
    ('ClassificationHead', None)
    >>> get_kind("taging")
    Traceback (most recent call last):
    ...
    runner.errors.RunnerError: unknown head kind 'taging' (did you mean 'tagging'?); known: ...
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import torch
from torch import nn

from runner.errors import RunnerError
from runner.evaluation import examples, metrics_retrieval, predict
from runner.evaluation.targets import TargetEvaluator
from runner.modeling import dual_encoder, qa
from runner.modeling.encoder import hidden_size
from runner.modeling.features import IGNORE, encode_classification, encode_multiple_choice, encode_tagging
from runner.modeling.heads import (ClassificationHead, DualEncoderHead, MultipleChoiceHead, SpanHead, TaggingHead,
                                   TaskModel)
from store.catalog import suggest


# ------------------------------------------------------------------------------------ losses
def label_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of one label (or choice) per feature."""
    return nn.functional.cross_entropy(logits.float(), labels)


def token_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Cross-entropy per token, on labelled positions only (first sub-tokens)."""
    return nn.functional.cross_entropy(logits.flatten(0, 1).float(), labels.flatten(), ignore_index=IGNORE)


def span_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean of the start and end cross-entropies, as XTREME's ``run_squad.py``."""
    start, end = logits.float().unbind(-1)
    return (nn.functional.cross_entropy(start, labels[:, 0]) + nn.functional.cross_entropy(end, labels[:, 1])) / 2


def in_batch_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """In-batch softmax: query i's candidate is candidate i (the others are its negatives)."""
    return nn.functional.cross_entropy(logits.float(), torch.arange(logits.shape[0], device=logits.device))


def masked_lm_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of the masked positions (the MLM model returns their logits only)."""
    return nn.functional.cross_entropy(logits.float(), labels[labels != IGNORE])


# ---------------------------------------------------------------------- settings per kind
def no_options(cfg, stage) -> dict:
    """Kinds whose features need nothing beyond ``train.max_length``."""
    return {}


def qa_options(cfg, stage=None) -> dict:
    """QA windows (XTREME ``run_squad.py`` settings; part of the features' cache key)."""
    return {"max_length": cfg.qa.max_length, "doc_stride": cfg.qa.doc_stride, "max_query_length": cfg.qa.max_query_length}


def dual_encoder_options(cfg, stage) -> dict:
    """Query and candidate lengths, declared with the stage's training source."""
    cols = stage.train.columns
    return {"query_length": int(cols["query_length"]), "candidate_length": int(cols["candidate_length"])}


def label_dev_evaluator(decode: predict.Decoder, score: predict.Scorer) -> Callable:
    """(cfg, stage) -> the dev evaluator of a label kind (it needs neither)."""
    return lambda cfg, stage: predict.dev_evaluator(decode, score)


def qa_dev_evaluator(cfg, stage) -> Callable:
    """SQuAD-style dev scoring with the stage's scorer (``metric`` column: ``squad`` or ``squad_v2``)."""
    return qa.dev_evaluator(cfg.qa, stage.dev.columns.get("metric", "squad"))


def dual_encoder_dev_evaluator(cfg, stage) -> Callable:
    """Each English dev query ranked against every distinct dev candidate (mAP@20)."""
    return dual_encoder.dev_evaluator()


def no_dev_evaluator(cfg, stage) -> None:
    """Kinds that are never trained on a stage with dev data."""
    return None


# ------------------------------------------------------------------------------------ table
@dataclass(frozen=True)
class Kind:
    """What one head kind does at every step of a run.

    Attributes:
        name: the id task declarations use.
        title: how ``runner tasks`` and messages say it.
        encode: encoder input: ``(examples, tokenizer, max_length, training=..., **options) -> Encoded``
            (None: the kind's data are not ``Encoded`` features).
        options: ``(RunConfig, Stage) -> dict`` of kind-specific encoder settings.
        head: the head class, built as ``head(hidden, n_labels, dropout)`` (None: no head of ours).
        loss: ``(logits, labels) -> loss`` of a training batch (None: never trained).
        decode: logits to predictions (label kinds: ``(argmax, labels) -> prediction``).
        score: predictions to metrics in points.
        dev_evaluator: ``(RunConfig, Stage) -> dev scorer`` of a training stage, or None.
        evaluate_target: phase 3, ``(TargetEvaluator, language, Source) -> record``.
        config_section: ``RunConfig`` section whose settings define the runs of this kind.
        example_rows: ``(examples, features, predictions, labels) -> rows`` of phase 3's per-example
            predictions (``runner.evaluation.examples``) for kinds evaluated by ``labelled``.
        assumed_tokens: mean sub-tokens per example for ``runner plan`` estimates (None: unknown).
    """

    name: str
    title: str
    encode: Callable | None
    options: Callable[..., dict]
    head: type[nn.Module] | None
    loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None
    decode: Callable | None
    score: Callable | None
    dev_evaluator: Callable[..., Callable | None]
    evaluate_target: Callable[[TargetEvaluator, str, object], dict] | None
    config_section: str | None = None
    assumed_tokens: int | None = field(default=None)
    example_rows: Callable | None = None


KINDS: Mapping[str, Kind] = {k.name: k for k in (
    Kind("classification", "single-sentence classification", encode_classification, no_options, ClassificationHead,
         label_loss, predict.decode_label, predict.score_labels,
         label_dev_evaluator(predict.decode_label, predict.score_labels), TargetEvaluator.labelled,
         assumed_tokens=50, example_rows=examples.label_feature_rows),
    Kind("pair_classification", "sentence-pair classification", encode_classification, no_options,
         ClassificationHead, label_loss, predict.decode_label, predict.score_labels,
         label_dev_evaluator(predict.decode_label, predict.score_labels), TargetEvaluator.labelled,
         assumed_tokens=50, example_rows=examples.label_feature_rows),
    Kind("multiple_choice", "multiple choice", encode_multiple_choice, no_options, MultipleChoiceHead, label_loss,
         predict.decode_label, predict.score_labels, label_dev_evaluator(predict.decode_label, predict.score_labels),
         TargetEvaluator.labelled, assumed_tokens=240, example_rows=examples.label_feature_rows),
    Kind("tagging", "token tagging", encode_tagging, no_options, TaggingHead, token_loss, predict.decode_tags,
         predict.score_tags, label_dev_evaluator(predict.decode_tags, predict.score_tags), TargetEvaluator.labelled,
         assumed_tokens=35, example_rows=examples.tag_feature_rows),
    Kind("question_answering", "span extraction", qa.encode_qa, qa_options, SpanHead, span_loss, qa.decode,
         qa.score, qa_dev_evaluator, TargetEvaluator.question_answering, config_section="qa"),
    # BUCC mines pairs by margin and scores F1 at a dev-tuned threshold, Tatoeba scores the nearest
    # neighbour's accuracy: TargetEvaluator.retrieval picks the procedure by task.
    Kind("retrieval", "sentence retrieval", None, no_options, None, None, None, None,
         no_dev_evaluator, TargetEvaluator.retrieval, config_section="retrieval"),
    Kind("dual_encoder", "dual encoder", dual_encoder.encode_pairs, dual_encoder_options, DualEncoderHead,
         in_batch_loss, dual_encoder.rank_pool, metrics_retrieval.mewslix_map_at_20, dual_encoder_dev_evaluator,
         TargetEvaluator.dual_encoder),
    Kind("masked_lm", "continued masked-LM training", None, no_options, None, masked_lm_loss, None, None,
         no_dev_evaluator, None),
)}
def get_kind(name: str) -> Kind:
    """The entry of ``name``; RunnerError with a near match for an unknown kind."""
    if name not in KINDS:
        raise RunnerError(f"unknown head kind {name!r}{suggest(name, KINDS)}; known: {', '.join(KINDS)}")
    return KINDS[name]


def encode(kind: str, examples, tokenizer, max_length: int, training: bool = False, **options):
    """Tokenises examples of one head kind with its encoder input (``options``: e.g. QA windows)."""
    fn = get_kind(kind).encode
    if fn is None:
        raise RunnerError(f"{get_kind(kind).title} ({kind}) has no token features")
    return fn(examples, tokenizer, max_length=max_length, training=training, **options)


def make_heads(specs: Mapping[str, tuple[str, int]], hidden: int, dropout: float) -> dict[str, nn.Module]:
    """A freshly initialised head per task: task name -> (kind, number of labels)."""
    heads = {}
    for name, (kind, n_labels) in specs.items():
        cls = get_kind(kind).head
        if cls is None:
            raise RunnerError(f"{get_kind(kind).title} ({kind}) has no head to train")
        heads[name] = cls(hidden, n_labels, dropout)
    return heads


def build_model(encoder: nn.Module, specs: Mapping[str, tuple[str, int]], dropout: float = 0.1) -> TaskModel:
    """``TaskModel`` with a fresh head per task on ``encoder``."""
    return TaskModel(encoder, make_heads(specs, hidden_size(encoder.config), dropout), specs)
