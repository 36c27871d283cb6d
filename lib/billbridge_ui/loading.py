"""Pieces of the Load month page: format choice, custom column mapping, parse preview, import history."""

from __future__ import annotations

import pandas as pd
import streamlit as st

import billbridge_ui as ui
from billbridge import store as bst
from billbridge import demo_world, sources
from billbridge.config import operator_name
from billbridge.model import column_label
from billbridge_ui.layout import METRIC, metric_row
from billbridge_ui.tables import display_frame
from billbridge_ui.text import md

CUSTOM = "Map columns myself…"
SAVED_PREFIX = "saved: "
MAX_PROBLEMS_ON_SCREEN = 50
ENCODINGS = {"utf-8": "UTF-8", "utf-8-sig": "UTF-8 with BOM", "cp1252": "Windows-1252", "utf-16": "UTF-16",
             "xlsx": "Excel workbook"}
DELIMITERS = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
#: how the page announces each load outcome (st.success, st.info, st.error)
OUTCOME = {"loaded": "success", "unchanged": "info", "invalid": "error", "duplicate": "error"}
PREVIEW = ("line_no", "vendor_customer_id", "vendor_customer_name", "subscription_id", "sku", "product_name",
           "charge_type", "term", "quantity", "unit_cost", "unit_price", "period_start", "period_end", "effective_date",
           "landing_month")


def operator() -> str:
    return operator_name()


def format_choices(store) -> list[str]:
    """Built-in formats, then formats saved for any vendor, then the custom mapping option."""
    saved = [f"{SAVED_PREFIX}{f['vendor']} / {f['name']}" for f in bst.list_formats(store)]
    return [*sources.format_names(), *saved, CUSTOM]


def default_vendor(choice: str) -> str:
    if choice.startswith(SAVED_PREFIX):
        return choice[len(SAVED_PREFIX):].split(" / ", 1)[0]
    return "" if choice == CUSTOM else choice


def resolve_choice(store, choice: str, vendor: str, data: bytes, file_name: str):
    """The format to parse with: a preset name, a saved :class:`ColumnMapping`, or one mapped here.

    Returns ``None`` while the operator has not finished a custom mapping.
    """
    if choice.startswith(SAVED_PREFIX):
        saved_vendor, name = choice[len(SAVED_PREFIX):].split(" / ", 1)
        return sources.format_for(store, name, saved_vendor)
    if choice != CUSTOM:
        return choice
    return _custom_mapping(store, vendor, data, file_name)


def _custom_mapping(store, vendor: str, data: bytes, file_name: str):
    try:
        columns = sources.file_columns(data, file_name)
    except ValueError as exc:
        st.error(f"{md(file_name)} cannot be read: {md(exc)}")
        return None
    st.markdown("**Map the file's columns** to billbridge's fields. Required fields are marked with \\*.")
    required = set(sources.REQUIRED_COLUMNS)
    options = ["(ignore)", *[f"{c} *" if c in required else c for c in sources.CANONICAL_COLUMNS]]
    guess = sources.preset("generic")
    frame = pd.DataFrame(
        {
            "file column": columns,
            "billbridge field": [
                (lambda f: f"{f} *" if f in required else f)(guess.field_for(c)) if guess.field_for(c) else "(ignore)"
                for c in columns
            ],
        }
    )
    edited = st.data_editor(
        frame, key=f"custom_map_{file_name}", hide_index=True, width="stretch", disabled=["file column"],
        column_config={"billbridge field": st.column_config.SelectboxColumn(options=options, required=True)},
    )
    c1, c2, c3 = st.columns(3)
    delimiter = c1.selectbox("Delimiter", ["detect", ",", ";", "tab"], key="custom_delim")
    decimal_comma = c2.checkbox("Decimal comma (1.234,50)", key="custom_decimal")
    date_format = c3.text_input("Local date format", value="", placeholder="%d/%m/%Y", key="custom_datefmt")
    mapping_cols = {
        row["file column"]: row["billbridge field"].rstrip(" *")
        for _, row in edited.iterrows()
        if row["billbridge field"] != "(ignore)"
    }
    missing = [f for f in sources.REQUIRED_COLUMNS if f not in mapping_cols.values()]
    if missing:
        st.warning("Still to map: " + ", ".join(missing) + ".")
        return None
    mapping = sources.ColumnMapping(
        name="custom",
        columns=mapping_cols,
        delimiter={"detect": None, "tab": "\t"}.get(delimiter, delimiter),
        decimal_comma=decimal_comma,
        date_format=date_format or None,
    )
    with st.form("save_format"):
        name = st.text_input("Save this mapping as a format named", key="custom_name")
        if st.form_submit_button("Save format") and name.strip() and vendor:
            mapping.name = name.strip()
            bst.save_format(store, vendor, mapping.name, mapping, saved_by=operator())
            ui.flash(f"Saved format {mapping.name!r} for vendor {vendor}; pick it next time from the list.")
            st.rerun()
    return mapping


def render_parse(parsed) -> None:
    """Totals, problems (first 50 + CSV of all), warnings, out-of-month lines and a typed preview."""
    from billbridge.sources.load import cost_by_currency

    row = metric_row()
    row.metric("Lines", f"{parsed.line_count:,}", width=METRIC)
    row.metric("Customers", f"{parsed.customer_count:,}", width=METRIC)
    table = parsed.table if parsed.ok else None  # per currency (Rule 7.1), never one sum of two
    row.metric("Vendor cost", ui.amounts(cost_by_currency(table), empty=ui.money(parsed.total_cost)), width=METRIC)
    row.metric("Price to customers", ui.amounts(cost_by_currency(table, "extended_price"),
                                                empty=ui.money(parsed.total_price)), width=METRIC)
    for warning in parsed.warnings:
        st.warning(md(warning))
    if parsed.problems:
        n = len(parsed.problems)
        st.error(
            f"{n} problem{'s' if n != 1 else ''} in {md(parsed.file_name)}. Nothing will be stored until the file is "
            "fixed; each problem names the row (the header is row 1), the column and the reason."
        )
        st.dataframe(display_frame(parsed.problems_frame().head(MAX_PROBLEMS_ON_SCREEN), rename={"reason": "Problem"}),
                     hide_index=True, width="stretch")
        st.download_button(
            f"Download all {n} problems (CSV)", sources.problems_csv(parsed.problems),
            file_name=f"{parsed.file_name}.problems.csv", mime="text/csv", key="dl_problems",
        )
        return
    read = ENCODINGS.get(parsed.encoding or "", parsed.encoding or "")
    if parsed.delimiter:
        read += f", {DELIMITERS.get(parsed.delimiter, parsed.delimiter)}-separated"
    st.success(f"All {parsed.line_count:,} lines are valid ({read})." + (f" {parsed.blank_note.capitalize()}." if parsed.blank_rows else ""))
    if len(parsed.out_of_month):
        st.info(
            f"{len(parsed.out_of_month)} lines bill in another month than {parsed.billing_month} "
            "(listed below). They are stored unless you leave them out."
        )
        st.dataframe(_preview(parsed.out_of_month), hide_index=True, width="stretch")
    st.markdown("**Preview** (first 200 lines, as billbridge read them)")
    st.dataframe(_preview(parsed.rows.head(200)), hide_index=True, width="stretch")


def _preview(df: pd.DataFrame) -> pd.DataFrame:
    """Lines as billbridge read them: labels for charge types and terms, exact unit amounts (the
    vendor's decimals, not rounded to cents), '' where a value is missing."""
    cur = list(df["currency"]) if "currency" in df else ["USD"] * len(df)
    return display_frame(df, PREVIEW, money=()).assign(**{
        column_label(c): [_exact(v, k) for v, k in zip(df[c], cur)] for c in ("unit_cost", "unit_price") if c in df})


def _exact(v, currency="USD") -> str:
    """A unit amount with every decimal the vendor gave, in its currency (``$0.0450``, ``€10.7000``)."""
    from billbridge.money import CURRENCY_SYMBOLS

    if v is None or v != v or v == "":
        return ""
    cur = currency if isinstance(currency, str) and currency else "USD"
    text = str(v)
    sign, body = ("-", text[1:]) if text.startswith("-") else ("", text)
    symbol = CURRENCY_SYMBOLS.get(cur)
    return f"{sign}{symbol}{body}" if symbol else f"{sign}{body} {cur}"


def render_history(store, month: str, vendor: str | None = None) -> None:
    """Every import of the month (all versions; ``vendor``: that vendor's only), their totals in
    their currency, and a version diff."""
    imports = bst.list_imports(store, billing_month=month, vendor=vendor)
    if not imports:
        st.info(f"Nothing loaded for {month} yet." if vendor is None else
                f"Nothing loaded from {md(ui.vendor_label(vendor))} for {month} yet.")
        return
    table = pd.DataFrame(imports)
    table["sha256"] = table["sha256"].str[:12]
    table["status"] = [withdrawal_status(i) for i in imports]
    found = bst.import_currencies(store, [i["id"] for i in imports])
    table["currency"] = [", ".join(found.get(i["id"]) or ["USD"]) for i in imports]
    st.dataframe(
        display_frame(table, ["id", "vendor", "version", "status", "file_name", "format", "line_count",
                              "customer_count", "total_cost", "total_price", "currency", "loaded_at", "loaded_by",
                              "sha256"],
                      rename={"id": "Import", "status": "Status"}),
        hide_index=True, width="stretch",
    )
    render_withdrawal(store, imports)
    by_vendor: dict[str, list[dict]] = {}
    for imp in imports:
        by_vendor.setdefault(imp["vendor"], []).append(imp)
    for vendor, versions in by_vendor.items():
        if len(versions) < 2:
            continue
        st.markdown(f"**What changed between versions · {md(vendor)}**")
        labels = {f"v{i['version']} · {i['file_name']}": i["id"] for i in versions}
        names = list(labels)
        c1, c2 = st.columns(2)
        new = c1.selectbox("Newer", names, index=0, key=f"diff_new_{vendor}")
        old = c2.selectbox("Older", names, index=1, key=f"diff_old_{vendor}")
        render_diff(bst.diff_imports(store, labels[old], labels[new]))


def __getattr__(name: str):
    """``DEMO_MONTHS``: the months the demo vendor has today (the four ending with this one)."""
    if name == "DEMO_MONTHS":
        return demo_world.months()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def withdrawal_status(imp: dict) -> str:
    """'in effect', or who withdrew the import, when and why."""
    if not imp.get("withdrawn_at"):
        return "in effect"
    return f"withdrawn {imp['withdrawn_at'][:10]} by {imp['withdrawn_by']}: {imp['withdrawn_reason']}"


def render_withdrawal(store, imports: list[dict]) -> None:
    """Withdraw an import from the month (or restore a withdrawn one): recorded with who, when, why."""
    from billbridge.errors import BillbridgeError

    with st.expander("Withdraw or restore an import"):
        by_id = {i["id"]: i for i in imports}
        pick = st.selectbox("Import", list(by_id), key="withdraw_pick",
                            format_func=lambda i: f"#{i} · {by_id[i]['vendor']} v{by_id[i]['version']} · "
                                                  f"{by_id[i]['file_name']} ({withdrawal_status(by_id[i]).split(':')[0]})")
        imp = by_id[pick]
        withdrawn = bool(imp.get("withdrawn_at"))
        reason = st.text_input("Why", key="withdraw_reason",
                               help="Recorded with your name and the time. The lines stay in the history.")
        label = "Restore this import" if withdrawn else "Withdraw this import"
        if st.button(label, key="withdraw_go", disabled=not reason.strip()):
            act = bst.restore_import if withdrawn else bst.withdraw_import
            try:
                act(store, pick, reason=reason, by=operator())
            except BillbridgeError as exc:
                st.error(str(exc))
                return
            now = bst.latest_import(store, imp["vendor"], imp["billing_month"])
            ui.flash(f"{'Restored' if withdrawn else 'Withdrew'} import #{pick}. " + (
                f"{imp['billing_month']} uses version {now['version']} of {md(imp['vendor'])}." if now else
                f"{imp['billing_month']} has no {md(imp['vendor'])} import in effect."))
            st.rerun()


# ---- pull from a vendor API (issue 11) --------------------------------------------------------
PULL_RESULT = "pull_result"


def api_vendors() -> list[str]:
    """The vendor APIs billbridge can pull from (the sources registry's ``api`` sources)."""
    return sources.names(kind="api")


def pull_settings(vendor: str):
    """The vendor's API settings: its ``[pax8]`` / ``[sherweb]`` secrets section or the environment,
    else the sandbox's emulator (a :class:`~billbridge.errors.ConfigError` when half configured)."""
    from billbridge.sources import settings as vs

    return vs.resolve(vendor, secrets=ui.secrets_section(vendor), data_dir=ui.config().data_dir)


def describe_settings(settings) -> str:
    """Where a pull goes, in words, secrets masked (never shown)."""
    from billbridge.sources import settings as vs

    label = vs.VENDOR_APIS[settings.vendor].label
    if settings.sandbox:
        return f"Pulling from the sandbox's {label} emulator (no {label} credentials are configured)."
    d = vs.describe(settings)
    where = "the [" + settings.vendor + "] section of .streamlit/secrets.toml" if settings.source == "secrets.toml" \
        else "the environment"
    return f"Pulling from {d['api_url']} as client {d['client_id']} (secret {d['client_secret']}, from {where})."


def pull_error_text(exc: Exception, vendor: str, settings=None) -> str:
    """A failed pull in plain words, with the fix (never a secret: the library redacts them)."""
    from billbridge.errors import ConfigError
    from billbridge.sources import settings as vs
    from billbridge.sources.http import VendorAPIError, VendorAuthError, VendorConnectionError

    spec = vs.VENDOR_APIS.get(vendor)
    label = spec.label if spec else vendor
    env = spec.env if spec else {}
    where = f"the [{vendor}] section of .streamlit/secrets.toml or the environment"
    said = md(str(exc))
    if isinstance(exc, VendorAuthError):
        names = " and ".join(v for k, v in env.items() if k in ("client_id", "client_secret", "subscription_key"))
        return (f"{label} refused the credentials: {said}. Nothing was stored. Fix: check {names} in {where} "
                f"(or remove them to pull from the sandbox's {label} emulator), then pull again.")
    if isinstance(exc, VendorConnectionError):
        url = f" ({settings.api_url})" if settings is not None else ""
        return (f"billbridge could not reach {label}: {said}. Nothing was stored. Fix: check {env.get('api_url')}{url} "
                "and the network, then pull again.")
    if isinstance(exc, VendorAPIError):
        return f"{label} failed: {said}. Nothing was stored. Pull again in a few minutes."
    if isinstance(exc, ConfigError):
        return f"{label} is not fully configured: {said}"
    return f"Nothing was stored: {said}."


def run_pull(store, vendor: str, month: str, *, draft: bool, exclude_out_of_month: bool = False) -> None:
    """Pull ``vendor``'s ``month`` with a progress bar; keep the result for the next run (or show
    the error in plain words with the fix)."""
    from billbridge.errors import BillbridgeError

    settings = None
    try:
        settings = pull_settings(vendor)
        st.caption(describe_settings(settings))
        bar = st.progress(0.0, text=f"Asking {ui.vendor_label(vendor)} for {month}…")

        def progress(done: int, total: int | None, text: str) -> None:
            bar.progress(min(1.0, done / total) if total else 0.0, text=text)

        result = sources.pull(store, vendor, month, draft=draft, progress=progress, settings=settings,
                              exclude_out_of_month=exclude_out_of_month, loaded_by=operator())
    except BillbridgeError as exc:
        st.error(pull_error_text(exc, vendor, settings))
        return
    st.session_state[PULL_RESULT] = result
    ui.flash(md(result.message), OUTCOME.get(result.status, "info"))
    st.rerun()


def render_pull_result(store, month: str) -> None:
    """The last pull's outcome, like a file load: problems (first 50 + CSV of all), warnings, and
    what changed against the previous version (draft -> final bill included)."""
    result = st.session_state.get(PULL_RESULT)
    if result is None or result.billing_month != month:
        return
    for warning in result.parse.warnings:
        st.warning(md(warning))
    if result.problems:
        render_parse(result.parse)
        return
    if result.previous_id and result.import_id:
        old, new = bst.get_import(store, result.previous_id), bst.get_import(store, result.import_id)
        if old is None or new is None:
            return
        what = lambda imp: ("draft" if str(imp["format"]).endswith(sources.registry.DRAFT_SUFFIX)  # noqa: E731
                            else "bill") + f" (version {imp['version']})"
        st.markdown(f"**What changed from the {what(old)} to the {what(new)}**")
        render_diff(bst.diff_imports(store, old["id"], new["id"]))


def render_diff(diff: dict) -> None:
    row = metric_row()
    row.metric("Lines added", len(diff["added"]), width=METRIC)
    row.metric("Lines removed", len(diff["removed"]), width=METRIC)
    row.metric("Quantities changed", len(diff["quantity_changed"]), width=METRIC)
    for name, frame in diff.items():
        if len(frame):
            with st.expander(f"{name.replace('_', ' ').capitalize()} ({len(frame)})"):
                st.dataframe(display_frame(frame), hide_index=True, width="stretch")
