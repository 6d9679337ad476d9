"""Times for people: Beijing time (Asia/Shanghai), minutes, as an officer writes them
("2026-12-07 19:23"). JSON and Parquet keep ISO UTC; only what a person reads goes through here."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

# China has kept UTC+8 without summer time since 1991; a fixed offset needs no tz database on Windows
BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")


def beijing(value: object) -> str:
    """An ISO time ('2026-12-07T11:23:04Z', with an offset, or naive = UTC) or a datetime as
    '2026-12-07 19:23' Beijing time; a value that is not a time is returned as it is."""
    if value is None or value == "":
        return ""
    if isinstance(value, datetime):
        t = value
    else:
        try:
            t = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
        except ValueError:
            return str(value)
    if t.tzinfo is None:
        t = t.replace(tzinfo=timezone.utc)
    return t.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M")
