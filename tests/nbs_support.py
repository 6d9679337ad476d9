"""Shared pieces for the issue-22 NBS tests: a home pointed at a local server, answers built in the
portal's shape, a config with chosen [http] settings, and a dripping server (http.server in a thread)."""

from __future__ import annotations

import json
import re
import shutil
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from werkzeug import Response

from cpi_link.core.paths import Home

REPO = Path(__file__).resolve().parent.parent
CONFIG = REPO / "config"
FIX = Path(__file__).resolve().parent / "fixtures" / "nbs"
PREFIX = "/dg/website/publicrelease/web/external"
PAGE = "/dg/website/page.html"
C16, I16 = "9d4eec43537742a7ab5d63db97fa2f51", "e5c318ffdbbc4d38898e52b52267eb25"
CFOOD, IFOOD = "deccae3d6ecb4967809ab21a3c679c7f", "09373c3f8fdd428fa1b289925da6d590"
NATIONAL_FIXTURES = {C16: "esdata_cpi_2016-2020.json", CFOOD: "esdata_food.json"}


def fx(name: str) -> bytes:
    return (FIX / name).read_bytes()


def json_resp(name: str) -> Response:
    return Response(fx(name), content_type="application/json;charset=UTF-8")


def answer(cid: str, iid: str, rows: list[tuple[str, str]]) -> Response:
    """A stream/esData answer: one value item per (period code, value text), rows in the given order."""
    data = [
        {"code": code, "name": code, "values": [{"_id": iid, "value": value, "catalogid": cid, "da": "000000000000", "da_name": "全国"}]}
        for code, value in rows
    ]
    return Response(json.dumps({"data": data, "success": True, "state": 20000, "message": "成功"}),
                    content_type="application/json;charset=UTF-8")


def point_env(monkeypatch, tmp_path, base: str, *, warm_up: bool = True) -> Home:
    """The client at `base` (a local server), no pacing or backoff, no fallback."""
    monkeypatch.setenv("CPI_LINK_NBS_URL", base + PREFIX)
    monkeypatch.setenv("CPI_LINK_NBS_ALLOW_HTTP", "1")  # the local server is plain http: the explicit setting it needs
    monkeypatch.setenv("CPI_LINK_NBS_FALLBACK", "none")
    monkeypatch.setenv("CPI_LINK_NBS_MIN_GAP", "0")
    monkeypatch.setenv("CPI_LINK_NBS_BACKOFF", "0")
    monkeypatch.setenv("CPI_LINK_NBS_TRIES", "2")
    monkeypatch.setenv("CPI_LINK_NBS_TIMEOUT", "5")
    monkeypatch.setenv("CPI_LINK_NBS_WARM_UP", "1" if warm_up else "0")
    for var in ("CPI_LINK_NBS_ON_CHALLENGE", "CPI_LINK_NBS_CHALLENGE_WAIT", "CPI_LINK_NBS_MAX_BODY", "CPI_LINK_NBS_TRANSPORT", "CPI_LINK_NBS_FETCH_DEADLINE",
                "CPI_LINK_CONFIG", "HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("CPI_LINK_HOME", str(tmp_path / "home"))
    return Home(tmp_path / "home")


@pytest.fixture
def home22(tmp_path, monkeypatch, httpserver) -> Home:
    httpserver.expect_request(PAGE, method="GET").respond_with_data("<html>portal</html>", content_type="text/html")
    return point_env(monkeypatch, tmp_path, httpserver.url_for("").rstrip("/"))


def config_with(tmp_path: Path, **http: object) -> Path:
    """A config folder whose sources.toml has the given [http] values (the bundled file otherwise)."""
    d = tmp_path / "cfg"
    d.mkdir(exist_ok=True)
    text = (CONFIG / "sources.toml").read_text("utf-8")
    for key, value in http.items():
        v = json.dumps(value) if isinstance(value, str) else str(value).lower() if isinstance(value, bool) else str(value)
        text, n = re.subn(rf"(?m)^{key} = .*$", f"{key} = {v}", text, count=1)
        assert n == 1, key
    (d / "sources.toml").write_text(text, "utf-8")
    return d


def copy_config(tmp_path: Path) -> Path:
    d = tmp_path / "cfg"
    shutil.copytree(CONFIG, d, dirs_exist_ok=True)
    return d


class DripServer:
    """Answers the portal page at once; every POST drips one byte every 0.5 s, in the headers or the body."""

    def __init__(self, where: str = "body", seconds: float = 30.0):
        outer = self
        self.handled = 0

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                body = b"<html>portal</html>"
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):
                outer.handled += 1
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if where == "headers":
                    payload = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Padding: " + b"x" * 200
                else:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", "1000")
                    self.end_headers()
                    self.wfile.flush()
                    payload = b'{"data": [' + b" " * 990
                stop = time.monotonic() + seconds
                try:
                    for i in range(len(payload)):
                        if time.monotonic() > stop:
                            return
                        self.wfile.write(payload[i : i + 1])
                        self.wfile.flush()
                        time.sleep(0.5)
                except OSError:
                    return  # the client cut the connection: what the deadline does

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
