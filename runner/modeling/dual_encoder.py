"""XTREME-R's retrieval fine-tuning: (query, candidate) pair features, embeddings and dev ranking.

LAReQA pairs a SQuAD question (at most 96 sub-tokens) with its answer sentence and paragraph as a
sentence pair (at most 256); Mewsli-X pairs a mention in context with an entity description (64
each). One tower encodes both sides (``models.DualEncoderHead``), trained with in-batch negatives.
English dev sets are scored by ranking every dev query against the pool of all distinct dev
candidates: ``map@20`` there is the mean reciprocal rank over the top 20 (one relevant candidate).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import nullcontext

import torch

from runner.evaluation.metrics_retrieval import mewslix_map_at_20
from runner.evaluation.retrieval import pad_batch, top_k
from runner.modeling.features import Encoded
from runner.training.device import autocast

KIND = "dual_encoder"


def encode_pairs(examples: Sequence[dict], tokenizer, max_length: int, query_length: int = 96,
                 candidate_length: int = 256, training: bool = False) -> Encoded:
    """``{"query", "candidate": [text, text_pair | None], "cand_id"}`` examples -> pair features.

    ``max_length`` (the run's classification length) is not used: each side has its own length.
    """
    queries = tokenizer([ex["query"] for ex in examples], truncation=True, max_length=query_length)
    firsts = [ex["candidate"][0] for ex in examples]
    seconds = [ex["candidate"][1] for ex in examples]
    if any(s is not None for s in seconds):
        cands = tokenizer(firsts, [s or "" for s in seconds], truncation=True, max_length=candidate_length)
    else:
        cands = tokenizer(firsts, truncation=True, max_length=candidate_length)
    ids = [[q, c] for q, c in zip(queries["input_ids"], cands["input_ids"])]
    types = None
    if "token_type_ids" in tokenizer.model_input_names:
        types = [[[0] * len(q), list(t)] for q, t in zip(queries["input_ids"], cands["token_type_ids"])]
    return Encoded(KIND, ids, [0] * len(ids), list(range(len(ids))), types, multi_sequence=True,
                   extra={"cand_ids": [str(ex["cand_id"]) for ex in examples]})


@torch.no_grad()
def embed(model, task: str, seqs: Sequence[Sequence[int]], types: Sequence[Sequence[int]] | None, batch_size: int,
          device: torch.device, pad_id: int, autocast_ctx=None) -> torch.Tensor:
    """(N, D) unit-length CPU embeddings of token-id sequences through the task's dual-encoder head."""
    model.eval()
    out = torch.zeros(len(seqs), model.hidden)
    order = sorted(range(len(seqs)), key=lambda i: -len(seqs[i]))
    for b in range(0, len(order), batch_size):
        rows = order[b:b + batch_size]
        batch = pad_batch([seqs[i] for i in rows], pad_id, [types[i] for i in rows] if types is not None else None)
        with autocast_ctx or nullcontext():
            vectors = model.embed({k: v.to(device) for k, v in batch.items()}, task)
        out[rows] = vectors.float().cpu()
    return out


def embed_texts(model, task: str, tokenizer, texts: Sequence[str | tuple[str, str]], max_length: int,
                batch_size: int, device: torch.device, autocast_ctx=None) -> torch.Tensor:
    """Embeddings of texts (or (text, text pair) tuples) truncated at ``max_length`` sub-tokens."""
    if not texts:
        return torch.zeros(0, model.hidden)
    if isinstance(texts[0], tuple):
        enc = tokenizer([t[0] for t in texts], [t[1] for t in texts], truncation=True, max_length=max_length)
    else:
        enc = tokenizer(list(texts), truncation=True, max_length=max_length)
    types = enc.get("token_type_ids") if "token_type_ids" in tokenizer.model_input_names else None
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    return embed(model, task, enc["input_ids"], types, batch_size, device, pad_id, autocast_ctx)


def rank_pool(model, task: str, enc: Encoded, batch_size: int, device: torch.device, pad_id: int,
              k: int = 20, autocast_ctx=None) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """(predictions, gold) for ``mewslix_map_at_20``: each query ranked against all distinct candidates."""
    cand_ids = enc.extra["cand_ids"]
    first = {}
    for i, cid in enumerate(cand_ids):
        first.setdefault(cid, i)
    pool = list(first)
    types = enc.token_type_ids
    q = embed(model, task, [x[0] for x in enc.input_ids], [t[0] for t in types] if types else None, batch_size,
              device, pad_id, autocast_ctx)
    c = embed(model, task, [enc.input_ids[first[cid]][1] for cid in pool],
              [types[first[cid]][1] for cid in pool] if types else None, batch_size, device, pad_id, autocast_ctx)
    _, idx = top_k(q, c, k, device=device, cosine=False)  # head embeddings are unit length already
    predictions = {str(i): [pool[j] for j in row] for i, row in enumerate(idx.tolist())}
    gold = {str(i): [cid] for i, cid in enumerate(cand_ids)}
    return predictions, gold


def dev_evaluator() -> Callable:
    """The English dev scorer of a dual-encoder stage, in the shape ``training.evaluate_dev`` calls."""

    def evaluate_dev(model, task, cfg, device, pad_id: int) -> dict[str, float]:
        predictions, gold = rank_pool(model, task.name, task.dev, cfg.eval_batch_size, device, pad_id,
                                      autocast_ctx=autocast(device, cfg.precision))
        return {"map@20": mewslix_map_at_20(predictions, gold)}

    return evaluate_dev
