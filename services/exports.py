"""Tables as files people open in Excel: UTF-8 CSV with a BOM, or XLSX; Chinese headers, numbers as numbers.

Text from users never becomes a formula (OWASP CSV injection): in CSV a text cell starting with
= + - @ (or a tab / carriage return) gets a leading apostrophe; in XLSX text cells are typed as strings.
"""

import csv
import io
from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from services.errors import Invalid

MEDIA = {"csv": "text/csv; charset=utf-8", "json": "application/json",
         "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def _csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, Decimal | int | float):
        return value  # a number, even a negative one, is not text: it stays as it is
    if isinstance(value, date):
        return value.isoformat()
    return neutralise(str(value))


def to_csv(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([neutralise(h) for h in header])
    writer.writerows([[_csv_cell(v) for v in row] for row in rows])
    return ("\ufeff" + buffer.getvalue()).encode()  # BOM: Excel opens UTF-8 Chinese correctly


Sheet = tuple[str, Sequence[str], Sequence[Sequence[Any]]]  # (title, header, rows)


def to_xlsx(*sheets: Sheet) -> bytes:
    """A workbook of one sheet per (title, header, rows): numbers and dates as such, text as typed text."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    workbook = Workbook(write_only=True)
    for title, header, rows in sheets:
        sheet = workbook.create_sheet(title[:31])

        def cell(value: Any, sheet=sheet):
            if isinstance(value, Decimal | int | float | date) or value is None:
                return value
            text = WriteOnlyCell(sheet, value=str(value))
            text.data_type = "s"  # never a formula, whatever the text starts with
            return text

        sheet.append([cell(h) for h in header])
        for row in rows:
            sheet.append([cell(v) for v in row])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def render(fmt: str, title: str, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> bytes:
    if fmt == "csv":
        return to_csv(header, rows)
    if fmt == "xlsx":
        return to_xlsx((title, header, rows))
    raise Invalid("format is json, csv or xlsx", code="export.invalid_format", field="query.format")
