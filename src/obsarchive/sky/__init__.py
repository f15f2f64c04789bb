"""Spherical geometry and the sky index: exact footprint predicates and HEALPix cells.

Pure library (numpy, cdshealpix, astropy); no Django. Typical server use::

    region = parse_geometry(request_value)          # covers= / intersects=
    plan = query_plan(region)                       # SQL prefilter on the cell table
    mask = refine(FootprintArray.from_rings(rings), region)   # exact answer

and at ingest: ``index_cells(polygon_from_geojson(area))`` gives the cells to store.
"""

from obsarchive.sky.errors import SkyGeometryError
from obsarchive.sky.footprint import (
    ObsCoreFootprint,
    bounding_radius,
    obscore_footprint,
    sky_order_vertices,
    to_dali_circle,
    to_dali_polygon,
    to_stcs,
)
from obsarchive.sky.geojson import geometry_from_geojson, polygon_from_geojson, to_geojson
from obsarchive.sky.geometry import (
    MAX_POLYGON_VERTICES,
    Circle,
    Point,
    Polygon,
    Range,
    Region,
    intersects,
)
from obsarchive.sky.index import (
    DEFAULT_MAX_TERMS,
    INDEX_MAX_CELLS,
    INDEX_MAX_DEPTH,
    QueryPlan,
    index_cells,
    query_plan,
    uniq,
    uniq_depth,
    uniq_to_depth_ipix,
)
from obsarchive.sky.pos import parse_dali_circle, parse_dali_polygon, parse_pos
from obsarchive.sky.refinement import FootprintArray, refine
from obsarchive.sky.vectors import EPSILON, lonlat_to_vectors, vectors_to_lonlat
from obsarchive.sky.wkt import parse_geometry, parse_wkb_hex, parse_wkt, to_wkt

__all__ = [
    "DEFAULT_MAX_TERMS",
    "EPSILON",
    "INDEX_MAX_CELLS",
    "INDEX_MAX_DEPTH",
    "MAX_POLYGON_VERTICES",
    "Circle",
    "FootprintArray",
    "ObsCoreFootprint",
    "Point",
    "Polygon",
    "QueryPlan",
    "Range",
    "Region",
    "SkyGeometryError",
    "bounding_radius",
    "geometry_from_geojson",
    "index_cells",
    "intersects",
    "lonlat_to_vectors",
    "obscore_footprint",
    "parse_dali_circle",
    "parse_dali_polygon",
    "parse_geometry",
    "parse_pos",
    "parse_wkb_hex",
    "parse_wkt",
    "polygon_from_geojson",
    "query_plan",
    "refine",
    "sky_order_vertices",
    "to_dali_circle",
    "to_dali_polygon",
    "to_geojson",
    "to_stcs",
    "to_wkt",
    "uniq",
    "uniq_depth",
    "uniq_to_depth_ipix",
    "vectors_to_lonlat",
]
