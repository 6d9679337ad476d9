"""`cpi-link plot`: a PNG of CPI and food YoY against a scheme's thresholds, triggered months shaded.

The chart data (lines, threshold steps, decisions) is computed first by `chart_data`, with the
same engine as `cpi-link trigger` (`trigger.decide` month by month under the rules in force), and
only then drawn, so the shading can be tested without looking at pixels. matplotlib is imported
lazily with the Agg backend (no display needed).

Months whose figures are missing are not "not triggered": they are drawn hatched grey as
undecided and listed in a warning.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from cpi_link.core.i18n import _, language
from cpi_link.core.months import add_months, month_range
from cpi_link.core.regions import region_name

CJK_FAMILIES = (
    "Noto Sans CJK SC", "Noto Sans CJK", "Noto Serif CJK SC", "Source Han Sans SC", "Source Han Sans CN",
    "WenQuanYi Zen Hei", "WenQuanYi Micro Hei", "SimHei", "Microsoft YaHei", "PingFang SC", "Heiti SC",
    "STHeiti", "Songti SC", "SimSun", "AR PL UMing CN", "AR PL UKai CN", "Droid Sans Fallback", "Sarasa Gothic SC",
)


@dataclass
class ChartData:
    region: str
    deciding_region: str | None
    scheme: str
    title: str
    months: list[str]
    cpi: list[Decimal | None]
    food: list[Decimal | None]
    cpi_threshold: list[Decimal | None]
    food_threshold: list[Decimal | None]
    triggered: list[bool | None]  # None: undecided (figures missing, or no version in force)
    versions: list[str | None] = field(default_factory=list)

    def spans(self, value=True) -> list[tuple[str, str]]:
        """Runs of consecutive months whose `triggered` equals value, as (first, last) months."""
        out: list[tuple[str, str]] = []
        for m, t in zip(self.months, self.triggered):
            if t is value:
                if out and add_months(out[-1][1], 1) == m:
                    out[-1] = (out[-1][0], m)
                else:
                    out.append((m, m))
        return out


def chart_data(scheme, store, region: str | None, since: str, until: str) -> ChartData:
    from cpi_link.core.errors import ConfigError, MissingFigures
    from cpi_link.rules.trigger import decide

    months = month_range(since, until)
    last_rules = None
    try:
        last_rules = scheme.rules_for(until)
    except ConfigError:
        pass
    if region is None:
        if last_rules is None or last_rules.index_region == "prefecture":
            from cpi_link.core.errors import UsageError

            raise UsageError(_("scheme {scheme} does not name one deciding region: give --region CODE").format(scheme=scheme.name))
        region = last_rules.index_region
    cpi, food, cthr, fthr, trig, vers = [], [], [], [], [], []
    deciding = None
    for m in months:
        c = store.get(region, "cpi", m)
        f = store.get(region, "food", m)
        cpi.append(c.yoy_pct if c else None)
        food.append(f.yoy_pct if f else None)
        try:
            rules = scheme.rules_for(m)
        except ConfigError:
            cthr.append(None), fthr.append(None), trig.append(None), vers.append(None)
            continue
        cthr.append(rules.trigger.get("cpi"))
        fthr.append(rules.trigger.get("food"))
        vers.append(rules.label)
        try:
            d = decide(rules, store, region=region)
            deciding = d.region_code
            trig.append(bool(d.triggered))
        except MissingFigures:
            trig.append(None)
    return ChartData(region=region, deciding_region=deciding, scheme=scheme.name, title=scheme.title, months=months,
                     cpi=cpi, food=food, cpi_threshold=cthr, food_threshold=fthr, triggered=trig, versions=vers)


def find_cjk_font() -> str | None:
    """The family name of an installed CJK font, or None. When matplotlib's font cache knows
    none but the system has one (a font installed after the cache was built), the cache is
    rebuilt once."""
    from matplotlib import font_manager

    names = {f.name for f in font_manager.fontManager.ttflist}
    if not _has_cjk(names) and _system_has_cjk():
        font_manager.fontManager = font_manager._load_fontmanager(try_read_cache=False)
        names = {f.name for f in font_manager.fontManager.ttflist}
    for fam in CJK_FAMILIES:
        if fam in names:
            return fam
    for n in sorted(names):
        if any(k in n for k in ("CJK", "Hei", "Song", "Ming", "Kai", "WenQuanYi", "Han Sans")):
            return n
    return None


_CJK_WORDS = ("CJK", "Hei", "Song", "Ming", "Kai", "WenQuanYi", "Han Sans")


def _has_cjk(names) -> bool:
    return any(fam in names for fam in CJK_FAMILIES) or any(k in n for n in names for k in _CJK_WORDS)


def _system_has_cjk() -> bool:
    """A CJK font file in the system's font folders (matplotlib's own search path)."""
    from matplotlib import font_manager

    try:
        files = font_manager.findSystemFonts()
    except Exception:  # an unreadable font folder: nothing to rebuild from
        return False
    return any(any(k.lower() in os.path.basename(f).lower() for k in ("CJK", "WenQuanYi", "wqy", "SourceHan", "Droid")) for f in files)


def labels(cjk: bool, data: ChartData) -> dict:
    """Chart text: Chinese when a CJK font can draw it, else English (the msgids)."""
    span = f"{data.months[0]}..{data.months[-1]}"
    name = region_name(data.region)
    with language("zh" if cjk else "en"):
        region = f"{name}（{data.region}）" if cjk and name else data.region
        return {
            "title": (f"{data.title}\n" if cjk else f"{data.scheme}: ")
            + _("CPI and food-price YoY, region {region} ({span})").format(region=region, span=span),
            "cpi": _("CPI YoY %"), "food": _("food YoY %"),
            "cpi_thr": _("CPI threshold"), "food_thr": _("food threshold"),
            "triggered": _("triggered (mechanism starts)"), "undecided": _("figures missing (undecided)"), "ylabel": _("year-on-year change (%)"),
        }


def _date(month: str):
    from datetime import date

    y, m = month.split("-")
    return date(int(y), int(m), 1)


def render(data: ChartData, out: Path, cjk_font: str | None = "auto", width: float = 12.0, height: float = 6.0, dpi: int = 100) -> dict:
    """Draw the chart to a PNG (atomically, owner-only). Returns {'path', 'cjk_font', 'width_px', 'height_px'}."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    font = find_cjk_font() if cjk_font == "auto" else cjk_font
    lab = labels(font is not None, data)
    rc = {"axes.unicode_minus": False}
    if font:
        rc["font.sans-serif"] = [font, "DejaVu Sans"]
        rc["font.family"] = "sans-serif"
    xs = [_date(m) for m in data.months]
    x_end = _date(add_months(data.months[-1], 1))

    def fl(vals):
        return [float(v) if v is not None else float("nan") for v in vals]

    with plt.rc_context(rc):
        fig, ax = plt.subplots(figsize=(width, height), dpi=dpi)
        try:
            first = True
            for a, b in data.spans(True):
                ax.axvspan(_date(a), _date(add_months(b, 1)), color="#f4a582", alpha=0.35, lw=0,
                           label=lab["triggered"] if first else None)
                first = False
            first = True
            for a, b in data.spans(None):
                ax.axvspan(_date(a), _date(add_months(b, 1)), facecolor="none", edgecolor="#999999", hatch="//", lw=0,
                           label=lab["undecided"] if first else None)
                first = False
            mid = [x.replace(day=15) for x in xs]  # a month's figure sits in the middle of its month
            ax.plot(mid, fl(data.cpi), color="#2166ac", lw=1.8, marker=".", label=lab["cpi"])
            ax.plot(mid, fl(data.food), color="#b2182b", lw=1.8, marker=".", label=lab["food"])
            # thresholds as steps: each month's value holds until the next month starts
            ax.step(xs + [x_end], fl(data.cpi_threshold + data.cpi_threshold[-1:]), where="post", color="#2166ac",
                    ls="--", lw=1.2, label=lab["cpi_thr"])
            ax.step(xs + [x_end], fl(data.food_threshold + data.food_threshold[-1:]), where="post", color="#b2182b",
                    ls="--", lw=1.2, label=lab["food_thr"])
            ax.axhline(0, color="#444444", lw=0.6)
            ax.set_title(lab["title"])
            ax.set_ylabel(lab["ylabel"])
            ax.set_xlim(xs[0], x_end)
            locator = mdates.AutoDateLocator(minticks=4, maxticks=14)
            ax.xaxis.set_major_locator(locator)
            # Chinese charts: 2019年 / 03月 ticks (the concise formatter's defaults are English month names)
            ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator, formats=["%Y年", "%m月", "%d", "%H:%M", "%H:%M", "%S.%f"])
                                         if font else mdates.ConciseDateFormatter(locator))
            ax.grid(True, alpha=0.3)
            ax.legend(loc="upper left", fontsize=8, framealpha=0.9)
            fig.tight_layout()
            out = Path(out)
            out.parent.mkdir(parents=True, exist_ok=True)
            tmp = out.parent / f".{out.name}.tmp-{os.getpid()}.png"
            try:
                fig.savefig(tmp, format="png", dpi=dpi)
                os.chmod(tmp, 0o600)
                os.replace(tmp, out)
            except BaseException:
                tmp.unlink(missing_ok=True)
                raise
        finally:
            plt.close(fig)
    return {"path": str(out), "cjk_font": font, "width_px": int(width * dpi), "height_px": int(height * dpi)}
