"""Mappings: four kinds (company, agreement, product, rule), one table each, keyed per vendor (a
vendor customer id only means something for its vendor), with an append-only ``mapping_history``.

Optional key parts (subscription, term, frequency, rule SKU) are stored as '' so the primary key
stays unique, and read back as None. Every change (set or delete) appends a row to
``mapping_history`` with who and when, in the same transaction; nothing is overwritten there.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pandas as pd

from billbridge.clock import utcnow
from billbridge.config import operator_name
from billbridge.model import MAPPING_DEFAULTS

if TYPE_CHECKING:  # the store's type only: the concern modules never import db at run time
    from billbridge.store.db import Store



#: kind -> (table, key columns after ``vendor``, value columns)
MAPPING_KINDS: dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]] = {
    "company": ("map_companies", ("vendor_customer_id",), ("vendor_customer_name", "company_id")),
    "agreement": ("map_agreements", ("vendor_customer_id", "subscription_id"), ("agreement_id", "sync_mode", "period_rule")),
    "product": ("map_products", ("sku", "term", "billing_frequency"),
                ("product_name", "catalog_item_id", "own_cost", "own_price", "quantity_basis", "price_rule",
                 "price_value", "margin_threshold")),
    "rule": ("map_rules", ("vendor_customer_id", "sku", "rule"), ("value",)),
}
#: mapping values holding an exact decimal (read back as Decimal, None when blank)
_DECIMAL_VALUES = {"value", "price_value", "margin_threshold"}
#: the global defaults stored in ``settings`` (name -> what it means); each change is recorded in
#: ``mapping_history`` (kind ``setting``), so a plan built before it is out of date
SETTINGS = {"margin_threshold": "the margin threshold (percent of the price) of a product mapping without its own"}
_OPTIONAL_KEYS = {"subscription_id", "term", "billing_frequency", "sku"}
_INT_VALUES = {"company_id", "agreement_id", "catalog_item_id"}
_BOOL_VALUES = {"own_cost", "own_price"}
_DEFAULTS = {k: (int(v) if isinstance(v, bool) else v) for k, v in MAPPING_DEFAULTS.items()}  # booleans stored 0/1



def _blank(v: Any) -> bool:
    return v is None or (isinstance(v, float) and v != v) or v is pd.NA or (isinstance(v, str) and not v.strip())


def _store_value(col: str, v: Any) -> Any:
    if _blank(v):
        return None
    if col in _INT_VALUES:
        return int(v)
    if col in _BOOL_VALUES:
        return 1 if bool(v) else 0
    if isinstance(v, Decimal):
        return format(v, "f")
    return str(v).strip() if isinstance(v, str) else (str(v) if not isinstance(v, (int, float)) else str(v))


def _mapping_record(kind: str, vendor: str, row: dict[str, Any]) -> dict[str, Any]:
    _, keys, values = MAPPING_KINDS[kind]
    rec: dict[str, Any] = {"vendor": vendor}
    for k in keys:
        v = row.get(k)
        rec[k] = "" if _blank(v) else str(v).strip()
    for v in values:
        if v in row:
            rec[v] = _store_value(v, row.get(v))
    return rec


def set_mappings(store: Store, kind: str, vendor: str, rows: list[dict[str, Any]] | pd.DataFrame, *,
                 by: str | None = None, source: str = "page") -> int:
    """Upsert mappings of one kind for ``vendor`` in one transaction; every real change is appended
    to ``mapping_history``. Returns how many rows changed (unchanged rows are not recorded)."""
    table, keys, values = MAPPING_KINDS[kind]
    if isinstance(rows, pd.DataFrame):
        rows = rows.to_dict("records")
    by = by or operator_name()
    now = utcnow()
    changed = 0
    with store.atomic():
        for row in rows:
            rec = _mapping_record(kind, vendor, row)
            old_d = _current_mapping(store, kind, rec)
            new_d = {v: rec.get(v, old_d.get(v) if old_d else _DEFAULTS.get(v)) for v in values}
            for v, default in _DEFAULTS.items():
                if v in new_d and new_d[v] is None:
                    new_d[v] = default
            if old_d == new_d:
                continue
            full = {**rec, **new_d, "updated_at": now, "updated_by": by}
            store.db[table].upsert(full, pk=("vendor", *keys))
            store.db["mapping_history"].insert({
                "kind": kind, "vendor": vendor, "key": json.dumps([rec[k] for k in keys]),
                "change": "set", "old": json.dumps(old_d) if old_d else None, "new": json.dumps(new_d),
                "changed_at": now, "changed_by": by, "source": source,
            })
            changed += 1
    return changed


def _current_mapping(store: Store, kind: str, rec: dict[str, Any]) -> dict[str, Any] | None:
    """The stored values of the mapping ``rec`` keys (vendor + key columns), or None."""
    table, keys, values = MAPPING_KINDS[kind]
    cols = ("vendor", *keys)
    where = " AND ".join(f"{k} = ?" for k in cols)
    old = store.conn.execute(f"SELECT {', '.join(values)} FROM {table} WHERE {where}", [rec[k] for k in cols]).fetchone()
    return dict(zip(values, old)) if old else None


def delete_mappings(store: Store, kind: str, vendor: str, keys_rows: list[dict[str, Any]], *,
                    by: str | None = None, source: str = "page") -> int:
    """Delete mappings (by their key columns) in one transaction, each deletion recorded in history."""
    table, keys, values = MAPPING_KINDS[kind]
    by = by or operator_name()
    now = utcnow()
    n = 0
    with store.atomic():
        for row in keys_rows:
            rec = _mapping_record(kind, vendor, row)
            old_d = _current_mapping(store, kind, rec)
            if old_d is None:
                continue
            store.db[table].delete(tuple(rec[k] for k in ("vendor", *keys)))
            store.db["mapping_history"].insert({
                "kind": kind, "vendor": vendor, "key": json.dumps([rec[k] for k in keys]), "change": "delete",
                "old": json.dumps(old_d), "new": None, "changed_at": now, "changed_by": by,
                "source": source,
            })
            n += 1
    return n


def get_mappings(store: Store, kind: str, vendor: str | None = None) -> pd.DataFrame:
    """Mappings of one kind (columns: vendor, key columns, value columns, updated_at, updated_by).

    Blank optional key parts come back as None, ids as int, ``own_*`` as bool, rule values as
    Decimal: the shape :class:`billbridge.plan.Mappings` expects (plus vendor and who/when).
    """
    table, keys, values = MAPPING_KINDS[kind]
    cols = ["vendor", *keys, *values, "updated_at", "updated_by"]
    sql = f"SELECT {', '.join(cols)} FROM {table}"
    params: list[Any] = []
    if vendor is not None:
        sql += " WHERE vendor = ?"
        params.append(vendor)
    sql += f" ORDER BY vendor, {', '.join(keys)}"
    raw = store.conn.execute(sql, params).fetchall()
    data: dict[str, list[Any]] = {c: [r[i] for r in raw] for i, c in enumerate(cols)}
    for k in keys:
        if k in _OPTIONAL_KEYS:
            data[k] = [None if v in ("", None) else v for v in data[k]]
    for v in values:
        if v in _INT_VALUES:
            data[v] = [None if x is None else int(x) for x in data[v]]
        elif v in _BOOL_VALUES:
            data[v] = [True if x is None else bool(x) for x in data[v]]
        elif v in _DECIMAL_VALUES:
            data[v] = [None if x in (None, "") else Decimal(x) for x in data[v]]
        elif v == "price_rule":
            data[v] = [MAPPING_DEFAULTS["price_rule"] if x in (None, "") else x for x in data[v]]
    # object columns: None stays None (pandas would turn it into NaN when inferring types)
    df = pd.DataFrame({c: pd.Series(data[c], dtype=object) for c in cols}, columns=cols)
    return df


def mapping_frames(store: Store, vendor: str) -> dict[str, pd.DataFrame]:
    """``{"companies", "agreements", "products", "rules"}`` for one vendor, shaped for
    :class:`billbridge.plan.Mappings`."""
    names = {"company": "companies", "agreement": "agreements", "product": "products", "rule": "rules"}
    return {names[k]: get_mappings(store, k, vendor).drop(columns=["vendor", "updated_at", "updated_by"])
            for k in MAPPING_KINDS}


def mapping_history(store: Store, kind: str | None = None, vendor: str | None = None, limit: int | None = None) -> pd.DataFrame:
    """Every recorded change, newest first (``old``/``new`` as dicts, ``key`` as a list)."""
    where, params = [], []
    if kind:
        where.append("kind = ?")
        params.append(kind)
    if vendor:
        where.append("vendor = ?")
        params.append(vendor)
    sql = "SELECT * FROM mapping_history" + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY id DESC"
    if limit:
        sql += f" LIMIT {int(limit)}"
    df = pd.DataFrame(list(store.db.query(sql, params)),
                      columns=["id", "kind", "vendor", "key", "change", "old", "new", "changed_at", "changed_by", "source"])
    for c in ("key", "old", "new"):
        df[c] = pd.Series([json.loads(x) if isinstance(x, str) and x else None for x in df[c]], dtype=object, index=df.index)
    return df


def mappings_changed_at(store: Store) -> str | None:
    """When any mapping last changed (drives "the plan is out of date")."""
    row = store.conn.execute("SELECT MAX(changed_at) FROM mapping_history").fetchone()
    return row[0] if row else None


def mappings_version(store: Store) -> int:
    """A number that grows with every mapping change (the newest history id; 0 when none): what
    "the plan is out of date" compares, since two changes can share one second."""
    row = store.conn.execute("SELECT MAX(id) FROM mapping_history").fetchone()
    return int(row[0] or 0)



# ---- global defaults (issue 12) ------------------------------------------------------------------
def get_setting(store: Store, name: str) -> Decimal | None:
    """A global default of :data:`SETTINGS` (an exact decimal), or None when the operator stored none."""
    row = store.conn.execute("SELECT value FROM settings WHERE name = ?", (name,)).fetchone()
    return None if row is None or row[0] in (None, "") else Decimal(row[0])


def set_setting(store: Store, name: str, value: Decimal | str | None, *, by: str | None = None,
                source: str = "page") -> bool:
    """Store a global default (None removes it), recorded in ``mapping_history`` (kind ``setting``) in the
    same transaction; True when it changed."""
    if name not in SETTINGS:
        raise KeyError(name)
    new = None if _blank(value) else format(Decimal(str(value)), "f")
    old = store.conn.execute("SELECT value FROM settings WHERE name = ?", (name,)).fetchone()
    old_v = old[0] if old else None
    if old_v == new:
        return False
    by = by or operator_name()
    now = utcnow()
    with store.atomic():
        store.db["settings"].upsert({"name": name, "value": new, "updated_at": now, "updated_by": by}, pk="name")
        store.db["mapping_history"].insert({
            "kind": "setting", "vendor": "", "key": json.dumps([name]), "change": "set" if new is not None else "delete",
            "old": json.dumps({name: old_v}) if old_v is not None else None,
            "new": json.dumps({name: new}) if new is not None else None,
            "changed_at": now, "changed_by": by, "source": source})
    return True
