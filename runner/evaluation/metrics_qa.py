"""Extractive-QA metrics: exact match and token F1, as the official scripts compute them.

XQuAD and TyDiQA-GoldP are scored with the SQuAD v1.1 script and MLQA with the MLQA script: XTREME's
``install_tools.sh`` downloads ``allenai/bi-att-flow squad/evaluate-v1.1.py`` as
``third_party/evaluate_squad.py`` and ``facebookresearch/MLQA mlqa_evaluation_v1.py`` as
``third_party/evaluate_mlqa.py``, and ``evaluate.py`` calls their ``evaluate`` functions.

Behaviour both scripts share, mirrored here on purpose:

* A question whose id is missing from the predictions counts in the denominator with score 0;
  predictions for ids that are not in the references are ignored.
* EM and F1 are each maximised over the gold answers independently (they may come from different
  golds).
* F1 is 0 whenever no token is shared, so a prediction and a gold that both normalise to the empty
  string get EM 1 but F1 0.
* The SQuAD script splits on whitespace only, so for Chinese, Japanese or Thai (XQuAD zh and th) a
  whole unsegmented answer is one token: F1 there is close to EM. Only MLQA segments Chinese into
  characters.

All values are points (0-100), as Python floats.
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections import Counter
from collections.abc import Callable, Mapping, Sequence

__all__ = [
    "MLQA_LANGUAGES",
    "mlqa_em_f1",
    "mlqa_normalize",
    "squad_em_f1",
    "squad_normalize",
]

# --- SQuAD v1.1 -------------------------------------------------------------------------------------

_SQUAD_PUNCTUATION = frozenset(string.punctuation)  # ASCII only: "«", "，" and "。" survive
_ENGLISH_ARTICLES = re.compile(r"\b(a|an|the)\b")


def squad_normalize(text: str) -> str:
    """Normalises an answer as SQuAD v1.1 ``normalize_answer`` does.

    Lower-case, drop ASCII punctuation, replace the articles a/an/the by a space, collapse whitespace.

    Args:
        text: A predicted or gold answer.

    Returns:
        The normalised answer; its tokens are ``result.split()``.

    Example:
        >>> squad_normalize("The  Denver Broncos!")
        'denver broncos'
    """
    text = "".join(ch for ch in text.lower() if ch not in _SQUAD_PUNCTUATION)
    return " ".join(_ENGLISH_ARTICLES.sub(" ", text).split())


# --- MLQA -------------------------------------------------------------------------------------------

# Articles that mlqa_evaluation_v1.py removes per answer language; hi and zh have none.
_MLQA_ARTICLES: dict[str, re.Pattern[str] | None] = {
    "en": re.compile(r"\b(a|an|the)\b"),
    "es": re.compile(r"\b(un|una|unos|unas|el|la|los|las)\b"),
    "hi": None,
    "vi": re.compile(r"\b(của|là|cái|chiếc|những)\b"),
    "de": re.compile(r"\b(ein|eine|einen|einem|eines|einer|der|die|das|den|dem|des)\b"),
    # Verbatim from the script. "\sال^" can never match ("^" after characters), so in effect every
    # occurrence of "ال" is replaced by a space, also inside words ("مال" -> "م ").
    "ar": re.compile(r"\sال^|ال"),
    "zh": None,
}
MLQA_LANGUAGES: tuple[str, ...] = tuple(_MLQA_ARTICLES)
_WHITESPACE_LANGUAGES = frozenset({"en", "es", "hi", "vi", "de", "ar"})
_CJK_CHARACTER = re.compile(r"[\u4e00-\u9fa5]")  # the script's range, not all of CJK


def _is_mlqa_punctuation(ch: str) -> bool:
    """Says whether ``ch`` is in the MLQA script's ``PUNCT`` set.

    The script builds ``{chr(i) for i in range(sys.maxunicode) if category startswith 'P'}`` united
    with ``string.punctuation``; the one code point its range leaves out (U+10FFFF) is unassigned,
    so this per-character test is equal to set membership without the 1.1M-character start-up cost.
    """
    return ch in _SQUAD_PUNCTUATION or unicodedata.category(ch).startswith("P")


def _mixed_segmentation(text: str) -> list[str]:
    """Splits Chinese text as the MLQA script does: one token per CJK character or punctuation mark,
    whitespace tokens for everything in between (Latin words, digits)."""
    tokens: list[str] = []
    pending = ""
    for ch in text:
        if _CJK_CHARACTER.search(ch) or _is_mlqa_punctuation(ch):
            tokens.extend(pending.split())
            pending = ""
            tokens.append(ch)
        else:
            pending += ch
    tokens.extend(pending.split())
    return tokens


def mlqa_normalize(text: str, lang: str) -> str:
    """Normalises an answer as ``mlqa_evaluation_v1.py`` ``normalize_answer(s, lang)`` does.

    Lower-case, drop every Unicode punctuation character (category P*) and ASCII punctuation, remove
    the language's articles, then re-join tokens with single spaces: whitespace tokens for en, es,
    hi, vi, de, ar; for zh one token per CJK character (so F1 is character-level).

    Args:
        text: A predicted or gold answer.
        lang: The answer (context) language, one of ``MLQA_LANGUAGES``.

    Returns:
        The normalised answer; its tokens are ``result.split()``.

    Raises:
        ValueError: ``lang`` is not an MLQA language (the script raises too).

    Example:
        >>> mlqa_normalize("Der «Hund»", "de")
        'hund'
        >>> mlqa_normalize("北京大学", "zh")
        '北 京 大 学'
    """
    if lang not in _MLQA_ARTICLES:
        raise ValueError(f"MLQA has no normalisation for language {lang!r}; known: {MLQA_LANGUAGES}")
    text = "".join(ch for ch in text.lower() if not _is_mlqa_punctuation(ch))
    articles = _MLQA_ARTICLES[lang]
    if articles is not None:
        text = articles.sub(" ", text)
    tokens = text.split() if lang in _WHITESPACE_LANGUAGES else _mixed_segmentation(text)
    return " ".join(t for t in tokens if t.strip() != "")


# --- shared scoring ---------------------------------------------------------------------------------


def _token_f1(prediction_tokens: list[str], gold_tokens: list[str]) -> float:
    """Bag-of-tokens F1 in [0, 1] as both scripts' ``f1_score``: 0 when nothing is shared."""
    num_same = sum((Counter(prediction_tokens) & Counter(gold_tokens)).values())
    if num_same == 0:
        return 0.0
    precision = num_same / len(prediction_tokens)
    recall = num_same / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def _em_f1(
    predictions: Mapping[str, str],
    references: Mapping[str, Sequence[str]],
    normalize: Callable[[str], str],
) -> dict[str, float]:
    """The scripts' ``evaluate`` loop: mean over references of the max over golds, in points."""
    if not references:
        raise ValueError("references is empty: there is no question to score")
    exact_match = f1 = 0.0
    for qid, golds in references.items():
        if isinstance(golds, str) or not golds:
            raise ValueError(f"references[{qid!r}] must be a non-empty list of answers, got {golds!r}")
        if qid not in predictions:  # unanswered: counted with score 0, as in the scripts
            continue
        prediction = normalize(predictions[qid])
        normalized_golds = [normalize(g) for g in golds]
        exact_match += max(float(prediction == g) for g in normalized_golds)
        f1 += max(_token_f1(prediction.split(), g.split()) for g in normalized_golds)
    return {"em": 100.0 * exact_match / len(references), "f1": 100.0 * f1 / len(references)}


def squad_em_f1(
    predictions: Mapping[str, str], references: Mapping[str, Sequence[str]]
) -> dict[str, float]:
    """SQuAD v1.1 exact match and F1 (XQuAD, TyDiQA-GoldP), as ``evaluate-v1.1.py``.

    Args:
        predictions: Question id -> predicted answer text.
        references: Question id -> the gold answer texts (at least one).

    Returns:
        ``{"em": ..., "f1": ...}`` in points, averaged over ``references``. (The script names the
        first key ``exact_match``.)

    Raises:
        ValueError: ``references`` is empty, or a question has no gold answer.

    Example:
        >>> squad_em_f1({"q1": "the Broncos"}, {"q1": ["Denver Broncos", "Broncos"]})
        {'em': 100.0, 'f1': 100.0}
    """
    return _em_f1(predictions, references, squad_normalize)


def mlqa_em_f1(
    predictions: Mapping[str, str], references: Mapping[str, Sequence[str]], lang: str
) -> dict[str, float]:
    """MLQA exact match and F1 with the answer language's normalisation, as ``mlqa_evaluation_v1.py``.

    Args:
        predictions: Question id -> predicted answer text.
        references: Question id -> the gold answer texts (at least one).
        lang: The answer (context) language, one of ``MLQA_LANGUAGES``; XTREME passes the test
            file's language (``test-{lang}.json``).

    Returns:
        ``{"em": ..., "f1": ...}`` in points, averaged over ``references``.

    Raises:
        ValueError: unknown ``lang``, empty ``references``, or a question without gold answers.

    Example:
        >>> mlqa_em_f1({"q1": "北京大学"}, {"q1": ["北京"]}, "zh")["f1"]
        66.66666666666666
    """
    if lang not in _MLQA_ARTICLES:
        raise ValueError(f"MLQA has no normalisation for language {lang!r}; known: {MLQA_LANGUAGES}")
    return _em_f1(predictions, references, lambda text: mlqa_normalize(text, lang))
