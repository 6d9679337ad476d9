"""`cpi-link ledger export --out PATH.parquet`: every paid row of the ledger, for analysts."""

from __future__ import annotations

from pathlib import Path

import typer

from cpi_link.cli.common import FORMAT_HELP, Format, emit_json, handle_errors, state, stdout_console
from cpi_link.core.i18n import _

ledger_app = typer.Typer(help=_("The ledger of what was paid: export it for analysis."), no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(ledger_app, name="ledger")


@ledger_app.command("export")
@handle_errors
def export(
    ctx: typer.Context,
    out: Path = typer.Option(..., "--out", help=_("The Parquet file to write (index_month, run_id, kind, person_id, name, "
                             "region_code, category, amount, paid_at); replaced whole if it exists.")),
    fmt: Format = typer.Option(Format.table, "--format", help=FORMAT_HELP),
):
    """Write every paid row of every completed month, supplement and top-up (kind = month|supplement|topup)."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from cpi_link.core.atomic import atomic_path
    from cpi_link.core.errors import UsageError
    from cpi_link.core.money import fen_to_yuan_str
    from cpi_link.jobs.ledger import Ledger, export_table

    if out.suffix.lower() != ".parquet":
        raise UsageError(_("--out {path}: give a .parquet file").format(path=out))
    if out.is_dir():
        raise UsageError(_("--out {path} is a folder; give a .parquet file").format(path=out))
    t = export_table(Ledger(state(ctx).home))
    with atomic_path(out) as tmp:
        pq.write_table(t, tmp, compression="zstd")
    total = pc.sum(t.column("amount")).as_py() if t.num_rows else 0
    fen = int((total or 0) * 100)
    summary = {"out": str(out), "rows": t.num_rows, "months": len(set(t.column("index_month").to_pylist())),
               "total_amount": fen_to_yuan_str(fen)}
    if fmt is Format.json:
        emit_json(summary)
    else:
        stdout_console().print(_("wrote {rows} paid rows of {months} months ({total} yuan) to {path}").format(
            rows=f"{summary['rows']:,}", months=summary["months"], total=summary["total_amount"], path=out))
