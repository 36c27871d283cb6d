"""Product: the ConnectWise catalog item a vendor SKU bills as; cause ``unmapped_product``; flag
``catalog_item_inactive``.

Rules implemented (billing-rules.md):

- **Rule 4.5** "users asked for the term to be part of the mapping" (the mapping itself:
  :mod:`billbridge.rules.mapped`): a SKU with no product mapping, or mapped to a catalog item ConnectWise no
  longer has, is blocked ``unmapped_product``.
- **Section 8** records "have to be shown or filtered on purpose": a mapped catalog item that is inactive
  in ConnectWise still bills, flagged ``catalog_item_inactive``.
"""

from __future__ import annotations

DECIDES = ("unmapped_product", "catalog_item_inactive")

MACROS = """
CREATE MACRO unmapped_product(catalog_item_id, found) AS
    CASE WHEN catalog_item_id IS NULL OR NOT found THEN 'unmapped_product' END;
CREATE MACRO catalog_item_inactive(inactive) AS coalesce(inactive, FALSE);
"""
