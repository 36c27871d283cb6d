"""The vendors of a billing month: their display names and the lines each has loaded.

Both the month workflow (:mod:`billbridge.month`) and the Mappings workflow (:mod:`billbridge.mappings`)
read these; they live here, below both, so neither has to import the other for them.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from billbridge import demo_world
from billbridge import store as st

__all__ = ["VENDOR_NAMES", "vendor_name", "month_vendor_lines"]

#: display names of the vendors billbridge knows (others: the vendor key, title-cased)
VENDOR_NAMES = {"demo": demo_world.VENDOR_NAME, "intermedia": "Intermedia", "interworks": "interworks.cloud",
                "phin": "Phin", "generic": "Generic"}


def vendor_name(vendor: str) -> str:
    return VENDOR_NAMES.get(vendor) or vendor.replace("_", " ").title()


def month_vendor_lines(store: st.Store, month: str, *, raw: bool = False) -> dict[str, tuple[dict[str, Any], pd.DataFrame]]:
    """``{vendor: (import row, lines)}``: the import in effect of every vendor for ``month`` (its
    newest version not withdrawn). ``raw``: the lines' stored text (the reconciliation converts it)."""
    return {imp["vendor"]: (imp, st.import_lines(store, imp["id"], raw=raw)) for imp in st.month_imports(store, month)}
