"""SQuAD v1.1 and MLQA exact match / F1 (runner/metrics_qa.py).

Expected values are worked out by hand from evaluate-v1.1.py and mlqa_evaluation_v1.py.
"""

import pytest

from runner.evaluation.metrics_qa import MLQA_LANGUAGES, mlqa_em_f1, mlqa_normalize, squad_em_f1, squad_normalize

# --- normalisation ----------------------------------------------------------------------------------

SQUAD_NORMALIZE_CASES = [
    # id, text, expected
    ("articles-punct-case", "The  Denver Broncos!", "denver broncos"),
    ("article-inside-word-kept", "Theater an", "theater"),
    ("ascii-punct-only", "«Paris», l'été.", "«paris» lété"),
    ("empty", "", ""),
    ("only-article", "the", ""),
    ("chinese-unsegmented", "北京大学。", "北京大学。"),
]


@pytest.mark.parametrize("text, expected", [c[1:] for c in SQUAD_NORMALIZE_CASES],
                         ids=[c[0] for c in SQUAD_NORMALIZE_CASES])
def test_squad_normalize(text, expected):
    assert squad_normalize(text) == expected


MLQA_NORMALIZE_CASES = [
    # id, lang, text, expected
    ("en-unicode-punct", "en", "«The Paris»—", "paris"),
    ("en-symbols-kept", "en", "5 €", "5 €"),  # € is a symbol (Sc), not punctuation
    ("de-articles", "de", "Der Hund des Nachbarn", "hund nachbarn"),
    ("de-english-article-kept", "de", "the Hund", "the hund"),
    ("es-articles", "es", "Los Ángeles y la casa", "ángeles y casa"),
    ("vi-articles", "vi", "Những cái bàn của tôi", "bàn tôi"),
    ("ar-prefix-removed", "ar", "الكتاب", "كتاب"),
    ("ar-removed-inside-word", "ar", "مال", "م"),
    ("hi-no-articles", "hi", "the भारत।", "the भारत"),  # । (danda) is punctuation
    ("zh-characters", "zh", "北京大学", "北 京 大 学"),
    ("zh-mixed-latin", "zh", "在2008年Beijing Games举办", "在 2008 年 beijing games 举 办"),
    ("zh-punct-removed", "zh", "北京，中国。", "北 京 中 国"),
    ("zh-outside-script-range", "zh", "鿿𠀀", "鿿𠀀"),  # the script's range is U+4E00-U+9FA5
]


@pytest.mark.parametrize("lang, text, expected", [c[1:] for c in MLQA_NORMALIZE_CASES],
                         ids=[c[0] for c in MLQA_NORMALIZE_CASES])
def test_mlqa_normalize(lang, text, expected):
    assert mlqa_normalize(text, lang) == expected


# --- per-question scores ----------------------------------------------------------------------------

SQUAD_CASES = [
    # id, prediction, golds, (em, f1)
    ("exact", "Denver Broncos", ["Denver Broncos"], (100.0, 100.0)),
    ("normalised-exact", "the Denver broncos.", ["Denver Broncos"], (100.0, 100.0)),
    ("partial", "Denver", ["Denver Broncos"], (0.0, 200 / 3)),
    ("extra-token", "the Denver Broncos win", ["Denver Broncos"], (0.0, 80.0)),
    # Max over golds: 0.8 against "Denver Broncos" beats 0.5 against "Broncos".
    ("multi-gold-best-f1", "Denver Broncos win", ["Broncos", "Denver Broncos"], (0.0, 80.0)),
    # EM and F1 are maximised separately: EM from gold 2, F1 also from gold 2.
    ("multi-gold-em", "Broncos", ["Denver Broncos", "Broncos"], (100.0, 100.0)),
    ("repeated-tokens", "x x x y", ["y x"], (0.0, 200 / 3)),  # bag overlap 2: P 2/4, R 2/2
    ("empty-prediction", "", ["Denver Broncos"], (0.0, 0.0)),
    # Both sides normalise to "": EM counts, F1 does not (no shared token).
    ("empty-vs-empty", "", [""], (100.0, 0.0)),
    ("article-vs-article", "the", ["a"], (100.0, 0.0)),
    # Unsegmented Chinese: the whole answer is one token, so no partial credit.
    ("chinese-whole-token", "北京大学", ["北京"], (0.0, 0.0)),
    ("unicode-punct-not-removed", "«Paris»", ["Paris"], (0.0, 0.0)),
]


@pytest.mark.parametrize("prediction, golds, expected", [c[1:] for c in SQUAD_CASES],
                         ids=[c[0] for c in SQUAD_CASES])
def test_squad_em_f1_one_question(prediction, golds, expected):
    result = squad_em_f1({"q": prediction}, {"q": golds})
    assert list(result) == ["em", "f1"]
    assert all(type(v) is float for v in result.values())
    assert (result["em"], result["f1"]) == pytest.approx(expected, rel=1e-12)


MLQA_CASES = [
    # id, lang, prediction, golds, (em, f1)
    ("zh-char-f1", "zh", "北京大学", ["北京"], (0.0, 200 / 3)),  # P 2/4, R 2/2
    ("zh-punct", "zh", "北京。", ["北京"], (100.0, 100.0)),
    ("zh-multi-gold", "zh", "中国北京", ["北京", "中国"], (0.0, 200 / 3)),
    ("de-article", "de", "der Hund", ["Hund"], (100.0, 100.0)),
    ("de-partial", "de", "einem großen Hund", ["Hund"], (0.0, 200 / 3)),
    ("es-article", "es", "las montañas", ["montañas"], (100.0, 100.0)),
    ("es-english-article-kept", "es", "the montañas", ["montañas"], (0.0, 200 / 3)),
    ("ar-al", "ar", "الكتاب", ["كتاب"], (100.0, 100.0)),
    ("vi-article", "vi", "những con mèo", ["con mèo"], (100.0, 100.0)),
    ("hi-no-article-removal", "hi", "the भारत", ["भारत"], (0.0, 200 / 3)),
    ("en-unicode-punct", "en", "«Paris»", ["Paris"], (100.0, 100.0)),
    ("en-empty-prediction", "en", "", ["Paris"], (0.0, 0.0)),
    ("zh-empty-vs-punct", "zh", "", ["。"], (100.0, 0.0)),
]


@pytest.mark.parametrize("lang, prediction, golds, expected", [c[1:] for c in MLQA_CASES],
                         ids=[c[0] for c in MLQA_CASES])
def test_mlqa_em_f1_one_question(lang, prediction, golds, expected):
    result = mlqa_em_f1({"q": prediction}, {"q": golds}, lang)
    assert (result["em"], result["f1"]) == pytest.approx(expected, rel=1e-12)


# --- whole sets: averaging, missing and extra predictions -------------------------------------------

REFERENCES = {"q1": ["Denver Broncos"], "q2": ["Paris", "the city of Paris"], "q3": ["1990"], "q4": ["x y"]}
SET_CASES = [
    # id, predictions, (em, f1): mean over the four references
    ("all-answered", {"q1": "Denver Broncos", "q2": "city of Paris", "q3": "1991", "q4": "x"},
     ((100 + 100 + 0 + 0) / 4, (100 + 100 + 0 + 200 / 3) / 4)),
    # Missing q3 and q4 count as 0 in the denominator; an id without reference is ignored.
    ("missing-and-extra", {"q1": "Denver Broncos", "q2": "Paris", "q9": "Denver Broncos"}, (50.0, 50.0)),
    ("nothing-answered", {}, (0.0, 0.0)),
]


@pytest.mark.parametrize("predictions, expected", [c[1:] for c in SET_CASES], ids=[c[0] for c in SET_CASES])
def test_em_f1_over_a_set(predictions, expected):
    for result in (squad_em_f1(predictions, REFERENCES), mlqa_em_f1(predictions, REFERENCES, "en")):
        assert (result["em"], result["f1"]) == pytest.approx(expected, rel=1e-12)


QA_ERRORS = [
    # id, call, message fragment
    ("squad-no-references", lambda: squad_em_f1({"q": "a"}, {}), "references is empty"),
    ("mlqa-no-references", lambda: mlqa_em_f1({}, {}, "de"), "references is empty"),
    ("no-gold-answer", lambda: squad_em_f1({"q": "a"}, {"q": []}), r"references\['q'\]"),
    ("gold-is-a-string", lambda: squad_em_f1({"q": "a"}, {"q": "abc"}), "non-empty list"),
    ("unknown-language", lambda: mlqa_em_f1({"q": "a"}, {"q": ["a"]}, "fr"), "'fr'"),
    ("unknown-language-normalize", lambda: mlqa_normalize("a", "th"), "'th'"),
]


@pytest.mark.parametrize("call, message", [c[1:] for c in QA_ERRORS], ids=[c[0] for c in QA_ERRORS])
def test_qa_bad_input_raises_value_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_mlqa_languages_are_the_mlqa_test_languages():
    assert sorted(MLQA_LANGUAGES) == sorted("en,es,de,ar,hi,vi,zh".split(","))
