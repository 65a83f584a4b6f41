"""HTTP's own query parameter: the answer's format (`format`, else the Accept header). What a report is asked
(the range, zone, bots, page) is parsed by the report's `Params` (reports/queries.py)."""

from __future__ import annotations

import re
from collections.abc import Mapping

from engagement_svc.reports.queries import BadRequest, Parameter, single_value

FORMATS = ("json", "csv")
FORMAT = Parameter("format")  # read for every report, after the report's own parameters


def wants_csv(query: Mapping[str, str], accept: str) -> bool:
    """`format=csv` (or `json`); without it, the Accept header's preference (RFC 9110: the most specific range
    that matches a type gives its weight), JSON when the two weigh the same."""
    text = single_value(query, FORMAT.name)
    if text is not None:
        if text not in FORMATS:
            raise BadRequest("Invalid parameter 'format': must be json or csv")
        return text == "csv"
    ranges = []
    for part in accept.split(",")[:MAX_ACCEPT_RANGES]:
        media, *params = (p.strip().lower() for p in part.split(";"))
        weights = [p[2:].strip() for p in params if p.startswith("q=")]
        ranges.append((media, _weight(weights[0]) if weights else 1.0))
    return _preference(ranges, "text/csv") > _preference(ranges, "application/json")


MAX_ACCEPT_RANGES = 64  # an Accept header of more media ranges than this is read only that far


def _preference(ranges: list[tuple[str, float]], media: str) -> float:
    """The weight `ranges` give `media`: that of the most specific matching range (type/sub, type/*, */*)."""
    kind = media.split("/", maxsplit=1)[0]
    found = {m: q for m, q in reversed(ranges)}  # the first of equal ranges counts
    for candidate in (media, f"{kind}/*", "*/*"):
        if candidate in found:
            return found[candidate]
    return 0.0


def _weight(text: str) -> float:
    """An Accept q-value (RFC 9110: 0 to 1, at most three decimals); anything else counts as 1."""
    return float(text) if re.fullmatch(r"0(\.\d{0,3})?|1(\.0{0,3})?", text) else 1.0
