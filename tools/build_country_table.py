"""Regenerate pipeline/classify/data/countries.tsv: ISO 3166-1 alpha-2 -> UN M49 areas and demonyms.

Sources (read at build time only; feedlake does not import them):
- UN M49 geographic regions and subregions ("Standard country or area codes for statistical
  use", UN Statistics Division), as tabulated in country_converter's country_data.tsv
  (columns ISO2, UNcode, continent, UNregion);
- demonyms from countryinfo's per-country JSON (field "demonym"), plus the extra forms in
  EXTRA_DEMONYMS below, which news copy uses and countryinfo lacks.

    pip install country-converter==1.3.2 countryinfo==1.0.1
    python tools/build_country_table.py > pipeline/classify/data/countries.tsv
"""

from __future__ import annotations

import csv
import glob
import importlib.util
import json
import os
import re
import sys

M49_REGIONS = {
    "Africa": ("africa", "002"),
    "America": ("americas", "019"),
    "Asia": ("asia", "142"),
    "Europe": ("europe", "150"),
    "Oceania": ("oceania", "009"),
}
M49_SUBREGIONS = {
    "Northern Africa": "015",
    "Eastern Africa": "014",
    "Middle Africa": "017",
    "Southern Africa": "018",
    "Western Africa": "011",
    "Caribbean": "029",
    "Central America": "013",
    "South America": "005",
    "Northern America": "021",
    "Central Asia": "143",
    "Eastern Asia": "030",
    "South-eastern Asia": "035",
    "Southern Asia": "034",
    "Western Asia": "145",
    "Eastern Europe": "151",
    "Northern Europe": "154",
    "Southern Europe": "039",
    "Western Europe": "155",
    "Australia and New Zealand": "053",
    "Melanesia": "054",
    "Micronesia": "057",
    "Polynesia": "061",
}
EXTRA_DEMONYMS = {
    "KZ": ["Kazakh"],
    "KG": ["Kyrgyz"],
    "UZ": ["Uzbek"],
    "TJ": ["Tajik"],
    "TM": ["Turkmen"],
    "BY": ["Belarusian"],
    "AE": ["Emirati"],
    "PH": ["Filipino"],
    "MM": ["Burmese"],
    "LA": ["Lao"],
    "KR": ["South Korean"],
    "KP": ["North Korean"],
    "NL": ["Dutch"],
    "CH": ["Swiss"],
    "GB": ["Briton"],
    "SA": ["Saudi"],
    "CD": [],
    "TW": ["Taiwanese"],
    "PS": ["Palestinian"],
    "VN": ["Vietnamese"],
    "CN": ["Chinese"],
    "RU": ["Russian"],
}
AMBIGUOUS = {"Congolese", "Korean", "Guinean", "Dominican", "Samoan", "Virgin Islander"}


def package_folder(name: str) -> str:
    """Where an installed package's files are, without importing it (coco imports pandas)."""
    return importlib.util.find_spec(name).submodule_search_locations[0]


def demonyms() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    folder = os.path.join(package_folder("countryinfo"), "data")
    for path in glob.glob(os.path.join(folder, "*.json")):
        with open(path, encoding="utf-8") as fh:
            info = json.load(fh)
        alpha2 = (info.get("ISO") or {}).get("alpha2")
        if alpha2 and info.get("demonym"):
            found.setdefault(alpha2, []).append(info["demonym"])
    for alpha2, extra in EXTRA_DEMONYMS.items():
        found.setdefault(alpha2, []).extend(extra)
    return {
        alpha2: sorted({d for d in names if d not in AMBIGUOUS}) for alpha2, names in found.items()
    }


def main() -> None:
    table = os.path.join(package_folder("country_converter"), "country_data.tsv")
    with open(table, encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    names = demonyms()
    out = csv.writer(sys.stdout, delimiter="\t", lineterminator="\n")
    print("# ISO 3166-1 alpha-2 to UN M49 region and subregion, with demonyms.")
    print("# Sources: UN Statistics Division M49 (via country_converter 1.3.2 country_data.tsv);")
    print("# demonyms from countryinfo 1.0.1 plus tools/build_country_table.py EXTRA_DEMONYMS.")
    print("# Regenerate with tools/build_country_table.py.")
    out.writerow(
        ["alpha2", "name", "m49", "subregion", "subregion_m49", "region", "region_m49", "demonyms"]
    )
    for row in sorted(rows, key=lambda r: r["ISO2"]):
        # A few ISO2 cells hold a pattern ("^GB$|^UK$"): the first code in it is the ISO one.
        code = re.search(r"[A-Z]{2}", row["ISO2"])
        if code is None or row["obsolete"]:
            continue
        alpha2 = code.group()
        region, region_code = M49_REGIONS.get(row["continent"], ("unknown", ""))
        subregion = row["UNregion"] if row["UNregion"] in M49_SUBREGIONS else ""
        out.writerow(
            [
                alpha2,
                row["name_short"],
                row["UNcode"],
                subregion,
                M49_SUBREGIONS.get(subregion, ""),
                region,
                region_code,
                "|".join(names.get(alpha2, [])),
            ]
        )


if __name__ == "__main__":
    main()
