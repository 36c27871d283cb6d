"""The currency (Rule 7.1, section 9 "Rule 7.1 in totals"): a vendor line billed in another currency than its
mapped agreement's is blocked ``currency_mismatch``, never converted; the reason names both currencies and
the vendor's own exchange rate where its file gave one. Billing month 2026-11, agreement 200."""

from __future__ import annotations

from decimal import Decimal as D

from rules_support import addition, lines, only, run, snapshot, vline

KEY = "demo|DC-1|S-1"
USD = {"currency": {"id": 1, "symbol": "$", "currencyCode": "USD", "name": "US Dollar"}}
EUR = {"currency": {"id": 2, "symbol": "€", "currencyCode": "EUR", "name": "Euro"}}


def eur(**kw):
    return vline(**kw) | {"currency": "EUR"}


def test_a_eur_line_on_a_usd_agreement_is_blocked_and_nothing_is_written():
    r = only(run(lines(eur()), snapshot([addition(1, qty=3)], agreement=USD)), key=KEY)
    assert (r.cause, r.action, r.bucket, r.request, r.price_impact) == ("currency_mismatch", "blocked", "blocked",
                                                                        None, 0)
    # the row keeps the vendor's own currency and amount: 10 x 18.00 EUR, not converted
    assert (r.currency, D(str(r.vendor_amount))) == ("EUR", D("180.00"))


def test_the_reason_names_both_currencies_in_plain_words():
    r = only(run(lines(eur()), snapshot([], agreement=USD)), key=KEY)
    assert "in EUR" in r.reason and "in USD" in r.reason and "Demo Cloud Services" in r.reason
    assert "never converts" in r.reason
    assert "$" not in r.reason and "currency_mismatch" not in r.reason and "None" not in r.reason


def test_the_vendors_rate_is_shown_not_applied():
    line = eur() | {"exchange_rate": "0.9214", "pricing_currency": "USD"}
    r = only(run(lines(line), snapshot([], agreement=USD)), key=KEY)
    assert r.cause == "currency_mismatch"
    assert "0.9214" in r.reason and "USD" in r.reason
    assert D(str(r.vendor_amount)) == D("180.00")  # the rate changed nothing


def test_a_line_in_the_agreements_currency_reconciles():
    r = only(run(lines(eur()), snapshot([addition(1, qty=10)], agreement=EUR)), key=KEY)
    assert (r.action, r.cause, r.currency) == ("in_sync", None, "EUR")


def test_a_line_without_a_currency_is_usd_and_currency_codes_compare_without_case():
    r = only(run(lines(vline() | {"currency": None}), snapshot([addition(1)], agreement=USD)), key=KEY)
    assert (r.action, r.cause) == ("in_sync", None)
    lower = {"currency": {"id": 2, "currencyCode": "eur"}}
    r = only(run(lines(eur()), snapshot([addition(1)], agreement=lower)), key=KEY)
    assert (r.action, r.cause) == ("in_sync", None)


def test_an_agreement_whose_currency_is_unknown_is_not_compared():
    r = only(run(lines(eur()), snapshot([addition(1)])), key=KEY)  # no "currency" on the record
    assert (r.action, r.cause) == ("in_sync", None)


def test_the_agreements_own_causes_come_first():
    agr = {**USD, "agreementStatus": "Cancelled", "cancelledFlag": True}
    r = only(run(lines(eur()), snapshot([], agreement=agr)), key=KEY)
    assert r.cause == "agreement_cancelled"


def test_a_eur_update_reason_shows_money_in_euros():
    r = only(run(lines(eur(price="27.00")), snapshot([addition(1, qty=10, price=25.0)], agreement=EUR)), key=KEY)
    assert r.action == "update"
    assert "€25.00 -> €27.00" in r.reason and "$" not in r.reason


def test_one_subscription_billed_in_two_currencies_is_two_rows_and_never_one_sum():
    plan = run(lines(vline(qty="10"), eur(qty="2")), snapshot([addition(1, qty=10)], agreement=USD))
    usd = only(plan, key=KEY)
    other = only(plan, key=KEY + "|EUR")
    assert (usd.action, usd.currency, D(str(usd.vendor_amount))) == ("in_sync", "USD", D("180.00"))
    assert (other.cause, other.currency, D(str(other.vendor_amount))) == ("currency_mismatch", "EUR", D("36.00"))
    assert "in EUR" in other.reason and "two currencies" in other.reason
    s = plan.summary
    assert s.by_currency["EUR"]["dollars_blocked"] == D("36.00") and s.by_currency["USD"]["dollars_reconciled"] == D("180.00")
