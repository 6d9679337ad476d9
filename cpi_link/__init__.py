"""cpi-link: China's price-subsidy linkage mechanism, computed exactly and auditably.

Data flows one way: sources (fetch, nbs) -> store -> schemes/trigger -> roster/calculate -> outputs.
The CLI (cpi_link.cli) is a thin layer over these modules.
"""

__version__ = "0.1.0"
