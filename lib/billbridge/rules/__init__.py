"""The reconciliation's billing rules, one file per rule family; :data:`billbridge.plan.engine.STEPS`
runs them in order, each adding the tables it is named for:

normalise -> mapped -> landed -> keys -> grouped -> blocked (company, agreement, product, excluded) ->
manual_edits -> matched -> targets -> impact -> cancels -> proration -> flags

Each file opens with the rules of ``billing-rules.md`` it implements and lists in ``DECIDES`` the
actions, causes and flags it decides (``tests/test_rules_index.py`` checks every code is decided in
exactly one file).
"""
