"""Issue 18: paid months whose basis changed: revised figures, back-dated standards (补发), the export."""

from __future__ import annotations

import json
from decimal import Decimal

import pyarrow as pa
import pyarrow.parquet as pq

from calc_helpers import put_figures
from test_ledger import A, B, C, JAN, job, run_args, visible_runs  # noqa: F401  (job is a fixture)


def test_revised_after_payment_is_reported_then_redo_pays_the_differences_once(cli, job):
    cli.json(*run_args(job))  # 2024-01 paid at 3.6: 31 + 14 + 28 = 73
    put_figures(job["home"], "2024-01", cpi="104.0", food="101.0")  # revised to 4.0
    r = cli(*run_args(job))
    assert r.exit_code == 0, r.stderr
    out = json.loads(r.stdout)
    assert [(m["month"], m["status"], m["paid_rows"]) for m in out] == [("2024-01", "revised_after_payment", 0)]
    assert out[0]["old_decision"]["rate_pct"] == "3.6" and out[0]["new_decision"]["rate_pct"] == "4.0"
    assert out[0]["old_decision"]["figures"]["cpi"]["source"] == "file"
    assert "revised after payment" in r.stderr
    # at 4.0: A 870x4%=34.8->35 (+4 on 31), B 400x4%=16 (+2 on 14), C 770x4%=30.8->31 (+3 on 28): 9.00
    red = cli.json(*run_args(job, "--redo", "2024-01", "--reason", "NBS revised the CPI"))
    assert [(m["status"], m["paid_rows"], m["total_amount"], m["kind"]) for m in red] == [("paid", 3, "9.00", "supplement")]
    run_dir = red[0]["run_dir"]
    amounts = pq.read_table(f"{run_dir}/payments.parquet").column("amount").to_pylist()
    assert sorted(amounts) == [Decimal("2.00"), Decimal("3.00"), Decimal("4.00")]
    rec = json.loads((job["home"] / "ledger" / "months" / "2024-01.json").read_text())
    assert rec["total_fen"] == 7300 + 900 and rec["supplements"][0]["reason"] == "NBS revised the CPI"
    # paid under the revised figures now: nothing reported, nothing paid again
    assert [m["status"] for m in cli.json(*run_args(job, "--since", "2024-01"))] == ["already_done"]
    assert cli.json(*run_args(job, "--redo", "2024-01", "--reason", "again"))[0]["paid_rows"] == 0


def test_revision_downwards_lists_decreases_and_claws_nothing_back(cli, job):
    cli.json(*run_args(job))
    put_figures(job["home"], "2024-01", cpi="103.5", food="101.0")
    # at 3.5: A 870x3.5%=30.45->30 (-1), B 14 (0), C 770x3.5%=26.95->27 (-1)
    red = cli.json(*run_args(job, "--redo", "2024-01", "--reason", "revised down"))
    assert red[0]["paid_rows"] == 0 and red[0]["decrease_total"] == "-2.00"
    assert sorted(d["difference"] for d in red[0]["decreases"]) == ["-1.00", "-1.00"]
    rec = json.loads((job["home"] / "ledger" / "months" / "2024-01.json").read_text())
    assert rec["total_fen"] == 7300 and rec["supplements"] == []


BACKDATED = STANDARDS_NEW = """region_code,effective_from,urban_monthly,rural_monthly,rural_annual
140000,2020-01,500,,4800
140100,2024-01,950,620,
140105,2024-02,900,700,
140200,2023-06,770,,5000
"""


def test_backdated_standard_is_reported_then_topped_up_once(cli, job, tmp_path):
    cli.json(*run_args(job))  # 2024-01 paid: A at 870
    new = tmp_path / "std-new.csv"
    new.write_text(BACKDATED, encoding="utf-8")  # 140100 raised to 950 from 2024-01 (set in June, back-dated)
    args = [a if a != job["std"] else new for a in run_args(job)]
    r = cli(*args)
    assert r.exit_code == 0, r.stderr
    out = json.loads(r.stdout)
    # A: 950x3.6% = 34.2 -> 34, paid 31: +3; B and C unchanged
    assert [(m["month"], m["status"], m["difference_total"], m["difference_rows"]) for m in out] == [
        ("2024-01", "standards_changed", "3.00", 1)]
    assert "--topup" in r.stderr
    top = cli.json(*args, "--topup")
    assert [(m["month"], m["status"], m["paid_rows"], m["total_amount"], m["kind"]) for m in top] == [
        ("2024-01", "topup_paid", 1, "3.00", "topup")]
    t = pq.read_table(f"{top[0]['run_dir']}/payments.parquet")
    assert t.column("person_id").to_pylist() == [A] and t.column("amount").to_pylist() == [Decimal("3.00")]
    manifest = json.loads(open(f"{top[0]['run_dir']}/manifest.json").read())
    assert manifest["kind"] == "topup" and manifest["label"] == "补发 2024-01"
    import openpyxl

    xlsx = tmp_path / "topup.xlsx"
    r = cli("report", top[0]["run_dir"], "--xlsx", xlsx)
    assert r.exit_code == 0, r.stderr
    assert "补发 2024-01" in openpyxl.load_workbook(xlsx)["封面"]["A1"].value
    assert cli.json(*args, "--topup") == [] or all(m["status"] not in ("topup_paid", "standards_changed")
                                                    for m in cli.json(*args, "--topup"))
    rec = json.loads((job["home"] / "ledger" / "months" / "2024-01.json").read_text())
    assert rec["total_fen"] == 7300 + 300 and [s["kind"] for s in rec["supplements"]] == ["topup"]
    assert cli("doctor").exit_code == 0

    # the export: the month's 3 rows and the top-up's 1, every amount decimal128(18, 2)
    dest = tmp_path / "paid.parquet"
    r = cli("ledger", "export", "--out", dest, "--format", "json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["total_amount"] == "76.00"  # 73 + 3
    e = pq.read_table(dest)
    assert e.schema.names == ["index_month", "run_id", "kind", "person_id", "name", "region_code", "category", "persons",
                              "amount_per_person", "amount", "rate_pct", "standard", "scheme", "version", "paid_at"]
    month_rows = [r for r in e.to_pylist() if r["kind"] == "month"]
    assert all(r["persons"] == 1 and r["scheme"] and r["version"] and r["rate_pct"] is not None for r in month_rows)
    assert e.schema.field("amount").type == pa.decimal128(18, 2)
    rows = sorted((r["kind"], r["person_id"], r["amount"], r["region_code"]) for r in e.to_pylist())
    assert rows == sorted([("month", A, Decimal("31.00"), "140105"), ("month", B, Decimal("14.00"), "140802"),
                           ("month", C, Decimal("28.00"), "140213"), ("topup", A, Decimal("3.00"), "140105")])


def test_export_of_an_empty_ledger_is_an_empty_table(cli, tmp_path):
    dest = tmp_path / "x.parquet"
    r = cli("ledger", "export", "--out", dest)
    assert r.exit_code == 0, r.stderr
    assert pq.read_table(dest).num_rows == 0
    assert cli("ledger", "export", "--out", tmp_path / "x.csv").exit_code == 2


def test_paid_months_changed_basis_is_said_in_chinese_and_json_stays_english(cli, job, tmp_path):
    """Issue 34: a Chinese run warned "2024-01: the standards given would change amounts already paid ..." and
    "figures revised after payment ..." in English; the JSON reason stays the same English in both languages."""
    cli.json(*run_args(job))  # 2024-01 paid: A at 870
    new = tmp_path / "std-new.csv"
    new.write_text(BACKDATED, encoding="utf-8")
    args = [a if a != job["std"] else new for a in run_args(job)]
    zh, en = cli("--lang", "zh", *args), cli("--lang", "en", *args)
    assert zh.exit_code == en.exit_code == 0 and zh.stdout == en.stdout, (zh.stdout, en.stdout)
    assert json.loads(zh.stdout)[0]["reason"].startswith("2024-01: the standards given would change amounts already paid: +3.00")
    assert "2024-01：所给保障标准会改变已发放的金额：1 行增加 3.00 元" in zh.stderr and "would change" not in zh.stderr
    put_figures(job["home"], "2024-01", cpi="104.0", food="101.0")  # revised to 4.0
    zh, en = cli("--lang", "zh", *run_args(job)), cli("--lang", "en", *run_args(job))
    assert zh.stdout == en.stdout and json.loads(zh.stdout)[0]["status"] == "revised_after_payment"
    assert "2024-01：发放后数据被修订：发放时涨幅为 3.6（启动：true），数据库现在给出 4.0（启动：true）" in zh.stderr, zh.stderr
    assert "(triggered true)" in en.stderr and "revised after payment" not in zh.stderr


def test_every_month_reason_is_english_for_scripts_and_said_in_chinese(cli, job, tmp_path):
    """A Chinese run wrote "此前已完成；不会重复发放" as an already-done month's JSON reason, and the reasons of a top-up,
    a redo and a redo with nothing to pay were English (the top-up's with 补发 glued on) on the Chinese page: every
    reason is the same English in both languages, and month_reason_text says each in Chinese."""
    from cpi_link.core.i18n import language
    from cpi_link.jobs.monthly import month_reason_text

    cli.json(*run_args(job))  # 2024-01 paid at 3.6
    said = {}
    [done] = cli.json("--lang", "zh", *run_args(job, "--since", "2024-01"))
    assert (done["status"], done["reason"]) == ("already_done", "completed earlier; nobody is paid twice")
    said["done"] = done["reason"]
    new = tmp_path / "std-new.csv"
    new.write_text(BACKDATED, encoding="utf-8")
    [top] = cli.json("--lang", "zh", *[a if a != job["std"] else new for a in run_args(job)], "--topup")
    assert (top["status"], top["reason"]) == (
        "topup_paid", "differences for 2024-01 paid once (补发); decreases listed, never clawed back")
    said["top"] = top["reason"]
    put_figures(job["home"], "2024-01", cpi="104.0", food="101.0")  # revised up to 4.0: a redo pays differences
    [red] = cli.json("--lang", "zh", *run_args(job, "--redo", "2024-01", "--reason", "revised"))
    assert (red["status"], red["reason"]) == ("paid", "differences for 2024-01 paid once; decreases listed, never clawed back")
    said["redo"] = red["reason"]
    [again] = cli.json("--lang", "zh", *run_args(job, "--redo", "2024-01", "--reason", "again"))
    assert (again["status"], again["paid_rows"]) == ("already_done", 0)
    assert again["reason"] == "recomputed: no positive differences to pay; decreases are listed, never clawed back"
    said["nothing"] = again["reason"]
    with language("zh"):
        assert {k: month_reason_text(v) for k, v in said.items()} == {
            "done": "此前已完成；不会重复发放", "top": "2024-01 的差额已补发一次；减少的金额只列出，不追回",
            "redo": "2024-01 的差额已发放一次；减少的金额只列出，不追回", "nothing": "已重新计算：没有需要补发的差额；减少的金额只列出，不追回"}


def test_a_revision_to_no_rate_says_no_rate_never_none_in_both_languages(cli, job):
    """Issue 34 (review): paid at 3.6, then CPI revised to 2.0 with food 1.0 (below both thresholds 3.5 / 6.0: not
    triggered, no rate): the warning said "the store now gives None"; it says "no rate", in English for scripts and
    in Chinese on stderr."""
    cli.json(*run_args(job))  # 2024-01 paid at 3.6
    put_figures(job["home"], "2024-01", cpi="102.0", food="101.0")
    zh, en = cli("--lang", "zh", *run_args(job)), cli("--lang", "en", *run_args(job))
    assert zh.exit_code == en.exit_code == 0 and zh.stdout == en.stdout, (zh.stderr, en.stderr)
    [out] = json.loads(en.stdout)
    assert out["status"] == "revised_after_payment" and out["new_decision"]["rate_pct"] is None
    assert out["reason"].startswith("2024-01: figures revised after payment: paid under rate 3.6 (triggered true), "
                                    "the store now gives no rate (triggered false); nothing paid"), out["reason"]
    assert "None" not in out["reason"] and "None" not in en.stderr and "None" not in zh.stderr
    assert "数据库现在不给出涨幅（启动：false）" in "".join(zh.stderr.split()), zh.stderr
    assert "no rate" not in zh.stderr and "the store now gives no rate (triggered false)" in " ".join(en.stderr.split())


def test_a_decision_paid_without_a_rate_is_worded_as_such(job):
    """The other side: a month whose recorded decision has no rate (rate_pct null) and whose figures now give 3.6."""
    from cpi_link.core.i18n import language
    from cpi_link.core.paths import Home
    from cpi_link.jobs.monthly import month_reason_text, revised_after_payment
    from cpi_link.rules.schemes.file import load_scheme
    from cpi_link.store.series import SeriesStore

    scheme, store = load_scheme("t", job["cfg"]), SeriesStore(Home(job["home"]))
    rec = {"decision": {"triggered": False, "indicator": None, "rate_pct": None}, "run_dir": "r", "run_id": "x"}
    out = revised_after_payment("2024-01", rec, scheme, store)
    assert out.reason.startswith("2024-01: figures revised after payment: paid with no rate recorded (triggered false), "
                                 "the store now gives 3.6 (triggered true); nothing paid"), out.reason
    with language("zh"):
        assert month_reason_text(out.reason).startswith("2024-01：发放后数据被修订：发放时未记录涨幅（启动：false），"
                                                        "数据库现在给出 3.6（启动：true）；未发放任何款项")
    rec["decision"]["triggered"] = True  # paid (triggered) without a rate, now not triggered: no rate either side
    put_figures(job["home"], "2024-01", cpi="102.0", food="101.0")
    out = revised_after_payment("2024-01", rec, scheme, SeriesStore(Home(job["home"])))
    assert "paid with no rate recorded (triggered true), the store gives no rate either (triggered false)" in out.reason
    with language("zh"):
        assert "发放时未记录涨幅（启动：true），数据库现在也不给出涨幅（启动：false）" in month_reason_text(out.reason)
