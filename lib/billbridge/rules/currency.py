"""Currency: a vendor line billed in another currency than the ConnectWise agreement it would bill on;
cause ``currency_mismatch``.

Rules implemented (billing-rules.md):

- **Rule 7.1** "One currency per agreement. Ingram requires the CW agreement currency to equal the marketplace
  currency": a vendor row whose currency (the vendor file's, USD when it names none) differs from its mapped
  agreement's currency is blocked ``currency_mismatch``.
- **Section 9, "Rule 7.1 in totals"**: "A vendor line whose currency differs from its ConnectWise agreement's
  currency is blocked (``currency_mismatch``), never converted silently; a rate, where the vendor file gives
  one (Microsoft's ``PCToBCExchangeRate``), is shown, not applied to ConnectWise": nothing here converts; the
  row's reason (:func:`billbridge.plan.reasons.blocked`) names both currencies, the fix, and the vendor's rate
  when its file gave one (the ``exchange_rate`` extra column).

- **Section 9** (two currencies are never added): the lines of one subscription billed in two currencies
  cannot be one ConnectWise line; :mod:`billbridge.rules.grouped` makes a row per currency and every row
  but the first currency's (``other_currency``) is blocked ``currency_mismatch`` too.

An agreement whose currency the snapshot does not know (a record without ``currency``) is not compared: a
ConnectWise site always gives one, so only hand-made snapshots lack it. The check runs after the agreement's
own causes (it must exist and be live to have a currency worth comparing) and before the product's, in
:data:`billbridge.rules.blocked.CAUSE_ORDER`.
"""

from __future__ import annotations

DECIDES = ("currency_mismatch",)

MACROS = """
CREATE MACRO currency_mismatch(line_currency, agreement_currency, other_currency) AS
    CASE WHEN other_currency THEN 'currency_mismatch'
         WHEN nullif(trim(agreement_currency), '') IS NOT NULL
              AND upper(trim(coalesce(line_currency, 'USD'))) <> upper(trim(agreement_currency))
         THEN 'currency_mismatch' END;
"""
