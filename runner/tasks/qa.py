"""Question-answering and retrieval tasks, declared as data with the records of ``runner.tasks``.

* ``squad`` (intermediate): SQuAD v1.1 (``rajpurkar/squad``); ``qa.squad_version=2.0`` selects
  SQuAD v2.0 (``rajpurkar/squad_v2``) for the intermediate phase only.
* ``xquad`` and ``mlqa``: phase 2 trains on SQuAD v1.1 and selects on its dev set, as XTREME does
  (``scripts/train_qa.sh``). ``squad:xquad`` therefore trains on SQuAD twice (phase 1, then a fresh
  head in phase 2), which is what X-STILTs did; it is kept on purpose.
* ``tydiqa`` (GoldP): trains on the **English** rows of google/xtreme ``tydiqa`` ``train`` only (the
  split holds every language; rows are kept by their id prefix ``english-``), as XTREME's
  ``tydiqa.en.train.json``. The evaluated set is GoldP's dev split (google/xtreme ``validation``,
  XTREME's "test"), ``en`` included, so phase-2 selection never reads it: it selects on a held-out
  10% of the English *training* questions (``TYDIQA_HOLDOUT_PERCENT``, chosen by a SHA-256 hash of
  the question id, about 370 of the 3,696) and trains on the other 90%. XTREME itself trains on the
  whole English train split and keeps the final model (``scripts/train_qa.sh``: no selection);
  jiant selects on the GoldP dev rows, i.e. on the ``en`` test set.
* ``bucc2018`` and ``tatoeba``: no target fine-tuning (XTREME): mean-pooled states of one layer of
  the intermediate-trained encoder (the pretrained one for ``none``); phase 2 is skipped. BUCC's
  threshold is tuned on each language's dev ("sample") split and applied to its test split.
* ``lareqa`` and ``mewslix`` (XTREME-R): phase 2 fine-tunes a dual encoder with in-batch
  negatives, on SQuAD v1.1 question / answer-sentence pairs (``scripts/train_lareqa.sh``) and on
  Wikipedia mention / entity pairs (``scripts/train_mewslix.sh``).

Known differences from the references, from the Hub copies themselves:

* google/xtreme ``bucc18.*`` holds only the gold-aligned sentence pairs, not the comparable corpora
  with their unaligned sentences, so mining there is easier than in the BUCC shared task: those
  results are stored as split ``test-goldonly``, never beside published BUCC (``test``).
  ``--bucc-path`` reads the shared task's files instead (results: split ``test``).
* google-research-datasets/xquad_r lacks LAReQA's ``sentence_breaks``: without ``--lareqa-path`` (the
  google-research-datasets/lareqa GitHub repo, whose ``xquad-r/{lang}.json`` XTREME-R reads) candidate
  sentences come from ``runner.data.adapters_qa.split_sentences`` (XTREME-R's own LAReQA training
  splits SQuAD with a rule-based splitter too). The pool is otherwise built as XTREME-R builds it
  (``adapters_qa.lareqa_pool``: every sentence of every paragraph in every language, encoded as
  sentence + paragraph concatenated, though training encodes the (sentence, paragraph) pair).
* google/xtreme has no Tatoeba or XQuAD data for XTREME-R's extra languages: Tatoeba az/lt/pl/uk/ro
  read LASER's test sets from mteb/tatoeba-bitext-mining, XQuAD ro from google/xquad.
"""

from __future__ import annotations

from dataclasses import replace

from runner.tasks.records import (BUCC_LOCAL, CONVERTED, LAREQA_LOCAL, MEWSLIX_LOCAL, XTREME, HubRepo, Source, Stage,
                                  TaskSpec, one_split)
from store.catalog import load_catalog

SQUAD = HubRepo("rajpurkar/squad", "main")
SQUAD_V2 = HubRepo("rajpurkar/squad_v2", "main")
XQUAD_HUB = HubRepo("google/xquad", "main")  # XQuAD ro (XTREME-R), missing from google/xtreme
XQUAD_R = HubRepo("google-research-datasets/xquad_r", "main")
TATOEBA_LASER = HubRepo("mteb/tatoeba-bitext-mining", "refs/convert/parquet", CONVERTED)

#: TyDiQA-GoldP ids start with the language's English name (``arabic-1234-0``).
TYDIQA_NAMES = {"ar": "arabic", "bn": "bengali", "en": "english", "fi": "finnish", "id": "indonesian",
                "ko": "korean", "ru": "russian", "sw": "swahili", "te": "telugu"}
#: Tatoeba's three-letter codes (xtreme third_party/evaluate_retrieval.py, plus XTREME-R's five).
TATOEBA_LANG3 = {
    "ar": "ara", "he": "heb", "vi": "vie", "id": "ind", "jv": "jav", "tl": "tgl", "eu": "eus", "ml": "mal",
    "ta": "tam", "te": "tel", "af": "afr", "nl": "nld", "de": "deu", "el": "ell", "bn": "ben", "hi": "hin",
    "mr": "mar", "ur": "urd", "fa": "pes", "fr": "fra", "it": "ita", "pt": "por", "es": "spa", "bg": "bul",
    "ru": "rus", "ja": "jpn", "ka": "kat", "ko": "kor", "th": "tha", "sw": "swh", "zh": "cmn", "kk": "kaz",
    "tr": "tur", "et": "est", "fi": "fin", "hu": "hun", "az": "aze", "lt": "lit", "pl": "pol", "uk": "ukr",
    "ro": "ron",
}
TATOEBA_XTREME_R_ONLY = ("az", "lt", "pl", "uk", "ro")

# ------------------------------------------------------------------------------------- stages
SQUAD_STAGE = Stage("squad", "question_answering", one_split(SQUAD, "plain_text", "train", "squad"),
                    one_split(SQUAD, "plain_text", "validation", "squad"), epochs=2, metric="f1")
SQUAD_V2_STAGE = Stage("squad", "question_answering", one_split(SQUAD_V2, "squad_v2", "train", "squad"),
                       one_split(SQUAD_V2, "squad_v2", "validation", "squad", metric="squad_v2"), epochs=2, metric="f1")
#: Phase 2 of XQuAD and MLQA: SQuAD v1.1 again, under its own name so its epochs can be set apart.
SQUAD_TARGET_STAGE = Stage("squad_en", "question_answering", SQUAD_STAGE.train, SQUAD_STAGE.dev, epochs=3, metric="f1")
#: TyDiQA-GoldP phase 2: 10% of the English training questions (by id hash) select the model, the
#: rest train it; the validation split is the evaluated set and is never read before phase 3.
TYDIQA_HOLDOUT_PERCENT = 10
TYDIQA_STAGE = Stage("tydiqa_en", "question_answering",
                     one_split(XTREME, "tydiqa", "train", "squad", language="english", holdout="exclude",
                               holdout_percent=str(TYDIQA_HOLDOUT_PERCENT)),
                     one_split(XTREME, "tydiqa", "train", "squad", language="english", holdout="only",
                               holdout_percent=str(TYDIQA_HOLDOUT_PERCENT)),
                     epochs=3, metric="f1")
#: XTREME-R LAReQA: SQuAD v1.1 questions against their answer sentence + paragraph (lengths 96 / 256).
LAREQA_STAGE = Stage("lareqa_squad", "dual_encoder",
                     one_split(SQUAD, "plain_text", "train", "lareqa_pair", query_length="96", candidate_length="256"),
                     one_split(SQUAD, "plain_text", "validation", "lareqa_pair", query_length="96", candidate_length="256"),
                     epochs=3, metric="map@20")
#: XTREME-R Mewsli-X: English Wikipedia mention / entity-description pairs (length 64 each).
MEWSLIX_STAGE = Stage("mewslix_wikipedia", "dual_encoder",
                      one_split(MEWSLIX_LOCAL, "", "wikipedia_pairs-train", "mewslix_pair", query_length="64",
                           candidate_length="64"),
                      one_split(MEWSLIX_LOCAL, "", "wikipedia_pairs-dev", "mewslix_pair", query_length="64",
                           candidate_length="64"),
                      epochs=2, metric="map@20")


def _xquad_test(lang: str) -> Source:
    if lang == "ro":
        return one_split(XQUAD_HUB, "xquad.ro", "validation", "squad")
    return one_split(XTREME, f"XQuAD.{lang}", "validation", "squad")


#: The split Hub-only BUCC results are stored under: never beside published BUCC (split ``test``).
BUCC_GOLD_ONLY_SPLIT = "test-goldonly"
BUCC_HUB_NOTE = ("bucc2018 reads google/xtreme's bucc18 rows: the gold pairs only, without the shared task's "
                 "unaligned sentences, so mining is easier and F1 higher than BUCC's; results are stored as split "
                 f"{BUCC_GOLD_ONLY_SPLIT}, apart from published BUCC (test); give --bucc-path DIR (the BUCC 2018 files "
                 "as XTREME's download lays them out) for the shared task's protocol")


def _bucc(lang: str, split: str) -> Source:
    """A BUCC split: google/xtreme's gold pairs (test results stored under their own split), or with
    ``--bucc-path`` the shared task's files, every sentence of both sides (XTREME: sample -> dev,
    training -> test)."""
    hub = one_split(XTREME, f"bucc18.{lang}", "test" if split == "test" else "validation", "bucc",
                    **({"store_split": BUCC_GOLD_ONLY_SPLIT} if split == "test" else {}))
    return replace(hub, local=(("bucc_path", one_split(BUCC_LOCAL, lang, split, "bucc_file")),))


LAREQA_HUB_NOTE = ("LAReQA: the Hub's xquad_r copy has no sentence_breaks, so candidate sentences come from a "
                   "rule-based splitter; give --lareqa-path (google-research-datasets/lareqa) for XQuAD-R's own sentences")


def _lareqa_test(lang: str) -> Source:
    """XQuAD-R in ``lang``: the Hub copy (sentences split by rule), or with ``--lareqa-path`` LAReQA's
    own file with each paragraph's ``sentence_breaks``, as XTREME-R reads it."""
    return replace(one_split(XQUAD_R, lang, "validation", "lareqa"),
                   local=(("lareqa_path", one_split(LAREQA_LOCAL, lang, "", "lareqa")),))


def _tatoeba_test(lang: str) -> Source:
    lang3 = TATOEBA_LANG3[lang]
    if lang in TATOEBA_XTREME_R_ONLY:
        return one_split(TATOEBA_LASER, f"{lang3}-eng", "test", "tatoeba", source="sentence1", target="sentence2")
    return one_split(XTREME, f"tatoeba.{lang3}", "validation", "tatoeba", source="source_sentence",
                target="target_sentence")


def intermediates() -> dict[str, TaskSpec]:
    """``squad`` (v1.1; v2.0 through ``qa.squad_version``)."""
    return {"squad": TaskSpec("squad", "intermediate", "question_answering", (SQUAD_STAGE,),
                              metrics=("f1", "em"), note="SQuAD v1.1; qa.squad_version=2.0 for v2.0")}


def targets() -> dict[str, TaskSpec]:
    """XQuAD, MLQA, TyDiQA-GoldP, BUCC 2018, Tatoeba, LAReQA and Mewsli-X."""
    cat = load_catalog()
    langs = cat.task_languages
    qa_metrics = cat.task("xquad").metrics
    return {
        "xquad": TaskSpec("xquad", "target", "question_answering", (SQUAD_TARGET_STAGE,),
                          {lang: _xquad_test(lang) for lang in langs("xquad")}, metrics=qa_metrics,
                          note="trains on SQuAD v1.1 (squad:xquad trains SQuAD twice, as X-STILTs did)"),
        "mlqa": TaskSpec("mlqa", "target", "question_answering", (SQUAD_TARGET_STAGE,),
                         {lang: one_split(XTREME, f"MLQA.{lang}.{lang}", "test", "squad", metric="mlqa")
                          for lang in langs("mlqa")}, metrics=cat.task("mlqa").metrics,
                         note="trains on SQuAD v1.1; MLQA's per-language answer normalisation"),
        "tydiqa": TaskSpec("tydiqa", "target", "question_answering", (TYDIQA_STAGE,),
                           {lang: one_split(XTREME, "tydiqa", "validation", "squad", language=TYDIQA_NAMES[lang])
                            for lang in langs("tydiqa")}, metrics=cat.task("tydiqa").metrics,
                           note="GoldP; trains on the English rows only (zero-shot), selects on a held-out 10% of them"),
        "bucc2018": TaskSpec("bucc2018", "target", "retrieval", (),
                             {lang: _bucc(lang, "test") for lang in langs("bucc2018")},
                             metrics=cat.task("bucc2018").metrics,
                             note="no target fine-tuning; threshold tuned on each dev split; --bucc-path: the "
                                  "shared task's files (distractors included)",
                             extra={f"dev/{lang}": _bucc(lang, "dev") for lang in langs("bucc2018")},
                             without_local={"bucc_path": BUCC_HUB_NOTE}),
        "tatoeba": TaskSpec("tatoeba", "target", "retrieval", (),
                            {lang: _tatoeba_test(lang) for lang in langs("tatoeba")},
                            metrics=cat.task("tatoeba").metrics, note="no target fine-tuning"),
        "lareqa": TaskSpec("lareqa", "target", "retrieval", (LAREQA_STAGE,),
                           {lang: _lareqa_test(lang) for lang in langs("lareqa")},
                           metrics=cat.task("lareqa").metrics,
                           note="XTREME-R: dual encoder fine-tuned on SQuAD v1.1 retrieval pairs; pool of every "
                                "sentence in 11 languages (--lareqa-path: LAReQA's own sentence breaks)",
                           without_local={"lareqa_path": LAREQA_HUB_NOTE}),
        "mewslix": TaskSpec("mewslix", "target", "retrieval", (MEWSLIX_STAGE,),
                            {lang: one_split(MEWSLIX_LOCAL, "", "wikinews_mentions-test", "mewslix_mention", language=lang)
                             for lang in langs("mewslix")},
                            metrics=cat.task("mewslix").metrics,
                            note="no Hub copy: --mewslix-path; dual encoder fine-tuned on Wikipedia pairs",
                            extra={"entities": one_split(MEWSLIX_LOCAL, "", "candidate_set_entities", "mewslix_entity")}),
    }
