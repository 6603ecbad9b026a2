"""What the territory tells the apps built on it. Grid knows none of them (the arrows run
one way): an app that keeps things located in the territory connects here."""

from django.dispatch import Signal

# Sent inside the import's transaction after boundaries changed, with
# `area` (a WGS-84 MultiPolygon covering every place whose unit may have
# changed) and `gone_cell_ids` (cells about to be deleted: they no longer
# contain anything). Receivers return what they moved, as a list; an
# exception rolls the import back.
boundaries_changed = Signal()
