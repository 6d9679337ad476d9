"""Reject reasons in words for people. The codes (rejected.parquet's `reason`, JSON keys) stay
English for scripts; tables and the workbook show `reason_text(code)` in the current language."""

from __future__ import annotations

from cpi_link.core.i18n import _, is_zh

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
}


def reason_text(code: str) -> str:
    """The reason in words; in English the code itself stays in front (scripts and people share it)."""
    words = REASON_WORDS.get(code)
    if words is None:
        return code
    return f"{words()} ({code})" if is_zh() else code
