"""A fresh head per task on the encoder carried across phases, and the multi-head ``TaskModel``.

Heads read the encoder's last hidden states; each head also knows how its batches go through the
encoder (``Head.run``), so the model never asks which kind a head is:

* classification (single sentence or pair): first token -> dense -> tanh -> dropout -> labels
  (as RoBERTa's head)
* multiple choice: the choices are folded into the batch; first token of each -> dense -> tanh ->
  dropout -> one score
* tagging: every token -> dropout -> labels
* span extraction (question answering): every token -> linear -> (start, end) logits
* dual encoder (XTREME-R retrieval fine-tuning): first token -> dense -> tanh -> L2 norm, the same
  tower for queries and candidates; similarities are scaled by a learned factor (starts at 100)

Which head a kind gets is the kind table's business (``runner.kinds``). A phase saves ``encoder/``
(``save_pretrained``, with the tokenizer) and ``heads.pt``; the next phase loads the encoder from
there and builds new heads.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn

from runner.modeling.encoder import hidden_size


def encoder_states(encoder: nn.Module, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
    """The encoder's last hidden states of a batch of single sequences (B, L) -> (B, L, D)."""
    kwargs = {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"]}
    if batch.get("token_type_ids") is not None:
        kwargs["token_type_ids"] = batch["token_type_ids"]
    return encoder(**kwargs).last_hidden_state


class Head(nn.Module):
    """A head: ``forward`` maps hidden states to logits, ``run`` a batch (through the encoder) to logits."""

    def run(self, encoder: nn.Module, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
        return self(encoder_states(encoder, batch))


class ClassificationHead(Head):
    """Sentence (pair) classification from the first token."""

    def __init__(self, hidden: int, n_labels: int, dropout: float):
        super().__init__()
        self.dense = nn.Linear(hidden, hidden)
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(hidden, n_labels)

    def forward(self, states: torch.Tensor) -> torch.Tensor:
        x = self.dropout(states[:, 0])
        return self.out(self.dropout(torch.tanh(self.dense(x))))


class MultipleChoiceHead(ClassificationHead):
    """One score per choice; a batch is (B, choices, L), folded into the batch dimension."""

    def __init__(self, hidden: int, n_labels: int, dropout: float):
        super().__init__(hidden, 1, dropout)  # one score per choice, whatever the number of choices

    def run(self, encoder: nn.Module, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
        n_choices = batch["input_ids"].shape[1]
        flat = {k: v.flatten(0, 1) for k, v in batch.items() if k != "labels" and v is not None}
        return self(encoder_states(encoder, flat)).view(-1, n_choices)


class TaggingHead(Head):
    """A label per token (scored only on the first sub-token of each word)."""

    def __init__(self, hidden: int, n_labels: int, dropout: float):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(hidden, n_labels)

    def forward(self, states: torch.Tensor) -> torch.Tensor:
        return self.out(self.dropout(states))


class SpanHead(Head):
    """Start and end logits for every token (extractive QA)."""

    def __init__(self, hidden: int, n_labels: int = 0, dropout: float = 0.0):
        super().__init__()
        self.out = nn.Linear(hidden, 2)

    def forward(self, states: torch.Tensor) -> torch.Tensor:
        return self.out(states)


class DualEncoderHead(Head):
    """Unit-length embeddings from the first token, as XTREME-R's ``BertForRetrieval`` pools
    (dense + tanh, then L2 norm), and the learned scale of the in-batch similarity logits."""

    def __init__(self, hidden: int, n_labels: int = 0, dropout: float = 0.0):
        super().__init__()
        self.dense = nn.Linear(hidden, hidden)
        self.logit_scale = nn.Parameter(torch.tensor(100.0))

    def forward(self, states: torch.Tensor) -> torch.Tensor:
        return nn.functional.normalize(torch.tanh(self.dense(states[:, 0])).float(), dim=-1)

    def embed(self, encoder: nn.Module, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """Unit-length embeddings of single sequences (B, L)."""
        return self(encoder_states(encoder, batch))

    def run(self, encoder: nn.Module, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """(B, B) scaled similarities of every query (side 0) with every candidate (side 1).

        Each side is cut to its own longest sequence before encoding (queries are short)."""
        sides = []
        for side in (0, 1):
            mask = batch["attention_mask"][:, side]
            width = int(mask.sum(1).max())
            part = {"input_ids": batch["input_ids"][:, side, :width], "attention_mask": mask[:, :width]}
            if batch.get("token_type_ids") is not None:
                part["token_type_ids"] = batch["token_type_ids"][:, side, :width]
            sides.append(self.embed(encoder, part))
        return sides[0] @ sides[1].T * self.logit_scale


class TaskModel(nn.Module):
    """An encoder with one head per task; ``forward(batch, task)`` returns that task's logits."""

    def __init__(self, encoder: nn.Module, heads: Mapping[str, Head], specs: Mapping[str, tuple[str, int]]):
        """Holds the encoder and the heads.

        Args:
            encoder: a transformers encoder.
            heads: task name -> its head (``runner.kinds.build_model`` makes them from ``specs``).
            specs: task name -> (kind, number of labels), saved beside the weights.
        """
        super().__init__()
        self.encoder = encoder
        self.hidden = hidden_size(encoder.config)
        self.head_specs = dict(specs)
        self.heads = nn.ModuleDict(dict(heads))

    def forward(self, batch: dict, task: str) -> torch.Tensor:
        return self.heads[task].run(self.encoder, batch)

    def embed(self, batch: dict, task: str) -> torch.Tensor:
        """Unit-length embeddings of single sequences (B, L) from a dual-encoder head."""
        return self.heads[task].embed(self.encoder, batch)

    def save(self, folder: Path, tokenizer=None) -> None:
        """Writes ``encoder/`` (with the tokenizer) and ``heads.pt`` + ``heads.json``."""
        folder.mkdir(parents=True, exist_ok=True)
        self.encoder.save_pretrained(folder / "encoder")
        if tokenizer is not None:
            tokenizer.save_pretrained(folder / "encoder")
        torch.save(self.heads.state_dict(), folder / "heads.pt")
        (folder / "heads.json").write_text(json.dumps(self.head_specs, indent=1))

    def load_heads(self, folder: Path, names: list[str] | None = None) -> None:
        """Loads saved head weights (all, or those in ``names``) whose shapes match."""
        state = torch.load(folder / "heads.pt", map_location="cpu", weights_only=True)
        keep = {k: v for k, v in state.items() if names is None or k.split(".", 1)[0] in names}
        self.heads.load_state_dict(keep, strict=False)
