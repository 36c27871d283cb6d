"""Agreement: the ConnectWise agreement a line bills on, and whether it can take the line; causes
``no_agreement``, ``agreement_cancelled``, ``agreement_expired``, ``agreement_inactive``; flags
``child_agreement``, ``agreement_company_mismatch``.

Rules implemented (billing-rules.md):

- **Section 8** "Only recurring agreements are targets" and "Agreements past their end date ... have to be
  shown or filtered on purpose": a customer without a mapped agreement, or mapped to one ConnectWise no
  longer has, is blocked ``no_agreement``; a cancelled agreement (status Cancelled or its cancelled flag)
  ``agreement_cancelled``; an agreement with status Expired, or whose end date is before the billing month
  (and that has an end date), ``agreement_expired``; status Inactive ``agreement_inactive``.
- **Rule 6.4** "A cancelled CW agreement makes cached reconciliation data stale": nothing is written to it.
- **Section 8** "Parent/child agreements exist and break naive integrations": a child agreement is flagged
  ``child_agreement``; an agreement that belongs to another company than the customer is mapped to is
  flagged ``agreement_company_mismatch``.
"""

from __future__ import annotations

DECIDES = ("no_agreement", "agreement_cancelled", "agreement_expired", "agreement_inactive", "child_agreement",
           "agreement_company_mismatch")

MACROS = """
CREATE MACRO no_agreement(agreement_id, found) AS
    CASE WHEN agreement_id IS NULL OR NOT found THEN 'no_agreement' END;
CREATE MACRO agreement_cancelled(status, cancelled) AS
    CASE WHEN status = 'Cancelled' OR cancelled THEN 'agreement_cancelled' END;
CREATE MACRO agreement_expired(status, end_date, no_end, month_start) AS
    CASE WHEN status = 'Expired' OR (end_date < month_start AND NOT coalesce(no_end, FALSE))
         THEN 'agreement_expired' END;
CREATE MACRO agreement_inactive(status) AS CASE WHEN status = 'Inactive' THEN 'agreement_inactive' END;
CREATE MACRO child_agreement(parent_name) AS parent_name IS NOT NULL;
CREATE MACRO agreement_company_mismatch(agreement_company_id, company_id) AS
    coalesce(agreement_company_id <> company_id, FALSE);
"""
