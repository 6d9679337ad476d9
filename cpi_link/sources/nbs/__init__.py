"""The NBS client (SPEC 4.1): monthly CPI and food-price indices from the NBS data portal.

config (sources.toml) -> transport (HTTP, raw archive) -> portal / legacy (the two interfaces) ->
client (fetch, discover: what the commands call). It never touches the series store: the caller
upserts only after fetch returns, so a failure stores nothing.
"""

from cpi_link.sources.nbs.client import discover, fetch, series_table
from cpi_link.sources.nbs.config import ENV_HTTP, HttpSettings, load_sources
from cpi_link.sources.nbs.portal import covering, normalise_name, split_slice
from cpi_link.sources.nbs.transport import FetchOutcome, SourceFailure, Transport

__all__ = ["ENV_HTTP", "FetchOutcome", "HttpSettings", "SourceFailure", "Transport", "covering", "discover", "fetch",
           "load_sources", "normalise_name", "series_table", "split_slice"]
