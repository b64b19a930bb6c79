"""The encoder carried across phases, and a fresh head per task.

Any encoder that the transformers Auto classes load works: XLM-R, mBERT, mDeBERTa, and the text
tower of a multilingual vision-language model (a model whose config has a ``text_config``; its
``text_model`` is used). Heads read the encoder's last hidden states:

* classification: first token -> dense -> tanh -> dropout -> labels (as RoBERTa's head)
* multiple choice: first token of each choice -> dense -> tanh -> dropout -> one score
* tagging: every token -> dropout -> labels
* question answering: every token -> linear -> (start, end) logits
* dual encoder (XTREME-R retrieval fine-tuning): first token -> dense -> tanh -> L2 norm, the same
  tower for queries and candidates; similarities are scaled by a learned factor (starts at 100)

A phase saves ``encoder/`` (``save_pretrained``, with the tokenizer) and ``heads.pt``; the next
phase loads the encoder from there and builds new heads.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import torch
from torch import nn

from runner.errors import RunnerError

log = logging.getLogger(__name__)


def _hidden_size(config) -> int:
    for name in ("hidden_size", "d_model", "dim"):
        if getattr(config, name, None):
            return int(getattr(config, name))
    raise RunnerError(f"cannot tell the hidden size of a {type(config).__name__}; give an encoder model")


def _require_hub(model: str) -> None:
    """Fails fast, in one line, when a Hub model is not cached and the Hub does not answer.

    Without this, huggingface_hub retries for most of a minute before the same conclusion.
    """
    from transformers import AutoTokenizer

    from store.hub import unreachable_reason

    if Path(model).expanduser().exists():
        return
    try:
        AutoTokenizer.from_pretrained(model, local_files_only=True)
        return  # cached: loading needs no network
    except Exception:  # not cached (or not a model at all): the Hub must answer
        pass
    reason = unreachable_reason()
    if reason:
        raise RunnerError(
            f"model {model!r} is not in the local cache and the Hub cannot be reached ({reason}); "
            "give a local folder with --model, or download it first (`hf download MODEL`)"
        )


def load_tokenizer(model: str):
    """The model's tokenizer (Hub id or local folder); RunnerError if it does not load."""
    from transformers import AutoTokenizer

    _require_hub(model)
    try:
        return AutoTokenizer.from_pretrained(model)
    except Exception as e:  # OSError, ValueError, hub errors: all mean "this model does not load"
        raise RunnerError(f"model {model!r} does not load a tokenizer: {_first_line(e)}") from e


def check_model(model: str) -> None:
    """Loads the tokenizer and the config (not the weights): a model that cannot load fails here."""
    from transformers import AutoConfig

    load_tokenizer(model)
    try:
        config = AutoConfig.from_pretrained(model)
    except Exception as e:  # OSError, ValueError, KeyError: all mean "this model does not load"
        raise RunnerError(f"model {model!r} does not load: {_first_line(e)}") from e
    try:
        _hidden_size(getattr(config, "text_config", None) or config)
    except RunnerError as e:
        raise RunnerError(f"model {model!r}: {e}") from e


def load_encoder(model: str | Path) -> nn.Module:
    """The encoder of ``model`` (Hub id or folder); the text tower for vision-language models."""
    from transformers import AutoConfig, AutoModel
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # the runner shows its own bars
    try:
        config = AutoConfig.from_pretrained(model)
        encoder = AutoModel.from_pretrained(model)
    except Exception as e:  # transformers raises OSError, ValueError, KeyError for unloadable models
        raise RunnerError(f"model {str(model)!r} does not load as an encoder: {_first_line(e)}") from e
    if getattr(config, "text_config", None) is not None and hasattr(encoder, "text_model"):
        encoder = encoder.text_model
    return encoder


def _first_line(e: Exception) -> str:
    text = str(e).strip()
    return (text.splitlines()[0] if text else type(e).__name__)[:200]


class ClassificationHead(nn.Module):
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
    """One score per choice; choices are folded into the batch dimension by ``TaskModel``."""

    def __init__(self, hidden: int, dropout: float):
        super().__init__(hidden, 1, dropout)


class TaggingHead(nn.Module):
    """A label per token (scored only on the first sub-token of each word)."""

    def __init__(self, hidden: int, n_labels: int, dropout: float):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(hidden, n_labels)

    def forward(self, states: torch.Tensor) -> torch.Tensor:
        return self.out(self.dropout(states))


class SpanHead(nn.Module):
    """Start and end logits for every token (extractive QA)."""

    def __init__(self, hidden: int):
        super().__init__()
        self.out = nn.Linear(hidden, 2)

    def forward(self, states: torch.Tensor) -> torch.Tensor:
        return self.out(states)


class DualEncoderHead(nn.Module):
    """Unit-length embeddings from the first token, as XTREME-R's ``BertForRetrieval`` pools
    (dense + tanh, then L2 norm), and the learned scale of the in-batch similarity logits."""

    def __init__(self, hidden: int):
        super().__init__()
        self.dense = nn.Linear(hidden, hidden)
        self.logit_scale = nn.Parameter(torch.tensor(100.0))

    def forward(self, states: torch.Tensor) -> torch.Tensor:
        return nn.functional.normalize(torch.tanh(self.dense(states[:, 0])).float(), dim=-1)


def make_head(kind: str, hidden: int, n_labels: int, dropout: float = 0.1) -> nn.Module:
    """A freshly initialised head of one kind."""
    if kind == "question_answering":
        return SpanHead(hidden)
    if kind == "dual_encoder":
        return DualEncoderHead(hidden)
    if kind == "classification":
        return ClassificationHead(hidden, n_labels, dropout)
    if kind == "multiple_choice":
        return MultipleChoiceHead(hidden, dropout)
    if kind == "tagging":
        return TaggingHead(hidden, n_labels, dropout)
    raise RunnerError(f"no head for task kind {kind!r}")


class TaskModel(nn.Module):
    """An encoder with one head per task; ``forward(batch, task)`` returns that task's logits."""

    def __init__(self, encoder: nn.Module, heads: dict[str, tuple[str, int]], dropout: float = 0.1):
        """Builds the heads.

        Args:
            encoder: a transformers encoder.
            heads: task name -> (kind, number of labels).
            dropout: dropout inside the heads.
        """
        super().__init__()
        self.encoder = encoder
        self.hidden = _hidden_size(encoder.config)
        self.kinds = {name: kind for name, (kind, _) in heads.items()}
        self.head_specs = dict(heads)
        self.heads = nn.ModuleDict({name: make_head(kind, self.hidden, n, dropout) for name, (kind, n) in heads.items()})

    def forward(self, batch: dict, task: str) -> torch.Tensor:
        kind = self.kinds[task]
        if kind == "dual_encoder":
            return self._in_batch_logits(batch, task)
        ids, mask = batch["input_ids"], batch["attention_mask"]
        types = batch.get("token_type_ids")
        n_choices = ids.shape[1] if kind == "multiple_choice" else 0
        if n_choices:
            ids, mask = ids.flatten(0, 1), mask.flatten(0, 1)
            types = types.flatten(0, 1) if types is not None else None
        kwargs = {"input_ids": ids, "attention_mask": mask}
        if types is not None:
            kwargs["token_type_ids"] = types
        states = self.encoder(**kwargs).last_hidden_state
        logits = self.heads[task](states)
        return logits.view(-1, n_choices) if n_choices else logits

    def embed(self, batch: dict, task: str) -> torch.Tensor:
        """Unit-length embeddings of single sequences (B, L) from a dual-encoder head."""
        kwargs = {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"]}
        if batch.get("token_type_ids") is not None:
            kwargs["token_type_ids"] = batch["token_type_ids"]
        return self.heads[task](self.encoder(**kwargs).last_hidden_state)

    def _in_batch_logits(self, batch: dict, task: str) -> torch.Tensor:
        """(B, B) scaled similarities of every query (side 0) with every candidate (side 1).

        Each side is cut to its own longest sequence before encoding (queries are short)."""
        sides = []
        for side in (0, 1):
            mask = batch["attention_mask"][:, side]
            width = int(mask.sum(1).max())
            part = {"input_ids": batch["input_ids"][:, side, :width], "attention_mask": mask[:, :width]}
            if batch.get("token_type_ids") is not None:
                part["token_type_ids"] = batch["token_type_ids"][:, side, :width]
            sides.append(self.embed(part, task))
        return sides[0] @ sides[1].T * self.heads[task].logit_scale

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
