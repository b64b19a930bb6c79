"""Adapters (one per Hub schema), tag remapping, local mirrors and their errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.data.read import ADAPTERS, DataLocation, check_available, read_source, read_stage
from runner.errors import RunnerError
from runner.tasks.registry import all_sources, get_task
from runner.tasks.text import POS_LABELS

PAIR = {"text_a": "premise", "text_b": "hypothesis", "label": "label"}

_SQUAD_ROW = {"id": "english-7-0", "title": "T", "context": "Ab cd. Ef gh.", "question": "q?",
              "answers": {"text": ["gh"], "answer_start": [10]}}
_ENTITY = {"entity_id": "Q1", "title": "Ef", "description": "Ef is.\nGh.", "description_language": "en",
           "description_url": "u", "sentence_spans": [{"start": 0, "end": 6}, {"start": 7, "end": 10}]}
_CONTEXT = {"document_title": "d", "document_url": "u", "document_id": "d", "language": "de", "text": "Ab Ef cd.",
            "sentence_spans": [{"start": 0, "end": 9}]}
_MENTION = {"example_id": "m1", "mention_span": {"start": 3, "end": 5, "text": "Ef"}, "entity_id": "Q1"}
QA_RETRIEVAL_CASES = [
    ("squad", _SQUAD_ROW, {}, {"id": "english-7-0", "question": "q?", "context": "Ab cd. Ef gh.", "answers": ["gh"],
                               "starts": [10]}),
    ("squad", _SQUAD_ROW, {"language": "arabic"}, None),  # TyDiQA: another language's row
    ("squad", {**_SQUAD_ROW, "answers": {"text": [], "answer_start": []}}, {}, {
        "id": "english-7-0", "question": "q?", "context": "Ab cd. Ef gh.", "answers": [], "starts": []}),  # v2.0
    ("bucc", {"source_sentence": "Hallo", "target_sentence": "Hello", "source_lang": "de-000001",
              "target_lang": "en-000002"}, {}, {"src_id": "de-000001", "src": "Hallo", "tgt_id": "en-000002", "tgt": "Hello"}),
    ("tatoeba", {"source_sentence": "Hallo", "target_sentence": "Hello", "source_lang": "deu", "target_lang": "eng"},
     {"source": "source_sentence", "target": "target_sentence"}, {"src": "Hallo", "tgt": "Hello"}),
    ("tatoeba", {"sentence1": "Salut", "sentence2": "Hi"}, {"source": "sentence1", "target": "sentence2"},
     {"src": "Salut", "tgt": "Hi"}),
    ("lareqa", {**_SQUAD_ROW, "id": "56be"}, {}, {"id": "56be", "question": "q?", "context": "Ab cd. Ef gh.",
                                                  "answer_start": 10, "sentences": [(0, 6), (7, 13)]}),
    ("lareqa", {**_SQUAD_ROW, "id": "56be", "sentence_breaks": [[0, 13]]}, {},  # LAReQA's own breaks win
     {"id": "56be", "question": "q?", "context": "Ab cd. Ef gh.", "answer_start": 10, "sentences": [(0, 13)]}),
    ("lareqa_pair", _SQUAD_ROW, {}, {"query": "q?", "candidate": ["Ef gh.", "Ab cd. Ef gh."],
                                     "cand_id": "c032c5ae775c:1"}),  # sha1 of the paragraph : sentence
    ("lareqa_pair", {**_SQUAD_ROW, "answers": {"text": ["x"], "answer_start": [6]}}, {}, None),  # between sentences
    ("mewslix_pair", {"contextual_mention": {"context": {**_CONTEXT, "language": "en"}, "mention": _MENTION},
                      "entity": _ENTITY}, {}, {"query": "Ef: Ab { Ef } cd.", "candidate": ["Ef is. Gh.", None],
                                               "cand_id": "Q1"}),
    ("mewslix_mention", {"context": _CONTEXT, "mentions": [_MENTION, {**_MENTION, "example_id": "m2"}]},
     {"language": "de"}, [{"id": "m1", "query": "Ef: Ab { Ef } cd.", "gold": "Q1"},
                          {"id": "m2", "query": "Ef: Ab { Ef } cd.", "gold": "Q1"}]),
    ("mewslix_mention", {"context": _CONTEXT, "mentions": [_MENTION]}, {"language": "fa"}, []),
    ("mewslix_entity", _ENTITY, {}, {"id": "Q1", "text": "Ef is. Gh."}),
]

CASES = [
    ("labelled_text", {"premise": "p", "hypothesis": "h", "label": 2}, PAIR,
     {"text_a": "p", "text_b": "h", "label": 2}),
    ("labelled_text", {"premise": "p", "hypothesis": "h", "label": -1}, PAIR, None),  # GLUE test: unlabelled
    ("labelled_text", {"sentence": "s", "label": 1}, {"text_a": "sentence", "label": "label"},
     {"text_a": "s", "text_b": None, "label": 1}),
    ("mc_siqa", {"context": "c", "question": "q", "answerA": "a", "answerB": "b", "answerC": "x", "label": "3"}, {},
     {"first": ["c q"] * 3, "second": ["a", "b", "x"], "label": 2}),
    ("mc_hellaswag", {"ctx_a": "A", "ctx_b": "b", "endings": ["1", "2", "3", "4"], "label": "1"}, {},
     {"first": ["A"] * 4, "second": ["b 1", "b 2", "b 3", "b 4"], "label": 1}),
    ("mc_hellaswag", {"ctx_a": "A", "ctx_b": "b", "endings": ["1", "2"], "label": ""}, {}, None),  # test split
    ("mc_commonsenseqa", {"question": "q", "choices": {"label": ["A", "B", "C"], "text": ["x", "y", "z"]},
                          "answerKey": "C"}, {}, {"first": ["q"] * 3, "second": ["x", "y", "z"], "label": 2}),
    ("mc_cosmosqa", {"context": "c", "question": "q", "answer0": "a", "answer1": "b", "answer2": "c2",
                     "answer3": "d", "label": 3}, {}, {"first": ["c q"] * 4, "second": ["a", "b", "c2", "d"], "label": 3}),
    ("mc_copa", {"premise": "P", "choice1": "x", "choice2": "y", "question": "effect", "label": 1}, {},
     {"first": ["P", "P"], "second": ["effect: x", "effect: y"], "label": 1}),
    ("tagged_tokens", {"tokens": ["a", "b"], "pos_tags": [3, 0]}, {"tags": "pos_tags"}, {"tokens": ["a", "b"], "tags": [3, 0]}),
    ("bucc_file", {"side": "gold", "src_id": "de-000001", "tgt_id": "en-000002"}, {},
     {"side": "gold", "src_id": "de-000001", "tgt_id": "en-000002"}),  # read_bucc_files' rows, as they are
    ("ud_words", {"tokens": ["del", "de", "el", "mar"], "upos": [13, 2, 8, 0], "head": ["None", "3", "3", "0"]},
     {"tags": "upos"}, {"tokens": ["de", "el", "mar"], "tags": [2, 8, 0]}),  # the multiword range line is no word
    ("tagged_tokens", {"tokens": [], "pos_tags": []}, {"tags": "pos_tags"}, {"tokens": [], "tags": []}),  # kept: scored, not dropped
    ("ccg", {"text": "a b", "tags": "N NP"}, {}, {"tokens": ["a", "b"], "tags": ["N", "NP"]}),  # jiant's format
    ("ccg", {"tokens": ["a"], "tags": ["N"]}, {}, {"tokens": ["a"], "tags": ["N"]}),
    *QA_RETRIEVAL_CASES,
]


@pytest.mark.parametrize(("adapter", "row", "cols", "expected"), CASES)
def test_adapters(adapter, row, cols, expected):
    assert ADAPTERS[adapter](row, cols, ()) == expected


def test_every_adapter_has_a_case():
    assert {c[0] for c in CASES} == set(ADAPTERS)


def test_ccg_needs_a_tag_per_token():
    with pytest.raises(RunnerError, match="one tag per token"):
        ADAPTERS["ccg"]({"tokens": ["a", "b"], "tags": ["N"]}, {}, ())


def test_ud_tags_are_mapped_by_name_onto_xtreme_tags(fixture_data):
    loc = DataLocation(fixture_data)
    ud = read_source(get_task("udpos").test["pl"], POS_LABELS, loc)  # universal_dependencies, other order
    xtreme = read_source(get_task("udpos").test["de"], POS_LABELS, loc)
    assert ud and xtreme
    from runner.smoke.fixtures import FixtureText

    pools = FixtureText(0).pos_pools
    for ex in ud + xtreme:
        for word, tag in zip(ex["tokens"], ex["tags"]):
            assert word in pools[POS_LABELS[tag]]


def test_read_stage_with_limits_and_ccg_labels(fixture_data):
    loc = DataLocation(fixture_data, ccg_path=fixture_data / "ccgbank")
    train, dev, labels = read_stage(get_task("ccg").stages[0], loc, limit_train=10, limit_dev=5)
    assert len(train) == 10 and len(dev) == 5
    assert labels == tuple(sorted(labels)) and all(t.endswith("/N") for t in labels)
    assert all(isinstance(t, int) for ex in train for t in ex["tags"])


def test_missing_local_files_name_the_download_command(tmp_path):
    with pytest.raises(RunnerError) as e:
        check_available(all_sources(get_task("xnli")), DataLocation(tmp_path))
    assert "hf download nyu-mll/glue --repo-type dataset --revision main" in str(e.value)
    assert "\n" not in str(e.value)


def test_ccg_without_a_path_is_a_clear_error():
    with pytest.raises(RunnerError, match="CCGbank is licensed"):
        check_available(all_sources(get_task("ccg")), DataLocation(Path("/nonexistent")))


def test_the_hub_unreachable_is_a_one_line_error_that_suggests_a_local_copy():
    """With HF_HUB_OFFLINE=1 (set for the session) loading from the Hub fails fast and clearly."""
    with pytest.raises(RunnerError) as e:
        read_source(get_task("pawsx").test["de"], (), DataLocation(None))
    message = str(e.value)
    assert message.startswith("cannot load google-research-datasets/paws-x@main:de/test-*.parquet")
    assert message.endswith("(set --data-dir to a local copy when offline)") and "\n" not in message


def test_ccg_also_reads_jiants_tsv_and_tag_ids(tmp_path):
    (tmp_path / "ccg.train").write_text("a b\tN NP\nc\tS\n")
    (tmp_path / "ccg.dev").write_text("b\tNP\n")
    (tmp_path / "tags_to_id.json").write_text('{"S": 0, "NP": 1, "N": 2, "X": 3}')
    train, dev, labels = read_stage(get_task("ccg").stages[0], DataLocation(ccg_path=tmp_path))
    assert labels == ("S", "NP", "N", "X")
    assert train == [{"tokens": ["a", "b"], "tags": [2, 1]}, {"tokens": ["c"], "tags": [0]}]
    assert dev == [{"tokens": ["b"], "tags": [1]}]


def test_squad_holdout_splits_the_questions_into_a_slice_and_the_rest():
    from runner.data.adapters_qa import held_out, squad

    rows = [{**_SQUAD_ROW, "id": f"english-{i}-0"} for i in range(1000)]
    only = {"language": "english", "holdout": "only", "holdout_percent": "10"}
    rest = {**only, "holdout": "exclude"}
    kept = [r["id"] for r in rows if squad(r, only, ())]
    others = [r["id"] for r in rows if squad(r, rest, ())]
    assert not set(kept) & set(others) and len(kept) + len(others) == 1000
    assert 70 < len(kept) < 130 and all(held_out(qid, 10) for qid in kept)
    assert held_out("english-1-0", 10) == held_out("english-1-0", 10)  # by id only: no state, no order
    with pytest.raises(ValueError, match="holdout"):
        squad(rows[0], {"holdout": "some", "holdout_percent": "10"}, ())
