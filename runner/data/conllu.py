"""UD-POS from raw CoNLL-U, as XTREME's download makes it (``--udpos-path``).

XTREME's ``scripts/download_data.sh`` (``download_udpos``) converts every treebank file with
``third_party/ud-conversion-tools/conllu_to_conll.py FILE OUT --lang LANG
--replace_subtokens_with_fused_forms --print_fused_forms``, then ``utils_preprocess.py --task udpos``
pools the files of each language. What that does to the tokens and tags, and what this module does:

* **Multiword tokens** (``3-4 del``): the syntactic words of the range are replaced by ONE token
  with the fused surface form, tagged with the UPOS of the part highest in the dependency graph
  (fewest ancestors, counting the basic head and every integer head of the enhanced ``DEPS``
  column, as ``lib/conll.py`` builds its graph). Parts tied for highest are ranked by a
  part-of-speech precedence list (``conllu_to_conll.py``): language-specific for es, fr and it,
  a default list for every other language; the first best-ranked part in the range wins.
* **Empty nodes** (``8.1``) are dropped; comments are skipped.
* **Filtering** (``utils_preprocess.py`` ``udpos_preprocess``): a sentence is dropped when at
  least ``n - 1`` of its ``n`` forms are ``_`` (and at least one is); forms are stripped, U+200C
  is removed and spaces inside a form are deleted.
* **Pooling**: every ``{lang}_{treebank}-ud-{split}.conllu`` of the language, in file-name order.
* **Files the conversion stops on** are left out, as XTREME's data lack them: the converter raises
  (and writes no output file) on a line without 10 columns, a word whose head is not a number, an
  empty sentence (two blank lines), or a tie between parts whose UPOS is not on the precedence
  list (``list.index`` fails: e.g. a tied ``NOUN`` in Spanish, a tied ``SYM`` anywhere). A
  warning names the file and the sentence.

Not reproduced: the converter's graph surgery after the heads are chosen (re-attaching
dependents, removing cycles) can also stop it on unusual graphs; it does not change tokens or
tags otherwise.

The Hub's ``google/xtreme`` ``udpos.*`` configs were built by the Hugging Face script from raw UD
v2.5 CoNLL-U without this conversion: they keep the syntactic words (rows whose form and UPOS are
not ``_``) instead of the fused tokens, keep empty nodes that carry a form and a tag, apply none
of the filtering, and pool the folders matching ``*_{Language}*`` (``udpos.Greek``'s 28,152 / 2,559 /
2,809 rows are exactly Greek-GDT + Ancient Greek PROIEL + Perseus; ``udpos.German`` has 22,458 test
rows against XTREME's 20,436). Hence ``--udpos-path``.

Example:
    >>> lines = ["# text = del mar", "1-2\\tdel\\t_\\t_\\t_\\t_\\t_\\t_\\t_\\t_",
    ...          "1\\tde\\tde\\tADP\\t_\\t_\\t3\\tcase\\t_\\t_", "2\\tel\\tel\\tDET\\t_\\t_\\t3\\tdet\\t_\\t_",
    ...          "3\\tmar\\tmar\\tNOUN\\t_\\t_\\t0\\troot\\t_\\t_", ""]
    >>> [convert(s, "es") for s in parse_conllu(lines)]
    [(['del', 'mar'], ['ADP', 'NOUN'])]
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

#: ``conllu_to_conll.py``: POSRANKPRECEDENCEDICT (the default list ends with an empty entry, from
#: splitting a string with a trailing space; it matches no tag).
PRECEDENCE: dict[str, tuple[str, ...]] = {
    "default": ("VERB", "NOUN", "PROPN", "PRON", "ADJ", "NUM", "ADV", "INTJ", "AUX", "ADP", "DET", "PART", "CCONJ",
                "SCONJ", "X", "PUNCT", ""),
    "es": ("VERB", "AUX", "PRON", "ADP", "DET"),
    "fr": ("VERB", "AUX", "PRON", "NOUN", "ADJ", "ADV", "ADP", "DET", "PART", "SCONJ", "CONJ"),
    "it": ("VERB", "AUX", "ADV", "PRON", "ADP", "DET", "INTJ"),
}


class ConversionStops(ValueError):
    """XTREME's converter would raise on this file (so its data lack the file)."""


@dataclass
class Sentence:
    """One CoNLL-U sentence: words by id, multiword ranges, and every (head, dependent) edge."""

    line: int  # 1-based line of the sentence's first row, for messages
    words: dict[int, tuple[str, str]] = field(default_factory=dict)  # id -> (form, upos)
    ranges: dict[int, tuple[int, str]] = field(default_factory=dict)  # first id -> (last id, fused form)
    parents: dict[int, set[int]] = field(default_factory=dict)  # dependent -> heads (basic + enhanced)


def _head_ids(deps: str) -> list[int]:
    """Integer heads of an enhanced DEPS value (``lib/conll.py`` ``parse_deps``: digits only)."""
    if deps == "_":
        return []
    return [int(h) for h, *_ in (pair.split(":") for pair in deps.split("|")) if h.isdigit()]


def parse_conllu(lines: Iterable[str]) -> list[Sentence]:
    """Sentences of a CoNLL-U file; a sentence ends at a blank line (one without one is lost, as
    in ``read_conll_u``). Raises ConversionStops where the converter raises."""
    out: list[Sentence] = []
    sent: Sentence | None = None
    for number, raw in enumerate(lines, start=1):
        line = raw.rstrip("\n")
        if not line:
            if sent is None or not sent.words:
                raise ConversionStops(f"line {number}: a sentence without words (the converter's writer fails on it)")
            out.append(sent)
            sent = None
            continue
        if sent is None:
            sent = Sentence(number)
        if line.startswith("#"):
            continue
        cols = line.split("\t")
        if len(cols) != 10:
            raise ConversionStops(f"line {number}: {len(cols)} columns, not 10")
        ident, form, _, upos, _, _, head, _, deps, _ = cols
        if "." in ident or ident == "_":
            continue  # empty node: no word
        if "-" in ident:
            first, last = (int(x) for x in ident.split("-"))
            sent.ranges[first] = (last, form)
            continue
        if not head.isdigit():
            raise ConversionStops(f"line {number}: head {head!r} is not a word id")
        word = int(ident)
        sent.words[word] = (form, upos)
        sent.parents.setdefault(word, set()).add(int(head))
        sent.parents[word].update(_head_ids(deps))
    return out


def _ancestors(sent: Sentence, node: int) -> int:
    """How many nodes reach ``node`` along head -> dependent edges (``networkx.ancestors``)."""
    seen: set[int] = set()
    todo = list(sent.parents.get(node, ()))
    while todo:
        n = todo.pop()
        if n not in seen:
            seen.add(n)
            todo.extend(sent.parents.get(n, ()))
    seen.discard(node)  # a node on a cycle reaches itself; networkx does not count it
    return len(seen)


def span_head(sent: Sentence, first: int, last: int, precedence: Sequence[str]) -> int:
    """The part of a multiword token that carries its tag: the single highest part, else the
    first of the highest parts with the best-ranked UPOS."""
    span = [i for i in range(first, last + 1)]
    depth = [_ancestors(sent, i) for i in span]
    top = min(depth)
    tied = [i for i, d in zip(span, depth) if d == top]
    if len(tied) == 1:
        return tied[0]
    ranks = []
    for i in tied:
        upos = sent.words[i][1]
        if upos not in precedence:
            raise ConversionStops(f"line {sent.line}: parts {first}-{last} tie and {upos!r} is not on the "
                                  f"precedence list")
        ranks.append(precedence.index(upos))
    return tied[ranks.index(min(ranks))]


def convert(sent: Sentence, lang: str) -> tuple[list[str], list[str]]:
    """(forms, UPOS tags) of one sentence after ``--replace_subtokens_with_fused_forms``."""
    precedence = PRECEDENCE.get(lang, PRECEDENCE["default"])
    fused: dict[int, str] = {}
    dropped: set[int] = set()
    for first in sorted(sent.ranges):
        last, form = sent.ranges[first]
        if any(i not in sent.words for i in range(first, last + 1)):
            raise ConversionStops(f"line {sent.line}: range {first}-{last} names a word that does not exist")
        head = span_head(sent, first, last, precedence)
        fused[head] = form
        dropped.update(i for i in range(first, last + 1) if i != head)
    words = [i for i in sorted(sent.words) if i not in dropped]
    return [fused.get(i, sent.words[i][0]) for i in words], [sent.words[i][1] for i in words]


def keep(forms: Sequence[str]) -> bool:
    """``udpos_preprocess``: drop a sentence when n-1 or more of its n forms are ``_`` (and one is)."""
    empty = sum(f == "_" for f in forms)
    return empty == 0 or empty < len(forms) - 1


def clean(form: str) -> str:
    """``udpos_preprocess``: the form stripped, without U+200C and without spaces."""
    return "".join(form.strip().replace("\u200c", "").split(" "))


def read_file(path: Path, lang: str) -> list[dict]:
    """``{"tokens", "tags"}`` (tag names) of one treebank file; raises ConversionStops."""
    with open(path, encoding="utf-8") as f:
        sentences = parse_conllu(f)
    out = []
    for sent in sentences:
        forms, tags = convert(sent, lang)
        forms = [f.strip() for f in forms]
        if keep(forms):
            out.append({"tokens": [clean(f) for f in forms], "tags": [t.strip() for t in tags]})
    return out


def treebank_files(root: Path, lang: str, split: str) -> list[Path]:
    """Every ``{lang}_*-ud-{split}.conllu`` under ``root`` (any depth), in file-name order."""
    found = [p for p in root.rglob(f"{lang}_*-ud-{split}.conllu") if p.name.split("_")[0] == lang]
    return sorted(found, key=lambda p: (p.name, str(p)))


def read_split(files: Sequence[Path], lang: str) -> list[dict]:
    """The pooled sentences of one language's split; a file the converter stops on is left out."""
    out: list[dict] = []
    for path in files:
        try:
            out += read_file(Path(path), lang)
        except ConversionStops as e:
            log.warning("%s: XTREME's conversion stops here (%s); left out, as XTREME's data lack it", path, e)
    return out
