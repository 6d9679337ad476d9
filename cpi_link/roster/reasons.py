"""Reject reasons in words for people. The codes (rejected.parquet's `reason`, JSON keys) stay
English for scripts; tables and the workbook show `reason_text(code)` in the current language."""

from __future__ import annotations

from cpi_link.core.i18n import N_, _, is_zh, translate_template

# code -> the words (a function, so the text is in the language chosen when it is shown)
REASON_WORDS = {
    "invalid_id": lambda: _("invalid resident ID (length, date of birth or check digit)"),
    "id_lost_precision": lambda: _("resident ID lost digits in a spreadsheet (stored as a number): retype it as text"),
    "missing_field": lambda: _("a required field is empty"),
    "unknown_category": lambda: _("unknown category"),
    "category_not_covered": lambda: _("category not covered by the rules of that month"),
    "unknown_region": lambda: _("no standard for the region code"),
    "bad_persons": lambda: _("persons is not a whole number of at least 1"),
    "duplicate_person": lambda: _("the same person twice (paid once, at the highest amount)"),
    "already_paid": lambda: _("already paid for this month"),
    "bank_account_lost_precision": lambda: _("bank account lost digits in a spreadsheet (stored as a number)"),
    "formula_without_value": lambda: _("a formula without a stored value: open and save the file in Excel"),
    "bad_cell": lambda: _("a cell holds a date, TRUE/FALSE or an error where text or a number belongs"),
    "not_triggered": lambda: _("the mechanism did not start for this region in that month"),
    "remark_says_stopped": lambda: _("the remark says the person stopped (死亡, 停保, 迁出…): not paid"),
    "total_row": lambda: _("a total row (合计行，不发放)"),
    "title_row": lambda: _("a page title between tables, not a person"),
}

# The row details the checks write (English, kept in rejected.parquet), as templates: shown in
# the reader's language by `detail_text`. A detail not listed here is shown as it is.
DETAIL_TEMPLATES = (
    N_("person_id is empty"),
    N_("name is empty"),
    N_("category is empty"),
    N_("region_code is empty"),
    N_("persons is empty"),
    N_("the ID went through a spreadsheet as a number (scientific notation or a trailing '.0'), "
       "so its last digits are lost; re-export the column as text"),
    N_("the ID cell is a number, not text, so its last digits are lost; format the column as text and retype it"),
    N_("must be 17 digits and a check digit or X (18 characters), or a 15-digit legacy ID"),
    N_("got {n} characters"),
    N_("birth date part (characters 7-14) is not a real date"),
    N_("birth date part (characters 7-14) is before 1900"),
    N_("birth date part (characters 7-14) is in the future"),
    N_("check character should be {want}, not {got}"),
    N_("written with separators, it has {n} digits"),
    N_("the check character is {char}, which only looks like X: type the letter X"),
    N_("born after the index month {month} (birth date in characters 7-14 of the ID)"),
    N_("an ID ending in zeros may have gone through a spreadsheet as a number"),
    N_("region_code '{value}' is not a 6-digit code"),
    N_("area '{value}' is not urban/rural (城市/城镇/农村)"),
    N_("category '{value}' is not a code or Chinese name of SPEC 5.2"),
    N_("persons '{value}' is not a whole number of at least 1"),
    N_("listed twice: rows {rows}; calc keeps the highest amount"),
    N_("listed {count} times: rows {rows}; calc keeps the highest amount"),
    N_("category {category} is not covered by {version} in {month}"),
    N_("area (城乡) is needed for this category and is empty"),
    N_("area (城乡) is empty: category '{value}' is {urban} or {rural} by it"),
    N_("the remark says the person stopped: '{value}'"),
    N_("household of {name} (户主): 保障人数 says {said} but {listed} members are listed; each listed member is paid as one person"),
    N_("a total row ('{value}'): not a person"),
    N_("a page title between tables ('{value}'): not a person"),
    N_("no standard for region {region} (or its prefecture/province) in force in {month}"),
    N_("the mechanism did not start for this region in {month}"),
    N_("already paid for {month} in an earlier run"),
    N_("already paid under programme {programme} in an earlier run"),
    # several rosters read as one (the specific forms first: the plain one would match them too)
    N_("the same person is paid on data row {row} of {file}, sheet {sheet} (the highest amount)"),
    N_("the same person is paid on data row {row} of {file} (the highest amount)"),
    N_("the same person is paid on data row {row} (the highest amount)"),
    N_("region_code {code} is not on the administrative-division list (GB/T 2260)"),
    N_("region_code {code} ({name}) was abolished in {year}, replaced by {successor}; not valid in {month}"),
    N_("region_code {code} ({name}) was abolished in {year}; not valid in {month}"),
    N_("region_code {code} ({name}) exists only from {year}; not valid in {month}"),
    N_("the bank account cell is a number of more than 15 digits, so its last digits are lost; "
       "format the column as text and retype the account"),
    N_("{column} holds a formula without a stored value; open the file in Excel or WPS so it calculates, save it, run again"),
    N_("{column} holds the error {what} in the sheet"),
    N_("{column} holds {what} in the sheet, not text or a number"),
    N_("{column} is inside the merged cells {cells} (the sheet shows one value for all of them; only their first "
       "cell holds it): unmerge them and fill in every row"),
)


# what a spreadsheet cell held instead of text or a number (roster.read), inside the bad_cell detail
CELL_KINDS = (
    N_("TRUE (a yes/no cell)"),
    N_("FALSE (a yes/no cell)"),
    N_("a date/time ({value})"),
    N_("a duration ({value})"),
)


def _field(text: str) -> str:
    return translate_template(text, CELL_KINDS) or text


def detail_text(detail: str | None) -> str:
    """A row's detail in the current language (English: as written). Details joined with "; "
    are translated part by part."""
    if not detail or not is_zh():
        return detail or ""
    whole = translate_template(detail, DETAIL_TEMPLATES, field=_field)
    if whole is not None:
        return whole
    parts = [translate_template(p, DETAIL_TEMPLATES, field=_field) or p for p in detail.split("; ")]
    return "；".join(parts)


def reason_text(code: str) -> str:
    """The reason in words; in English the code itself stays in front (scripts and people share it)."""
    words = REASON_WORDS.get(code)
    if words is None:
        return code
    return f"{words()} ({code})" if is_zh() else code
