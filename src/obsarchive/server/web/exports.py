"""Streamed exports of a whole search result: CSV, JSON and VOTable.

Rows are produced batch by batch (:func:`~obsarchive.server.web.search.iter_rows`) and written
as they come, so an export of a million frames holds one batch in memory. JSON rows are the
API's rows exactly; CSV and VOTable carry the scalar columns plus the footprint centre.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from obsarchive.server.web.resolver import footprint_centre

__all__ = ["COLUMNS", "EXPORT_FORMATS", "Column", "csv_chunks", "json_chunks", "votable_chunks"]


@dataclass(frozen=True)
class Column:
    """An exported column: row key, VOTable datatype, unit, UCD and description."""

    name: str
    datatype: str
    unit: str = ""
    ucd: str = ""
    description: str = ""


COLUMNS: tuple[Column, ...] = (
    Column("id", "long", ucd="meta.id;meta.main", description="archive frame id"),
    Column("basename", "char", ucd="meta.id", description="file name without extension"),
    Column(
        "filename", "char", ucd="meta.id;meta.file", description="file name of the newest version"
    ),
    Column(
        "observation_date", "char", ucd="time.start;obs", description="DATE-OBS (UTC, ISO 8601)"
    ),
    Column("observation_day", "char", ucd="time.epoch;obs", description="DAY-OBS"),
    Column(
        "ra",
        "double",
        unit="deg",
        ucd="pos.eq.ra;meta.main",
        description="footprint centre RA (ICRS)",
    ),
    Column(
        "dec",
        "double",
        unit="deg",
        ucd="pos.eq.dec;meta.main",
        description="footprint centre Dec (ICRS)",
    ),
    Column("proposal_id", "char", ucd="meta.id;obs.proposal", description="PROPID"),
    Column("target_name", "char", ucd="meta.id;src", description="OBJECT"),
    Column("site_id", "char", ucd="meta.id;instr.obsty", description="SITEID"),
    Column("telescope_id", "char", ucd="meta.id;instr.tel", description="TELID"),
    Column("instrument_id", "char", ucd="meta.id;instr", description="INSTRUME"),
    Column("primary_optical_element", "char", ucd="instr.filter", description="FILTER"),
    Column("configuration_type", "char", ucd="meta.code;obs", description="OBSTYPE"),
    Column(
        "exposure_time", "double", unit="s", ucd="time.duration;obs.exposure", description="EXPTIME"
    ),
    Column("reduction_level", "short", ucd="meta.code;obs.calib", description="RLEVEL"),
    Column("observation_id", "long", ucd="meta.id;obs", description="BLKUID"),
    Column("request_id", "long", ucd="meta.id;obs", description="REQNUM"),
    Column("public_date", "char", ucd="time.release", description="L1PUBDAT (UTC, ISO 8601)"),
    Column(
        "url",
        "char",
        ucd="meta.ref.url",
        description="download URL of the newest version (expires)",
    ),
)

EXPORT_FORMATS = {
    "csv": ("text/csv; charset=utf-8", "csv"),
    "json": ("application/json", "json"),
    "votable": ("application/x-votable+xml", "xml"),
}


def _flat(row: dict[str, Any]) -> dict[str, Any]:
    centre = footprint_centre(row.get("area"))
    flat = {column.name: row.get(column.name) for column in COLUMNS}
    flat["ra"], flat["dec"] = (round(centre[0], 7), round(centre[1], 7)) if centre else (None, None)
    return flat


def csv_chunks(batches: Iterable[list[dict[str, Any]]]) -> Iterator[str]:
    """CSV text: a header line, then one line per frame (empty cells for missing values)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([column.name for column in COLUMNS])
    yield buffer.getvalue()
    for batch in batches:
        buffer.seek(0)
        buffer.truncate()
        for row in batch:
            flat = _flat(row)
            writer.writerow(["" if flat[c.name] is None else flat[c.name] for c in COLUMNS])
        yield buffer.getvalue()


def json_chunks(batches: Iterable[list[dict[str, Any]]]) -> Iterator[str]:
    """A JSON array of the API's frame rows."""
    first = True
    yield "["
    for batch in batches:
        parts = []
        for row in batch:
            parts.append(("" if first else ",") + "\n" + json.dumps(row, separators=(",", ":")))
            first = False
        yield "".join(parts)
    yield "\n]\n"


def _cell(value: Any) -> str:
    if value is None:
        return "<TD/>"
    return f"<TD>{escape(str(value))}</TD>"


def votable_chunks(
    batches: Iterable[list[dict[str, Any]]], *, description: str, query: str
) -> Iterator[str]:
    """A VOTable 1.4 document (TABLEDATA) of the frames; empty cells are nulls."""
    fields = []
    for column in COLUMNS:
        size = ' arraysize="*"' if column.datatype == "char" else ""
        unit = f" unit={quoteattr(column.unit)}" if column.unit else ""
        ucd = f" ucd={quoteattr(column.ucd)}" if column.ucd else ""
        fields.append(
            f'<FIELD name="{column.name}" datatype="{column.datatype}"{size}{unit}{ucd}>'
            f"<DESCRIPTION>{escape(column.description)}</DESCRIPTION></FIELD>"
        )
    yield (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<VOTABLE version="1.4" xmlns="http://www.ivoa.net/xml/VOTable/v1.3">\n'
        f"<DESCRIPTION>{escape(description)}</DESCRIPTION>\n"
        '<RESOURCE type="results">\n'
        f'<INFO name="QUERY" value={quoteattr(query)}/>\n'
        '<TABLE name="frames">\n' + "\n".join(fields) + "\n<DATA><TABLEDATA>\n"
    )
    for batch in batches:
        lines = []
        for row in batch:
            flat = _flat(row)
            lines.append("<TR>" + "".join(_cell(flat[c.name]) for c in COLUMNS) + "</TR>\n")
        yield "".join(lines)
    yield "</TABLEDATA></DATA>\n</TABLE>\n</RESOURCE>\n</VOTABLE>\n"
