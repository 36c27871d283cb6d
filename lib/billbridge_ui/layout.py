"""Layout pieces that keep numbers readable on a 1024-pixel laptop and on a meeting-room screen.

``st.columns`` splits the width evenly, so on a laptop (sidebar open) a metric such as
"$25,867.43" is cut to "$25,8…". :func:`metric_row` lays metrics out side by side and wraps the
ones that do not fit onto the next line instead; give each metric ``width="content"``::

    row = metric_row()
    row.metric("Vendor cost", ui.money(total), width="content", border=True)
"""

from __future__ import annotations

import streamlit as st

__all__ = ["metric_row", "METRIC"]

#: the width every metric in a :func:`metric_row` takes: as wide as its own label and value
METRIC = "content"


def metric_row(gap: str = "small"):
    """A horizontal container whose metrics wrap onto the next line rather than being cut off."""
    return st.container(horizontal=True, wrap=True, gap=gap)
