"""`cpi-link ledger export --out PATH.parquet`: every paid row of the ledger, for analysts."""

from __future__ import annotations

from pathlib import Path

import typer

from cpi_link.cli.common import EncodingOption, FORMAT_HELP, Format, emit_csv, emit_json, handle_errors, state, stdout_console
from cpi_link.cli.lang import LangTyper
from cpi_link.core.i18n import _

ledger_app = LangTyper(help=_("The ledger of what was paid: export it for analysis."), no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(ledger_app, name="ledger")


@ledger_app.command("export")
@handle_errors
def export(
    ctx: typer.Context,
    out: Path = typer.Option(..., "--out", help=_("The Parquet file to write (index_month, run_id, kind, person_id, name, "
                             "region_code, category, persons, amount_per_person, amount, rate_pct, standard, scheme, "
                             "version, paid_at); replaced whole if it exists.")),
    fmt: Format = typer.Option(Format.table, "--format", help=FORMAT_HELP),
    encoding: EncodingOption = None,
):
    """Write every paid row of every completed month, supplement and top-up (kind = month|supplement|topup),
    streamed from the ledger's payment files."""
    import pyarrow.parquet as pq

    from cpi_link.core.atomic import atomic_path
    from cpi_link.core.errors import UsageError
    from cpi_link.core.money import fen_from_decimal128, fen_to_yuan_str
    from cpi_link.core.threads import prefetch
    from cpi_link.jobs.ledger import Ledger, export_batches, export_schema

    if out.suffix.lower() != ".parquet":
        raise UsageError(_("--out {path}: give a .parquet file").format(path=out))
    if out.is_dir():
        raise UsageError(_("--out {path} is a folder; give a .parquet file").format(path=out))
    rows = fen = 0
    months: set[str] = set()
    with atomic_path(out) as tmp:
        with pq.ParquetWriter(tmp, export_schema(), compression="zstd") as w:
            # the next batch read (and checked) in a thread while this one is encoded: both release the GIL
            for b in prefetch(export_batches(Ledger(state(ctx).home)), name="ledger-export-read"):
                w.write_batch(b)
                rows += b.num_rows
                fen += int(fen_from_decimal128(b.column("amount")).sum())
                if b.num_rows:
                    months.add(b.column("index_month")[0].as_py())  # one month per batch (one payment file)
    summary = {"out": str(out), "rows": rows, "months": len(months), "total_amount": fen_to_yuan_str(fen)}
    if fmt is Format.json:
        emit_json(summary)
    elif fmt is Format.csv:
        emit_csv([summary], list(summary))
    else:
        stdout_console().print(_("wrote {rows} paid rows of {months} months ({total} yuan) to {path}").format(
            rows=f"{summary['rows']:,}", months=summary["months"], total=summary["total_amount"], path=out))
