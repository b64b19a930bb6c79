"""Reading task data: Hub repos (pinned revisions) or local copies of the same repos, into examples.

A split is read with ``datasets`` from the Parquet files that its ``SplitRef`` names, either from
the Hub (``load_dataset(repo, data_files=..., revision=...)``) or from ``DATA_DIR/owner/name/``
holding a download of that repo at that revision (``hf download owner/name --repo-type dataset
--revision REV --local-dir DATA_DIR/owner/name``). Rows are then turned into one of three example
shapes by the adapter of their Hub schema:

* classification: ``{"text_a": str, "text_b": str | None, "label": int}``
* multiple choice: ``{"first": [str] * n, "second": [str] * n, "label": int}`` (one pair per choice)
* tagging: ``{"tokens": [str], "tags": [int]}``
* question answering and retrieval: see ``runner.data.adapters_qa`` (an adapter may return several
  examples for one row, e.g. every mention of a Mewsli-X news paragraph)

Example:
    >>> labelled_text({"premise": "A man.", "hypothesis": "A person.", "label": 0},
    ...                {"text_a": "premise", "text_b": "hypothesis", "label": "label"}, ())
    {'text_a': 'A man.', 'text_b': 'A person.', 'label': 0}
"""

from __future__ import annotations

import glob
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import datasets

from runner.data import adapters_qa, conllu
from runner.errors import RunnerError
from runner.tasks.records import BUCC_LOCAL, CCG_LOCAL, LAREQA_LOCAL, MEWSLIX_LOCAL, UD_LOCAL, Source, SplitRef, Stage

log = logging.getLogger(__name__)
Example = dict
#: UD tags that XTREME's 17-tag set lacks, mapped onto it (UD v2.7 marks untagged tokens "_").
TAG_ALIASES = {"_": "X"}


@dataclass(frozen=True)
class DataLocation:
    """Where data are read from: a local mirror folder (preferred when set) or the Hub.

    Attributes:
        data_dir: folder holding ``owner/name/`` copies of Hub dataset repos, or None for the Hub.
        ccg_path: folder holding CCGbank converted to ``train.jsonl`` / ``dev.jsonl``.
        cache_dir: ``datasets`` cache folder (None: the library default).
        mewslix_path: folder holding XTREME-R's Mewsli-X jsonl files.
        udpos_path: folder holding raw UD treebanks (``*/{lang}_*-ud-{split}.conllu``), read with
            XTREME's conversion instead of the Hub's udpos data (``runner.data.conllu``).
        bucc_path: folder holding the BUCC 2018 files as XTREME's download lays them out
            (``{lg}-en.{dev,test}.{lg,en,gold}``), read instead of the Hub's gold pairs.
        lareqa_path: folder holding LAReQA's ``xquad-r/{lang}.json`` (XQuAD-R with sentence breaks).
    """

    data_dir: Path | None = None
    ccg_path: Path | None = None
    cache_dir: Path | None = None
    mewslix_path: Path | None = None
    udpos_path: Path | None = None
    bucc_path: Path | None = None
    lareqa_path: Path | None = None

    def given(self) -> frozenset[str]:
        """The local-data fields that are set: which ``Source.local`` alternatives are read."""
        return frozenset(name for name in set(LOCAL_REPOS.values()) if getattr(self, name) is not None)


#: Data that are no Hub repo: the DataLocation field holding each one's folder.
LOCAL_REPOS = {CCG_LOCAL: "ccg_path", MEWSLIX_LOCAL: "mewslix_path", UD_LOCAL: "udpos_path", BUCC_LOCAL: "bucc_path",
               LAREQA_LOCAL: "lareqa_path"}
#: The flag that sets each DataLocation field, for messages.
LOCAL_FLAGS = {"ccg_path": "--ccg-path", "mewslix_path": "--mewslix-path", "udpos_path": "--udpos-path",
               "bucc_path": "--bucc-path", "lareqa_path": "--lareqa-path"}
MEWSLIX_FILES = ("candidate_set_entities.jsonl", "wikipedia_pairs-train.jsonl", "wikipedia_pairs-dev.jsonl",
                 "wikinews_mentions-dev.jsonl", "wikinews_mentions-test.jsonl")


# ------------------------------------------------------------------------------------- adapters
def _label_int(value, what: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError) as e:
        raise RunnerError(f"{what}: label {value!r} is not an integer") from e


def labelled_text(row: Mapping, cols: Mapping[str, str], names: Sequence[str]) -> Example | None:
    """Single sentence or sentence pair with an integer label (GLUE, XNLI, PAWS-X, ANLI).

    Rows labelled -1 (GLUE's unlabelled test sets) are dropped.
    """
    label = _label_int(row[cols["label"]], "classification")
    if label < 0:
        return None
    text_b = row[cols["text_b"]] if cols.get("text_b") else None
    return {"text_a": row[cols["text_a"]], "text_b": text_b, "label": label}


def mc_siqa(row: Mapping, cols: Mapping[str, str], names: Sequence[str]) -> Example | None:
    """Social IQa: ``context`` + ``question`` against ``answerA/B/C``; label is "1".."3"."""
    first = f"{row['context']} {row['question']}"
    answers = [row["answerA"], row["answerB"], row["answerC"]]
    return {"first": [first] * 3, "second": answers, "label": _label_int(row["label"], "siqa") - 1}


def mc_hellaswag(row: Mapping, cols: Mapping[str, str], names: Sequence[str]) -> Example | None:
    """HellaSwag: ``ctx_a`` against ``ctx_b`` + each ending; label is "0".."3" ("" on test)."""
    if row["label"] in ("", None):
        return None
    endings = list(row["endings"])
    second = [f"{row['ctx_b']} {e}".strip() for e in endings]
    return {"first": [row["ctx_a"]] * len(endings), "second": second, "label": _label_int(row["label"], "hellaswag")}


def mc_commonsenseqa(row: Mapping, cols: Mapping[str, str], names: Sequence[str]) -> Example | None:
    """CommonsenseQA: ``question`` against ``choices.text``; label is ``answerKey`` (a letter)."""
    if not row["answerKey"]:
        return None
    letters, texts = list(row["choices"]["label"]), list(row["choices"]["text"])
    return {"first": [row["question"]] * len(texts), "second": texts, "label": letters.index(row["answerKey"])}


def mc_cosmosqa(row: Mapping, cols: Mapping[str, str], names: Sequence[str]) -> Example | None:
    """Cosmos QA: ``context`` + ``question`` against ``answer0..3``; integer label."""
    first = f"{row['context']} {row['question']}"
    answers = [row[f"answer{i}"] for i in range(4)]
    return {"first": [first] * 4, "second": answers, "label": _label_int(row["label"], "cosmosqa")}


def mc_copa(row: Mapping, cols: Mapping[str, str], names: Sequence[str]) -> Example | None:
    """COPA and XCOPA (question is "cause" or "effect"), in the format ``cols["format"]`` names
    (``runner.tasks.records.FORMATS``): ``question`` (XTREME-R's ``run_xcopa.py``) pairs
    "{premise} What was the {question}?" with each choice; ``colon`` (the default, what runs made
    before recipes read) pairs the premise with "{question}: {choice}"."""
    label = _label_int(row["label"], "copa")
    if label < 0:
        return None
    choices = [row["choice1"], row["choice2"]]
    if cols.get("format", "colon") == "question":
        return {"first": [f"{row['premise']} What was the {row['question']}?"] * 2, "second": choices, "label": label}
    return {"first": [row["premise"]] * 2, "second": [f"{row['question']}: {c}" for c in choices], "label": label}


def ud_words(row: Mapping, cols: Mapping[str, str], names: Sequence[str]) -> Example | None:
    """``universal_dependencies`` rows: the syntactic words only. The builder writes every CoNLL-U
    line as a token, multiword ranges and empty nodes included; those two have no head (``"None"``)
    and are dropped, so the words line up with google/xtreme's udpos rows (not with XTREME's
    fused tokens: ``--udpos-path`` reads raw treebanks for that)."""
    keep = [i for i, head in enumerate(row["head"]) if str(head) != "None"]
    return {"tokens": [row["tokens"][i] for i in keep], "tags": [int(row[cols["tags"]][i]) for i in keep]}


def tagged_tokens(row: Mapping, cols: Mapping[str, str], names: Sequence[str]) -> Example | None:
    """Token tagging (google/xtreme udpos / PAN-X, WikiANN, UD): tags given as label indices.

    ``names`` are the row's own tag names (from the Parquet ClassLabel); they are mapped onto the
    task's label list by ``read_source``, so repos with another tag order still line up. A row
    with no tokens is kept (an empty sentence is scored, not dropped; training skips it).
    """
    return {"tokens": list(row["tokens"]), "tags": [int(t) for t in row[cols["tags"]]]}


def ccg(row: Mapping, cols: Mapping[str, str], names: Sequence[str]) -> Example | None:
    """CCGbank supertags: ``tokens``/``tags`` lists (JSON lines) or space-separated ``text``/``tags``
    strings (jiant's ``ccg.train`` TSV lines)."""
    tokens = row.get("tokens") or str(row.get("text", "")).split()
    tags = row.get("tags")
    tags = tags.split() if isinstance(tags, str) else list(tags or [])
    if not tokens or len(tokens) != len(tags):
        raise RunnerError(f"CCG line has {len(tokens)} tokens but {len(tags)} tags; give one tag per token")
    return {"tokens": tokens, "tags": tags}


ADAPTERS: dict[str, Callable[[Mapping, Mapping[str, str], Sequence[str]], Example | list[Example] | None]] = {
    "labelled_text": labelled_text,
    "mc_siqa": mc_siqa,
    "mc_hellaswag": mc_hellaswag,
    "mc_commonsenseqa": mc_commonsenseqa,
    "mc_cosmosqa": mc_cosmosqa,
    "mc_copa": mc_copa,
    "tagged_tokens": tagged_tokens,
    "ud_words": ud_words,
    "ccg": ccg,
}
ADAPTERS.update(adapters_qa.ADAPTERS)


# -------------------------------------------------------------------------------------- files
def local_files(ref: SplitRef, loc: DataLocation) -> list[str]:
    """The local files of one split (empty when the mirror lacks them).

    CCG: ``{split}.jsonl``, else jiant's TSV ``ccg.{split}`` (text TAB tags). UD: every
    ``{lang}_*-ud-{split}.conllu`` at any depth, in file-name order (as XTREME pools them).
    """
    if ref.repo in LOCAL_REPOS:
        root = getattr(loc, LOCAL_REPOS[ref.repo])
        if root is None:
            return []
        if ref.repo is UD_LOCAL:
            return [str(p) for p in conllu.treebank_files(root, ref.config, ref.split)]
        if ref.repo is BUCC_LOCAL:
            files = [root / name.format(lg=ref.config, split=ref.split) for name in adapters_qa.BUCC_FILES]
            return [str(p) for p in files] if all(p.is_file() for p in files) else []
        found = sorted(glob.glob(str(root / ref.pattern())))
        return found or (sorted(glob.glob(str(root / f"ccg.{ref.split}"))) if ref.repo is CCG_LOCAL else [])
    assert loc.data_dir is not None
    return sorted(glob.glob(str(loc.data_dir / ref.repo.repo / ref.pattern())))


def describe(ref: SplitRef) -> str:
    """``owner/name@revision:pattern``, for messages."""
    return f"{ref.repo.repo}@{ref.repo.revision}:{ref.pattern()}"


def check_available(sources: Sequence[tuple[str, Source]], loc: DataLocation) -> None:
    """Raises RunnerError for the first split whose files are missing locally (no network used).

    With no ``data_dir`` only CCG (always local) is checked; Hub splits are checked by loading.
    """
    for what, src in sources:
        for ref in src.refs:
            if ref.repo is CCG_LOCAL:
                if loc.ccg_path is None:
                    raise RunnerError("CCGbank is licensed (LDC2005T13) and not on the Hub: give --ccg-path DIR "
                                      "holding train.jsonl and dev.jsonl (one {\"tokens\": [...], \"tags\": [...]} per line) "
                                      "or jiant's ccg.train and ccg.dev")
                if not local_files(ref, loc):
                    raise RunnerError(f"missing CCG data: neither {ref.pattern()} nor ccg.{ref.split} in {loc.ccg_path} (--ccg-path)")
            elif ref.repo is MEWSLIX_LOCAL:
                if loc.mewslix_path is None:
                    raise RunnerError("Mewsli-X is built by a script and has no Hub copy: give --mewslix-path DIR holding "
                                      f"XTREME-R's {', '.join(MEWSLIX_FILES)} (xtreme scripts/download_data.sh)")
                if not local_files(ref, loc):
                    raise RunnerError(f"missing Mewsli-X data: no {ref.pattern()} in {loc.mewslix_path} (--mewslix-path)")
            elif ref.repo is BUCC_LOCAL:
                _check_bucc_files(ref, loc.bucc_path)
            elif ref.repo is LAREQA_LOCAL:
                if not local_files(ref, loc):
                    raise RunnerError(f"missing XQuAD-R data for {what}: no {ref.pattern()} in {loc.lareqa_path} "
                                      "(--lareqa-path: the google-research-datasets/lareqa repo, as XTREME-R's "
                                      "download lays it out)")
            elif ref.repo is UD_LOCAL:
                if not local_files(ref, loc):
                    raise RunnerError(
                        f"missing UD treebanks for {what}: no {ref.config}_*-ud-{ref.split}.conllu under {loc.udpos_path} "
                        "(--udpos-path: the folder of an extracted ud-treebanks-v2.x release, as XTREME downloads it)")
            elif loc.data_dir is not None and not local_files(ref, loc):
                raise RunnerError(
                    f"missing data for {what}: no files match {loc.data_dir / ref.repo.repo / ref.pattern()}; "
                    f"download the repo with `hf download {ref.repo.repo} --repo-type dataset "
                    f"--revision {ref.repo.revision} --local-dir {loc.data_dir / ref.repo.repo}`")


def _check_bucc_files(ref: SplitRef, root: Path) -> None:
    """The three files of one BUCC split, each named when missing."""
    for name in adapters_qa.BUCC_FILES:
        path = root / name.format(lg=ref.config, split=ref.split)
        if path.is_file():
            continue
        hint = ""
        if ref.split == "test" and name.endswith("gold"):
            hint = (f"; XTREME's download deletes the test gold: keep {ref.config}-en.training.gold from "
                    f"bucc2018-{ref.config}-en.training-gold.tar.bz2 as {path.name}")
        raise RunnerError(f"missing BUCC file {path} (--bucc-path: the BUCC 2018 files as XTREME's "
                          f"scripts/download_data.sh lays them out, sample -> dev, training -> test){hint}")


def _load_split(ref: SplitRef, loc: DataLocation):
    """One split as a ``datasets.Dataset`` (Parquet from the mirror or the Hub)."""
    datasets.disable_progress_bars()
    cache = str(loc.cache_dir) if loc.cache_dir else None
    try:
        if loc.data_dir is not None:
            files = local_files(ref, loc)
            if not files:
                raise RunnerError(f"missing data: no files match {loc.data_dir / ref.repo.repo / ref.pattern()}")
            return datasets.load_dataset("parquet", data_files={"split": files}, split="split", cache_dir=cache)
        return datasets.load_dataset(ref.repo.repo, data_files={"split": ref.pattern()}, split="split",
                                     revision=ref.repo.revision, cache_dir=cache)
    except RunnerError:
        raise
    except Exception as e:  # datasets raises many types (offline, 404, schema): one line, then stop
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        hint = " (set --data-dir to a local copy when offline)" if loc.data_dir is None else ""
        raise RunnerError(f"cannot load {describe(ref)}: {first[:200]}{hint}") from e


def _tag_names(ds, column: str) -> list[str] | None:
    feature = ds.features.get(column)
    inner = getattr(feature, "feature", None)
    return list(inner.names) if hasattr(inner, "names") else None


def squad_json_rows(data: Mapping) -> list[dict]:
    """A SQuAD-format JSON document as rows in the Hub's SQuAD columns, one per question, in file
    order; each row also carries its paragraph's other fields (LAReQA's ``sentence_breaks``)."""
    rows = []
    for article in data["data"]:
        for paragraph in article["paragraphs"]:
            extra = {k: v for k, v in paragraph.items() if k not in ("context", "qas")}
            for qa in paragraph["qas"]:
                answers = qa.get("answers") or []
                rows.append({**extra, "id": str(qa["id"]), "question": qa["question"], "context": paragraph["context"],
                             "answers": {"text": [a["text"] for a in answers],
                                         "answer_start": [int(a["answer_start"]) for a in answers]}})
    return rows


def _read_jsonl(path: str) -> list[dict]:
    """JSON lines; a SQuAD-format ``.json`` document (``squad_json_rows``); else jiant's CCG TSV
    (``text<TAB>tags``)."""
    if path.endswith(".json"):
        with open(path, encoding="utf-8") as f:
            return squad_json_rows(json.load(f))
    with open(path, encoding="utf-8") as f:
        lines = [line.rstrip("\n") for line in f if line.strip()]
    if path.endswith(".jsonl"):
        return [json.loads(line) for line in lines]
    return [dict(zip(("text", "tags"), line.split("\t"), strict=True)) for line in lines]


def read_source(src: Source, labels: Sequence[str], loc: DataLocation, limit: int | None = None) -> list[Example]:
    """All examples of a source, labels as indices into ``labels`` (tagging: mapped by name).

    Args:
        src: the split(s) and their adapter.
        labels: the task's label list (tagging sources are remapped onto it by tag name).
        loc: where data are read from.
        limit: keep only the first ``limit`` examples (a debugging and test aid, recorded in hparams).
    """
    adapter = ADAPTERS[src.adapter]
    out: list[Example] = []
    for ref in src.refs:
        if ref.repo is BUCC_LOCAL:
            _check_bucc_files(ref, loc.bucc_path)
            try:
                rows, names = adapters_qa.read_bucc_files(loc.bucc_path, ref.config, ref.split, limit), None
            except ValueError as e:
                raise RunnerError(f"{e} (--bucc-path)") from e
            limit = None  # the cap is per side (read_bucc_files): mining needs both
        elif ref.repo is UD_LOCAL:
            sentences = conllu.read_split([Path(p) for p in local_files(ref, loc)], ref.config)
            if not sentences:
                raise RunnerError(f"no UD-POS sentences for {ref.config} ({ref.split}) in {loc.udpos_path}: XTREME's "
                                  "conversion stops on every file of the language (see the warnings), so XTREME's "
                                  "data have none either")
            names = sorted({t for s in sentences for t in s["tags"]})
            index = {t: i for i, t in enumerate(names)}
            rows = [{"tokens": s["tokens"], "tags": [index[t] for t in s["tags"]]} for s in sentences]
        elif ref.repo in LOCAL_REPOS:
            rows, names = [r for p in local_files(ref, loc) for r in _read_jsonl(p)], None
        else:
            ds = _load_split(ref, loc)
            names = _tag_names(ds, src.columns["tags"]) if "tags" in src.columns else None
            rows = ds.to_list()
        remap = _tag_remap(names, labels, ref) if names is not None else None
        for row in rows:
            got = adapter(row, src.columns, names or ())
            for ex in got if isinstance(got, list) else [got] if got is not None else []:
                if remap is not None:
                    ex["tags"] = [remap[t] for t in ex["tags"]]
                out.append(ex)
                if limit is not None and len(out) >= limit:
                    return out
    return out


def _tag_remap(names: Sequence[str], labels: Sequence[str], ref: SplitRef) -> list[int]:
    index = {name: i for i, name in enumerate(labels)}
    remap = []
    for name in names:
        name = TAG_ALIASES.get(name, name)
        if name not in index:
            raise RunnerError(f"{describe(ref)}: tag {name!r} is not one of the task's labels {', '.join(labels)}")
        remap.append(index[name])
    return remap


def stage_labels(stage: Stage, loc: DataLocation) -> tuple[str, ...]:
    """The stage's label list; for CCG, jiant's ``tags_to_id.json`` order if present, else the
    supertags seen in the train and dev files (sorted)."""
    if stage.labels or stage.train.adapter != "ccg":
        return stage.labels
    if loc.ccg_path is not None and (loc.ccg_path / "tags_to_id.json").exists():
        ids = json.loads((loc.ccg_path / "tags_to_id.json").read_text())
        return tuple(sorted(ids, key=lambda t: int(ids[t])))
    tags: set[str] = set()
    for src in (stage.train, stage.dev):
        for ref in src.refs:
            for p in local_files(ref, loc):
                tags.update(t for row in _read_jsonl(p) for t in ccg(row, {}, ())["tags"])
    return tuple(sorted(tags))


def read_stage(stage: Stage, loc: DataLocation, limit_train: int | None = None,
               limit_dev: int | None = None) -> tuple[list[Example], list[Example], tuple[str, ...]]:
    """(train examples, dev examples, labels) of one English training stage."""
    labels = stage_labels(stage, loc)
    train = read_source(stage.train, labels, loc, limit_train)
    dev = read_source(stage.dev, labels, loc, limit_dev)
    if stage.train.adapter == "ccg":
        index = {t: i for i, t in enumerate(labels)}
        for ex in train + dev:
            unknown = [t for t in ex["tags"] if t not in index]
            if unknown:
                raise RunnerError(f"CCG tag {unknown[0]!r} is not in tags_to_id.json; give the complete tag map")
            ex["tags"] = [index[t] for t in ex["tags"]]
    if not train or not dev:
        raise RunnerError(f"{stage.name}: no {'training' if not train else 'dev'} examples were read")
    return train, dev, labels
