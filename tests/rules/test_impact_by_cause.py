"""Impact by cause (issue 12): every changed row's price impact split into quantity, price, proration and credit,
the parts adding up to ``price_impact`` to the cent on every row (dated cases, billing month 2026-11, and
hypothesis properties: the SQL and its Python twin agree, and the parts always sum to the impact)."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from billbridge.model import IMPACT_CAUSES
from billbridge.money import extended
from billbridge.rules import impact
from rules_support import addition, lines, only, run, snapshot, vline

KEY = "demo|DC-1|S-1"


def parts_of(row) -> dict[str, D]:
    return dict(row.impact_by_cause)


def test_a_seat_increase_at_an_unchanged_price_is_all_quantity():
    # 2026-11: Acme Dental goes from 12 to 14 seats at $25.00
    r = only(run(lines(vline(qty="14")), snapshot([addition(1, qty=12)])), key=KEY)
    assert r.price_impact == D("50.00")
    assert parts_of(r) == {"quantity": D("50.00"), "price": D("0.00"), "proration": D("0.00"), "credit": D("0.00")}


def test_a_price_increase_on_the_same_seats_is_all_price():
    # 2026-11: 10 seats, the vendor's price goes from $25.00 to $27.50
    r = only(run(lines(vline(price="27.50")), snapshot([addition(1, qty=10, price=25.0)])), key=KEY)
    assert r.price_impact == D("25.00")
    assert parts_of(r) == {"quantity": D("0.00"), "price": D("25.00"), "proration": D("0.00"), "credit": D("0.00")}


def test_more_seats_at_a_new_price_split_at_the_old_price_and_the_new_quantity():
    # 12 seats at $25.00 -> 14 seats at $27.50: quantity 2 x 25.00 = 50.00, price 14 x 2.50 = 35.00
    r = only(run(lines(vline(qty="14", price="27.50")), snapshot([addition(1, qty=12, price=25.0)])), key=KEY)
    assert r.price_impact == D("85.00")
    assert parts_of(r)["quantity"] == D("50.00") and parts_of(r)["price"] == D("35.00")


def test_the_rounding_difference_goes_to_the_price_part():
    # 3 x 0.335 = 1.005 -> 1.01 before; 4 x 0.3349 = 1.3396 -> 1.34 after: impact 0.33
    # quantity 1 x 0.335 = 0.335 -> 0.34; price takes the remainder 0.33 - 0.34 = -0.01
    r = only(run(lines(vline(qty="4", price="0.3349", cost="0.10")), snapshot([addition(1, qty=3, price=0.335)])),
             key=KEY)
    assert r.price_impact == D("0.33")
    assert parts_of(r)["quantity"] == D("0.34") and parts_of(r)["price"] == D("-0.01")
    assert sum(parts_of(r).values()) == r.price_impact


def test_a_quantity_change_alone_never_shows_a_price_part_even_when_rounding_would():
    # 1 x 0.005 = 0.01 (half away from zero), 2 x 0.005 = 0.01: the impact is 0.00 and it is all quantity
    r = only(run(lines(vline(qty="2", price="0.005", cost="0.001")), snapshot([addition(1, qty=1, price=0.005)])),
             key=KEY)
    assert r.price_impact == D("0.00") and parts_of(r)["price"] == D("0.00")


def test_a_new_line_is_all_quantity():
    r = only(run(lines(vline(qty="3")), snapshot([])), key=KEY)
    assert r.action == "create" and parts_of(r)["quantity"] == r.price_impact == D("75.00")


def test_a_line_the_vendor_no_longer_bills_ends_as_quantity():
    r = only(run(lines(vline(sub="S-2")), snapshot([addition(1, qty=4, key="demo|DC-1|S-9")])), action="cancel")
    assert r.price_impact == D("-100.00")
    assert parts_of(r) == {"quantity": D("-100.00"), "price": D("0.00"), "proration": D("0.00"), "credit": D("0.00")}


def test_a_credit_is_explained_by_the_credit():
    credit = vline(qty="-2", charge_type="credit")
    r = only(run(lines(vline(), credit), snapshot([addition(1)])), charge_type="credit")
    assert r.action == "create" and r.price_impact == D("-50.00")
    assert parts_of(r) == {"quantity": D("0.00"), "price": D("0.00"), "proration": D("0.00"), "credit": D("-50.00")}


def test_a_price_change_on_a_unit_the_vendor_prorated_is_proration():
    # account created on the 4th; the vendor billed 2026-11-17 .. 2026-12-03 (17 of 30 days) at 14.17:
    # the full-period unit 14.17 x 30 / 17 = 25.01 is not the standing 25.00: that cent is the proration's
    line = vline(price="14.17", cost="10.20", period=("2026-11-17", "2026-12-03"), created="2020-01-04")
    r = only(run(lines(line), snapshot([addition(1, qty=10, price=25.0)])), key=KEY)
    assert "vendor_prorated" in r.flags and r.new_unit_price == D("25.01")
    assert parts_of(r) == {"quantity": D("0.00"), "price": D("0.00"), "proration": D("0.10"), "credit": D("0.00")}


def test_rows_that_change_nothing_have_no_impact_by_cause():
    r = only(run(lines(vline()), snapshot([addition(1)])), key=KEY)
    assert r.action == "in_sync" and r.impact_by_cause is None


def test_the_summary_totals_the_parts_per_currency():
    eur = vline(sub="S-3", qty="2", price="10.00", cost="6.00") | {"currency": "EUR"}  # above cost: not margin-blocked
    plan = run(lines(vline(qty="14"), eur), snapshot([addition(1, qty=12)]))
    totals = plan.summary.impact_by_cause
    assert totals["USD"]["quantity"] == D("50.00") and totals["EUR"]["quantity"] == D("20.00")
    assert list(totals["USD"]) == list(IMPACT_CAUSES)


# ---------------------------------------------------------------- properties ----------------
units = st.decimals(min_value=D("0"), max_value=D("400"), places=4, allow_nan=False, allow_infinity=False)
quantities = st.decimals(min_value=D("0"), max_value=D("500"), places=2, allow_nan=False, allow_infinity=False)
PROPS = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def expected_impact(action, q1, p1, q0, p0, cur):
    new = D(0) if action == "cancel" else extended(q1, p1, cur)
    old = D(0) if action == "create" else extended(q0, p0, cur)
    return new - old


@PROPS
@given(action=st.sampled_from(["create", "update", "cancel"]), q1=quantities, p1=units, q0=quantities, p0=units,
       credit=st.booleans(), prorated=st.booleans(), cur=st.sampled_from(["USD", "JPY", "BHD"]))
def test_the_parts_always_sum_to_the_impact(action, q1, p1, q0, p0, credit, prorated, cur):
    got = impact.parts(action, q1, p1, q0, p0, cur, credit=credit, prorated=prorated)
    assert list(got) == list(IMPACT_CAUSES)
    assert sum(got.values()) == expected_impact(action, q1, p1, q0, p0, cur)
    if credit:
        assert not any(got[c] for c in IMPACT_CAUSES if c != "credit")
    if p1 == p0 or action != "update":
        assert got["price"] == 0 and got["proration"] == 0
    if action == "update" and q1 == q0:
        assert got["quantity"] == 0


def _sql_parts(db, action, q1, p1, q0, p0, cur, credit, prorated):
    """The plan rows' SQL on one row: its price impact as the rules compute it, then its parts."""
    places = {"USD": 2, "JPY": 0, "BHD": 3}[cur]
    lit = lambda v: "NULL" if v is None else f"'{v}'"  # noqa: E731
    impact_sql = (f"money(-revenue({lit(q0)}, {lit(p0)}, {places}), {places})" if action == "cancel" else
                  f"price_impact('{action}', {lit(q1)}, {lit(p1)}, {lit(q0)}, {lit(p0)}, {places})")
    q1_sql, p1_sql = (lit(q0), lit(p0)) if action == "cancel" else (lit(q1), lit(p1))  # an ended line keeps its values
    cols = ", ".join(f"impact_part('{c}', '{action}', {credit}, {prorated}, qp, impact)" for c in IMPACT_CAUSES)
    got = db.execute(f"""SELECT {cols} FROM (SELECT *, impact_quantity_part('{action}', {q1_sql}, {p1_sql}, {lit(q0)},
                                                                  {lit(p0)}, impact) AS qp
                                       FROM (SELECT {impact_sql} AS impact))""").fetchone()
    return dict(zip(IMPACT_CAUSES, (D(v) for v in got)))


@pytest.fixture(scope="module")
def duck():
    from billbridge.plan.engine import _database

    db = _database().cursor()
    yield db
    db.close()


@PROPS
@given(action=st.sampled_from(["create", "update", "cancel"]), q1=quantities, p1=units, q0=quantities, p0=units,
       credit=st.booleans(), prorated=st.booleans(), cur=st.sampled_from(["USD", "JPY", "BHD"]))
def test_the_sql_and_its_python_twin_agree(duck, action, q1, p1, q0, p0, credit, prorated, cur):
    python = impact.parts(action, q1, p1, q0, p0, cur, credit=credit, prorated=prorated)
    assert _sql_parts(duck, action, q1, p1, q0, p0, cur, credit, prorated) == python


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(q0=st.integers(0, 40), p0=units, q1=st.integers(0, 40), p1=units, credit=st.booleans())
def test_every_changed_row_of_a_plan_sums_to_its_price_impact(q0, p0, q1, p1, credit):
    vl = [vline(qty=str(q1), price=str(p1))]
    if credit:
        vl.append(vline(qty=str(-q1), price=str(p1), charge_type="credit"))
    plan = run(lines(*vl), snapshot([addition(1, qty=q0, price=float(p0))]))
    for r in plan.rows.itertuples():
        if r.action in ("create", "update", "cancel"):
            assert sum(r.impact_by_cause.values()) == r.price_impact, r
        else:
            assert r.impact_by_cause is None
