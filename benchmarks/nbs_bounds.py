"""The NBS client's bounds, case by case: each case is one real `cpi-link fetch` process against a
local server on 127.0.0.1; prints exit code, wall time, peak resident memory and the message.

    .venv/bin/python benchmarks/nbs_bounds.py
"""

from __future__ import annotations

import gzip
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from pytest_httpserver import HTTPServer  # noqa: E402
from werkzeug import Response  # noqa: E402

from nbs_support import C16, CFOOD, I16, IFOOD, NATIONAL_FIXTURES, PAGE, PREFIX, DripServer, answer, json_resp  # noqa: E402

MiB = 1024 * 1024
WRAP = (
    "import resource, sys\nfrom cpi_link.cli import app\n"
    "sys.argv = ['cpi-link', 'fetch', '--region', '000000', '--since', '2020-11', '--until', '2020-12']\n"
    "try:\n    app()\nfinally:\n    print('MAXRSS_KB', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\n"
)


def run(base: str, **env) -> tuple[int, float, int, str]:
    with tempfile.TemporaryDirectory() as home:
        e = {**os.environ, "CPI_LINK_NBS_URL": base + PREFIX, "CPI_LINK_NBS_ALLOW_HTTP": "1", "CPI_LINK_HOME": home, "CPI_LINK_NBS_MIN_GAP": "0",
             "CPI_LINK_NBS_BACKOFF": "0", "NO_COLOR": "1", "COLUMNS": "400", **env}
        e.pop("CPI_LINK_CONFIG", None)
        t0 = time.monotonic()
        p = subprocess.run([sys.executable, "-c", WRAP], env=e, capture_output=True, text=True, timeout=300)
        wall = time.monotonic() - t0
        err, _, rss = p.stderr.rpartition("MAXRSS_KB")
        out = p.stdout.strip().splitlines()
        line = (err.strip().splitlines() or [" | ".join(x.strip() for x in out[:2])])[-1]
        return p.returncode, wall, int(rss.split()[0]) // 1024, line


def main() -> None:
    import logging

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    bomb = gzip.compress(b" " * (16 * MiB), compresslevel=9) * 100
    cases = []

    def es(handler):
        def setup(srv: HTTPServer):
            srv.expect_request(f"{PREFIX}/stream/esData", method="POST").respond_with_handler(handler)
        return setup

    def normal(r):
        return json_resp(NATIONAL_FIXTURES[json.loads(r.get_data())["cid"]])

    def rows(cpi):
        return lambda r: answer(C16, I16, cpi) if json.loads(r.get_data())["cid"] == C16 else answer(
            CFOOD, IFOOD, [("202012MM", "101.2"), ("202011MM", "98.0")])

    def declared(r):
        resp = Response(iter([b" " * MiB] * 100), content_type="application/json")
        resp.headers["Content-Length"] = str(100 * MiB)
        return resp

    waf = (Path(__file__).resolve().parent.parent / "tests/fixtures/nbs/waf_challenge.html").read_bytes()

    def challenge(retry_after=None):
        h = {"wzws-ray": "1", **({"Retry-After": retry_after} if retry_after else {})}
        return lambda r: Response(waf, headers=h, content_type="text/html")

    def cookie307(r):
        if r.cookies.get("wzws_cid") != "warm":
            return Response("", status=307, headers={"Location": r.url})
        return normal(r)

    cases += [
        ("normal answer (stored as before)", es(normal), {}),
        ("gzip bomb 1.6 MB -> 1.6 GiB", es(lambda r: Response(bomb, headers={"Content-Encoding": "gzip"}, content_type="application/json")), {}),
        ("100 MB body, Content-Length", es(declared), {}),
        ("100 MB body, chunked", es(lambda r: Response(iter([b" " * MiB] * 100), content_type="application/json")), {}),
        ("duplicate month, two values", es(rows([("202012MM", "100.2"), ("202011MM", "99.5"), ("202012MM", "100.3")])), {}),
        ("three decimals 101.355", es(rows([("202012MM", "101.355"), ("202011MM", "99.5")])), {}),
        ("impossible value 320.0", es(rows([("202012MM", "320.0"), ("202011MM", "99.5")])), {}),
        ("challenge page, no Retry-After", es(challenge()), {}),
        ("challenge page, Retry-After 600", es(challenge("600")), {}),
        ("307 without cookie, no warm-up", es(cookie307), {"CPI_LINK_NBS_WARM_UP": "0"}),
        ("307 without cookie, warm-up", es(cookie307), {}),
    ]
    print(f"{'case':36} {'exit':>4} {'wall s':>7} {'RSS MiB':>8}  message")
    for name, setup, env in cases:
        srv = HTTPServer(host="127.0.0.1", port=0)
        srv.start()
        srv.expect_request(PAGE).respond_with_response(
            Response("<html></html>", content_type="text/html", headers={"Set-Cookie": "wzws_cid=warm; Path=/"}))
        setup(srv)
        try:
            code, wall, rss, line = run(f"http://127.0.0.1:{srv.port}", **env)
        finally:
            srv.stop()
        print(f"{name:36} {code:>4} {wall:>7.2f} {rss:>8}  {line[:160]}")
    for where, tries in (("body", "1"), ("headers", "1"), ("body", "3")):
        with DripServer(where) as drip:
            code, wall, rss, line = run(drip.base, CPI_LINK_NBS_TIMEOUT="2", CPI_LINK_NBS_TRIES=tries)
        print(f"{f'drip in {where}, deadline 2 s, {tries} tries':36} {code:>4} {wall:>7.2f} {rss:>8}  {line[:160]}")
    print(f"(this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024} MiB)")


if __name__ == "__main__":
    main()
