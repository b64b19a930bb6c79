"""Maintainer tool: each catalog language's URIEL+ distance to English, computed with ``urielplus``.

This is the only module that imports ``urielplus`` (a ``dev`` dependency), and only inside
:func:`compute_distances`. It writes ``store/data/catalog/uriel_distances.json``; the store and
the dashboard read that file (through the index), never the package. Run it after upgrading
``urielplus`` or changing the catalog's languages::

    store distances            # compute and print, compare with the shipped file
    store distances --write    # compute and (re)write the data file

Configuration (recorded in the file): URIEL+ as its README integrates it, every database but
eWAVE (features of English dialects only) and APiCS (76 pidgins and creoles), i.e. SAPHON,
BDPROTO, Grambank and Glottolog; languages are then identified by Glottocode (the catalog's
``glottocode`` column). Distances are the package's defaults: angular distance (0-1) over the
features both languages have, union aggregation over sources, missing values filled from the
parent language; no imputation (it needs optional extras and is not deterministic across them).
A language with no shared feature of a kind with English has a null distance of that kind.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from importlib import metadata
from pathlib import Path

from store.catalog import CATALOG_DIR, DISTANCE_KINDS, DISTANCES_FILE_NAME, load_catalog
from store.errors import StoreError

DISTANCES_FILE = CATALOG_DIR / DISTANCES_FILE_NAME
REFERENCE_LANGUAGE = "en"
DATABASES = ("UPDATED_SAPHON", "BDPROTO", "GRAMBANK", "GLOTTOLOG")
CITATION = (
    "Khan, Shipton, Anugraha, Duan, Hoang, Khiu, Doğruöz and Lee (2025). URIEL+: Enhancing Linguistic "
    "Inclusion and Usability in a Typological and Multilingual Knowledge Base. COLING 2025, pp. 6937-6952. "
    "https://aclanthology.org/2025.coling-main.463/"
)
BASE_CITATION = (
    "Littell, Mortensen, Lin, Kairis, Turner and Levin (2017). URIEL and lang2vec: Representing languages "
    "as typological, geographical, and phylogenetic vectors. EACL 2017, pp. 8-14. https://aclanthology.org/E17-2002/"
)
KIND_DESCRIPTIONS = {
    "syntactic": "S_ features (WALS, SSWL, Ethnologue; Grambank in URIEL+)",
    "phonological": "P_ features (WALS, Ethnologue)",
    "inventory": "INV_ features: phoneme inventories (PHOIBLE; SAPHON, BDPROTO in URIEL+)",
    "featural": "every typological feature together (S_, P_, INV_, M_)",
    "morphological": "M_ features (Grambank in URIEL+)",
    "genetic": "membership in every node of the language's family tree (Glottolog)",
    "geographic": "distances to fixed points on the globe from the language's coordinates",
    "script": "the writing systems the language is written in",
}


def package_version() -> str:
    """The installed urielplus version; StoreError (one line) when it is not installed."""
    try:
        return metadata.version("urielplus")
    except metadata.PackageNotFoundError as e:
        raise StoreError(
            "urielplus is not installed: it is a maintainer dependency; pip install -e '.[dev]' (or pip install urielplus)"
        ) from e


def load_uriel(databases: Iterable[str] = DATABASES):
    """A URIELPlus object configured as this module documents (integration takes a minute or two)."""
    package_version()
    from urielplus import urielplus

    logging.getLogger().setLevel(max(logging.getLogger().level, logging.WARNING))  # it logs every step at INFO
    u = urielplus.URIELPlus()
    u.integrate_custom_databases(*databases)
    return u


def distance_or_none(u, kind: str, code: str, reference: str) -> float | None:
    """URIEL+'s ``new_distance`` between two languages, None where the package has no shared feature.

    The package rounds to 4 decimals in float32; the value is rounded again as a Python float so
    that the file holds 0.0896, not 0.08959999680519104. English against itself is 0 where English
    has features of the kind, None where it has none (as for any other language).
    """
    try:
        value = float(u.new_distance(kind, reference, code))
    except ValueError:  # unknown language, or no shared feature of this kind
        return None
    return 0.0 if code == reference else round(value, 4)  # arccos of a rounded 1.0 can leave 0.0003


def compute_distances(
    progress: Callable[[str], None] | None = None, kinds: Iterable[str] = DISTANCE_KINDS
) -> dict:
    """Every catalog language's distance to English of every kind, with version and citation.

    Returns:
        The content of the data file (see :data:`DISTANCES_FILE`).
    """
    version = package_version()
    cat = load_catalog()
    u = load_uriel()
    known = set(u.langs[0].tolist())
    ref = cat.language(REFERENCE_LANGUAGE).glottocode
    rows = []
    for lang in cat.languages.values():
        code = lang.glottocode if lang.glottocode in known else None
        row: dict[str, object] = {"language": lang.code, "uriel_code": code}
        for kind in kinds:
            row[kind] = None if code is None else distance_or_none(u, kind, code, ref)
        rows.append(row)
        if progress:
            progress(f"{lang.code} {code}: " + " ".join(f"{k}={row[k]}" for k in kinds))
    return {
        "what": f"URIEL+ distance of each catalog language to English ({REFERENCE_LANGUAGE}, {ref}), per kind",
        "package": "urielplus",
        "package_version": version,
        "citation": CITATION,
        "base_citation": BASE_CITATION,
        "license": "CC BY-SA 4.0 (URIEL+ data)",
        "command": "store distances --write",
        "configuration": {
            "databases": list(DATABASES),
            "codes": "glottocode (catalog column glottocode)",
            "distance_metric": u.get_distance_metric(),
            "aggregation": u.get_aggregation(),
            "fill_with_base_lang": u.get_fill_with_base_lang(),
            "imputation": "none",
        },
        "reference_language": REFERENCE_LANGUAGE,
        "reference_code": ref,
        "kinds": {k: KIND_DESCRIPTIONS[k] for k in kinds},
        "languages": rows,
    }


def write_distances(data: dict, path: Path = DISTANCES_FILE) -> None:
    """Writes the data file (stable key order, one language per line for readable diffs)."""
    head = {k: v for k, v in data.items() if k != "languages"}
    lines = ",\n".join("  " + json.dumps(r, ensure_ascii=False) for r in data["languages"])
    body = json.dumps(head, indent=1, ensure_ascii=False)[:-2]
    tmp = path.with_suffix(".tmp")
    tmp.write_text(f'{body},\n "languages": [\n{lines}\n ]\n}}\n', encoding="utf-8")
    json.loads(tmp.read_text(encoding="utf-8"))  # never ship a file that does not parse
    tmp.replace(path)
