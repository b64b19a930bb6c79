"""`store demo`: a clearly synthetic store, marked wherever its numbers go, kept out of paper exports."""

import pytest

from store.cli import main
from store.database import Store
from store.demo import DEMO_MARK, DEMO_SOURCE, build_demo, has_demo
from store.errors import StoreError
from tests.store.test_database import make_run


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory):
    return build_demo(tmp_path_factory.mktemp("demo") / "store", targets=("xnli", "tydiqa"), seeds=(1, 2))


def run(capsys, *argv):
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def test_every_run_is_a_marked_demo_run_with_dev_scores(demo_store):
    with Store.open(demo_store, create=False) as st:
        assert has_demo(st)
        runs = st.query("SELECT DISTINCT source FROM runs WHERE source NOT IN (SELECT source FROM sources "
                        "WHERE quality IN ('paper table', 'repository', 'pull request', 'second-hand'))")
        assert runs["source"].to_list() == [DEMO_SOURCE]
        src = st.query("SELECT citation, quality FROM sources WHERE source = 'demo'").row(0, named=True)
        assert src["quality"] == "demonstration" and DEMO_MARK in src["citation"]
        # two models x targets x seeds; the first model has all nine tasks and the baseline
        n = st.query("SELECT model, count(*) AS n FROM runs WHERE source = 'demo' GROUP BY model ORDER BY model")
        assert dict(n.iter_rows()) == {"xlm-roberta-base": 4 * 2 * 2, "xlm-roberta-large": 10 * 2 * 2}
        dev = st.query("SELECT count(*) AS n FROM dev_scores d JOIN runs u USING (run_id) WHERE u.source = 'demo'")
        assert dev["n"][0] == (9 + 3) * 2 * 2


def test_building_twice_gives_the_same_store(demo_store, tmp_path):
    again = build_demo(tmp_path / "again", targets=("xnli", "tydiqa"), seeds=(1, 2))
    files = sorted(p.name for p in (demo_store / "runs").iterdir())
    assert files == sorted(p.name for p in (again / "runs").iterdir())
    assert build_demo(again, targets=("xnli", "tydiqa"), seeds=(1, 2)) == again  # rebuilding a demo store is fine


def test_a_real_store_is_never_turned_into_a_demo(tmp_path, capsys):
    real = tmp_path / "real"
    with Store.open(real, read_only=False) as st:
        st.write_run(*make_run())
    before = sorted(p.name for p in real.rglob("*"))
    with pytest.raises(StoreError, match="real runs or sources"):
        build_demo(real)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    rc, out, err = run(capsys, "demo", "--store", str(tmp_path / "other"))
    assert rc == 2 and err.startswith("error: ") and "not empty" in err
    assert sorted(p.name for p in real.rglob("*")) == before


def test_paper_exports_refuse_demo_rows_unless_asked(demo_store, capsys):
    for fmt in ("latex", "markdown", "csv"):
        rc, out, err = run(capsys, "export", "--store", str(demo_store), "--format", fmt)
        assert rc == 2 and out == "" and "demonstration data" in err and "--allow-demo" in err
        assert err.count("\n") == 1
    rc, out, _ = run(capsys, "export", "--store", str(demo_store), "--format", "latex", "--allow-demo")
    assert rc == 0
    rows = [line for line in out.splitlines() if " & demo & " in line]
    assert rows and all(line.startswith(DEMO_MARK) for line in rows)
    assert out.startswith(f"% {DEMO_MARK}")
    rc, out, _ = run(capsys, "export", "--store", str(demo_store), "--format", "markdown", "--allow-demo",
                     "--table", "gains")
    assert rc == 0 and out.startswith(f"*{DEMO_MARK}") and "| data |" in out.splitlines()[2]
    # published rows in the same store export as usual, unmarked
    rc, out, _ = run(capsys, "export", "--store", str(demo_store), "--source", "rembert_t16")
    assert rc == 0 and DEMO_MARK not in out


def test_demo_is_a_reserved_source_key(store_dir, tmp_path, capsys):
    Store.open(store_dir, read_only=False).close()
    f = tmp_path / "r.csv"
    f.write_text("model,intermediate,target,language,metric,value\nm,none,xnli,de,accuracy,70\n")
    rc, _, err = run(capsys, "import", str(f), "--store", str(store_dir), "--source", "demo", "--citation", "c",
                     "--locator", "l")
    assert rc == 2 and "reserved" in err
