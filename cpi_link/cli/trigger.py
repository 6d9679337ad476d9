"""`cpi-link trigger`: formatting only; decisions live in rules.trigger (`scheme` commands: cli/scheme.py)."""

from __future__ import annotations

from typing import Optional

import typer

from cpi_link.cli.common import (EncodingOption, FORMAT_HELP, SCHEME_HELP, Format, emit_csv, emit_json, handle_errors, state,
                                 stdout_console, warn)
from cpi_link.core.i18n import _, pgettext
from cpi_link.core.regions import region_label


TRIGGER_COLUMNS = [
    "month",
    "scheme",
    "version",
    "overlays",
    "region_code",
    "cpi_yoy_pct",
    "cpi_threshold",
    "food_yoy_pct",
    "food_threshold",
    "scpi_yoy_pct",
    "scpi_threshold",
    "triggered",
    "indicator",
    "rate_pct",
    "multiplier",
    "verified",
    "reason",
    "next_figures_expected",
    "payment_deadline",
]

def register(app: typer.Typer) -> None:
    app.command("trigger")(trigger)


def _warn_unverified(ids_docs: dict[str, str], months: dict[str, list[str]] | None = None) -> None:
    for ident, doc in ids_docs.items():
        span = ""
        if months and months.get(ident):
            ms = months[ident]
            span = _(" (in force for {months})").format(months=ms[0] + (f"..{ms[-1]}" if len(ms) > 1 else ""))
        warn(
            _("{ident} ({doc}){span} is unverified: its values have not been checked against the "
              "document text. Check them and set verified = true in the scheme file.").format(ident=ident, doc=doc, span=span)
        )


@handle_errors
def trigger(
    ctx: typer.Context,
    month: Optional[str] = typer.Option(None, "--month", help=_("Index month to decide, YYYY-MM (the month the figures describe). Default: the latest month with every deciding figure.")),
    since: Optional[str] = typer.Option(None, "--since", help=_("First index month of a range, YYYY-MM (to --until, else to the latest month with figures).")),
    until: Optional[str] = typer.Option(None, "--until", help=_("Last index month of a range, YYYY-MM (with --since).")),
    scheme: Optional[str] = typer.Option(None, "--scheme", help=SCHEME_HELP),
    region: Optional[str] = typer.Option(
        None, "--region", help=_("Only for schemes decided per prefecture city: the 6-digit prefecture (or county) code.")
    ),
    provenance: bool = typer.Option(
        False, "--provenance", help=_("JSON: add each figure's index value, source, source reference and fetched_at.")
    ),
    stored_months: bool = typer.Option(
        False, "--stored-months", help=_("With --since: only the months for which the store holds some figure of the deciding region.")
    ),
    fmt: Format = typer.Option(Format.table, "--format", help=FORMAT_HELP),
    encoding: EncodingOption = None,
):
    """Decide, month by month, whether the mechanism starts: the rules in force, each index's YoY
    against its threshold, the rate and a one-line reason. Exit 3 if a needed figure is missing."""
    from cpi_link.core.errors import MissingFigures, UsageError
    from cpi_link.core.months import month_range, parse_month
    from cpi_link.rules.schemes import default_scheme, load_scheme
    from cpi_link.store.series import SeriesStore
    from cpi_link.rules.trigger import decide, missing_figures

    st = state(ctx)
    if month and (since or until):
        raise UsageError(_("give either --month or --since/--until, not both"))
    if until and not since:
        raise UsageError(_("--until needs --since (or use --month for one month)"))
    sch = load_scheme(scheme or default_scheme(st.config_dir), st.config_dir)
    store = SeriesStore(st.home)
    if month:
        months = [parse_month(month, "--month")]
    elif since:
        # --since alone runs up to the latest month whose deciding figures are all stored
        last = parse_month(until, "--until") if until else _latest(sch, store)
        months = month_range(parse_month(since, "--since"), last)
    else:
        months = [_latest(sch, store)]  # no month given: the latest month that can be decided
    if stored_months:
        from cpi_link.rules.schemes import INDICATORS
        from cpi_link.rules.trigger import deciding_region

        def held(m: str) -> bool:
            try:
                where = deciding_region(sch.rules_for(m), region)
            except Exception:
                return True  # let the loop below report the month's problem
            return any(store.get(where, i, m) is not None for i in INDICATORS)

        months = [m for m in months if held(m)]
        if not months:
            raise MissingFigures(_("no month of the range has any figure of the deciding region"))
    decisions = []
    missing: list[str] = []
    for m in months:
        try:
            decisions.append(decide(sch.rules_for(m), store, region=region))
        except MissingFigures:
            if len(months) == 1:
                raise
            rules = sch.rules_for(m)
            lacking = _(" and ").join(missing_figures(sch, m, store, region))
            missing.append(_("{month}: {lacking} (needed by {version})").format(month=m, lacking=lacking, version=rules.version))

    unverified: dict[str, str] = {}
    spans: dict[str, list[str]] = {}
    for d in decisions:
        docs = {d.rules.version: d.rules.document}
        for o in sch.overlays:
            docs[o.id] = o.document or _("no document cited")
        for ident in d.rules.unverified:
            unverified.setdefault(ident, docs.get(ident, ""))
            spans.setdefault(ident, []).append(d.month)
    _warn_unverified(unverified, spans)

    on_file = store.release_dates()  # publication dates the office imported with its figures
    if missing:
        if decisions:  # the decided months in every format, then exit 3 naming the gaps
            _emit(decisions, fmt, sch, on_file, provenance)
        shown = missing if len(missing) <= 12 else missing[:12] + [_("... and {n} more months").format(n=len(missing) - 12)]
        raise MissingFigures(
            _("{n} of {total} months cannot be decided for lack of figures "
              "(import them with cpi-link fetch --source file):").format(n=len(missing), total=len(months)) + "\n  " + "\n  ".join(shown)
        )

    _emit(decisions, fmt, sch, on_file, provenance, table_on_file=False)


def _emit(decisions: list, fmt, sch, on_file: dict, provenance: bool, table_on_file: bool = True) -> None:
    if fmt is Format.json:
        emit_json([_with_calendar(d, d.to_json(provenance=provenance), on_file) for d in decisions])
    elif fmt is Format.csv:
        emit_csv([_csv_row(d) for d in decisions], TRIGGER_COLUMNS)
    else:
        _print_table(decisions, sch, on_file if table_on_file else None)


def _with_calendar(d, j: dict, on_file: dict | None = None) -> dict:
    """Add when the figures are published, when the next are expected, and the payment deadline
    under the rules in force (cpi_link.calendar); payment_deadline is null when not triggered."""
    from cpi_link.rules.calendar import calendar_json

    cal = calendar_json(d.month, d.rules.payment_timing, region=d.region_code, on_file=on_file)
    if not d.triggered:
        cal["payment_deadline"] = None
        cal["payment_deadline_note"] = "not triggered: nothing to pay"
        cal["overdue"] = False
    j.update(cal)
    return j


def _csv_row(d) -> dict:
    from cpi_link.core.decimals import fmt_pct

    j = d.to_json()
    row = {k: j.get(k) for k in TRIGGER_COLUMNS}
    row["overlays"] = ";".join(d.overlays)
    row["triggered"] = "true" if d.triggered else "false"
    row["verified"] = "true" if d.rules.verified else "false"
    row["scpi_yoy_pct"] = fmt_pct(d.yoy.get("scpi"))
    for ind in ("cpi", "food", "scpi"):
        row[f"{ind}_threshold"] = fmt_pct(d.thresholds.get(ind))
    cal = _with_calendar(d, {})
    row["next_figures_expected"] = cal["next_figures_expected"]
    row["payment_deadline"] = cal["payment_deadline"]
    return row


def _rate_cell(d) -> str:
    from cpi_link.core.decimals import fmt_pct
    from cpi_link.rules.trigger import flat_amounts, indicator_label

    cal = _with_calendar(d, {})
    late = " " + _("[bold red]OVERDUE[/]") if cal.get("overdue") else ""
    if flat_amounts(d.rules):  # paid as flat amounts: the rise sets no amount (the reason names them)
        return _("flat amounts\nby {deadline}").format(deadline=cal['payment_deadline'] or '?') + late
    return _("{rate}% ({indicator})\nby {deadline}").format(rate=fmt_pct(d.rate_pct), indicator=indicator_label(d.indicator),
                                                            deadline=cal['payment_deadline'] or '?') + late


def _print_table(decisions, sch, on_file: dict | None = None) -> None:
    from rich.markup import escape
    from rich.table import Table

    from cpi_link.core.decimals import fmt_pct
    from cpi_link.rules.trigger import decision_reason

    show_scpi = any("scpi" in d.yoy for d in decisions)
    n = sum(d.triggered for d in decisions)
    t = Table(title=_("{name}: {title} — {n} of {total} months triggered").format(name=sch.name, title=sch.title, n=n, total=len(decisions)), title_justify="left")
    t.add_column(_("month"), no_wrap=True)
    t.add_column(_("version (+ overlays)"), max_width=28)
    t.add_column(_("region"), no_wrap=True)
    t.add_column(_("CPI %\nYoY / thr"), justify="right", no_wrap=True)
    t.add_column(_("food %\nYoY / thr"), justify="right", no_wrap=True)
    if show_scpi:
        t.add_column(_("SCPI %\nYoY / thr"), justify="right", no_wrap=True)
    t.add_column(_("start"), no_wrap=True)
    t.add_column(_("rate"), justify="right", no_wrap=True)
    con = stdout_console()
    # under 120 columns (cron mail) the reasons, whole sentences, go under the table, one a line
    reasons_below = con.width < 120
    if not reasons_below:
        t.add_column(_("reason"), min_width=30, ratio=1)

    def cell(d, ind):
        if ind not in d.yoy:
            return "—"
        thr = d.thresholds.get(ind)
        return f"{fmt_pct(d.yoy[ind])} / {fmt_pct(thr)}" if thr is not None else f"{fmt_pct(d.yoy[ind])} / —"

    for d in decisions:
        label = "\n+ ".join(escape(x) for x in (d.rules.version, *d.overlays))
        label += "" if d.rules.verified else "\n" + _("[bold red](unverified)[/]")
        if d.rules.multiplier != 1:
            label += f" ×{format(d.rules.multiplier.normalize(), 'f')}"
        row = [d.month, label, region_label(d.region_code), cell(d, "cpi"), cell(d, "food")]
        if show_scpi:
            row.append(cell(d, "scpi"))
        row += [
            _("[bold]YES[/]") if d.triggered else _("no"),
            _rate_cell(d) if d.triggered else "—",
        ]
        if not reasons_below:
            row.append(escape(decision_reason(d)))
        t.add_row(*row, style="bold green" if d.triggered else None)
    con.print(t)
    if reasons_below:
        for d in decisions:
            con.print(_("{month}: {reason}").format(month=d.month, reason=escape(decision_reason(d))))
    from cpi_link.rules.calendar import deadline_sentence, next_figures_sentence

    last = decisions[-1]
    con.print(next_figures_sentence(last.month))
    shown = [d for d in decisions if d.triggered][-1:] or [last]
    con.print(escape(deadline_sentence(shown[0].month, shown[0].rules.label, shown[0].rules.payment_timing,
                                       show_overdue=shown[0].triggered, region=shown[0].region_code, on_file=on_file)
                     + ("" if shown[0].triggered else _(" (if it had triggered)"))))


def _latest(scheme, store) -> str:
    from cpi_link.core.errors import MissingFigures
    from cpi_link.jobs.monthly import latest_complete_month

    m = latest_complete_month(scheme, store)
    if m is None:
        raise MissingFigures(_("no month has every figure that scheme {name} needs; give --month, or fetch the figures").format(name=scheme.name))
    return m
