"""Every page on the demo month speaks plain words (AppTest): no "None"/"nan", no snake_case codes,
no Python lists or dicts, no ids written "2.0", in any text, metric or table a person reads."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from apptest_util import open_page
from billbridge import demo_world, push
from billbridge import month as mo
from billbridge.store import Store
from test_review_store import demo_two_months

MONTH = demo_world.MONTHS[-1]  # the newest month the demo vendor bills
PAGES = ["load_month.py", "timeline.py", "mappings.py", "reconcile.py", "sync_status.py", "month_review.py",
         "agreements.py"]
MISSING = re.compile(r"\b(None|nan|NaN|NaT)\b|<NA>")
CODE = re.compile(r"\b[a-z]+(?:_[a-z]+)+\b")  # low_margin, unmapped_customer, company_id
REPR = re.compile(r"\[\s*'|\{\s*'|\(\s*'")  # ['a'], {'k': ..}, ('a',)
FLOAT_ID = re.compile(r"-?\d+\.0")  # an id or a quantity written 2.0
#: words that legitimately look like codes on these pages (a JSON request body, file names)
ALLOWED = {"vendor_customer_id", "vendor_customer_name", "unit_cost", "charge_type"}  # the generic format's columns


@pytest.fixture(scope="module")
def demo_month(tmp_path_factory):
    """Two demo months mapped and planned, and one push of the ready rows (so Sync status has runs)."""
    import os

    from billbridge.config import load_config
    from billbridge.runtime import connect

    db = tmp_path_factory.mktemp("words") / "data" / "billbridge.db"
    old = {k: os.environ.get(k) for k in ("BILLBRIDGE_DB", "CW_SITE")}
    os.environ["BILLBRIDGE_DB"] = str(db)
    os.environ.pop("CW_SITE", None)
    conn = connect(load_config(None))
    store = Store.open(db)
    plans = demo_two_months(store, conn.client, MONTH)
    from billbridge import store as st_

    customer = st_.get_mappings(store, "company", "demo")["vendor_customer_id"].iloc[-1]
    st_.set_mappings(store, "rule", "demo", [{"vendor_customer_id": customer, "rule": "do_not_sync"}])
    plans[MONTH] = mo.build_plan(store, MONTH)
    plan, plan_id = plans[MONTH]
    ready = plan.rows[plan.rows["action"].isin(["update", "create", "cancel"])].head(4)
    push.push(store, conn.client, ready, month=MONTH, plan_id=plan_id)
    mo.refresh_snapshot(store, conn.client, MONTH)
    mo.build_plan(store, MONTH)
    store.close()
    yield db
    conn.close()
    if conn.sandbox is not None:
        conn.sandbox.stop()
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


def _plain(text: str) -> str:
    """Markdown source as it reads on screen: escapes and word joiners gone, icons and JSON code left out."""
    text = re.sub(r":material/[a-z_]+:", "", str(text)).replace("\u2060", "")
    return re.sub(r"\\(.)", r"\1", text)


def _texts(at) -> list[str]:
    out = []
    for kind in ("title", "header", "subheader", "markdown", "caption", "info", "warning", "error", "success", "toast"):
        out += [_plain(e.value) for e in getattr(at, kind)]
    for m in at.metric:
        out += [_plain(m.label), str(m.value), str(m.proto.body)]
    for kind in ("button", "checkbox", "selectbox", "multiselect", "number_input", "text_input", "toggle"):
        for w in getattr(at, kind):
            out.append(_plain(w.label))
            if kind in ("selectbox", "multiselect"):
                out += [_plain(o) for o in w.options]
    return out


def _frame_problems(element) -> list[str]:
    """What a person would read wrong in a table: its headers (the column config's label when it
    has one) and its cells, in the columns it shows."""
    import json

    df = element.value
    config = json.loads(element.proto.columns or "{}")
    order = list(element.proto.column_order) or list(df.columns)
    shown = [c for c in order if c in df.columns and (config.get(c) or {}).get("hidden") is not True]
    headers = {c: (config.get(c) or {}).get("label") or c for c in shown}
    bad = [f"header {h!r}" for h in headers.values() if "_" in str(h) or MISSING.search(str(h))]
    index = config.get("_index") or {}
    if df.index.name and not index.get("hidden") and "_" in str(index.get("label") or df.index.name):
        bad.append(f"index header {df.index.name!r}")  # an index a page shows is a column too
    for c in shown:
        options = ((config.get(c) or {}).get("type_config") or {}).get("options") or []
        shown_as = {o["value"]: o.get("label", o["value"]) for o in options if isinstance(o, dict)}
        for v in df[c].map(lambda x: shown_as.get(x, x) if isinstance(x, str) else x):
            if v is None or (isinstance(v, float) and v != v) or v is pd.NA:
                bad.append(f"missing value in {c!r}")
                break
            s = str(v)
            if MISSING.fullmatch(s) or REPR.search(s) or FLOAT_ID.fullmatch(s) or (CODE.fullmatch(s) and s not in ALLOWED):
                bad.append(f"{c!r}: {s!r}")
                break
    return bad


@pytest.mark.parametrize("page", PAGES)
def test_every_page_on_the_demo_month_reads_in_plain_words(demo_month, monkeypatch, page):
    monkeypatch.setenv("BILLBRIDGE_DB", str(demo_month))
    monkeypatch.delenv("CW_SITE", raising=False)
    at = open_page(page, state={"billing_month": MONTH}, timeout=90)
    assert not at.exception, at.exception
    problems = []
    for text in _texts(at):
        if MISSING.search(text):
            problems.append(f"text: {text[:120]!r}")
        for code in CODE.findall(text):
            if code not in ALLOWED:
                problems.append(f"code {code!r} in {text[:120]!r}")
    for df in at.dataframe:
        problems += _frame_problems(df)
    assert not problems, "\n".join(problems[:40])
