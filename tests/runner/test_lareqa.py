"""LAReQA's candidate pool (runner/data/adapters_qa.py ``lareqa_pool``) as XTREME-R builds it.

The fixture is XQuAD-R in LAReQA's own file schema (``xquad-r/{lang}.json`` of
google-research-datasets/lareqa: SQuAD JSON plus ``sentence_breaks`` per paragraph). The reference
below is written from ``third_party/utils_lareqa.py`` (``load_data``, ``generate_examples``) and
``third_party/evaluate_retrieval.py`` (task ``lareqa``), independently of the product code.
"""

from __future__ import annotations

import collections
import json

from runner.data.adapters_qa import lareqa, lareqa_pool

P1_EN = "Alpha beta.\nGamma delta. Alpha beta."  # the first sentence comes back at the end
P2_EN = "Zeta eta theta. Iota."
P1_DE = "Alfa beta.\nGamma delta. Alfa beta."
P2_DE = "Zeta eta. Theta iota."


def _paragraph(context, breaks, qas):
    return {"context": context, "sentence_breaks": breaks, "sentences": [context[s:e] for s, e in breaks],
            "qas": [{"id": qid, "question": q, "answers": [{"answer_start": start, "text": context[start:start + 3]}]}
                    for qid, q, start in qas]}


SQUAD_PER_LANG = {
    "en": {"data": [{"paragraphs": [
        _paragraph(P1_EN, [[0, 11], [12, 24], [25, 36]], [("q1", "Which beta?", 0), ("q2", "Which delta?", 14)]),
        _paragraph(P2_EN, [[0, 15], [16, 21]], [("q3", "Which eta?", 5), ("q4", "Between?", 15)]),  # 15: the space
    ]}]},
    "de": {"data": [{"paragraphs": [
        _paragraph(P1_DE, [[0, 10], [11, 23], [24, 34]], [("q1", "Welche Beta?", 0), ("q2", "Welches Delta?", 13)]),
        _paragraph(P2_DE, [[0, 9], [10, 21]], [("q3", "Welches Eta?", 5), ("q4", "Dazwischen?", 12)]),
    ]}]},
}


def _reference(squad_per_lang):
    """utils_lareqa.load_data + evaluate_retrieval's candidate strings, written out again."""
    questions, candidates, by_xling_id = [], collections.OrderedDict(), collections.defaultdict(set)
    for lang, squad in squad_per_lang.items():
        num_paragraphs = 0
        for passage in squad["data"]:
            for paragraph in passage["paragraphs"]:
                num_paragraphs += 1
                context_id = f"{lang}_{num_paragraphs}"
                context = paragraph["context"]
                sentence_breaks = paragraph["sentence_breaks"]
                context_sentences = [str(context[start:end]) for (start, end) in sentence_breaks]
                for qas in paragraph["qas"]:
                    answer_start = qas["answers"][0]["answer_start"]
                    sentence = None
                    for start, end in sentence_breaks:
                        if start <= answer_start < end:
                            sentence = context[start:end]
                            break
                    if not sentence:
                        continue
                    questions.append((lang, qas["id"], qas["question"]))
                    for sent_pos, text in enumerate(context_sentences):
                        uid = f"{context_id}_{sent_pos}"
                        candidates.setdefault(uid, (text + context).replace("\n", ""))
                        if text == sentence:
                            by_xling_id[qas["id"]].add(uid)
    return questions, list(candidates.items()), dict(by_xling_id)


def _rows(squad):
    """The file flattened to one row per question (the Hub's columns plus the paragraph's breaks)."""
    return [{"id": qa["id"], "question": qa["question"], "context": p["context"], "sentence_breaks": p["sentence_breaks"],
             "answers": {"text": [a["text"] for a in qa["answers"]], "answer_start": [a["answer_start"] for a in qa["answers"]]}}
            for article in squad["data"] for p in article["paragraphs"] for qa in p["qas"]]


def test_pool_equals_xtreme_r():
    rows = {lang: [lareqa(r, {}, ()) for r in _rows(squad)] for lang, squad in SQUAD_PER_LANG.items()}
    questions, candidates, relevant = lareqa_pool(rows)
    ref_questions, ref_candidates, ref_relevant = _reference(SQUAD_PER_LANG)
    assert [(lang, qid, q) for lang, qs in questions.items() for qid, q in qs] == ref_questions
    assert candidates == ref_candidates
    assert relevant == ref_relevant


def test_every_sentence_of_every_paragraph_in_every_language_is_a_candidate():
    rows = {lang: [lareqa(r, {}, ()) for r in _rows(squad)] for lang, squad in SQUAD_PER_LANG.items()}
    questions, candidates, relevant = lareqa_pool(rows)
    assert len(candidates) == 3 + 2 + 3 + 2  # sentences, not answer sentences only
    assert dict(candidates)["en_1_1"] == "Gamma delta.Alpha beta.Gamma delta. Alpha beta."  # no newline
    assert relevant["q1"] == {"en_1_0", "en_1_2", "de_1_0", "de_1_2"}  # a repeated sentence: both relevant
    assert relevant["q2"] == {"en_1_1", "de_1_1"} and relevant["q3"] == {"en_2_0", "de_2_0"}
    assert relevant["q4"] == {"de_2_1"}  # the English start falls between sentences: skipped there only
    assert [qid for qid, _ in questions["en"]] == ["q1", "q2", "q3"]


def test_without_breaks_the_rule_based_splitter_gives_the_sentences():
    row = {"id": "q", "question": "?", "context": "Eins zwei. Drei vier.", "answers": {"text": ["Drei"], "answer_start": [11]}}
    ex = lareqa(row, {}, ())
    assert ex["sentences"] == [(0, 10), (11, 21)]
    _, candidates, relevant = lareqa_pool({"de": [ex]})
    assert candidates == [("de_1_0", "Eins zwei.Eins zwei. Drei vier."), ("de_1_1", "Drei vier.Eins zwei. Drei vier.")]
    assert relevant == {"q": {"de_1_1"}}


def test_lareqa_path_reads_lareqas_own_files(tmp_path):
    """``--lareqa-path``: the files in their GitHub layout, read through the runner's reader."""
    from runner.data.read import DataLocation, read_source
    from runner.tasks.registry import get_task

    data = json.loads(json.dumps(SQUAD_PER_LANG))
    data["en"]["data"][0]["paragraphs"][1]["sentence_breaks"] = [[0, 21]]  # the splitter would cut it in two
    for lang, squad in data.items():
        (tmp_path / "xquad-r").mkdir(exist_ok=True)
        (tmp_path / "xquad-r" / f"{lang}.json").write_text(json.dumps(squad))
    spec = get_task("lareqa").resolve({"lareqa_path"})
    loc = DataLocation(lareqa_path=tmp_path)
    rows = {lang: read_source(spec.test[lang], (), loc) for lang in data}
    questions, candidates, relevant = lareqa_pool(rows)
    ref_questions, ref_candidates, ref_relevant = _reference(data)
    assert [(lang, qid, q) for lang, qs in questions.items() for qid, q in qs] == ref_questions
    assert (candidates, relevant) == (ref_candidates, ref_relevant)
    assert rows["en"][2]["sentences"] == [(0, 21)]  # the file's breaks, not the splitter's
    assert relevant["q4"] == {"en_2_0", "de_2_1"}  # one English sentence now holds the start
