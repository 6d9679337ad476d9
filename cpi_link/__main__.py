"""The `cpi-link` program's first code: SIGTERM and Ctrl-C are exit 130 from the first instant (before
the command's own handler is in place nothing has been written), and closed standard streams are
replaced by /dev/null so a cron job run with `>&-` ends with its own exit code, not a traceback."""

import os
import signal
import sys


def _stopped(signum, frame):
    what = "SIGTERM" if signum == signal.SIGTERM else "Ctrl-C"
    text = f"interrupted ({what}): stopped; outputs are whole or absent"
    i18n = sys.modules.get("cpi_link.core.i18n")  # in the reader's language once the catalogs are loaded
    if i18n is not None:
        try:
            text = i18n._("interrupted ({what}): stopped; outputs are whole or absent").format(what=what)
        except Exception:
            pass
    try:
        os.write(2, (text + "\n").encode("utf-8"))
    except OSError:
        pass
    os._exit(130)


def _reopen_closed_streams() -> None:
    for fd, name in ((1, "stdout"), (2, "stderr")):
        if getattr(sys, name) is None:  # the fd was closed when Python started
            null = os.open(os.devnull, os.O_WRONLY)
            if null != fd:
                os.dup2(null, fd)
                os.close(null)
            setattr(sys, name, open(fd, "w", encoding="utf-8", closefd=False))


def console() -> None:
    signal.signal(signal.SIGTERM, _stopped)
    signal.signal(signal.SIGINT, _stopped)
    _reopen_closed_streams()
    from cpi_link.cli import console as run

    run()


if __name__ == "__main__":
    console()
