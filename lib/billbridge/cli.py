"""The ``billbridge`` command: thin adapters over the library (parse, call, turn errors into exit codes).

Exit codes: 0 success, 1 some rows failed or a permission is missing (something to act on), 2 bad
usage or invalid input, 3 ConnectWise unreachable, failing or refusing the credentials.

Every command lets the library's :class:`~billbridge.errors.BillbridgeError` rise; the group turns it
into one line ``Error: ...`` on stderr and its ``exit_code`` (2, or 3 for ConnectWise), so no
operator's mistake ends in a traceback.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from billbridge.config import load_config
from billbridge.errors import EXIT_CW, EXIT_FAILED, EXIT_USAGE, BillbridgeError, InputError, NotFoundError
from billbridge.model import label

__all__ = ["main", "EXIT_FAILED", "EXIT_USAGE", "EXIT_CW"]


def error_line(exc: BaseException) -> str:
    """The one line an operator reads for a library error (ConnectWise errors with their fix)."""
    from billbridge.connectwise import ConnectWiseError, explain

    text = explain(exc) if isinstance(exc, ConnectWiseError) else str(exc)
    return " ".join(text.split()) or type(exc).__name__


class _Group(click.Group):
    """A click group that turns a :class:`BillbridgeError` from any command into one line + exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BillbridgeError as exc:
            click.echo(f"Error: {error_line(exc)}", err=True)
            ctx.exit(exc.exit_code)


def _json_default(value: Any) -> Any:
    from datetime import date, datetime
    from decimal import Decimal

    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if hasattr(value, "__dict__"):
        return vars(value)
    return str(value)


def echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, default=_json_default))


def open_connection():
    """Connect to the configured site or the embedded sandbox (what it had to do goes to stderr)."""
    from billbridge.runtime import connect

    conn = connect(load_config(None))
    for note in conn.notes:
        click.echo(f"Note: {note}", err=True)
    return conn


def open_store():
    from billbridge.store import Store

    return Store.open(load_config(None).db_path)


def month_arg(month: str) -> str:
    """A ``YYYY-MM`` billing month (the library's one validation; an InputError is exit 2)."""
    from billbridge.bdom import parse_billing_month

    year, mon = parse_billing_month(month)
    return f"{year:04d}-{mon:02d}"


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="billbridge")
def main() -> None:
    """billbridge: make ConnectWise Manage bill exactly what a vendor billed.

    Without CW_SITE (or a [connectwise] section in .streamlit/secrets.toml) every command works
    on the embedded ConnectWise sandbox. Exit codes: 0 ok, 1 rows failed or a permission is
    missing, 2 bad usage or input, 3 ConnectWise unreachable or refusing the keys.
    """


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8765, show_default=True, type=click.IntRange(0, 65535),
              help="Port to listen on (0 = any free port).")
@click.option("--data", "data_path", type=click.Path(dir_okay=False), default=None,
              help="SQLite file holding the sandbox's records (default: sandbox.db next to the billbridge database).")
@click.option("--reset", is_flag=True, help="Throw away the stored records and reseed.")
@click.option("--seed", default=42, show_default=True, type=int, help="Seed for fault injection randomness.")
@click.option("--latency-ms", default=0, show_default=True, type=click.IntRange(0), help="Added latency per request.")
@click.option("--error-rate", default=0.0, show_default=True, type=click.FloatRange(0, 1), help="Share of requests answered with a 5xx.")
@click.option("--throttle-rate", default=0.0, show_default=True, type=click.FloatRange(0, 1), help="Share of requests answered with 429 + Retry-After.")
@click.option("--drop-rate", default=0.0, show_default=True, type=click.FloatRange(0, 1), help="Share of connections dropped without a response.")
@click.option("--fail", "fail_requests", default=None, metavar="REGEX",
              help="Answer every request whose 'METHOD /path' matches REGEX with a plain 500 (e.g. '^GET .*/procurement/').")
def sandbox(host, port, data_path, reset, seed, latency_ms, error_rate, throttle_rate, drop_rate, fail_requests) -> None:
    """Run the local ConnectWise Manage emulator in the foreground (Ctrl+C stops it)."""
    import re
    from pathlib import Path

    from billbridge import demo_world
    from billbridge.sandbox import CREDENTIALS, SandboxConfig, start_sandbox

    if fail_requests:
        try:
            re.compile(fail_requests)
        except re.error as exc:
            raise click.BadParameter(f"not a regular expression: {exc}", param_hint="--fail") from exc
    path = Path(data_path) if data_path else load_config(None).sandbox_db
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        sb = start_sandbox(SandboxConfig(
            host=host, port=port, data_path=path, reset=reset, seed=seed, latency_ms=latency_ms,
            error_rate=error_rate, throttle_rate=throttle_rate, drop_rate=drop_rate, fail_requests=fail_requests,
        ))
    except OSError as exc:  # port in use, no permission to bind
        raise InputError(f"Cannot listen on {host}:{port}: {exc.strerror or exc}. Pick another --port "
                         "(0 = any free port).") from exc
    click.echo(f"ConnectWise sandbox listening on {sb.base_url} (data: {path})")
    if sb.reseeded:
        click.echo(f"  {sb.reseeded[0].upper()}{sb.reseeded[1:]}.")
    months = demo_world.world(sb.today()).months
    click.echo(f"  demo vendor months: {months[0]} to {months[-1]} (seeded for them; reseeded when the month changes)")
    click.echo(f"  CW_SITE={sb.base_url}")
    click.echo(f"  CW_COMPANY_ID={sb.company_id}")
    for name in ("full", "readonly"):
        member = CREDENTIALS[name]
        click.echo(f"  {name} member {member['member']}: public key {member['public_key']}, "
                   f"private key {member['private_key']}")
    click.echo("  CW_CLIENT_ID=any non-empty value")
    for line in _vendor_emulator_lines(sb.base_url):
        click.echo(line)
    click.echo("Press Ctrl+C to stop.")
    sys.stdout.flush()  # the address must reach a pipe (tee, a test) before serving blocks
    try:
        sb.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        sb.stop()


def _vendor_emulator_lines(base_url: str) -> list[str]:
    """One line per vendor API emulator: its URL and credentials as the environment variables
    ``billbridge pull`` reads (sandbox.VENDOR_CREDENTIALS, sources.settings.VENDOR_APIS)."""
    from billbridge.sandbox import VENDOR_CREDENTIALS
    from billbridge.sources.settings import VENDOR_APIS

    out = []
    for vendor, cred in VENDOR_CREDENTIALS.items():
        spec = VENDOR_APIS[vendor]
        values = {"api_url": base_url.rstrip("/") + cred["path"], **cred}
        out.append(f"  {spec.label} emulator: " + " ".join(f"{var}={values[key]}" for key, var in spec.env.items()
                                                          if values.get(key)))
    return out


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def check(as_json: bool) -> None:
    """Check the connection: server version and the permissions billbridge needs (nothing is written).

    Exits 1 when the API member lacks a permission (so cron can alert), 3 when ConnectWise is
    unreachable, refuses the credentials, or failed so that a permission could not be checked.
    """
    from billbridge.connectwise import check_connection

    conn = open_connection()
    report = check_connection(conn.client, mode=conn.mode)
    if as_json:
        echo_json(report.to_dict())
    else:
        click.echo(f"Mode:      {conn.mode}")
        click.echo(f"Site:      {report.site}")
        click.echo(f"Company:   {report.company_id}")
        click.echo(f"Keys:      public {report.public_key}, private key " + ("set (hidden)" if report.private_key else "missing"))
        click.echo(f"Version:   {report.server_version or 'unknown'} (codebase {report.codebase or 'unknown'})")
        if report.error:
            click.echo(f"Error:     {report.error}", err=True)
        if report.version_error:
            click.echo(f"Warning:   {report.version_error}", err=True)
        for p in report.permissions:
            mark = {"granted": "granted", "missing": "MISSING", "unknown": "could not check"}[p.state]
            click.echo(f"  {mark:<15} {p.area}: {p.permission}" + ("" if p.ok else f" - {p.detail}"))
    if report.error:
        sys.exit(EXIT_CW)
    if report.missing:
        sys.exit(EXIT_FAILED)
    if report.unchecked:
        sys.exit(EXIT_CW)


@main.command()
@click.argument("month")
@click.option("--file", "file_path", type=click.Path(exists=True, dir_okay=False), help="Vendor file (CSV or XLSX).")
@click.option("--format", "fmt", default="generic", show_default=True,
              help="File layout: generic, intermedia, interworks, phin, or a format saved for the vendor.")
@click.option("--vendor", help="Vendor name (defaults to the format's name).")
@click.option("--demo", is_flag=True, help="Load the demo vendor's bill for MONTH (one of the four months up to this one).")
@click.option("--exclude-out-of-month", is_flag=True, help="Leave out lines that bill in another month.")
@click.option("--problems-csv", type=click.Path(dir_okay=False), help="Write every problem to this CSV file.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def load(month, file_path, fmt, vendor, demo, exclude_out_of_month, problems_csv, as_json) -> None:
    """Load a vendor billing month (all or nothing).

    Every problem is reported with its row, column and reason, and nothing is stored when any
    line is invalid (exit code 2). Loading an identical file again changes nothing; a changed
    file becomes a new version.
    """
    from pathlib import Path

    from billbridge import sources
    from billbridge.config import operator_name

    month = month_arg(month)
    if bool(file_path) == bool(demo):
        raise click.UsageError("Give exactly one of --file PATH or --demo.")
    store = open_store()
    if demo:
        result = sources.load_demo(store, month, loaded_by=operator_name())
    else:
        path = Path(file_path)
        result = sources.load_month(store, month, path.read_bytes(), path.name, fmt, vendor=vendor,
                                    exclude_out_of_month=exclude_out_of_month, loaded_by=operator_name())
    _echo_load(result, as_json, problems_csv)


def _echo_load(result, as_json: bool, problems_csv: str | None = None) -> None:
    """The outcome of a load or a pull: message, problems, warnings (or the JSON summary); exit 2 when invalid."""
    from pathlib import Path

    from billbridge import sources

    if problems_csv and result.problems:
        Path(problems_csv).write_bytes(sources.problems_csv(result.problems))
    if as_json:
        out = result.summary()
        out["problems"] = [vars(p) for p in result.problems]
        echo_json(out)
    else:
        click.echo(result.message)
        for p in result.problems[:50]:
            click.echo(f"  {p}", err=True)
        if len(result.problems) > 50:
            hint = f" (all in {problems_csv})" if problems_csv else " (use --problems-csv FILE for all of them)"
            click.echo(f"  … and {len(result.problems) - 50} more{hint}", err=True)
        for w in result.parse.warnings:
            click.echo(f"Warning: {w}", err=True)
        oom = result.parse.out_of_month
        if result.ok and len(oom) and not result.excluded:
            click.echo(f"Note: {len(oom)} lines bill in another month (rows "
                       + ", ".join(str(r) for r in oom["line_no"][:20]) + "); --exclude-out-of-month leaves them out.")
    if not result.ok:
        sys.exit(EXIT_USAGE)


@main.command()
@click.argument("vendor", metavar="VENDOR")
@click.argument("month")
@click.option("--draft", is_flag=True, help="Pull the charges not invoiced yet (Pax8 draft items, Sherweb's open period).")
@click.option("--exclude-out-of-month", is_flag=True, help="Leave out lines that bill in another month.")
@click.option("--problems-csv", type=click.Path(dir_okay=False), help="Write every problem to this CSV file.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def pull(vendor, month, draft, exclude_out_of_month, problems_csv, as_json) -> None:
    """Pull VENDOR's bill for MONTH from its API and store it (all or nothing, versioned).

    VENDOR is a vendor API: pax8 or sherweb. Credentials come from the [pax8] / [sherweb] section of
    .streamlit/secrets.toml or PAX8_* / SHERWEB_* variables; with none set, the sandbox's emulator of
    that vendor is used. Exit 2 when a line is invalid (nothing is stored), 3 when the vendor API is
    unreachable or refuses the credentials.
    """
    from billbridge import sources
    from billbridge.config import operator_name

    month = month_arg(month)
    apis = sources.names(kind="api")
    if vendor not in apis:
        raise click.BadParameter(f"{vendor!r} is not a vendor API; use one of {', '.join(apis)} (files: billbridge "
                                 "load MONTH --file PATH --format NAME)", param_hint="VENDOR")
    progress = None if as_json else (lambda done, total, text: click.echo(f"  {text}", err=True))
    result = sources.pull(open_store(), vendor, month, draft=draft, progress=progress,
                          exclude_out_of_month=exclude_out_of_month, loaded_by=operator_name())
    _echo_load(result, as_json, problems_csv)


# ---- agreement import and month export (issue 6)
@main.command("import-agreements")
@click.option("--all", "import_all", is_flag=True, help="Import every new or changed agreement and addition.")
@click.option("--agreement", "agreement_ids", type=int, multiple=True, metavar="ID",
              help="Import this agreement and its pending additions (repeatable).")
@click.option("--since", default=None, metavar="ISO",
              help="Read changes since this time (2026-11-01 or 2026-11-01T08:00:00Z) instead of the last import's bookmark.")
@click.option("--full", is_flag=True, help="Read everything and mark additions deleted in ConnectWise (slower).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def import_agreements(import_all, agreement_ids, since, full, as_json) -> None:
    """Import agreements and additions from ConnectWise, one way, as contracts.

    Reads only what changed since the last run (lastUpdated bookmark). Without --all or
    --agreement it lists what is new or changed and imports nothing.
    """
    from billbridge import agreements as ag

    if import_all and agreement_ids:
        raise click.UsageError("use either --all or --agreement, not both")
    try:
        since_dt = ag.parse_since(since)
    except ValueError as exc:
        raise click.BadParameter(f"not an ISO date or time: {since}", param_hint="--since") from exc
    conn = open_connection()
    store = open_store()
    fetched = ag.fetch_changes(conn.client, store, since=since_dt, full=full)
    pending_a, pending_d = ag.pending(store)
    if import_all:
        result = ag.import_all(store, source="cli")
    elif agreement_ids:
        result = ag.import_selected(store, agreement_ids, source="cli")
    else:
        result = ag.ImportResult([], [])
    if as_json:
        echo_json({"fetched": fetched.to_dict(), "pending": {"agreements": pending_a["agreement_id"].tolist(),
                   "additions": pending_d["addition_id"].tolist()}, "imported": result.to_dict()})
        return
    click.echo(f"Read {fetched.agreements} agreements and {fetched.additions} additions changed since "
               f"{fetched.since['additions'] or 'the beginning'} ({fetched.requests} requests).")
    if fetched.deleted_additions or fetched.deleted_agreements:
        click.echo(f"Marked deleted in ConnectWise: {len(fetched.deleted_agreements)} agreements, "
                   f"{len(fetched.deleted_additions)} additions.")
    click.echo(f"Pending: {len(pending_a)} agreements, {len(pending_d)} additions.")
    if import_all or agreement_ids:
        click.echo(f"Imported {len(result.agreement_ids)} agreements and {len(result.addition_ids)} additions.")
        quiet = sorted(set(agreement_ids) - set(result.agreement_ids))
        if quiet:
            click.echo("Note: nothing was pending for agreement " + ", ".join(map(str, quiet))
                       + " (not in ConnectWise, or already imported and unchanged).", err=True)
    else:
        for r in pending_a.itertuples():
            click.echo(f"  {r.agreement_id:>6}  {r.change:<9} {r.company_name} - {r.name} ({r.pending_additions} additions)")
        click.echo("Nothing imported: pass --all or --agreement ID.")


@main.command("export")
@click.argument("month")
@click.option("--xlsx", "xlsx_path", type=click.Path(dir_okay=False), required=True,
              help="Write the review workbook (summary, plan, changes, alerts, push results) here.")
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False), default=None, help="Also write the plan lines as CSV.")
def export_month(month, xlsx_path, csv_path) -> None:
    """Export the month review of MONTH (YYYY-MM) as an Excel workbook and optionally CSV."""
    from billbridge import export

    month = month_arg(month)
    review = export.load_review(open_store(), month)
    if review is None:
        raise NotFoundError(f"There is no plan for {month} yet: load and reconcile the month first "
                            f"(billbridge load {month} ..., then billbridge reconcile {month}).")
    try:
        export.write_xlsx(review, xlsx_path)
        if csv_path:
            export.write_csv(review, csv_path)
    except OSError as exc:
        raise InputError(f"Cannot write {exc.filename or xlsx_path}: {exc.strerror or exc}.") from exc
    from billbridge.money import format_money

    per = "; ".join(f"vendor cost {format_money(t.vendor_cost, c)}, billed {format_money(t.billed_price, c)}, "
                    f"margin {format_money(t.margin, c)}" for c, t in review.currency_totals.items())
    click.echo(f"Wrote {xlsx_path}: {per or 'no amounts'}.")
    if csv_path:
        click.echo(f"Wrote {csv_path} ({len(review.lines)} lines).")


# ---- mappings and reconcile (issue 4) -----------------------------------------------------------
def _month_snapshot(store, month: str, refresh: bool = False):
    """The month's stored snapshot, read from ConnectWise first when asked or when it is out of date
    (:func:`billbridge.month.ensure_snapshot`)."""
    from billbridge import month as mo

    res, why = mo.ensure_snapshot(store, lambda: open_connection().client, month, refresh=refresh)
    if why:
        click.echo(f"Read ConnectWise for {month} ({why}): {res.request_count} requests.", err=True)
    return mo.snapshot_for(store, month)


@main.group("map", cls=_Group)
def map_group() -> None:
    """Mappings: vendor customers -> companies and agreements, SKUs -> catalog items."""


@map_group.command("suggest")
@click.argument("month")
@click.option("--accept-above", "accept_above", type=click.IntRange(0, 100), default=None,
              help="Record every suggestion scoring at least SCORE whose candidate is not flagged (deleted, prospect, cancelled, tie...).")
@click.option("--json", "as_json", is_flag=True, help="Print the suggestions (and what was accepted) as JSON.")
def map_suggest(month, accept_above, as_json) -> None:
    """List mapping suggestions for MONTH's vendor lines, best first; optionally accept them."""
    from billbridge import mappings as mp

    from billbridge import store as st

    month = month_arg(month)
    store = open_store()
    if not st.list_imports(store, billing_month=month):
        raise NotFoundError(f"No vendor month is loaded for {month}: run 'billbridge load {month} ...' first.")
    snap = _month_snapshot(store, month)
    accepted = None
    if accept_above is not None:
        accepted = mp.accept(store, month, snap, min_score=accept_above)
    sug = mp.suggestions(store, month, snap)
    if as_json:
        out = {k: [{c: (list(v) if isinstance(v, tuple) else v) for c, v in r.items()} for r in df.to_dict("records")]
               for k, df in sug.items()}
        echo_json({"month": month, "accepted": accepted, "suggestions": out})
        return
    if accepted is not None:
        click.echo(f"Accepted (score >= {accept_above}): " + ", ".join(f"{n} {k}" for k, n in accepted.items()))
    labels = {"companies": ("vendor_customer_name", "company_name"), "agreements": ("vendor_customer_name", "agreement_name"),
              "products": ("sku", "catalog_identifier")}
    for kind, df in sug.items():
        click.echo(f"\n{kind.capitalize()} still unmapped: {df[df.columns[1]].nunique() if len(df) else 0}")
        for r in df.to_dict("records"):
            a, b = labels[kind]
            cand = r.get(b) or "-"
            click.echo(f"  {str(r.get(a))[:34]:34}  {str(cand)[:34]:34}  {int(r.get('score') or 0):>3}  {r.get('reason')}")


@map_group.command("export")
@click.argument("file", type=click.Path(dir_okay=False, writable=True))
def map_export(file) -> None:
    """Write every mapping and rule to FILE (CSV, one file for all kinds; '-' for stdout)."""
    from billbridge import mappings as mp

    text = mp.export_csv(open_store())
    if file == "-":
        click.echo(text, nl=False)
        return
    try:
        with open(file, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
    except OSError as exc:
        raise InputError(f"Cannot write {file}: {exc.strerror or exc}.") from exc
    click.echo(f"Wrote {max(0, text.count(chr(10)) - 1)} mappings to {file}")


@map_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
def map_import(file) -> None:
    """Read mappings from FILE (CSV as written by 'map export'): all or nothing; exit 2 on any problem."""
    from billbridge import mappings as mp

    with open(file, "rb") as fh:
        res = mp.import_csv(open_store(), fh.read())
    if not res.ok:
        for p in res.problems:
            click.echo(f"Error: {p if p.row is not None else p.reason}", err=True)
        click.echo(f"Nothing was imported ({len(res.problems)} problem(s)).", err=True)
        sys.exit(EXIT_USAGE)
    click.echo(f"Imported {res.rows} rows: " + ", ".join(f"{n} {k} changed" for k, n in res.counts.items()))


@map_group.command("threshold")
@click.argument("percent", required=False)
@click.option("--clear", is_flag=True, help="Go back to the default threshold.")
def map_threshold(percent, clear) -> None:
    """Show or set the margin threshold (percent of the price) of product mappings without their own; a line
    below it is flagged "Low margin" in the plan."""
    from billbridge import mappings as mp

    store = open_store()
    if percent is None and not clear:
        click.echo(f"Margin threshold: {mp.margin_threshold(store)}% (product mappings may set their own).")
        return
    now = mp.set_margin_threshold(store, None if clear else percent, source="cli")
    click.echo(f"Margin threshold: {now}% for product mappings without their own; the next reconcile uses it.")


@main.command("reconcile")
@click.argument("month")
@click.option("--refresh", is_flag=True, help="Read ConnectWise again before reconciling.")
@click.option("--json", "as_json", is_flag=True, help="Print {summary, rows} as JSON.")
def reconcile_cmd(month, refresh, as_json) -> None:
    """Reconcile MONTH's vendor lines against ConnectWise and store the plan (nothing is written to ConnectWise).

    ConnectWise is read first when the stored read is out of date (or with --refresh); the plan is
    rebuilt when the imports, mappings or that read changed, else the stored one is reported.
    """
    from billbridge import store as st
    from billbridge.plan.build import ensure_plan

    month = month_arg(month)
    store = open_store()
    if not st.month_imports(store, month):
        raise NotFoundError(f"No vendor month is loaded for {month}: run 'billbridge load {month} ...' first.")
    res = ensure_plan(store, lambda: open_connection().client, month, refresh=refresh)
    if res.refreshed:
        click.echo(f"Read ConnectWise for {month} ({res.refreshed}): {res.snapshot.request_count} requests.", err=True)
    meta = st.get_plan(store, res.plan_id)
    if as_json:
        echo_json({"plan_id": res.plan_id, "summary": meta["summary"], "rows": st.plan_rows(store, res.plan_id)})
        return
    from billbridge.money import format_money as fm

    s = meta["summary"]
    click.echo(f"Plan {res.plan_id} for {month}: {s['status']}"
               + ("" if res.built else f" (unchanged since it was built at {meta['created_at']})"))
    for c, f in s["by_currency"].items():  # Rule 7.1: one line per currency, never one total of two
        click.echo(f"  vendor lines {f['lines_checked']} ({fm(f['dollars_checked'], c)}): reconciled "
                   f"{f['lines_reconciled']} ({fm(f['dollars_reconciled'], c)}), blocked {f['lines_blocked']} "
                   f"({fm(f['dollars_blocked'], c)}), excluded {f['lines_excluded']} ({fm(f['dollars_excluded'], c)}); "
                   f"coverage {float(f['coverage']):.1%}; customer price impact {fm(f['price_impact'], c)}, "
                   f"margin impact {fm(f['margin_impact'], c)}")
    click.echo("  rows by action: " + ", ".join(f"{label(a, 'action')} {d['rows']}" for a, d in s["by_action"].items()))
    if s["by_cause"]:
        click.echo("  blocked or left out, by cause: "
                   + ", ".join(f"{label(c, 'cause')} {d['rows']}" for c, d in s["by_cause"].items()))
    click.echo(f"  {s['requests']} ConnectWise writes proposed" + (f", {s['creations']} records to create" if s.get("creations") else ""))
    changes, _ = st.plan_page(store, res.plan_id, actions=["update", "create", "cancel", "blocked"], limit=None)
    for r in changes:
        click.echo(f"  [{label(r['action'], 'action')}{': ' + label(r['cause'], 'cause') if r.get('cause') else ''}] "
                   f"{r['reason']}")


@main.command("imports")
@click.argument("month", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
def imports_cmd(month, as_json) -> None:
    """List the stored imports (of MONTH, or all), newest first: id, vendor, version, file, lines, vendor
    cost, and whether each is the month's version in effect or withdrawn (the ids 'billbridge withdraw' takes)."""
    from billbridge import store as st
    from billbridge.money import format_money

    month = month_arg(month) if month else None
    store = open_store()
    rows = st.list_imports(store, billing_month=month)
    in_effect = {i["id"] for m in {r["billing_month"] for r in rows} for i in st.month_imports(store, m)}
    if as_json:
        echo_json([{**r, "in_effect": r["id"] in in_effect} for r in rows])
        return
    if not rows:
        click.echo(f"No imports{' for ' + month if month else ''} yet: 'billbridge load' or 'billbridge pull' stores one.")
        return
    currencies = st.import_currencies(store, [r["id"] for r in rows])
    for r in rows:
        cur = currencies.get(r["id"]) or ["USD"]  # Rule 7.1: an import's cost in its own currency, never two added
        cost = format_money(r["total_cost"], cur[0]) if len(cur) == 1 else f"cost in {', '.join(cur)}"
        state = (f"withdrawn {str(r['withdrawn_at'])[:10]} ({r.get('withdrawn_reason') or 'no reason given'})"
                 if r.get("withdrawn_at") else "in effect" if r["id"] in in_effect else "older version")
        click.echo(f"  {r['id']:>5}  {r['billing_month']}  {r['vendor']} version {r['version']}  {r['file_name']}  "
                   f"{r['line_count']} line{'s' if r['line_count'] != 1 else ''}  "
                   f"{cost}  {state}")


@main.command("withdraw")
@click.argument("import_id", type=int)
@click.option("--reason", required=True, help="Why (recorded with who and when).")
@click.option("--restore", is_flag=True, help="Put a withdrawn import back into its month instead.")
def withdraw_cmd(import_id, reason, restore) -> None:
    """Withdraw import IMPORT_ID from its month, or --restore it; its lines stay in the history.

    A withdrawn import is no part of its month: the month uses the vendor's newest version still in
    effect (the plan is rebuilt on the next reconcile). Import ids: the Load month page's history, or
    'billbridge load ... --json'. Exit 2 for an unknown id or an import already in that state.
    """
    from billbridge import store as st
    from billbridge.config import operator_name

    store = open_store()
    imp = (st.restore_import if restore else st.withdraw_import)(store, import_id, reason=reason, by=operator_name())
    now = st.latest_import(store, imp["vendor"], imp["billing_month"])
    click.echo(f"{'Restored' if restore else 'Withdrew'} import {imp['id']} ({imp['vendor']} {imp['billing_month']} "
               f"version {imp['version']}, {imp['file_name']}). " + (
                   f"{imp['billing_month']} uses version {now['version']} of {imp['vendor']}." if now else
                   f"{imp['billing_month']} has no {imp['vendor']} import in effect."))


@main.command("override")
@click.argument("month")
@click.argument("keys", nargs=-1, metavar="KEY...")
@click.option("--cause", "causes", multiple=True, metavar="CAUSE",
              help="Every row of the month's plan blocked by CAUSE (past_month, already_invoiced, negative_margin, "
                   "manually_edited; repeatable).")
@click.option("--reason", default=None, help="Why (kept in the push journal); needed for a month already invoiced.")
@click.option("--remove", is_flag=True, help="Take the overrides of these rows back.")
def override_cmd(month, keys, causes, reason, remove) -> None:
    """Override plan rows of MONTH (their KEYs, or every row blocked by --cause): confirm a past month's
    correction line, write into a month ConnectWise already invoiced (with --reason), allow a line below cost
    or overwrite a manual edit. The next 'billbridge reconcile MONTH' plans them; exit 2 for a key not in the plan."""
    from billbridge import guardrails

    month = month_arg(month)
    n = guardrails.override(open_store(), month, keys, causes=causes, reason=reason, remove=remove)
    if remove:
        click.echo(f"Took back {n} override(s) of {month}. 'billbridge reconcile {month}' plans the rows as before.")
        return
    click.echo(f"Overrode {n} row(s) of {month}" + (f" (reason kept in the push journal: {reason})" if reason else "")
               + f". 'billbridge reconcile {month}' plans them; then push.")


# ---- push, undo and status (issue 5) -------------------------------------------------------------
def _push_exit(run) -> None:
    """Exit 0 when every row is ok or skipped, 3 when ConnectWise refused the keys, else 1."""
    if run.credentials_refused:
        sys.exit(EXIT_CW)
    if run.counts.get("failed") or run.counts.get("conflict"):
        sys.exit(EXIT_FAILED)


def _echo_run(run, as_json: bool) -> None:
    from dataclasses import asdict

    if as_json:
        echo_json({"run_id": run.id, "kind": run.kind, "month": run.month, "status": run.status,
                   "dry_run": run.dry_run, "counts": run.counts, "writes": run.writes, "requests": run.requests,
                   "rows": [asdict(r) for r in run.rows]})
        return
    title = "Dry run" if run.dry_run else f"{run.kind.capitalize()} run {run.id}"
    click.echo(f"{title} for {run.month}: {run.status} - " + ", ".join(f"{k} {v}" for k, v in run.counts.items())
               + f"; {run.writes} writes, requests " + (", ".join(f"{n} {m}" for m, n in sorted(dict(run.requests).items()))
                                                        or "none"))
    for r in run.rows:
        if r.result != "ok" or run.dry_run:
            click.echo(f"  [{r.result}] {r.key}: {r.reason}")


def _run_id(store, run_id: int) -> int:
    from billbridge import store as st

    if st.get_push_run(store, run_id) is None:
        raise NotFoundError(f"There is no push run {run_id}: 'billbridge status' lists the runs.")
    return run_id


@main.command("push")
@click.argument("month")
@click.option("--rows", "keys", multiple=True, metavar="KEY", help="Push this plan row (repeatable).")
@click.option("--all-ready", is_flag=True, help="Push every row of the plan that has a write (update, create, cancel).")
@click.option("--dry-run", is_flag=True, help="Re-read ConnectWise and say what would be written; write nothing.")
@click.option("--force", is_flag=True, help="Overwrite rows a person changed in ConnectWise since the plan.")
@click.option("--concurrency", default=4, show_default=True, type=click.IntRange(1, 16), help="Writes in flight at once.")
@click.option("--json", "as_json", is_flag=True, help="Print the run and every row result as JSON.")
def push_cmd(month, keys, all_ready, dry_run, force, concurrency, as_json) -> None:
    """Push rows of MONTH's latest plan to ConnectWise (journaled; idempotent; exit 1 if some failed)."""
    from billbridge import month as mo
    from billbridge import push as pu

    month = month_arg(month)
    if bool(keys) == bool(all_ready):
        raise click.UsageError("pass either --rows KEY ... or --all-ready")
    store = open_store()
    plan = mo.latest_plan(store, month)
    if plan is None:
        raise NotFoundError(f"No plan for {month}: run 'billbridge reconcile {month}' first.")
    rows = plan.rows
    if keys:
        unknown = sorted(set(keys) - set(rows["key"]))
        if unknown:
            raise InputError(f"Not in plan {plan.id} for {month}: {', '.join(unknown)} "
                             f"('billbridge reconcile {month} --json' lists the row keys).", column="--rows")
        rows = rows[rows["key"].isin(keys)]
    else:
        rows = rows[rows["action"].isin(["update", "create", "cancel"])]
    conn = open_connection()
    conn.client.get("/system/info")  # fail fast (exit 3) when ConnectWise is unreachable or refuses the keys
    run = pu.push(store, conn.client, rows, month=month, plan_id=plan.id, force=force, concurrency=concurrency,
                  dry_run=dry_run)
    _echo_run(run, as_json)
    _push_exit(run)


@main.command("undo")
@click.argument("run_id", type=int)
@click.option("--dry-run", is_flag=True, help="Show the inverse writes (and conflicts); write nothing.")
@click.option("--correct-invoiced", is_flag=True,
              help="For an addition the run created that ConnectWise already invoiced, add the offered correcting line.")
@click.option("--json", "as_json", is_flag=True, help="Print the undo rows or run as JSON.")
def undo_cmd(run_id, dry_run, correct_invoiced, as_json) -> None:
    """Undo push run RUN_ID: restore values, delete the additions it created (not yet invoiced),
    reinstate the ones it cancelled. Exit 1 when a row cannot be undone."""
    from billbridge import push as pu

    store = open_store()
    run_id = _run_id(store, run_id)
    conn = open_connection()
    rows = pu.plan_undo(store, conn.client, run_id)
    if correct_invoiced:
        rows = pu.with_corrections(rows)
    if dry_run:
        if as_json:
            echo_json({"run_id": run_id, "rows": rows})
        else:
            click.echo(f"Undo of run {run_id}: {len(rows)} rows (nothing written)")
            for r in rows:
                req = r.get("request")
                body = "" if not req or req.get("body") is None else " " + json.dumps(req["body"])
                click.echo(f"  [{r['action']}] {r['key']}: {r['reason']}" + (f" -> {req['method']} {req['path']}{body}" if req else ""))
        sys.exit(EXIT_FAILED if any(r.get("action") == "blocked" for r in rows) else 0)
    run = pu.undo(store, conn.client, run_id, rows=rows)
    _echo_run(run, as_json)
    _push_exit(run)


@main.command("status")
@click.argument("month", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print runs and per-company status as JSON.")
def status_cmd(month, as_json) -> None:
    """Push runs (of MONTH, or all) and, for a month, each company's sync status."""
    from billbridge import journal as jo

    month = month_arg(month) if month else None
    summary = jo.status_summary(open_store(), month)
    if as_json:
        echo_json(summary)
        return
    if not summary["runs"]:
        click.echo("No push runs yet." + (f" ({month})" if month else ""))
    for r in summary["runs"]:
        click.echo(f"run {r['id']:>4} {r['kind']:<6} {r['month'] or '':<8} {r['started_at']} {r['status_text']:<11} "
                   f"ok {r['ok']}, failed {r['failed']}, conflict {r['conflict']}, skipped {r['skipped']}"
                   + (" (dry run)" if r["dry_run"] else "") + (f"; {jo.run_link_text(r)}" if r["parent_run_id"] else ""))
    companies = summary.get("companies", [])
    for c in companies:
        click.echo(f"  {jo.company_status_text(c)}")
    for status in sorted({c["status"] for c in companies}, key=list(jo.COMPANY_STATUS_MARKS).index):
        click.echo(f"  {jo.COMPANY_STATUS_MARKS[status]}: {jo.company_status_label(status).split(': ', 1)[-1]}.")


# ---- end push, undo and status (issue 5) ---------------------------------------------------------


if __name__ == "__main__":  # pragma: no cover
    main()
