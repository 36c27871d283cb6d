"""Excluded by rule: a per-customer "do not sync" rule leaves the customer's lines alone; cause
``excluded_by_rule``.

Rules implemented (billing-rules.md):

- **Rule 3.5** "Prepaid vs pay-as-you-go. Acronis tells integrators to update the PSA quantity from usage for
  PAYG products and *skip* prepaid ones": the operator marks a customer (or one of its SKUs) ``do_not_sync``.
- **Section 8** "Agreements ... have to be shown or filtered on purpose": such a line is *excluded*, not
  blocked: it is counted (bucket ``excluded``) and shown, never written. A rule for the whole customer also
  keeps billbridge from ending the customer's lines the vendor stopped billing (see
  :mod:`billbridge.rules.cancels`).

The rule's value comes from :mod:`billbridge.rules.mapped`; this file decides what it means.
"""

from __future__ import annotations

DECIDES = ("excluded_by_rule",)

MACROS = """
CREATE MACRO excluded_by_rule(do_not_sync) AS CASE WHEN do_not_sync THEN 'excluded_by_rule' END;
"""
