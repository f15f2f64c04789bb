"""System checks of the VO configuration (run by ``manage.py check`` and at server start)."""

from __future__ import annotations

from typing import Any

from django.core.checks import Error, Warning, register

from obsarchive.server.vo.bandpasses import FilterTableError
from obsarchive.server.vo.config import current_vo_settings, validate_ivoid
from obsarchive.server.vo.services import bandpasses_for

__all__ = ["check_vo_configuration"]


@register()
def check_vo_configuration(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    """The publisher IVOID is an ``ivo://`` URI and the filter table can be read."""
    config = current_vo_settings()
    problems: list[Any] = []
    problem = validate_ivoid(config.ivoid)
    if problem:
        problems.append(Error(f"VO_IVOID {config.ivoid!r} {problem}", id="obsarchive.vo.E001"))
    try:
        table = bandpasses_for(config)
    except FilterTableError as exc:
        problems.append(Error(f"VO_FILTER_TABLE: {exc}", id="obsarchive.vo.E002"))
    else:
        if len(table) == 0:
            problems.append(
                Warning(
                    "the VO filter table lists no filter: SIA BAND never matches",
                    id="obsarchive.vo.W001",
                )
            )
    return problems
