"""Load month: bring the vendor's bill for the billing month into billbridge (validated, all or nothing)."""

import streamlit as st

import billbridge_ui as ui
from billbridge import sources
from billbridge_ui import loading
from billbridge_ui.text import md

month = ui.billing_month()
st.title(f"Load month · {month}")
st.caption("Load the vendor's bill for the billing month. Nothing is stored until every line is valid.")
ui.show_flash()
store = ui.store()

tab_file, tab_pull, tab_demo, tab_history = st.tabs(["Vendor file", "Pull from vendor", "Demo vendor",
                                                     "Imports this month"])

with tab_file:
    c1, c2 = st.columns(2)
    fmt_name = c1.selectbox(
        "File format",
        loading.format_choices(store),
        key="load_format",
        help="A built-in vendor layout, a format you saved, or map the columns yourself.",
    )
    vendor = c2.text_input(
        "Vendor", value=loading.default_vendor(fmt_name), key=f"load_vendor_{fmt_name}",
        help="Imports are versioned per vendor and billing month.",
    ).strip()
    upload = st.file_uploader("Vendor file (CSV or Excel)", type=["csv", "txt", "tsv", "xlsx"], key="load_file")
    if upload is not None:
        data = upload.getvalue()
        fmt = loading.resolve_choice(store, fmt_name, vendor, data, upload.name)
        if fmt is not None:
            parsed = sources.parse_file(data, upload.name, fmt, month)
            loading.render_parse(parsed)
            exclude = False
            if parsed.ok and len(parsed.out_of_month):
                exclude = st.checkbox(
                    f"Leave out the {len(parsed.out_of_month)} lines that bill in another month",
                    key="load_exclude", value=False,
                )
            if st.button("Store this import", key="load_commit", type="primary", disabled=not parsed.ok or not vendor):
                result = sources.load_month(
                    store, month, data, upload.name, fmt, vendor=vendor,
                    exclude_out_of_month=exclude, loaded_by=loading.operator(),
                )
                ui.flash(md(result.message), loading.OUTCOME.get(result.status, "info"))
                if result.diff is not None:
                    st.session_state["load_last_diff"] = (result.previous_id, result.import_id)
                st.rerun()
    else:
        st.info(
            "Upload the vendor's export for this month. Built-in layouts: "
            + ", ".join(f"**{n}**" for n in sources.format_names())
            + ". Try one with a sample file:"
        )
        samples = st.container(horizontal=True, wrap=True)
        for fmt, fname in sources.sample_files().items():
            samples.download_button(f"{fmt} sample", sources.sample_bytes(fmt), file_name=fname, key=f"sample_{fmt}",
                                    icon=":material/download:")

with tab_pull:
    c1, c2 = st.columns(2)
    api = c1.selectbox("Vendor", loading.api_vendors(), key="pull_vendor", format_func=ui.vendor_label,
                       help="Vendors billbridge reads through their API. Credentials: the vendor's section of "
                            ".streamlit/secrets.toml or its environment variables; none set: the sandbox's emulator.")
    draft = c2.toggle("Draft (not invoiced yet)", key="pull_draft",
                      help="The vendor's charges before the bill exists (Pax8 draft items, Sherweb's open period), "
                           "to reconcile early; the final bill later becomes a new version and shows what changed.")
    if st.button(f"Pull {month}", key="pull_go", type="primary", icon=":material/cloud_download:"):
        loading.run_pull(store, api, month, draft=draft)
    loading.render_pull_result(store, month)

with tab_demo:
    st.write(
        "The demo vendor (**Demo Cloud**) bills the sandbox's customers. It has history for "
        + ", ".join(loading.DEMO_MONTHS) + "."
    )
    if month in loading.DEMO_MONTHS:
        if st.button(f"Load the demo vendor's {month}", key="load_demo", type="primary"):
            result = sources.load_demo(store, month, loaded_by=loading.operator())
            ui.flash(md(result.message), loading.OUTCOME.get(result.status, "info"))
            st.rerun()
    else:
        st.warning(f"The demo vendor has no bill for {month}. Pick one of {', '.join(loading.DEMO_MONTHS)} in the sidebar.")

with tab_history:
    loading.render_history(store, month, ui.vendor_filter(month))
