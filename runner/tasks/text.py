"""Classification, multiple-choice and tagging tasks, declared as data (``runner.tasks.records``).

Every catalog task has exactly one declaration (``runner.tasks.registry`` refuses a catalog task
without one). A task names its kind, its label list, and its English training stages; a target
also names one evaluation source per language. Question answering and retrieval are declared in
``runner.tasks.qa`` with the same records.

Example:
    >>> STAGES["sst2"].kind, STAGES["xnli_en"].kind, STAGES["xnli_en"].train is STAGES["mnli"].train
    ('classification', 'pair_classification', True)
"""

from __future__ import annotations

from dataclasses import replace

from runner.tasks.records import (CCG_LOCAL, CONVERTED, UD_LOCAL, XTREME, HubRepo, Source, SplitRef, Stage, TaskSpec,
                                  one_split)
from store.catalog import load_catalog

# ---------------------------------------------------------------------------------------- repos
# Revisions: a 40-hex sha where one was verified against the Hub's history; otherwise the branch
# whose layout is declared (pin it before a paper run: `runner tasks --sources` lists them).
GLUE = HubRepo("nyu-mll/glue", "main")
XNLI = HubRepo("facebook/xnli", "main")
PAWSX = HubRepo("google-research-datasets/paws-x", "main")
ANLI = HubRepo("facebook/anli", "main")
SNLI = HubRepo("stanfordnlp/snli", "main")
CSQA = HubRepo("tau/commonsense_qa", "main", layout="data/{split}-*.parquet")
# Script-based repos: read from the Hub's Parquet conversion branch.
SIQA = HubRepo("allenai/social_i_qa", "9eb9490eb61bd4ffb5eaedf2ae22e260d8c4019e", CONVERTED, pinned=True)
HELLASWAG = HubRepo("Rowan/hellaswag", "refs/convert/parquet", CONVERTED)
COSMOSQA = HubRepo("allenai/cosmos_qa", "refs/convert/parquet", CONVERTED)
SUPERGLUE = HubRepo("aps/super_glue", "refs/convert/parquet", CONVERTED)
XCOPA = HubRepo("cambridgeltl/xcopa", "refs/convert/parquet", CONVERTED)
WIKIANN = HubRepo("unimelb-nlp/wikiann", "refs/convert/parquet", CONVERTED)
UD = HubRepo("universal-dependencies/universal_dependencies", "refs/convert/parquet", CONVERTED)

NLI_LABELS = ("entailment", "neutral", "contradiction")
POS_LABELS = ("ADJ", "ADP", "ADV", "AUX", "CCONJ", "DET", "INTJ", "NOUN", "NUM", "PART", "PRON",
              "PROPN", "PUNCT", "SCONJ", "SYM", "VERB", "X")  # google/xtreme udpos ClassLabel order
NER_LABELS = ("O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC")


PAIR = dict(text_a="premise", text_b="hypothesis", label="label")
#: ANLI+ (Phang et al. 2020): ANLI R1-R3 (16,946 + 45,460 + 100,459) + MNLI (392,702) + SNLI (550,152
#: rows, 549,367 with a gold label: ``labelled_text`` drops the -1 rows) = 1,104,934 training examples.
ANLI_PLUS_TRAIN = (*(SplitRef(ANLI, "plain_text", f"train_r{r}") for r in (1, 2, 3)), SplitRef(GLUE, "mnli", "train"),
                   SplitRef(SNLI, "plain_text", "train"))


def _ud(hub: Source, lang: str, split: str) -> Source:
    """A UD-POS source: the Hub's rows, or with ``--udpos-path`` the raw treebanks of ``lang``
    converted as XTREME's download converts them (``runner.data.conllu``)."""
    return replace(hub, local=(("udpos_path", one_split(UD_LOCAL, lang, split, "tagged_tokens", tags="tags")),))


# --------------------------------------------------------------------------- training stages
MNLI = Stage("mnli", "pair_classification", one_split(GLUE, "mnli", "train", "labelled_text", **PAIR),
             one_split(GLUE, "mnli", "validation_matched", "labelled_text", **PAIR), epochs=2, labels=NLI_LABELS)
STAGES: dict[str, Stage] = {
    "mnli": MNLI,
    "qqp": Stage(
        "qqp", "pair_classification",
        one_split(GLUE, "qqp", "train", "labelled_text", text_a="question1", text_b="question2", label="label"),
        one_split(GLUE, "qqp", "validation", "labelled_text", text_a="question1", text_b="question2", label="label"),
        epochs=2, labels=("not_duplicate", "duplicate")),
    "sst2": Stage(
        "sst2", "classification", one_split(GLUE, "sst2", "train", "labelled_text", text_a="sentence", label="label"),
        one_split(GLUE, "sst2", "validation", "labelled_text", text_a="sentence", label="label"),
        epochs=3, labels=("negative", "positive")),
    # ANLI+ as the X-STILTs paper trains it: ANLI R1-R3 + MNLI + SNLI, one 3-way NLI head (the three
    # share premise / hypothesis / label columns and the label order); selects on ANLI's dev rounds.
    "anli": Stage(
        "anli", "pair_classification",
        Source(ANLI_PLUS_TRAIN, "labelled_text", PAIR),
        Source(tuple(SplitRef(ANLI, "plain_text", f"dev_r{r}") for r in (1, 2, 3)), "labelled_text", PAIR),
        epochs=3, labels=NLI_LABELS),
    "commonsenseqa": Stage("commonsenseqa", "multiple_choice", one_split(CSQA, "default", "train", "mc_commonsenseqa"),
                           one_split(CSQA, "default", "validation", "mc_commonsenseqa"), epochs=3),
    "cosmosqa": Stage("cosmosqa", "multiple_choice", one_split(COSMOSQA, "default", "train", "mc_cosmosqa"),
                      one_split(COSMOSQA, "default", "validation", "mc_cosmosqa"), epochs=3),
    "hellaswag": Stage("hellaswag", "multiple_choice", one_split(HELLASWAG, "default", "train", "mc_hellaswag"),
                       one_split(HELLASWAG, "default", "validation", "mc_hellaswag"), epochs=3),
    "ccg": Stage("ccg", "tagging", one_split(CCG_LOCAL, "", "train", "ccg"), one_split(CCG_LOCAL, "", "dev", "ccg"),
                 epochs=3),  # labels: the supertags of the training file
    "siqa": Stage("siqa", "multiple_choice", one_split(SIQA, "default", "train", "mc_siqa"),
                  one_split(SIQA, "default", "validation", "mc_siqa"), epochs=2),
    "copa": Stage("copa", "multiple_choice", one_split(SUPERGLUE, "copa", "train", "mc_copa"),
                  one_split(SUPERGLUE, "copa", "validation", "mc_copa"), epochs=10),
    "pawsx_en": Stage(
        "pawsx_en", "pair_classification",
        one_split(PAWSX, "en", "train", "labelled_text", text_a="sentence1", text_b="sentence2", label="label"),
        one_split(PAWSX, "en", "validation", "labelled_text", text_a="sentence1", text_b="sentence2", label="label"),
        epochs=5, labels=("different", "paraphrase")),
    # XNLI's target phase trains on MNLI and selects on XNLI's English dev set (XTREME).
    "xnli_en": Stage("xnli_en", "pair_classification", MNLI.train,
                     one_split(XNLI, "en", "validation", "labelled_text", **PAIR), epochs=2, labels=NLI_LABELS),
    "udpos_en": Stage("udpos_en", "tagging",
                      _ud(one_split(XTREME, "udpos.English", "train", "tagged_tokens", tags="pos_tags"), "en", "train"),
                      _ud(one_split(XTREME, "udpos.English", "validation", "tagged_tokens", tags="pos_tags"), "en", "dev"),
                      epochs=10, labels=POS_LABELS, metric="f1"),
    "panx_en": Stage("panx_en", "tagging", one_split(XTREME, "PAN-X.en", "train", "tagged_tokens", tags="ner_tags"),
                     one_split(XTREME, "PAN-X.en", "validation", "tagged_tokens", tags="ner_tags"),
                     epochs=10, labels=NER_LABELS, metric="f1"),
}

# ---------------------------------------------------------------------- per-language test sets
UDPOS_CONFIG = {
    "af": "Afrikaans", "ar": "Arabic", "bg": "Bulgarian", "de": "German", "el": "Greek", "en": "English",
    "es": "Spanish", "et": "Estonian", "eu": "Basque", "fa": "Persian", "fi": "Finnish", "fr": "French",
    "he": "Hebrew", "hi": "Hindi", "hu": "Hungarian", "id": "Indonesian", "it": "Italian", "ja": "Japanese",
    "kk": "Kazakh", "ko": "Korean", "mr": "Marathi", "nl": "Dutch", "pt": "Portuguese", "ru": "Russian",
    "ta": "Tamil", "te": "Telugu", "th": "Thai", "tl": "Tagalog", "tr": "Turkish", "ur": "Urdu",
    "vi": "Vietnamese", "yo": "Yoruba", "zh": "Chinese",
}
#: XTREME-R languages that google/xtreme lacks: UD v2.7 test sets of every treebank of the language.
UDPOS_EXTRA = {
    "lt": ("lt_alksnis", "lt_hse"), "pl": ("pl_lfg", "pl_pdb", "pl_pud"), "uk": ("uk_iu",),
    "wo": ("wo_wtb",), "ro": ("ro_nonstandard", "ro_rrt", "ro_simonero"),
}
#: How the Hub's UD-POS rows differ from XTREME's data (runner.data.conllu says where each comes from).
UDPOS_HUB_NOTE = ("udpos reads the Hub's rows: syntactic words where XTREME has one fused token per multiword token "
                  "(tagged as its highest part), empty nodes with a form kept, no sentence filtering; google/xtreme pools "
                  "every UD folder matching *_<Language>* (Ancient Greek with Greek); give --udpos-path DIR (raw "
                  "ud-treebanks-v2.x) for XTREME's conversion")
PANX_EXTRA = ("qu", "pl", "uk", "az", "lt", "pa", "gu", "ro")  # XTREME-R: from WikiANN directly


def _udpos_test(lang: str) -> Source:
    if lang in UDPOS_CONFIG:
        return _ud(one_split(XTREME, f"udpos.{UDPOS_CONFIG[lang]}", "test", "tagged_tokens", tags="pos_tags"), lang, "test")
    refs = tuple(SplitRef(UD, tb, "test") for tb in UDPOS_EXTRA[lang])
    # syntactic words (multiword ranges and empty nodes dropped); tags mapped by name, UD's "_" becomes "X"
    return _ud(Source(refs, "ud_words", {"tags": "upos"}), lang, "test")


def _panx_test(lang: str) -> Source:
    if lang in PANX_EXTRA:
        return one_split(WIKIANN, lang, "test", "tagged_tokens", tags="ner_tags")
    return one_split(XTREME, f"PAN-X.{lang}", "test", "tagged_tokens", tags="ner_tags")


def targets() -> dict[str, TaskSpec]:
    cat = load_catalog()
    langs = cat.task_languages
    nli = {lang: one_split(XNLI, lang, "test", "labelled_text", **PAIR) for lang in langs("xnli")}
    paws_cols = dict(text_a="sentence1", text_b="sentence2", label="label")
    paws = {lang: one_split(PAWSX, lang, "test", "labelled_text", **paws_cols) for lang in langs("pawsx")}
    tag_metrics = ("f1", "precision", "recall")
    return {
        "xnli": TaskSpec("xnli", "target", "pair_classification", (STAGES["xnli_en"],), nli, NLI_LABELS,
                         note="trains on MNLI, selects on XNLI English dev"),
        "pawsx": TaskSpec("pawsx", "target", "pair_classification", (STAGES["pawsx_en"],), paws,
                          STAGES["pawsx_en"].labels, note="trains on PAWS English"),
        "xcopa": TaskSpec("xcopa", "target", "multiple_choice", (STAGES["siqa"], STAGES["copa"]),
                          {lang: one_split(XCOPA, lang, "test", "mc_copa") for lang in langs("xcopa")},
                          note="XTREME-R: SIQA, then COPA; selects on COPA English dev"),
        "udpos": TaskSpec("udpos", "target", "tagging", (STAGES["udpos_en"],),
                          {lang: _udpos_test(lang) for lang in langs("udpos")}, POS_LABELS, tag_metrics,
                          note="label on the first sub-token; long sentences in windows; --udpos-path: XTREME's "
                               "conversion of raw UD treebanks",
                          without_local={"udpos_path": UDPOS_HUB_NOTE}),
        "panx": TaskSpec("panx", "target", "tagging", (STAGES["panx_en"],),
                         {lang: _panx_test(lang) for lang in langs("panx")}, NER_LABELS, tag_metrics,
                         note="label on the first sub-token; long sentences in windows"),
    }


def intermediates() -> dict[str, TaskSpec]:
    out = {}
    for name in ("mnli", "qqp", "sst2", "anli", "commonsenseqa", "cosmosqa", "hellaswag", "ccg"):
        st = STAGES[name]
        note = {"ccg": "CCGbank is licensed: --ccg-path",
                "anli": "ANLI+ (X-STILTs): ANLI R1-R3 + MNLI + SNLI, one NLI head; selects on ANLI dev"}.get(name, "")
        out[name] = TaskSpec(name, "intermediate", st.kind, (st,), labels=st.labels, note=note)
    return out

