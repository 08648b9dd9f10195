"""Day two's lifecycle table: each major version's dates in RDS's calendar, and the profiles that run it."""

from __future__ import annotations

from datetime import date

from retail_db import lifecycle
from tools.synth import validated_profiles


def table() -> str:
    region, years_1_2, year_3 = lifecycle.prices()
    running: dict[str, list[str]] = {}
    for name, settings in validated_profiles().items():
        database = settings.database
        setting = "Extended Support" if database.engine_lifecycle_support == lifecycle.EXTENDED else "upgraded by RDS"
        running.setdefault(database.engine_major_version, []).append(f"{name} ({setting})")
    rows = [
        "| PostgreSQL | end of standard support | Extended Support at the year 3 price from | end of Extended Support "
        "| profiles on it |",
        "| --- | --- | --- | --- | --- |",
    ]
    for major in lifecycle.majors():
        dates = lifecycle.phase(major, date.min)
        rows.append(
            f"| {major} | {dates.end_of_standard_support} | {dates.extended_support_year_3} | "
            f"{dates.end_of_extended_support} | {', '.join(running.get(major, [])) or '-'} |"
        )
    rows.append("")
    rows.append(
        f"Extended Support costs ${years_1_2:.2f} per vCPU-hour in years 1 and 2 and ${year_3:.2f} in year 3 "
        f"({region}), for every vCPU of the instance, its Multi-AZ standby and its read replicas."
    )
    return "\n".join(rows)
