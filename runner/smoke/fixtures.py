"""Tiny offline fixtures: a random XLM-R-style model and local copies of the Hub repos.

``build_model`` trains a Unigram tokenizer with ``tokenizers`` on the fixture vocabulary and saves
it with a random 2-layer, hidden-64 XLM-R. ``build_mirror`` writes, for the splits that
``runner.tasks`` declares (of the tasks asked for), a small Parquet file at the repo-relative path
the Hub uses, in the Hub's schema (column names, ClassLabel names, nesting). Texts carry a
learnable signal shared by all languages (a label word in the hypothesis, the right answer's marker
word, a tag per word pool), so a tiny model beats chance in a few seconds on CPU. Nothing is
downloaded. The rows of the text kinds (classification, multiple choice, tagging) are built here;
other schemas come from a ``rows`` function the caller passes (the tests' QA and retrieval rows).

Example (building takes about a second)::

    from runner.smoke.fixtures import build_mirror, build_model
    build_mirror(tmp / "data", tasks=("mnli", "xnli")); build_model(tmp / "model")
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Collection
from pathlib import Path

import datasets
import torch
from datasets import ClassLabel, Features, Sequence, Value
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
from transformers import XLMRobertaConfig, XLMRobertaModel, XLMRobertaTokenizer
from transformers.utils import logging as hf_logging

from runner.tasks.records import CCG_LOCAL, MEWSLIX_LOCAL, SplitRef
from runner.tasks.registry import registry
from runner.tasks.text import NER_LABELS, POS_LABELS
from store.catalog import load_catalog

#: Builds (rows, datasets.Features) of one split in its Hub schema, or None for an adapter it does not know.
RowBuilder = Callable[[SplitRef, str, dict, int, str, "FixtureText"], "tuple[list[dict], Features] | None"]

SYLLABLES = ["ka", "lo", "mi", "ne", "su", "ta", "ri", "po", "ve", "du", "ga", "hi", "zo", "be", "fu", "ya"]
#: Label words shared by every language: the signal the tiny model learns.
NLI_WORDS = ("zorp", "mivvy", "quax")
PAIR_WORDS = ("blick", "snorf")
RIGHT, WRONG = "yesh", "nope"
UD_UPOS = ["NOUN", "PUNCT", "ADP", "NUM", "SYM", "SCONJ", "ADJ", "PART", "DET", "CCONJ", "PROPN", "PRON", "X", "_",
           "ADV", "INTJ", "VERB", "AUX"]  # universal_dependencies' own ClassLabel order


def made_up_words(seed: str, n: int) -> list[str]:
    """``n`` made-up words of two or three syllables, the same for the same seed."""
    rng = random.Random(seed)
    return ["".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 3))) for _ in range(n)]


class FixtureText:
    """Filler words per language and word pools per tag, all deterministic."""

    def __init__(self, seed: int):
        self.rng = random.Random(seed)
        self.pos_pools = {tag: made_up_words(f"pos{tag}", 4) for tag in POS_LABELS}
        self.names = made_up_words("names", 12)

    def filler(self, lang: str, n: int) -> str:
        pool = made_up_words(f"fill{lang}", 40)
        return " ".join(self.rng.choice(pool) for _ in range(n))

    def sentence(self, lang: str, signal: str) -> str:
        words = self.filler(lang, self.rng.randint(3, 12)).split()
        words.insert(self.rng.randint(0, len(words)), signal)
        return " ".join(words)

    def pos_sentence(self, n: int) -> tuple[list[str], list[str]]:
        tags = [self.rng.choice(POS_LABELS) for _ in range(n)]
        return [self.rng.choice(self.pos_pools[t]) for t in tags], tags

    def ner_sentence(self, lang: str) -> tuple[list[str], list[str]]:
        tokens, tags = [], []
        for _ in range(self.rng.randint(2, 5)):
            tokens += self.filler(lang, self.rng.randint(1, 3)).split()
            tags += ["O"] * (len(tokens) - len(tags))
            kind = self.rng.choice(["PER", "ORG", "LOC"])
            span = self.rng.randint(1, 2)
            tokens += [f"{kind.lower()}{self.rng.choice(self.names)}" for _ in range(span)]
            tags += [f"B-{kind}"] + [f"I-{kind}"] * (span - 1)
        return tokens, tags


def file_name(ref: SplitRef) -> str:
    """The file name a one-file split has on the Hub (its glob filled in)."""
    return ref.pattern().replace("-*.parquet", "-00000-of-00001.parquet").replace("/*.parquet", "/0000.parquet")


#: Adapters whose rows ``text_rows`` builds.
TEXT_ADAPTERS = ("labelled_text", "mc_siqa", "mc_hellaswag", "mc_commonsenseqa", "mc_cosmosqa", "mc_copa", "tagged_tokens",
                 "ud_words")


def text_rows(ref: SplitRef, adapter: str, cols: dict, n: int, lang: str, tx: FixtureText):
    """(rows, datasets.Features) of one classification, multiple-choice or tagging split in the Hub
    schema of ``ref.repo``; None for other adapters."""
    if adapter not in TEXT_ADAPTERS:
        return None
    s, r = Value("string"), tx.rng
    repo = ref.repo.repo
    if adapter == "labelled_text":
        pair = "text_b" in cols
        names = {"nyu-mll/glue": {"mnli": list(("entailment", "neutral", "contradiction")),
                                  "qqp": ["not_duplicate", "duplicate"], "sst2": ["negative", "positive"]}.get(ref.config),
                 "facebook/xnli": ["entailment", "neutral", "contradiction"],
                 "facebook/anli": ["entailment", "neutral", "contradiction"],
                 "stanfordnlp/snli": ["entailment", "neutral", "contradiction"],
                 "google-research-datasets/paws-x": ["0", "1"]}[repo]
        words = NLI_WORDS if len(names) == 3 else PAIR_WORDS
        rows = []
        for _ in range(n):
            y = r.randrange(len(names))
            row = {cols["text_a"]: tx.sentence(lang, words[y]) if not pair else tx.filler(lang, r.randint(4, 14))}
            if pair:
                row[cols["text_b"]] = tx.sentence(lang, words[y])
            row["label"] = -1 if ref.split.startswith("test") and repo == "nyu-mll/glue" else y
            rows.append(row)
        if repo == "stanfordnlp/snli":  # SNLI has pairs without a gold label (-1): 785 of 550,152 in train
            for row in rows[::10]:
                row["label"] = -1
        feats = {c: s for c in (cols["text_a"], cols.get("text_b")) if c}
        feats["label"] = ClassLabel(names=names)
        if repo == "nyu-mll/glue":
            for i, row in enumerate(rows):
                row["idx"] = i
            feats["idx"] = Value("int32")
        if repo == "google-research-datasets/paws-x":
            rows = [{"id": i, **row} for i, row in enumerate(rows)]
            feats = {"id": Value("int32"), **feats}
        if repo == "facebook/anli":
            rows = [{"uid": f"u{i}", **row, "reason": ""} for i, row in enumerate(rows)]
            feats = {"uid": s, **feats, "reason": s}
        return rows, Features(feats)
    if adapter.startswith("mc_"):
        n_choices = {"mc_siqa": 3, "mc_hellaswag": 4, "mc_commonsenseqa": 5, "mc_cosmosqa": 4, "mc_copa": 2}[adapter]
        rows = []
        for i in range(n):
            y = r.randrange(n_choices)
            answers = [tx.sentence(lang, RIGHT if c == y else WRONG) for c in range(n_choices)]
            rows.append((i, y, answers, tx.filler(lang, r.randint(5, 15)), tx.filler(lang, r.randint(2, 5))))
        if adapter == "mc_siqa":
            return ([{"context": c, "question": q, "answerA": a[0], "answerB": a[1], "answerC": a[2], "label": str(y + 1)}
                     for i, y, a, c, q in rows], Features({k: s for k in ("context", "question", "answerA", "answerB", "answerC", "label")}))
        if adapter == "mc_hellaswag":
            return ([{"ind": i, "activity_label": "fixture", "ctx_a": c, "ctx_b": q, "ctx": f"{c} {q}", "endings": a,
                      "source_id": f"s{i}", "split": ref.split, "split_type": "indomain", "label": str(y)}
                     for i, y, a, c, q in rows],
                    Features({"ind": Value("int32"), "activity_label": s, "ctx_a": s, "ctx_b": s, "ctx": s,
                              "endings": Sequence(s), "source_id": s, "split": s, "split_type": s, "label": s}))
        if adapter == "mc_commonsenseqa":
            letters = list("ABCDE")
            return ([{"id": f"q{i}", "question": c, "question_concept": q, "choices": {"label": letters, "text": a},
                      "answerKey": letters[y]} for i, y, a, c, q in rows],
                    Features({"id": s, "question": s, "question_concept": s,
                              "choices": Sequence({"label": s, "text": s}), "answerKey": s}))
        if adapter == "mc_cosmosqa":
            return ([{"id": f"c{i}", "context": c, "question": q, **{f"answer{k}": a[k] for k in range(4)}, "label": y}
                     for i, y, a, c, q in rows],
                    Features({"id": s, "context": s, "question": s, **{f"answer{k}": s for k in range(4)}, "label": Value("int32")}))
        copa = [{"premise": c, "choice1": a[0], "choice2": a[1], "question": r.choice(["cause", "effect"]), "idx": i, "label": y}
                for i, y, a, c, q in rows]
        if repo == "aps/super_glue":
            return copa, Features({"premise": s, "choice1": s, "choice2": s, "question": s, "idx": Value("int32"),
                                   "label": ClassLabel(names=["choice1", "choice2"])})
        return ([{**row, "changed": False} for row in copa],
                Features({"premise": s, "choice1": s, "choice2": s, "question": s, "label": Value("int32"),
                          "idx": Value("int32"), "changed": Value("bool")}))
    # tagging
    if cols["tags"] == "pos_tags" or cols["tags"] == "upos":
        names = list(POS_LABELS) if cols["tags"] == "pos_tags" else UD_UPOS
        sents = [tx.pos_sentence(r.randint(3, 14)) for _ in range(n)]
        if cols["tags"] == "pos_tags":
            return ([{"tokens": t, "pos_tags": [names.index(x) for x in g]} for t, g in sents],
                    Features({"tokens": Sequence(s), "pos_tags": Sequence(ClassLabel(names=names))}))
        rows = [{"idx": f"{ref.config}-{i}", "text": " ".join(t), "tokens": t, "lemmas": t,
                 "upos": [names.index(x) for x in g], "xpos": [None] * len(t), "feats": [None] * len(t),
                 "head": ["0"] * len(t), "deprel": ["dep"] * len(t), "deps": [None] * len(t), "misc": [None] * len(t)}
                for i, (t, g) in enumerate(sents)]
        return rows, Features({"idx": s, "text": s, "tokens": Sequence(s), "lemmas": Sequence(s),
                               "upos": Sequence(ClassLabel(names=names)), "xpos": Sequence(s), "feats": Sequence(s),
                               "head": Sequence(s), "deprel": Sequence(s), "deps": Sequence(s), "misc": Sequence(s)})
    names = list(NER_LABELS)
    sents = [tx.ner_sentence(lang) for _ in range(n)]
    rows = [{"tokens": t, "ner_tags": [names.index(x) for x in g], "langs": [lang] * len(t)} for t, g in sents]
    feats = {"tokens": Sequence(s), "ner_tags": Sequence(ClassLabel(names=names)), "langs": Sequence(s)}
    if repo == "unimelb-nlp/wikiann":
        rows = [{**row, "spans": []} for row in rows]
        feats["spans"] = Sequence(s)
    return rows, Features(feats)


def write_split(root: Path, ref: SplitRef, rows: list[dict], feats: Features) -> Path:
    """Writes one split as the single Parquet file a Hub repo holds for it."""
    path = root / ref.repo.repo / file_name(ref)
    path.parent.mkdir(parents=True, exist_ok=True)
    datasets.Dataset.from_list(rows, features=feats).to_parquet(str(path))
    return path


def build_mirror(root: Path, tasks: Collection[str] | None = None, n_train: int = 400, n_dev: int = 120,
                 n_test: int = 40, seed: int = 0, rows: RowBuilder | None = None,
                 text: FixtureText | None = None) -> Path:
    """Writes a local copy of the declared Hub splits of ``tasks`` under ``root/owner/name/``.

    Args:
        root: the ``--data-dir`` folder to create.
        tasks: task names whose splits to write (default: every task; splits whose adapter no row
            builder knows are then left out).
        n_train: examples per training split.
        n_dev: examples per dev split.
        n_test: examples per test split (each language).
        seed: randomness of the synthetic texts.
        rows: builds rows of adapters ``text_rows`` does not know (None: text kinds only).
        text: the fixture text generator (shared with a caller that writes more splits).

    Returns:
        ``root``; with ``ccg`` among the tasks, CCG lines go to ``root/ccgbank/{train,dev}.jsonl``.

    Raises:
        ValueError: a task asked for by name has a split that no row builder knows.
    """
    datasets.disable_progress_bars()
    tx = text or FixtureText(seed)
    done: set[str] = set()
    for spec in registry().values():
        if not spec.implemented or (tasks is not None and spec.name not in tasks):
            continue
        parts = [(st.train, n_train, "en") for st in spec.stages] + [(st.dev, n_dev, "en") for st in spec.stages]
        parts += [(src, n_test, lang) for lang, src in spec.test.items()]
        parts += [(src, n_test, name.split("/")[-1]) for name, src in spec.extra.items()]  # BUCC dev/<lang>
        for src, n, lang in parts:
            for ref in src.refs:
                if ref.repo in (CCG_LOCAL, MEWSLIX_LOCAL) or str(root / ref.repo.repo / file_name(ref)) in done:
                    continue
                args = (ref, src.adapter, dict(src.columns), n, lang if spec.test else "en", tx)
                got = text_rows(*args) or (rows(*args) if rows is not None else None)
                if got is None:
                    if tasks is not None:
                        raise ValueError(f"no fixture rows for adapter {src.adapter!r} of {spec.name}")
                    continue
                done.add(str(write_split(root, ref, *got)))
    if tasks is None or "ccg" in tasks:
        ccg = root / "ccgbank"
        ccg.mkdir(parents=True, exist_ok=True)
        for split, n in (("train", n_train), ("dev", n_dev)):
            with open(ccg / f"{split}.jsonl", "w", encoding="utf-8") as f:
                for _ in range(n):
                    tokens, tags = tx.pos_sentence(tx.rng.randint(3, 10))
                    f.write(json.dumps({"tokens": tokens, "tags": [f"{t}/N" for t in tags]}) + "\n")
    return root


def corpus(seed: int = 0) -> list[str]:
    """Sentences covering the fixture vocabulary, to train the tokenizer on."""
    tx = FixtureText(seed)
    langs = sorted({lang for t in load_catalog().target_tasks() for lang in load_catalog().task_languages(t)} | {"en"})
    lines = [tx.filler(lang, 40) for lang in langs for _ in range(3)]
    lines += [" ".join(pool) for pool in tx.pos_pools.values()]
    lines += [" ".join(f"{k}{n}" for n in tx.names for k in ("per", "org", "loc"))]
    lines += [" ".join(NLI_WORDS + PAIR_WORDS + (RIGHT, WRONG, "cause", "effect", "cause:", "effect:"))] * 20
    return lines


def build_model(folder: Path, hidden: int = 64, layers: int = 2, vocab_size: int = 1000, seed: int = 0,
                positions: int = 514) -> Path:
    """Saves a random XLM-R-style encoder and a locally trained XLM-R tokenizer in ``folder``.

    ``positions`` is the size of the position table (XLM-R: 514, i.e. 512 tokens).
    """
    tok = Tokenizer(models.Unigram())
    tok.normalizer = normalizers.NFKC()
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.decoder = decoders.Metaspace()
    specials = ["<s>", "<pad>", "</s>", "<unk>"]
    tok.train_from_iterator(corpus(seed), trainers.UnigramTrainer(vocab_size=vocab_size, special_tokens=specials,
                                                                  unk_token="<unk>"))
    vocab = [tuple(v) for v in json.loads(tok.to_str())["model"]["vocab"]]
    tokenizer = XLMRobertaTokenizer(vocab=vocab)
    torch.manual_seed(seed)
    config = XLMRobertaConfig(vocab_size=len(tokenizer), hidden_size=hidden, num_hidden_layers=layers,
                              num_attention_heads=2, intermediate_size=hidden * 2, max_position_embeddings=positions,
                              type_vocab_size=1, pad_token_id=tokenizer.pad_token_id,
                              bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id)
    folder.mkdir(parents=True, exist_ok=True)
    hf_logging.disable_progress_bar()  # "Writing model shards" says nothing here
    XLMRobertaModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder
