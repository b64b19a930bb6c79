"""Fixture rows for the question-answering and retrieval repos, in their Hub (or jsonl) schemas.

Signals a tiny model can pick up (used by ``runner.testing.build_mirror``):

* QA: the answer is always ``yesh <word> nope`` inside a long context of filler words (so windows
  split it), the question names the middle word: start and end tokens are learnable in seconds.
* Sentence retrieval (BUCC, Tatoeba, LAReQA, Mewsli-X): a sentence and its translation (or a
  question and its answer sentence, a mention and its entity) share three content words drawn from
  a language-independent pool, amid language-specific filler, so even a random encoder's pooled
  states rank the right partner above chance.
* TyDiQA: the train split also holds non-English rows (ids ``<language>-...``) that training must
  never use; the validation split holds every language.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from runner.tasks import POS_LABELS, SplitRef

QA_START, QA_END = "yesh", "nope"


def content_words(seed: str, n: int = 3) -> list[str]:
    """``n`` shared content words (from the POS word pools of the tokenizer corpus) for one item."""
    from runner.testing import _words

    pool = [w for tag in POS_LABELS for w in _words(f"pos{tag}", 4)]
    return random.Random(seed).sample(pool, n)


# ----------------------------------------------------------------------------------------- QA
def qa_example(tx, lang: str, qid: str) -> dict:
    """One SQuAD-format example with the learnable answer span."""
    r = tx.rng
    topic = content_words(qid, 1)[0]
    before, after = tx.filler(lang, r.randint(8, 40)), tx.filler(lang, r.randint(8, 40))
    answer = f"{QA_START} {topic} {QA_END}"
    context = f"{before} {answer} {after}."
    question = f"{tx.filler(lang, r.randint(2, 5))} {topic}?"
    return {"id": qid, "title": f"t{qid}", "context": context, "question": question,
            "answers": {"text": [answer], "answer_start": [len(before) + 1]}}


def _qa_rows(ref: SplitRef, n: int, lang: str, tx) -> list[dict]:
    repo, config = ref.repo.repo, ref.config
    if repo == "google-research-datasets/xquad_r":
        return [lareqa_row(tx, lang, i) for i in range(n)]
    if config == "tydiqa":  # one split for every language; train also holds non-English rows
        from runner.tasks_qa import TYDIQA_NAMES

        rows = []
        for code, name in TYDIQA_NAMES.items():
            for i in range(n if code == "en" else min(n, 40)):
                rows.append(qa_example(tx, code, f"{name}-{ref.split}{i}-0"))
        return rows
    rows = [qa_example(tx, lang, f"{config}-{ref.split}-{i}") for i in range(n)]
    if repo == "rajpurkar/squad_v2":  # every fourth question is unanswerable
        for row in rows[::4]:
            row["answers"] = {"text": [], "answer_start": []}
    if (repo == "google/xtreme" and config.startswith("XQuAD")) or repo == "google/xquad":  # no title column
        rows = [{k: v for k, v in row.items() if k != "title"} for row in rows]
    return rows


def lareqa_row(tx, lang: str, i: int) -> dict:
    """XQuAD-R: question ``xq{i}`` in ``lang``; its answer sentence shares content words with it in
    every language (ids are shared by the translations)."""
    words = content_words(f"xq{i}")
    others = [f"{tx.filler(lang, 4)} {' '.join(content_words(f'xq{i}-{k}'))}." for k in range(2)]
    answer = f"{tx.filler(lang, 3)} {' '.join(words)} {tx.filler(lang, 2)}."
    context = f"{others[0]} {answer} {others[1]}"
    start = context.index(answer)
    return {"id": f"xq{i}", "context": context, "question": f"{tx.filler(lang, 2)} {' '.join(words[:2])}?",
            "answers": {"text": [answer.split()[-1]], "answer_start": [start + len(answer) - len(answer.split()[-1])]}}


# ------------------------------------------------------------------------------------ retrieval
def parallel_pair(tx, lang: str, key: str) -> tuple[str, str]:
    """A sentence in ``lang`` and its "English translation": shared content words, own filler."""
    words = content_words(key)
    src = f"{tx.filler(lang, tx.rng.randint(2, 6))} {' '.join(words)} {tx.filler(lang, 2)}"
    eng = f"{tx.filler('en', tx.rng.randint(2, 6))} {' '.join(words)} {tx.filler('en', 2)}"
    return src, eng


def _retrieval_rows(ref: SplitRef, adapter: str, cols: dict, n: int, lang: str, tx) -> list[dict]:
    if adapter == "bucc":
        rows = []
        for i in range(n):
            src, eng = parallel_pair(tx, lang, f"bucc-{lang}-{ref.split}-{i}")
            rows.append({"source_sentence": src, "target_sentence": eng, "source_lang": f"{lang}-{i:06d}",
                         "target_lang": f"en-{i:06d}"})
        return rows
    rows = []
    for i in range(n):
        src, eng = parallel_pair(tx, lang, f"tatoeba-{lang}-{i}")
        rows.append({cols["source"]: src, cols["target"]: eng})
    if cols["source"] == "source_sentence":
        from runner.tasks_qa import TATOEBA_LANG3

        for row in rows:
            row.update(source_lang=TATOEBA_LANG3[lang], target_lang="eng")
    return rows


def rows(ref: SplitRef, adapter: str, cols: dict, n: int, lang: str, tx):
    """(rows, datasets.Features) of one QA or retrieval split in its Hub schema."""
    from datasets import Features, Sequence, Value

    s = Value("string")
    answers = Sequence({"text": s, "answer_start": Value("int32")})
    if adapter in ("squad", "lareqa", "lareqa_pair"):
        out = _qa_rows(ref, n, lang, tx)
        names = list(out[0])
        return out, Features({k: answers if k == "answers" else s for k in names})
    out = _retrieval_rows(ref, adapter, cols, n, lang, tx)
    return out, Features({k: s for k in out[0]})


ADAPTERS = ("squad", "lareqa", "lareqa_pair", "bucc", "tatoeba")


# ------------------------------------------------------------------------------------- Mewsli-X
def _entity(i: int) -> dict:
    words = content_words(f"entity{i}")
    description = f"{' '.join(words)} ka lo. mi {words[0]} ne."
    first = description.index(".") + 1
    return {"entity_id": f"Q{i}", "title": " ".join(words[:2]), "description": description,
            "sentence_spans": [{"start": 0, "end": first}, {"start": first + 1, "end": len(description)}],
            "description_language": "en", "description_url": f"https://en.wikipedia.org/wiki/Q{i}"}


def _context(tx, lang: str, entity: dict, doc: str) -> tuple[dict, dict]:
    mention = " ".join(entity["title"].split())
    left, right = tx.filler(lang, 4), tx.filler(lang, 3)
    first = f"{tx.filler(lang, 3)}."
    second = f"{left} {mention} {right}."
    text = f"{first} {second}"
    start = len(first) + 1 + len(left) + 1
    context = {"document_title": doc, "document_url": f"https://{lang}.wikinews.org/{doc}", "document_id": doc,
               "language": lang, "text": text, "section_title": None,
               "sentence_spans": [{"start": 0, "end": len(first)}, {"start": len(first) + 1, "end": len(text)}]}
    span = {"start": start, "end": start + len(mention), "text": mention}
    return context, span


def write_mewslix(folder: Path, tx, n_entities: int = 60, n_train: int = 200, n_dev: int = 60, n_test: int = 15) -> Path:
    """Writes XTREME-R's five Mewsli-X jsonl files (the schema of ``utils_mewslix``) into ``folder``."""
    from store.catalog import load_catalog

    folder.mkdir(parents=True, exist_ok=True)
    entities = [_entity(i) for i in range(n_entities)]

    def dump(name: str, items: list[dict]) -> None:
        with open(folder / name, "w", encoding="utf-8") as f:
            for item in items:
                f.write(json.dumps(item, ensure_ascii=False) + "\n")

    dump("candidate_set_entities.jsonl", entities)
    for split, n in (("train", n_train), ("dev", n_dev)):
        pairs = []
        for i in range(n):
            entity = entities[tx.rng.randrange(n_entities)]
            context, span = _context(tx, "en", entity, f"wiki-{split}-{i}")
            mention = {"example_id": f"wp-{split}-{i}", "mention_span": span, "entity_id": entity["entity_id"]}
            pairs.append({"contextual_mention": {"context": context, "mention": mention}, "entity": entity})
        dump(f"wikipedia_pairs-{split}.jsonl", pairs)
    for split in ("dev", "test"):
        docs = []
        for lang in load_catalog().task_languages("mewslix"):
            for i in range(n_test):
                entity = entities[tx.rng.randrange(n_entities)]
                context, span = _context(tx, lang, entity, f"news-{lang}-{split}-{i}")
                docs.append({"context": context, "mentions": [
                    {"example_id": f"{lang}-{split}-{i}", "mention_span": span, "entity_id": entity["entity_id"],
                     "metadata": {}}]})
        dump(f"wikinews_mentions-{split}.jsonl", docs)
    return folder
