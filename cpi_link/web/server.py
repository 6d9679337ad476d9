"""`cpi-link serve`: the desk's web server, on 127.0.0.1 only, with a token per start.

waitress serves it: pure Python (runs as it is on the office's Windows PC), threaded, and it
buffers a request body whole before the page sees it, so a slow upload never holds a thread.
"""

from __future__ import annotations

import logging
import os
import secrets
import signal
import tempfile
import tomllib
from pathlib import Path
from typing import Callable

from cpi_link.core.errors import UsageError
from cpi_link.core.i18n import _
from cpi_link.core.paths import Home, private_dir

LOOPBACK = ("127.0.0.1", "localhost")
DEFAULT_UPLOAD_MB = 200


def check_host(host: str) -> None:
    """A single-user local page: any other address (the office network) is refused, exit 2."""
    if host.strip().lower() not in LOOPBACK:
        raise UsageError(_("--host {host}: the page is for this computer only and binds 127.0.0.1; another address is refused").format(host=host))


def upload_max(config_dir: Path) -> int:
    """The upload cap in bytes: [web] upload_max_mb in CONFIG/sources.toml, env CPI_LINK_WEB_UPLOAD_MAX_MB over it."""
    mb: object = DEFAULT_UPLOAD_MB
    p = Path(config_dir) / "sources.toml"
    where = _("[web] upload_max_mb in {path}").format(path=p)
    if p.is_file():
        try:
            with open(p, "rb") as fh:
                mb = tomllib.load(fh).get("web", {}).get("upload_max_mb", mb)
        except (OSError, tomllib.TOMLDecodeError, AttributeError):
            pass
    if os.environ.get("CPI_LINK_WEB_UPLOAD_MAX_MB"):
        mb = os.environ["CPI_LINK_WEB_UPLOAD_MAX_MB"]
        where = _("environment variable {var}").format(var="CPI_LINK_WEB_UPLOAD_MAX_MB")
    try:
        value = 0 if isinstance(mb, bool) else int(str(mb).strip())  # whole megabytes: a size, never a float
    except (TypeError, ValueError):
        value = 0
    if not 0 < value <= 4096:
        raise UsageError(_("{where} = {value!r}: give a whole number of megabytes from 1 to 4096").format(where=where, value=mb))
    return value * 1048576


def _log_to(home: Home) -> Path:
    from cpi_link.core.privacy import MaskingFormatter

    private_dir(home.logs_dir)
    path = home.logs_dir / "web.log"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.close(fd)
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(MaskingFormatter("%(asctime)s %(levelname)s %(message)s"))
    log = logging.getLogger("cpi_link.web")
    log.handlers = [handler]
    log.setLevel(logging.INFO)
    log.propagate = False  # a payment's run log (jobs.monthly.setup_log) takes the cpi_link logger over
    return path


def serve(home: Home, config_dir: Path, host: str = "127.0.0.1", port: int = 8730, open_browser: bool = True,
          say: Callable[[str], None] = print, standards_max=None, remark_check: bool = True) -> None:
    check_host(host)
    from waitress import create_server

    from cpi_link.web.app import Desk, create_app

    cap = upload_max(config_dir)
    home.ensure()
    # request bodies and form files spill to disk under home, never to the system's temp folder
    tempfile.tempdir = str(private_dir(home.root / "tmp"))
    logfile = _log_to(home)
    desk = Desk(home=home, config_dir=Path(config_dir), token=secrets.token_urlsafe(24), port=port, upload_max=cap,
                standards_max=standards_max, remark_check=remark_check)
    app = create_app(desk)
    try:
        server = create_server(app, host="127.0.0.1", port=port, threads=6, ident="cpi-link",
                               max_request_body_size=max(2 * cap, cap + (16 << 20)), clear_untrusted_proxy_headers=True)
    except OSError as exc:
        raise UsageError(_("port {port} on 127.0.0.1: {cause}; choose another with --port").format(port=port, cause=exc.strerror or exc)) from None
    desk.port = int(server.effective_port)
    url = f"http://127.0.0.1:{desk.port}/?token={desk.token}"
    logging.getLogger("cpi_link.web").info("serving on 127.0.0.1:%d", desk.port)
    say(_("cpi-link's page for officers: {url}").format(url=url))
    say(_("(this computer only; the address carries this start's key: do not share it. Ctrl-C stops the page. Log: {log})").format(log=logfile))
    if open_browser:
        import threading
        import webbrowser

        threading.Thread(target=webbrowser.open, args=(url,), daemon=True).start()

    def stop(signum, frame):
        raise KeyboardInterrupt

    old = signal.signal(signal.SIGTERM, stop)
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, old)
        server.close()
        logging.getLogger("cpi_link.web").info("stopped")
        say(_("the page is stopped"))
