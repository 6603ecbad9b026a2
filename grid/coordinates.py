"""Coordinates from outside (query strings, forms): finite WGS-84 degrees or a clear refusal.

`float()` takes "nan", "inf" and "1e400"; GEOS and the databases then fail
deep inside a query. Every parser of a point or a bbox from a request uses
these, so all of them refuse the same inputs with the same reason.
"""

from __future__ import annotations

import math

from django.utils.translation import gettext as _


class CoordinateError(ValueError):
    """The input is not a usable WGS-84 position; str() is the reason to show."""


def _degrees(raw: object, low: float, high: float, name: str) -> float:
    try:
        value = float(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise CoordinateError(_("%(name)s must be a number of degrees.") % {"name": name}) from None
    if not math.isfinite(value) or not low <= value <= high:
        raise CoordinateError(
            _("%(name)s must be between %(low)s and %(high)s degrees.")
            % {"name": name, "low": low, "high": high}
        )
    return value


def lon_lat(lon: object, lat: object) -> tuple[float, float]:
    """A longitude and latitude in range, as floats."""
    return _degrees(lon, -180, 180, "long"), _degrees(lat, -90, 90, "lat")


def bbox(raw: str) -> tuple[float, float, float, float]:
    """'west,south,east,north' in degrees, west ≤ east and south ≤ north."""
    parts = raw.split(",")
    if len(parts) != 4:
        raise CoordinateError(_("bbox must be west,south,east,north in degrees."))
    west, east = (_degrees(v, -180, 180, "bbox") for v in (parts[0], parts[2]))
    south, north = (_degrees(v, -90, 90, "bbox") for v in (parts[1], parts[3]))
    if west > east or south > north:
        raise CoordinateError(
            _("bbox must be west,south,east,north with west ≤ east, south ≤ north.")
        )
    return west, south, east, north
