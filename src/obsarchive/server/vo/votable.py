"""A small streaming VOTable 1.4 writer (TABLEDATA) for DALI responses.

astropy's ``votable.tree`` builds the whole document in memory before writing; an SIA answer
of 10 000 rows should start flowing at once and never be held whole, so responses are
generated here as text chunks. The shapes are the DALI ones: a ``RESOURCE type="results"``
with ``QUERY_STATUS`` before the table (and an ``OVERFLOW`` after it when rows were cut),
``RESOURCE type="meta" utype="adhoc:service"`` service descriptors after it. The tests check
every document with astropy's strict parser and STILTS ``votlint``.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from anyascii import anyascii

__all__ = [
    "DATALINK_MIME",
    "VOTABLE_MIME",
    "Field",
    "Info",
    "Param",
    "ServiceDescriptor",
    "error_document",
    "results_document",
    "service_params",
]

logger = logging.getLogger(__name__)

VOTABLE_MIME = "application/x-votable+xml"
DATALINK_MIME = "application/x-votable+xml;content=datalink"
_NAMESPACE = "http://www.ivoa.net/xml/VOTable/v1.3"
_HEAD = f'<?xml version="1.0" encoding="UTF-8"?>\n<VOTABLE version="1.4" xmlns="{_NAMESPACE}">\n'
# Characters XML 1.0 cannot carry at all (and lone surrogates, which UTF-8 cannot encode).
_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_ROWS_PER_CHUNK = 200


def _text(value: str) -> str:
    cleaned = _ILLEGAL.sub("?", value)
    return cleaned.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _attr(value: str) -> str:
    return '"' + _text(value).replace('"', "&quot;") + '"'


def _number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value) + 0.0)


def _attributes(pairs: Iterable[tuple[str, str | None]]) -> str:
    return "".join(f" {name}={_attr(value)}" for name, value in pairs if value is not None)


def _element(tag: str, attributes: str, inner: str = "") -> str:
    """One line: ``<tag attributes/>``, or ``<tag attributes>inner</tag>`` when ``inner``."""
    if inner:
        return f"<{tag}{attributes}>{inner}</{tag}>\n"
    return f"<{tag}{attributes}/>\n"


def _description(text: str | None) -> str:
    return f"<DESCRIPTION>{_text(text)}</DESCRIPTION>" if text else ""


def _typed(item: Field | Param) -> list[tuple[str, str | None]]:
    """The attributes FIELD and PARAM share, in the order both write them."""
    return [
        ("name", item.name),
        ("ID", item.id),
        ("datatype", item.datatype),
        ("arraysize", item.arraysize),
        ("unit", item.unit),
        ("ucd", item.ucd),
        ("utype", item.utype),
        ("xtype", item.xtype),
    ]


@dataclass(frozen=True)
class Field:
    """A table column: its metadata and how its cells are written.

    ``datatype`` is a VOTable primitive (``char``, ``unicodeChar``, ``double``, ``long``,
    ``int``, ``short``, ``boolean``); a ``double`` with an ``arraysize`` takes sequences.
    ``char`` cells are transliterated to ASCII (VOTable ``char`` is 7-bit).
    """

    name: str
    datatype: str
    arraysize: str | None = None
    unit: str | None = None
    ucd: str | None = None
    utype: str | None = None
    xtype: str | None = None
    id: str | None = None
    description: str | None = None

    def xml(self) -> str:
        return _element("FIELD", _attributes(_typed(self)), _description(self.description))

    def cell(self, value: Any) -> str:
        """The escaped TD content for ``value`` (``None`` is an empty cell: null)."""
        if value is None:
            return ""
        kind = self.datatype
        if kind == "char":
            return _text(anyascii(str(value)))
        if kind == "unicodeChar":
            return _text(str(value))
        if kind in ("double", "float"):
            if self.arraysize is not None and not isinstance(value, (int, float)):
                return " ".join(_number(float(v)) for v in value)
            number = float(value)
            return "" if math.isnan(number) else _number(number)
        if kind in ("long", "int", "short"):
            return str(int(value))
        if kind == "boolean":
            return "T" if value else "F"
        raise ValueError(f"unsupported VOTable datatype {kind!r}")


@dataclass(frozen=True)
class Param:
    """A ``PARAM``: a fixed value, a row-bound input (``ref``) or a user input (``value=""``)."""

    name: str
    datatype: str = "char"
    value: str = ""
    arraysize: str | None = "*"
    unit: str | None = None
    ucd: str | None = None
    utype: str | None = None
    xtype: str | None = None
    ref: str | None = None
    id: str | None = None
    description: str | None = None
    minimum: str | None = None
    maximum: str | None = None
    options: tuple[str, ...] = ()

    def xml(self) -> str:
        attributes = _attributes([*_typed(self), ("ref", self.ref), ("value", self.value)])
        inner = _description(self.description)
        if self.minimum is not None or self.maximum is not None or self.options:
            inner += "<VALUES>"
            if self.minimum is not None:
                inner += f"<MIN value={_attr(self.minimum)}/>"
            if self.maximum is not None:
                inner += f"<MAX value={_attr(self.maximum)}/>"
            inner += "".join(f"<OPTION value={_attr(option)}/>" for option in self.options)
            inner += "</VALUES>"
        return _element("PARAM", attributes, inner)


@dataclass(frozen=True)
class Info:
    """An ``INFO`` element (``QUERY_STATUS``, ``standardID``, ...)."""

    name: str
    value: str
    text: str = ""

    def xml(self) -> str:
        attributes = _attributes([("name", self.name), ("value", self.value)])
        return _element("INFO", attributes, _text(self.text))


@dataclass(frozen=True)
class ServiceDescriptor:
    """A DataLink service descriptor: ``RESOURCE type="meta" utype="adhoc:service"``."""

    params: tuple[Param, ...]
    input_params: tuple[Param, ...] = ()
    id: str | None = None
    name: str | None = None
    utype: str = "adhoc:service"
    description: str | None = None

    def xml(self) -> str:
        attributes = _attributes(
            [("ID", self.id), ("name", self.name), ("type", "meta"), ("utype", self.utype)]
        )
        parts = [f"<RESOURCE{attributes}>\n"]
        if self.description:
            parts.append(f"<DESCRIPTION>{_text(self.description)}</DESCRIPTION>\n")
        parts.extend(param.xml() for param in self.params)
        if self.input_params:
            parts.append('<GROUP name="inputParams">\n')
            parts.extend(param.xml() for param in self.input_params)
            parts.append("</GROUP>\n")
        parts.append("</RESOURCE>\n")
        return "".join(parts)


def service_params(
    access_url: str, standard_id: str, content_type: str | None = None
) -> tuple[Param, ...]:
    """A service descriptor's ``accessURL``, ``standardID`` and (if given) ``contentType``."""
    params = (
        Param("accessURL", value=access_url, ucd="meta.ref.url"),
        Param("standardID", value=standard_id),
    )
    if content_type is None:
        return params
    return (*params, Param("contentType", value=content_type))


def _row(fields: Sequence[Field], values: Sequence[Any]) -> str:
    cells = "".join(
        f"<TD>{field.cell(value)}</TD>" for field, value in zip(fields, values, strict=True)
    )
    return f"<TR>{cells}</TR>\n"


def results_document(
    fields: Sequence[Field],
    rows: Iterable[Sequence[Any]],
    *,
    leading: Sequence[Info] = (),
    trailing: Sequence[Info] = (),
    descriptors: Sequence[ServiceDescriptor] = (),
    error_prefix: str = "FatalFault",
) -> Iterator[str]:
    """The chunks of a results document.

    Parameters
    ----------
    fields
        The table's columns.
    rows
        Value sequences in field order; consumed lazily while the response streams.
    leading
        INFOs before the table, after ``QUERY_STATUS=OK`` (e.g. ``standardID``).
    trailing
        INFOs after the table (e.g. ``QUERY_STATUS=OVERFLOW``).
    descriptors
        Service descriptor resources written after the results resource.
    error_prefix
        The fault word of a failure while rows are produced: the table is then closed and a
        trailing ``QUERY_STATUS=ERROR`` INFO says so (DALI 4.4.2).
    """
    head = [_HEAD, '<RESOURCE type="results">\n', Info("QUERY_STATUS", "OK").xml()]
    head.extend(info.xml() for info in leading)
    head.append("<TABLE>\n")
    head.extend(field.xml() for field in fields)
    head.append("<DATA><TABLEDATA>\n")
    yield "".join(head)
    failure: Info | None = None
    batch: list[str] = []
    try:
        for values in rows:
            batch.append(_row(fields, values))
            if len(batch) >= _ROWS_PER_CHUNK:
                yield "".join(batch)
                batch = []
    except Exception as exc:
        logger.exception("VOTable rows failed part way")
        failure = Info(
            "QUERY_STATUS", "ERROR", f"{error_prefix}: the query failed ({type(exc).__name__})"
        )
    if batch:
        yield "".join(batch)
    tail = ["</TABLEDATA></DATA>\n</TABLE>\n"]
    if failure is not None:
        tail.append(failure.xml())
    else:
        tail.extend(info.xml() for info in trailing)
    tail.append("</RESOURCE>\n")
    tail.extend(descriptor.xml() for descriptor in descriptors)
    tail.append("</VOTABLE>\n")
    yield "".join(tail)


def error_document(message: str, *, leading: Sequence[Info] = ()) -> str:
    """A DALI error document: ``QUERY_STATUS=ERROR`` with ``message`` as its text."""
    infos = "".join(info.xml() for info in leading)
    return (
        f'{_HEAD}<RESOURCE type="results">\n'
        f"{Info('QUERY_STATUS', 'ERROR', message).xml()}{infos}</RESOURCE>\n</VOTABLE>\n"
    )
