"""Hypothesis properties of billbridge.plan.reconcile over random months.

- conservation: vendor lines and dollars = reconciled + blocked + excluded, to the cent;
- determinism: reconciling twice gives identical keys (and plan keys are unique);
- idempotence: applying the plan's requests to the snapshot, then reconciling again, leaves
  nothing to create, update or cancel.
"""

from __future__ import annotations

import copy
from datetime import date
from decimal import ROUND_HALF_UP, Decimal as D

import pandas as pd
from hypothesis import HealthCheck, given, settings, strategies as st

from billbridge.plan import Context, Mappings, reconcile

MONTH = "2026-11"
API = "BillbridgeAPI"
CUSTOMERS = [f"C{i}" for i in range(6)]
SKUS = {"HPBX-SEAT": 501, "EXCH-MBX": 502, "VOICE-MIN": 505, "PHONE-SETUP": 504, "NOPE-SKU": None}
CATALOG = [{"id": 501, "identifier": "HPBX-SEAT", "description": "Hosted PBX seat", "price": 25.0, "cost": 18.0},
           {"id": 502, "identifier": "EXCH-MBX", "description": "Exchange mailbox", "price": 7.0, "cost": 4.5},
           {"id": 504, "identifier": "PHONE-SETUP", "description": "Phone setup", "price": 99.0, "cost": 49.0},
           {"id": 505, "identifier": "VOICE-MIN", "description": "Voice minutes", "price": 0.02, "cost": 0.012}]
CHARGE = {"HPBX-SEAT": "recurring", "EXCH-MBX": "recurring", "VOICE-MIN": "usage", "PHONE-SETUP": "one_time",
          "NOPE-SKU": "recurring"}

money = st.decimals(min_value=D("0"), max_value=D("500"), places=4, allow_nan=False, allow_infinity=False)
qty = st.integers(min_value=0, max_value=300).map(D)
periods = st.sampled_from([("2026-11-01", "2026-11-30"), ("2026-11-17", "2026-12-16"), ("2026-10-05", "2026-11-04"),
                           ("2026-12-01", "2026-12-31"), None])


@st.composite
def vendor_line(draw):
    cust = draw(st.sampled_from(CUSTOMERS))
    sku = draw(st.sampled_from(sorted(SKUS)))
    credit = draw(st.booleans()) and draw(st.booleans())
    period = draw(periods)
    return {
        "vendor_customer_id": cust, "vendor_customer_name": f"Customer {cust}",
        "customer_created": draw(st.sampled_from([date(2024, 1, 1), date(2024, 1, 17), date(2023, 5, 30), None])),
        "subscription_id": draw(st.sampled_from([None, f"S-{cust}-1", f"S-{cust}-2"])), "sku": sku,
        "product_name": sku.title(), "charge_type": "credit" if credit else CHARGE[sku],
        "billing_frequency": "monthly", "term": draw(st.sampled_from(["monthly", "annual"])),
        "quantity": -draw(qty) if credit else draw(qty), "unit_cost": draw(money),
        "unit_price": draw(st.one_of(st.none(), money)),
        "period_start": date.fromisoformat(period[0]) if period else None,
        "period_end": date.fromisoformat(period[1]) if period else None,
        "effective_date": draw(st.sampled_from([None, date(2026, 11, 9), date(2026, 10, 3)])), "currency": "USD",
    }


@st.composite
def month(draw):
    lines = draw(st.lists(vendor_line(), min_size=0, max_size=25))
    vl = pd.DataFrame(lines, columns=["vendor_customer_id", "vendor_customer_name", "customer_created", "subscription_id",
                                      "sku", "product_name", "charge_type", "billing_frequency", "term", "quantity",
                                      "unit_cost", "unit_price", "period_start", "period_end", "effective_date",
                                      "currency"])
    vl["line_no"] = range(1, len(vl) + 1)
    mapped = draw(st.lists(st.sampled_from(CUSTOMERS), unique=True))
    with_agr = draw(st.lists(st.sampled_from(CUSTOMERS), unique=True))
    modes = {c: draw(st.sampled_from(["standing", "monthly"])) for c in CUSTOMERS}
    agr_id = {c: 200 + i for i, c in enumerate(CUSTOMERS)}
    comp_id = {c: 100 + i for i, c in enumerate(CUSTOMERS)}
    status = {c: draw(st.sampled_from(["Active", "Active", "Active", "Cancelled", "Expired"])) for c in CUSTOMERS}
    agreements = [{"id": agr_id[c], "name": f"Demo Cloud Services {c}", "company": {"id": comp_id[c], "name": f"Co {c}"},
                   "agreementStatus": status[c], "cancelledFlag": status[c] == "Cancelled",
                   "prorateFlag": draw(st.booleans()), "noEndingDateFlag": status[c] != "Expired",
                   "endDate": "2026-06-30T00:00:00Z" if status[c] == "Expired" else None} for c in CUSTOMERS]
    companies = [{"id": comp_id[c], "name": f"Co {c}", "identifier": c} for c in CUSTOMERS]
    additions = []
    for i in range(draw(st.integers(min_value=0, max_value=12))):
        c = draw(st.sampled_from(CUSTOMERS))
        product = draw(st.sampled_from([501, 502, 504, 505]))
        sku = next(k for k, v in SKUS.items() if v == product)
        sub = draw(st.sampled_from([f"S-{c}-1", f"S-{c}-2", sku]))
        key = draw(st.sampled_from([None, f"demo|{c}|{sub}", f"demo|{c}|{sub}|{MONTH}", f"other|{c}|{sub}"]))
        person = draw(st.booleans())
        additions.append({
            "id": 1000 + i, "agreementId": agr_id[c], "product": {"id": product}, "quantity": float(draw(qty)),
            "unitPrice": float(draw(money)), "unitCost": float(draw(money)), "billCustomer": "Billable",
            "effectiveDate": draw(st.sampled_from(["2025-01-01T00:00:00Z", "2026-11-01T00:00:00Z"])),
            "cancelledDate": draw(st.sampled_from([None, None, "2026-10-31T00:00:00Z", "2026-11-30T00:00:00Z"])),
            "customFields": [{"id": 7, "caption": "BillbridgeKey", "value": key}],
            "_info": {"dateEntered": "2026-10-01T10:00:00Z", "enteredBy": API,
                      "lastUpdated": "2026-10-20T10:00:00Z" if person else "2026-10-01T10:00:00Z",
                      "updatedBy": "jsmith" if person else API},
        })
    invoices = [{"id": 1, "type": "Agreement", "agreement": {"id": agr_id[c]}, "date": "2026-11-01T00:00:00Z"}
                for c in draw(st.lists(st.sampled_from(CUSTOMERS), unique=True))]
    snap = {"companies": companies, "agreements": agreements, "additions": additions, "catalog": CATALOG,
            "invoices": invoices, "agreement_types": []}
    rules = []
    for c in draw(st.lists(st.sampled_from(CUSTOMERS), unique=True, max_size=3)):
        rule = draw(st.sampled_from(["do_not_sync", "fixed_quantity", "cap"]))
        rules.append({"vendor_customer_id": c, "sku": draw(st.sampled_from([None, "HPBX-SEAT"])), "rule": rule,
                      "value": None if rule == "do_not_sync" else draw(qty)})
    maps = Mappings(
        companies=pd.DataFrame([{"vendor_customer_id": c, "company_id": comp_id[c]} for c in mapped],
                               columns=["vendor_customer_id", "company_id"]),
        agreements=pd.DataFrame([{"vendor_customer_id": c, "subscription_id": None, "agreement_id": agr_id[c],
                                  "sync_mode": modes[c], "period_rule": draw(st.sampled_from(["advance", "arrears"]))}
                                 for c in with_agr],
                                columns=["vendor_customer_id", "subscription_id", "agreement_id", "sync_mode", "period_rule"]),
        products=pd.DataFrame([{"sku": s, "term": None, "billing_frequency": None, "catalog_item_id": i,
                                "own_cost": True, "own_price": draw(st.booleans()), "quantity_basis": None}
                               for s, i in SKUS.items() if i is not None]),
        rules=pd.DataFrame(rules, columns=["vendor_customer_id", "sku", "rule", "value"]),
    )
    return vl, snap, maps


def ctx():
    return Context(month=MONTH, vendor="demo", api_member=API, today=date(2026, 11, 20))


def line_amount(q: D, c: D, credit: bool) -> D:
    if credit:
        q, c = -abs(q), abs(c)
    return (q * c).quantize(D("0.01"), rounding=ROUND_HALF_UP)


SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(month())
def test_conservation_holds_to_the_cent_for_random_months(m):
    vl, snap, maps = m
    plan = reconcile(vl, snap, maps, ctx())
    s = plan.summary
    expected = sum((line_amount(q, c, t == "credit") for q, c, t in zip(vl["quantity"], vl["unit_cost"], vl["charge_type"])),
                   D("0"))
    assert s.lines_checked == len(vl) and s.dollars_checked == expected
    assert s.lines_reconciled + s.lines_blocked + s.lines_excluded == len(vl)
    assert s.dollars_reconciled + s.dollars_blocked + s.dollars_excluded == expected
    # every vendor line is behind exactly one plan row
    behind = sorted(n for ns in plan.rows["vendor_lines"] for n in ns)
    assert behind == list(range(1, len(vl) + 1))
    assert s.status != "in_sync" or len(vl) > 0
    assert set(plan.rows["action"]) <= {"in_sync", "update", "create", "cancel", "blocked"}
    assert plan.rows.loc[plan.rows["action"] == "blocked", "cause"].notna().all()
    assert plan.rows.loc[plan.rows["action"] != "blocked", "cause"].isna().all()


@SETTINGS
@given(month())
def test_reconciling_twice_gives_identical_keys(m):
    vl, snap, maps = m
    a = reconcile(vl, snap, maps, ctx())
    b = reconcile(vl, copy.deepcopy(snap), maps, ctx())
    assert a.rows["key"].tolist() == b.rows["key"].tolist()
    assert a.rows["action"].tolist() == b.rows["action"].tolist()
    assert a.rows["key"].is_unique
    assert all(len(k) <= 50 or k.endswith("|out") or "#" in k for k in a.rows["key"])


def apply(snap: dict, plan) -> dict:
    """Simulate ConnectWise applying the plan's requests (what push would do)."""
    snap = copy.deepcopy(snap)
    by_id = {a["id"]: a for a in snap["additions"]}
    catalog = {c["id"]: c for c in snap["catalog"]}
    next_id = max(by_id, default=0) + 1000
    info = {"dateEntered": "2026-11-21T09:00:00Z", "enteredBy": API, "lastUpdated": "2026-11-21T09:00:00Z",
            "updatedBy": API}
    for req in plan.rows["request"]:
        if req is None:
            continue
        parts = req["path"].strip("/").split("/")
        agr = int(parts[2])
        if req["method"] == "POST":
            body = dict(req["body"])
            item = catalog[body["product"]["id"]]
            rec = {"id": next_id, "agreementId": agr, "unitPrice": item["price"], "unitCost": item["cost"],
                   "cancelledDate": None, "_info": dict(info), **body}
            by_id[next_id] = rec
            next_id += 1
        else:
            rec = by_id[int(parts[4])]
            for op in req["body"]:
                assert op["op"] == "replace"
                rec[op["path"]] = op["value"]
            rec["_info"] = {**rec["_info"], "lastUpdated": info["lastUpdated"], "updatedBy": API}
    snap["additions"] = list(by_id.values())
    return snap


@SETTINGS
@given(month())
def test_a_plan_applied_then_reconciled_again_is_all_in_sync(m):
    vl, snap, maps = m
    first = reconcile(vl, snap, maps, ctx())
    assert all(r is None or r["method"] in ("POST", "PATCH") for r in first.rows["request"])  # never DELETE
    second = reconcile(vl, apply(snap, first), maps, ctx())
    pending = second.rows[second.rows["action"].isin(["create", "update", "cancel"])]
    assert pending.empty, pending[["key", "action", "reason"]].to_string()
    assert second.summary.dollars_checked == first.summary.dollars_checked


@SETTINGS
@given(month())
def test_every_changed_rows_impact_by_cause_sums_to_its_price_impact_in_random_months(m):
    """Issue 12: the parts (quantity, price, proration, credit) add up to the price impact to the cent on every
    create, update and line end; the summary's totals per currency are the rows' parts added up."""
    from billbridge.model import IMPACT_CAUSES

    vl, snap, maps = m
    plan = reconcile(vl, snap, maps, ctx())
    totals: dict[str, dict[str, D]] = {}
    for action, parts, impact, cur in zip(plan.rows["action"], plan.rows["impact_by_cause"], plan.rows["price_impact"],
                                          plan.rows["currency"]):
        if action not in ("create", "update", "cancel"):
            assert parts is None
            continue
        assert list(parts) == list(IMPACT_CAUSES) and sum(parts.values()) == impact
        acc = totals.setdefault(cur or "USD", dict.fromkeys(IMPACT_CAUSES, D(0)))
        for c in IMPACT_CAUSES:
            acc[c] += parts[c]
    assert plan.summary.impact_by_cause == totals
