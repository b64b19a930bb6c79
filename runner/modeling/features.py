"""Tokenisation into model inputs, length-grouped batching and dynamic padding.

* Classification and multiple choice: the tokenizer's own pair encoding, truncated (longest
  first) at ``max_length``, as the XTREME reference scripts do.
* Tagging: the label sits on the first sub-token of each word (XTREME); other sub-tokens and the
  special tokens get -100. A sentence longer than ``max_length`` is split into consecutive
  windows of whole words (never truncated), each window its own feature, so every word gets
  exactly one prediction. A sentence with no words is one empty window when evaluated (so it
  is scored: whatever gold it has counts as missed), and left out of training (no loss).
* Question answering (``runner.modeling.qa``) and dual-encoder pairs (``runner.modeling.dual_encoder``)
  have their own encoders; a dual-encoder feature is a (query, candidate) pair padded like two
  choices. Which encoder a head kind uses is the kind table's business (``runner.kinds``).
* Batches hold examples of similar length (shuffled megabatches sorted by length) and are padded
  to their own longest member, never to a fixed length.

Example:
    >>> split_windows([3, 2, 4, 1], budget=5)
    [(0, 2), (2, 4)]
    >>> padding_efficiency([5, 5, 3], [[0, 1], [2]])
    1.0
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch

IGNORE = -100  # label of positions that carry no loss (non-first sub-tokens, special tokens, padding)


@dataclass
class Encoded:
    """Tokenised features of one split.

    Attributes:
        kind: the head kind that made the features (an entry of ``runner.kinds.KINDS``).
        input_ids: one id list per feature (multiple choice: one list per choice).
        labels: int per feature, per-token labels for tagging, [start, end] for QA.
        example_ids: the source example of each feature (tagging and QA windows share one).
        token_type_ids: segment ids when the tokenizer uses them (BERT-style), else None.
        extra: what decoding needs besides the ids (QA: windows, offsets, contexts, answers).
    """

    kind: str
    input_ids: list
    labels: list
    example_ids: list[int]
    token_type_ids: list | None = None
    lengths: list[int] = field(default_factory=list)
    extra: dict = field(default_factory=dict)
    #: A feature is a list of sequences padded to one width (choices; or query and candidate).
    multi_sequence: bool = False
    #: Labels are per token (padded with ``IGNORE``), not one per feature.
    token_labels: bool = False

    def __post_init__(self) -> None:
        if not self.lengths:
            self.lengths = [feature_length(x, self.multi_sequence) for x in self.input_ids]

    def __len__(self) -> int:
        return len(self.input_ids)

    def real_tokens(self, index: int) -> int:
        """Non-padding tokens of one feature (all choices for multiple choice)."""
        x = self.input_ids[index]
        return sum(len(c) for c in x) if self.multi_sequence else len(x)

    def save(self, path: Path) -> None:
        """Pickles atomically (write then rename), so a killed run never leaves half a cache."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        with open(tmp, "wb") as f:
            pickle.dump(self.__dict__, f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)

    def collate(self, indices: Sequence[int], pad_id: int, multiple_of: int = 1) -> dict:
        """One padded batch of these features (see ``collate``)."""
        return collate(self, indices, pad_id, multiple_of)

    @classmethod
    def load(cls, path: Path) -> Encoded:
        with open(path, "rb") as f:
            return cls(**pickle.load(f))


def feature_length(ids: list, multi_sequence: bool = False) -> int:
    """Padded length a feature needs: its length, or its longest sequence (choice)."""
    return max(len(c) for c in ids) if multi_sequence else len(ids)


def tokenizer_fingerprint(tokenizer) -> str:
    """A short hash of what the tokenizer does (class, vocabulary, special tokens).

    The backend's truncation and padding state are left out: a call with ``truncation=True``
    sets them on the shared backend, and they describe that call, not the tokenizer (the
    caches that use this key name their max length themselves).
    """
    h = hashlib.sha256(type(tokenizer).__name__.encode())
    backend = getattr(tokenizer, "backend_tokenizer", None) or getattr(tokenizer, "_tokenizer", None)
    if backend is not None and hasattr(backend, "to_str"):
        spec = json.loads(backend.to_str())
        spec.pop("truncation", None)
        spec.pop("padding", None)
        h.update(json.dumps(spec, sort_keys=True).encode())
    else:
        h.update(repr(sorted(tokenizer.get_vocab().items())).encode())
    h.update(repr(tokenizer.all_special_ids).encode())
    return h.hexdigest()[:16]


def special_tokens(tokenizer) -> tuple[list[int], list[int]]:
    """(prefix, suffix) ids a tokenizer puts around one sequence, found by probing it."""
    with_special = tokenizer("x")["input_ids"]
    plain = tokenizer("x", add_special_tokens=False)["input_ids"]
    for start in range(len(with_special) - len(plain) + 1):
        if with_special[start:start + len(plain)] == plain:
            return with_special[:start], with_special[start + len(plain):]
    return [], []


# ------------------------------------------------------------------------------ classification
def encode_classification(examples: Sequence[dict], tokenizer, max_length: int, training: bool = False) -> Encoded:
    """Single sentences or pairs, truncated longest-first at ``max_length``."""
    a = [ex["text_a"] for ex in examples]
    b = [ex["text_b"] for ex in examples]
    pairs = any(x is not None for x in b)
    enc = tokenizer(a, [x or "" for x in b] if pairs else None, truncation=True, max_length=max_length)
    return Encoded("classification", enc["input_ids"], [ex["label"] for ex in examples],
                   list(range(len(examples))), enc.get("token_type_ids") if _uses_types(tokenizer) else None)


def encode_multiple_choice(examples: Sequence[dict], tokenizer, max_length: int, training: bool = False) -> Encoded:
    """One (first, second) pair per choice; features are lists of choices."""
    first = [f for ex in examples for f in ex["first"]]
    second = [s for ex in examples for s in ex["second"]]
    enc = tokenizer(first, second, truncation=True, max_length=max_length)
    ids, types, i = [], [], 0
    use_types = _uses_types(tokenizer)
    for ex in examples:
        n = len(ex["first"])
        ids.append(enc["input_ids"][i:i + n])
        if use_types:
            types.append(enc["token_type_ids"][i:i + n])
        i += n
    return Encoded("multiple_choice", ids, [ex["label"] for ex in examples], list(range(len(examples))),
                   types if use_types else None, multi_sequence=True)


def _uses_types(tokenizer) -> bool:
    return "token_type_ids" in tokenizer.model_input_names


# ------------------------------------------------------------------------------------- tagging
def split_windows(word_lengths: Sequence[int], budget: int) -> list[tuple[int, int]]:
    """Consecutive ``[start, end)`` word ranges whose sub-token counts each fit ``budget``.

    A single word longer than the budget is a window on its own (its pieces are cut to the
    budget; its label stays on its first piece, so nothing is lost for scoring).
    """
    windows, start, used = [], 0, 0
    for i, n in enumerate(word_lengths):
        if used and used + n > budget:
            windows.append((start, i))
            start, used = i, 0
        used += n
    if start < len(word_lengths):
        windows.append((start, len(word_lengths)))
    return windows


def word_pieces(sentences: Sequence[Sequence[str]], tokenizer, chunk: int = 1000) -> list[list[list[int]]]:
    """Sub-token ids of each word of each sentence (a word the tokenizer drops becomes one unknown)."""
    unk = tokenizer.unk_token_id if tokenizer.unk_token_id is not None else 0
    out = []
    for c in range(0, len(sentences), chunk):
        batch = [list(s) for s in sentences[c:c + chunk]]
        enc = tokenizer(batch, is_split_into_words=True, add_special_tokens=False)
        for i, words in enumerate(batch):
            pieces: list[list[int]] = [[] for _ in words]
            for tok_id, w in zip(enc["input_ids"][i], enc.word_ids(i)):
                if w is not None:
                    pieces[w].append(tok_id)
            out.append([p or [unk] for p in pieces])
    return out


def encode_tagging(examples: Sequence[dict], tokenizer, max_length: int, training: bool = False) -> Encoded:
    """Words to sub-tokens with the label on the first piece; long sentences become windows.

    A sentence with no words gets one window of special tokens only when evaluated (it stays an
    example: it is counted and scored, with nothing predicted), none in training.
    """
    prefix, suffix = special_tokens(tokenizer)
    budget = max_length - len(prefix) - len(suffix)
    ids, labels, owners = [], [], []
    all_pieces = word_pieces([ex["tokens"] for ex in examples], tokenizer)
    for index, (ex, pieces) in enumerate(zip(examples, all_pieces)):
        windows = split_windows([len(p) for p in pieces], budget) or ([] if training else [(0, 0)])
        for start, end in windows:
            x, y = list(prefix), [IGNORE] * len(prefix)
            for word in range(start, end):
                p = pieces[word][:budget]
                x += p
                y += [ex["tags"][word]] + [IGNORE] * (len(p) - 1)
            ids.append(x + suffix)
            labels.append(y + [IGNORE] * len(suffix))
            owners.append(index)
    types = [[0] * len(x) for x in ids] if _uses_types(tokenizer) else None
    return Encoded("tagging", ids, labels, owners, types, token_labels=True)


# ------------------------------------------------------------------------------------ batching
def length_grouped_batches(lengths: Sequence[int], batch_size: int, seed: int, megabatch: int = 100) -> list[list[int]]:
    """Random batches of similar-length examples (shuffle, then sort inside megabatches).

    The examples are shuffled, cut into megabatches of ``megabatch * batch_size``, each sorted by
    length and cut into batches; the batch order is then shuffled, except that the batch with the
    longest example goes first so that running out of memory happens at step one, not hours in.
    """
    rng = random.Random(seed)
    order = list(range(len(lengths)))
    rng.shuffle(order)
    size = max(1, megabatch) * batch_size
    batches: list[list[int]] = []
    for m in range(0, len(order), size):
        mega = sorted(order[m:m + size], key=lambda i: -lengths[i])
        batches += [mega[b:b + batch_size] for b in range(0, len(mega), batch_size)]
    rng.shuffle(batches)
    if batches:
        longest = max(range(len(batches)), key=lambda b: lengths[batches[b][0]])
        batches[0], batches[longest] = batches[longest], batches[0]
    return batches


def sorted_batches(lengths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Evaluation batches: every example once, sorted by length (least padding)."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    return [order[b:b + batch_size] for b in range(0, len(order), batch_size)]


def padding_efficiency(lengths: Sequence[int], batches: Sequence[Sequence[int]]) -> float:
    """Real tokens over processed tokens (each batch padded to its longest member)."""
    real = sum(lengths[i] for b in batches for i in b)
    processed = sum(len(b) * max(lengths[i] for i in b) for b in batches if b)
    return real / processed if processed else 1.0


def collate(enc: Encoded, indices: Sequence[int], pad_id: int, multiple_of: int = 1) -> dict:
    """Pads one batch to its longest feature (rounded up to ``multiple_of``) as torch tensors."""
    width = max(enc.lengths[i] for i in indices)
    width = -(-width // multiple_of) * multiple_of

    def pad(seq: list, value: int) -> list:
        return seq + [value] * (width - len(seq))

    if enc.multi_sequence:
        ids = [[pad(c, pad_id) for c in enc.input_ids[i]] for i in indices]
        mask = [[pad([1] * len(c), 0) for c in enc.input_ids[i]] for i in indices]
        types = [[pad(c, 0) for c in enc.token_type_ids[i]] for i in indices] if enc.token_type_ids else None
    else:
        ids = [pad(enc.input_ids[i], pad_id) for i in indices]
        mask = [pad([1] * len(enc.input_ids[i]), 0) for i in indices]
        types = [pad(enc.token_type_ids[i], 0) for i in indices] if enc.token_type_ids else None
    if enc.token_labels:
        labels = torch.tensor([pad(enc.labels[i], IGNORE) for i in indices])
    else:
        labels = torch.tensor([enc.labels[i] for i in indices])
    batch = {"input_ids": torch.tensor(ids), "attention_mask": torch.tensor(mask), "labels": labels}
    if types is not None:
        batch["token_type_ids"] = torch.tensor(types)
    return batch
