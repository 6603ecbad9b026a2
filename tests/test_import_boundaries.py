"""import_boundaries: formats, CRSs, encodings, repair, refusal and idempotence.

Fixture files are made here at run time: GeoJSON written by hand, turned
into Shapefiles and GeoPackages with GDAL's ogr2ogr, so every format and
CRS is the real thing.
"""

from __future__ import annotations

import json
import math
import subprocess
import zipfile
from pathlib import Path

import pytest
from django.contrib.gis.geos import Point
from django.core.management import call_command
from django.core.management.base import CommandError

from grid.gridcheck import check_grid
from grid.importers import BoundaryImportError, import_boundaries
from grid.models import Community, District, GridCell, Street
from tests.base import report

# A new community square east of community A2, inside street A.
CODE = "420106002009"
WEST, SOUTH, EAST, NORTH = 114.3205, 30.5505, 114.3245, 30.5545
INSIDE = Point(114.3225, 30.5525, srid=4326)
METRE = 1e-5  # in degrees, a little more than a metre at this latitude


def square(x0=WEST, y0=SOUTH, x1=EAST, y1=NORTH) -> list:
    return [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]


def feature(code: str = CODE, name: str = "临江社区", rings=None, **props) -> dict:
    return {
        "type": "Feature",
        "properties": {"code": code, "name": name, **props},
        "geometry": {"type": "Polygon", "coordinates": rings or square()},
    }


def geojson(tmp_path: Path, *features, name: str = "in.geojson", crs: str | None = None) -> Path:
    collection = {"type": "FeatureCollection", "features": list(features or [feature()])}
    if crs:
        collection["crs"] = {"type": "name", "properties": {"name": crs}}
    path = tmp_path / name
    path.write_text(json.dumps(collection, ensure_ascii=False), encoding="utf-8")
    return path


def ogr2ogr(src: Path, dst: Path, fmt: str, *options: str) -> Path:
    subprocess.run(
        ["ogr2ogr", "-f", fmt, *options, str(dst), str(src)], check=True, capture_output=True
    )
    return dst


def shapefile(src: Path, dst: Path, *options: str) -> Path:
    return ogr2ogr(src, dst, "ESRI Shapefile", "-lco", "ENCODING=UTF-8", *options)


def zip_shapefile(shp: Path) -> Path:
    archive = shp.with_suffix(".zip")
    with zipfile.ZipFile(archive, "w") as z:
        for part in shp.parent.glob(f"{shp.stem}.*"):
            if part != archive:
                z.write(part, part.name)
    return archive


def counts() -> tuple[int, int, int, int]:
    return tuple(m.objects.count() for m in (District, Street, Community, GridCell))


def refused(path: Path, message: str, **options) -> BoundaryImportError:
    """Import expecting a refusal with `message` (a regex) and nothing written."""
    options.setdefault("level", "community")
    before = counts()
    with pytest.raises(BoundaryImportError, match=message) as excinfo:
        import_boundaries(path, **options)
    assert counts() == before
    return excinfo.value


def assert_imported_at_the_right_place(name: str = "临江社区"):
    community = Community.objects.get(code=CODE)
    assert community.name == name
    assert community.street.code == "420106002"
    assert community.boundary.srid == 4326
    assert community.boundary.contains(INSIDE)
    # The corners came back within about a metre: longitude first, latitude second.
    assert community.boundary.extent == pytest.approx((WEST, SOUTH, EAST, NORTH), abs=METRE)


def web_mercator(lon: float, lat: float) -> list[float]:
    """EPSG:3857 by its formula, independently of GDAL."""
    r = 6378137.0
    return [r * math.radians(lon), r * math.log(math.tan(math.pi / 4 + math.radians(lat) / 2))]


def test_it_imports_geojson_without_a_crs_as_wgs84(territory, tmp_path):
    result = import_boundaries(geojson(tmp_path), level="community", parent_code="420106002")
    assert (result.created, result.updated, result.unchanged) == (1, 0, 0)
    assert_imported_at_the_right_place()


def test_it_reads_cgcs2000_written_longitude_first(territory, tmp_path):
    # EPSG:4490 is latitude-first by the book; files hold longitude first.
    path = geojson(tmp_path, crs="EPSG:4490")
    import_boundaries(path, level="community")
    assert_imported_at_the_right_place()


def test_it_reprojects_web_mercator_computed_by_hand(territory, tmp_path):
    corners = [web_mercator(x, y) for x, y in square()[0]]
    path = geojson(tmp_path, feature(rings=[corners]), crs="EPSG:3857")
    import_boundaries(path, level="community")
    assert_imported_at_the_right_place()


@pytest.mark.parametrize(
    "fmt, suffix, options",
    [("GeoJSON", "geojson", ()), ("ESRI Shapefile", "shp", ("-lco", "ENCODING=UTF-8"))],
)
@pytest.mark.parametrize("epsg", ["EPSG:4326", "EPSG:4490", "EPSG:3857", "EPSG:4547"])
def test_it_reprojects_each_crs_to_wgs84(territory, tmp_path, fmt, suffix, options, epsg):
    # EPSG:4547 is CGCS2000 / 3-degree Gauss-Krüger CM 114E, northing first by the book.
    dst = tmp_path / f"out.{suffix}"
    path = ogr2ogr(geojson(tmp_path), dst, fmt, "-t_srs", epsg, *options)
    import_boundaries(path, level="community")
    assert_imported_at_the_right_place()


def test_it_imports_a_shapefile(territory, tmp_path):
    shp = shapefile(geojson(tmp_path), tmp_path / "c.shp", "-t_srs", "EPSG:4490")
    import_boundaries(shp, level="community", parent_code="420106002")
    assert_imported_at_the_right_place()


def test_it_imports_a_zipped_shapefile(territory, tmp_path):
    archive = zip_shapefile(shapefile(geojson(tmp_path), tmp_path / "c.shp"))
    for part in tmp_path.glob("c.*"):
        if part != archive:
            part.unlink()
    import_boundaries(archive, level="community")
    assert_imported_at_the_right_place()


def test_it_imports_a_geopackage(territory, tmp_path):
    gpkg = ogr2ogr(geojson(tmp_path), tmp_path / "c.gpkg", "GPKG", "-t_srs", "EPSG:3857")
    import_boundaries(gpkg, level="community", parent_code="420106002")
    assert_imported_at_the_right_place()


def test_it_asks_which_layer_of_a_geopackage_with_several(territory, tmp_path):
    gpkg = ogr2ogr(geojson(tmp_path), tmp_path / "c.gpkg", "GPKG", "-nln", "communities")
    ogr2ogr(geojson(tmp_path, feature(name="别的")), gpkg, "GPKG", "-update", "-nln", "other")
    refused(gpkg, r"2 layers \(communities, other\); choose one with --layer")
    import_boundaries(gpkg, level="community", layer_name="communities")
    assert_imported_at_the_right_place()


def test_a_gbk_shapefile_without_cpg_decodes_with_the_encoding_given(territory, tmp_path):
    chinese = {
        "type": "Feature",
        "properties": {"编码": CODE, "名称": "临江社区"},
        "geometry": {"type": "Polygon", "coordinates": square()},
    }
    src = geojson(tmp_path, chinese)
    shp = ogr2ogr(src, tmp_path / "gbk.shp", "ESRI Shapefile", "-lco", "ENCODING=CP936")
    (tmp_path / "gbk.cpg").unlink(missing_ok=True)
    dbf = (tmp_path / "gbk.dbf").read_bytes()
    assert "临江社区".encode("gbk") in dbf and "名称".encode("gbk") in dbf
    refused(shp, "--encoding cp936")
    import_boundaries(shp, level="community", encoding="cp936")
    assert_imported_at_the_right_place()


def test_an_encoding_given_for_utf8_geojson_leaves_it_alone(territory, tmp_path):
    import_boundaries(geojson(tmp_path), level="community", encoding="cp936")
    assert_imported_at_the_right_place()


def test_an_unknown_encoding_is_refused(territory, tmp_path):
    refused(geojson(tmp_path), "Unknown encoding klingon", encoding="klingon")


def test_a_bow_tie_is_repaired_and_reported(territory, tmp_path, capsys):
    bow_tie = [[[WEST, SOUTH], [EAST, NORTH], [EAST, SOUTH], [WEST, NORTH], [WEST, SOUTH]]]
    path = geojson(tmp_path, feature(rings=bow_tie))
    call_command("import_boundaries", str(path), "--level", "community")
    assert f"Repaired an invalid geometry: {CODE}" in capsys.readouterr().out
    community = Community.objects.get(code=CODE)
    assert community.boundary.valid
    assert len(community.boundary) == 2  # the two triangles of the bow tie
    # Half the square: each triangle is a quarter.
    assert community.boundary.area == pytest.approx((EAST - WEST) * (NORTH - SOUTH) / 2)


@pytest.mark.parametrize(
    "geometry, reason",
    [
        (
            # A ring that folds back on itself: no area to keep.
            {
                "type": "Polygon",
                "coordinates": [[[WEST, SOUTH], [EAST, NORTH]] * 2 + [[WEST, SOUTH]]],
            },
            r"its geometry is invalid and cannot be repaired \(Self-intersection",
        ),
        (
            {"type": "LineString", "coordinates": [[WEST, SOUTH], [EAST, NORTH]]},
            "it is a LineString, not a polygon",
        ),
        (None, "it has no geometry"),
        ({"type": "Polygon", "coordinates": []}, "it has no geometry"),
    ],
)
def test_a_bad_geometry_is_refused_naming_the_feature(territory, tmp_path, geometry, reason):
    good = feature()
    bad = feature("420106002010", "坏社区") | {"geometry": geometry}
    path = geojson(tmp_path, good, bad)
    refused(path, rf"Nothing was imported:\n  - feature 2 \(420106002010\): {reason}")


def test_a_file_that_is_not_geo_is_refused(territory, tmp_path):
    path = tmp_path / "notes.geojson"
    path.write_text("这不是地理文件", encoding="utf-8")
    refused(path, "notes.geojson is not a GeoJSON, Shapefile or GeoPackage file GDAL can read")


def test_a_table_without_geometry_is_refused(territory, tmp_path):
    # GDAL opens CSV happily, as a table with no geometry.
    path = tmp_path / "communities.csv"
    path.write_text(f"code,name\n{CODE},临江社区\n", encoding="utf-8")
    refused(path, "communities.csv is not a GeoJSON, Shapefile or GeoPackage file")


def test_a_missing_file_is_refused(territory, tmp_path):
    refused(tmp_path / "nowhere.geojson", "nowhere.geojson does not exist")


def test_a_shapefile_without_a_crs_is_refused(territory, tmp_path):
    shp = shapefile(geojson(tmp_path), tmp_path / "c.shp")
    (tmp_path / "c.prj").unlink()
    refused(shp, r"c.shp has no coordinate reference system \(a Shapefile needs its .prj\)")


def test_an_unknown_crs_is_refused(territory, tmp_path):
    shp = shapefile(geojson(tmp_path), tmp_path / "c.shp")
    (tmp_path / "c.prj").write_text(
        'LOCAL_CS["site grid",LOCAL_DATUM["local",0],UNIT["metre",1],'
        'AXIS["X",EAST],AXIS["Y",NORTH]]'
    )
    refused(shp, "The coordinate reference system of c.shp is unknown: site grid")


def test_projected_coordinates_labelled_wgs84_are_refused(territory, tmp_path):
    # A GeoJSON without "crs" whose coordinates are really Web Mercator metres.
    corners = [web_mercator(x, y) for x, y in square()[0]]
    path = geojson(tmp_path, feature(rings=[corners]))
    refused(path, r"feature 1 \(420106002009\): its coordinates are not longitude and latitude")


@pytest.mark.parametrize(
    "level, parent, message",
    [
        ("street", None, r"the code '420106002009' is not a 9-digit street code"),
        ("cell", None, r"the code '420106002009' is not a 15-digit grid cell code"),
        ("community", "420106003", r"feature 1 \(420106002009\) is not under 420106003"),
        ("community", "420106999", "No street has the code 420106999"),
    ],
)
def test_wrong_level_or_parent_is_refused(territory, tmp_path, level, parent, message):
    refused(geojson(tmp_path), message, level=level, parent_code=parent)


def test_a_code_whose_parent_is_unknown_is_refused(territory, tmp_path):
    path = geojson(tmp_path, feature("420106777001", "无主社区"))
    refused(path, r"feature 1 \(420106777001\): no street 420106777 to put it in")


def test_a_district_has_no_parent(db, tmp_path):
    path = geojson(tmp_path, feature("420106", "武昌区"))
    refused(path, "A district has no parent", level="district", parent_code="420100")
    import_boundaries(path, level="district")
    assert District.objects.get(code="420106").name == "武昌区"


def test_one_bad_feature_stops_the_whole_import(territory, tmp_path):
    path = geojson(tmp_path, feature(), feature("4201060020", "短码"))
    refused(path, r"feature 2 \(4201060020\): the code '4201060020' is not a 12-digit")
    assert not Community.objects.filter(code=CODE).exists()


def test_a_code_twice_in_one_file_is_refused(territory, tmp_path):
    path = geojson(tmp_path, feature(), feature(name="又一个"))
    refused(path, f"The code {CODE} appears more than once")


def test_a_file_without_a_code_field_asks_for_one(territory, tmp_path):
    nameless = {"type": "Feature", "properties": {"BH": CODE, "name": "临江社区"}}
    nameless["geometry"] = {"type": "Polygon", "coordinates": square()}
    refused(geojson(tmp_path, nameless), "name it with --code-field")


def test_importing_the_same_file_again_changes_nothing(territory, tmp_path, capsys):
    path = ogr2ogr(geojson(tmp_path), tmp_path / "c.gpkg", "GPKG", "-t_srs", "EPSG:4490")
    call_command("import_boundaries", str(path), "--level", "community")
    assert "1 created, 0 updated, 0 unchanged" in capsys.readouterr().out
    before = Community.objects.get(code=CODE)
    call_command("import_boundaries", str(path), "--level", "community")
    assert "0 created, 0 updated, 1 unchanged" in capsys.readouterr().out
    after = Community.objects.get(code=CODE)
    assert (after.name, after.boundary.wkb) == (before.name, before.boundary.wkb)


def test_a_repaired_geometry_is_unchanged_the_second_time(territory, tmp_path):
    bow_tie = [[[WEST, SOUTH], [EAST, NORTH], [EAST, SOUTH], [WEST, NORTH], [WEST, SOUTH]]]
    path = geojson(tmp_path, feature(rings=bow_tie))
    import_boundaries(path, level="community")
    result = import_boundaries(path, level="community")
    assert (result.created, result.updated, result.unchanged) == (0, 0, 1)


def test_the_same_boundary_drawn_from_another_corner_is_unchanged(territory, tmp_path):
    import_boundaries(geojson(tmp_path), level="community")
    ring = square()[0][:-1]
    redrawn = ring[2:] + ring[:2]
    path = geojson(tmp_path, feature(rings=[[*redrawn, redrawn[0]]]), name="r.geojson")
    result = import_boundaries(path, level="community")
    assert (result.created, result.updated, result.unchanged) == (0, 0, 1)


def test_a_changed_name_or_boundary_is_an_update(territory, tmp_path):
    import_boundaries(geojson(tmp_path), level="community")
    renamed = geojson(tmp_path, feature(name="临江新社区"), name="r.geojson")
    result = import_boundaries(renamed, level="community")
    assert (result.created, result.updated, result.unchanged) == (0, 1, 0)
    assert Community.objects.get(code=CODE).name == "临江新社区"
    moved = geojson(tmp_path, feature(name="临江新社区", rings=square(y1=NORTH + 0.001)))
    result = import_boundaries(moved, level="community")
    assert (result.created, result.updated, result.unchanged) == (0, 1, 0)
    assert Community.objects.get(code=CODE).boundary.extent[3] == pytest.approx(NORTH + 0.001)


def test_a_refused_update_leaves_the_old_rows(territory, tmp_path):
    import_boundaries(geojson(tmp_path), level="community")
    path = geojson(tmp_path, feature(name="改名"), feature("420106002010", "坏", rings=[[]]))
    refused(path, "420106002010")
    assert Community.objects.get(code=CODE).name == "临江社区"


def test_cells_carry_households_and_population(territory, tmp_path):
    # Cell 005 takes the place of 004 (south-east in community A1).
    territory.cell("420106002001004").delete()
    place = square(114.305, 30.55, 114.31, 30.555)
    cell = feature("420106002001005", "新网格", rings=place, 户数=420, 人口=1130)
    import_boundaries(geojson(tmp_path, cell), level="cell", parent_code="420106002001")
    imported = GridCell.objects.get(code="420106002001005")
    assert (imported.households, imported.population) == (420, 1130)
    # A file without the figures renames the cell but keeps them.
    renamed = geojson(
        tmp_path, feature("420106002001005", "新网格二", rings=place), name="r.geojson"
    )
    import_boundaries(renamed, level="cell")
    imported.refresh_from_db()
    assert (imported.name, imported.households, imported.population) == ("新网格二", 420, 1130)
    # So does one whose figures are left blank.
    blank = feature("420106002001005", "新网格三", rings=place, households=None, population=None)
    import_boundaries(geojson(tmp_path, blank, name="b.geojson"), level="cell")
    imported.refresh_from_db()
    assert (imported.name, imported.households, imported.population) == ("新网格三", 420, 1130)


def test_a_negative_population_is_refused(territory, tmp_path):
    cell = feature("420106002001005", "新网格", population=-3)
    refused(geojson(tmp_path, cell), "population must be a whole number of 0 or more", level="cell")


def test_a_code_kept_as_a_real_number_in_a_shapefile_is_read(territory, tmp_path):
    src = geojson(tmp_path, feature(code=float(CODE)))
    shp = shapefile(src, tmp_path / "c.shp")
    import_boundaries(shp, level="community")
    assert_imported_at_the_right_place()


def test_heights_are_dropped(territory, tmp_path):
    rings = [[[x, y, 25.0] for x, y in square()[0]]]
    import_boundaries(geojson(tmp_path, feature(rings=rings)), level="community")
    assert not Community.objects.get(code=CODE).boundary.hasz
    assert_imported_at_the_right_place()


def test_the_command_uses_the_named_fields_and_reports_counts(territory, tmp_path, capsys):
    street = {
        "type": "Feature",
        "properties": {"JDDM": "420106015", "JDMC": "南湖街道"},
        # In the district, east of streets A and B.
        "geometry": {"type": "Polygon", "coordinates": square(114.326, 30.555, 114.329, 30.558)},
    }
    path = str(geojson(tmp_path, street))
    with pytest.raises(CommandError, match="There is no field CODE; the fields are: JDDM, JDMC"):
        call_command("import_boundaries", path, "--level", "street", "--code-field", "CODE")
    assert not Street.objects.filter(code="420106015").exists()
    call_command(
        "import_boundaries",
        path,
        "--level=street",
        "--parent=420106",
        "--code-field=JDDM",
        "--name-field=JDMC",
    )
    assert capsys.readouterr().out == "1 created, 0 updated, 0 unchanged\n"
    street = Street.objects.get(code="420106015")
    assert (street.name, street.district.code) == ("南湖街道", "420106")


# ---- a supplier's file: codes of its own, encodings, CRSs, doubtful names ----------

# Two communities east of A2 in a supplier's file, coded under the old district 420102.
NORTH_HALF = square(y0=(SOUTH + NORTH) / 2)
SOUTH_HALF = square(y1=(SOUTH + NORTH) / 2)


def supplier_file(tmp_path: Path, name: str = "supplier.geojson") -> Path:
    return geojson(
        tmp_path,
        # The file lists the southern one first: numbering goes north→south all the same.
        feature("420102002102", "南临江社区", rings=SOUTH_HALF),
        feature("420102002101", "北临江社区", rings=NORTH_HALF),
        name=name,
    )


def test_a_suppliers_file_is_placed_under_a_street_and_numbered(territory, tmp_path, capsys):
    path = str(supplier_file(tmp_path))
    call_command("import_boundaries", path, "--level=community", "--parent=420106002", "--renumber")
    out = capsys.readouterr().out
    # Street A has 001 and 002: the new ones follow, north first.
    assert "420102002101 → 420106002003" in out
    assert "420102002102 → 420106002004" in out
    north, south = Community.objects.filter(code__in=["420106002003", "420106002004"])
    assert (north.name, north.external_code, north.street.code) == (
        "北临江社区",
        "420102002101",
        "420106002",
    )
    assert (south.name, south.external_code) == ("南临江社区", "420102002102")
    # Again, with the file's order changed: the same units keep their numbers.
    call_command("import_boundaries", path, "--level=community", "--parent=420106002", "--renumber")
    assert "0 created, 0 updated, 2 unchanged" in capsys.readouterr().out


def test_renumbering_needs_the_parent(territory, tmp_path):
    refused(supplier_file(tmp_path), "--renumber needs --parent", renumber=True)


def test_a_code_map_gives_each_file_code_ours(territory, tmp_path, capsys):
    table = tmp_path / "map.csv"
    table.write_text("file_code,code\n420102002101,420106002011\n420102002102,420106002012\n")
    call_command(
        "import_boundaries", str(supplier_file(tmp_path)), "--level=community",
        "--code-map", str(table),
    )  # fmt: skip
    assert Community.objects.get(code="420106002011").external_code == "420102002101"
    assert Community.objects.get(code="420106002012").name == "南临江社区"
    table.write_text("420102002101,420106002011\n")
    with pytest.raises(CommandError, match=r"feature 1 \(420102002102\) is not in the code map"):
        call_command(
            "import_boundaries", str(supplier_file(tmp_path, "again.geojson")),
            "--level=community", "--code-map", str(table),
        )  # fmt: skip


def test_an_encoding_that_contradicts_the_cpg_is_refused(territory, tmp_path):
    # README's example passes --encoding cp936; this file says UTF-8 in its .cpg.
    shp = shapefile(geojson(tmp_path), tmp_path / "utf8.shp")
    assert (tmp_path / "utf8.cpg").read_text().strip() == "UTF-8"
    refused(shp, r"declares its encoding as utf-8 \(its .cpg\), but --encoding says gbk",
            encoding="cp936")  # fmt: skip
    zipped = zip_shapefile(shp)
    refused(zipped, "declares its encoding as utf-8", encoding="cp936")
    # The same encoding by another name is no contradiction.
    import_boundaries(shp, level="community", encoding="UTF8")
    assert_imported_at_the_right_place()


def test_a_utf8_name_read_as_gbk_is_refused_even_without_a_cpg(territory, tmp_path):
    # Read as cp936, the UTF-8 bytes of 临江社区 decode to other characters that
    # encode back to the same bytes: without this check they would be written.
    shp = shapefile(geojson(tmp_path), tmp_path / "utf8.shp")
    (tmp_path / "utf8.cpg").unlink()
    refused(shp, r"feature 1 \(420106002009\): its name reads '临江社区' in UTF-8: the file "
            "looks UTF-8; leave out --encoding", encoding="cp936")  # fmt: skip
    import_boundaries(shp, level="community")
    assert_imported_at_the_right_place()


def test_a_file_without_a_crs_is_read_in_the_srid_given(territory, tmp_path, capsys):
    shp = shapefile(geojson(tmp_path), tmp_path / "c.shp", "-t_srs", "EPSG:3857")
    (tmp_path / "c.prj").unlink()
    refused(shp, "give it with --srid")
    call_command("import_boundaries", str(shp), "--level=community", "--srid=3857")
    assert_imported_at_the_right_place()


def test_an_srid_that_contradicts_the_files_crs_is_refused(territory, tmp_path):
    shp = shapefile(geojson(tmp_path), tmp_path / "c.shp", "-t_srs", "EPSG:3857")
    refused(shp, "declares its coordinate reference system .*; leave out --srid", srid=4490)
    (tmp_path / "c.prj").unlink()
    refused(shp, "No coordinate reference system has the SRID 999999", srid=999999)


def test_a_name_with_question_marks_is_imported_with_a_warning(territory, tmp_path, capsys):
    path = geojson(tmp_path, feature(name="临??社区"))
    call_command("import_boundaries", str(path), "--level=community")
    err = capsys.readouterr().err
    assert "Warning: feature 1 (420106002009): the name '临??社区' has \"?\" in it" in err
    assert Community.objects.get(code=CODE).name == "临??社区"


def test_a_large_file_reports_its_progress(territory, tmp_path, capsys, monkeypatch):
    from grid import importers

    monkeypatch.setattr(importers, "PROGRESS_EVERY", 2)
    halves = [
        feature("420106002011", "一", rings=square(y0=SOUTH, y1=SOUTH + 0.001)),
        feature("420106002012", "二", rings=square(y0=SOUTH + 0.001, y1=SOUTH + 0.002)),
        feature("420106002013", "三", rings=square(y0=SOUTH + 0.002, y1=SOUTH + 0.003)),
    ]
    call_command("import_boundaries", str(geojson(tmp_path, *halves)), "--level=community")
    err = capsys.readouterr().err
    assert "read 2 of 3 features" in err and "read 3 of 3 features" in err
    assert "saved 2 of 3" in err and "saved 3 of 3" in err


def test_a_dry_run_reports_what_would_change_and_writes_nothing(territory, tmp_path, capsys):
    import_boundaries(geojson(tmp_path), level="community")
    before = Community.objects.get(code=CODE)
    changed = geojson(
        tmp_path,
        feature(name="临江新社区", rings=square(y1=NORTH + 0.001)),
        feature("420106002010", "新社区", rings=square(y0=NORTH + 0.002, y1=NORTH + 0.004)),
        name="changed.geojson",
    )
    call_command("import_boundaries", str(changed), "--level=community", "--dry-run")
    assert "Dry run, nothing written: 1 created, 1 updated, 0 unchanged" in (
        capsys.readouterr().out
    )
    after = Community.objects.get(code=CODE)
    assert (after.name, after.boundary.wkb) == (before.name, before.boundary.wkb)
    assert not Community.objects.filter(code="420106002010").exists()


def test_the_help_explains_renumbering_the_code_map_and_replacing(capsys):
    with pytest.raises(SystemExit):
        call_command("import_boundaries", "--help")
    out = capsys.readouterr().out
    for words in ("--renumber", "north→south, west→east", "--code-map", "external code",
                  "--srid", "--replace", "--dry-run", ".cpg"):  # fmt: skip
        assert words in out


# ---- boundaries against their neighbours; replacing them ----------------------------


def test_an_import_over_the_neighbours_and_out_of_the_street_is_refused(territory, tmp_path):
    # The file: 74 % over A1, 22 % over A2, 5 % south of street A.
    path = geojson(tmp_path, feature("420106002003", "重划社区",
                                     rings=square(114.3026, 30.5495, 114.3122, 30.56)))  # fmt: skip
    error = refused(path, "Use --replace if these boundaries replace the old ones")
    message = str(error)
    assert "Community 420106002003 overlaps 420106002001 by" in message
    assert "74 % of 420106002001" in message
    assert "22 % of 420106002002" in message
    assert "Community 420106002003 lies" in message and "(5 %) outside street 420106002" in message
    # Replacing cannot put a community outside its street either.
    refused(path, r"\(5 %\) outside street 420106002", replace=True)


def test_an_imported_cell_over_other_cells_is_refused(territory, tmp_path):
    territory.cell("420106002002004").delete()
    # A2's south-east cell drawn 0.001° into A2's north-east one, and 0.001° into A1's
    # 002 by its western neighbour in the same file.
    east = feature("420106002002005", "新网格", rings=square(114.315, 30.55, 114.32, 30.556))
    west = feature("420106002002006", "西网格", rings=square(114.309, 30.55, 114.3155, 30.555))
    territory.cell("420106002002003").delete()
    error = str(refused(geojson(tmp_path, east, west), "overlap", level="cell"))
    assert "Cells 420106002002002 and 420106002002005 overlap by" in error
    assert "Cells 420106002002005 and 420106002002006 overlap by" in error
    assert "Cells 420106002001004 and 420106002002006 overlap by" in error
    assert "m²" in error


def test_a_community_whose_cells_would_stick_out_is_refused(territory, tmp_path):
    shrunk = feature("420106002002", "新河社区", rings=square(114.3125, 30.55, 114.32, 30.56))
    error = refused(geojson(tmp_path, shrunk), "Use --replace")
    assert "Cell 420106002002001 lies" in str(error) and "outside community 420106002002" in (
        str(error)
    )


# A1 redrawn 0.0025° east, into A2's western strip.
A1_REDRAWN = square(114.30, 30.55, 114.3125, 30.56)
IN_THE_STRIP = (114.311, 30.558)  # in A2's cell 001 before, in A1 (no cell there) after
STILL_A2 = (114.318, 30.558)


def test_replacing_a_communitys_boundary_clips_its_neighbour_and_relocates_open_cases(
    cast, territory, tmp_path, capsys
):
    from cases.models import Case

    moving = report(cast.dispatcher, point=IN_THE_STRIP, source="hotline")
    staying = report(cast.dispatcher, point=STILL_A2, source="hotline")
    assert moving.cell.code == "420106002002001"
    path = str(geojson(tmp_path, feature("420106002001", "和平社区", rings=A1_REDRAWN)))
    with pytest.raises(CommandError, match="420106002001 overlaps 420106002002 by"):
        call_command("import_boundaries", path, "--level=community")
    call_command("import_boundaries", path, "--level=community", "--replace")
    out = capsys.readouterr().out
    assert "Clipped: 420106002002, 420106002002001, 420106002002003" in out
    assert "1 open case(s) re-located" in out
    a2 = Community.objects.get(code="420106002002")
    assert a2.boundary.extent == pytest.approx((114.3125, 30.55, 114.32, 30.56), abs=METRE)
    moving = Case.objects.get(pk=moving.pk)
    assert (moving.community.code, moving.cell) == ("420106002001", None)
    entry = moving.timeline.order_by("-seq").first()
    assert entry.action == "relocated"
    assert entry.data["from"]["cell"] == "420106002002001"
    assert entry.data["to"] == {"street": "420106002", "community": "420106002001", "cell": None}
    assert "420106002002001" in entry.note
    # The step is new to A1's dispatcher, who owns it now: told, as a transfer tells.
    from cases.models import Notification

    assert Notification.objects.filter(user=cast.dispatcher, case=moving, kind="task").exists()
    assert Case.objects.get(pk=staying.pk).cell.code == "420106002002002"
    assert staying.timeline.count() == 1
    # The territory is consistent again apart from A1's new strip, which has no cells yet.
    assert [p.kind for p in check_grid("420106002")] == ["gap"]


def test_a_dry_run_of_a_replacement_reports_the_moves_and_makes_none(
    cast, territory, tmp_path, capsys
):
    from cases.models import Case

    moving = report(cast.dispatcher, point=IN_THE_STRIP, source="hotline")
    path = str(geojson(tmp_path, feature("420106002001", "和平社区", rings=A1_REDRAWN)))
    call_command("import_boundaries", path, "--level=community", "--replace", "--dry-run")
    out = capsys.readouterr().out
    assert "1 open case(s) re-located" in out
    assert "Dry run, nothing written: 0 created, 1 updated, 0 unchanged" in out
    assert Case.objects.get(pk=moving.pk).cell.code == "420106002002001"
    assert moving.timeline.count() == 1
    assert Community.objects.get(code="420106002002").boundary.extent[0] == pytest.approx(114.31)


def test_a_closed_case_stays_where_it_was_reported(cast, territory, tmp_path):
    from cases.models import Case, State

    closed = report(cast.dispatcher, point=IN_THE_STRIP, source="hotline")
    Case.objects.filter(pk=closed.pk).update(state=State.CLOSED)
    path = geojson(tmp_path, feature("420106002001", "和平社区", rings=A1_REDRAWN))
    import_boundaries(path, level="community", replace=True)
    assert Case.objects.get(pk=closed.pk).cell.code == "420106002002001"
