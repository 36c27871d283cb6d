"""Mappings workflow: suggestions for the month, bulk accept, CSV export/import, and "create the
missing ConnectWise record" requests.

* :func:`suggestions` lists, for the vendor lines of a month, what is not mapped yet (the
  unmapped queue, with the vendor dollars at stake) and the best candidates from
  :mod:`billbridge.matching` (score, method, flags).
* :func:`accept` records suggestions as mappings (``min_score``; flagged candidates never);
  companies first, then the agreements of the companies just mapped, then products.
* :func:`export_csv` / :func:`import_csv`: one file with every kind (column ``kind``), imported all
  or nothing: any problem (row, column, reason) and nothing is stored.
* :func:`company_creation`, :func:`agreement_creation`, :func:`catalog_creation` build plan rows
  with action ``create`` and a ``target`` (company | agreement | agreement_type | catalog |
  product_type) carrying the exact request and the natural-key ``lookup`` push uses to stay
  idempotent; :func:`request_creation` queues them, and the next plan shows them for review.
  Nothing is written to ConnectWise here.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

import pandas as pd

from billbridge import demo_world, matching
from billbridge import model as _model
from billbridge.errors import InputError
from billbridge.money import extended
from billbridge import store as st
from billbridge import vendors
from billbridge.vendors import month_vendor_lines

__all__ = [
    "CSV_COLUMNS", "SYNC_MODES", "PERIOD_RULES", "RULES", "QUANTITY_BASES", "Problem", "ImportResult",
    "CreationError", "vendor_customers", "known_customers", "vendor_products", "suggestions", "accept", "export_csv", "import_csv",
    "company_creation", "agreement_creation", "catalog_creation", "request_creation", "creation_exists",
    "company_choices", "agreement_choices", "catalog_choices", "price_terms", "set_margin_threshold",
    "margin_threshold",
]

SYNC_MODES = ("standing", "monthly")
PERIOD_RULES = ("advance", "arrears")
RULES = ("do_not_sync", "fixed_quantity", "cap")
PRICE_RULES = _model.PRICE_RULES
QUANTITY_BASES = ("as invoiced", "purchased seats, end of period", "assigned seats, end of period", "peak in period")
CSV_COLUMNS = (
    "kind", "vendor", "vendor_customer_id", "vendor_customer_name", "subscription_id", "sku", "term",
    "billing_frequency", "product_name", "company_id", "agreement_id", "sync_mode", "period_rule",
    "catalog_item_id", "own_cost", "own_price", "quantity_basis", "rule", "value", "price_rule", "price_value",
    "margin_threshold", "updated_at", "updated_by",
)


# ------------------------------------------------------------------------------------ the month
def _amount(lines: pd.DataFrame) -> pd.Series:
    """Each line's vendor cost (:func:`billbridge.money.extended`: a credit reduces it)."""
    cur = lines["currency"] if "currency" in lines else pd.Series("USD", index=lines.index)
    return pd.Series([extended(q, c, k or "USD", credit=t == "credit") or Decimal(0)
                      for q, c, k, t in zip(lines["quantity"], lines["unit_cost"], cur, lines["charge_type"])],
                     index=lines.index, dtype=object)


def _first_text(values: pd.Series) -> Any:
    got = values.dropna()
    got = got[got.astype(str).str.strip() != ""]
    return got.iloc[0] if len(got) else None


def vendor_customers(store: st.Store, month: str) -> pd.DataFrame:
    """One row per (vendor, vendor customer) of the month: name, lines, vendor dollars (cost) in
    ``currency`` (the customer's lines' currency; Rule 7.1: ``dollars`` adds only lines of that
    currency, a customer billed in several lists their codes joined and no dollars), and the ids
    the vendor keeps for it that ConnectWise may hold (:data:`billbridge.matching.CUSTOMER_KEYS`)."""
    frames = []
    for vendor, (_imp, lines) in month_vendor_lines(store, month).items():
        df = lines.assign(vendor=vendor, amount=_amount(lines),
                          currency=lines["currency"].fillna("USD") if "currency" in lines else "USD")
        for c in matching.CUSTOMER_KEYS:
            if c not in df:
                df[c] = None
        g = df.groupby(["vendor", "vendor_customer_id"], sort=True).agg(
            vendor_customer_name=("vendor_customer_name", "first"), lines=("line_no", "size"),
            currency=("currency", lambda s: ", ".join(sorted(set(s)))),
            dollars=("amount", lambda s: sum(s, Decimal(0))),
            **{c: (c, _first_text) for c in matching.CUSTOMER_KEYS}).reset_index()
        g["dollars"] = [d if "," not in c else None for d, c in zip(g["dollars"], g["currency"])]
        frames.append(g)
    cols = ["vendor", "vendor_customer_id", "vendor_customer_name", "lines", "dollars", "currency",
            *matching.CUSTOMER_KEYS]
    return pd.concat(frames, ignore_index=True)[cols] if frames else pd.DataFrame(columns=cols)


def known_customers(store: st.Store, month: str, vendor: str, customers: pd.DataFrame | None = None) -> pd.DataFrame:
    """Customers mapped to a company for every vendor but ``vendor`` (what "once per customer" reads,
    :data:`billbridge.matching.KNOWN_COLUMNS`): the mapping, the vendor's name as a person reads
    it, and the ids the month's lines give the customer (tenant domain, external id)."""
    cm = st.get_mappings(store, "company")
    cm = cm[(cm["vendor"] != vendor) & cm["company_id"].notna()]
    cols = [*matching.KNOWN_COLUMNS, *matching.CUSTOMER_KEYS]
    if not len(cm):
        return pd.DataFrame(columns=cols)
    customers = vendor_customers(store, month) if customers is None else customers
    keys = customers[["vendor", "vendor_customer_id", *matching.CUSTOMER_KEYS]]
    out = cm[["vendor", "vendor_customer_id", "vendor_customer_name", "company_id"]].merge(
        keys, on=["vendor", "vendor_customer_id"], how="left")
    out["vendor_label"] = out["vendor"].map(vendors.vendor_name)
    return out[cols].reset_index(drop=True)


def vendor_products(store: st.Store, month: str) -> pd.DataFrame:
    """One row per (vendor, sku, term, billing_frequency): product name, lines, vendor dollars in
    ``currency`` (as :func:`vendor_customers`: no dollars for a SKU billed in several currencies)."""
    frames = []
    for vendor, (_imp, lines) in month_vendor_lines(store, month).items():
        df = lines.assign(vendor=vendor, amount=_amount(lines),
                          currency=lines["currency"].fillna("USD") if "currency" in lines else "USD")
        for c in ("term", "billing_frequency"):
            df[c] = df[c].fillna("")
        g = df.groupby(["vendor", "sku", "term", "billing_frequency"], sort=True).agg(
            product_name=("product_name", "first"), lines=("line_no", "size"),
            currency=("currency", lambda s: ", ".join(sorted(set(s)))),
            dollars=("amount", lambda s: sum(s, Decimal(0)))).reset_index()
        g["dollars"] = [d if "," not in c else None for d, c in zip(g["dollars"], g["currency"])]
        for c in ("term", "billing_frequency"):
            g[c] = g[c].map(lambda v: v or None).astype(object)
        frames.append(g)
    cols = ["vendor", "sku", "term", "billing_frequency", "product_name", "lines", "dollars", "currency"]
    return pd.concat(frames, ignore_index=True)[cols] if frames else pd.DataFrame(columns=cols)


def _product_mapped(pm: pd.DataFrame, sku: str, term: Any, freq: Any) -> bool:
    if not len(pm):
        return False
    m = pm[pm["sku"] == sku]
    for _, r in m.iterrows():
        if (r["term"] is None or r["term"] == term) and (r["billing_frequency"] is None or r["billing_frequency"] == freq):
            return True
    return False


def suggestions(store: st.Store, month: str, snapshot: dict[str, Any], *, today: str | None = None,
                include_mapped: bool = False, vendor: str | None = None) -> dict[str, pd.DataFrame]:
    """Candidates for what the month needs, best first per item: ``{"companies", "agreements",
    "products"}``, each with ``vendor``, the item's vendor ``dollars`` at stake (in ``currency``),
    ``score``, ``method``, ``flags``, ``auto_ok`` and ``reason``. Items without any candidate are
    listed with score 0 (the unmapped queue). Already mapped items are left out unless
    ``include_mapped``; ``vendor``: that vendor's items only (a customer mapped for another vendor
    still counts: once per customer)."""
    customers = vendor_customers(store, month)
    products = vendor_products(store, month)
    out_c, out_a, out_p = [], [], []
    wanted = sorted(set(customers["vendor"]) | set(products["vendor"]))
    if vendor is not None:
        wanted = [v for v in wanted if v == vendor]
    for vendor in wanted:  # noqa: B020 - the filter is read above
        cm = st.get_mappings(store, "company", vendor)
        am = st.get_mappings(store, "agreement", vendor)
        pm = st.get_mappings(store, "product", vendor)
        vc = customers[customers["vendor"] == vendor]
        todo = vc if include_mapped else vc[~vc["vendor_customer_id"].isin(cm["vendor_customer_id"])]
        if len(todo):
            sug = matching.suggest_companies(todo, snapshot.get("companies") or [],
                                             known=known_customers(store, month, vendor, customers))
            best = sug.merge(todo[["vendor_customer_id", "dollars", "currency", "lines"]], on="vendor_customer_id",
                             how="left")
            missing = todo[~todo["vendor_customer_id"].isin(sug["vendor_customer_id"])]
            if len(missing):
                none = missing.assign(company_id=None, company_identifier=None, company_name=None, score=0,
                                      method=None, flags=[()] * len(missing), auto_ok=False,
                                      reason="no candidate found: map by hand or create the company")
                best = pd.concat([best, none.drop(columns=["vendor", *matching.CUSTOMER_KEYS])],
                                 ignore_index=True)
            out_c.append(best.assign(vendor=vendor))
        # agreements for customers whose company is mapped but who have no customer-level agreement
        with_company = cm[cm["company_id"].notna() & cm["vendor_customer_id"].isin(vc["vendor_customer_id"])]
        need = with_company if include_mapped else with_company[
            ~with_company["vendor_customer_id"].isin(am.loc[am["subscription_id"].isna(), "vendor_customer_id"])]
        if len(need):
            sa = matching.suggest_agreements(need[["vendor_customer_id", "company_id"]],
                                             snapshot.get("agreements") or [], vendors.vendor_name(vendor), today=today)
            sa = sa.merge(vc[["vendor_customer_id", "vendor_customer_name", "dollars", "currency"]], on="vendor_customer_id",
                          how="left")
            missing = need[~need["vendor_customer_id"].isin(sa["vendor_customer_id"])]
            if len(missing):
                extra = missing[["vendor_customer_id", "company_id"]].merge(
                    vc[["vendor_customer_id", "vendor_customer_name", "dollars", "currency"]], on="vendor_customer_id")
                extra = extra.assign(agreement_id=None, agreement_name=None, score=0, method=None,
                                     flags=[()] * len(extra), auto_ok=False,
                                     reason="the company has no agreement: map by hand or create one")
                sa = pd.concat([sa, extra], ignore_index=True)
            out_a.append(sa.assign(vendor=vendor))
        vp = products[products["vendor"] == vendor]
        if not include_mapped:
            vp = vp[[not _product_mapped(pm, s, t, f) for s, t, f in zip(vp["sku"], vp["term"], vp["billing_frequency"])]]
        if len(vp):
            sp = matching.suggest_products(vp, snapshot.get("catalog") or [])
            keys = ["sku", "term", "billing_frequency"]
            sp = sp.merge(vp[keys + ["dollars", "currency"]].astype(object), on=keys, how="left") if len(sp) else sp
            have = set(zip(sp["sku"], sp["term"], sp["billing_frequency"])) if len(sp) else set()
            missing = vp[[(s, t, f) not in have for s, t, f in zip(vp["sku"], vp["term"], vp["billing_frequency"])]]
            if len(missing):
                extra = missing.drop(columns=["vendor", "lines"]).assign(
                    catalog_item_id=None, catalog_identifier=None, catalog_description=None, score=0, method=None,
                    flags=[()] * len(missing), auto_ok=False,
                    reason="no catalog item found: map by hand or create it")
                sp = pd.concat([sp, extra], ignore_index=True)
            out_p.append(sp.assign(vendor=vendor))

    def cat(parts: list[pd.DataFrame], cols: list[str]) -> pd.DataFrame:
        df = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=cols)
        return df.reindex(columns=cols)

    return {
        "companies": cat(out_c, ["vendor", *matching.COMPANY_COLUMNS, "dollars", "currency", "lines"]),
        "agreements": cat(out_a, ["vendor", "vendor_customer_name", *matching.AGREEMENT_COLUMNS, "dollars", "currency"]),
        "products": cat(out_p, ["vendor", *matching.PRODUCT_COLUMNS, "dollars", "currency"]),
    }


def _best(df: pd.DataFrame, keys: list[str], min_score: int, id_col: str) -> pd.DataFrame:
    if not len(df):
        return df
    df = df[df[id_col].notna()]
    top = df.groupby(keys, sort=False, dropna=False).head(1)
    return top[(top["score"] >= min_score) & (top["flags"].map(lambda f: len(f or ()) == 0))]


def accept(store: st.Store, month: str, snapshot: dict[str, Any], *, min_score: int = matching.AUTO_ACCEPT_THRESHOLD,
           kinds: tuple[str, ...] = ("company", "agreement", "product"), by: str | None = None,
           today: str | None = None, vendor: str | None = None) -> dict[str, int]:
    """Record the best suggestion of every unmapped item scoring at least ``min_score`` whose
    candidate carries no flag (deleted, prospect, cancelled, tie ...). Companies go first so the
    agreements of just-mapped companies are suggested and accepted in the same call. Returns
    how many mappings of each kind were recorded. ``vendor``: that vendor's items only."""
    counts = {"company": 0, "agreement": 0, "product": 0}
    one = vendor
    if "company" in kinds:
        sug = suggestions(store, month, snapshot, today=today, vendor=one)["companies"]
        best = _best(sug, ["vendor", "vendor_customer_id"], min_score, "company_id")
        for vendor, grp in best.groupby("vendor"):
            counts["company"] += st.set_mappings(store, "company", vendor, grp[["vendor_customer_id", "vendor_customer_name",
                                                                               "company_id"]], by=by, source="suggestion")
    if "agreement" in kinds:
        sug = suggestions(store, month, snapshot, today=today, vendor=one)["agreements"]
        best = _best(sug, ["vendor", "vendor_customer_id"], min_score, "agreement_id")
        for vendor, grp in best.groupby("vendor"):
            rows = grp[["vendor_customer_id", "agreement_id"]].assign(subscription_id=None, sync_mode="standing",
                                                                      period_rule="advance")
            counts["agreement"] += st.set_mappings(store, "agreement", vendor, rows, by=by, source="suggestion")
    if "product" in kinds:
        sug = suggestions(store, month, snapshot, today=today, vendor=one)["products"]
        best = _best(sug, ["vendor", "sku", "term", "billing_frequency"], min_score, "catalog_item_id")
        for vendor, grp in best.groupby("vendor"):
            rows = grp[["sku", "term", "billing_frequency", "product_name", "catalog_item_id"]].assign(
                own_cost=True, own_price=True, quantity_basis=QUANTITY_BASES[0])
            counts["product"] += st.set_mappings(store, "product", vendor, rows, by=by, source="suggestion")
    return counts


# ------------------------------------------------------------------------------------ CSV
def export_csv(store: st.Store) -> str:
    """Every mapping and rule of every vendor as one CSV (column ``kind``: company, agreement,
    product, rule)."""
    frames = []
    for kind in st.MAPPING_KINDS:
        df = st.get_mappings(store, kind)
        if len(df):
            frames.append(df.assign(kind=kind))
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(CSV_COLUMNS), lineterminator="\n")
    w.writeheader()
    for df in frames:
        for rec in df.to_dict("records"):
            out = {}
            for c in CSV_COLUMNS:
                v = rec.get(c)
                if v is None or (isinstance(v, float) and v != v):
                    out[c] = ""
                elif isinstance(v, bool):
                    out[c] = "true" if v else "false"
                elif isinstance(v, Decimal):
                    out[c] = format(v, "f")
                else:
                    out[c] = str(v)
            w.writerow(out)
    return buf.getvalue()


@dataclass
class Problem:
    row: int  # 1-based data row (the header is row 0)
    column: str
    reason: str

    def __str__(self) -> str:
        where = f"column {self.column}" if self.row == 0 else f"row {self.row}, column {self.column}"
        return f"{where}: {self.reason}"  # row 0 is the header: a missing column has no data row


@dataclass
class ImportResult:
    ok: bool
    problems: list[Problem] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)  # rows stored per kind (changed ones)
    rows: int = 0


_REQUIRED = {"company": ("vendor_customer_id", "company_id"), "agreement": ("vendor_customer_id", "agreement_id"),
             "product": ("sku", "catalog_item_id"), "rule": ("vendor_customer_id", "rule")}
_TRUE = {"true", "1", "yes", "y", "on"}
_FALSE = {"false", "0", "no", "n", "off"}


def import_csv(store: st.Store, data: bytes | str, *, by: str | None = None) -> ImportResult:
    """Validate a mappings CSV (as :func:`export_csv` writes it) and store it all or nothing.

    Every problem is reported with its row, column and reason; when there is any, nothing is
    stored. Rows update the mapping with the same key (vendor + key columns) or add one.
    """
    try:
        text = data.decode("utf-8-sig") if isinstance(data, bytes) else data.lstrip("\ufeff")
    except UnicodeDecodeError:
        return ImportResult(False, [Problem(None, None, "the file is not a UTF-8 CSV (write one with 'map export')")])
    reader = csv.DictReader(io.StringIO(text))
    problems: list[Problem] = []
    header = reader.fieldnames or []
    missing = [c for c in ("kind", "vendor") if c not in header]
    if missing:
        return ImportResult(False, [Problem(0, c, "required column is missing") for c in missing])
    unknown = [c for c in header if c not in CSV_COLUMNS]
    problems += [Problem(0, c, "unknown column") for c in unknown]
    parsed: dict[tuple[str, str], list[dict[str, Any]]] = {}
    seen: dict[tuple, int] = {}
    n = 0
    for i, raw in enumerate(reader, start=1):
        n += 1
        r = {k: (v or "").strip() for k, v in raw.items() if k in CSV_COLUMNS}
        kind, vendor = r.get("kind", ""), r.get("vendor", "")
        if kind not in st.MAPPING_KINDS:
            problems.append(Problem(i, "kind", f"{kind!r} is not one of company, agreement, product, rule"))
            continue
        if not vendor:
            problems.append(Problem(i, "vendor", "required"))
        for c in _REQUIRED[kind]:
            if not r.get(c):
                problems.append(Problem(i, c, f"required for a {kind} mapping"))
        out: dict[str, Any] = {}
        _, keys, values = st.MAPPING_KINDS[kind]
        for c in (*keys, *values):
            v = r.get(c, "")
            if c in ("company_id", "agreement_id", "catalog_item_id"):
                if v and not re.fullmatch(r"\d+", v):
                    problems.append(Problem(i, c, f"{v!r} is not a ConnectWise id (a whole number)"))
                    continue
                out[c] = int(v) if v else None
            elif c in ("own_cost", "own_price"):
                if v and v.lower() not in _TRUE | _FALSE:
                    problems.append(Problem(i, c, f"{v!r} is not true or false"))
                    continue
                out[c] = True if not v else v.lower() in _TRUE
            elif c == "sync_mode" and v and v not in SYNC_MODES:
                problems.append(Problem(i, c, f"{v!r} is not one of {', '.join(SYNC_MODES)}"))
            elif c == "period_rule" and v and v not in PERIOD_RULES:
                problems.append(Problem(i, c, f"{v!r} is not one of {', '.join(PERIOD_RULES)}"))
            elif c == "rule" and v and v not in RULES:
                problems.append(Problem(i, c, f"{v!r} is not one of {', '.join(RULES)}"))
            elif c in ("price_rule", "price_value", "margin_threshold"):
                continue  # checked together below (price_terms)
            elif c == "value":
                if r.get("rule") in ("fixed_quantity", "cap"):
                    try:
                        d = Decimal(v)
                        if not d.is_finite() or d < 0:
                            raise InvalidOperation
                        out[c] = d
                    except (InvalidOperation, ValueError):
                        problems.append(Problem(i, c, f"{v!r} is not a quantity (a number, 0 or more) for {r.get('rule')}"))
                else:
                    out[c] = None
            else:
                out[c] = v or None
        if kind == "product":
            try:
                out.update(price_terms(r.get("price_rule"), r.get("price_value"), r.get("margin_threshold")))
            except InputError as exc:
                problems.append(Problem(i, exc.column, exc.reason))
        if kind == "agreement":
            out["sync_mode"] = out.get("sync_mode") or "standing"
            out["period_rule"] = out.get("period_rule") or "advance"
        dup = (kind, vendor, *[(r.get(k) or "") for k in keys])
        if dup in seen:
            problems.append(Problem(i, keys[-1], f"same {kind} mapping as row {seen[dup]}"))
        seen[dup] = i
        parsed.setdefault((kind, vendor), []).append(out)
    if problems:
        return ImportResult(False, problems, rows=n)
    counts = {k: 0 for k in st.MAPPING_KINDS}
    with store.atomic():
        for (kind, vendor), rows in parsed.items():
            counts[kind] += st.set_mappings(store, kind, vendor, rows, by=by, source="csv import")
    return ImportResult(True, [], counts, rows=n)


# ------------------------------------------------------------------------------------ price rules (issue 12)
def _percent_or_price(v: Any, column: str, what: str) -> Decimal | None:
    if v is None or (isinstance(v, float) and v != v) or str(v).strip() == "":
        return None
    try:
        d = Decimal(str(v).strip().rstrip("%").strip())
    except InvalidOperation:
        d = Decimal("NaN")
    if not d.is_finite() or d < 0:
        raise InputError(f"{v!r} is not {what}", column=column, reason=f"{v!r} is not {what}")
    return d


def price_terms(rule: Any, value: Any, threshold: Any) -> dict[str, Any]:
    """A product mapping's price rule, its value and its margin threshold, checked (the one check the CSV
    import, the Mappings page and the CLI share): ``rule`` one of :data:`billbridge.model.PRICE_RULES` (blank:
    the vendor's price), ``value`` the fixed price or the markup percent (required by those rules, a number 0
    or more), ``threshold`` a percent from 0 to 100 or blank (the global default). Raises
    :class:`~billbridge.errors.InputError` with the column and the reason in plain words."""
    from billbridge.model import MAPPING_DEFAULTS, PRICE_RULES

    rule = str(rule).strip() if rule is not None and str(rule).strip() and rule == rule else MAPPING_DEFAULTS["price_rule"]
    if rule not in PRICE_RULES:
        raise InputError(f"{rule!r} is not a price rule", column="price_rule",
                         reason=f"{rule!r} is not one of {', '.join(PRICE_RULES)}")
    what = "a markup percent (a number, 0 or more)" if rule == "markup" else "a price (a number, 0 or more)"
    val = _percent_or_price(value, "price_value", what)
    if rule in ("fixed", "markup") and val is None:
        raise InputError(f"a {rule} price rule needs {what}", column="price_value",
                         reason=f"required for the {rule} price rule: {what}")
    if rule in ("vendor_price", "keep"):
        val = None
    pct = _percent_or_price(threshold, "margin_threshold", "a percent from 0 to 100")
    if pct is not None and pct > 100:
        raise InputError(f"{threshold!r} is not a percent from 0 to 100", column="margin_threshold",
                         reason=f"{threshold!r} is not a percent from 0 to 100")
    return {"price_rule": rule, "price_value": val, "margin_threshold": pct}


def set_margin_threshold(store: st.Store, percent: Any, *, by: str | None = None, source: str = "page") -> Decimal:
    """Store the global margin threshold (percent; blank or None: back to
    :data:`billbridge.model.DEFAULT_MARGIN_THRESHOLD`), recorded in the mapping history; returns the one in effect."""
    pct = price_terms(None, None, percent)["margin_threshold"]
    st.set_setting(store, "margin_threshold", pct, by=by, source=source)
    return margin_threshold(store)


def margin_threshold(store: st.Store) -> Decimal:
    """The global margin threshold in effect (the stored one, else the default)."""
    from billbridge.model import DEFAULT_MARGIN_THRESHOLD

    stored = st.get_setting(store, "margin_threshold")
    return DEFAULT_MARGIN_THRESHOLD if stored is None else stored


# ------------------------------------------------------------------------------------ pickers
def company_choices(snapshot: dict[str, Any]) -> pd.DataFrame:
    """Companies for a picker: company_id, label "Name (id)" with its state (deleted, prospect ...)."""
    rows = []
    for c in snapshot.get("companies") or []:
        flags = matching.company_flags(c)
        label = f"{c.get('name')} ({c.get('id')})" + (f" [{', '.join(flags)}]" if flags else "")
        rows.append({"company_id": c.get("id"), "label": label, "name": c.get("name"), "identifier": c.get("identifier"),
                     "flags": flags})
    return pd.DataFrame(rows, columns=["company_id", "label", "name", "identifier", "flags"])


def agreement_choices(snapshot: dict[str, Any], today: str | None = None) -> pd.DataFrame:
    """Agreements for a picker: agreement_id, company_id, label "Name - Company (id) [state]"."""
    rows = []
    for a in snapshot.get("agreements") or []:
        flags = matching.agreement_flags(a, today)
        comp = (a.get("company") or {}).get("name")
        label = f"{a.get('name')} - {comp} ({a.get('id')})" + (f" [{', '.join(flags)}]" if flags else "")
        rows.append({"agreement_id": a.get("id"), "company_id": (a.get("company") or {}).get("id"), "label": label,
                     "name": a.get("name"), "flags": flags})
    return pd.DataFrame(rows, columns=["agreement_id", "company_id", "label", "name", "flags"])


def catalog_choices(snapshot: dict[str, Any]) -> pd.DataFrame:
    """Catalog items for a picker: catalog_item_id, label "IDENT - description (id) [inactive]"."""
    rows = []
    for p in snapshot.get("catalog") or []:
        label = f"{p.get('identifier')} - {p.get('description')} ({p.get('id')})" + (" [inactive]" if p.get("inactiveFlag") else "")
        rows.append({"catalog_item_id": p.get("id"), "label": label, "identifier": p.get("identifier"),
                     "description": p.get("description"), "inactive": bool(p.get("inactiveFlag"))})
    return pd.DataFrame(rows, columns=["catalog_item_id", "label", "identifier", "description", "inactive"])


# ------------------------------------------------------------------------------------ creation
class CreationError(InputError):
    """The record cannot be requested (yet); the message says why and what to do first."""


def _esc(v: Any) -> str:
    return str(v).replace('"', '\\"')


def _creation_row(key: str, target: str, vendor: str, request: dict[str, Any], lookup: dict[str, Any], reason: str,
                  reason_done: str, *, depends_on: list[str] | None = None, maps: dict[str, Any] | None = None,
                  **names: Any) -> dict[str, Any]:
    body = request["body"]
    writes = [{"field": k, "from": None, "to": v if not isinstance(v, dict) else (v.get("name") or v.get("identifier") or v.get("id"))}
              for k, v in body.items() if k in ("name", "identifier", "description", "type", "company", "price", "cost",
                                                 "subcategory", "startDate")]
    return {"key": key, "action": "create", "cause": None, "reason": reason, "reason_done": reason_done,
            "bucket": "creation", "flags": ["creates_record"], "vendor": vendor, "target": target, "request": request,
            "lookup": lookup, "depends_on": depends_on or [], "maps": maps, "writes": writes,
            "vendor_lines": [], "vendor_line_count": 0, "vendor_amount": "0", "price_impact": "0.00",
            "margin_impact": "0.00", **names}


def _identifier_for(name: str, taken: set[str]) -> str:
    base = "".join(w[:1].upper() + w[1:] for w in re.findall(r"[A-Za-z0-9]+", name))[:25] or "Customer"
    ident, n = base, 2
    while ident.lower() in taken:
        ident = f"{base[:25 - len(str(n))]}{n}"
        n += 1
    return ident


def company_creation(vendor: str, vendor_customer_id: str, vendor_customer_name: str,
                     snapshot: dict[str, Any]) -> list[dict[str, Any]]:
    """Plan row creating a ConnectWise company for a vendor customer (identifier derived from the
    name, unique; account number = the vendor customer id, so the next suggestion is exact)."""
    companies = snapshot.get("companies") or []
    for c in companies:
        if str(c.get("accountNumber") or "") == str(vendor_customer_id) and not c.get("deletedFlag"):
            raise CreationError(f"{c.get('name')} ({c.get('id')}) already has account number {vendor_customer_id}: map it instead.")
    ident = _identifier_for(vendor_customer_name, {str(c.get("identifier") or "").lower() for c in companies})
    countries = pd.Series([(c.get("country") or {}).get("name") for c in companies]).dropna()
    body: dict[str, Any] = {"identifier": ident, "name": vendor_customer_name[:50], "accountNumber": str(vendor_customer_id),
                            "types": [{"name": "Client"}], "status": {"name": "Active"}, "site": {"name": "Main"}}
    if len(countries):
        body["country"] = {"name": countries.mode().iat[0]}
    req = {"method": "POST", "path": "/company/companies", "body": body}
    lookup = {"path": "/company/companies", "conditions": f'identifier="{_esc(ident)}"'}
    return [_creation_row(
        f"create|company|{vendor}|{vendor_customer_id}", "company", vendor, req, lookup,
        f"Create the ConnectWise company {vendor_customer_name} ({ident}) for the vendor customer {vendor_customer_id}; "
        "billbridge maps the customer to it once it exists.",
        f"The company {vendor_customer_name} ({ident}) exists in ConnectWise and the customer is mapped to it",
        maps={"kind": "company", "vendor": vendor, "match": {"vendor_customer_id": vendor_customer_id},
              "values": {"vendor_customer_name": vendor_customer_name}, "id_field": "company_id"},
        vendor_customer_id=vendor_customer_id, vendor_customer_name=vendor_customer_name, company_name=vendor_customer_name)]


def _agreement_type_body(name: str) -> dict[str, Any]:
    return {"name": name[:50], "employeeCompRate": "Actual", "employeeCompNotExceed": "Billing",
            "invoicingCycle": "ContractYear", "billTime": "Billable", "billExpenses": "Billable",
            "billProducts": "Billable", "billingCycle": {"name": "Monthly"}, "prorateFlag": False}


def agreement_creation(vendor: str, vendor_customer_id: str, company_id: int, snapshot: dict[str, Any], month: str,
                       *, vendor_name: str | None = None, vendor_customer_name: str | None = None) -> list[dict[str, Any]]:
    """Plan rows creating a recurring monthly agreement "<Vendor> Services" for a mapped company,
    preceded by the agreement type named after the vendor when ConnectWise has none."""
    vname = vendor_name or vendors.vendor_name(vendor)
    comp = next((c for c in snapshot.get("companies") or [] if c.get("id") == company_id), None)
    if comp is None:
        raise CreationError(f"company {company_id} is not in the ConnectWise snapshot: push its creation, refresh, then create the agreement.")
    contact = comp.get("defaultContact") or comp.get("billingContact")
    if not contact or not contact.get("id"):
        raise CreationError(f"{comp.get('name')} has no default contact in ConnectWise, and an agreement needs one: add a contact to the company, refresh, then create the agreement.")
    rows: list[dict[str, Any]] = []
    type_key = f"create|agreement_type|{vname}"
    types = {str(t.get("name") or "").lower() for t in snapshot.get("agreement_types") or []}
    if vname.lower() not in types:
        req = {"method": "POST", "path": "/finance/agreements/types", "body": _agreement_type_body(vname)}
        rows.append(_creation_row(type_key, "agreement_type", vendor, req,
                                  {"path": "/finance/agreements/types", "conditions": f'name="{_esc(vname)}"'},
                                  f"Create the agreement type {vname} (monthly, billable) for {vname} agreements.",
                                  f"The agreement type {vname} exists in ConnectWise"))
    name = f"{vname} Services"
    body = {"name": name, "type": {"name": vname}, "company": {"id": company_id}, "contact": {"id": contact["id"]},
            "billingCycle": {"name": "Monthly"}, "startDate": f"{month}-01T00:00:00Z", "noEndingDateFlag": True,
            "billStartDate": f"{month}-01T00:00:00Z", "prorateFlag": False, "billProducts": "Billable"}
    req = {"method": "POST", "path": "/finance/agreements", "body": body}
    lookup = {"path": "/finance/agreements", "conditions": f'company/id={int(company_id)} AND name="{_esc(name)}"'}
    rows.append(_creation_row(
        f"create|agreement|{vendor}|{vendor_customer_id}", "agreement", vendor, req, lookup,
        f"Create the agreement {name} for {comp.get('name')} (monthly, from {month}-01, no proration); billbridge "
        "maps the customer to it once it exists.",
        f"The agreement {name} for {comp.get('name')} exists in ConnectWise and the customer is mapped to it",
        depends_on=[type_key] if rows else [],
        maps={"kind": "agreement", "vendor": vendor, "match": {"vendor_customer_id": vendor_customer_id, "subscription_id": None},
              "values": {"sync_mode": "standing", "period_rule": "advance"}, "id_field": "agreement_id",
              "company_id": int(company_id), "name": name},
        vendor_customer_id=vendor_customer_id, vendor_customer_name=vendor_customer_name or comp.get("name"),
        company_id=company_id, company_name=comp.get("name"), agreement_name=name))
    return rows


def catalog_creation(vendor: str, sku: str, product_name: str, snapshot: dict[str, Any], *, term: str | None = None,
                     billing_frequency: str | None = None, unit_price: Decimal | None = None,
                     unit_cost: Decimal | None = None, recurring: bool = True,
                     vendor_name: str | None = None) -> list[dict[str, Any]]:
    """Plan rows creating a catalog item (identifier = the vendor SKU) of product type
    ``<Vendor>_Services``, preceded by that product type when ConnectWise has none."""
    vname = vendor_name or vendors.vendor_name(vendor)
    ptype = re.sub(r"\W+", "_", vname).strip("_") + "_Services"
    catalog = snapshot.get("catalog") or []
    if any(str(p.get("identifier") or "").lower() == sku.lower() for p in catalog):
        raise CreationError(f"the catalog already has an item {sku}: map it instead.")
    rows: list[dict[str, Any]] = []
    type_key = f"create|product_type|{ptype}"
    if ptype.lower() not in {str(t.get("name") or "").lower() for t in snapshot.get("product_types") or []}:
        req = {"method": "POST", "path": "/procurement/types", "body": {"name": ptype[:50]}}
        rows.append(_creation_row(type_key, "product_type", vendor, req,
                                  {"path": "/procurement/types", "conditions": f'name="{_esc(ptype)}"'},
                                  f"Create the product type {ptype} for {vname} catalog items.",
                                  f"The product type {ptype} exists in ConnectWise"))
    same_type = [p for p in catalog if (p.get("type") or {}).get("name") == ptype and p.get("subcategory")]
    sub = (same_type or [p for p in catalog if p.get("subcategory")] or [{"subcategory": {"name": "General"}}])[0]["subcategory"]
    body: dict[str, Any] = {"identifier": sku[:75], "description": product_name[:60], "customerDescription": product_name,
                            "type": {"name": ptype}, "subcategory": {"name": sub.get("name")} if sub.get("name") else {"id": sub.get("id")},
                            "productClass": "NonInventory", "recurringFlag": bool(recurring),
                            "vendorSku": sku}
    if unit_price is not None:
        body["price"] = float(unit_price)
    if unit_cost is not None:
        body["cost"] = float(unit_cost)
    req = {"method": "POST", "path": "/procurement/catalog", "body": body}
    lookup = {"path": "/procurement/catalog", "conditions": f'identifier="{_esc(sku)}"'}
    rows.append(_creation_row(
        f"create|catalog|{vendor}|{sku}|{term or ''}|{billing_frequency or ''}", "catalog", vendor, req, lookup,
        f"Create the catalog item {sku} ({product_name}) of type {ptype}"
        + (f" at {unit_price} (cost {unit_cost})" if unit_price is not None else "")
        + "; billbridge maps the SKU to it once it exists.",
        f"The catalog item {sku} exists in ConnectWise and the SKU is mapped to it",
        depends_on=[type_key] if rows else [],
        maps={"kind": "product", "vendor": vendor,
              "match": {"sku": sku, "term": term, "billing_frequency": billing_frequency},
              "values": {"product_name": product_name, "own_cost": True, "own_price": True,
                         "quantity_basis": QUANTITY_BASES[0]}, "id_field": "catalog_item_id"},
        sku=sku, product_name=product_name, term=term, billing_frequency=billing_frequency,
        product_identifier=sku, product_description=product_name))
    return rows


def request_creation(store: st.Store, rows: list[dict[str, Any]], *, by: str | None = None) -> int:
    """Queue creation rows; the next plan of the month shows them for review and push."""
    return st.add_creation_requests(store, rows, by=by)


def creation_exists(row: dict[str, Any], snapshot: dict[str, Any]) -> int | None:
    """The id of the record a creation row makes when the snapshot already holds it (natural key:
    company identifier, agreement company + name, type name, catalog identifier), else None."""
    target, body = row.get("target"), (row.get("request") or {}).get("body") or {}

    def find(records: list[dict[str, Any]], pred) -> int | None:
        return next((r.get("id") for r in records if pred(r)), None)

    low = lambda v: str(v or "").lower()  # noqa: E731
    if target == "company":
        return find(snapshot.get("companies") or [], lambda c: low(c.get("identifier")) == low(body.get("identifier")))
    if target == "agreement":
        cid = (body.get("company") or {}).get("id")
        return find(snapshot.get("agreements") or [],
                    lambda a: (a.get("company") or {}).get("id") == cid and low(a.get("name")) == low(body.get("name")))
    if target == "agreement_type":
        return find(snapshot.get("agreement_types") or [], lambda t: low(t.get("name")) == low(body.get("name")))
    if target == "product_type":
        return find(snapshot.get("product_types") or [], lambda t: low(t.get("name")) == low(body.get("name")))
    if target == "catalog":
        return find(snapshot.get("catalog") or [], lambda p: low(p.get("identifier")) == low(body.get("identifier")))
    return None


def _demo_vendor_name() -> str:  # pragma: no cover - kept for notebooks
    return demo_world.VENDOR_NAME
