"""Small geometry helpers shared by the grid generator, the checks and the importers."""

from __future__ import annotations

from django.contrib.gis.gdal import SpatialReference
from django.contrib.gis.geos import GEOSGeometry, MultiPolygon, Polygon


def utm_srid(lon: float, lat: float) -> int:
    """The WGS-84 UTM zone for a point: metres, under 0.1 % scale error near its centre."""
    zone = int((lon + 180) // 6) + 1
    return (32600 if lat >= 0 else 32700) + zone


def local_metric_srs(lon: float, lat: float) -> SpatialReference:
    """An azimuthal equidistant projection centred on the point: metres, exact near it."""
    return SpatialReference(
        f"+proj=aeqd +lat_0={lat:.7f} +lon_0={lon:.7f} +datum=WGS84 +units=m +no_defs"
    )


def polygonal(geometry: GEOSGeometry) -> MultiPolygon | None:
    """The polygonal part of a geometry as a MultiPolygon, or None if it has none."""
    if geometry.empty:
        return None
    if isinstance(geometry, Polygon):
        parts = [geometry]
    elif isinstance(geometry, MultiPolygon):
        parts = list(geometry)
    elif geometry.geom_type == "GeometryCollection":
        parts = []
        for member in geometry:
            found = polygonal(member)
            if found is not None:
                parts.extend(found)
    else:
        return None
    parts = [p for p in parts if not p.empty and p.area > 0]
    if not parts:
        return None
    return MultiPolygon(parts, srid=geometry.srid)
