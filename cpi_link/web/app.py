"""The officer's desk (SPEC 4.7): the monthly work as four pages over the same engine as the CLI.

Every route is as thin as a CLI command: it reads the form, calls the jobs/outputs functions the
commands call, and renders what they return. No calculation, check or message lives here.
Security: the per-start token (then a cookie) on every request, a CSRF token on every POST, the
Host header checked (no DNS rebinding), uploads capped and kept under home (0600), IDs masked.
"""

from __future__ import annotations

import hmac
import io
import logging
import os
import re
import secrets
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from flask import Flask, abort, redirect, render_template, request, send_file, url_for

from cpi_link.core.errors import CpiLinkError, UsageError, error_text, system_error
from cpi_link.core.i18n import _, current_language, pgettext, set_language, translate
from cpi_link.core.times import beijing as beijing_time
from cpi_link.core.paths import Home, private_dir
from cpi_link.core.privacy import mask_digits, mask_id
from cpi_link.web import checks
from cpi_link.web.tasks import Task, Tasks

log = logging.getLogger("cpi_link.web")

UPLOAD_SUFFIXES = {".csv", ".txt", ".xlsx", ".xlsm", ".xls", ".ods", ".parquet"}
REGIONS = ("140000", "000000")  # the figures page: Shanxi and the whole country
LANG_COOKIE = "cpi_link_lang"


@dataclass
class Desk:
    """One start of `cpi-link serve`: where it works, its secrets, and the work under way."""

    home: Home
    config_dir: Path
    token: str
    port: int
    upload_max: int
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    reveal_key: bytes = field(default_factory=lambda: secrets.token_bytes(32))  # signs the rows a page may reveal
    checks: dict = field(default_factory=dict)  # month -> the check under way (its task); finished ones are on disk (web.checks)
    notes: dict = field(default_factory=dict)  # page -> the outcome of its last form (shown once)
    tasks: Tasks | None = None
    standards_max: object = None  # serve --standards-max (a Decimal), for the check and the payment
    remark_check: bool = True  # serve --no-remark-check: False

    @property
    def cookie(self) -> str:
        return f"cpi_link_{self.port}"  # per port: two desks on one PC keep their own


def _same(a: str | None, b: str) -> bool:
    return a is not None and hmac.compare_digest(a.encode(), b.encode())


def describe_error(exc: BaseException) -> tuple[str, str | None]:
    """(the person's message, error id): the CLI's words for expected errors; for a bug an id, its
    traceback only in the log."""
    if isinstance(exc, CpiLinkError):
        return error_text(exc), None
    said = system_error(exc)
    if said is not None:
        return said, None
    if isinstance(exc, KeyboardInterrupt):
        return _("interrupted: stopped; outputs are whole or absent"), None
    eid = secrets.token_hex(4)
    log.error("error %s: %s", eid, type(exc).__name__, exc_info=exc)
    return _("unexpected fault (error {id}): this is a bug in cpi-link; the log holds its line").format(id=eid), eid


def _safe_name(name: str | None) -> str:
    """The uploaded file's own name (Chinese kept), without any folder: messages name it as the officer knows it."""
    base = re.split(r"[\\/]", name or "")[-1]
    base = re.sub(r"[\x00-\x1f\x7f]", "", base).strip().lstrip(".")
    return base[-120:] or "upload"


def save_upload(desk: Desk, storage, what: str) -> tuple[Path, str]:
    """An uploaded file under HOME/uploads/<random>/<its name>, 0600: (path, the name the officer gave)."""
    name = _safe_name(storage.filename)
    if Path(name).suffix.lower() not in UPLOAD_SUFFIXES:
        raise UsageError(_("{name}: not a file this page reads ({what}: CSV, XLSX, XLSM, XLS, ODS or Parquet)").format(name=name, what=what))
    folder = private_dir(desk.home.root / "uploads" / secrets.token_hex(8))
    dest = folder / name
    fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    with os.fdopen(fd, "wb") as fh:
        shutil.copyfileobj(storage.stream, fh, 1 << 20)
    return dest, name


def _scheme(desk: Desk):
    from cpi_link.rules.schemes import default_scheme, load_scheme

    return load_scheme(default_scheme(desk.config_dir), desk.config_dir)


def _standards(desk: Desk, path: Path | None):
    from cpi_link.core.paths import bundled_data_dir
    from cpi_link.rules.standards import load_standards

    if path is None:  # as calc without --standards: the bundled SAMPLE, said on the page
        return load_standards(bundled_data_dir() / "sample" / "standards.csv", sample=True)
    return load_standards(path, most=desk.standards_max)


def create_app(desk: Desk) -> Flask:
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = desk.upload_max
    desk.tasks = desk.tasks or Tasks(describe_error)
    env = app.jinja_env
    env.globals.update(_=_, lang=current_language, translate=translate, mask_id=mask_id, mask_digits=mask_digits, beijing=beijing_time, desk=desk)
    env.filters["yuan"] = lambda fen: _yuan(fen)
    env.filters["region"] = lambda code: _region(code)
    env.globals.update(status_text=_status_text, month_reason_text=_month_reason_text, reason_text=_reason_text, detail_text=_detail_text, kind_text=_kind_text,
                       category_label=_category_label, decision_reason=_decision_reason, indicator_label=_indicator_label,
                       pgettext=pgettext, place_text=_place_text)

    @app.before_request
    def guard():
        host = (request.host or "").lower()
        if host not in (f"127.0.0.1:{desk.port}", f"localhost:{desk.port}"):
            return _refuse(400, _("this page answers only at 127.0.0.1:{port}").format(port=desk.port))
        token = request.args.get("token")
        if token is not None:
            if not _same(token, desk.token):
                return _refuse(403, _("the link's token is not this start's: open the address cpi-link serve printed"))
            resp = redirect(request.path, code=303)
            resp.set_cookie(desk.cookie, desk.token, httponly=True, samesite="Strict", path="/")
            return resp
        if not _same(request.cookies.get(desk.cookie), desk.token):
            return _refuse(403, _("no access: open the address cpi-link serve printed (it carries this start's token)"))
        lang = request.args.get("lang")
        if lang in ("zh", "en"):
            resp = redirect(request.path, code=303)
            resp.set_cookie(LANG_COOKIE, lang, httponly=True, samesite="Strict", path="/")
            return resp
        set_language(request.cookies.get(LANG_COOKIE) or "zh")  # Chinese by default; one officer, one language
        if request.method == "POST":
            sent = request.headers.get("X-CSRF-Token") or request.form.get("csrf")
            if not _same(sent, desk.csrf):
                return _refuse(403, _("the form lacks this page's security token: reload the page and try again"))
        return None

    @app.after_request
    def headers(resp):
        resp.headers["X-Frame-Options"] = "DENY"
        resp.headers["X-Content-Type-Options"] = "nosniff"
        resp.headers["Referrer-Policy"] = "no-referrer"
        resp.headers["Content-Security-Policy"] = "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:"
        resp.headers.setdefault("Cache-Control", "no-store")
        return resp

    @app.errorhandler(413)
    def too_large(exc):
        set_language(request.cookies.get(LANG_COOKIE) or "zh")
        return _refuse(413, _("the upload is larger than this page accepts ({mb} MB; [web] upload_max_mb in sources.toml)").format(
            mb=desk.upload_max // 1048576))

    @app.errorhandler(404)
    def not_found(exc):
        return _refuse(404, _("no such page"))

    @app.errorhandler(405)
    def wrong_method(exc):
        return _refuse(405, _("no such page"))

    @app.errorhandler(Exception)
    def fault(exc):
        from werkzeug.exceptions import HTTPException

        if isinstance(exc, HTTPException):
            return _refuse(exc.code or 500, exc.name)
        message, eid = describe_error(exc)
        return render_template("error.html", message=message, error_id=eid), 500 if eid else 400

    def _refuse(code: int, message: str):
        return render_template("error.html", message=message, error_id=None, bare=code in (400, 403)), code

    @app.get("/")
    def index():
        return redirect(url_for("figures"), code=303)

    # -- 1. 价格数据 ---------------------------------------------------------------------------
    @app.get("/figures")
    def figures():
        from cpi_link.core.months import add_months, month_range
        from cpi_link.jobs.monthly import expected_latest_month
        from cpi_link.rules.trigger import missing_figures
        from cpi_link.store.series import SeriesStore

        sch = _scheme(desk)
        store = SeriesStore(desk.home)
        last = expected_latest_month()
        rows = []
        for m in reversed(month_range(add_months(last, -23), last)):
            vals = {(r, i): store.get(r, i, m) for r in REGIONS for i in ("cpi", "food")}
            try:
                lacks = missing_figures(sch, m, store)
            except CpiLinkError as exc:
                lacks = [error_text(exc)]
            rows.append({"month": m, "figs": vals, "lacks": lacks})
        task = desk.tasks.latest("fetch", "nbs")
        return render_template("figures.html", page="figures", rows=rows, regions=REGIONS, scheme=sch,
                               note=desk.notes.pop("figures", None), task=task, since=add_months(last, -11), until=last)

    @app.get("/figures/template")
    def figures_template():
        from cpi_link.core.months import month_range, parse_month
        from cpi_link.sources.template import write_template

        region = request.args.get("region", "140000")
        if region not in REGIONS:
            raise UsageError(_("--region {value!r} is not a 6-digit region code").format(value=region))
        months = month_range(parse_month(request.args.get("since", ""), "--since"), parse_month(request.args.get("until", ""), "--until"))
        suffix = ".csv" if request.args.get("format") == "csv" else ".xlsx"
        name = f"价格数据导入表-{region}-{months[0]}-{months[-1]}{suffix}"
        return _send_made(desk, name, lambda p: write_template(p, [region], months, ["cpi", "food"]))

    @app.post("/figures/upload")
    def figures_upload():
        from cpi_link.sources.file import read_figures_file
        from cpi_link.store.series import SeriesStore

        f = request.files.get("file")
        note: dict = {"kind": "upload"}
        try:
            if f is None or not f.filename:
                raise UsageError(_("choose the filled figures file first"))
            path, name = save_upload(desk, f, _("figures file"))
            note["name"] = name
            blank: list[int] = []
            obs = read_figures_file(path, skipped=blank, sheet=request.form.get("sheet") or None)
            desk.home.ensure()
            result = SeriesStore(desk.home).upsert(obs)
            note.update(ok=True, rows=len(obs), blank=len(blank), **result.as_dict())
        except Exception as exc:
            note.update(ok=False, error=describe_error(exc)[0])
        desk.notes["figures"] = note
        return redirect(url_for("figures"), code=303)

    @app.post("/figures/fetch")
    def figures_fetch():
        def work(t: Task):
            from cpi_link.sources import nbs
            from cpi_link.store.series import SeriesStore

            desk.home.ensure()
            outcome = nbs.fetch(desk.config_dir, desk.home, regions=None, since=None, until=None)
            return SeriesStore(desk.home).upsert(outcome.observations).as_dict() | {"rows": len(outcome.observations)}

        desk.tasks.start("fetch", "nbs", work)
        return redirect(url_for("figures"), code=303)

    # -- 2. 本月测算 ---------------------------------------------------------------------------
    def _month_arg() -> str:
        from cpi_link.core.months import parse_month

        m = request.values.get("month")
        if m:
            return parse_month(m, _("month"))
        from cpi_link.jobs.monthly import latest_complete_month
        from cpi_link.store.series import SeriesStore

        return latest_complete_month(_scheme(desk), SeriesStore(desk.home)) or _latest_month()

    @app.get("/month")
    def month():
        from cpi_link.rules.trigger import decide
        from cpi_link.store.series import SeriesStore

        m = _month_arg()
        sch = _scheme(desk)
        decision = rules = None
        problem = None
        try:
            rules = sch.rules_for(m)
            decision = decide(rules, SeriesStore(desk.home)).to_json(provenance=True)
        except Exception as exc:
            problem = describe_error(exc)[0]
        check, task = _check_for(m)
        shown = _check_view(check) if check else None
        return render_template("month.html", page="month", month=m, scheme=sch, rules=rules, decision=decision, problem=problem,
                               check=check, task=task, shown=shown, note=desk.notes.pop("month", None))

    @app.post("/month/check")
    def month_check():
        from cpi_link.jobs.pipeline import calculate_month
        from cpi_link.store.series import SeriesStore

        m = _month_arg()
        try:
            rosters = [f for f in request.files.getlist("roster") if f.filename]  # several files: one roster
            if not rosters:
                raise UsageError(_("choose the roster file first"))
            if desk.tasks.running("check", m):
                return redirect(url_for("month", month=m), code=303)
            saved = [save_upload(desk, f, _("roster")) for f in rosters]
            rpaths, rname = [p for p, _n in saved], ", ".join(n for _p, n in saved)
            std = request.files.get("standards")
            spath, sname = save_upload(desk, std, _("standards")) if std is not None and std.filename else (None, None)
            from cpi_link.core.sheets import ALL_SHEETS

            sheet = ALL_SHEETS if request.form.get("all_sheets") else (request.form.get("sheet") or "").strip() or None
        except Exception as exc:
            desk.notes["month"] = {"ok": False, "error": describe_error(exc)[0]}
            return redirect(url_for("month", month=m), code=303)
        out = desk.home.root / "trials" / f"web-{secrets.token_hex(6)}"

        def work(t: Task):
            from cpi_link.calc.handle import open_roster
            from cpi_link.core.months import now_utc
            from cpi_link.jobs.ledger import Ledger
            from cpi_link.jobs.monthly import pay_month

            sch = _scheme(desk)
            std = _standards(desk, spath)
            with open_roster(rpaths, private_dir(out.parent), sheet=sheet, remark_check=desk.remark_check) as handle:  # as calc opens it
                res = calculate_month(m, handle, sch, SeriesStore(desk.home), std, desk.home, out_dir=out, progress=t.advance)
                read_sheet = handle.sheet  # the sheet as the ledger records it (the first one when none was named)
            rec = {"month": m, "roster": [str(p) for p in rpaths], "roster_name": rname, "roster_sha256": res.roster_sha256, "sheet": sheet,
                   "roster_sheet": read_sheet,
                   "standards": str(spath) if spath else None, "standards_name": sname, "standards_sha256": std.sha256,
                   "scheme": sch.name, "run_dir": str(res.run_dir), "input_rows": res.input_rows, "checked_at": now_utc(),
                   "later": []}
            paid = Ledger(desk.home).record(m)
            if paid is not None and paid.get("kind", "month") == "month":
                # a completed month: what `run` would report for this roster and these standards, nothing paid
                report = pay_month(desk.home, sch, rpaths, std, m, sheet=sheet, expect_sha256=res.roster_sha256,
                                   remark_check=desk.remark_check)
                rec["later"] = [o.to_json() for o in report.months
                                if o.month == m and o.status in ("roster_changed", "standards_changed", "revised_after_payment")]
            checks.save(desk.home, rec)
            return rec

        task, _started = desk.tasks.start("check", m, work)
        desk.checks[m] = {"task": task.id}
        return redirect(url_for("month", month=m), code=303)

    def _check_for(m: str) -> tuple[dict | None, Task | None]:
        """(the month's finished check, the check task under way or failed): a check started since this
        start is its task's; otherwise the one saved under home by an earlier start (web.checks)."""
        pending = desk.checks.get(m)
        task = desk.tasks.get(pending["task"]) if pending else None
        if task is not None and task.state != "done":
            return None, task
        return (task.result if task is not None else checks.load(desk.home, m)), task

    # -- 3. 发放 -------------------------------------------------------------------------------
    @app.get("/pay")
    def pay():
        from cpi_link.jobs.ledger import Ledger

        m = _month_arg()
        rec = Ledger(desk.home).record(m)
        check, _ctask = _check_for(m)
        shown = _check_view(check) if check else None
        task = desk.tasks.latest("pay", m)
        later = {w: desk.tasks.latest(w, m) for w in LATER}
        banks = sorted(p.stem for p in (desk.config_dir / "banks").glob("*.toml")) if (desk.config_dir / "banks").is_dir() else []
        banks.sort(key=lambda b: b != "generic-csv")  # the bundled CSV first: most banks take it
        return render_template("pay.html", page="pay", month=m, rec=rec, check=check, shown=shown, task=task, banks=banks,
                               offers=_offers(rec, check), later=later, note=desk.notes.pop("pay", None))

    def _pay_work(m: str, check: dict, **flags):
        def work(t: Task):
            from cpi_link.jobs.monthly import pay_month

            return pay_month(desk.home, _scheme(desk), [Path(p) for p in check["roster"]], _standards(desk, _path_or_none(check["standards"])), m,
                             progress=t.advance, sheet=check["sheet"], expect_sha256=check["roster_sha256"],
                             expect_standards_sha256=check["standards_sha256"], remark_check=desk.remark_check, **flags)

        return work

    @app.post("/pay")
    def pay_post():
        from cpi_link.jobs.ledger import Ledger

        m = _month_arg()
        check, _ctask = _check_for(m)
        if Ledger(desk.home).record(m) is not None:  # a reload or second tab after the payment: the ledger says it is done
            return redirect(url_for("pay", month=m), code=303)
        if check is None:
            desk.notes["pay"] = {"ok": False, "error": _("check the month's roster first (本月测算): it is paid as checked")}
            return redirect(url_for("pay", month=m), code=303)
        desk.tasks.start("pay", m, _pay_work(m, check))  # a second click joins the payment under way
        return redirect(url_for("pay", month=m), code=303)

    @app.post("/pay/<what>")
    def pay_later(what: str):
        """A supplement (补充发放) or a top-up (补发) of a completed month, as `run --supplement` /
        `run --topup` pays it: the run lock and the ledger decide, so a second click pays nothing more."""
        from cpi_link.jobs.ledger import Ledger

        if what not in LATER:
            abort(404)
        m = _month_arg()
        check, _ctask = _check_for(m)
        if check is not None and what in _offers(Ledger(desk.home).record(m), check):
            desk.tasks.start(what, m, _pay_work(m, check, **{what: True}))  # a second click joins the one under way
        return redirect(url_for("pay", month=m), code=303)

    @app.get("/download/<what>")
    def download(what: str):
        from cpi_link.jobs.ledger import Ledger
        from cpi_link.outputs.report import load_run

        m = _month_arg()
        rec = Ledger(desk.home).record(m)
        if rec is None:
            raise UsageError(_("{month} has no completed run yet: run it first (cpi-link run or calc), then supplement").format(month=m))
        run_dir, label = rec["run_dir"], ""
        wanted = request.args.get("run")
        if wanted and wanted != rec["run_id"]:  # a supplement's or top-up's own files: what that run paid
            s = next((s for s in rec.get("supplements", []) if s["run_id"] == wanted), None)
            if s is None:
                abort(404)
            run_dir, label = s["run_dir"], ("补发" if s.get("kind") == "topup" else "补充发放")
        run = load_run(run_dir)
        m = f"{m}-{label}" if label else m
        if what == "workbook":
            from cpi_link.outputs.workbook import write_workbook

            return _send_made(desk, f"{m}-发放花名册.xlsx", lambda p: write_workbook(run, p))
        if what == "bank":
            from cpi_link.outputs.bank import find_template, load_template, write_bank_file

            tpl = load_template(find_template(request.args.get("template") or "generic-csv", desk.config_dir))
            suffix = ".xlsx" if tpl.format == "xlsx" else f".{tpl.format}"
            return _send_made(desk, f"{m}-银行代发{suffix}", lambda p: write_bank_file(run, tpl, p))
        if what == "public":
            from cpi_link.outputs.bank import write_public_list

            return _send_made(desk, f"{m}-公示名单.xlsx", lambda p: write_public_list(run, p))
        if what == "rejected":
            from cpi_link.outputs.report import write_rejected_list

            return _send_made(desk, f"{m}-未发放名单.csv", lambda p: write_rejected_list(run, p))
        abort(404)

    # -- 4. 历史 -------------------------------------------------------------------------------
    @app.get("/history")
    def history():
        from cpi_link.jobs.doctor import check
        from cpi_link.jobs.ledger import Ledger, export_table
        from cpi_link.jobs.monthly import revised_after_payment
        from cpi_link.store.series import SeriesStore

        ledger = Ledger(desk.home)
        sch = _scheme(desk)
        store = SeriesStore(desk.home)
        records, revised, rules_of = [], {}, {}
        for key in reversed(ledger.keys()):
            rec = ledger.record(key)
            records.append(rec)
            if isinstance(rec.get("decision"), dict):  # the rules it was paid under (a flat scheme's amounts), not today's file
                rules_of[rec["month"]] = _paid_rules(rec)
            try:
                out = revised_after_payment(key, rec, sch, store)
            except Exception:
                out = None  # a month another scheme paid: the CLI's run with that scheme reports it
            if out is not None:
                revised[key] = out
        q = (request.args.get("q") or "").strip()
        found = []
        if q:
            t = export_table(ledger).to_pandas()
            ids = t["person_id"].astype(str)
            masked = ids.map(mask_id)
            hit = t["name"].astype(str).str.contains(q, regex=False) | (masked == q) | (ids.str[-4:] == q[-4:]) & masked.str.startswith(q[:6])
            for r in t[hit].head(200).itertuples(index=False):
                found.append({"month": r.index_month, "run_id": r.run_id, "ref": _row_ref(desk, r.run_id, r.person_id),
                              "kind": r.kind, "name": r.name, "id": mask_id(r.person_id),
                              "region": r.region_code, "category": r.category, "amount": str(r.amount), "paid_at": r.paid_at})
        doctor = check(desk.home, repair=False)
        return render_template("history.html", page="history", records=records, revised=revised, q=q, found=found, doctor=doctor,
                               rules_of=rules_of)

    @app.post("/reveal")
    def reveal():
        """One paid row's full resident ID and bank account, on the officer's explicit request: only in
        this answer (never cached), logged without them."""
        import pyarrow.compute as pc

        from cpi_link.jobs.ledger import Ledger, export_table, paid_row

        m, run_id, ref = (request.form.get(k) or "" for k in ("month", "run_id", "ref"))
        ledger = Ledger(desk.home)
        t = export_table(ledger)
        t = t.filter(pc.and_(pc.equal(t.column("index_month"), m), pc.equal(t.column("run_id"), run_id)))
        pid = next((p for p in t.column("person_id").to_pylist() if _same(ref, _row_ref(desk, run_id, p))), None)
        row = paid_row(ledger, m, run_id, pid) if pid is not None else None
        if row is None:
            abort(404)
        log.info("revealed one paid row's ID and account: month %s, run %s", m, run_id)
        resp = app.make_response(render_template("_revealed.html", row=row))
        resp.headers["Cache-Control"] = "no-store, max-age=0"
        resp.headers["Pragma"] = "no-cache"
        return resp

    # -- progress of long work -------------------------------------------------------------------
    @app.get("/task/<task_id>")
    def task_view(task_id: str):
        task = desk.tasks.get(task_id)
        if task is None:
            abort(404)
        resp = app.make_response(render_template("task.html", task=task))
        if task.state != "running":
            resp.headers["HX-Refresh"] = "true"  # the page shows the outcome in full
        return resp

    def _latest_month() -> str:
        from cpi_link.jobs.monthly import expected_latest_month

        return expected_latest_month()

    return app


LATER = ("supplement", "topup")  # what a completed month may still pay: run --supplement, run --topup


def _path_or_none(p: str | None) -> Path | None:
    return Path(p) if p else None


def _row_ref(desk: Desk, run_id: str, person_id: str) -> str:
    """A paid row's reference on the page: signed with this start's key, so the page names a row to
    reveal without carrying its ID."""
    return hmac.new(desk.reveal_key, f"{run_id}\x1f{person_id}".encode(), "sha256").hexdigest()[:32]


def _offers(rec: dict | None, check: dict | None) -> dict:
    """What the month's last check says a completed month may still pay, while the ledger has not
    paid it: {"supplement": counts} for a roster with people not yet paid, {"topup": counts} for
    standards raising amounts already paid. Each as `run` reports it (roster_changed, standards_changed)."""
    from cpi_link.jobs.monthly import paid_rosters

    if rec is None or check is None or rec.get("status") != "paid":
        return {}
    out = {}
    for o in check.get("later", []):
        if (o["status"] == "roster_changed" and o.get("not_yet_paid")
                and (check["roster_sha256"], check.get("roster_sheet")) not in paid_rosters(rec)):
            out["supplement"] = o
        if (o["status"] == "standards_changed" and o.get("difference_rows")
                and rec.get("standards_sha256") != check["standards_sha256"]):
            out["topup"] = o
    return out


def _check_view(check: dict) -> dict:
    """What the page shows of a finished check: the roster as read, totals by county and category, rejected rows."""
    from cpi_link.outputs.report import load_rejected, load_run, report_json

    run = load_run(check["run_dir"])
    rep = report_json(run)
    rej = load_rejected(run)
    entry = next((i for i in run.manifest.get("inputs", []) if i.get("role") == "roster"), {})
    rows = [{"row": int(r.row), "reason": r.reason, "detail": r.detail, "name": r.name, "id": mask_id(r.person_id),
             "file": _text_or_none(getattr(r, "file", None)), "sheet": _text_or_none(getattr(r, "sheet", None))}
            for r in rej.head(500).itertuples(index=False)]
    # each file and sheet as read (several files or every sheet: one entry each), and the sheets skipped
    sources = ([{**src, "name": Path(src["path"]).name} for src in entry["sources"]] if entry.get("sources")
               else [{**entry, "name": check["roster_name"], "rows": entry.get("rows") or check["input_rows"]}])
    skipped = []
    if entry.get("skipped_sheets"):
        from cpi_link.calc.handle import skip_text

        skipped = [{"file": Path(s["path"]).name, "sheet": s["sheet"], "why": skip_text(s["reason"])} for s in entry["skipped_sheets"]]
    return {"report": rep, "roster": entry, "sources": sources, "skipped": skipped, "rejected": rows,
            "by_file": any(r["file"] for r in rows),
            "rejected_total": len(rej), "input_rows": check["input_rows"]}


def _paid_rules(rec: dict) -> dict | None:
    """The rules a ledger record's run was paid under, as its manifest keeps them; None when its run
    folder cannot be read (doctor, on the same page, says why)."""
    from cpi_link.outputs.report import read_manifest

    try:
        return read_manifest(rec["run_dir"], verify=False).get("rules")
    except (UsageError, KeyError, TypeError):
        return None


def _text_or_none(value) -> str | None:
    """A rejected row's file or sheet: a name, or None where the column is empty (a CSV has no sheet)."""
    return value if isinstance(value, str) and value else None


def _send_made(desk: Desk, name: str, make):
    """A file made by an outputs/ writer into a private temp folder under home, sent, and removed."""
    tmp = Path(tempfile.mkdtemp(prefix=".web-", dir=private_dir(desk.home.root / "tmp")))
    try:
        p = tmp / ("out" + Path(name).suffix)
        make(p)
        made = sorted(tmp.iterdir())
        if len(made) == 1:
            data, download = made[0].read_bytes(), name
        else:  # a bank template's row limit splits the file: all parts in one zip
            import zipfile

            buf = io.BytesIO()
            with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
                for f in made:
                    z.write(f, Path(name).stem + f.name[3:])
            data, download = buf.getvalue(), Path(name).stem + ".zip"
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return send_file(io.BytesIO(data), as_attachment=True, download_name=download, max_age=0)


def _yuan(fen) -> str:
    from cpi_link.core.money import fen_to_yuan_str

    return fen_to_yuan_str(int(fen or 0))


def _region(code) -> str:
    from cpi_link.core.regions import region_label

    return region_label(str(code)) if code else ""


# the engine's words for people, imported when a page first needs them (start-up stays light)
def _status_text(status: str) -> str:
    from cpi_link.jobs.monthly import status_text

    return status_text(status)


def _month_reason_text(reason: str) -> str:
    from cpi_link.jobs.monthly import month_reason_text

    return month_reason_text(reason)


def _kind_text(kind: str | None) -> str:
    from cpi_link.jobs.monthly import kind_text

    return kind_text(kind)


def _indicator_label(ind: str) -> str:
    from cpi_link.rules.trigger import indicator_label

    return indicator_label(ind)


def _reason_text(code: str) -> str:
    from cpi_link.roster.reasons import reason_text

    return reason_text(code)


def _place_text(place) -> str:
    from cpi_link.calc.handle import place_text

    return place_text(place)


def _detail_text(detail: str) -> str:
    from cpi_link.roster.reasons import detail_text

    return mask_digits(detail_text(detail))


def _category_label(code: str) -> str:
    from cpi_link.core.categories import CATEGORY_LABELS

    return CATEGORY_LABELS.get(code, "")


def _decision_reason(d: dict, rules=None) -> str:
    from cpi_link.rules.trigger import decision_reason

    return decision_reason(d, rules)
