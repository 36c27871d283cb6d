"""Vendor and ConnectWise text shown literally (never as Markdown, HTML or a link).

Streamlit renders Markdown in ``st.markdown``, ``st.caption``, ``st.title``/``subheader``,
``st.info``/``warning``/``error``/``success``, ``st.toast``, metric and expander labels; a customer
named ``**VIP**``, ``<b>x</b>``, ``:red[x]``, ``$5 and $6`` or ``=HYPERLINK("http://evil.example","click")``
would be bold, red, maths or a clickable link there. :func:`md` escapes every character Markdown (and
Streamlit's own ``:colour[...]`` / ``:icon:`` directives and ``$`` maths) gives a meaning, so the
text reads exactly as the vendor wrote it::

    st.markdown(f"**{md(row['vendor_customer_name'])}**")      # bold frame, literal name

Use it on every piece of vendor or ConnectWise text (names, SKUs, descriptions, reasons, file
names, error messages) that reaches one of those calls; the words billbridge writes itself stay
Markdown.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["md", "md_join"]

#: ASCII punctuation with a meaning in CommonMark, GFM (tables, strikethrough, autolinks),
#: HTML (tags, entities) or Streamlit (``:red[...]``, ``:material/x:`` and emoji shortcodes, ``$`` maths)
_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~$:&=\"'])")
_SPACE = re.compile(r"\s+")


#: GFM turns bare URLs and e-mail addresses into links, and Streamlit turns ``:material/x:`` into an
#: icon, *after* Markdown escapes are resolved; an invisible word joiner breaks those patterns
_JOINER = "\u2060"
_WWW = re.compile(r"(?i)(www)(\\\.)")


def md(text: Any) -> str:
    """``text`` escaped for Markdown: shown literally, on one line. Missing values read as ''
    (never "None" or "nan")."""
    if text is None or (isinstance(text, float) and text != text):
        return ""
    s = str(text)
    if s in ("nan", "NaN", "None", "<NA>"):
        return ""
    s = _SPECIAL.sub(r"\\\1", _SPACE.sub(" ", s).strip())
    s = s.replace("\\:", "\\:" + _JOINER).replace("@", "@" + _JOINER)
    return _WWW.sub(r"\1" + _JOINER + r"\2", s)


def md_join(parts: Any, sep: str = " · ") -> str:
    """Several pieces of vendor text, each escaped, the empty ones left out."""
    return sep.join(p for p in (md(x) for x in parts) if p)
