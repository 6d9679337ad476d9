"""The cpi-link command line: a thin layer over the cpi_link modules.

Heavy libraries (pandas, pyarrow) are imported inside commands so `cpi-link --help` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from cpi_link import __version__
from cpi_link.cli.common import State
from cpi_link.cli.lang import LangGroup
from cpi_link.core.i18n import _

app = typer.Typer(
    name="cpi-link",
    help=_(
        "Run the price-subsidy linkage mechanism (社会救助和保障标准与物价上涨挂钩联动机制): "
        "fetch CPI figures, decide whether the mechanism starts, compute audited subsidies."
    ),
    cls=LangGroup,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool):
    if value:
        typer.echo(f"cpi-link {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    home: Optional[Path] = typer.Option(
        None, "--home", envvar="CPI_LINK_HOME", help=_("Home directory for the store, runs, ledger and logs.")
    ),
    config: Optional[Path] = typer.Option(
        None, "--config", envvar="CPI_LINK_CONFIG", help=_("Config directory (schemes, sources) Default: the bundled config.")
    ),
    debug: bool = typer.Option(False, "--debug", help=_("Show tracebacks for unexpected faults.")),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help=_("Print the version and exit.")),
    lang: Optional[str] = typer.Option(
        None, "--lang", metavar="zh|en", help=_("Language for people: zh (中文) or en. Default: env CPI_LINK_LANG, else the locale (LANG=zh_CN...), else en.")
    ),
):
    ctx.obj = State(home_option=home, config_option=config, debug=debug)


from cpi_link.cli import fetch as _fetch  # noqa: E402

_fetch.register(app)
from cpi_link.cli import sources as _sources; _sources.register(app)  # noqa: E402,E702
from cpi_link.cli import trigger as _trigger; _trigger.register(app)  # noqa: E402,E702
from cpi_link.cli import calc as _calc; _calc.register(app)  # noqa: E402,E702
from cpi_link.cli import run as _run; _run.register(app)  # noqa: E402,E702
from cpi_link.cli import oneoff as _oneoff; _oneoff.register(app)  # noqa: E402,E702
from cpi_link.cli import report as _report; _report.register(app)  # noqa: E402,E702
from cpi_link.cli import doctor as _doctor; _doctor.register(app)  # noqa: E402,E702


def main() -> None:
    from cpi_link.cli import procenv

    procenv.tune()  # before numpy/pyarrow load: allocator and thread settings (speed only)
    procenv.COMMAND_LINE_PROCESS = True  # one command, then the process ends (procenv.without_pandas)
    try:
        app()
    except SystemExit as exc:
        _leave(exc.code)
    _leave(0)


def _leave(code) -> None:
    """Exit without the interpreter's teardown, which spent 0.1-0.15 s freeing pandas, pyarrow and
    a calc's gigabyte of buffers. Every output was written atomically and closed by then; the
    standard streams and log files are flushed here. (An unexpected error is not caught: it
    leaves the usual way, with its traceback.)"""
    import logging
    import os
    import sys

    if isinstance(code, str):  # SystemExit("message"): printed, status 1
        print(code, file=sys.stderr)
        code = 1
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe: nothing more can be said
            pass
    os._exit(0 if code is None else int(code))
