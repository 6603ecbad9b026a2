"""Plausible synthetic boundaries for the demo district.

The district is a rectangle around Wuchang, cut into a lattice of streets,
each street cut into rows of communities. Borders between neighbours are
jittered but computed once and shared, so the pieces tile without gaps or
overlaps. Coordinates are rounded to 7 decimals (about 1 cm).
"""

from __future__ import annotations

import math
import random

from django.contrib.gis.geos import MultiPolygon, Polygon

DISTRICT_BBOX = (114.29, 30.50, 114.40, 30.62)


def _r(value: float) -> float:
    return round(value, 7)


def _cuts(start: float, end: float, parts: int, rng: random.Random, jitter: float) -> list[float]:
    """parts+1 boundaries from start to end; inner ones jittered by up to jitter × step."""
    step = (end - start) / parts
    inner = [start + i * step + rng.uniform(-jitter, jitter) * step for i in range(1, parts)]
    return [_r(start), *(_r(x) for x in inner), _r(end)]


def rectangle(x0: float, y0: float, x1: float, y1: float) -> MultiPolygon:
    return MultiPolygon(Polygon.from_bbox((x0, y0, x1, y1)), srid=4326)


def tile(
    bbox: tuple[float, float, float, float], n: int, rng: random.Random, jitter: float = 0.15
) -> list[MultiPolygon]:
    """Cut bbox into n rectangles in rows (north first, west→east within a row)."""
    x0, y0, x1, y1 = bbox
    cols = math.ceil(math.sqrt(n * (x1 - x0) / (y1 - y0))) or 1
    rows = math.ceil(n / cols)
    ys = _cuts(y1, y0, rows, rng, jitter)  # north → south
    pieces = []
    for row in range(rows):
        in_row = min(cols, n - row * cols)
        xs = _cuts(x0, x1, in_row, rng, jitter)
        for col in range(in_row):
            pieces.append(rectangle(xs[col], ys[row + 1], xs[col + 1], ys[row]))
    return pieces
