"""Matched: the ConnectWise addition each plan row keeps current -> tables ``additions``, ``matched``;
cause ``ambiguous``, flag ``adopts_existing_line``.

Rules implemented (billing-rules.md):

- **Section 8** "Give each addition a stable external key, so deletes and re-mappings don't create
  duplicates": a row keeps the active addition on its agreement that carries its line key (the key
  custom field, else the key billbridge last wrote to that addition, from the journal).
- **Section 8** "Target exactly one active addition per (agreement, product). More than one ongoing
  addition for a product is ambiguous: AppRiver refuses it": a row is ``ambiguous`` when two active
  additions carry its key, when a line billbridge keeps has another keyless active line for the same
  product next to it (the customer would be billed twice), or when it would adopt a keyless line but there
  are two such lines, or two vendor subscriptions want the same one.
- **Rule 5.2** "AppXite keeps one persistent addition per subscription for recurring charges": a standing
  recurring or usage row with no keyed line *adopts* the single keyless active line for its product
  (the update also writes the key), flagged ``adopts_existing_line``. Monthly rows, one-time charges and
  credits never adopt.

Additions are those of mapped agreements active in the billing month (effective on or before its last
day, not cancelled before its first); "first" means first in the snapshot.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from billbridge.plan.engine import Run

DECIDES = ("ambiguous", "adopts_existing_line")

MACROS = """
CREATE MACRO ambiguous(workable, line_kind, dup_key, wants_adopt, n_free, n_want, leftover) AS
    CASE WHEN workable AND line_kind AND (
             dup_key
             OR (wants_adopt AND (n_free >= 2 OR (n_free = 1 AND n_want >= 2)))
             OR (NOT wants_adopt AND leftover >= 1))
         THEN 'ambiguous' END;
"""


def apply(run: "Run") -> None:
    # the additions that can matter: billbridge's own lines (this vendor's key) and keyless ones
    run.create("additions", """
        WITH active AS (
            SELECT x.* REPLACE (coalesce(x.key, j.key) AS key) FROM cw_additions x
            LEFT JOIN journal_by_addition j USING (addition_id)
            WHERE x.agreement_id IN (SELECT agreement_id FROM map_agreements WHERE agreement_id IS NOT NULL)
              AND (x.effective_date IS NULL OR x.effective_date <= month_end())
              AND (x.cancelled_date IS NULL OR x.cancelled_date >= month_start())),
        owned AS (
            SELECT *, coalesce(starts_with(key, vendor_prefix()), FALSE) AS ours, key IS NULL AS free FROM active)
        SELECT a.*, edited_by_hand(a.ours, coalesce(b.written_at, k.written_at), a.updated_by, a.last_updated,
                                   a.date_entered, api_member()) AS edited_by_hand
        FROM owned a LEFT JOIN journal_by_addition b ON b.addition_id = a.addition_id
        LEFT JOIN journal_by_key k ON k.key = a.key
        WHERE a.ours OR a.free""")
    run.create("matched", """
        WITH keyed AS (
            SELECT agreement_id, key, arg_min(addition_id, ai) AS addition_id, count(*) AS n
            FROM additions WHERE ours GROUP BY agreement_id, key),
        keyless AS (
            SELECT agreement_id, product_id, arg_min(addition_id, ai) AS addition_id, count(*) AS n
            FROM additions WHERE free GROUP BY agreement_id, product_id),
        candidates AS (
            SELECT g.gi, g.agreement_id, g.catalog_item_id, b.cause, b.cause IS NULL AS workable,
                   g.charge_type IN ('recurring', 'usage') AS line_kind,
                   CASE WHEN b.cause IS NULL THEN k.addition_id END AS keyed_id, coalesce(k.n, 0) > 1 AS dup_key,
                   coalesce(f.n, 0) AS n_free, f.addition_id AS keyless_id,
                   b.cause IS NULL AND k.addition_id IS NULL AND g.charge_type IN ('recurring', 'usage')
                       AND coalesce(g.sync_mode, '') <> 'monthly' AS wants_adopt
            FROM groups g JOIN blocked b USING (gi)
            LEFT JOIN keyed k ON k.agreement_id = g.agreement_id AND k.key = g.line_key
            LEFT JOIN keyless f ON f.agreement_id = g.agreement_id AND f.product_id = g.catalog_item_id),
        wanted AS (  -- how many rows would adopt a keyless line of each (agreement, product)
            SELECT agreement_id, catalog_item_id, count(*) AS n_want FROM candidates WHERE wants_adopt GROUP BY ALL),
        decided AS (
            SELECT c.*, coalesce(w.n_want, 0) AS n_want,
                   c.wants_adopt AND c.n_free = 1 AND w.n_want = 1 AS adopt,
                   -- one keyless line and one row wanting it: that row adopts it, so it is not left over
                   ambiguous(c.workable, c.line_kind, c.dup_key, c.wants_adopt, c.n_free, coalesce(w.n_want, 0),
                             c.n_free - CASE WHEN c.n_free = 1 AND w.n_want = 1 THEN 1 ELSE 0 END) AS ambiguous
            FROM candidates c LEFT JOIN wanted w
                 ON w.agreement_id = c.agreement_id AND w.catalog_item_id = c.catalog_item_id)
        SELECT gi, coalesce(cause, ambiguous) AS cause, keyed_id IS NOT NULL AS keyed, dup_key, n_free,
               CASE WHEN ambiguous IS NOT NULL THEN NULL WHEN adopt THEN keyless_id ELSE keyed_id END
                   AS cw_addition_id,
               adopt AND ambiguous IS NULL AS adopts_existing_line
        FROM decided""")
