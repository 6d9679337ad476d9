"""One published figure as a source hands it to the store, with its provenance."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from cpi_link.core.decimals import HUNDRED
from cpi_link.core.months import now_utc  # noqa: F401 - the sources' fetched_at stamp


@dataclass(frozen=True)
class Observation:
    region_code: str
    indicator: str
    month: str
    value: Decimal  # the published index, 上年同月=100
    source: str  # 'nbs', 'nbs-legacy', 'file', 'bundled'
    source_ref: str  # URL, or file name + sha256
    fetched_at: str  # ISO 8601 UTC

    @property
    def yoy_pct(self) -> Decimal:
        return self.value - HUNDRED

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.region_code, self.indicator, self.month)
