"""Mapping suggestions: vendor customers -> companies, -> agreements, vendor SKUs -> catalog items (pure).

Suggestions come best first, each with a ``score`` (0-100), the ``method`` that found it, ``flags``
that explain why it must not be trusted blindly, and ``auto_ok`` (may be accepted without a
person looking). Methods and scores:

============================  =====  ==================================================
method                        score  when
============================  =====  ==================================================
``account number``            100    vendor customer id, the vendor's external id (Pax8
                                     ``externalId``) or the Microsoft tenant domain ==
                                     company ``accountNumber``
``identifier``                 99    one of those == company ``identifier``
``already mapped``             99    the same customer is mapped for another vendor: the same
                                     tenant domain or external id (one vendor's external id
                                     may be another's customer id)
``custom field``               98    one of those == a value of the company's ``customFields``
``already mapped``             97    ... by the same normalised name
``same name``                  95    names equal after :func:`normalise_name`
``similar name``             0-94    rapidfuzz token-sort ratio of the normalised names
============================  =====  ==================================================

**Once per customer.** A customer billed by two vendors maps to one ConnectWise company once: pass
the other vendors' company mappings as ``known`` to :func:`suggest_companies` and the company
already chosen for that customer comes first, saying for which vendor ("already mapped for Pax8").

``auto_ok`` needs score >= :data:`AUTO_ACCEPT_THRESHOLD`, no flag, and no other candidate of the
same customer at the same score. Flags: ``deleted`` (recycle bin), ``prospect``,
``not_approved``, ``inactive``, ``vendor``, ``owner`` (the MSP itself), ``tie``; for agreements
``cancelled``, ``expired``, ``inactive``, ``child_agreement``, ``not_recurring``; for catalog
items ``inactive``. Flagged candidates are still listed (so the operator sees the recycle-bin
duplicate next to the live company) but never auto-accepted.

Fuzzy matching runs ``rapidfuzz.process.cdist`` over all names at once (chunked, all cores,
``score_cutoff``), after the exact-key joins; 5,000 customers x 10,000 companies takes seconds.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd
from rapidfuzz import fuzz, process

__all__ = [
    "AUTO_ACCEPT_THRESHOLD", "MIN_SCORE", "normalise_name", "company_flags",
    "suggest_companies", "best_suggestions", "suggest_agreements", "suggest_products",
]

#: never auto-accept a suggestion scoring below this
AUTO_ACCEPT_THRESHOLD = 90
#: fuzzy candidates below this are not listed at all
MIN_SCORE = 60
#: fuzzy scores are capped here so they always rank below an exact normalised name
FUZZY_CAP = 94

_SUFFIXES = {
    "inc", "incorporated", "llc", "llp", "lp", "ltd", "limited", "gmbh", "co", "corp", "corporation", "company",
    "plc", "pllc", "pc", "pty", "sa", "ag", "bv", "nv", "srl", "sarl", "kg", "oy", "ab", "as",
}
_PUNCT = re.compile(r"[^\w\s]")
_SPACE = re.compile(r"\s+")

COMPANY_COLUMNS = ["vendor_customer_id", "vendor_customer_name", "company_id", "company_identifier", "company_name",
                   "score", "method", "flags", "auto_ok", "reason"]
#: the vendor's own ids of a customer that ConnectWise may hold (``sources.EXTRA_COLUMNS``), with the
#: words a reason names them by
CUSTOMER_KEYS = {"vendor_customer_external_id": "the vendor's external id", "vendor_customer_domain": "the Microsoft tenant domain"}
#: ``known`` (customers mapped for other vendors): these columns, plus any of :data:`CUSTOMER_KEYS`
KNOWN_COLUMNS = ["vendor", "vendor_label", "vendor_customer_id", "vendor_customer_name", "company_id"]


def normalise_name(name: Any) -> str:
    """Lower-case, ``&`` -> ``and``, punctuation dropped, legal suffixes (Inc, LLC, GmbH ...) removed.

    >>> normalise_name("Cedar & Pine Law, LLP")
    'cedar and pine law'
    >>> normalise_name("Delta Veterinary Clinic, Inc.")
    'delta veterinary clinic'
    """
    if name is None or (isinstance(name, float) and name != name):
        return ""
    text = unicodedata.normalize("NFKD", str(name))
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).lower()
    text = text.replace("&", " and ").replace("+", " and ")
    text = _PUNCT.sub(" ", text)
    words = _SPACE.sub(" ", text).strip().split(" ")
    while len(words) > 1 and words[-1] in _SUFFIXES:
        words.pop()
    if len(words) > 1 and words[0] == "the":
        words.pop(0)
    return " ".join(w for w in words if w)


def _key(value: Any) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return ""
    return str(value).strip().lower()


def _names(refs: Any) -> list[str]:
    out = []
    for r in refs or []:
        if isinstance(r, Mapping):
            out.append(str(r.get("name") or r.get("identifier") or ""))
        elif r:
            out.append(str(r))
    return out


def company_flags(company: Mapping[str, Any]) -> tuple[str, ...]:
    """Why a ConnectWise company must not be mapped silently (CW JSON record)."""
    flags = []
    status = company.get("status")
    status_name = (status.get("name") if isinstance(status, Mapping) else status) or ""
    types = " ".join(_names(company.get("types")) + [str(company.get("type", {}).get("name", ""))
                                                    if isinstance(company.get("type"), Mapping) else ""]).lower()
    s = status_name.lower().replace("-", " ").replace("_", " ")
    if company.get("deletedFlag"):
        flags.append("deleted")
    if "prospect" in types or "prospect" in s or company.get("leadFlag"):
        flags.append("prospect")
    if "not approved" in s or "notapproved" in s.replace(" ", ""):
        flags.append("not_approved")
    elif "inactive" in s:
        flags.append("inactive")
    if "vendor" in types or company.get("isVendorFlag"):
        flags.append("vendor")
    if "owner" in types:
        flags.append("owner")
    return tuple(flags)


_FLAG_WORDS = {
    "deleted": "is in the recycle bin", "prospect": "is only a prospect", "not_approved": "is not approved",
    "inactive": "is inactive", "vendor": "is a vendor, not a client", "owner": "is your own company",
    "tie": "ties with another company", "cancelled": "is cancelled", "expired": "has expired",
    "child_agreement": "is a child of another agreement", "not_recurring": "is not a recurring agreement",
}


def _reason(method: str, score: int, flags: Iterable[str], what: str, note: str | None = None,
            words: Mapping[str, str] | None = None) -> str:
    if isinstance(note, str) and note:
        text = note
    else:
        text = {"account number": f"the vendor customer number is the {what}'s account number",
                "identifier": f"the vendor customer number is the {what}'s identifier",
                "same name": "same name once case, punctuation and Inc/LLC-style suffixes are ignored",
                "similar name": f"similar name (score {score})"}.get(method, method)
    extra = [(words or {}).get(f) or _FLAG_WORDS.get(f, f) for f in flags]
    if extra:
        text += f"; but the {what} " + " and ".join(extra) + ": confirm by hand"
    elif score < AUTO_ACCEPT_THRESHOLD:
        text += f"; below {AUTO_ACCEPT_THRESHOLD}: confirm by hand"
    return text


def _companies_frame(companies: Any) -> pd.DataFrame:
    if isinstance(companies, pd.DataFrame):
        df = companies.copy()
        if "company_id" not in df.columns and "id" in df.columns:
            df = df.rename(columns={"id": "company_id", "accountNumber": "account_number"})
        if "flags" not in df.columns:
            df["flags"] = [()] * len(df)
        return df
    rows = [{"company_id": c.get("id"), "identifier": c.get("identifier"), "name": c.get("name"),
             "account_number": c.get("accountNumber"), "flags": company_flags(c),
             "custom_fields": _custom_fields(c)} for c in companies]
    return pd.DataFrame(rows, columns=["company_id", "identifier", "name", "account_number", "flags", "custom_fields"])


def _custom_fields(company: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    """A CW company's custom field values as (caption, value) pairs (``customFields: [{caption, value}]``)."""
    out = []
    for f in company.get("customFields") or []:
        if isinstance(f, Mapping) and _key(f.get("value")):
            out.append((str(f.get("caption") or f.get("id") or "custom field"), str(f.get("value"))))
    return tuple(out)


def _column(df: pd.DataFrame, name: str) -> list[Any]:
    return df[name].tolist() if name in df.columns else [None] * len(df)


def suggest_companies(vendor_customers: pd.DataFrame, companies: Any, *, limit: int = 5,
                      min_score: int = MIN_SCORE, known: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per (vendor customer, candidate company), best first per customer.

    ``vendor_customers``: columns ``vendor_customer_id``, ``vendor_customer_name`` and optionally
    :data:`CUSTOMER_KEYS` (the vendor's external id, the Microsoft tenant domain), duplicates
    dropped. ``companies``: CW company JSON records (or a DataFrame with company_id, identifier,
    name, account_number, flags). ``known``: customers already mapped for *other* vendors
    (:data:`KNOWN_COLUMNS` plus any :data:`CUSTOMER_KEYS`; ``vendor_label`` is the vendor's name as
    a person reads it): the same customer gets the company chosen there (module docstring).
    Returns :data:`COMPANY_COLUMNS`.
    """
    keep = ["vendor_customer_id", "vendor_customer_name", *[c for c in CUSTOMER_KEYS if c in vendor_customers.columns]]
    vc = vendor_customers[keep].drop_duplicates("vendor_customer_id")
    vc = vc.reset_index(drop=True)
    cf = _companies_frame(companies).reset_index(drop=True)
    if not len(vc) or not len(cf):
        return pd.DataFrame(columns=COMPANY_COLUMNS)
    cand: dict[tuple[int, int], tuple[int, str, str | None]] = {}

    def offer(i: int, j: int, score: int, method: str, note: str | None = None) -> None:
        old = cand.get((i, j))
        if old is None or score > old[0]:
            cand[(i, j)] = (score, method, note)

    ids = [_key(x) for x in vc["vendor_customer_id"]]
    own_keys = {c: [_key(x) for x in _column(vc, c)] for c in CUSTOMER_KEYS}
    by_acct: dict[str, list[int]] = {}
    by_ident: dict[str, list[int]] = {}
    by_name: dict[str, list[int]] = {}
    cnames = [normalise_name(x) for x in cf["name"]]
    for j, (acct, ident, nm) in enumerate(zip(cf["account_number"], cf["identifier"], cnames)):
        if _key(acct):
            by_acct.setdefault(_key(acct), []).append(j)
        if _key(ident):
            by_ident.setdefault(_key(ident), []).append(j)
        if nm:
            by_name.setdefault(nm, []).append(j)
    by_custom: dict[str, list[tuple[int, str]]] = {}
    for j, fields in enumerate(_column(cf, "custom_fields")):
        for caption, value in fields or ():
            by_custom.setdefault(_key(value), []).append((j, caption))
    vnames = [normalise_name(x) for x in vc["vendor_customer_name"]]
    for i, (cid, nm) in enumerate(zip(ids, vnames)):
        for j in by_acct.get(cid, ()):
            offer(i, j, 100, "account number")
        for j in by_ident.get(cid, ()):
            offer(i, j, 99, "identifier")
        for col, words in CUSTOMER_KEYS.items():
            value = own_keys[col][i]
            if not value:
                continue
            shown = _column(vc, col)[i]
            for j in by_acct.get(value, ()):
                offer(i, j, 100, "account number", f"{words} {shown} is the company's account number")
            for j in by_ident.get(value, ()):
                offer(i, j, 99, "identifier", f"{words} {shown} is the company's identifier")
            for j, caption in by_custom.get(value, ()):
                offer(i, j, 98, "custom field", f"{words} {shown} is the company's custom field {caption}")
        for j in by_name.get(nm, ()):
            offer(i, j, 95, "same name")
    if known is not None and len(known):
        _offer_known(vc, ids, own_keys, vnames, cf, known, offer)
    # fuzzy: all pairs at once, chunked to bound memory
    chunk = max(1, 2_000_000 // max(1, len(cnames)))
    for start in range(0, len(vnames), chunk):
        block = vnames[start:start + chunk]
        mat = process.cdist(block, cnames, scorer=fuzz.token_sort_ratio, score_cutoff=min_score, dtype=np.uint8,
                            workers=-1)
        k = min(limit, mat.shape[1])
        top = np.argpartition(-mat.astype(np.int16), k - 1, axis=1)[:, :k] if k < mat.shape[1] else \
            np.tile(np.arange(mat.shape[1]), (mat.shape[0], 1))
        for r in range(mat.shape[0]):
            for j in top[r]:
                s = int(mat[r, j])
                if s >= min_score:
                    offer(start + r, int(j), min(s, FUZZY_CAP), "similar name")
    if not cand:
        return pd.DataFrame(columns=COMPANY_COLUMNS)
    keys = list(cand)
    out = pd.DataFrame({
        "_i": [i for i, _ in keys], "_j": [j for _, j in keys],
        "score": [cand[k][0] for k in keys], "method": [cand[k][1] for k in keys],
        "_note": [cand[k][2] for k in keys],
    })
    out["vendor_customer_id"] = vc["vendor_customer_id"].to_numpy(dtype=object)[out["_i"]]
    out["vendor_customer_name"] = vc["vendor_customer_name"].to_numpy(dtype=object)[out["_i"]]
    out["company_id"] = cf["company_id"].to_numpy(dtype=object)[out["_j"]]
    out["company_identifier"] = cf["identifier"].to_numpy(dtype=object)[out["_j"]]
    out["company_name"] = cf["name"].to_numpy(dtype=object)[out["_j"]]
    out["flags"] = cf["flags"].to_numpy(dtype=object)[out["_j"]]
    out["_clean"] = out["flags"].map(len) == 0
    out = out.sort_values(["_i", "score", "_clean"], ascending=[True, False, False], kind="stable")
    out = out.groupby("_i", sort=False).head(limit)
    # ties at the top score (among unflagged candidates) are never auto
    top_score = out.groupby("_i")["score"].transform("max")
    n_top = out[out["_clean"]].groupby("_i")["score"].transform(lambda s: (s == s.max()).sum())
    out["_n_top"] = n_top.reindex(out.index).fillna(0).astype(int)
    tie = (out["score"] == top_score) & out["_clean"] & (out["_n_top"] > 1)
    out.loc[tie, "flags"] = out.loc[tie, "flags"].map(lambda f: tuple(f) + ("tie",))
    out["auto_ok"] = (out["score"] >= AUTO_ACCEPT_THRESHOLD) & (out["flags"].map(len) == 0) & (out["score"] == top_score)
    out["reason"] = [_reason(m, s, f, "company", n) for m, s, f, n in
                     zip(out["method"], out["score"], out["flags"], out["_note"])]
    return out[COMPANY_COLUMNS].reset_index(drop=True)


def _offer_known(vc: pd.DataFrame, ids: list[str], own_keys: dict[str, list[str]], vnames: list[str],
                 cf: pd.DataFrame, known: pd.DataFrame, offer) -> None:
    """Offer each customer the company it is already mapped to for another vendor (``known``):

    * 99 when both have the same Microsoft tenant domain, or the same external id, or one's
      external id is the other's customer id (an MSP sets the Pax8 ``externalId`` to its own
      customer number, often the id another vendor uses); two vendors' plain customer ids that
      happen to be equal say nothing;
    * 97 when the names are the same once normalised (:func:`normalise_name`).
    """
    position: dict[int, int] = {}
    for j, cid in enumerate(cf["company_id"]):
        if cid is not None and cid == cid:
            position.setdefault(int(cid), j)
    domains: dict[str, list[tuple[int, str]]] = {}
    externals: dict[str, list[tuple[int, str]]] = {}
    customer_ids: dict[str, list[tuple[int, str]]] = {}
    names: dict[str, list[tuple[int, str]]] = {}
    label_col = "vendor_label" if "vendor_label" in known.columns else "vendor"
    for rec in known.to_dict("records"):
        comp = rec.get("company_id")
        if comp is None or comp != comp or int(comp) not in position:
            continue  # mapped to a company this snapshot does not hold
        hit = (position[int(comp)], str(rec.get(label_col)))
        for index, value in ((domains, rec.get("vendor_customer_domain")), (externals, rec.get("vendor_customer_external_id")),
                             (customer_ids, rec.get("vendor_customer_id")), (names, normalise_name(rec.get("vendor_customer_name")))):
            if _key(value):
                index.setdefault(_key(value), []).append(hit)
    for i in range(len(vc)):
        dom, ext, own = own_keys["vendor_customer_domain"][i], own_keys["vendor_customer_external_id"][i], ids[i]
        shown = {c: _column(vc, c)[i] for c in CUSTOMER_KEYS}
        found: list[tuple[int, str, str]] = []
        if dom:
            found += [(j, lab, f"the same Microsoft tenant domain {shown['vendor_customer_domain']}") for j, lab in domains.get(dom, ())]
        if ext:
            found += [(j, lab, f"the same external id {shown['vendor_customer_external_id']}") for j, lab in externals.get(ext, ())]
            found += [(j, lab, f"its external id {shown['vendor_customer_external_id']} is the customer's id there")
                      for j, lab in customer_ids.get(ext, ())]
        if own:
            found += [(j, lab, f"the external id there is this customer's id {vc['vendor_customer_id'].iloc[i]}")
                      for j, lab in externals.get(own, ())]
        for j, lab, why in found:
            offer(i, j, 99, "already mapped", f"already mapped for {lab}: {why}")
        for j, lab in names.get(vnames[i], ()) if vnames[i] else ():
            offer(i, j, 97, "already mapped", f"already mapped for {lab}: the same customer name")


def best_suggestions(suggestions: pd.DataFrame, vendor_customers: pd.DataFrame | None = None,
                     id_column: str = "vendor_customer_id") -> pd.DataFrame:
    """The first (best) suggestion per vendor customer (or SKU: ``id_column="sku"``).

    With ``vendor_customers``, customers without any candidate appear too, with no company,
    score 0 and ``auto_ok`` False (the unmapped queue).
    """
    best = suggestions.groupby(id_column, sort=False).head(1).reset_index(drop=True)
    if vendor_customers is not None:
        ids = vendor_customers[[c for c in (id_column, "vendor_customer_name") if c in vendor_customers.columns]]
        ids = ids.drop_duplicates(id_column)
        best = ids.merge(best.drop(columns=[c for c in ("vendor_customer_name",) if c in ids.columns and c in best.columns]),
                         on=id_column, how="left")
        best["score"] = best["score"].fillna(0).astype(int)
        best["auto_ok"] = best["auto_ok"].astype(object).where(best["auto_ok"].notna(), False).astype(bool)
        best["flags"] = best["flags"].map(lambda f: f if isinstance(f, tuple) else ())
        best["method"] = best["method"].astype(object).where(best["method"].notna(), None)
        best["reason"] = best["reason"].astype(object).where(best["reason"].notna(), "no candidate found: map by hand or create it")
    return best


# ---------------------------------------------------------------- agreements ----------------

AGREEMENT_COLUMNS = ["vendor_customer_id", "company_id", "agreement_id", "agreement_name", "score", "method", "flags",
                     "auto_ok", "reason"]


def agreement_flags(a: Mapping[str, Any], today: str | None = None) -> tuple[str, ...]:
    flags = []
    status = (a.get("agreementStatus") or "").lower()
    if a.get("cancelledFlag") or status == "cancelled":
        flags.append("cancelled")
    end = (a.get("endDate") or "")[:10]
    if status == "expired" or (end and today and end < today and not a.get("noEndingDateFlag")):
        flags.append("expired")
    if status == "inactive":
        flags.append("inactive")
    if isinstance(a.get("parentAgreement"), Mapping) and a["parentAgreement"].get("id"):
        flags.append("child_agreement")
    cycle = a.get("billingCycle")
    cname = (cycle.get("name") if isinstance(cycle, Mapping) else cycle) or ""
    if a.get("oneTimeFlag") or (cycle is not None and cname.strip().lower() in ("none", "one time", "onetime")):
        flags.append("not_recurring")
    return tuple(flags)


def suggest_agreements(customer_companies: pd.DataFrame, agreements: Iterable[Mapping[str, Any]], vendor_name: str,
                       *, today: str | None = None) -> pd.DataFrame:
    """Agreements of each mapped company, best first.

    ``customer_companies``: ``vendor_customer_id``, ``company_id``. An agreement whose name
    mentions the vendor scores 95; otherwise the company's only active recurring agreement 80;
    any other 50. Cancelled/expired/inactive/child/non-recurring agreements are flagged and never
    auto-accepted; two agreements naming the vendor are a tie.
    """
    by_company: dict[Any, list[Mapping[str, Any]]] = {}
    for a in agreements:
        comp = a.get("company") or {}
        by_company.setdefault(comp.get("id"), []).append(a)
    vnorm = normalise_name(vendor_name)
    rows = []
    for cust, comp in customer_companies[["vendor_customer_id", "company_id"]].drop_duplicates().itertuples(index=False):
        cands = by_company.get(comp, [])
        live = [a for a in cands if not agreement_flags(a, today)]
        for a in cands:
            flags = agreement_flags(a, today)
            mentions = bool(vnorm) and vnorm in normalise_name(a.get("name"))
            if mentions:
                score, method = 95, "agreement name mentions the vendor"
            elif not flags and len(live) == 1:
                score, method = 80, "the only active recurring agreement"
            else:
                score, method = 50, "another agreement of the company"
            rows.append({"vendor_customer_id": cust, "company_id": comp, "agreement_id": a.get("id"),
                         "agreement_name": a.get("name"), "score": score, "method": method, "flags": flags})
    if not rows:
        return pd.DataFrame(columns=AGREEMENT_COLUMNS)
    out = pd.DataFrame(rows)
    out["_clean"] = out["flags"].map(len) == 0
    out = out.sort_values(["vendor_customer_id", "score", "_clean"], ascending=[True, False, False], kind="stable")
    top = out.groupby("vendor_customer_id")["score"].transform("max")
    clean_top = out[out["_clean"] & (out["score"] == top)].groupby("vendor_customer_id").size()
    n_top = out["vendor_customer_id"].map(clean_top).fillna(0)
    tie = out["_clean"] & (out["score"] == top) & (n_top > 1)
    out.loc[tie, "flags"] = out.loc[tie, "flags"].map(lambda f: tuple(f) + ("tie",))
    out["auto_ok"] = (out["score"] >= 80) & (out["flags"].map(len) == 0) & (out["score"] == top)
    words = {**_FLAG_WORDS, "tie": "ties with another agreement"}
    out["reason"] = [m + ("" if not f else "; but it " + " and ".join(words.get(x, x) for x in f) + ": confirm by hand")
                     for m, f in zip(out["method"], out["flags"])]
    return out[AGREEMENT_COLUMNS].reset_index(drop=True)


# ---------------------------------------------------------------- products ------------------

PRODUCT_COLUMNS = ["sku", "term", "billing_frequency", "product_name", "catalog_item_id", "catalog_identifier",
                   "catalog_description", "score", "method", "flags", "auto_ok", "reason"]


def suggest_products(vendor_products: pd.DataFrame, catalog: Iterable[Mapping[str, Any]], *, limit: int = 3,
                     min_score: int = MIN_SCORE) -> pd.DataFrame:
    """Catalog items for each (sku, term, billing_frequency), best first.

    identifier == SKU: 100; vendorSku == SKU: 98; manufacturerPartNumber == SKU: 97; fuzzy
    description vs the vendor product name: up to 89 (never auto). Inactive items are flagged.
    """
    cols = [c for c in ("sku", "term", "billing_frequency", "product_name") if c in vendor_products.columns]
    vp = vendor_products[cols].drop_duplicates([c for c in ("sku", "term", "billing_frequency") if c in cols])
    vp = vp.reset_index(drop=True)
    for c in ("term", "billing_frequency", "product_name"):
        if c not in vp.columns:
            vp[c] = None
    cat = list(catalog)
    if not len(vp) or not cat:
        return pd.DataFrame(columns=PRODUCT_COLUMNS)
    exact: dict[str, list[tuple[int, int, str]]] = {}
    for j, c in enumerate(cat):
        for fieldname, score, method in (("identifier", 100, "catalog identifier"), ("vendorSku", 98, "vendor SKU"),
                                         ("manufacturerPartNumber", 97, "manufacturer part number")):
            if _key(c.get(fieldname)):
                exact.setdefault(_key(c.get(fieldname)), []).append((j, score, method))
    descs = [normalise_name(c.get("description")) for c in cat]
    names = [normalise_name(x) for x in vp["product_name"]]
    mat = process.cdist(names, descs, scorer=fuzz.token_sort_ratio, score_cutoff=min_score, dtype=np.uint8, workers=-1)
    rows = []
    for i, r in vp.iterrows():
        got: dict[int, tuple[int, str]] = {}
        for j, score, method in exact.get(_key(r["sku"]), ()):
            if j not in got or got[j][0] < score:
                got[j] = (score, method)
        order = np.argsort(-mat[i].astype(np.int16))[:limit]
        for j in order:
            s = int(mat[i, j])
            if s >= min_score and int(j) not in got:
                got[int(j)] = (min(s, 89), "similar description")
        for j, (score, method) in got.items():
            c = cat[j]
            flags = ("inactive",) if c.get("inactiveFlag") else ()
            rows.append({"sku": r["sku"], "term": r["term"], "billing_frequency": r["billing_frequency"],
                         "product_name": r["product_name"], "catalog_item_id": c.get("id"),
                         "catalog_identifier": c.get("identifier"), "catalog_description": c.get("description"),
                         "score": score, "method": method, "flags": flags})
    if not rows:
        return pd.DataFrame(columns=PRODUCT_COLUMNS)
    out = pd.DataFrame(rows)
    out["_clean"] = out["flags"].map(len) == 0
    out = out.sort_values(["sku", "score", "_clean"], ascending=[True, False, False], kind="stable")
    top = out.groupby(["sku", "term", "billing_frequency"], dropna=False)["score"].transform("max")
    out["auto_ok"] = (out["score"] >= AUTO_ACCEPT_THRESHOLD) & out["_clean"] & (out["score"] == top)
    out["reason"] = [_reason(m, s, f, "catalog item") for m, s, f in zip(out["method"], out["score"], out["flags"])]
    return out[PRODUCT_COLUMNS].reset_index(drop=True)
