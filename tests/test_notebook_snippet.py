"""The README's "Notebook use" snippet runs as written (read from docs/notebook.md until it is pasted into README.md)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "README.md"  # the snippet the README shows is the one that runs


def notebook_code(text: str) -> str:
    section = text.split("## Notebook use", 1)[1]
    section = re.split(r"\n## ", section, maxsplit=1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    assert blocks, "no python block under '## Notebook use'"
    return blocks[0]


def test_notebook_snippet_walks_the_month_and_dry_run_writes_nothing(app_env):
    namespace: dict = {}
    exec(compile(notebook_code(SOURCE.read_text()), "notebook-snippet", "exec"), namespace)
    conn, run = namespace["conn"], namespace["run"]
    assert namespace["plan"].summary.status == "changes"
    assert run.dry_run and run.writes == 0
    assert conn.client.stats.get("PATCH", 0) == 0 and conn.client.stats.get("POST", 0) == 0
    assert namespace["rv"].totals.vendor_cost > 0
