"""The cpi-link command line: a thin layer over the cpi_link modules.

Heavy libraries (pandas, pyarrow) are imported inside commands so `cpi-link --help` stays fast.
"""

from __future__ import annotations

import contextlib
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Mapping, Optional, Sequence

import typer

from cpi_link import __version__
from cpi_link.cli import procenv
from cpi_link.cli.common import State, handle_errors, state
from cpi_link.cli.lang import LangGroup, LangTyper
from cpi_link.core.i18n import _

app = LangTyper(
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
    handle_errors(_input_caps)(ctx=ctx)


def _input_caps(ctx: typer.Context) -> None:
    from cpi_link.core.inputs import configure

    configure(state(ctx).config_dir)  # the byte caps of input files (CONFIG/limits.toml)


from cpi_link.cli import fetch as _fetch  # noqa: E402

_fetch.register(app)
from cpi_link.cli import sources as _sources; _sources.register(app)  # noqa: E402,E702
from cpi_link.cli import trigger as _trigger; _trigger.register(app)  # noqa: E402,E702
from cpi_link.cli import scheme as _scheme; _scheme.register(app)  # noqa: E402,E702
from cpi_link.cli import calc as _calc; _calc.register(app)  # noqa: E402,E702
from cpi_link.cli import run as _run; _run.register(app)  # noqa: E402,E702
from cpi_link.cli import oneoff as _oneoff; _oneoff.register(app)  # noqa: E402,E702
from cpi_link.cli import report as _report; _report.register(app)  # noqa: E402,E702
from cpi_link.cli import forms as _forms; _forms.register(app)  # noqa: E402,E702
from cpi_link.cli import doctor as _doctor; _doctor.register(app)  # noqa: E402,E702
from cpi_link.cli import estimate as _estimate; _estimate.register(app)  # noqa: E402,E702
from cpi_link.cli import ledger as _ledger; _ledger.register(app)  # noqa: E402,E702
from cpi_link.cli import serve as _serve; _serve.register(app)  # noqa: E402,E702


@dataclass
class Environment:
    """What a command reads and writes besides its arguments: the environment variables and the
    standard streams. Tests pass their own (buffers, a made-up environment); the default is the
    process's."""

    environ: Mapping[str, str] = field(default_factory=lambda: os.environ)
    stdin: IO = field(default_factory=lambda: sys.stdin)
    stdout: IO = field(default_factory=lambda: sys.stdout)
    stderr: IO = field(default_factory=lambda: sys.stderr)


def main(argv: Sequence[str] | None = None, env: Environment | None = None) -> int:
    """Run one cpi-link command and return its exit code (SPEC 7)."""
    args = list(sys.argv[1:] if argv is None else argv)
    with _using(env):
        try:
            app(args=[str(a) for a in args], prog_name="cpi-link", standalone_mode=True)
        except SystemExit as exc:
            return _code(exc.code, env)
    return 0


def console() -> None:
    """The `cpi-link` program: process settings first, one command, then a quick exit."""
    procenv.tune()  # before numpy/pyarrow load: allocator and thread settings (speed only)
    procenv.leave(main())


def _code(code, env: Environment | None) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=(env or Environment()).stderr)  # SystemExit("message"): printed, status 1
    return 1


@contextlib.contextmanager
def _using(env: Environment | None):
    """The given environment and streams in place of the process's for one command."""
    if env is None:
        yield
        return
    saved = (dict(os.environ), sys.stdin, sys.stdout, sys.stderr)
    os.environ.clear()
    os.environ.update(env.environ)
    sys.stdin, sys.stdout, sys.stderr = env.stdin, env.stdout, env.stderr
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved[0])
        sys.stdin, sys.stdout, sys.stderr = saved[1:]
