"""Sentence embeddings and similarity search in torch, on GPU or CPU, in bounded memory.

* ``reference_layer``: XTREME pools layer 14 of XLM-R Large's 24 (``run_tatoeba.sh``
  ``--specific_layer 13`` indexes the 24 layer outputs); other depths use the same share, rounded.
* ``mean_pooled``: the mean of one layer's states over every non-padding position, special tokens
  included (``evaluate_retrieval.py`` ``mean_pool_embedding`` with its default mask).
* ``top_k``: cosine nearest neighbours, comparing ``block_size`` queries with ``block_size`` keys at
  a time and keeping a running top k, so memory is ``block_size**2`` scores whatever the corpus size.
* ``mine_bitext``: LASER's margin-based mining as XTREME's ``utils_retrieve.mine_bitext`` runs it
  for BUCC (``mode="mine"``, ``retrieval="max"``, ``margin="ratio"``, k = 4, cosine).

Example:
    >>> reference_layer(24), reference_layer(12), reference_layer(2)
    (14, 7, 1)
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import nullcontext

import torch

#: XTREME's layer for XLM-R Large: layer 14 of 24 (1 = the first transformer layer's output).
REFERENCE_LAYER, REFERENCE_DEPTH = 14, 24


def reference_layer(n_layers: int, layer: int | None = None) -> int:
    """The hidden layer to pool: ``layer`` when given, else 14/24 of the depth (at least layer 1).

    Indexes ``hidden_states`` of a transformers encoder: 0 is the embedding output, i the output of
    transformer layer i.
    """
    if layer is not None:
        if not 0 <= layer <= n_layers:
            raise ValueError(f"layer {layer} does not exist in an encoder with {n_layers} layers")
        return layer
    return max(1, min(n_layers, round(n_layers * REFERENCE_LAYER / REFERENCE_DEPTH)))


def n_layers_of(encoder) -> int:
    """Number of transformer layers of a transformers encoder."""
    config = encoder.config
    for name in ("num_hidden_layers", "n_layers", "num_layers"):
        if getattr(config, name, None):
            return int(getattr(config, name))
    raise ValueError(f"cannot tell the depth of a {type(config).__name__}")


def pad_batch(seqs: Sequence[Sequence[int]], pad_id: int, types: Sequence[Sequence[int]] | None = None) -> dict:
    """Right-padded ``input_ids`` / ``attention_mask`` (/ ``token_type_ids``) tensors."""
    width = max(len(s) for s in seqs)
    batch = {"input_ids": torch.tensor([list(s) + [pad_id] * (width - len(s)) for s in seqs]),
             "attention_mask": torch.tensor([[1] * len(s) + [0] * (width - len(s)) for s in seqs])}
    if types is not None:
        batch["token_type_ids"] = torch.tensor([list(t) + [0] * (width - len(t)) for t in types])
    return batch


def mean_pool(states: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean over the positions where ``mask`` is 1: (B, L, D), (B, L) -> (B, D) in float32."""
    mask = mask.unsqueeze(-1).float()
    return (states.float() * mask).sum(1) / mask.sum(1).clamp(min=1.0)


@torch.no_grad()
def mean_pooled(encoder, tokenizer, texts: Sequence[str], layer: int, max_length: int, batch_size: int,
                device: torch.device, autocast_ctx=None) -> torch.Tensor:
    """(N, D) float32 CPU embeddings: layer ``layer`` mean-pooled, sentences truncated at ``max_length``.

    Sentences are encoded longest first in batches padded to their own longest member.
    """
    if not texts:
        return torch.zeros(0, encoder.config.hidden_size)
    ids = tokenizer(list(texts), truncation=True, max_length=max_length)["input_ids"]
    order = sorted(range(len(ids)), key=lambda i: -len(ids[i]))
    out = torch.zeros(len(ids), encoder.config.hidden_size)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    use_types = "token_type_ids" in tokenizer.model_input_names
    encoder.eval()
    for b in range(0, len(order), batch_size):
        rows = order[b:b + batch_size]
        seqs = [ids[i] for i in rows]
        batch = pad_batch(seqs, pad_id, [[0] * len(s) for s in seqs] if use_types else None)
        batch = {k: v.to(device) for k, v in batch.items()}
        with autocast_ctx or nullcontext():
            hidden = encoder(**batch, output_hidden_states=True).hidden_states[layer]
        out[rows] = mean_pool(hidden, batch["attention_mask"]).cpu()
    return out


# ---------------------------------------------------------------------------------------- search
def normalise(x: torch.Tensor) -> torch.Tensor:
    """Rows scaled to unit length (zero rows stay zero)."""
    return torch.nn.functional.normalize(x.float(), dim=-1)


@torch.no_grad()
def top_k(queries: torch.Tensor, keys: torch.Tensor, k: int, block_size: int = 4096,
          device: torch.device | str = "cpu", cosine: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``k`` most similar keys of every query: (scores, indices), each (n_queries, k), on CPU.

    Inner products of unit vectors (cosine) when ``cosine``, else raw inner products. Queries and
    keys are compared ``block_size`` by ``block_size``; a running top k per query block keeps memory
    bounded. Ties keep the lower key index first.
    """
    k = min(k, keys.shape[0])
    if cosine:
        queries, keys = normalise(queries), normalise(keys)
    scores_out = torch.empty(queries.shape[0], k)
    index_out = torch.empty(queries.shape[0], k, dtype=torch.long)
    for q0 in range(0, queries.shape[0], block_size):
        q = queries[q0:q0 + block_size].to(device)
        best_s = torch.full((q.shape[0], 0), float("-inf"), device=device)
        best_i = torch.zeros((q.shape[0], 0), dtype=torch.long, device=device)
        for k0 in range(0, keys.shape[0], block_size):
            block = keys[k0:k0 + block_size].to(device)
            sims = q @ block.T
            cand_s = torch.cat([best_s, sims], dim=1)
            cand_i = torch.cat([best_i, torch.arange(k0, k0 + block.shape[0], device=device).expand(q.shape[0], -1)], dim=1)
            # stable sort: equal scores keep the earlier (lower) key index
            order = torch.sort(cand_s, dim=1, descending=True, stable=True).indices[:, :k]
            best_s, best_i = cand_s.gather(1, order), cand_i.gather(1, order)
        scores_out[q0:q0 + q.shape[0]] = best_s.cpu()
        index_out[q0:q0 + q.shape[0]] = best_i.cpu()
    return scores_out, index_out


# ---------------------------------------------------------------------------------------- mining
def margin_scores(sims: torch.Tensor, neighbours: torch.Tensor, own_mean: torch.Tensor,
                  other_mean: torch.Tensor) -> torch.Tensor:
    """Ratio margin of each (row, neighbour) cosine: ``cos / ((mean_row + mean_neighbour) / 2)``,
    where the means are each side's average cosine with its k nearest neighbours."""
    return sims / ((own_mean.unsqueeze(1) + other_mean[neighbours]) / 2)


def mine_bitext(x: torch.Tensor, y: torch.Tensor, k: int = 4, block_size: int = 4096,
                device: torch.device | str = "cpu", threshold: float = 0.0) -> list[tuple[int, int, float]]:
    """Candidate pairs (source row, target row, margin score) mined as LASER's ``max`` strategy.

    Every source sentence proposes its best target by margin score (forward), every target its best
    source (backward); all proposals are taken best first, skipping any whose source or target was
    already used, and kept when the score is above ``threshold`` (0, as XTREME calls it).
    """
    if x.shape[0] == 0 or y.shape[0] == 0:
        return []
    fwd_sim, fwd_ind = top_k(x, y, k, block_size, device)
    bwd_sim, bwd_ind = top_k(y, x, k, block_size, device)
    fwd_mean, bwd_mean = fwd_sim.mean(1), bwd_sim.mean(1)
    fwd_scores = margin_scores(fwd_sim, fwd_ind, fwd_mean, bwd_mean)
    bwd_scores = margin_scores(bwd_sim, bwd_ind, bwd_mean, fwd_mean)
    fwd_best = fwd_ind.gather(1, fwd_scores.argmax(1, keepdim=True)).squeeze(1)
    bwd_best = bwd_ind.gather(1, bwd_scores.argmax(1, keepdim=True)).squeeze(1)
    sources = torch.cat([torch.arange(x.shape[0]), bwd_best])
    targets = torch.cat([fwd_best, torch.arange(y.shape[0])])
    scores = torch.cat([fwd_scores.max(1).values, bwd_scores.max(1).values])
    seen_src, seen_trg, out = set(), set(), []
    for i in torch.sort(scores, descending=True, stable=True).indices.tolist():
        s, t = int(sources[i]), int(targets[i])
        if s in seen_src or t in seen_trg:
            continue
        seen_src.add(s)
        seen_trg.add(t)
        if scores[i] > threshold:
            out.append((s, t, float(scores[i])))
    return out


def unique_sentences(ids: Sequence[str], texts: Sequence[str]) -> tuple[list[str], dict[str, str]]:
    """(unique sentences in first-seen order, sentence -> id) as XTREME reads a BUCC split.

    Mining runs on unique sentences (``text_load_unify``); a sentence that appears under several ids
    maps to none of them (``read_sent2id``), so its candidates are never extracted.
    """
    unique = list(dict.fromkeys(t.strip() for t in texts))
    first: dict[str, str] = {}
    repeated: set[str] = set()
    for sid, text in zip(ids, texts):
        text = text.strip()
        if text in first and first[text] != sid:
            repeated.add(text)
        first.setdefault(text, sid)
    return unique, {t: sid for t, sid in first.items() if t not in repeated}


def bucc_candidates(src_ids: Sequence[str], src_texts: Sequence[str], tgt_ids: Sequence[str],
                    tgt_texts: Sequence[str], embed, k: int = 4, block_size: int = 4096,
                    device: torch.device | str = "cpu") -> dict[tuple[str, str], float]:
    """Mined ``{(source id, target id): margin score}`` of one BUCC split.

    Args:
        src_ids, src_texts: source-language sentences and their ids.
        tgt_ids, tgt_texts: English sentences and their ids.
        embed: texts -> (N, D) embeddings.
        k: neighbourhood of the margin.
        block_size: search block.
        device: where the similarities are computed.
    """
    src_unique, src_map = unique_sentences(src_ids, src_texts)
    tgt_unique, tgt_map = unique_sentences(tgt_ids, tgt_texts)
    mined = mine_bitext(embed(src_unique), embed(tgt_unique), k, block_size, device)
    out: dict[tuple[str, str], float] = {}
    for s, t, score in mined:
        a, b = src_unique[s], tgt_unique[t]
        if a in src_map and b in tgt_map:
            key = (src_map[a], tgt_map[b])
            out[key] = max(score, out.get(key, score))
    return out
