"""Mappings page pieces: the unmapped queue, the four editor grids and saving their edits.

Grids are DataFrames indexed by the database key (``vendor|...``), with ConnectWise pickers as
"Name (id)" labels. Saving reads the editor's edit state (``edited_rows`` by position,
``added_rows``, ``deleted_rows``), translates positions through the frame's index and labels back to
ids, and writes through :mod:`billbridge.store` in one transaction per kind.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pandas as pd
import streamlit as st

import billbridge_ui as ui

from billbridge import mappings as mp
from billbridge import store as bst
from billbridge.model import MAPPING_DEFAULTS, label
from billbridge.model import labels as label_list
from billbridge_ui.tables import display_frame, qty_text

SEP = "|"
#: what a grid's ConnectWise picker shows for an item not mapped yet (choosing it removes a mapping);
#: an editor shows a grey "None" for an empty pick
UNMAPPED = "(not mapped)"
_ID = re.compile(r"\((\d+)\)(?: \[[^\]]*\])?$")


def label_id(label: Any) -> int | None:
    """'Acme Dental Group (1)' / 'X (4) [inactive]' -> 1 / 4; blank -> None."""
    if label is None or (isinstance(label, float) and label != label) or not str(label).strip():
        return None
    m = _ID.search(str(label).strip())
    return int(m.group(1)) if m else None




def _labels(choices: pd.DataFrame, id_col: str) -> dict[int, str]:
    return dict(zip(choices[id_col], choices["label"]))


# ------------------------------------------------------------------------------------ queue
def queue(sug: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """The unmapped queue: best candidate per unmapped item, biggest vendor dollars first.

    Index ``kind|vendor|item``; columns pick, kind, vendor, item, candidate, score, method, flags,
    at_stake, reason (+ hidden ids used on accept/create).
    """
    parts = []
    c = sug["companies"].groupby(["vendor", "vendor_customer_id"], sort=False).head(1)
    if len(c):
        parts.append(pd.DataFrame({
            "kind": "company", "vendor": c["vendor"], "item": c["vendor_customer_name"] + " (" + c["vendor_customer_id"] + ")",
            "candidate": [f"{n} ({i})" if i is not None and i == i else "" for n, i in zip(c["company_name"], c["company_id"])],
            "score": c["score"], "method": c["method"], "flags": c["flags"], "dollars": c["dollars"], "reason": c["reason"],
            "_currency": c["currency"] if "currency" in c else None,
            "_key": "company" + SEP + c["vendor"] + SEP + c["vendor_customer_id"], "_id": c["company_id"],
            "_name": c["vendor_customer_name"], "_sku": None, "_term": None, "_freq": None, "_company": None}))
    a = sug["agreements"].groupby(["vendor", "vendor_customer_id"], sort=False).head(1)
    if len(a):
        parts.append(pd.DataFrame({
            "kind": "agreement", "vendor": a["vendor"], "item": a["vendor_customer_name"] + " (" + a["vendor_customer_id"] + ")",
            "candidate": [f"{n} ({i})" if i is not None and i == i else "" for n, i in zip(a["agreement_name"], a["agreement_id"])],
            "score": a["score"], "method": a["method"], "flags": a["flags"], "dollars": a["dollars"], "reason": a["reason"],
            "_currency": a["currency"] if "currency" in a else None,
            "_key": "agreement" + SEP + a["vendor"] + SEP + a["vendor_customer_id"], "_id": a["agreement_id"],
            "_name": a["vendor_customer_name"], "_sku": None, "_term": None, "_freq": None, "_company": a["company_id"]}))
    p = sug["products"].groupby(["vendor", "sku", "term", "billing_frequency"], sort=False, dropna=False).head(1)
    if len(p):
        parts.append(pd.DataFrame({
            "kind": "product", "vendor": p["vendor"],
            "item": [" · ".join(x for x in (str(sku), f"{label(t, 'value') or 'any'} term", str(n or "")) if x)
                     for sku, t, n in zip(p["sku"], p["term"], p["product_name"])],
            "candidate": [f"{n} ({i})" if i is not None and i == i else "" for n, i in zip(p["catalog_identifier"], p["catalog_item_id"])],
            "score": p["score"], "method": p["method"], "flags": p["flags"], "dollars": p["dollars"], "reason": p["reason"],
            "_currency": p["currency"] if "currency" in p else None,
            "_key": "product" + SEP + p["vendor"] + SEP + p["sku"] + SEP + p["term"].fillna("") + SEP + p["billing_frequency"].fillna(""),
            "_id": p["catalog_item_id"], "_name": p["product_name"], "_sku": p["sku"], "_term": p["term"],
            "_freq": p["billing_frequency"], "_company": None}))
    if not parts:
        return pd.DataFrame(columns=list(QUEUE_COLUMNS))
    q = pd.concat(parts, ignore_index=True)
    q["flags"] = q["flags"].map(lambda f: label_list(f, "match_flag") if isinstance(f, (tuple, list)) else "")
    q["method"] = q["method"].map(lambda m: "" if m is None or m != m else str(m))
    q["score"] = q["score"].fillna(0).astype(int)
    q["_dollars"] = q["dollars"].map(lambda d: Decimal(str(d)) if d is not None and d == d else Decimal(0))
    q["_currency"] = q["_currency"].map(lambda c: c if isinstance(c, str) and c else "USD")
    q = q.sort_values(["_dollars", "score"], ascending=[False, False], kind="stable")  # compared, never added
    q["at_stake"] = [ui.money(d, c) if "," not in c else "" for d, c in zip(q["_dollars"], q["_currency"])]
    q["vendor_name"] = q["vendor"].map(ui.vendor_label)
    q.insert(0, "pick", False)
    q["kind_label"] = q["kind"].map(lambda k: label(k, "value"))
    return q.drop(columns=["dollars"]).set_index("_key")


#: the queue as the page shows it: the dollars at stake, what, the candidate, its score with its warning
#: right beside it, then the details (narrow screens scroll the details, not the decision)
QUEUE_COLUMNS = ("pick", "at_stake", "item", "candidate", "score", "flags", "kind_label", "vendor_name", "method",
                 "reason")


def queue_column_config() -> dict[str, Any]:
    """How the page draws the queue: headers in words, widths in pixels so the decision columns
    (dollars, item, candidate, score and its warning) fit a 1024-pixel laptop with the sidebar open."""
    return {
        # widths in pixels: the decision columns fit a 1024-pixel laptop with the sidebar open
        "pick": st.column_config.CheckboxColumn("Pick", help="Tick rows to accept or create", width=54),
        "at_stake": st.column_config.TextColumn("$ at stake", width=82, help="Vendor dollars this month"),
        "item": st.column_config.TextColumn("Vendor item", width=140),
        "candidate": st.column_config.TextColumn("Best candidate", width=122,
                                                 help="The best ConnectWise match found"),
        "score": st.column_config.ProgressColumn("Score", min_value=0, max_value=100, format="%d", width=62),
        "flags": st.column_config.TextColumn("Check first", width=105,
                                             help="Why this candidate must not be accepted blindly (cancelled, "
                                                  "prospect, child agreement, recycle bin, tie …)"),
        "kind_label": st.column_config.TextColumn("Kind", width="small"),
        "vendor_name": st.column_config.TextColumn("Vendor", width="small"),
        "method": st.column_config.TextColumn("Found by", width="small"),
        "reason": st.column_config.TextColumn("Why", width="large"),
    }


def history_frame(hist: pd.DataFrame) -> pd.DataFrame:
    """Mapping history for people: when, who, what changed from what to what, in words."""
    def values(d: Any) -> str:
        if not isinstance(d, dict):
            return ""
        return "; ".join(f"{label(k, 'column')}: {label(v, 'value') if isinstance(v, str) and '_' in v else v}"
                         for k, v in d.items() if v is not None and v == v and k not in ("updated_at", "updated_by"))

    def item(k: Any, kind: str) -> str:
        if not isinstance(k, list):
            return k or ""
        return " · ".join(label(str(x), "column") if kind == "setting" else str(x) for x in k if x)  # a setting's name

    view = hist.assign(key=[item(k, kind) for k, kind in zip(hist["key"], hist["kind"])],
                       old=hist["old"].map(values), new=hist["new"].map(values),
                       kind=hist["kind"].map(lambda k: label(k, "value")))
    return display_frame(view, ["changed_at", "changed_by", "kind", "vendor", "key", "change", "old", "new", "source"],
                         rename={"key": "Item", "change": "Change"})


def picked(q: pd.DataFrame, editor_key: str) -> pd.DataFrame:
    """Rows of the queue ticked in the editor (edit state read by position)."""
    state = st.session_state.get(editor_key) or {}
    pos = [int(i) for i, ch in (state.get("edited_rows") or {}).items() if ch.get("pick")]
    return q.iloc[[p for p in pos if p < len(q)]]


def accept_rows(store: bst.Store, rows: pd.DataFrame) -> int:
    """Record the queue's candidates for the picked rows (rows without a candidate are skipped)."""
    n = 0
    for r in rows.reset_index().to_dict("records"):
        if r["_id"] is None or r["_id"] != r["_id"]:
            continue
        vendor, cust = r["vendor"], r["_key"].split(SEP)[2]
        if r["kind"] == "company":
            n += bst.set_mappings(store, "company", vendor, [{"vendor_customer_id": cust, "vendor_customer_name": r["_name"],
                                                              "company_id": int(r["_id"])}], source="suggestion")
        elif r["kind"] == "agreement":
            n += bst.set_mappings(store, "agreement", vendor, [{"vendor_customer_id": cust, "agreement_id": int(r["_id"]),
                                                                "sync_mode": MAPPING_DEFAULTS["sync_mode"],
                                                                "period_rule": MAPPING_DEFAULTS["period_rule"]}],
                                  source="suggestion")
        else:
            n += bst.set_mappings(store, "product", vendor, [{"sku": r["_sku"], "term": r["_term"], "billing_frequency": r["_freq"],
                                                              "product_name": r["_name"], "catalog_item_id": int(r["_id"]),
                                                              "own_cost": MAPPING_DEFAULTS["own_cost"],
                                                              "own_price": MAPPING_DEFAULTS["own_price"],
                                                              "quantity_basis": mp.QUANTITY_BASES[0]}], source="suggestion")
    return n


def creation_rows(rows: pd.DataFrame, snapshot: dict[str, Any], month: str) -> tuple[list[dict], list[str]]:
    """Creation plan rows for picked queue rows (company, agreement or catalog item) + problems."""
    out, problems = [], []
    for r in rows.reset_index().to_dict("records"):
        vendor, cust = r["vendor"], r["_key"].split(SEP)[2]
        try:
            if r["kind"] == "company":
                out += mp.company_creation(vendor, cust, r["_name"], snapshot)
            elif r["kind"] == "agreement":
                out += mp.agreement_creation(vendor, cust, int(r["_company"]), snapshot, month, vendor_customer_name=r["_name"])
            else:
                out += mp.catalog_creation(vendor, r["_sku"], r["_name"] or r["_sku"], snapshot, term=r["_term"],
                                           billing_frequency=r["_freq"])
        except mp.CreationError as exc:
            problems.append(f"{r['item']}: {exc}")
    return out, problems


# ------------------------------------------------------------------------------------ grids
def only(frame: pd.DataFrame, vendor: str | None) -> pd.DataFrame:
    """The rows of one vendor (every row for None): the sidebar's vendor filter."""
    return frame if vendor is None or "vendor" not in frame.columns else frame[frame["vendor"] == vendor]


def suggestions_for(sug: dict[str, pd.DataFrame], vendor: str | None) -> dict[str, pd.DataFrame]:
    return {k: only(v, vendor) for k, v in sug.items()}


def _at_stake(df: pd.DataFrame) -> list[str]:
    cur = df["currency"] if "currency" in df.columns else pd.Series("USD", index=df.index)
    return [ui.money(d, c) if isinstance(c, str) and "," not in c else "" for d, c in zip(df["dollars"], cur)]


def company_grid(store: bst.Store, month: str, choices: pd.DataFrame, vendor: str | None = None) -> pd.DataFrame:
    vc = only(mp.vendor_customers(store, month), vendor)
    cm = bst.get_mappings(store, "company")
    df = vc.merge(cm[["vendor", "vendor_customer_id", "company_id", "updated_by", "updated_at"]],
                  on=["vendor", "vendor_customer_id"], how="left")
    labels = _labels(choices, "company_id")
    flags = dict(zip(choices["company_id"], choices["flags"]))
    df["company"] = [labels.get(int(i), f"missing in ConnectWise ({int(i)})") if i == i and i is not None else UNMAPPED
                     for i in df["company_id"]]
    df["state"] = [(label_list(flags.get(int(i), ("missing",)), "match_flag") or "Active") if i == i and i is not None
                   else "Not mapped" for i in df["company_id"]]
    df["at_stake"] = _at_stake(df)
    df.index = df["vendor"] + SEP + df["vendor_customer_id"]
    return _blank(df[["vendor", "vendor_customer_id", "vendor_customer_name", "at_stake", "company", "state", "updated_by",
                      "updated_at"]], ["vendor_customer_name", "updated_by", "updated_at"])


def agreement_grid(store: bst.Store, month: str, choices: pd.DataFrame, vendor: str | None = None) -> pd.DataFrame:
    vc = only(mp.vendor_customers(store, month), vendor)
    am = bst.get_mappings(store, "agreement")
    am = am[am["subscription_id"].isna()]
    df = vc.merge(am[["vendor", "vendor_customer_id", "agreement_id", "sync_mode", "period_rule", "updated_by", "updated_at"]],
                  on=["vendor", "vendor_customer_id"], how="left")
    labels = _labels(choices, "agreement_id")
    flags = dict(zip(choices["agreement_id"], choices["flags"]))
    has = [i is not None and i == i for i in df["agreement_id"]]
    df["agreement"] = [labels.get(int(i), f"missing in ConnectWise ({int(i)})") if h else UNMAPPED
                       for i, h in zip(df["agreement_id"], has)]
    df["state"] = [(label_list(flags.get(int(i), ("missing",)), "match_flag") or "Active") if h else "Not mapped"
                   for i, h in zip(df["agreement_id"], has)]
    df["sync_mode"] = df["sync_mode"].where(df["sync_mode"].notna(), MAPPING_DEFAULTS["sync_mode"])
    df["period_rule"] = df["period_rule"].where(df["period_rule"].notna(), MAPPING_DEFAULTS["period_rule"])
    df.index = df["vendor"] + SEP + df["vendor_customer_id"]
    return _blank(df[["vendor", "vendor_customer_id", "vendor_customer_name", "agreement", "state", "sync_mode", "period_rule",
                      "updated_by", "updated_at"]], ["vendor_customer_name", "updated_by", "updated_at"])


def product_grid(store: bst.Store, month: str, choices: pd.DataFrame, vendor: str | None = None) -> pd.DataFrame:
    vp = only(mp.vendor_products(store, month), vendor)
    pm = bst.get_mappings(store, "product")
    keys = ["vendor", "sku", "term", "billing_frequency"]
    df = vp.astype({k: object for k in keys}).merge(
        pm[keys + ["catalog_item_id", "own_cost", "own_price", "quantity_basis", "price_rule", "price_value",
                   "margin_threshold", "updated_by", "updated_at"]].astype(
            {k: object for k in keys}), on=keys, how="left")
    labels = _labels(choices, "catalog_item_id")
    has = [i is not None and i == i for i in df["catalog_item_id"]]
    df["catalog_item"] = [labels.get(int(i), f"missing in ConnectWise ({int(i)})") if h else UNMAPPED
                          for i, h in zip(df["catalog_item_id"], has)]
    df["own_cost"] = df["own_cost"].map(lambda v: True if v is None or v != v else bool(v))
    df["own_price"] = df["own_price"].map(lambda v: True if v is None or v != v else bool(v))
    df["quantity_basis"] = df["quantity_basis"].where(df["quantity_basis"].notna(), mp.QUANTITY_BASES[0])
    df["price_rule"] = df["price_rule"].where(df["price_rule"].notna(), MAPPING_DEFAULTS["price_rule"])
    for c in ("price_value", "margin_threshold"):  # text: an empty cell, not a grey "None"
        df[c] = df[c].map(lambda d: qty_text(d) if d is not None and d == d else "").astype(object)
    df["at_stake"] = _at_stake(df)
    df.index = df["vendor"] + SEP + df["sku"] + SEP + df["term"].fillna("") + SEP + df["billing_frequency"].fillna("")
    df = df.assign(term=df["term"].map(lambda t: label(t, "value") or "Any"),
                   billing_frequency=df["billing_frequency"].map(lambda t: label(t, "value") or "Any"))
    return _blank(df[["vendor", "sku", "term", "billing_frequency", "product_name", "at_stake", "catalog_item", "own_cost",
                      "own_price", "quantity_basis", "price_rule", "price_value", "margin_threshold", "updated_by",
                      "updated_at"]], ["product_name", "updated_by", "updated_at"])


#: the product grid's price rule columns (issue 12: rules/margin.py applies them)
PRICE_COLUMNS = {
    "price_rule": st.column_config.SelectboxColumn(
        "price rule", options=list(mp.PRICE_RULES), format_func=lambda c: label(c, "value"),
        help="The vendor's price, ConnectWise's price (never written), a fixed price or a markup on the vendor's cost"),
    "price_value": st.column_config.TextColumn("fixed price or markup %",
                                               help="For Fixed price: the unit price; for Markup: percent on cost"),
    "margin_threshold": st.column_config.TextColumn("margin threshold %",
                                                    help="Blank: the global threshold below the grid"),
}


def threshold_editor(store: bst.Store) -> None:
    """The global margin threshold (product mappings without their own), with its Save button."""
    box = st.container(horizontal=True, vertical_alignment="bottom")
    pct = box.number_input("Margin threshold for products without their own (%)", 0.0, 100.0,
                           float(mp.margin_threshold(store)), step=1.0, key="margin_threshold", width=320)
    if box.button("Save threshold", key="save_threshold", icon=":material/save:"):
        now = mp.set_margin_threshold(store, Decimal(str(pct)).normalize())
        ui.flash(f"Margin threshold {qty_text(now)}%: lines below it are flagged Low margin from the next reconcile.")
        st.rerun()


def rule_grid(store: bst.Store, customer_labels: dict[tuple[str, str], str], vendor: str | None = None) -> pd.DataFrame:
    rm = only(bst.get_mappings(store, "rule"), vendor)
    df = rm.copy()
    df["customer"] = [customer_labels.get((v, c), c) for v, c in zip(df["vendor"], df["vendor_customer_id"])]
    # text, so a rule without a quantity (do not sync) shows an empty cell, not a grey "None"
    df["value"] = df["value"].map(lambda d: qty_text(d) if d is not None and d == d else "").astype(object)
    df["_key"] = df["vendor"] + SEP + df["vendor_customer_id"] + SEP + df["sku"].fillna("") + SEP + df["rule"]
    # a dynamic editor needs a range index (new rows); the database key rides in a hidden column
    return _blank(df[["vendor", "customer", "sku", "rule", "value", "updated_by", "updated_at", "_key"]].reset_index(drop=True),
                  ["sku", "updated_by", "updated_at"])


def _blank(df: pd.DataFrame, cols: list[str]) -> pd.DataFrame:
    """Read-only text columns with '' where a value is missing (an editor shows a grey "None")."""
    return df.assign(**{c: df[c].map(lambda v: "" if v is None or v != v else v).astype(object) for c in cols if c in df})


def _key_at(frame: pd.DataFrame, pos: int) -> list[str]:
    return str(frame["_key"].iloc[pos] if "_key" in frame.columns else frame.index[pos]).split(SEP)


def _edits(editor_key: str) -> dict[str, Any]:
    return st.session_state.get(editor_key) or {}


def save_grid(store: bst.Store, kind: str, frame: pd.DataFrame, editor_key: str,
              customer_ids: dict[str, tuple[str, str]] | None = None) -> int:
    """Write the editor's changes for ``kind`` (edited, added and deleted rows) in one transaction."""
    state = _edits(editor_key)
    edited = {int(k): v for k, v in (state.get("edited_rows") or {}).items()}
    n = 0
    with store.atomic():
        for pos, change in edited.items():
            if pos >= len(frame):
                continue
            row = {**frame.iloc[pos].to_dict(), **change}
            key = _key_at(frame, pos)
            vendor = key[0]
            if kind == "company":
                cid = label_id(row.get("company"))
                if cid is None:
                    n += bst.delete_mappings(store, "company", vendor, [{"vendor_customer_id": key[1]}])
                else:
                    n += bst.set_mappings(store, "company", vendor, [{"vendor_customer_id": key[1], "company_id": cid,
                                                                      "vendor_customer_name": row["vendor_customer_name"]}])
            elif kind == "agreement":
                aid = label_id(row.get("agreement"))
                k = {"vendor_customer_id": key[1], "subscription_id": None}
                if aid is None:
                    n += bst.delete_mappings(store, "agreement", vendor, [k])
                else:
                    n += bst.set_mappings(store, "agreement", vendor, [{**k, "agreement_id": aid, "sync_mode": row["sync_mode"],
                                                                        "period_rule": row["period_rule"]}])
            elif kind == "product":
                pid = label_id(row.get("catalog_item"))
                k = {"sku": key[1], "term": key[2] or None, "billing_frequency": key[3] or None}
                if pid is None:
                    n += bst.delete_mappings(store, "product", vendor, [k])
                else:
                    terms = mp.price_terms(row.get("price_rule"), row.get("price_value"), row.get("margin_threshold"))
                    n += bst.set_mappings(store, "product", vendor, [{**k, "catalog_item_id": pid, "product_name": row["product_name"],
                                                                      "own_cost": bool(row["own_cost"]), "own_price": bool(row["own_price"]),
                                                                      "quantity_basis": row["quantity_basis"], **terms}])
            elif kind == "rule":
                n += _save_rule(store, row, customer_ids or {}, old_key=key)
        if kind == "rule":
            for row in state.get("added_rows") or []:
                n += _save_rule(store, row, customer_ids or {})
        for pos in state.get("deleted_rows") or []:
            if pos >= len(frame):
                continue
            key = _key_at(frame, pos)
            keyrow = ({"vendor_customer_id": key[1]} if kind == "company" else
                      {"vendor_customer_id": key[1], "subscription_id": None} if kind == "agreement" else
                      {"sku": key[1], "term": key[2] or None, "billing_frequency": key[3] or None} if kind == "product" else
                      {"vendor_customer_id": key[1], "sku": key[2] or None, "rule": key[3]})
            n += bst.delete_mappings(store, kind, key[0], [keyrow])
    return n


def _save_rule(store: bst.Store, row: dict[str, Any], customer_ids: dict[str, tuple[str, str]],
               old_key: list[str] | None = None) -> int:
    vendor_cust = customer_ids.get(row.get("customer") or "")
    if vendor_cust is None and old_key is not None:
        vendor_cust = (old_key[0], old_key[1])
    rule = row.get("rule")
    if vendor_cust is None or rule not in mp.RULES:
        raise ValueError("a rule needs a customer and a rule (" + ", ".join(label(r, "value") for r in mp.RULES) + ")")
    value = _quantity(row.get("value"))
    if rule != "do_not_sync" and (value is None or value < 0):
        raise ValueError(f"{label(rule, 'value')} needs a quantity (0 or more)")
    n = 0
    if old_key is not None:
        n += bst.delete_mappings(store, "rule", old_key[0], [{"vendor_customer_id": old_key[1], "sku": old_key[2] or None,
                                                              "rule": old_key[3]}])
    sku = (row.get("sku") or "").strip() or None
    n += bst.set_mappings(store, "rule", vendor_cust[0], [{"vendor_customer_id": vendor_cust[1], "sku": sku, "rule": rule,
                                                           "value": None if rule == "do_not_sync" else value}])
    return n


def _quantity(v: Any) -> Decimal | None:
    """A quantity typed in the rules grid (text or number), None when blank or not a number."""
    if v is None or (isinstance(v, float) and v != v) or not str(v).strip():
        return None
    try:
        return Decimal(str(v).strip().replace(",", ""))
    except ArithmeticError:
        return None
