"""Company: the ConnectWise company a vendor customer bills through; causes ``unmapped_customer`` and
``company_deleted``.

Rules implemented (billing-rules.md):

- **Section 8** "Agreements past their end date, prospects, 'not-approved' companies and recycle-bin
  duplicates have to be shown or filtered on purpose": a customer with no company mapping is blocked
  (``unmapped_customer``: map it on the Mappings page); a customer mapped to a company ConnectWise has
  deleted is blocked (``company_deleted``: map it to the live company). Neither is ever written.
"""

from __future__ import annotations

DECIDES = ("unmapped_customer", "company_deleted")

MACROS = """
CREATE MACRO unmapped_customer(company_id) AS CASE WHEN company_id IS NULL THEN 'unmapped_customer' END;
CREATE MACRO company_deleted(deleted) AS CASE WHEN deleted THEN 'company_deleted' END;
"""
