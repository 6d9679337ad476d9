"""Issue 20: the Chinese interface (SPEC 4 "Language"): catalogs complete, every message a person
reads goes through `_`, Chinese output of trigger, calc, an error and --help, English unchanged."""

from __future__ import annotations

import ast
import importlib.util
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LOCALE = ROOT / "cpi_link" / "locale"
SAMPLE = ROOT / "data" / "sample"
WIDE = {"COLUMNS": "400"}  # no wrapping inside table cells, so whole reasons can be compared

REASON_2019_11 = ("2019年11月全国居民消费价格同比上涨4.5%，食品价格同比上涨19.1%，"
                  "达到3.5%和6.0%的启动条件，按较高的食品价格涨幅19.1%计发")


def _catalogs():
    from babel.messages.pofile import read_po

    out = {}
    for path in sorted(LOCALE.glob("zh_CN/LC_MESSAGES/*.po")):
        with open(path, "rb") as f:
            out[path.stem] = read_po(f)
    return out


def _placeholders(s: str) -> set[str]:
    return set(re.findall(r"\{[^{}]*\}", s))


# -- the catalog ------------------------------------------------------------------------------


def test_every_msgid_has_a_chinese_translation():
    cats = _catalogs()
    assert set(cats) == {"cpi_link", "messages"}
    bad = []
    for domain, cat in cats.items():
        for m in cat:
            if not m.id:
                continue
            s = m.string
            if m.fuzzy or not s:
                bad.append(f"{domain}: untranslated or fuzzy: {m.id!r}")
            elif _placeholders(m.id) != _placeholders(s):
                bad.append(f"{domain}: placeholders differ: {m.id!r} -> {s!r}")
            elif m.id.count("[/]") != s.count("[/]"):
                bad.append(f"{domain}: rich markup differs: {m.id!r} -> {s!r}")
    assert not bad, "\n".join(bad)


def test_catalog_holds_every_message_of_the_code():
    """A `_()` added without `make messages` (and a translation) fails here."""
    spec = importlib.util.spec_from_file_location("i18n_catalog", ROOT / "scripts" / "i18n_catalog.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    cats = _catalogs()
    for domain, pot in (("cpi_link", mod.extract_app()), ("messages", mod.extract_toolkit())):
        have = {m.id for m in cats[domain] if m.id}
        missing = [m.id for m in pot if m.id and m.id not in have]
        assert not missing, f"{domain}: run `make messages` and translate: {missing}"


def test_the_installed_package_carries_the_compiled_catalogs():
    import cpi_link

    mo = Path(cpi_link.__file__).parent / "locale" / "zh_CN" / "LC_MESSAGES"
    assert (mo / "cpi_link.mo").is_file() and (mo / "messages.mo").is_file()


# -- every user-facing string goes through _ --------------------------------------------------

_USER_CALLS = {"print", "warn", "info", "add_column", "Table", "Typer", "Option", "Argument",
               "UsageError", "InputError", "MissingFigures", "ConfigError", "echo"}
_WORDS = re.compile(r"[A-Za-z]{2,}")
# literals that are names, not words (program name, hash name, punctuation around markup)
_ALLOWED = {"cpi-link run", "cpi-link", "sha256", "A", "B", "B - A"}


def _has_words(text: str) -> bool:
    text = re.sub(r"\[/?[a-z ]*\]", "", text)  # rich markup such as [bold]
    text = re.sub(r"--[a-z-]+", "", text)  # option names
    return bool(_WORDS.search(text)) and text.strip() not in _ALLOWED


def _bare(node) -> list[str]:
    """Literal text in an expression that is not inside a `_()` call."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("_", "N_", "ngettext"):
        return []
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in ("format", "join"):
        return _bare(node.func.value) if node.func.attr == "format" else []
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value] if _has_words(node.value) else []
    if isinstance(node, ast.JoinedStr):
        return [v.value for v in node.values if isinstance(v, ast.Constant) and _has_words(v.value)]
    if isinstance(node, ast.BinOp):
        return _bare(node.left) + _bare(node.right)
    if isinstance(node, ast.IfExp):
        return _bare(node.body) + _bare(node.orelse)
    return []


def test_no_bare_string_literals_in_messages_of_the_command_line():
    found = []
    for path in sorted((ROOT / "cpi_link" / "cli").glob("*.py")):
        source = path.read_text(encoding="utf-8")
        lines = source.splitlines()
        tree = ast.parse(source)
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if name not in _USER_CALLS or name == "info" and isinstance(node.func, ast.Attribute):  # log.info: the log file
                continue
            if "# both languages" in lines[node.lineno - 1]:
                continue
            args = [k.value for k in node.keywords if k.arg in ("help", "title")]
            if name not in ("Option", "Argument", "Typer"):
                args += node.args[:1]
            for a in args:
                for text in _bare(a):
                    found.append(f"{path.name}:{node.lineno}: {text!r}")
    assert not found, "wrap in _():\n" + "\n".join(found)


def test_the_scan_catches_a_bare_literal():
    call = ast.parse('warn(f"no figure for {x}")').body[0].value
    assert _bare(call.args[0]) == ["no figure for "]
    ok = ast.parse('warn(_("no figure for {x}").format(x=x))').body[0].value
    assert _bare(ok.args[0]) == []


# -- choosing the language --------------------------------------------------------------------


@pytest.mark.parametrize("env, lang", [
    ({}, "en"),
    ({"LANG": "zh_CN.UTF-8"}, "zh"),
    ({"LANG": "zh_CN.UTF-8", "LC_ALL": "C.UTF-8"}, "en"),  # LC_ALL first
    ({"LC_MESSAGES": "zh_TW.UTF-8", "LANG": "en_US.UTF-8"}, "zh"),
    ({"CPI_LINK_LANG": "en", "LC_ALL": "zh_CN.UTF-8"}, "en"),  # the env variable before the locale
    ({"CPI_LINK_LANG": "zh"}, "zh"),
])
def test_language_from_env(env, lang):
    from cpi_link.core.i18n import language_from_env

    assert language_from_env(env) == lang


def test_global_options_before_or_after_the_command():
    from cpi_link.cli.lang import split_globals

    assert split_globals(["trigger", "--month", "2019-11", "--lang", "zh"]) == (["trigger", "--month", "2019-11"], "zh")
    assert split_globals(["--lang=en", "trigger"]) == (["trigger"], "en")
    assert split_globals(["calc", "--home", "/h", "--debug", "--roster", "r"]) == (["--home", "/h", "--debug", "calc", "--roster", "r"], None)
    assert split_globals(["x", "--", "--lang", "zh"]) == (["x", "--", "--lang", "zh"], None)


def test_region_names():
    from cpi_link.core.regions import region_label, region_name

    assert region_name("000000") == "全国" and region_name("140000") == "山西省"
    prefectures = ["140100", "140200", "140300", "140400", "140500", "140600", "140700", "140800", "140900", "141000", "141100"]
    assert [region_name(c) for c in prefectures] == ["太原市", "大同市", "阳泉市", "长治市", "晋城市", "朔州市", "晋中市",
                                                     "运城市", "忻州市", "临汾市", "吕梁市"]
    assert region_label("140105") == "140105 小店区" and region_label("149999") == "149999"


# -- decision reasons as officers write them --------------------------------------------------


def _j(month="2019-11", cpi="4.5", food="19.1", reached=("cpi", "food"), indicator="food", rate="19.1", mult="1", region="000000"):
    return {"month": month, "region_code": region, "cpi_yoy_pct": cpi, "food_yoy_pct": food,
            "thresholds": {"cpi": "3.5", "food": "6.0"}, "reached": list(reached), "triggered": bool(reached),
            "indicator": indicator if reached else None, "rate_pct": rate if reached else None, "multiplier": mult}


def test_chinese_reasons_from_the_decision_fields():
    from cpi_link.rules.trigger import reason_zh

    assert reason_zh(_j()) == REASON_2019_11
    assert reason_zh(_j(month="2020-02", cpi="5.2", food="21.9", reached=["food"], rate="21.9", region="140000")) == (
        "2020年2月山西省食品价格同比上涨21.9%，达到6.0%的启动条件，按食品价格涨幅21.9%计发")
    assert reason_zh(_j(month="2021-03", cpi="0.4", food="-0.7", reached=[])) == (
        "2021年3月全国居民消费价格同比上涨0.4%（启动条件3.5%），食品价格同比下降0.7%（启动条件6.0%），"
        "均未达到启动条件，不启动联动机制")
    # rate fixed by the scheme on CPI although only food reached; amounts doubled this month
    assert reason_zh(_j(cpi="3.0", food="7.0", reached=["food"], indicator="cpi", rate="3.0", mult="2")) == (
        "2019年11月全国食品价格同比上涨7.0%，达到6.0%的启动条件，按方案规定的居民消费价格涨幅3.0%计发，本月补贴金额按2倍发放")


# -- the command line in Chinese --------------------------------------------------------------


def test_trigger_in_chinese(cli):
    # national 2016: 20 working days after the release; 2019-11's figures were published 2019-12-10
    # (Tue; the date on file). Working days after it: Dec 11-13 (3), 16-20 (8), 23-27 (13), 30-31 (15);
    # 2020-01-01 (Wed) is New Year's Day, skipped (no make-up day that year); Jan 2-3 (17), 6-8 (20) -> 2020-01-08
    # (weekends only would give 2020-01-07). Overdue: the deadline is long past.
    want = ["000000 全国", REASON_2019_11, "2020-01-08 前发放 已逾期", "19.1%（食品价格）"]
    for args, env in ((["--lang", "zh", "trigger"], {}), (["trigger", "--lang", "zh"], {}),
                      (["trigger"], {"CPI_LINK_LANG": "zh"}), (["trigger"], {"LANG": "zh_CN.UTF-8"})):
        cli.env.update(WIDE, **env)
        r = cli(*args, "--scheme", "national", "--month", "2019-11")
        for k in env:
            del cli.env[k]
        assert r.exit_code == 0, r.stderr
        for w in want:
            assert w in r.stdout, (args, env, w, r.stdout)
        assert "national：全国社会救助和保障标准与物价上涨挂钩联动机制（全国指数）——1 个月中 1 个月启动" in r.stdout
        assert ("2019-11 按 national-2016-1835 的发放期限：2020-01-08——已逾期：发放期限已过（数据发布后 20 个工作日；"
                "发布于 2019-12-10；已跳过法定节假日：2020-01-01（元旦））") in r.stdout


def test_json_is_the_same_in_both_languages(cli):
    args = ("trigger", "--scheme", "national", "--since", "2019-10", "--until", "2020-02", "--format", "json")
    en = cli(*args)
    zh = cli("--lang", "zh", *args)
    assert en.exit_code == zh.exit_code == 0
    assert en.stdout == zh.stdout
    assert json.loads(zh.stdout)[1]["reason"].startswith("CPI rose 4.5%")
    csv_en, csv_zh = cli(*args[:-1], "csv"), cli("--lang", "zh", *args[:-1], "csv")
    assert csv_en.stdout == csv_zh.stdout and csv_zh.stdout.startswith("month,scheme,version")


def test_calc_in_chinese(cli, tmp_path):
    cli.env.update(WIDE)
    r = cli("--lang", "zh", "calc", "--scheme", "national", "--month", "2019-11", "--roster", SAMPLE / "roster.csv",
            "--standards", SAMPLE / "standards.csv", "--out", tmp_path / "run")
    assert r.exit_code == 0, r.stderr
    lines = [x.rstrip() for x in r.stdout.splitlines()]
    # the sample roster, 2019-11 at 19.1% (food), amount = standard x 19.1% rounded to the yuan, x persons.
    # Standards in force (data/sample/standards.csv, county -> prefecture -> province): 140105 and 140100
    # use 140100's 2016 row, urban 520 -> 99.32 -> 99, rural 4400/12 = 366.67 -> 70.03 -> 70; every other
    # Shanxi code uses 140000's 2016 row (prefectures only from 2022), urban 400 -> 76.4 -> 76, rural
    # 3600/12 = 300 -> 57.3 -> 57. Paid, by file line: 2 (99), 3 (3 x 99 = 297), 4 (70), 5 140213 (76),
    # 6 (57), 10 (76), 12 special_care rural (57), 14 (2 x 76 = 152), 15 (70), 16 special_care urban (99),
    # 17 140213 (76), 18 (2 x 57 = 114), 19 (76), 20 (76), 25 lower-case x is valid (57), 26 15-digit ID (57):
    # 16 rows, 20 persons, 1509 yuan. Rejected 15: 7 categories not covered by 2016 (lines 7, 8, 9, 11, 13,
    # 21, 22), 23 check digit, 24 ID as 1.40105E+17, 27 the same person as line 2, 28 五保户, 29 no name,
    # 30 persons 0, 31 region 149999 and 32 region 610102 (unknown_region: 149999 is not on the division
    # list, and SPEC 5.3 forbids falling back to the province's standard; before issue 17 it was paid 76).
    assert lines[0] == "2019-11 000000 全国 启动：" + REASON_2019_11
    assert lines[1].startswith("表头读取：A1 身份证号 → 身份证号（person_id）；")  # every header cell accounted for (issue 27)
    assert "2019-11 价格临时补贴发放情况" in lines[2]
    assert any("│ 合计" in x and "│   16 │   20 │    1509.00 │" in x for x in lines)
    assert any("同一人重复出现（只按最高金额发放一次） (duplicate_person)" in x for x in lines)
    assert "花名册共 31 行；发放 16 行；未发放 15 行" in lines
    assert f"结果目录：{tmp_path / 'run'}" in lines
    rep = cli("--lang", "zh", "report", tmp_path / "run")
    assert rep.exit_code == 0 and "140105 小店区" in rep.stdout and "按设区市" in rep.stdout


def test_an_error_in_chinese(cli):
    r = cli("trigger", "--scheme", "national", "--month", "2030-01", "--lang", "zh")
    assert r.exit_code == 3
    assert r.stderr.strip() == ("错误：000000（全国） 2030-01 缺少居民消费价格数据、缺少食品价格数据（national-2021-1553 需要）；"
                                "请用 cpi-link fetch --source file 导入")
    assert "SPEC" not in r.stderr
    r = cli("--lang", "zh", "trigger", "--month", "2019-11", "--until", "2019-12")
    assert r.exit_code == 2 and "错误：请只用 --month 或 --since/--until 之一，不要同时使用" in r.stderr
    r = cli("--lang", "zh", "trigger", "--no-such-option")
    assert r.exit_code == 2 and "没有选项：--no-such-option" in r.stderr and "用法：" in r.stderr
    r = cli("--lang", "zh", "trigger", "--format", "xml")
    assert r.exit_code == 2 and "'--format' 的值无效：'xml' 不是 'table', 'json', 'csv' 之一。" in r.stderr
    r = cli("--lang", "zh", "calc", "--month", "2019-11")
    assert r.exit_code == 2 and "缺少选项 '--roster'。" in r.stderr


def test_the_toolkit_in_chinese_in_a_real_process(tmp_path):
    """Issue 26: typer's strings through stdlib gettext (no patched typer or click), --lang after
    the command, in a real process as an officer runs it."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k not in ("LANG", "LC_ALL", "LC_MESSAGES", "LANGUAGE", "CPI_LINK_LANG")}
    env.update(CPI_LINK_HOME=str(tmp_path / "home"), COLUMNS="200", NO_COLOR="1")
    r = subprocess.run([sys.executable, "-m", "cpi_link", "scheme", "show", "--bogus", "--lang", "zh"],
                       capture_output=True, text=True, env=env)
    assert r.returncode == 2
    assert r.stderr.startswith("用法：cpi-link scheme show [OPTIONS] {name}\n用 'cpi-link scheme show -h' 查看帮助。")
    assert "╭─ 错误" in r.stderr and "没有选项：--bogus" in r.stderr
    r = subprocess.run([sys.executable, "-m", "cpi_link", "trigger", "2019-11", "--lang", "zh"], capture_output=True, text=True, env=env)
    assert r.returncode == 2 and "多余的参数（2019-11）" in r.stderr
    r = subprocess.run([sys.executable, "-m", "cpi_link", "template", "--help"], capture_output=True, text=True,
                       env={**env, "LANG": "zh_CN.UTF-8"})
    assert r.returncode == 0 and "用法：cpi-link template [OPTIONS] COMMAND [ARGS]..." in r.stdout
    assert "显示本帮助并退出。" in r.stdout and "╭─ 命令" in r.stdout and "Usage" not in r.stdout


def test_every_command_is_made_to_speak_the_language():
    """A command made with plain typer.Typer would show English "Usage:" in a Chinese session;
    and the language comes from no patch of typer or click (issue 26)."""
    import typer.main

    from cpi_link.cli import app
    from cpi_link.cli.lang import LangCommand, LangSubGroup

    def walk(cmd, path):
        yield path, cmd
        for name, sub in getattr(cmd, "commands", {}).items():
            yield from walk(sub, f"{path} {name}")

    commands = list(walk(typer.main.get_command(app), "cpi-link"))
    assert len(commands) > 20
    wrong = [path for path, cmd in commands if not isinstance(cmd, (LangCommand, LangSubGroup))]
    assert not wrong, wrong
    for path in sorted((ROOT / "cpi_link").rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        assert "typer._click" not in text and "meta_path" not in text, path


def test_bad_lang_value(cli):
    r = cli("--lang", "fr", "trigger")
    assert r.exit_code == 2 and "--lang" in r.stderr


def test_help_in_chinese(cli):
    for args in (["--lang", "zh", "--help"], ["--help", "--lang", "zh"]):
        r = cli(*args)
        assert r.exit_code == 0
        assert "用法：" in r.stdout and "选项" in r.stdout and "命令" in r.stdout
        assert "显示本帮助并退出。" in r.stdout and "界面语言" in r.stdout
    r = cli("trigger", "--help", "--lang", "zh")
    assert "逐月判断是否启动联动机制" in r.stdout and "要判断的价格指数月份" in r.stdout and "[默认：table]" in r.stdout
    r = cli("scheme", "--help", "--lang", "zh")
    assert "查看联动方案" in r.stdout


def test_english_stays_the_default_and_nothing_leaks_between_runs(cli):
    zh = cli("--lang", "zh", "trigger", "--help")
    en = cli("trigger", "--help")
    assert "用法" in zh.stdout and "[默认：table]" in zh.stdout and "╭─ 选项" in zh.stdout
    assert "Usage:" in en.stdout and "Show this message and exit." in en.stdout and "用法" not in en.stdout
    # typer computes its panel titles and "[default: ...]" once, when it loads them: in the same
    # process, English help after Chinese help has them in English again
    assert "[default: table]" in en.stdout and "╭─ Options" in en.stdout and "默认" not in en.stdout
    zh_error, en_error = cli("--lang", "zh", "trigger", "--bogus"), cli("trigger", "--bogus")
    assert "╭─ 错误" in zh_error.stderr and "╭─ Error" in en_error.stderr and "No such option: --bogus" in en_error.stderr
    assert "Index month to decide, YYYY-MM" in en.stdout
    cli.env.update(WIDE)
    r = cli("trigger", "--scheme", "national", "--month", "2019-11")
    assert "CPI rose 4.5% and food prices rose 19.1% year on year" in r.stdout and "启动条件" not in r.stdout
    r = cli("trigger", "--scheme", "national", "--month", "2030-01")
    assert r.stderr.startswith("error: no cpi figure and no food figure for 000000 in 2030-01")
    from cpi_link.core.i18n import current_language

    assert current_language() == "en"


def test_chart_labels_from_the_catalog(home):
    from cpi_link.outputs.plot import ChartData, labels

    data = ChartData(region="140000", deciding_region=None, scheme="shanxi", title="山西", months=["2019-01", "2019-12"],
                     cpi=[], food=[], cpi_threshold=[], food_threshold=[], triggered=[])
    zh, en = labels(True, data), labels(False, data)
    assert zh["title"] == "山西\n山西省（140000）居民消费价格与食品价格同比涨幅（2019-01..2019-12）"
    assert en["title"] == "shanxi: CPI and food-price YoY, region 140000 (2019-01..2019-12)"
    assert zh["cpi_thr"] == "CPI 启动条件" and en["cpi_thr"] == "CPI threshold"


def test_reject_details_in_words():
    from cpi_link.core.i18n import language
    from cpi_link.roster import ids
    from cpi_link.roster.reasons import detail_text, reason_text

    with language("zh"):
        assert detail_text("listed twice: rows 1, 3; calc keeps the highest amount") == (
            "同一人出现两次：第 1, 3 行数据；计算时保留金额最高的一行")
        assert detail_text("persons '0' is not a whole number of at least 1") == "保障人数“0”不是大于等于 1 的整数"
        assert detail_text(f"{ids.MSG_SHAPE}; got 16 characters") == (
            "应为 17 位数字加 1 位校验码或 X（共 18 位），或 15 位旧身份证号；实际为 16 位")
        assert detail_text("check character should be 9, not 0" + ids._ZERO_HINT) == (
            "校验码应为 9，而不是 0；末尾是 0 的身份证号可能在电子表格中被当成数字保存过")
        for msg in (ids.MSG_EMPTY, ids.MSG_LOST, ids.MSG_DATE_BAD, ids.MSG_DATE_OLD, ids.MSG_DATE_FUTURE):
            assert detail_text(msg) != msg, msg  # the checks' own texts are in the catalog
        assert detail_text("something new") == "something new"
        assert reason_text("invalid_id") == "身份证号无效（位数、出生日期或校验码不对） (invalid_id)"
    with language("en"):
        assert detail_text("listed twice: rows 1, 3; calc keeps the highest amount") == (
            "listed twice: rows 1, 3; calc keeps the highest amount")
        assert reason_text("invalid_id") == "invalid_id"


def test_errors_of_lower_layers_in_chinese(cli, tmp_path):
    roster = tmp_path / "花名册.csv"
    roster.write_text("姓名,保障人数\n张三,1\n", encoding="utf-8")
    args = ("calc", "--scheme", "national", "--month", "2019-11", "--roster", roster, "--standards", SAMPLE / "standards.csv")
    zh = cli("--lang", "zh", *args)
    assert zh.exit_code == 2
    assert f"错误：{roster}：缺少必需的列 person_id" in zh.stderr and "；表头现有：姓名, 保障人数" in zh.stderr
    en = cli(*args)
    assert en.exit_code == 2 and f"error: {roster}: missing required column(s) person_id" in en.stderr
    r = cli("--lang", "zh", "trigger", "--month", "2019-13")
    assert r.exit_code == 2 and "错误：--month '2019-13' 不是实际存在的月份" in r.stderr


# -- doctor and the errors of scheme, standards and figure files -------------------------------


def _damaged_home(home: Path) -> dict:
    """A store file cut short beside its good .bak, a run output changed after the run, a killed
    run's temp folder: three things doctor reports."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    store = home / "store"
    store.mkdir(parents=True)
    obs = store / "observations.parquet"
    from cpi_link.store.series import STORE_FILES

    pq.write_table(STORE_FILES["observations.parquet"]().empty_table(), store / "observations.parquet.bak")  # the store's columns
    obs.write_bytes(b"PAR1 cut short")
    run = home / "runs" / "2024-01" / "2024-01.1"
    run.mkdir(parents=True)
    (run / "summary.parquet").write_bytes(b"changed")
    (run / "manifest.json").write_text(json.dumps({"outputs": {"summary.parquet": {"sha256": "0" * 64}}}), encoding="utf-8")
    (home / "runs" / "2024-01" / ".tmp-2024-01-abc").mkdir()
    return {"obs": obs, "summary": run / "summary.parquet"}


def test_doctor_in_chinese(cli, home):
    f = _damaged_home(home)
    r = cli("--lang", "zh", "doctor")
    assert r.exit_code == 2
    err = " ".join(r.stderr.split())  # rich wraps long lines
    assert f"问题：{f['obs']}：文件已损坏：无法作为 Parquet 文件读取（" in err
    assert "；运行 cpi-link doctor --repair 可用最近一次完好的副本 observations.parquet.bak 恢复" in err
    assert f"问题：{f['summary']}：sha256 与 manifest.json 中的不符：文件在计算完成后被改动过" in err
    out = " ".join(r.stdout.split())
    assert "说明：" in out and "中断的计算留下的临时目录（不是计算结果，可以删除）" in out
    assert not re.search(r"damaged|missing|differs|leftover", r.output)
    # scripts read the same English JSON in both languages
    en, zh = cli("doctor", "--format", "json"), cli("--lang", "zh", "doctor", "--format", "json")
    assert en.stdout == zh.stdout and "damaged: not readable Parquet (" in en.stdout
    assert "cpi-link doctor --repair restores the last good copy observations.parquet.bak" in en.stdout
    r = cli("--lang", "zh", "doctor", "--repair")
    assert r.exit_code == 2  # the changed run output has no repair
    out = " ".join(r.stdout.split())
    assert "已修复：" in out and "已用 observations.parquet.bak 恢复；损坏的文件已保留为 observations.parquet.damaged-" in out


def test_errors_of_scheme_standards_and_figure_files_in_chinese(cli, tmp_path):
    bad = tmp_path / "坏方案.toml"
    bad.write_text('scheme = "bad"\n', encoding="utf-8")
    r = cli("--lang", "zh", "trigger", "--scheme", bad, "--month", "2019-11")
    assert r.exit_code == 2 and f"错误：{bad}：键 name：必须是非空文字" in " ".join(r.stderr.split())
    r = cli("trigger", "--scheme", bad, "--month", "2019-11")
    assert r.exit_code == 2 and f"{bad}: key name: must be non-empty text" in " ".join(r.stderr.split())

    figs = tmp_path / "figs.csv"
    figs.write_text("region_code,month,indicator,value\n140000,2019-13,cpi,104.5\n", encoding="utf-8")
    r = cli("--lang", "zh", "fetch", "--source", "file", "--file", figs)
    assert r.exit_code == 2, r.output
    assert "figs.csv：第 1 行数据，字段 month：'2019-13' 不是月份（应写作 YYYY-MM）" in " ".join(r.stderr.split())

    std = tmp_path / "std.csv"
    std.write_text("region_code,effective_from,urban_monthly,rural_monthly\n140105,2019-01,-5,400\n", encoding="utf-8")
    args = ("calc", "--scheme", "national", "--month", "2019-11", "--roster", SAMPLE / "roster.csv", "--standards", std)
    r = cli("--lang", "zh", *args)
    assert r.exit_code == 2, r.output
    assert "std.csv：第 2 行（第 1 行数据），字段 urban_monthly：保障标准不能为负数（-5）" in " ".join(r.stderr.split())
    r = cli(*args)
    assert "std.csv: line 2 (data row 1), field urban_monthly: a standard cannot be negative (-5)" in " ".join(r.stderr.split())


def test_errors_of_programme_files_estimate_and_oneoff_in_chinese(cli, tmp_path):
    """Issue 34: these were English in a Chinese run."""
    cfg = tmp_path / "cfg"
    (cfg / "programmes").mkdir(parents=True)
    (cfg / "programmes" / "x.toml").write_text('programme = "x"\n', encoding="utf-8")
    r = cli("--lang", "zh", "--config", cfg, "programme", "show", "x")
    assert r.exit_code == 2 and "x.toml：缺少键 name" in " ".join(r.stderr.split()), r.stderr
    r = cli("--config", cfg, "programme", "show", "x")
    assert r.exit_code == 2 and "x.toml: missing key name" in " ".join(r.stderr.split()), r.stderr
    r = cli("--lang", "zh", "--config", cfg, "programme", "show", "nosuch")
    assert r.exit_code == 2 and "项目 'nosuch'：找不到文件" in r.stderr and "中现有的项目：x" in " ".join(r.stderr.split())
    counts = tmp_path / "counts.csv"
    counts.write_text("region_code,category,area,persons\n140105,urban_dibao,urban,10\n", encoding="utf-8")
    r = cli("--lang", "zh", "estimate", "--counts", counts, "--month", "2019-11", "--scheme", "national", "--rate", "6.123")
    assert r.exit_code == 2 and "--rate '6.123'：请给出不小于零、最多两位小数的百分数" in r.stderr, r.stderr
    r = cli("--lang", "zh", "oneoff", "--programme", "shanxi-2021-spring-festival", "--roster", SAMPLE / "roster.csv",
            "--supplement")
    assert r.exit_code == 2 and "项目 shanxi-2021-spring-festival 尚未发放：请先不带 --supplement 运行 cpi-link oneoff" in r.stderr


def test_estimate_reason_in_chinese(cli, tmp_path):
    import openpyxl

    counts = tmp_path / "人数.xlsx"
    wb = openpyxl.Workbook()
    wb.active.append(["行政区划代码", "类别", "城乡", "人数"])
    wb.active.append(["140000", "城市低保", "", 10])
    wb.active.append(["150000", "城市低保", "", 3])  # no SAMPLE standard: not costed
    wb.save(counts)
    args = ("estimate", "--counts", counts, "--month", "2019-11", "--scheme", "national", "--standards", SAMPLE / "standards.csv")
    cli.env.update(WIDE)
    r = cli("--lang", "zh", *args)
    assert r.exit_code == 0, r.output
    assert f"2019-11 000000 全国 启动：{REASON_2019_11}" in r.stdout
    assert "(unknown_region)：2019-11 没有地区 150000（或其所属市、省）适用的保障标准" in " ".join(r.stderr.split())
    en = cli(*args, "--format", "json")
    zh = cli("--lang", "zh", *args, "--format", "json")
    assert en.stdout == zh.stdout and json.loads(en.stdout)["decisions"][0]["reason"].startswith("CPI rose")
    r = cli("--lang", "zh", *args, "--rate", "5")
    assert "按 --rate 假定的涨幅 5.0% 测算，不是本月的启动判断结果" in r.stdout


def test_a_damaged_ledger_stops_a_job_in_chinese(tmp_path):
    from cpi_link.core.errors import StoreCorrupt
    from cpi_link.core.i18n import language
    from cpi_link.core.paths import Home
    from cpi_link.jobs.ledger import Ledger

    led = Ledger(Home(tmp_path))
    led.months_dir.mkdir(parents=True)
    (led.months_dir / "2024-01.json").write_text("{cut short", encoding="utf-8")
    with language("zh"), pytest.raises(StoreCorrupt) as exc:
        led.record("2024-01")
    assert exc.value.message.startswith(f"台账记录 {led.months_dir / '2024-01.json'} 已损坏；请从备份")
    with language("en"), pytest.raises(StoreCorrupt) as exc:
        led.record("2024-01")
    assert exc.value.message.startswith(f"ledger record {led.months_dir / '2024-01.json'} is damaged; restore it")


def test_a_number_option_given_a_word_is_refused_in_chinese(tmp_path):
    """A whole-number option given a word (validate --show abc) is exit 2 with the reason in Chinese:
    typer 0.29 words it as pydantic does ("Input should be a valid integer, ..."), 0.28 as click
    ("'abc' is not a valid int."); neither reached the officer in English."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k not in ("LANG", "LC_ALL", "LC_MESSAGES", "LANGUAGE", "CPI_LINK_LANG")}
    env.update(CPI_LINK_HOME=str(tmp_path / "home"), COLUMNS="200", NO_COLOR="1")
    for args in (["validate", "--columns", "--show", "abc"], ["diff", "a", "b", "--show", "1.5"]):
        r = subprocess.run([sys.executable, "-m", "cpi_link", *args, "--lang", "zh"], capture_output=True, text=True, env=env)
        assert r.returncode == 2, r.stderr
        assert "'--show' 的值无效：" in r.stderr and "不是整数" in r.stderr, r.stderr
        assert "valid int" not in r.stderr, r.stderr


def test_a_run_folder_refused_in_chinese(cli, tmp_path):
    """report and diff refusing a folder (missing, not a run folder, edited after the run) say so in
    Chinese, as every other error: these were English in a Chinese session and on the page."""
    r = cli("--lang", "zh", "report", tmp_path / "nothere")
    assert r.exit_code == 2 and f"错误：{tmp_path / 'nothere'}：没有这个计算文件夹" in r.stderr, r.stderr
    r = cli("--lang", "zh", "diff", tmp_path, tmp_path)
    assert r.exit_code == 2 and f"{tmp_path}：不是计算文件夹（没有 manifest.json" in r.stderr, r.stderr
    run = tmp_path / "run"
    run.mkdir()
    for f in ("manifest.json", "payments.parquet", "summary.parquet"):
        (run / f).write_text("{}" if f == "manifest.json" else "x", encoding="utf-8")
    (run / "manifest.json").write_text(json.dumps({"run_id": "2019-11.1", "index_month": "2019-11",
                                                   "outputs": {"payments.parquet": {"sha256": "0" * 64}}}), encoding="utf-8")
    r = cli("--lang", "zh", "report", run)
    assert r.exit_code == 2, r.stderr
    assert "计算文件夹与其 manifest 不符" in r.stderr and "payments.parquet 在计算后被修改" in r.stderr, r.stderr
    assert "缺少 summary.parquet" not in r.stderr and "summary.parquet 未列在 manifest.json 中" in r.stderr, r.stderr
    en = cli("report", run)
    assert en.exit_code == 2 and "payments.parquet was changed after the run" in en.stderr


def test_output_file_errors_in_chinese(cli, tmp_path):
    """--out not empty, --xlsx and --bank-out onto a folder, an unknown --bank template: said in
    Chinese in a Chinese session (they were English f-strings in outputs/)."""
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "a.txt").write_text("x", encoding="utf-8")
    args = ("calc", "--scheme", "national", "--month", "2019-11", "--roster", SAMPLE / "roster.csv",
            "--standards", SAMPLE / "standards.csv")
    r = cli("--lang", "zh", *args, "--out", busy)
    assert r.exit_code == 2 and f"--out {busy} 已存在且不是空文件夹" in r.stderr, r.stderr
    out = tmp_path / "run"
    assert cli(*args, "--out", out).exit_code == 0
    r = cli("--lang", "zh", "report", out, "--xlsx", busy)
    assert r.exit_code == 2 and f"--xlsx {busy} 是文件夹" in r.stderr, r.stderr
    r = cli("--lang", "zh", "report", out, "--bank", "no-such-bank", "--bank-out", tmp_path / "b.csv")
    assert r.exit_code == 2 and "--bank no-such-bank：没有这个模板" in r.stderr, r.stderr
    r = cli("--lang", "zh", "report", out, "--bank", "generic-csv", "--bank-out", busy)
    assert r.exit_code == 2 and f"--bank-out {busy} 是文件夹" in r.stderr, r.stderr


def test_household_warnings_in_chinese(cli, setup, tmp_path):
    """The household-size warning in a Chinese session: validate's table gave only its key
    (household_size) and the English detail, calc's 'N more rows with the warning household_size'
    only the key; now their words beside the key, as for reasons. Seven heads each say 保障人数 3 with one more member listed: five examples and 2 more."""
    from calc_helpers import make_id

    cfg, std = setup
    ids = [make_id("140105", f"19{50 + i}0101", f"{i + 1:03d}") for i in range(14)]
    f = tmp_path / "h.csv"
    f.write_text("身份证号,姓名,与户主关系,类别,行政区划代码,保障人数\n"
                 + "".join(f"{ids[2 * i]},户{i},户主,城市低保,140105,3\n{ids[2 * i + 1]},妻{i},妻子,城市低保,140105,\n"
                           for i in range(7)), encoding="utf-8")
    cli.env["COLUMNS"] = "400"  # the table's cells unwrapped
    v = cli("--lang", "zh", "--config", cfg, "validate", "--roster", f)
    assert v.exit_code == 0, v.stderr
    assert "members are listed" not in v.stdout and "保障人数写的是 3，但列出了 2 名成员" in v.stdout, v.stdout
    assert "保障人数与所列成员数不符 (household_size)" in v.stdout, v.stdout
    r = cli("--lang", "zh", "--config", cfg, "calc", "--month", "2024-01", "--roster", f, "--standards", std,
            "--scheme", "t", "--out", tmp_path / "o")
    assert r.exit_code == 0, r.stderr
    assert "另有 2 行有警告 保障人数与所列成员数不符 (household_size)" in r.stderr, r.stderr


def test_programme_show_says_yes_and_no(cli):
    """Issue 34: programme show printed Python's True/False for verified and example, in Chinese too."""
    cli.env.update(WIDE)
    zh = cli("--lang", "zh", "programme", "show", "shanxi-2021-spring-festival")
    assert zh.exit_code == 0, zh.stderr
    assert "已核对: 否" in zh.stdout and "示例: 是" in zh.stdout and "True" not in zh.stdout and "False" not in zh.stdout
    en = cli("--lang", "en", "programme", "show", "shanxi-2021-spring-festival")
    assert "verified: no" in en.stdout and "example: yes" in en.stdout
    rows = cli("programme", "list", "--format", "csv").stdout.splitlines()
    assert rows[0] == "programme,name,document,payment_month,method,example,verified,path"
    assert rows[1].startswith("shanxi-2021-spring-festival,") and ",fixed,true,false," in rows[1]
