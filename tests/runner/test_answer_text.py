"""QA answers mapped back to the context as XTREME does (runner/modeling/answer_text.py), on zh, th and ja.

The reference here is written independently of the product code, straight from XTREME's pipeline:
``processors/squad.py`` (whitespace words, per-word tokenisation, ``token_to_orig_map``), the
transformers 2.x ``squad_metrics.compute_predictions_logits`` (``convert_tokens_to_string``, strip,
collapse whitespace) and ``get_final_text``, with the basic tokenizer taken from transformers itself
(``BasicTokenizer`` of ``tokenization_bert_legacy``), not from ``runner.modeling.answer_text``.

The tokenizer is a SentencePiece-style (Unigram, Metaspace, NFKC) XLM-R tokenizer trained here on a
few zh / ja / th sentences: nothing is downloaded.
"""

from __future__ import annotations

import collections
import doctest
import json

import pytest
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
from transformers import XLMRobertaTokenizer
from transformers.models.bert.tokenization_bert_legacy import BasicTokenizer

from runner.config import QAConfig
from runner.errors import RunnerError
from runner.modeling import answer_text, qa

ZWSP = "\u200b"
CORPUS = ["北京大学是中国的大学。", "他说：北京是首都，人口２１００万。", "東京は日本の首都です。", "東京大学はとても古い。",
          "กรุงเทพมหานครเป็นเมืองหลวง ของประเทศไทย,", "ประเทศไทยมีประชากร ๖๖ ล้านคน", "Steve Smith's bat."]


@pytest.fixture(scope="module")
def spm_tokenizer():
    """An XLM-R tokenizer whose Unigram pieces hold several ideographs (as XLM-R's do)."""
    tok = Tokenizer(models.Unigram())
    tok.normalizer = normalizers.NFKC()
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.decoder = decoders.Metaspace()
    specials = ["<s>", "<pad>", "</s>", "<unk>"]
    tok.train_from_iterator(CORPUS * 20, trainers.UnigramTrainer(vocab_size=200, special_tokens=specials,
                                                                 unk_token="<unk>"))
    tokenizer = XLMRobertaTokenizer(vocab=[tuple(v) for v in json.loads(tok.to_str())["model"]["vocab"]])
    tokenizer.backend_tokenizer.normalizer = normalizers.NFKC()  # XLM-R normalises (NFKC-like) too
    return tokenizer


# ------------------------------------------------------------------ the independent reference
def _xtreme_is_whitespace(c):
    return c == " " or c == "\t" or c == "\r" or c == "\n" or ord(c) == 0x202F


def _reference_get_final_text(pred_text, orig_text, do_lower_case=False):
    def strip_spaces(text):
        ns_chars, ns_to_s_map = [], collections.OrderedDict()
        for i, c in enumerate(text):
            if c == " ":
                continue
            ns_to_s_map[len(ns_chars)] = i
            ns_chars.append(c)
        return "".join(ns_chars), ns_to_s_map

    tok_text = " ".join(BasicTokenizer(do_lower_case=do_lower_case).tokenize(orig_text))
    start_position = tok_text.find(pred_text)
    if start_position == -1:
        return orig_text
    end_position = start_position + len(pred_text) - 1
    orig_ns_text, orig_ns_to_s_map = strip_spaces(orig_text)
    tok_ns_text, tok_ns_to_s_map = strip_spaces(tok_text)
    if len(orig_ns_text) != len(tok_ns_text):
        return orig_text
    tok_s_to_ns_map = {tok_index: i for i, tok_index in tok_ns_to_s_map.items()}
    orig_start_position = None
    if start_position in tok_s_to_ns_map:
        ns_start_position = tok_s_to_ns_map[start_position]
        if ns_start_position in orig_ns_to_s_map:
            orig_start_position = orig_ns_to_s_map[ns_start_position]
    if orig_start_position is None:
        return orig_text
    orig_end_position = None
    if end_position in tok_s_to_ns_map:
        ns_end_position = tok_s_to_ns_map[end_position]
        if ns_end_position in orig_ns_to_s_map:
            orig_end_position = orig_ns_to_s_map[ns_end_position]
    if orig_end_position is None:
        return orig_text
    return orig_text[orig_start_position:(orig_end_position + 1)]


def _reference_features(tokenizer, context):
    """XTREME's doc_tokens, and its sub-tokens of each word with their word (tok_to_orig_index)."""
    doc_tokens, prev_is_whitespace = [], True
    for c in context:
        if _xtreme_is_whitespace(c):
            prev_is_whitespace = True
        else:
            if prev_is_whitespace:
                doc_tokens.append(c)
            else:
                doc_tokens[-1] += c
            prev_is_whitespace = False
    tok_to_orig_index, all_doc_tokens = [], []
    for i, token in enumerate(doc_tokens):
        for sub_token in tokenizer.tokenize(token):
            tok_to_orig_index.append(i)
            all_doc_tokens.append(sub_token)
    # feature.tokens are convert_ids_to_tokens of the encoded sub-tokens (unknown pieces read <unk>)
    tokens = tokenizer.convert_ids_to_tokens(tokenizer.convert_tokens_to_ids(all_doc_tokens))
    return doc_tokens, tok_to_orig_index, tokens


def _reference_answer(tokenizer, context, first, last):
    doc_tokens, tok_to_orig_index, tokens = _reference_features(tokenizer, context)
    tok_text = "".join(tokens[first:last + 1]).replace("\u2581", " ").strip()  # XLMRobertaTokenizer 2.x
    tok_text = " ".join(tok_text.strip().split())
    orig_text = " ".join(doc_tokens[tok_to_orig_index[first]:tok_to_orig_index[last] + 1])
    return _reference_get_final_text(tok_text, orig_text), tok_text


# --------------------------------------------------------------------------------- the cases
# (language, context, the answer as the runner cut it before: offsets of the span's sub-tokens)
CASES = [
    # XLM-R's pieces hold several ideographs, the basic tokenizer separates them: not found, so the
    # answer is the whole unspaced run of words around it
    ("zh", "他说：北京大学是中国的大学。 它很老。", "北京大学"),
    # full-width digits: NFKC rewrites the pieces, the original keeps them
    ("zh", "他说：北京是首都，人口２１００万。 很多人。", "人口２１００万"),
    ("ja", "東京は日本の首都です。 東京大学はとても古い。", "首都"),
    # a Thai span ending on punctuation inside a word: "ไทย," is "ไทย ," for the basic tokenizer
    ("th", "กรุงเทพมหานครเป็นเมืองหลวง ของประเทศไทย, มีประชากร", "ประเทศไทย,"),
    # a zero-width space (common in Thai text) is dropped by the basic tokenizer: no alignment
    ("th", f"ประเทศไทยมีประชากร ๖๖ล้าน{ZWSP}คน", f"ล้าน{ZWSP}คน"),
]
SAME = [  # spans where both ways agree (found and aligned)
    ("th", "กรุงเทพมหานครเป็นเมืองหลวง ของประเทศไทย, มีประชากร", "ประเทศไทย"),
    ("ja", "東京は日本の首都です。 東京大学はとても古い。", "です"),
]


def _span(tokenizer, context, answer):
    """(first, last) context sub-token whose offsets cut exactly ``answer`` out of the context."""
    enc = tokenizer(context, add_special_tokens=False, return_offsets_mapping=True)
    start = context.index(answer)
    offsets = enc["offset_mapping"]
    first = next(i for i, (s, e) in enumerate(offsets) if s == start or (s < start < e))
    last = next(i for i, (s, e) in enumerate(offsets) if e == start + len(answer))
    return first, last


def _decode(tokenizer, context, first, last, mode, lang):
    """The runner's QA path: evaluation features, logits pointing at the span, n-best decoding."""
    enc = qa.encode_qa([{"id": "q", "question": "哪里?", "context": context, "answers": ["x"], "starts": [0]}],
                       tokenizer, 128, training=False)
    assert len(enc) == 1, "one window holds the whole context"
    (ctx_at, _, _), n = enc.extra["windows"][0], len(enc.input_ids[0])
    start, end = [0.0] * n, [0.0] * n
    start[ctx_at + first], end[ctx_at + last] = 9.0, 9.0
    return qa.decode(enc, [(start, end)], 20, 30, answer_text=mode, lang=lang)["q"]


@pytest.mark.parametrize(("lang", "context", "sliced"), CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_xtreme_mapping_differs_from_offset_slicing_and_equals_the_reference(spm_tokenizer, lang, context, sliced):
    first, last = _span(spm_tokenizer, context, sliced)
    ours = spm_tokenizer.convert_ids_to_tokens(spm_tokenizer(context, add_special_tokens=False)["input_ids"])
    assert ours == _reference_features(spm_tokenizer, context)[2], "whole-context and per-word tokens agree"
    expected, tok_text = _reference_answer(spm_tokenizer, context, first, last)

    assert _decode(spm_tokenizer, context, first, last, "offsets", lang) == sliced
    got = _decode(spm_tokenizer, context, first, last, "xtreme", lang)
    assert got == expected
    assert got != sliced and sliced in got  # the fallback: every whitespace word the span touches
    # jiant keeps the sub-tokens' own text for zh only
    assert _decode(spm_tokenizer, context, first, last, "jiant", lang) == (tok_text if lang == "zh" else expected)


@pytest.mark.parametrize(("lang", "context", "sliced"), SAME)
def test_found_spans_map_back_onto_the_original_characters(spm_tokenizer, lang, context, sliced):
    first, last = _span(spm_tokenizer, context, sliced)
    assert _reference_answer(spm_tokenizer, context, first, last)[0] == sliced
    assert _decode(spm_tokenizer, context, first, last, "xtreme", lang) == sliced


def test_whitespace_words_follow_xtreme():
    words, char_to_word = answer_text.whitespace_words(" a\u202fb\tc\u00a0d\n")
    assert words == ["a", "b", "c\u00a0d"]  # U+202F splits, a no-break space does not
    assert char_to_word == [-1, 0, 0, 1, 1, 2, 2, 2, 2]


@pytest.mark.parametrize("text", ["Steve Smith's bat.", "他说：北京大学，人口２１００万。", f"ล้าน{ZWSP}คน\u00a0x", "Ünïcödé\x00 A-B"])
@pytest.mark.parametrize("lower", [False, True])
def test_basic_tokenizer_equals_transformers(text, lower):
    assert answer_text.basic_tokenize(text, lower) == BasicTokenizer(do_lower_case=lower).tokenize(text)


@pytest.mark.parametrize(("pred", "orig"), [("Steve Smith", "Steve Smith's"), ("smith", "Steve Smith's"),
                                            ("北 京", "北京大学"), ("北京", "北京大学"), ("a b", "a\u00a0b"), ("ab", "ab")])
@pytest.mark.parametrize("lower", [False, True])
def test_final_text_equals_the_reference(pred, orig, lower):
    assert answer_text.final_text(pred, orig, lower) == _reference_get_final_text(pred, orig, lower)


def test_wordpiece_spans_join_as_bert_did(tmp_path):
    from transformers import AutoTokenizer

    from tests.fixtures.mirror import build_bert_model

    bert = AutoTokenizer.from_pretrained(build_bert_model(tmp_path / "bert"))
    assert answer_text.detokenizer(bert) == "wordpiece"
    assert answer_text.tokens_text(["##ing", "the", "##m", ",", "x"], "wordpiece") == "##ing them , x"
    assert answer_text.tokens_text(["\u2581a", "b", "\u2581", "c"], "sentencepiece") == "ab c"


def test_answer_text_is_a_checked_qa_setting():
    assert QAConfig().answer_text == "xtreme"
    with pytest.raises(RunnerError, match="qa.answer_text"):
        QAConfig(answer_text="xtrme")


def test_doctests():
    assert doctest.testmod(answer_text).failed == 0
