"""`cpi-link serve`: the officer's local web page (the only command that imports cpi_link.web)."""

from __future__ import annotations

import typer

from typing import Optional

from cpi_link.cli.common import REMARK_CHECK_HELP, STANDARDS_MAX_HELP, handle_errors, standards_max, state
from cpi_link.core.i18n import _


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)


@handle_errors
def serve(
    ctx: typer.Context,
    port: int = typer.Option(8730, "--port", help=_("Port on 127.0.0.1 (0: any free port).")),
    no_browser: bool = typer.Option(False, "--no-browser", help=_("Do not open the browser; only print the address.")),
    host: str = typer.Option("127.0.0.1", "--host", help=_("Only 127.0.0.1 (or localhost): the page is for this computer; another address is exit 2.")),
    standards_max_: Optional[str] = typer.Option(None, "--standards-max", help=STANDARDS_MAX_HELP + " " + _("For the page's check and payment.")),
    no_remark_check: bool = typer.Option(False, "--no-remark-check", help=REMARK_CHECK_HELP),
):
    """Start the officers' page on this computer: figures, the month's decision and roster check,
    payment through the ledger, downloads and history, in the browser. Prints its address."""
    from cpi_link.web.server import check_host, serve as run_server

    check_host(host)  # before anything else: a wrong address is refused at once
    if not 0 <= port <= 65535:  # else the socket takes the number modulo 65536: another port, said nowhere
        from cpi_link.core.errors import UsageError

        raise UsageError(_("--port {port}: a port is a number from 0 to 65535").format(port=port))
    most = standards_max(standards_max_)
    st = state(ctx)

    def say(text: str) -> None:
        print(text, flush=True)

    run_server(st.home, st.config_dir, host=host, port=port, open_browser=not no_browser, say=say, standards_max=most,
               remark_check=not no_remark_check)
