"""Row adapters of the question-answering and retrieval Hub schemas, and their text preparation.

Example shapes (what ``runner.data.read.read_source`` returns for these adapters):

* ``squad`` (SQuAD, XQuAD, MLQA, TyDiQA-GoldP): ``{"id", "question", "context", "answers": [str],
  "starts": [int]}``; ``columns["language"]`` keeps only ids of that TyDiQA language,
  ``columns["holdout"]`` a held-out slice of the questions or the rest (TyDiQA's selection data).
* ``bucc`` (google/xtreme ``bucc18.*``): ``{"src_id", "src", "tgt_id", "tgt"}`` (one gold pair).
* ``bucc_file`` (the BUCC 2018 files, ``--bucc-path``): ``{"side": "src" | "tgt", "id", "text"}`` per
  sentence and ``{"side": "gold", "src_id", "tgt_id"}`` per gold pair (``read_bucc_files``).
* ``tatoeba``: ``{"src", "tgt"}`` (a sentence and its English translation).
* ``lareqa`` (XQuAD-R): ``{"id", "question", "context", "answer_start", "sentences": [(start, end)]}``
  (``lareqa_pool`` builds XTREME-R's candidate pool from them).
* ``lareqa_pair`` (SQuAD, for training): ``{"query", "candidate": [sentence, paragraph], "cand_id"}``.
* ``mewslix_pair`` (Wikipedia pairs, training): ``{"query", "candidate": [description, None], "cand_id"}``.
* ``mewslix_mention`` (WikiNews test mentions): one ``{"id", "query", "gold"}`` per mention of the
  row's paragraph in ``columns["language"]``.
* ``mewslix_entity`` (the candidate entities): ``{"id", "text"}``.

Example:
    >>> split_sentences("It rained. Then it stopped! 好。")
    [(0, 10), (11, 27), (28, 30)]
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence

Example = dict

# --------------------------------------------------------------------------- question answering


def held_out(qid: str, percent: int) -> bool:
    """Is question ``qid`` in the held-out ``percent``% of its split? Decided by the id alone
    (SHA-256 of the id, modulo 100), so the slice is the same whatever the row order or the reader."""
    return int(hashlib.sha256(qid.encode("utf-8")).hexdigest(), 16) % 100 < percent


def squad(row: Mapping, cols: Mapping[str, str], names: Sequence[str]) -> Example | None:
    """SQuAD-format rows; with ``columns["language"]`` only TyDiQA ids ``<language>-...`` are kept.

    ``columns["holdout"]`` carves a held-out slice of ``columns["holdout_percent"]``% of the questions
    (``held_out``): ``exclude`` reads the rest (training), ``only`` reads the slice (model selection).
    """
    lang = cols.get("language")
    if lang and not str(row["id"]).startswith(f"{lang}-"):
        return None
    if cols.get("holdout"):
        if cols["holdout"] not in ("only", "exclude"):
            raise ValueError(f"holdout {cols['holdout']!r}: use only or exclude")
        if held_out(str(row["id"]), int(cols["holdout_percent"])) != (cols["holdout"] == "only"):
            return None
    answers = row.get("answers") or {}
    return {"id": str(row["id"]), "question": row["question"], "context": row["context"],
            "answers": [str(a) for a in answers.get("text") or []],
            "starts": [int(s) for s in answers.get("answer_start") or []]}


# ------------------------------------------------------------------------------ sentence retrieval


def bucc(row: Mapping, cols: Mapping[str, str], names: Sequence[str]) -> Example:
    """google/xtreme ``bucc18.<lang>``: one gold pair; the builder stores the sentence ids in the
    columns named ``source_lang`` / ``target_lang`` (e.g. ``de-000012`` / ``en-000345``)."""
    return {"src_id": str(row["source_lang"]), "src": row["source_sentence"],
            "tgt_id": str(row["target_lang"]), "tgt": row["target_sentence"]}


def bucc_file(row: Mapping, cols: Mapping[str, str], names: Sequence[str]) -> Example:
    """A row of ``read_bucc_files`` (a sentence of one side, or a gold pair), as it is."""
    return dict(row)


#: The files of one BUCC split in XTREME's layout (``scripts/download_data.sh`` ``download_bucc18``).
BUCC_FILES = ("{lg}-en.{split}.{lg}", "{lg}-en.{split}.en", "{lg}-en.{split}.gold")


def _tsv(path, what: str) -> list[tuple[str, str]]:
    """(first, second) field of each line, as ``cut -f1`` / ``cut -f2`` read them (run_bucc2018.sh)."""
    out = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            fields = line.rstrip("\n").split("\t")
            if len(fields) < 2:
                raise ValueError(f"{path}: line {number} has no tab; {what} lines are ID<TAB>TEXT")
            out.append((fields[0], fields[1]))
    return out


def read_bucc_files(root, lang: str, split: str, limit: int | None = None) -> list[Example]:
    """Every sentence of both sides of one BUCC split (distractors included) and its gold pairs.

    ``limit`` keeps the first ``limit`` sentences of each side and the gold pairs among them (a
    debugging cap: mining needs the whole corpus to be the shared task's).
    """
    src_file, tgt_file, gold_file = (root / name.format(lg=lang, split=split) for name in BUCC_FILES)
    src = _tsv(src_file, "sentence")[:limit]
    tgt = _tsv(tgt_file, "sentence")[:limit]
    kept_src, kept_tgt = {i for i, _ in src}, {i for i, _ in tgt}
    gold = [(s, t) for s, t in _tsv(gold_file, "gold") if s in kept_src and t in kept_tgt]
    return ([{"side": "src", "id": i, "text": x} for i, x in src] + [{"side": "tgt", "id": i, "text": x} for i, x in tgt]
            + [{"side": "gold", "src_id": s, "tgt_id": t} for s, t in gold])


def bucc_corpus(rows: Sequence[Mapping]) -> tuple[list[str], list[str], list[str], list[str], set[tuple[str, str]]]:
    """(source ids, source sentences, English ids, English sentences, gold pairs) of one BUCC split,
    from ``bucc`` rows (gold pairs only: each pair's two sentences) or ``bucc_file`` rows (the
    whole corpus). A sentence id listed twice is read once."""
    src: dict[str, str] = {}
    tgt: dict[str, str] = {}
    gold: set[tuple[str, str]] = set()
    for row in rows:
        side = row.get("side")
        if side == "src":
            src.setdefault(row["id"], row["text"])
        elif side == "tgt":
            tgt.setdefault(row["id"], row["text"])
        elif side == "gold":
            gold.add((row["src_id"], row["tgt_id"]))
        else:
            src.setdefault(row["src_id"], row["src"])
            tgt.setdefault(row["tgt_id"], row["tgt"])
            gold.add((row["src_id"], row["tgt_id"]))
    return list(src), list(src.values()), list(tgt), list(tgt.values()), gold


def tatoeba(row: Mapping, cols: Mapping[str, str], names: Sequence[str]) -> Example:
    """A Tatoeba sentence (``columns["source"]``) and its English translation (``columns["target"]``)."""
    return {"src": row[cols.get("source", "source_sentence")], "tgt": row[cols.get("target", "target_sentence")]}


# Sentence ends: ASCII, Arabic, Devanagari and full-width marks, then closing quotes or brackets.
_SENTENCE_END = re.compile(r"[.?!\u061f\u0964\u3002\uff01\uff1f][\"'\)\]\u201d\u2019\u00bb\u300d\u300f]*")
_FULL_WIDTH_END = frozenset("\u3002\uff01\uff1f")


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Sentence ``(start, end)`` character spans of a paragraph (end exclusive, no outer spaces).

    A sentence ends at ``.?!``, the Arabic question mark, the Devanagari danda or a full-width
    ``。！？`` (plus any closing quotes or brackets) when whitespace or, for the full-width marks,
    anything follows. Simpler than XTREME-R's English-specific ``sb_sed`` rules (no abbreviation
    list), because the XQuAD-R copy on the Hub has no sentence breaks and covers 11 languages.
    """
    spans, start = [], 0
    for m in _SENTENCE_END.finditer(text):
        end = m.end()
        if end < len(text) and not text[end].isspace() and text[m.start()] not in _FULL_WIDTH_END:
            continue
        spans.append((start, end))
        start = end
    spans.append((start, len(text)))
    out = []
    for s, e in spans:
        while s < e and text[s].isspace():
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        if e > s:
            out.append((s, e))
    return out


def answer_sentence(context: str, answer_start: int) -> tuple[int, str] | None:
    """(position, text) of the sentence holding ``answer_start``, as LAReQA maps an answer to its
    candidate (``start <= answer_start < end``); None when the start falls between sentences."""
    for pos, (s, e) in enumerate(split_sentences(context)):
        if s <= answer_start < e:
            return pos, context[s:e]
    return None


def _paragraph_key(context: str) -> str:
    return hashlib.sha1(context.encode("utf-8")).hexdigest()[:12]


def lareqa_pair(row: Mapping, cols: Mapping[str, str], names: Sequence[str]) -> Example | None:
    """A SQuAD v1.1 question against its answer sentence and paragraph (XTREME-R's LAReQA training
    pairs: the first answer only; questions whose answer start is in no sentence are skipped)."""
    starts = (row.get("answers") or {}).get("answer_start") or []
    if not starts:
        return None
    found = answer_sentence(row["context"], int(starts[0]))
    if found is None:
        return None
    pos, sentence = found
    return {"query": row["question"], "candidate": [sentence, row["context"]],
            "cand_id": f"{_paragraph_key(row['context'])}:{pos}"}


def lareqa(row: Mapping, cols: Mapping[str, str], names: Sequence[str]) -> Example | None:
    """An XQuAD-R question with its paragraph, first answer start and the paragraph's sentence
    ``(start, end)`` spans (its id is shared by the question's translations, which is how the 11
    relevant answers are found).

    The sentences are the row's ``sentence_breaks`` where it has them (LAReQA's original XQuAD-R
    files), else ``split_sentences`` (the Hub copy dropped them).
    """
    starts = (row.get("answers") or {}).get("answer_start") or []
    if not starts:
        return None
    breaks = row.get("sentence_breaks")
    sentences = [(int(s), int(e)) for s, e in breaks] if breaks is not None else split_sentences(row["context"])
    return {"id": str(row["id"]), "question": row["question"], "context": row["context"], "answer_start": int(starts[0]),
            "sentences": sentences}


def lareqa_pool(rows_by_lang: Mapping[str, Sequence[Example]]) -> tuple[dict, list, dict]:
    """Questions, candidates and relevant candidates of LAReQA, as XTREME-R builds them.

    ``utils_lareqa.load_data`` / ``generate_examples`` and ``evaluate_retrieval.py`` (task lareqa):

    * every sentence of every paragraph in every language is a candidate, one per (paragraph,
      position), its uid ``{lang}_{paragraph number}_{position}`` (paragraphs numbered from 1 in
      reading order per language; a paragraph is known by its text here, as each holds its questions);
    * a candidate is encoded as its sentence and its paragraph concatenated, newlines removed
      (``(candidate.sentence + candidate.context).replace("\n", "")``);
    * a question's answer sentence is the sentence holding its answer start; a question whose start
      lies in no sentence is skipped; every candidate of that paragraph whose text equals the answer
      sentence is relevant to the question id, so a question has one relevant candidate per language.

    Args:
        rows_by_lang: ``lareqa``-adapter examples per language.

    Returns:
        (questions: lang -> [(id, question)], candidates: [(uid, text)], relevant: id -> {uid}).
    """
    questions: dict[str, list[tuple[str, str]]] = {}
    candidates: list[tuple[str, str]] = []
    relevant: dict[str, set[str]] = {}
    for lang, rows in rows_by_lang.items():
        paragraphs: dict[str, str] = {}
        questions[lang] = []
        for row in rows:
            context = row["context"]
            texts = [context[s:e] for s, e in row["sentences"]]
            if context not in paragraphs:
                paragraphs[context] = f"{lang}_{len(paragraphs) + 1}"
                candidates += [(f"{paragraphs[context]}_{pos}", (text + context).replace("\n", ""))
                               for pos, text in enumerate(texts)]
            answer = next((context[s:e] for s, e in row["sentences"] if s <= row["answer_start"] < e), None)
            if answer is None:
                continue  # the answer start is in no sentence: XTREME-R skips the question
            relevant.setdefault(row["id"], set()).update(
                f"{paragraphs[context]}_{pos}" for pos, text in enumerate(texts) if text == answer)
            questions[lang].append((row["id"], row["question"]))
    return questions, candidates, relevant


# ---------------------------------------------------------------------------------------- Mewsli-X
_MARKER_L, _MARKER_R = "{", "}"
_MARKED = re.compile(r"\{(.*?)\}")


def _normalise_spaces(text: str) -> str:
    """Newlines to spaces and double spaces to single ones (once, as utils_mewslix does)."""
    return " ".join(text.splitlines()).replace("  ", " ").strip()


def _sentence_of(spans: Sequence[Mapping], start: int, end: int) -> tuple[int, int] | None:
    for span in spans:
        if span["start"] <= start < span["end"] and span["start"] < end <= span["end"]:
            return span["start"], span["end"]
    return None


def mention_query(context: Mapping, mention: Mapping) -> str:
    """The text encoding one mention, as ``utils_mewslix.preprocess_mention``.

    One sentence of context (the one holding the mention), the mention marked with ``{ }`` (braces
    already in the text become parentheses), and the mention prepended so that truncation at 64
    tokens never drops it: ``"Smith: The verdict came back for { Smith } , who ..."`` (the
    reference joins ``left {mention} right`` with spaces, hence `` ,``). A mention
    that crosses sentence breaks keeps the whole paragraph (the reference asserts this never happens).
    """
    span = mention["mention_span"]
    text = context["text"]
    bounds = _sentence_of(context.get("sentence_spans") or [], span["start"], span["end"]) or (0, len(text))
    left = _MARKED.sub(r"(\1)", text[bounds[0]:span["start"]])
    right = _MARKED.sub(r"(\1)", text[span["end"]:bounds[1]])
    return _normalise_spaces(f"{span['text']}: {left} {_MARKER_L} {span['text']} {_MARKER_R} {right}")


def entity_text(entity: Mapping) -> str:
    """An entity's description sentences joined by spaces (``preprocess_entity_description``)."""
    description = entity["description"]
    spans = entity.get("sentence_spans") or [{"start": 0, "end": len(description)}]
    return _normalise_spaces(" ".join(description[s["start"]:s["end"]] for s in spans))


def mewslix_pair(row: Mapping, cols: Mapping[str, str], names: Sequence[str]) -> Example:
    """A Wikipedia ``MentionEntityPair``: the mention query against the entity's description."""
    cm, entity = row["contextual_mention"], row["entity"]
    return {"query": mention_query(cm["context"], cm["mention"]), "candidate": [entity_text(entity), None],
            "cand_id": str(entity["entity_id"])}


def mewslix_mention(row: Mapping, cols: Mapping[str, str], names: Sequence[str]) -> list[Example]:
    """Every mention of a WikiNews ``ContextualMentions`` row whose paragraph is in ``columns["language"]``."""
    context = row["context"]
    if cols.get("language") and context.get("language") != cols["language"]:
        return []
    return [{"id": str(m["example_id"]), "query": mention_query(context, m), "gold": str(m["entity_id"])}
            for m in row["mentions"]]


def mewslix_entity(row: Mapping, cols: Mapping[str, str], names: Sequence[str]) -> Example:
    """One candidate entity of ``candidate_set_entities.jsonl``."""
    return {"id": str(row["entity_id"]), "text": entity_text(row)}


ADAPTERS = {
    "squad": squad,
    "bucc": bucc,
    "bucc_file": bucc_file,
    "tatoeba": tatoeba,
    "lareqa": lareqa,
    "lareqa_pair": lareqa_pair,
    "mewslix_pair": mewslix_pair,
    "mewslix_mention": mewslix_mention,
    "mewslix_entity": mewslix_entity,
}
