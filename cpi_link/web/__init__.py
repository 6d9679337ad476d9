"""The officer's desk: `cpi-link serve`, a local web page over the jobs (a stage beside cli)."""
