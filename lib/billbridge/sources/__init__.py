"""Vendor sources: file formats (generic + presets), parsing/validation, month loading, demo vendor.

One library call per front end action (the CLI ``billbridge load`` and the Load month page share
them)::

    from billbridge.store import Store
    from billbridge import sources

    store = Store.open("data/billbridge.db")
    parsed = sources.parse_file(data, "charges.csv", "intermedia", "2026-11")   # preview, problems
    result = sources.load_month(store, "2026-11", data, "charges.csv", "intermedia", vendor="intermedia")
    result.status            # "loaded" | "unchanged" | "invalid"
    sources.problems_csv(result.problems)                                      # download
    sources.load_demo(store, "2026-11")                                        # the demo vendor
    sources.load_month(store, "2026-11", data, "recon.csv", "microsoft")       # Partner Center file
    sources.pull(store, "pax8", "2026-11", draft=False, progress=None)         # a vendor API

Every source (files and APIs) is registered in :mod:`billbridge.sources.registry` (``names()``,
``get(name)``); see :mod:`billbridge.sources.formats` for the canonical columns and every preset's
layout, and the vendor modules (:mod:`.microsoft`, :mod:`.pax8`, :mod:`.sherweb`) for theirs.
"""

from __future__ import annotations

from importlib import resources

from billbridge.sources.demo import DEMO_VENDOR, demo_lines, demo_month, load_demo
from billbridge.sources.formats import CANONICAL_COLUMNS, PRESETS, REQUIRED_COLUMNS, ColumnMapping, preset
from billbridge.sources.load import LoadResult, format_for
from billbridge.sources.parse import ParseResult, Problem, file_columns, problems_csv, resolve_format, typed_lines
from billbridge.sources.registry import (
    EXTRA_COLUMNS,
    Source,
    SourceLines,
    get,
    load_month,
    names,
    parse_file,
    pull,
    register,
)
from billbridge.sources.registry import file_names as format_names
from billbridge.sources.http import VendorAPIError
from billbridge.sources import microsoft, pax8, sherweb  # noqa: E402,F401  (each registers its source)

__all__ = [
    "CANONICAL_COLUMNS", "REQUIRED_COLUMNS", "PRESETS", "ColumnMapping", "preset", "format_names",
    "Problem", "ParseResult", "parse_file", "file_columns", "problems_csv", "resolve_format", "typed_lines",
    "LoadResult", "load_month", "format_for",
    "DEMO_VENDOR", "demo_lines", "demo_month", "load_demo",
    "SAMPLES", "sample_bytes", "sample_files",
    "EXTRA_COLUMNS", "Source", "SourceLines", "register", "get", "names", "pull", "VendorAPIError",
]

#: sample file per format (in ``billbridge/sources/samples/``), all for billing month 2026-11
SAMPLES: dict[str, str] = {
    "generic": "generic.csv",
    "intermedia": "intermedia.csv",
    "interworks": "interworks.csv",
    "phin": "phin.csv",
    "microsoft": "microsoft.csv",  # Partner Center reconciliation CSV (sources.microsoft.demo_csv)
    "microsoft-graph": "microsoft.jsonl.gz",  # the Graph export, gzip JSON lines (demo_jsonl_gz)
}
SAMPLE_MONTH = "2026-11"


def sample_files() -> dict[str, str]:
    """Format name -> sample file name (see :func:`sample_bytes`)."""
    return dict(SAMPLES)


def sample_bytes(name: str) -> bytes:
    """The bytes of a shipped sample: a format name (``"intermedia"``) or a file name."""
    fname = SAMPLES.get(name, name)
    return resources.files("billbridge.sources").joinpath("samples", fname).read_bytes()
