"""CSV as Rocket.Chat's page writes it: `;`, every cell quoted, inner quotes doubled, a newline after every row, and
user-written text kept from reading as a formula."""

from __future__ import annotations

import pytest

from engagement_svc.reports.csv import FORMULA_STARTS, Table, cell, line, lines_of


def test_cells_are_quoted_and_inner_quotes_doubled():
    assert cell("a") == '"a"' and cell(3) == '"3"' and cell('say "hi"') == '"say ""hi"""' and cell("") == '""'
    assert line([cell("a;b"), cell(1)]) == '"a;b";"1"\n'


@pytest.mark.parametrize("start", FORMULA_STARTS)
def test_text_that_would_run_as_a_formula_gets_a_quote_first(start):
    assert cell(start + "1+1", text=True) == "\"'" + start + '1+1"'
    assert cell(start + "1", text=False) == '"' + start + '1"'  # a count or a date is never text


async def test_a_table_is_its_header_then_its_lines():
    table = Table("f.csv", ["Name", "N"], lines_of([("=x", -1), ("y", 2)], text_columns=(0,)))
    assert table.head() == '"Name";"N"\n'
    assert [text async for text in table.lines] == ['"\'=x";"-1"\n', '"y";"2"\n']
