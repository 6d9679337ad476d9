"""`cpi-link template roster|standards`: the officer's blank forms."""

from __future__ import annotations

from pathlib import Path

import typer

from cpi_link.cli.common import handle_errors, stdout_console
from cpi_link.cli.lang import LangTyper
from cpi_link.core.i18n import _

OUT_HELP = _("The form to write: PATH.xlsx (with a 说明 sheet) or PATH.csv (the header row only).")


def register(app: typer.Typer) -> None:
    forms = LangTyper(no_args_is_help=True, help=_("Write the officer's blank forms: the roster and the standards."))
    forms.command("roster")(roster)
    forms.command("standards")(standards)
    app.add_typer(forms, name="template")


def _write(out: Path, form, then: str) -> None:
    from cpi_link.core.errors import UsageError
    from cpi_link.core.forms import write_form

    if out.exists():
        raise UsageError(_("--out {path}: already exists; the form is never written over a file").format(path=out))
    write_form(out, form)
    con = stdout_console()
    con.print(_("wrote {path}: the header row {header}").format(path=out, header="，".join(c.title for c in form.columns)), soft_wrap=True)
    con.print(then, soft_wrap=True)


@handle_errors
def roster(out: Path = typer.Option(..., "--out", help=OUT_HELP)):
    """Write a blank roster: 身份证号 to 银行账号 as calc reads them, IDs and accounts as text, the
    categories and 城乡 as drop-down lists."""
    from cpi_link.core.forms import roster_form

    _write(out, roster_form(), _("fill in one household a row, then: cpi-link validate --roster {path}").format(path=out))


@handle_errors
def standards(out: Path = typer.Option(..., "--out", help=OUT_HELP)):
    """Write a blank standards form: region code, effective month, urban and rural monthly 低保标准."""
    from cpi_link.core.forms import standards_form

    _write(out, standards_form(), _("fill in the 低保标准 your government published, then: cpi-link calc ... --standards {path}").format(path=out))
