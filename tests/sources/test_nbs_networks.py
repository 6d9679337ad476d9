"""Issue 22, networks as they are: HTTP(S)_PROXY and REQUESTS_CA_BUNDLE from the environment (a
proxy on 127.0.0.1 tunnelling to a local HTTPS portal with a test CA), the system trust store
(truststore), the browser-fingerprint transport (curl-cffi; skipped when not installed)."""

from __future__ import annotations

import json
import select
import socket
import ssl
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from pytest_httpserver import HTTPServer

from cpi_link.core.errors import ConfigError, SourceUnavailable
from cpi_link.sources import nbs
from nbs_support import CONFIG, NATIONAL_FIXTURES, PAGE, PREFIX, DripServer, config_with, json_resp, point_env

trustme = pytest.importorskip("trustme")

HOST = "portal.test"  # resolved by the proxy only: every request below must go through it


class Proxy:
    """A forward proxy: absolute-URI requests answered as the portal; CONNECT tunnelled to `https_port`."""

    def __init__(self, https_port: int | None = None):
        outer = self
        self.seen: list[tuple[str, str]] = []

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def _answer(self, body: bytes, ctype: str):
                self.send_response(200)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                outer.seen.append(("GET", self.path))
                self._answer(b"<html>portal</html>", "text/html")

            def do_POST(self):
                outer.seen.append(("POST", self.path))
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self._answer(json.dumps({"data": [], "success": True, "state": 20000}).encode(), "application/json")

            def do_CONNECT(self):
                outer.seen.append(("CONNECT", self.path))
                if https_port is None or not self.path.startswith(HOST + ":"):
                    self.send_error(502)
                    return
                up = socket.create_connection(("127.0.0.1", https_port))
                self.send_response(200, "Connection Established")
                self.end_headers()
                self.wfile.flush()
                pair = [self.connection, up]
                try:
                    while True:
                        ready, _, _ = select.select(pair, [], [], 5)
                        if not ready:
                            break
                        for s in ready:
                            data = s.recv(65536)
                            if not data:
                                return
                            (up if s is self.connection else self.connection).sendall(data)
                except OSError:
                    pass
                finally:
                    up.close()
                    self.close_connection = True

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def ca():
    return trustme.CA()


@pytest.fixture
def https_portal(ca):
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(HOST).configure_cert(ctx)
    server = HTTPServer(host="127.0.0.1", port=0, ssl_context=ctx)
    server.start()
    server.expect_request(PAGE).respond_with_data("<html>portal</html>", content_type="text/html")
    server.expect_request(f"{PREFIX}/stream/esData", method="POST").respond_with_handler(
        lambda r: json_resp(NATIONAL_FIXTURES[json.loads(r.get_data())["cid"]])
    )
    yield server
    server.clear()
    if server.is_running():
        server.stop()


def _via_proxy(monkeypatch, proxy: Proxy, scheme: str):
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.setenv("HTTPS_PROXY" if scheme == "https" else "HTTP_PROXY", proxy.url)


def fetch(cfg, home):
    return nbs.fetch(cfg, home, ["000000"], "2020-11", "2020-12")


def test_http_proxy_from_the_environment_is_used(tmp_path, monkeypatch):
    proxy = Proxy()
    try:
        home = point_env(monkeypatch, tmp_path, f"http://{HOST}")
        _via_proxy(monkeypatch, proxy, "http")
        out = fetch(CONFIG, home)
    finally:
        proxy.close()
    assert out.observations == [] and out.requests == 3
    assert proxy.seen[0] == ("GET", f"http://{HOST}{PAGE}")
    assert [p for m, p in proxy.seen[1:]] == [f"http://{HOST}{PREFIX}/stream/esData"] * 2


def test_https_proxy_with_its_own_ca_needs_requests_ca_bundle(tmp_path, monkeypatch, https_portal, ca):
    proxy = Proxy(https_portal.port)
    try:
        home = point_env(monkeypatch, tmp_path, f"https://{HOST}")
        _via_proxy(monkeypatch, proxy, "https")
        monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
        monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
        with pytest.raises(SourceUnavailable) as ei:
            fetch(CONFIG, home)
        assert "TLS/SSL handshake failed" in ei.value.message and "REQUESTS_CA_BUNDLE" in ei.value.message
        assert ei.value.exit_status == 3

        bundle = tmp_path / "proxy-ca.pem"
        ca.cert_pem.write_to_path(str(bundle))
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
        out = fetch(CONFIG, home)
    finally:
        proxy.close()
    assert len(out.observations) == 4
    assert ("CONNECT", f"{HOST}:443") in proxy.seen


def test_the_session_trusts_the_environment(tmp_path):
    t = nbs.Transport(nbs.HttpSettings(), None)
    assert t.session.trust_env is True  # HTTPS_PROXY, NO_PROXY, REQUESTS_CA_BUNDLE, .netrc
    t.close()


def test_system_trust_store_option(tmp_path, monkeypatch, https_portal, ca):
    truststore = pytest.importorskip("truststore")
    t = nbs.Transport(nbs.HttpSettings(trust_store="system"), None)
    ctx = t.session.get_adapter("https://x").poolmanager.connection_pool_kw["ssl_context"]
    assert isinstance(ctx, truststore.SSLContext)
    t.close()
    # the proxy's CA given as a file is trusted on top of the system's (what an officer's IT installs)
    proxy = Proxy(https_portal.port)
    try:
        home = point_env(monkeypatch, tmp_path, f"https://{HOST}")
        _via_proxy(monkeypatch, proxy, "https")
        bundle = tmp_path / "proxy-ca.pem"
        ca.cert_pem.write_to_path(str(bundle))
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
        out = fetch(config_with(tmp_path, trust_store="system"), home)
    finally:
        proxy.close()
    assert len(out.observations) == 4


def test_system_trust_store_without_the_package_is_a_config_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "truststore", None)  # import fails as if not installed
    with pytest.raises(ConfigError, match=r"pip install 'cpi-link\[truststore\]'"):
        nbs.Transport(nbs.HttpSettings(trust_store="system"), None)


def test_impersonate_without_curl_cffi_is_a_config_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "curl_cffi", None)
    with pytest.raises(ConfigError, match=r"pip install 'cpi-link\[impersonate\]'"):
        nbs.Transport(nbs.HttpSettings(transport="impersonate"), None)


def test_a_bad_transport_name_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="http.transport.*'requests' or 'impersonate'"):
        nbs.load_sources(config_with(tmp_path, transport="chrome"), env={})


def test_impersonating_transport_fetches_and_keeps_the_bounds(tmp_path, monkeypatch, httpserver):
    pytest.importorskip("curl_cffi")
    httpserver.expect_request(PAGE).respond_with_data("<html>portal</html>", content_type="text/html")
    httpserver.expect_request(f"{PREFIX}/stream/esData", method="POST").respond_with_handler(
        lambda r: json_resp(NATIONAL_FIXTURES[json.loads(r.get_data())["cid"]])
    )
    home = point_env(monkeypatch, tmp_path, httpserver.url_for("").rstrip("/"))
    monkeypatch.setenv("CPI_LINK_NBS_TRANSPORT", "impersonate")
    out = fetch(CONFIG, home)
    assert len(out.observations) == 4 and out.requests == 3
    assert "Chrome" in httpserver.log[1][0].headers["User-Agent"]  # the impersonated browser's own

    with DripServer("body") as drip:
        home = point_env(monkeypatch, tmp_path / "d", drip.base)
        monkeypatch.setenv("CPI_LINK_NBS_TRANSPORT", "impersonate")
        monkeypatch.setenv("CPI_LINK_NBS_TIMEOUT", "2")
        monkeypatch.setenv("CPI_LINK_NBS_TRIES", "1")
        # the message names the deadline: a drip left to run its 30 s would end in another error
        with pytest.raises(SourceUnavailable, match="no complete answer within 2s"):
            fetch(CONFIG, home)


def test_sources_show_prints_the_network_settings_without_a_proxy_password(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from cpi_link.cli import app

    point_env(monkeypatch, tmp_path, "http://127.0.0.1:9")
    monkeypatch.setenv("HTTPS_PROXY", "http://officer:s3cret@proxy.example:8080")
    r = CliRunner().invoke(app, ["sources", "show", "--format", "json"], catch_exceptions=False)
    assert r.exit_code == 0, r.stderr
    net = json.loads(r.stdout)["network"]
    assert net["https_proxy"] == "http://***@proxy.example:8080" and "s3cret" not in r.stdout
    assert net["transport"] == "requests" and net["on_challenge"] == "stop" and net["max_body_bytes"] == 4194304


def test_a_redirect_from_https_to_plain_http_is_refused_without_the_setting(tmp_path, monkeypatch, ca):
    """Issue 30: the https portal answering 307 to the same host over plain http: not followed (exit 3,
    the target named, nothing stored) unless [http] allow_http is set."""
    from werkzeug import Response

    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(HOST).configure_cert(ctx)
    server = HTTPServer(host="127.0.0.1", port=0, ssl_context=ctx)
    server.start()
    target = f"http://{HOST}{PREFIX}/stream/esData"
    server.expect_request(PAGE).respond_with_data("<html>portal</html>", content_type="text/html")
    server.expect_request(f"{PREFIX}/stream/esData", method="POST").respond_with_response(
        Response(status=307, headers={"Location": target}))
    proxy = Proxy(server.port)
    try:
        home = point_env(monkeypatch, tmp_path, f"https://{HOST}")
        monkeypatch.delenv("CPI_LINK_NBS_ALLOW_HTTP")  # an https portal needs no setting; its redirect to http does
        _via_proxy(monkeypatch, proxy, "https")
        bundle = tmp_path / "ca.pem"
        ca.cert_pem.write_to_path(str(bundle))
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
        with pytest.raises(SourceUnavailable) as ei:
            fetch(CONFIG, home)
    finally:
        proxy.close()
        server.clear()
        server.stop()
    assert ei.value.exit_status == 3
    assert "from https to plain http" in ei.value.message and target in ei.value.message
    assert not [m for m, p in proxy.seen if m != "CONNECT"]  # nothing asked over plain http
    assert not (home.store_dir / "observations.parquet").exists()
