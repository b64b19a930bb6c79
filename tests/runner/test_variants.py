"""--variant settings and data: corpus and translated-data sources (Hub id, local copy, path), languages, schema."""

from __future__ import annotations

import shutil

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from runner.errors import RunnerError
from runner.tasks.registry import get_task
from runner.tasks.text import NLI_LABELS
from runner.training.variants import (TranslatedConfig, check_translated, read_translated, resolve_source,
                             translated_languages)

MNLI = get_task("mnli").stages[0]


def test_a_source_is_a_local_path_a_local_copy_of_a_hub_repo_or_the_hub(mlm_corpus, fixture_data, tmp_path):
    mirror = resolve_source("wikimedia/wikipedia", "main", fixture_data, "mlm corpus")
    assert mirror.root == mlm_corpus.resolve() and mirror.hub_id == "wikimedia/wikipedia"
    assert mirror.identity() == "hub:wikimedia/wikipedia@main"
    hub = resolve_source("wikimedia/wikipedia", "abc123", None, "mlm corpus")
    assert hub.root is None and hub.identity() == "hub:wikimedia/wikipedia@abc123"
    local = resolve_source(str(mlm_corpus), "main", None, "mlm corpus")
    assert local.root == mlm_corpus.resolve() and local.identity().startswith("local:wikipedia#")
    copy = shutil.copytree(mlm_corpus, tmp_path / "elsewhere" / "wikipedia")
    assert resolve_source(str(copy), "main", None, "mlm corpus").identity() == local.identity()  # same files, same id
    (copy / "20231101.de" / "train-00000-of-00001.parquet").write_bytes(b"changed")
    assert resolve_source(str(copy), "main", None, "mlm corpus").identity() != local.identity()


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("nobody/corpus", "missing mlm corpus: "),  # a Hub id with --data-dir: the local copy must exist
        ("no such corpus", "is neither an existing file or folder nor a Hub id"),
    ],
)
def test_sources_that_cannot_be_found_are_one_line_errors(given, message, fixture_data):
    with pytest.raises(RunnerError, match=message) as e:
        resolve_source(given, "main", fixture_data, "mlm corpus")
    assert "\n" not in str(e.value)


def test_translated_languages_are_configured_or_found_on_disk_without_english(translated_data, fixture_data):
    source = resolve_source("facebook/xnli", "main", fixture_data, "translated data")
    assert translated_languages(TranslatedConfig(data="facebook/xnli"), source, "mnli", 1) == ("de", "fr", "zh")
    assert translated_languages(TranslatedConfig(data="x", languages="fr"), source, "mnli", 1) == ("fr",)
    hub = resolve_source("facebook/xnli", "main", None, "translated data")
    with pytest.raises(RunnerError, match="give --translated-languages"):
        translated_languages(TranslatedConfig(data="facebook/xnli"), hub, "mnli", 1)
    with pytest.raises(RunnerError, match=r"has no \{task\}"):
        translated_languages(TranslatedConfig(data="facebook/xnli"), source, "mnli", 2)


def test_translated_training_data_keep_the_task_schema_and_english_dev(translated_data, fixture_data):
    source = resolve_source(str(translated_data), "main", None, "translated data")  # a plain local folder
    english = [{"text_a": "en", "text_b": "en", "label": 0}] * 5
    both = read_translated(TranslatedConfig(data="x"), source, MNLI, "mnli", 1, english, NLI_LABELS, limit=20)
    assert len(both) == 5 + 3 * 20 and both[:5] == english
    only = read_translated(TranslatedConfig(data="x", languages="de", include_english=False), source, MNLI, "mnli", 1,
                           english, NLI_LABELS, limit=None)
    assert len(only) == 200 and {ex["label"] for ex in only} == {0, 1, 2}
    assert all(set(ex) == {"text_a", "text_b", "label"} for ex in only)
    check_translated(TranslatedConfig(data="x"), source, [MNLI], ["mnli"])
    with pytest.raises(RunnerError, match="supertags do not survive"):
        check_translated(TranslatedConfig(data="x"), source, [get_task("ccg").stages[0]], ["ccg"])


def test_translated_data_in_another_schema_are_refused(tmp_path):
    (tmp_path / "mt" / "de").mkdir(parents=True)
    pq.write_table(pa.table({"sentence1": ["a"], "sentence2": ["b"], "label": [0]}),
                   tmp_path / "mt" / "de" / "train-00000-of-00001.parquet")
    source = resolve_source(str(tmp_path / "mt"), "main", None, "translated data")
    schema = r"\(de\): column '(premise|hypothesis)' is missing; translated data must have mnli's schema"
    with pytest.raises(RunnerError, match=schema):
        read_translated(TranslatedConfig(data="x"), source, MNLI, "mnli", 1, [], NLI_LABELS, None)
    with pytest.raises(RunnerError, match="missing data for translated mnli/fr"):
        check_translated(TranslatedConfig(data="x", languages="fr"), source, [MNLI], ["mnli"])
