"""Policy schemes (SPEC 5.4): the model (versions, overlays, the rules in force for a month) and
the TOML files officers write."""

from cpi_link.rules.schemes.file import default_scheme, list_schemes, load_scheme, parse_scheme_file, read_toml_file
from cpi_link.rules.schemes.model import INDICATORS, METHODS, RATES, ROUNDINGS, STANDARD_KINDS, Rules, Scheme

__all__ = ["INDICATORS", "METHODS", "RATES", "ROUNDINGS", "STANDARD_KINDS", "Rules", "Scheme", "default_scheme",
           "list_schemes", "load_scheme", "parse_scheme_file", "read_toml_file"]
