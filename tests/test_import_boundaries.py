"""import_boundaries: formats, CRSs, encodings, repair, refusal and idempotence.

Fixture files are made here with GDAL's ogr2ogr from small GeoJSON written
by hand, so every format and CRS is the real thing.
"""

from __future__ import annotations

import json
import subprocess
import zipfile
from pathlib import Path

import pytest
from django.contrib.gis.geos import Point
from django.core.management import call_command
from django.core.management.base import CommandError

from grid.importers import BoundaryImportError, import_boundaries, read
from grid.models import Community, GridCell, Street

# A community square east of the test territory, inside street A's district.
WEST, SOUTH, EAST, NORTH = 114.3205, 30.5505, 114.3245, 30.5545
INSIDE = Point(114.3225, 30.5525, srid=4326)


def square(x0=WEST, y0=SOUTH, x1=EAST, y1=NORTH) -> list:
    return [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]


def feature(code: str, name: str, rings=None, **props) -> dict:
    return {
        "type": "Feature",
        "properties": {"code": code, "name": name, **props},
        "geometry": {"type": "Polygon", "coordinates": rings or square()},
    }


def geojson(tmp_path: Path, *features, name="in.geojson") -> Path:
    path = tmp_path / name
    path.write_text(
        json.dumps({"type": "FeatureCollection", "features": list(features)}), encoding="utf-8"
    )
    return path


def ogr2ogr(src: Path, dst: Path, fmt: str, *options: str) -> Path:
    subprocess.run(
        ["ogr2ogr", "-f", fmt, *options, str(dst), str(src)], check=True, capture_output=True
    )
    return dst


def community_file(tmp_path: Path) -> Path:
    return geojson(tmp_path, feature("420106002009", "临江社区"))


def assert_imported_at_the_right_place():
    community = Community.objects.get(code="420106002009")
    assert community.name == "临江社区"
    assert community.boundary.contains(INSIDE)
    # The corners came back within a metre (1e-5° ≈ 1 m).
    x0, y0, x1, y1 = community.boundary.extent
    assert (x0, y0, x1, y1) == pytest.approx((WEST, SOUTH, EAST, NORTH), abs=1e-5)


def test_it_imports_geojson_in_wgs84(territory, tmp_path):
    result = import_boundaries(community_file(tmp_path), level="community", parent_code="420106002")
    assert (result.created, result.updated, result.unchanged) == (1, 0, 0)
    assert_imported_at_the_right_place()


@pytest.mark.parametrize("epsg", ["EPSG:4490", "EPSG:3857"])
def test_it_reprojects_cgcs2000_and_web_mercator(territory, tmp_path, epsg):
    src = community_file(tmp_path)
    path = ogr2ogr(src, tmp_path / "out.geojson", "GeoJSON", "-t_srs", epsg)
    assert epsg.split(":")[1] in path.read_text()
    import_boundaries(path, level="community", parent_code="420106002")
    assert_imported_at_the_right_place()


def test_it_imports_a_shapefile_and_a_zipped_one(territory, tmp_path):
    shp = ogr2ogr(
        community_file(tmp_path),
        tmp_path / "c.shp",
        "ESRI Shapefile",
        "-t_srs",
        "EPSG:4490",
        "-lco",
        "ENCODING=UTF-8",
    )
    import_boundaries(shp, level="community")
    assert_imported_at_the_right_place()
    Community.objects.filter(code="420106002009").delete()
    archive = tmp_path / "c.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for part in tmp_path.glob("c.*"):
            if part.suffix != ".zip":
                z.write(part, part.name)
    import_boundaries(archive, level="community")
    assert_imported_at_the_right_place()


def test_it_imports_a_geopackage(territory, tmp_path):
    gpkg = ogr2ogr(community_file(tmp_path), tmp_path / "c.gpkg", "GPKG", "-t_srs", "EPSG:3857")
    import_boundaries(gpkg, level="community", parent_code="420106002")
    assert_imported_at_the_right_place()


def test_a_gbk_shapefile_without_cpg_decodes_with_the_encoding_given(territory, tmp_path):
    shp = ogr2ogr(
        community_file(tmp_path), tmp_path / "gbk.shp", "ESRI Shapefile", "-lco", "ENCODING=CP936"
    )
    (tmp_path / "gbk.cpg").unlink(missing_ok=True)
    assert "临江".encode("gbk") in (tmp_path / "gbk.dbf").read_bytes()
    with pytest.raises(BoundaryImportError, match="--encoding cp936"):
        read(shp, level="community")
    import_boundaries(shp, level="community", encoding="cp936")
    assert_imported_at_the_right_place()


def test_a_bow_tie_is_repaired_and_reported(territory, tmp_path, capsys):
    bow_tie = [[[WEST, SOUTH], [EAST, NORTH], [EAST, SOUTH], [WEST, NORTH], [WEST, SOUTH]]]
    path = geojson(tmp_path, feature("420106002009", "临江社区", bow_tie))
    call_command("import_boundaries", str(path), "--level", "community")
    assert "repaired invalid geometry: 420106002009" in capsys.readouterr().out
    community = Community.objects.get(code="420106002009")
    assert community.boundary.valid
    assert len(community.boundary) == 2  # the two triangles of the bow tie


def test_a_broken_geometry_is_refused_naming_the_feature(territory, tmp_path):
    line = {"type": "LineString", "coordinates": [[WEST, SOUTH], [EAST, NORTH]]}
    good = feature("420106002009", "临江社区")
    bad = feature("420106002010", "坏社区") | {"geometry": line}
    with pytest.raises(BoundaryImportError, match=r"feature 2 \(420106002010\).*LineString"):
        import_boundaries(geojson(tmp_path, good, bad), level="community")
    assert not Community.objects.filter(code__in=["420106002009", "420106002010"]).exists()


def test_a_file_that_is_not_geo_is_refused(territory, tmp_path):
    path = tmp_path / "notes.geojson"
    path.write_text("这不是地理文件", encoding="utf-8")
    with pytest.raises(BoundaryImportError, match="not a GeoJSON, Shapefile or GeoPackage"):
        import_boundaries(path, level="community")


def test_a_shapefile_without_a_crs_is_refused(territory, tmp_path):
    shp = ogr2ogr(community_file(tmp_path), tmp_path / "c.shp", "ESRI Shapefile")
    (tmp_path / "c.prj").unlink()
    with pytest.raises(BoundaryImportError, match="no coordinate reference system"):
        import_boundaries(shp, level="community")
    assert not Community.objects.filter(code="420106002009").exists()


def test_an_unknown_crs_is_refused(territory, tmp_path):
    src = community_file(tmp_path)
    engineering = (
        'LOCAL_CS["site grid",LOCAL_DATUM["local",0],UNIT["metre",1],'
        'AXIS["X",EAST],AXIS["Y",NORTH]]'
    )
    shp = ogr2ogr(src, tmp_path / "c.shp", "ESRI Shapefile")
    (tmp_path / "c.prj").write_text(engineering)
    with pytest.raises(BoundaryImportError, match="unknown|cannot be reprojected"):
        import_boundaries(shp, level="community")
    assert not Community.objects.filter(code="420106002009").exists()


@pytest.mark.parametrize(
    "level, parent, message",
    [
        ("street", None, "not a 9-digit street code"),
        ("community", "420106003", "is not under 420106003"),
        ("community", "420106999", "No street has the code 420106999"),
        ("cell", None, "not a 15-digit cell code"),
    ],
)
def test_wrong_level_or_parent_is_refused(territory, tmp_path, level, parent, message):
    with pytest.raises(BoundaryImportError, match=message):
        import_boundaries(community_file(tmp_path), level=level, parent_code=parent)
    assert not Community.objects.filter(code="420106002009").exists()


def test_a_code_whose_parent_is_unknown_is_refused(territory, tmp_path):
    path = geojson(tmp_path, feature("420106777001", "无主社区"))
    with pytest.raises(BoundaryImportError, match="no street 420106777"):
        import_boundaries(path, level="community")


def test_one_bad_feature_stops_the_whole_import(territory, tmp_path):
    path = geojson(tmp_path, feature("420106002009", "临江社区"), feature("4201060020", "短码"))
    with pytest.raises(BoundaryImportError, match="4201060020"):
        import_boundaries(path, level="community")
    assert not Community.objects.filter(code="420106002009").exists()


def test_importing_the_same_file_again_changes_nothing(territory, tmp_path, capsys):
    path = ogr2ogr(community_file(tmp_path), tmp_path / "c.gpkg", "GPKG", "-t_srs", "EPSG:4490")
    call_command("import_boundaries", str(path), "--level", "community")
    before = Community.objects.get(code="420106002009")
    call_command("import_boundaries", str(path), "--level", "community")
    out = capsys.readouterr().out
    assert "0 created, 0 updated, 1 unchanged" in out
    after = Community.objects.get(code="420106002009")
    assert after.boundary.wkb == before.boundary.wkb


def test_a_changed_name_is_an_update(territory, tmp_path):
    import_boundaries(community_file(tmp_path), level="community")
    renamed = geojson(tmp_path, feature("420106002009", "临江新社区"), name="r.geojson")
    result = import_boundaries(renamed, level="community")
    assert (result.created, result.updated, result.unchanged) == (0, 1, 0)
    assert Community.objects.get(code="420106002009").name == "临江新社区"


def test_cells_carry_households_and_population(territory, tmp_path):
    cell = feature("420106002001005", "新网格", households=420, population=1130)
    import_boundaries(geojson(tmp_path, cell), level="cell", parent_code="420106002001")
    imported = GridCell.objects.get(code="420106002001005")
    assert (imported.households, imported.population) == (420, 1130)


def test_streets_use_the_named_fields(territory, tmp_path):
    street = {
        "type": "Feature",
        "properties": {"XZQDM": "420106015", "XZQMC": "南湖街道"},
        "geometry": {"type": "Polygon", "coordinates": square()},
    }
    with pytest.raises(CommandError, match="no field"):
        call_command(
            "import_boundaries",
            str(geojson(tmp_path, street)),
            "--level",
            "street",
            "--code-field",
            "CODE",
        )
    call_command(
        "import_boundaries",
        str(geojson(tmp_path, street)),
        "--level",
        "street",
        "--code-field",
        "XZQDM",
        "--name-field",
        "XZQMC",
    )
    assert Street.objects.get(code="420106015").name == "南湖街道"
