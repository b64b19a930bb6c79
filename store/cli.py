"""`store`: inspect, build, import into, validate, export, push and pull the run store.

Every subcommand takes ``--store PATH`` (default ``$XSTILTS_STORE`` or
``~/.local/share/xstilts/store``); the read-only ones also take ``--store hf://datasets/ORG/NAME``
(pulled into a local cache first). User mistakes print one ``error:`` line and exit 2 with the
store unchanged.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from store.analysis import BENCHMARKS, DEFAULT_BENCHMARK, Filters
from store.api import StoreReader
from store.catalog import load_catalog
from store.database import ENV_VAR, Store
from store.demo import DEFAULT_PATH as DEMO_DEFAULT
from store.errors import StoreError
from store.exports import FORMATS, TABLES, build_table, paper_defaults, render


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one line (plus the hint to --help), exit 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"error: {message} (see `{self.prog} --help`)\n")


def _add_store(p: argparse.ArgumentParser, remote_ok: bool = True) -> None:
    extra = " or hf://datasets/ORG/NAME (pulled into a local cache, read-only)" if remote_ok else ""
    p.add_argument(
        "--store",
        metavar="PATH",
        help=f"store folder{extra} (default: ${ENV_VAR}, else ~/.local/share/xstilts/store)",
    )


def _add_remote(p: argparse.ArgumentParser) -> None:
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--repo", metavar="ORG/NAME", help="Hub dataset repo (ORG/NAME or hf://datasets/ORG/NAME), or file:///path/to/folder")
    g.add_argument("--remote-dir", metavar="PATH", help="a folder used as the remote (e.g. on a cluster's shared file system)")


def _add_filters(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("filters (repeat a flag or separate with commas; default: no filter)")
    g.add_argument("--model", action="append", default=[], help="model id, e.g. xlm-roberta-large")
    g.add_argument("--source", action="append", default=[], help="'runner' or a published source key (see `store info`)")
    g.add_argument("--target", action="append", default=[], help="target task, e.g. xnli")
    g.add_argument("--intermediate", action="append", default=[], help="intermediate task(s), e.g. mnli, none, best")
    g.add_argument("--metric", action="append", default=[], help="metric (default: each target's headline metric)")
    g.add_argument("--split", action="append", default=[], help="test, validation or test-goldonly (BUCC mined among its gold pairs only)")
    g.add_argument(
        "--setting", action="append", default=[],
        help="zero-shot (default), translate-test, translate-train-all: never mixed in one table",
    )
    _add_paper_options(p)


def _add_paper_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("analysis of record")
    g.add_argument("--benchmark", choices=tuple(BENCHMARKS), default=DEFAULT_BENCHMARK,
                   help="whose language sets task averages are over (default: xtreme); a task average needs "
                        "every language of it")
    g.add_argument("--include-capped", action="store_true",
                   help="keep capped (debug) runs, i.e. runs with max_train_examples / max_eval_examples set "
                        "(left out of paper tables and claims by default)")


def _split_values(values: list[str]) -> tuple[str, ...]:
    return tuple(v.strip() for item in values for v in item.split(",") if v.strip())


def _filters(args: argparse.Namespace) -> Filters:
    cat = load_catalog()
    targets = _split_values(args.target)
    for t in targets:
        cat.task(t)
    settings = _split_values(args.setting) or ("zero-shot",)
    if len(settings) > 1:
        raise StoreError("give one --setting: zero-shot and translate-train/test numbers are never mixed")
    metrics = _split_values(args.metric)
    return Filters(
        models=_split_values(args.model),
        sources=_split_values(args.source),
        targets=targets,
        intermediates=_split_values(args.intermediate),
        metrics=metrics,
        splits=_split_values(args.split),
        settings=settings,
        headline_only=not metrics,
        benchmark=args.benchmark,
        include_capped=args.include_capped,
    )


# ---------------------------------------------------------------------- commands
def cmd_info(args: argparse.Namespace) -> int:
    with Store.open(args.store, read_only=True, create=False) as st:
        print(f"store: {st.root}")
        runs, rows = st.counts()
        print(f"{runs} runs, {rows} result rows\n")
        print("sources (every result row traces to one):")
        reader = StoreReader(st)
        for row in reader.sources().sort("source").iter_rows(named=True):
            print(f"  {row['source']:<22} {row['n_results']:>5} rows {row['n_runs']:>4} runs  [{row['quality']}]")
            print(f"      {row['citation']}")
            print(f"      {row['locator']}")
        orphans = reader.orphan_runs()
        if orphans:
            print(f"  WARNING: {orphans} runs name no registered source (run `store validate`)")
        print("\nruns by source and model:")
        by = st.query(
            """
            SELECT source, model, count(DISTINCT run_id) AS runs, count(*) AS rows
            FROM results_wide GROUP BY ALL ORDER BY source, model
            """
        )
        for row in by.iter_rows(named=True):
            print(f"  {row['source']:<22} {row['model']:<30} {row['runs']:>4} runs {row['rows']:>6} rows")
        tasks = st.query("SELECT role, string_agg(task, ' ' ORDER BY task) AS tasks FROM tasks GROUP BY role ORDER BY role")
        print("\ntasks:")
        for row in tasks.iter_rows(named=True):
            print(f"  {row['role']:<13} {row['tasks']}")
        langs = st.query("SELECT count(*) AS n, count(DISTINCT family) AS f FROM languages")
        print(f"\nlanguages: {langs['n'][0]} in {langs['f'][0]} families (Glottolog 5.1, WALS 2020.4; see LANGUAGES.md)")
    return 0


def cmd_build(args: argparse.Namespace) -> int:
    with Store.open(args.store, rebuild=True, create=True) as st:
        runs, rows = st.counts()
    print(f"built {st.index_path}: {runs} runs, {rows} result rows")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from store.demo import DEMO_MARK, build_demo

    root = build_demo(args.store or DEMO_DEFAULT)
    with Store.open(root, read_only=True, create=False) as st:
        runs, rows = st.counts()
    print(f"built a demonstration store in {root}: {runs} runs, {rows} result rows")
    print(f"{DEMO_MARK}: its 'demo' runs are made-up numbers that show what the views do; "
          f"open it with `dashboard --store {root}`")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from store.importer import import_file

    n_runs, n_rows, n_new = import_file(
        args.store, Path(args.file), source=args.source, citation=args.citation, locator=args.locator,
        fraction=args.fraction, notes=args.notes or "", small_values_are_points=args.small_values_are_points,
    )
    print(f"imported {n_rows} rows in {n_runs} runs from {args.file} as source {args.source!r} ({n_new} new)")
    return 0


def _check_output(output: str) -> Path:
    """Refuses an ``-o`` that cannot be written before any work is done."""
    out = Path(output).expanduser()
    if out.is_dir():
        raise StoreError(f"-o {output} is a folder; give a file name inside it, e.g. {out / 'table.csv'}")
    if not out.parent.is_dir():
        raise StoreError(f"-o {output}: folder {out.parent} does not exist; create it or choose another file")
    if (out.exists() and not os.access(out, os.W_OK)) or not os.access(out.parent, os.W_OK | os.X_OK):
        raise StoreError(f"-o {output} is not writable by this user; choose another file")
    return out


def cmd_export(args: argparse.Namespace) -> int:
    if args.format == "parquet" and not args.output:
        raise StoreError("Parquet is binary: give --output FILE.parquet")
    out = _check_output(args.output) if args.output else None
    f = _filters(args)
    with Store.open(args.store, read_only=True, create=False) as st:
        f, chosen = paper_defaults(st, f)
        table = build_table(st, args.table, f)
    if table.demo and not args.allow_demo:
        raise StoreError(
            "this table holds demonstration data (source 'demo', made-up numbers from `store demo`), not results; "
            "leave it out with --source, or pass --allow-demo to export it marked as such"
        )
    if chosen:
        print(f"note: one model and one split unless asked: {' '.join(chosen)} (give --model / --split to choose; "
              "the caption says which)", file=sys.stderr)
    data = render(table, args.format)
    if args.format in ("csv", "parquet"):  # Markdown and LaTeX carry the caption and notes themselves
        for note in (table.caption, *table.notes):
            print(f"note: {note}", file=sys.stderr)
    if out is not None:
        try:
            out.write_bytes(data)
        except OSError as e:
            raise StoreError(f"cannot write -o {args.output}: {e.strerror or e}; choose another file") from None
        print(f"wrote {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(data.decode())
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    from store.validation import validate_store

    problems = validate_store(args.store, rebuild=args.rebuild, fix=args.fix)
    for p in problems:
        print(f"problem: {p}")
    if problems:
        print(f"{len(problems)} problem(s) found")
        return 1
    print("store is valid: every shard readable, valid against the catalog and in the index")
    return 0


def cmd_claims(args: argparse.Namespace) -> int:
    from store.claims import evaluate, load_claims, missing_commands, render, select

    claims = load_claims()
    select(claims, args.claim)  # unknown ids fail before the store is opened
    with Store.open(args.store, read_only=True, create=False) as st:
        results = evaluate(st, claims, ids=args.claim, model=args.model, include_capped=args.include_capped)
    if args.commands:
        sys.stdout.write("".join(f"{cmd}\n" for cmd in missing_commands(results)))
    else:
        sys.stdout.write(render(results, args.format))
    return 0


def cmd_distances(args: argparse.Namespace) -> int:
    from store.catalog import load_distances
    from store.uriel import DISTANCES_FILE, compute_distances, write_distances

    data = compute_distances(progress=lambda line: print(line, file=sys.stderr))
    kinds = list(data["kinds"])
    print(f"URIEL+ distance to {data['reference_language']} (urielplus {data['package_version']}; null: no shared feature)")
    print("language " + " ".join(f"{k[:13]:>13}" for k in kinds))
    for row in data["languages"]:
        print(f"{row['language']:<8} " + " ".join("         null" if row[k] is None else f"{row[k]:>13.4f}" for k in kinds))
    shipped = load_distances()
    changed = sum(
        row[k] != shipped.values.get(row["language"], {}).get(k) for row in data["languages"] for k in kinds
    )
    if args.write:
        write_distances(data)
        print(f"wrote {DISTANCES_FILE} ({len(data['languages'])} languages; {changed} values changed)")
    else:
        print(f"{changed} values differ from {DISTANCES_FILE.name} (urielplus {shipped.package_version}); --write replaces it")
    return 0


def _remote_arg(args: argparse.Namespace):
    return Path(args.remote_dir) if args.remote_dir else args.repo


def cmd_push(args: argparse.Namespace) -> int:
    from store.sync import push, push_run

    if args.run:
        for run_id in _split_values(args.run):
            pushed = push_run(args.store, run_id, _remote_arg(args))
            print(f"{'pushed' if pushed else 'already there:'} run {run_id}")
        return 0
    r = push(args.store, _remote_arg(args), message=args.message or "", private=args.private)
    if r.commits:
        print(f"pushed {r.new_runs} new runs and {r.new_sources} sources to {r.remote} in 1 commit "
              f"({r.already} files already there; catalog, tables and card cover {r.snapshot_runs} runs)")
    else:
        print(f"{r.remote} is up to date: nothing to push ({r.already} files already there)")
    return 0


def cmd_pull(args: argparse.Namespace) -> int:
    from store.sync import pull

    r = pull(_remote_arg(args), args.store)
    print(f"pulled {r.new_runs} new runs and {r.new_sources} sources from {r.remote} into {r.store} "
          f"({r.already} files already there)")
    print(f"index rebuilt: {r.runs} runs, {r.result_rows} result rows")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="store", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("info", help="what the store holds: sources, runs by source and model, tasks, languages")
    _add_store(p)
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("build", help="(re)build the index from the catalog, published results and run shards")
    _add_store(p)
    p.set_defaults(func=cmd_build)

    p = sub.add_parser(
        "demo",
        help="build a demonstration store of made-up runs (source 'demo') so that every view has something to show",
        description=(
            "Writes a clearly synthetic store: for two models, every intermediate task and the none baseline on "
            "every target, three seeds, per-language numbers generated from a fixed pattern plus noise (source "
            "'demo'). The dashboard marks every page and export of it 'demonstration data, not results'; "
            "`store export` refuses its rows without --allow-demo. Refuses a folder that holds a real store."
        ),
    )
    p.add_argument("--store", metavar="PATH", help=f"a new folder for it (default: {DEMO_DEFAULT})")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser(
        "import",
        help="import a results file (CSV or Parquet, long format) under a source you cite",
        description=(
            "Long format, one row per number. Required columns: model, intermediate, target, language, "
            "metric, value. Optional: split (test), seed, variant, setting (zero-shot), n_examples. "
            "Rows with the same model, intermediate, target, variant, setting and seed form one run."
        ),
    )
    _add_store(p, remote_ok=False)
    p.add_argument("file", help="CSV or Parquet file")
    p.add_argument("--source", required=True, help="short key for this source, e.g. smith2024_table3")
    p.add_argument("--citation", required=True, help="who published it, e.g. 'Smith et al. 2024, Table 3'")
    p.add_argument("--locator", required=True, help="where exactly: table, or repository and path")
    p.add_argument("--notes", help="anything a reader must know about these numbers")
    p.add_argument("--fraction", action="store_true", help="values are fractions 0-1: multiply by 100 (recorded)")
    p.add_argument("--small-values-are-points", action="store_true",
                   help="import values of at most 1 as points although they look like fractions (refused otherwise)")
    p.set_defaults(func=cmd_import)

    p = sub.add_parser(
        "export",
        help="paper tables: matrix, per-language, gains or paired as CSV, Parquet, Markdown or LaTeX",
        description="Tables: matrix (intermediate x target), per-language, gains (over the none baseline), "
        "paired (per language, each run with predictions against its baseline example by example: "
        "delta with a paired-bootstrap 95%% interval, exact McNemar for accuracy, bootstrap p for F1/EM/retrieval).",
    )
    _add_store(p)
    p.add_argument("--table", choices=TABLES, default="matrix", help="which table (default: matrix)")
    p.add_argument("--format", choices=FORMATS, default="markdown", help="output format (default: markdown)")
    p.add_argument("--output", "-o", metavar="FILE", help="write here instead of standard output")
    p.add_argument("--allow-demo", action="store_true",
                   help="export demonstration rows (source 'demo', made up by `store demo`), marked as such")
    _add_filters(p)
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("validate", help="check every shard against the catalog and the index against the shards")
    _add_store(p)
    p.add_argument("--rebuild", action="store_true", help="rebuild the index first")
    p.add_argument("--fix", action="store_true",
                   help="remove temporary files left by killed writers (never a running writer's)")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser(
        "claims",
        help="check the study's claims against the store: verdict, value with 95%% interval, runs used and missing",
        description=(
            "Evaluates each claim of store/data/catalog/claims.json on the store: supported, contradicted or "
            "not enough evidence (rule: store/claims.py), the measured value with a two-level bootstrap 95% interval "
            "(seeds; languages within each task), the split, benchmark and tasks it refers to, the runs used and "
            "the `runner run` commands for the runs still missing. Each check names its benchmark (XTREME unless "
            "the claim says otherwise); capped (debug) runs are left out unless --include-capped."
        ),
    )
    _add_store(p)
    p.add_argument("--format", choices=("text", "markdown", "json", "latex"), default="text", help="output format (default: text)")
    p.add_argument("--claim", action="append", metavar="ID", help="only this claim: its id or number (c1 or 1); repeatable")
    p.add_argument("--model", help="whose runs to evaluate (default: each claim's model, xlm-roberta-large)")
    p.add_argument("--commands", action="store_true", help="print only the runner commands of the missing runs, one per line")
    p.add_argument("--include-capped", action="store_true",
                   help="also use capped (debug) runs (max_train_examples / max_eval_examples set); left out by default")
    p.set_defaults(func=cmd_claims)

    p = sub.add_parser(
        "distances",
        help="maintainers: recompute each catalog language's URIEL+ distance to English (needs urielplus)",
        description=(
            "Computes every catalog language's URIEL+ distance to English of every kind with the urielplus "
            "package (a dev dependency; configuration in store/uriel.py) and prints it beside the shipped data "
            "file store/data/catalog/uriel_distances.json. --write replaces that file (then `store build`). "
            "The store and the dashboard read only the file."
        ),
    )
    p.add_argument("--write", action="store_true", help="write store/data/catalog/uriel_distances.json")
    p.set_defaults(func=cmd_distances)

    p = sub.add_parser(
        "push",
        help="publish the store to a Hub dataset repo (or a folder) in one commit",
        description=(
            "Uploads every run shard and source the remote lacks (never replacing one), the catalog, "
            "a snapshot of the tables and a dataset card, in one commit. A run already on the remote "
            "with different results is a conflict: nothing is pushed. The token comes from HF_TOKEN "
            "or `hf auth login`."
        ),
    )
    _add_store(p, remote_ok=False)
    _add_remote(p)
    p.add_argument("--run", action="append", default=[], metavar="RUN_ID",
                   help="push only this run's own shard (repeat or separate with commas)")
    p.add_argument("--message", "-m", help="commit message")
    p.add_argument("--private", action="store_true", help="create the Hub repo as private if it does not exist")
    p.set_defaults(func=cmd_push)

    p = sub.add_parser(
        "pull",
        help="bring a Hub dataset repo (or a folder) into a local store and rebuild its index",
        description="Downloads only the shards and sources the store lacks, verifies each by content hash, "
        "links them in atomically and rebuilds the index. Local runs are never replaced.",
    )
    _add_store(p, remote_ok=False)
    _add_remote(p)
    p.set_defaults(func=cmd_pull)
    return parser


_LOCAL_ONLY = ("import", "push", "pull", "demo")


def _resolve_remote_store(args: argparse.Namespace) -> None:
    """Replaces ``--store hf://datasets/ORG/NAME`` by its pulled local cache folder."""
    from store.remote import is_remote_store

    if not is_remote_store(getattr(args, "store", None)):
        return
    if args.command in _LOCAL_ONLY:
        raise StoreError(
            f"`store {args.command}` needs a local store; `store pull --repo {args.store}` copies one, "
            "work on it, then `store push`"
        )
    from store.sync import resolve_store

    args.store = str(resolve_store(args.store))


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        _resolve_remote_store(args)
        return args.func(args)
    except StoreError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
