"""Errors in CONFIG/sources.toml and in the CPI_LINK_NBS_* settings over it (issue 34): said in the
reader's language, naming the file and the key, or the environment variable that set the value."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from cpi_link.core.errors import ConfigError
from cpi_link.core.i18n import language
from cpi_link.core.paths import bundled_config_dir
from cpi_link.sources import nbs

BUNDLED = (bundled_config_dir() / "sources.toml").read_text("utf-8")
NO_ENV = {var: "" for var in ("CPI_LINK_NBS_URL", "CPI_LINK_NBS_LEGACY_URL", "CPI_LINK_NBS_FALLBACK", *nbs.ENV_HTTP.values())}


def _squash(text: str) -> str:
    return "".join(text.split())  # a long path may wrap the line anywhere


def _config(tmp_path, old: str, new: str):
    assert old in BUNDLED
    cfg = tmp_path / "cfg"
    cfg.mkdir(exist_ok=True)
    (cfg / "sources.toml").write_text(BUNDLED.replace(old, new, 1), "utf-8")
    return cfg


def _said(cfg, lang: str, env=None) -> str:
    with language(lang), pytest.raises(ConfigError) as err:
        nbs.load_sources(cfg, env={**NO_ENV, **(env or {})})
    return str(err.value)


# (what is changed in the bundled file, what follows the file's path in English, and in Chinese)
CASES = [
    ('from = "2021-01"', 'from = "2021-13"', "portal.series #3: from = '2021-13' is not YYYY-MM",
     "portal.series 第 3 项：from = '2021-13' 不是 YYYY-MM 格式"),
    ("warm_up = true ", 'warm_up = "maybe" ', "http.warm_up: 'maybe': use true or false", "http.warm_up：'maybe'：请用 true 或 false"),
    ("[http]\n", "[http]\ncolour = 1\n", "http.colour: unknown key", "http.colour：未知的键"),
    ("tries = 3 ", "tries = 0 ", "http.tries: 0: must be at least 1", "http.tries：0：至少应为 1"),
    ('transport = "requests"', 'transport = "chrome"', "http.transport: 'chrome': use 'requests' or 'impersonate'",
     "http.transport：'chrome'：请用 'requests' 或 'impersonate'"),
]


@pytest.mark.parametrize("old,new,en,zh", CASES, ids=[c[2].split(":")[0] for c in CASES])
def test_a_bad_key_is_named_with_its_file_in_the_readers_language(tmp_path, old, new, en, zh):
    cfg = _config(tmp_path, old, new)
    path = cfg / "sources.toml"
    assert _said(cfg, "zh") == f"{path}：{zh}"
    assert _said(cfg, "en") == f"{path}: {en}"


def test_a_bad_environment_setting_names_the_variable_not_the_file_as_its_source(tmp_path):
    cfg = _config(tmp_path, "[http]\n", "[http]\n")
    said = _said(cfg, "zh", {"CPI_LINK_NBS_TIMEOUT": "twenty"})
    assert said == f"环境变量 CPI_LINK_NBS_TIMEOUT（它代替 {cfg / 'sources.toml'} 中的 http.timeout_seconds）：'twenty' 不是数字", said
    said = _said(cfg, "en", {"CPI_LINK_NBS_FALLBACK": "mirror"})
    assert said == (f"environment variable CPI_LINK_NBS_FALLBACK (it stands for nbs.fallback in {cfg / 'sources.toml'}): "
                    "'mirror': use 'legacy' or 'none'"), said
    # the same key set badly in the file itself is the file's
    cfg = _config(tmp_path, "timeout_seconds = 20 ", "timeout_seconds = -5 ")
    assert _said(cfg, "zh") == f"{cfg / 'sources.toml'}：http.timeout_seconds：-5：不能为负数"


def test_a_file_that_is_not_toml_is_said_in_chinese(tmp_path):
    cfg = tmp_path / "cfg"
    cfg.mkdir()
    (cfg / "sources.toml").write_bytes(b"[http\n")
    said = _said(cfg, "zh")
    assert said.startswith(f"{cfg / 'sources.toml'}：不是有效的 TOML（"), said
    (cfg / "sources.toml").write_bytes("[nbs]\nfallback = '无'\n".encode("gb18030"))
    assert _said(cfg, "zh") == f"{cfg / 'sources.toml'}：不是 UTF-8 文本；请另存为 UTF-8"
    assert _said(cfg, "en") == f"{cfg / 'sources.toml'}: not UTF-8 text; save it as UTF-8"


def _cpi_link(args, env) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("CPI_LINK_", "LC_", "LANG"))}
    return subprocess.run([sys.executable, "-m", "cpi_link", *map(str, args)], env={**base, "COLUMNS": "200", **env},
                          capture_output=True, text=True, encoding="utf-8", timeout=120)


def test_the_command_line_says_it_in_the_locales_language_exit_2(tmp_path):
    """A real process: LANG=zh_CN.UTF-8 shows the Chinese message naming the file and key, exit 2, no
    traceback; LANG=C shows the English one; the environment variable's value is named as its own."""
    cfg = _config(tmp_path, 'fallback = "none"', 'fallback = "sometimes"')
    home = tmp_path / "home"
    r = _cpi_link(["--config", cfg, "sources", "show"], {"CPI_LINK_HOME": str(home), "LANG": "zh_CN.UTF-8"})
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert _squash(f"{cfg / 'sources.toml'}：nbs.fallback：'sometimes'：请用 'legacy' 或 'none'") in _squash(r.stderr), r.stderr
    r = _cpi_link(["--config", cfg, "sources", "show"], {"CPI_LINK_HOME": str(home), "LANG": "C.UTF-8"})
    assert r.returncode == 2
    assert _squash(f"{cfg / 'sources.toml'}: nbs.fallback: 'sometimes': use 'legacy' or 'none'") in _squash(r.stderr), r.stderr
    cfg = _config(tmp_path, 'fallback = "none"', 'fallback = "none"')
    r = _cpi_link(["--lang", "zh", "--config", cfg, "sources", "show"], {"CPI_LINK_HOME": str(home), "CPI_LINK_NBS_TRIES": "lots"})
    assert r.returncode == 2, r.stderr
    assert _squash("环境变量 CPI_LINK_NBS_TRIES（它代替") in _squash(r.stderr) and _squash("'lots' 不是数字") in _squash(r.stderr), r.stderr


def test_default_scheme_is_a_key_of_the_sources_file(tmp_path):
    """default_scheme (the scheme without --scheme) made the NBS reader refuse the whole file as an unknown key."""
    cfg = _config(tmp_path, "[nbs]\n", 'default_scheme = "national"\n\n[nbs]\n')
    assert nbs.load_sources(cfg, env=NO_ENV).fallback == "none"
    cfg = _config(tmp_path, "[nbs]\n", "colour = 1\n\n[nbs]\n")
    assert _said(cfg, "zh").endswith("colour：未知的键；可用的键为 default_scheme, http, legacy, nbs, portal, regions, web")
