"""Manual edits: a person changed a line billbridge keeps after billbridge last wrote it; cause
``manually_edited``, flag ``overrides_manual_edit``.

Rules implemented (billing-rules.md):

- **Rule 5.5** "Re-read CW before writing. Tools that trust their own counter (IDSync) or overwrite blindly
  (Huntress, PRISM Connect) lose manual edits." An addition billbridge wrote (it carries this vendor's key,
  or the journal has a write to it) is *edited by hand* when ConnectWise says it was last updated by someone
  other than billbridge's API member after billbridge's last write (the journal's ``written_at``; without a
  journal entry, after the addition was entered). Timestamps compare in UTC to the second.
- **Rule 5.4** "Freeze inputs for a run": the journal and the operator's overrides are part of the run's
  context.
- Only a row that would write is protected: an edit that agrees with the vendor is simply in sync. The
  operator may override a row (its plan key in ``Context.overrides``): the write goes ahead, flagged
  ``overrides_manual_edit``. The same applies to ending a line (:mod:`~billbridge.rules.cancels`).

This step reads the journal: billbridge's last write per addition and per key, and the key it last wrote to
an addition (what :mod:`~billbridge.rules.matched` uses when the custom field is gone).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from billbridge.plan.engine import Run

DECIDES = ("manually_edited", "overrides_manual_edit")

MACROS = """
CREATE MACRO utc_second(t) AS date_trunc('second', CAST(t AS TIMESTAMPTZ));
CREATE MACRO edited_by_hand(ours, last_write, updated_by, last_updated, date_entered, api_member) AS
    CASE WHEN (ours OR last_write IS NOT NULL) AND coalesce(updated_by, '') <> api_member AND last_updated IS NOT NULL
         THEN coalesce(utc_second(last_updated) > coalesce(last_write, utc_second(date_entered)), TRUE)
         ELSE FALSE END;
CREATE MACRO manually_edited(would_write, edited, overridden) AS
    CASE WHEN would_write AND edited AND NOT overridden THEN 'manually_edited' END;
CREATE MACRO overrides_manual_edit(would_write, edited, overridden, cause) AS
    coalesce(would_write AND edited AND overridden AND cause IS NULL, FALSE);
"""


def apply(run: "Run") -> None:
    run.view("journal_writes", "SELECT ord, key, addition_id, utc_second(written_at) AS written_at FROM journal")
    run.view("journal_by_addition", """
        SELECT addition_id, max(written_at) AS written_at, arg_max(key, ord) FILTER (WHERE key IS NOT NULL) AS key
        FROM journal_writes WHERE addition_id IS NOT NULL GROUP BY addition_id""")
    run.view("journal_by_key", """
        SELECT key, max(written_at) AS written_at FROM journal_writes WHERE key IS NOT NULL GROUP BY key""")
