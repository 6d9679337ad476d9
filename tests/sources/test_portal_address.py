"""Issue 30: where the figures come from. A plain-http (not https) portal address needs the explicit
setting (`allow_http = true` under [http], or CPI_LINK_NBS_ALLOW_HTTP=1), else exit 2 naming it before
any request; the address that answered (after a same-host redirect) is the stored `source_ref`.
Real `cpi-link` processes against a local server."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from nbs_support import C16, CFOOD, I16, IFOOD, PAGE, PREFIX, answer, config_with, home22  # noqa: F401  (home22 is a fixture)

FETCH = ["fetch", "--region", "000000", "--since", "2020-12", "--until", "2020-12"]


def serve(httpserver, path):
    def handler(request):
        cid = json.loads(request.get_data())["cid"]
        return answer(C16, I16, [("202012MM", "100.2")]) if cid == C16 else answer(CFOOD, IFOOD, [("202012MM", "101.2")])

    httpserver.expect_request(path, method="POST").respond_with_handler(handler)


def cpi_link(*args, **env):
    e = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1", **env}
    e = {k: v for k, v in e.items() if v is not None}
    return subprocess.run([sys.executable, "-m", "cpi_link", *map(str, args)], env=e, capture_output=True, text=True, timeout=120)


def stored_refs(home):
    r = cpi_link("--home", home.root, "series", "--region", "000000", "--since", "2020-12", "--until", "2020-12",
                 "--format", "json")
    assert r.returncode == 0, r.stderr
    return {o["indicator"]: o["source_ref"] for o in json.loads(r.stdout)}


def test_a_plain_http_portal_needs_the_explicit_setting(home22, httpserver, tmp_path):
    serve(httpserver, f"{PREFIX}/stream/esData")
    url = os.environ["CPI_LINK_NBS_URL"]
    r = cpi_link("--home", home22.root, *FETCH, CPI_LINK_NBS_ALLOW_HTTP=None)
    err = " ".join(r.stderr.split())
    assert r.returncode == 2, r.stderr
    assert url in err and "plain-http (not https)" in err and "allow_http = true" in err
    assert len(httpserver.log) == 0  # refused before any request
    assert not (home22.store_dir / "observations.parquet").exists()
    # the setting in the config file (not only the environment) lets it through
    r = cpi_link("--home", home22.root, "--config", config_with(tmp_path, allow_http=True), *FETCH, CPI_LINK_NBS_ALLOW_HTTP=None)
    assert r.returncode == 0, r.stderr
    assert set(stored_refs(home22)) == {"cpi", "food"}


def test_the_address_that_answered_is_the_source_ref(home22, httpserver):
    from werkzeug import Response

    moved = "/moved/stream/esData"
    httpserver.expect_request(f"{PREFIX}/stream/esData", method="POST").respond_with_response(
        Response(status=307, headers={"Location": httpserver.url_for(moved)}))
    serve(httpserver, moved)
    r = cpi_link("--home", home22.root, *FETCH)
    assert r.returncode == 0, r.stderr
    refs = stored_refs(home22)
    assert set(refs) == {"cpi", "food"}
    for ref in refs.values():
        assert ref.startswith(f"POST {httpserver.url_for(moved)} "), ref  # not the address asked first
        assert PREFIX not in ref
