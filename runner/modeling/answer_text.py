"""The text of a predicted answer span, mapped back to the context as XTREME's post-processing does.

XTREME (``third_party/run_squad.py`` with the transformers 2.x ``squad_metrics.compute_predictions_logits``
and ``processors/squad.py``) never slices the context by sub-token offsets. It

1. splits the context into whitespace words (space, tab, CR, LF, U+202F: ``processors/squad.py``
   ``_is_whitespace``) and tokenises each word, so every sub-token belongs to one word;
2. for the best span, joins its sub-tokens back into a string (``tokenizer.convert_tokens_to_string``
   of the slow tokenizers: WordPiece ``" ".join(t).replace(" ##", "")``, SentencePiece
   ``"".join(t).replace("▁", " ")``), strips it and collapses whitespace: the *predicted* text;
3. takes the whitespace words the span's first and last sub-tokens belong to, joined by one space:
   the *original* text;
4. ``get_final_text``: runs BERT's basic tokenizer over the original text (splits punctuation, puts
   spaces around CJK ideographs, drops control characters), finds the predicted text in it, and
   projects that character range back onto the original text through the space-free alignment of
   the two. When the predicted text is not found, or the alignment fails, the whole original text
   (every word the span touches) is the answer.

For Chinese and Japanese contexts step 4 usually fails for SentencePiece models (XLM-R pieces hold
several ideographs, the basic tokenizer separates them), so the answer becomes the whole run of
unspaced text around the span; full-width characters that NFKC rewrites fail the same way. jiant
(the X-STILTs code) therefore skips step 4 for ``zh`` and answers with the predicted text itself
(``jiant/tasks/evaluate/core.py``, ``skip_get_final_text=(lang == "zh")``).

Modes (``qa.answer_text``):

* ``xtreme``: steps 1-4 for every language (XTREME, XTREME-R).
* ``jiant``: as ``xtreme``, but ``zh`` answers are the predicted text of step 2 (jiant's X-STILTs runs).
* ``offsets``: the context's characters between the span's first and last sub-token offsets (what a
  fast tokenizer's offsets give; no published protocol does this).

Sub-tokens come from tokenising the whole context (the runner's features); a sub-token belongs to the
whitespace word of its first non-whitespace character (the end token: of its last one), which equals
XTREME's per-word tokenisation for WordPiece and SentencePiece models, whose sub-tokens never cross
whitespace. Tokenizers that are neither (byte-level BPE) join their span by offsets in step 2.

Example:
    >>> whitespace_words("北京大学 is\\u202fold")
    (['北京大学', 'is', 'old'], [0, 0, 0, 0, 0, 1, 1, 1, 2, 2, 2])
    >>> final_text("北京", "北京大学")  # the basic tokenizer reads "北 京 大 学": not found
    '北京大学'
    >>> final_text("Steve Smith", "Steve Smith's")
    'Steve Smith'
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

MODES = ("xtreme", "jiant", "offsets")
#: Languages whose answers ``jiant`` mode takes from the sub-tokens (jiant skips get_final_text for them).
JIANT_SKIP = frozenset({"zh"})
SPIECE_UNDERLINE = "\u2581"


# --------------------------------------------------------------------------- whitespace words
def is_whitespace(ch: str) -> bool:
    """XTREME's ``processors/squad.py`` ``_is_whitespace``: space, tab, CR, LF, narrow no-break space."""
    return ch in " \t\r\n" or ord(ch) == 0x202F


def whitespace_words(context: str) -> tuple[list[str], list[int]]:
    """(words, word index of every character), as ``SquadExample`` builds ``doc_tokens``.

    A whitespace character belongs to the word before it (-1 before the first word).
    """
    words: list[str] = []
    char_to_word: list[int] = []
    prev_ws = True
    for ch in context:
        if is_whitespace(ch):
            prev_ws = True
        else:
            if prev_ws:
                words.append(ch)
            else:
                words[-1] += ch
            prev_ws = False
        char_to_word.append(len(words) - 1)
    return words, char_to_word


def token_words(context: str, offsets: Sequence[tuple[int, int]], char_to_word: Sequence[int]) -> list[tuple[int, int]]:
    """Per sub-token, the words of its first and last non-whitespace characters.

    A sub-token that covers no such character (an empty offset, a lone ``▁``) takes the word of
    the next sub-token that has one (the word it was tokenised with), else of the previous one.
    """
    out: list[tuple[int, int] | None] = []
    for s, e in offsets:
        chars = [c for c in range(s, min(e, len(context))) if not is_whitespace(context[c])]
        out.append((char_to_word[chars[0]], char_to_word[chars[-1]]) if chars else None)
    for i in range(len(out) - 1, -1, -1):  # fill from the right: the next token's word
        if out[i] is None and i + 1 < len(out) and out[i + 1] is not None:
            out[i] = (out[i + 1][0], out[i + 1][0])
    last = (0, 0)
    for i, w in enumerate(out):  # what is left sits at the end: the previous token's word
        if w is None:
            out[i] = (last[1], last[1])
        else:
            last = w
    return out  # type: ignore[return-value]


# ------------------------------------------------------------------------- predicted text
def detokenizer(tokenizer) -> str:
    """How the slow tokenizer of the model family joins sub-tokens: ``wordpiece``, ``sentencepiece``,
    or ``offsets`` (no transformers 2.x equivalent known here: the span's characters are used)."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None:
        model = type(backend.model).__name__
        decoder = type(backend.decoder).__name__ if backend.decoder is not None else ""
        if model == "WordPiece" or decoder == "WordPiece":
            return "wordpiece"
        if decoder == "Metaspace" or model == "Unigram":
            return "sentencepiece"
    return "offsets"


def tokens_text(tokens: Sequence[str], style: str) -> str:
    """``convert_tokens_to_string`` of the transformers 2.x slow tokenizers, stripped and with runs
    of whitespace collapsed (``compute_predictions_logits``)."""
    if style == "wordpiece":
        text = " ".join(tokens).replace(" ##", "")
    elif style == "sentencepiece":
        text = "".join(tokens).replace(SPIECE_UNDERLINE, " ")
    else:
        raise ValueError(f"no detokenizer {style!r}")
    return " ".join(text.strip().split())


# ------------------------------------------------------------------ BERT's basic tokenizer
_CJK_RANGES = ((0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F), (0x2B740, 0x2B81F),
               (0x2B820, 0x2CEAF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F))


def _is_cjk(cp: int) -> bool:
    return any(lo <= cp <= hi for lo, hi in _CJK_RANGES)


def _basic_whitespace(ch: str) -> bool:
    return ch in " \t\n\r" or unicodedata.category(ch) == "Zs"


def _basic_control(ch: str) -> bool:
    return ch not in "\t\n\r" and unicodedata.category(ch).startswith("C")


def _basic_punctuation(ch: str) -> bool:
    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


def basic_tokenize(text: str, do_lower_case: bool = False) -> list[str]:
    """BERT's ``BasicTokenizer(do_lower_case).tokenize`` (transformers 2.x): drop NUL, U+FFFD and
    control characters, whitespace to spaces, spaces around CJK ideographs, lower-case and strip
    accents when asked, every punctuation character its own token."""
    cleaned = []
    for ch in text:
        cp = ord(ch)
        if cp == 0 or cp == 0xFFFD or _basic_control(ch):
            continue
        if _basic_whitespace(ch):
            cleaned.append(" ")
        elif _is_cjk(cp):
            cleaned.append(f" {ch} ")
        else:
            cleaned.append(ch)
    out: list[str] = []
    for token in "".join(cleaned).split():
        if do_lower_case:
            token = "".join(c for c in unicodedata.normalize("NFD", token.lower()) if unicodedata.category(c) != "Mn")
        current = ""
        for ch in token:
            if _basic_punctuation(ch):
                if current:
                    out.append(current)
                current = ""
                out.append(ch)
            else:
                current += ch
        if current:
            out.append(current)
    return out


def _strip_spaces(text: str) -> tuple[str, dict[int, int]]:
    kept, index = [], {}
    for i, ch in enumerate(text):
        if ch == " ":
            continue
        index[len(kept)] = i
        kept.append(ch)
    return "".join(kept), index


def final_text(pred_text: str, orig_text: str, do_lower_case: bool = False) -> str:
    """``squad_metrics.get_final_text``: ``pred_text`` projected onto ``orig_text``, or the whole
    ``orig_text`` when it cannot be found or aligned."""
    tok_text = " ".join(basic_tokenize(orig_text, do_lower_case))
    start = tok_text.find(pred_text)
    if start == -1:
        return orig_text
    end = start + len(pred_text) - 1
    orig_ns, orig_map = _strip_spaces(orig_text)
    tok_ns, tok_map = _strip_spaces(tok_text)
    if len(orig_ns) != len(tok_ns):
        return orig_text
    tok_to_ns = {s: ns for ns, s in tok_map.items()}
    if start not in tok_to_ns or tok_to_ns[start] not in orig_map:
        return orig_text
    if end not in tok_to_ns or tok_to_ns[end] not in orig_map:
        return orig_text
    return orig_text[orig_map[tok_to_ns[start]]:orig_map[tok_to_ns[end]] + 1]


# -------------------------------------------------------------------------------- the answer
class ContextText:
    """One context's words and sub-tokens: gives the answer text of any sub-token span.

    Args:
        context: the example's context.
        offsets: character span of each context sub-token.
        tokens: the sub-token strings (``convert_ids_to_tokens``).
        style: ``detokenizer(tokenizer)``.
        do_lower_case: the tokenizer lower-cases (uncased models; XTREME's ``--do_lower_case``).
    """

    def __init__(self, context: str, offsets: Sequence[tuple[int, int]], tokens: Sequence[str], style: str,
                 do_lower_case: bool = False):
        self.context, self.offsets, self.tokens = context, offsets, tokens
        self.style, self.do_lower_case = style, do_lower_case
        self._words: tuple[list[str], list[tuple[int, int]]] | None = None

    def _word_map(self) -> tuple[list[str], list[tuple[int, int]]]:
        if self._words is None:
            words, char_to_word = whitespace_words(self.context)
            self._words = (words, token_words(self.context, self.offsets, char_to_word))
        return self._words

    def sliced(self, first: int, last: int) -> str:
        """The context between the first and last sub-token's offsets."""
        return self.context[self.offsets[first][0]:self.offsets[last][1]]

    def predicted(self, first: int, last: int) -> str:
        """Step 2: the span's sub-tokens joined as the slow tokenizer joins them."""
        if self.style == "offsets":
            return " ".join(self.sliced(first, last).split())
        return tokens_text(self.tokens[first:last + 1], self.style)

    def original(self, first: int, last: int) -> str:
        """Step 3: the whitespace words the span touches, joined by single spaces."""
        words, token_word = self._word_map()
        return " ".join(words[token_word[first][0]:token_word[last][1] + 1])

    def answer(self, first: int, last: int, mode: str = "xtreme", lang: str = "en") -> str:
        """The answer text of sub-tokens ``first..last`` (inclusive) under ``mode`` (see the module)."""
        if mode == "offsets":
            return self.sliced(first, last)
        if mode not in MODES:
            raise ValueError(f"qa.answer_text {mode!r}: use one of {', '.join(MODES)}")
        pred = self.predicted(first, last)
        if mode == "jiant" and lang in JIANT_SKIP:
            return pred
        return final_text(pred, self.original(first, last), self.do_lower_case)
