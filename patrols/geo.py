"""Distances on the ground, computed here so PostGIS and SpatiaLite agree to the centimetre."""

from __future__ import annotations

import math
from collections.abc import Sequence

# The mean Earth radius (IUGG); a haversine on it is within 0.5 % of the
# ellipsoid, far better than a phone's GPS.
EARTH_RADIUS_M = 6_371_008.8


def distance_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """The great-circle (haversine) distance between two WGS-84 points, in metres."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi = phi2 - phi1
    dlam = math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlam / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def path_length_m(coords: Sequence[tuple[float, float]]) -> float:
    """The length of a path of (lon, lat) points, leg by leg."""
    return sum(
        distance_m(x1, y1, x2, y2) for (x1, y1), (x2, y2) in zip(coords, coords[1:], strict=False)
    )
