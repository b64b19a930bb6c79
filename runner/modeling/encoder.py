"""Loading the encoder carried across phases, and its tokenizer (a Hub id or a local folder).

Any encoder that the transformers Auto classes load works: XLM-R, mBERT, mDeBERTa, and the text
tower of a multilingual vision-language model (a model whose config has a ``text_config``; its
``text_model`` is used). A model that cannot load fails with one line (``RunnerError``), and a Hub
model that is not cached fails in seconds when the Hub cannot be reached.
"""

from __future__ import annotations

import logging
from pathlib import Path

from torch import nn
from transformers import AutoConfig, AutoModel, AutoTokenizer
from transformers.utils import logging as hf_logging

from runner.errors import RunnerError
from store.hub import unreachable_reason

log = logging.getLogger(__name__)


def hidden_size(config) -> int:
    """The width of the encoder's hidden states, whatever the config calls it."""
    for name in ("hidden_size", "d_model", "dim"):
        if getattr(config, name, None):
            return int(getattr(config, name))
    raise RunnerError(f"cannot tell the hidden size of a {type(config).__name__}; give an encoder model")


def _require_hub(model: str) -> None:
    """Fails fast, in one line, when a Hub model is not cached and the Hub does not answer.

    Without this, huggingface_hub retries for most of a minute before the same conclusion.
    """
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
    _require_hub(model)
    try:
        return AutoTokenizer.from_pretrained(model)
    except Exception as e:  # OSError, ValueError, hub errors: all mean "this model does not load"
        raise RunnerError(f"model {model!r} does not load a tokenizer: {_first_line(e)}") from e


def check_model(model: str) -> None:
    """Loads the tokenizer and the config (not the weights): a model that cannot load fails here."""
    load_tokenizer(model)
    try:
        config = AutoConfig.from_pretrained(model)
    except Exception as e:  # OSError, ValueError, KeyError: all mean "this model does not load"
        raise RunnerError(f"model {model!r} does not load: {_first_line(e)}") from e
    try:
        hidden_size(getattr(config, "text_config", None) or config)
    except RunnerError as e:
        raise RunnerError(f"model {model!r}: {e}") from e


def load_encoder(model: str | Path) -> nn.Module:
    """The encoder of ``model`` (Hub id or folder); the text tower for vision-language models."""
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


