"""``--variant mlm``: continued multilingual masked-LM training during the intermediate phase.

How the MLM loss joins the task losses: the intermediate phase's plan (one or several tasks, mixed
by ``runner.training.mixing``) gets one MLM batch inserted after every ``mlm.every`` task batches. Each
MLM batch is a forward and backward pass of its own, with the same batch size, and counts as one
pass towards gradient accumulation, exactly like a task batch; the loss is the cross-entropy of the
masked positions, unweighted. Dev scores and model selection use the tasks only. The encoder then
goes on to phase 2 as usual; the MLM head (the model's pretrained one, tied to the input
embeddings) is used during phase 1 only.

The corpus (``runner.training.variants.resolve_source``) is read as text streams, round-robin one text at a
time: one stream per ``mlm.files`` glob, by default one per top-level folder of the corpus (a
config of a Hub dataset, usually a language: ``20231101.de/``, ``20231101.fr/``, ...). Each text is
tokenised and cut into consecutive sequences of at most ``max_length`` sub-tokens (special tokens
included); reading stops once the phase has as many sequences as its MLM batches need, or
``mlm.max_sequences``. MLM batch ``j`` takes sequences ``j*B .. j*B+B-1`` of a seeded permutation of
them (a new permutation each time all were used). Masking is BERT's: ``probability`` of the
non-special tokens are selected (at least one per sequence); of those, ``mask_replace_prob`` become
``<mask>``, ``random_replace_prob`` a uniformly random token, the rest stay. The masks come from a
generator seeded by (seed, batch), so they do not disturb the global RNG (dropout), are the same in
DataLoader workers, and a resumed phase masks exactly as the uninterrupted one would have.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import datasets
import numpy as np
import pyarrow.parquet as pq
import torch
from torch import nn
from transformers import AutoModelForMaskedLM
from transformers.utils import logging as hf_logging

from runner.config import RunConfig
from runner.errors import RunnerError
from runner.kinds import make_heads
from runner.modeling.encoder import hidden_size, load_encoder
from runner.modeling.features import IGNORE, special_tokens, tokenizer_fingerprint
from runner.modeling.heads import TaskModel
from runner.training.device import set_seed
from runner.training.loop import TaskData
from runner.training.variants import DataSource, MlmConfig, corpus_streams

log = logging.getLogger("runner")
#: Name of the MLM "task" inside the intermediate phase (never a head, never scored).
TASK = "mlm"
Plan = list[tuple[int, list[int]]]


# ---------------------------------------------------------------------------------- the corpus
def _texts_of_file(path: Path, column: str) -> Iterator[str]:
    if path.suffix == ".txt":
        with open(path, encoding="utf-8") as f:
            yield from (line.strip() for line in f if line.strip())
        return
    if path.suffix in (".jsonl", ".json"):
        with open(path, encoding="utf-8") as f:
            for line in f:
                if line.strip():
                    row = json.loads(line)
                    if column not in row:
                        raise RunnerError(f"mlm corpus {path}: no {column!r} field (mlm.text_column)")
                    yield str(row[column])
        return
    pf = pq.ParquetFile(path)
    if column not in pf.schema_arrow.names:
        raise RunnerError(f"mlm corpus {path}: no column {column!r} (mlm.text_column); columns: "
                          f"{', '.join(pf.schema_arrow.names)}")
    for batch in pf.iter_batches(batch_size=256, columns=[column]):
        yield from (t for t in batch.column(0).to_pylist() if t)


def _stream(files: list[Path] | str, source: DataSource, cfg: MlmConfig) -> Iterator[str]:
    if isinstance(files, str):  # a glob on the Hub, streamed
        try:
            ds = datasets.load_dataset(source.given, data_files={"train": files}, split="train", streaming=True,
                                       revision=source.revision)
            for row in ds:
                yield str(row[cfg.text_column])
        except Exception as e:  # datasets raises many types (offline, 404, schema): one line
            first = (str(e).strip().splitlines() or [type(e).__name__])[0][:200]
            raise RunnerError(f"cannot stream mlm corpus {source.given}@{source.revision}:{files}: {first} "
                              "(set --data-dir to a local copy when offline)") from e
        return
    for path in files:
        yield from _texts_of_file(path, cfg.text_column)


def read_texts(source: DataSource, cfg: MlmConfig) -> Iterator[str]:
    """The corpus's texts, one from each stream in turn, until every stream is exhausted."""
    live = [_stream(files, source, cfg) for _, files in corpus_streams(source, cfg)]
    while live:
        for it in list(live):
            text = next(it, None)
            if text is None:
                live.remove(it)
            else:
                yield text


def chunk_texts(texts: Iterator[str], tokenizer, max_length: int, limit: int) -> tuple[np.ndarray, np.ndarray]:
    """Up to ``limit`` sequences of consecutive sub-tokens of each text, special tokens around them.

    Returns:
        (ids, lengths): ``ids`` is ``[n, max_length]`` int32 padded with the pad id.
    """
    prefix, suffix = special_tokens(tokenizer)
    body = max_length - len(prefix) - len(suffix)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    rows: list[list[int]] = []
    batch: list[str] = []

    def flush() -> None:
        for ids in tokenizer(batch, add_special_tokens=False)["input_ids"]:
            for start in range(0, len(ids), body):
                if len(rows) < limit:
                    rows.append(prefix + ids[start:start + body] + suffix)
        batch.clear()

    for text in texts:
        batch.append(text)
        if len(batch) == 256:
            flush()
            if len(rows) >= limit:
                break
    if batch and len(rows) < limit:
        flush()
    out = np.full((len(rows), max_length), pad, dtype=np.int32)
    for i, r in enumerate(rows):
        out[i, :len(r)] = r
    return out, np.array([len(r) for r in rows], dtype=np.int32)


# ------------------------------------------------------------------------------------ masking
def mask_tokens(input_ids: torch.Tensor, maskable: torch.Tensor, mask_id: int, vocab_size: int, cfg: MlmConfig,
                generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """BERT-style masking of a batch (see the module docstring).

    Args:
        input_ids: ``[batch, length]`` token ids (not modified).
        maskable: same shape, True where a token may be selected (not special, not padding).
        mask_id: the ``<mask>`` token id.
        vocab_size: random replacements are drawn from ``[0, vocab_size)``.
        cfg: probabilities.
        generator: the source of randomness.

    Returns:
        (inputs, labels): labels hold the original id at selected positions and -100 elsewhere.
    """
    probs = torch.where(maskable, cfg.probability, 0.0)
    chosen = torch.bernoulli(probs, generator=generator).bool()
    missing = ~chosen.any(1) & maskable.any(1)  # every sequence predicts at least one token
    if missing.any():
        pick = torch.multinomial(maskable[missing].float(), 1, generator=generator).squeeze(1)
        chosen[missing.nonzero().squeeze(1), pick] = True
    labels = torch.where(chosen, input_ids, torch.full_like(input_ids, IGNORE))
    u = torch.rand(input_ids.shape, generator=generator)
    to_mask = chosen & (u < cfg.mask_replace_prob)
    to_random = chosen & ~to_mask & (u < cfg.mask_replace_prob + cfg.random_replace_prob)
    inputs = input_ids.clone()
    inputs[to_mask] = mask_id
    inputs[to_random] = torch.randint(vocab_size, input_ids.shape, generator=generator)[to_random]
    return inputs, labels.long()


class MlmData:
    """The phase's MLM sequences; ``collate`` picks and masks the sequences of one MLM batch.

    Plan entries of the MLM task carry *virtual* indices ``v = j*B .. j*B+B-1`` for MLM batch ``j``:
    sequence ``perm_r[v % n]`` with ``r = v // n`` and a seeded permutation per round ``r``.
    """

    kind = "masked_lm"  # the kind-table entry whose loss trains these batches

    def __init__(self, ids: np.ndarray, lengths: np.ndarray, special_ids: Sequence[int], mask_id: int,
                 vocab_size: int, cfg: MlmConfig, seed: int):
        self.ids, self.lengths, self.cfg, self.seed = ids, lengths, cfg, seed
        self.special_ids = torch.tensor(sorted(set(special_ids)), dtype=torch.long)
        self.mask_id, self.vocab_size = mask_id, vocab_size
        self._perms: dict[int, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.ids)

    def _rows(self, virtual: Sequence[int]) -> list[int]:
        n = len(self.ids)
        out = []
        for v in virtual:
            r = v // n
            if r not in self._perms:
                self._perms[r] = np.random.default_rng([self.seed, r]).permutation(n)
            out.append(int(self._perms[r][v % n]))
        return out

    def collate(self, virtual: Sequence[int], pad_id: int, multiple_of: int = 1) -> dict:
        """A masked batch: ``input_ids``, ``attention_mask`` and ``labels`` (-100 where unmasked)."""
        rows = self._rows(virtual)
        lengths = torch.tensor(self.lengths[rows], dtype=torch.long)
        width = int(lengths.max())
        width = -(-width // multiple_of) * multiple_of
        ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
        take = min(width, self.ids.shape[1])
        ids[:, :take] = torch.from_numpy(self.ids[rows, :take].astype(np.int64))
        mask = torch.arange(width)[None, :] < lengths[:, None]
        maskable = mask & ~torch.isin(ids, self.special_ids)
        batch_seed = hashlib.sha256(f"{self.seed}:{virtual[0]}".encode()).digest()[:7]  # unique per MLM batch
        g = torch.Generator().manual_seed(int.from_bytes(batch_seed, "big"))
        inputs, labels = mask_tokens(ids, maskable, self.mask_id, self.vocab_size, self.cfg, g)
        return {"input_ids": inputs, "attention_mask": mask.long(), "labels": labels}


def load_corpus(source: DataSource, cfg: MlmConfig, tokenizer, max_length: int, needed: int, seed: int,
                cache_dir: Path, tok_fingerprint: str) -> MlmData:
    """The MLM sequences of a phase (``min(needed, mlm.max_sequences)``), cached on disk."""
    if tokenizer.mask_token_id is None:
        raise RunnerError("--variant mlm: the model's tokenizer has no mask token")
    limit = min(needed, cfg.max_sequences)
    key = hashlib.sha256(json.dumps({"corpus": source.identity(), "files": list(cfg.files), "col": cfg.text_column,
                                     "max_length": max_length, "limit": limit, "tok": tok_fingerprint},
                                    sort_keys=True).encode()).hexdigest()[:12]
    path = cache_dir / f"{key}.npz"
    if path.exists():
        saved = np.load(path)
        ids, lengths = saved["ids"], saved["lengths"]
    else:
        ids, lengths = chunk_texts(read_texts(source, cfg), tokenizer, max_length, limit)
        if not len(ids):
            raise RunnerError(f"mlm corpus {source.given}: no text was read (column {cfg.text_column!r})")
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.stem}.tmp.npz")
        np.savez(tmp, ids=ids, lengths=lengths)
        tmp.replace(path)
    log.info("mlm corpus %s: %d sequences of at most %d sub-tokens (%d needed)", source.given, len(ids), max_length, needed)
    return MlmData(ids, lengths, tokenizer.all_special_ids, tokenizer.mask_token_id, len(tokenizer), cfg, seed)


# ------------------------------------------------------------------------------ plan and model
def interleave(plan_fn: Callable[[int], Plan], mlm_index: int, every: int, batch_size: int,
               epochs: int) -> tuple[Callable[[int], Plan], int]:
    """A plan function with one MLM batch after every ``every`` task batches, and the MLM batch count."""
    per_epoch = [len(plan_fn(e)) // every for e in range(epochs)]
    first = [sum(per_epoch[:e]) for e in range(epochs)]

    def plan(epoch: int) -> Plan:
        out: Plan = []
        v = first[epoch] * batch_size
        for i, entry in enumerate(plan_fn(epoch), start=1):
            out.append(entry)
            if i % every == 0:
                out.append((mlm_index, list(range(v, v + batch_size))))
                v += batch_size
        return out

    return plan, sum(per_epoch)


class MlmModel(TaskModel):
    """A ``TaskModel`` that also predicts masked tokens (``forward(batch, "mlm")``)."""

    def __init__(self, encoder: nn.Module, heads: dict[str, tuple[str, int]], dropout: float, lm_head: nn.Module):
        super().__init__(encoder, make_heads(heads, hidden_size(encoder.config), dropout), heads)
        self.lm_head = lm_head  # not in ``heads``: saved checkpoints hold the task heads only

    def forward(self, batch: dict, task: str) -> torch.Tensor:
        if task != TASK:
            return super().forward(batch, task)
        states = self.encoder(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state
        return self.lm_head(states[batch["labels"] != IGNORE])  # vocabulary logits at masked positions only


def build_model(start: str | Path, heads: dict[str, tuple[str, int]], dropout: float, seed: int) -> MlmModel:
    """The encoder as in plain runs, task heads, and the model's own MLM head tied to its embeddings."""
    encoder = load_encoder(start)
    set_seed(seed)  # a model saved without its MLM head gets the same new head on every run
    level = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # its load report lists the pooler that MLM models lack: said below instead
    try:
        full, info = AutoModelForMaskedLM.from_pretrained(start, output_loading_info=True)
    except Exception as e:  # OSError, ValueError, KeyError: no masked-LM form of this model
        first = (str(e).strip().splitlines() or [type(e).__name__])[0][:200]
        raise RunnerError(f"--variant mlm: model {str(start)!r} has no masked-LM head: {first}") from e
    finally:
        hf_logging.set_verbosity(level)
    missing = [k for k in info.get("missing_keys", ()) if not k.startswith(full.base_model_prefix + ".")]
    if missing:
        log.warning("--variant mlm: %s has no pretrained MLM head (%d weights missing); a new one is trained",
                    start, len(missing))
    others = [m for _, m in full.named_children() if m is not full.base_model]
    if len(others) != 1:
        raise RunnerError(f"--variant mlm: cannot find the MLM head of a {type(full).__name__}")
    lm_head = others[0]
    if getattr(full.config, "tie_word_embeddings", True):
        full.get_output_embeddings().weight = encoder.get_input_embeddings().weight
    set_seed(seed)  # task heads start as in plain runs with this seed
    return MlmModel(encoder, heads, dropout, lm_head)



def attach(cfg: RunConfig, source: DataSource, tasks: list, heads: dict, plan_fn: Callable[[int], Plan], epochs: int,
           tokenizer, cache_dir: Path):
    """Phase 1 of ``--variant mlm``: (model with MLM head, tasks + MLM, interleaved plan, record).

    Args:
        cfg: the ``RunConfig``.
        source: the resolved corpus.
        tasks: the phase's ``TaskData``.
        heads: task heads, name -> (kind, labels).
        plan_fn: the tasks' plan (epoch -> batches).
        epochs: epochs of the phase.
        tokenizer: the model's tokenizer.
        cache_dir: where the corpus's token sequences are cached.
    """
    plan_fn, n_batches = interleave(plan_fn, len(tasks), cfg.mlm.every, cfg.train.batch_size, epochs)
    if n_batches == 0:
        raise RunnerError(f"mlm.every={cfg.mlm.every} is more than the task batches of an epoch: no MLM batch would run")
    max_length = cfg.mlm.max_length or cfg.train.max_length
    corpus = load_corpus(source, cfg.mlm, tokenizer, max_length, n_batches * cfg.train.batch_size, cfg.seed,
                         cache_dir, tokenizer_fingerprint(tokenizer))
    model = build_model(cfg.model, heads, cfg.train.dropout, cfg.seed)
    record = {"corpus": source.identity(), "sequences": len(corpus), "batches": n_batches,
              "every": cfg.mlm.every, "max_length": max_length}
    return model, [*tasks, TaskData(TASK, MlmData.kind, (), corpus, None)], plan_fn, record
