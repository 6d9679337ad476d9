"""`cpi-link doctor [--repair]`: check the store, ledger and run folders; restore the store's last good copy."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from cpi_link.cli.common import EncodingOption, FORMAT_HELP, Format, emit_csv, emit_json, handle_errors, state, stderr_console, stdout_console
from cpi_link.cli.run import ANCHOR_HELP
from cpi_link.core.i18n import _, shown


def register(app: typer.Typer) -> None:
    app.command("doctor")(doctor)


@handle_errors
def doctor(
    ctx: typer.Context,
    repair: bool = typer.Option(False, "--repair", help=_("Restore a damaged series store file from its last good copy (.bak; "
                                "the damaged file is kept as NAME.damaged-STAMP), and rebuild a deleted ledger record "
                                "from the journal when its payment files prove it; roll back a torn journal line; put back journal entries "
                                "the paid run folders hold sealed; record the files of a series store without an index as they are; remove "
                                "leftover temp folders of stopped writers (set-aside run folders are kept).")),
    fmt: Format = typer.Option(Format.table, "--format", help=FORMAT_HELP),
    encoding: EncodingOption = None,
    anchor: Optional[Path] = typer.Option(None, "--anchor", envvar="CPI_LINK_ANCHOR", help=ANCHOR_HELP),
):
    """Check the series store, revisions, ledger records and payment files, and run folders (sha256). Exit 2 on problems."""
    from rich.markup import escape

    from cpi_link.jobs.doctor import check

    home = state(ctx).home
    if repair:
        from cpi_link.jobs.ledger import RunLock

        with RunLock(home):  # a repair never races a run (exit 4 while one holds the lock)
            rep = check(home, repair=True, anchor=anchor)
    else:
        rep = check(home, repair=False, anchor=anchor)
    if fmt is Format.json:
        emit_json(rep.as_dict())
    elif fmt is Format.csv:  # one row per problem found (none: the header alone)
        emit_csv([p.as_dict() for p in rep.problems], ["area", "path", "problem", "repaired"])
    else:
        out = stdout_console()
        c = rep.checked
        out.print(_("checked {home}: {store} store files, "
                    "{ledger} ledger records, {runs} run folders").format(home=escape(str(home.root)), store=c.get('store_files', 0), ledger=c.get('ledger_records', 0), runs=c.get('run_folders', 0)))
        for p in rep.problems:
            if p.repaired:
                out.print(_("repaired: {path}: {problem}; {repaired}").format(path=escape(p.path), problem=escape(shown(p.problem)), repaired=escape(shown(p.repaired))))
        for note in rep.notes:
            out.print(_("note: {note}").format(note=escape(shown(note))))
        if not rep.unrepaired:
            out.print(_("ok: no problems") if not rep.problems else _("ok: every problem repaired"))
    err = stderr_console()
    for p in rep.unrepaired:
        err.print(_("[bold red]problem:[/] {path}: {problem}").format(path=escape(p.path), problem=escape(shown(p.problem))))
    if rep.unrepaired:
        raise typer.Exit(2)
