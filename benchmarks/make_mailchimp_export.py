"""Write a synthetic Mailchimp "subscribed members" export of N rows, for `consentgate import`.

    .venv/bin/python benchmarks/make_mailchimp_export.py 1000000 /tmp/imp/subscribed.csv

Nine rows in ten are double opt-in (OPTIN_TIME and CONFIRM_TIME), one in ten single opt-in; one
row in a thousand has a broken address, so the rejects path is measured too.
"""

from __future__ import annotations

import csv
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

HEADER = [
    "Email Address",
    "First Name",
    "Last Name",
    "MEMBER_RATING",
    "OPTIN_TIME",
    "OPTIN_IP",
    "CONFIRM_TIME",
    "CONFIRM_IP",
    "LATITUDE",
    "LONGITUDE",
    "GMTOFF",
    "DSTOFF",
    "TIMEZONE",
    "CC",
    "REGION",
    "LAST_CHANGED",
    "LEID",
    "EUID",
    "NOTES",
    "TAGS",
]


def main(rows: int, path: Path) -> None:
    start = datetime(2020, 1, 1, tzinfo=UTC)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out, quoting=csv.QUOTE_MINIMAL)
        writer.writerow(HEADER)
        for n in range(rows):
            optin = start + timedelta(seconds=n * 37)
            confirm = optin + timedelta(minutes=3) if n % 10 else None
            email = f"member{n}@example{n % 97}.com" if n % 1000 != 999 else f"broken{n}"
            ip = f"198.51.{n % 200}.{n % 250}"
            stamp = optin.strftime("%Y-%m-%d %H:%M:%S")
            confirmed = confirm.strftime("%Y-%m-%d %H:%M:%S") if confirm else ""
            writer.writerow(
                [
                    email,
                    f"First{n}",
                    f"Last{n}",
                    n % 5 + 1,
                    stamp,
                    ip,
                    confirmed,
                    ip if confirm else "",
                    "",
                    "",
                    "",
                    "",
                    "",
                    "US",
                    "CA",
                    confirmed or stamp,
                    100000 + n,
                    f"e{n:x}",
                    "",
                    "",
                ]
            )


if __name__ == "__main__":
    main(int(sys.argv[1]), Path(sys.argv[2]))
