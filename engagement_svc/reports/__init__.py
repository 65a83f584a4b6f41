"""One module per dashboard area: counts in, the exact JSON (and CSV) of each endpoint out. No database code."""
