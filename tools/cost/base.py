"""What an estimate is made of (lines, unpriced resources), and the state and helpers the pricing rules share."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, NamedTuple

from tools.cost.prices import Prices

DB_INSTANCE = "AWS::RDS::DBInstance"
LOG_GROUP = "AWS::Logs::LogGroup"
BUCKET = "AWS::S3::Bucket"
FREE_TIER_NOT_APPLIED = (
    "The CloudWatch free tier (3 dashboards, 10 alarm metrics) is not applied: the estimate is conservative."
)


@dataclass(frozen=True)
class Line:
    """`quantity` `unit`s at `unit_price` USD each, caused by the resources with these logical IDs."""

    item: str
    resources: tuple[str, ...]
    quantity: float
    unit: str
    unit_price: float

    @property
    def monthly(self) -> float:
        return self.quantity * self.unit_price


@dataclass(frozen=True)
class Unpriced:
    logical_id: str
    type: str
    reason: str


class ComingCharge(NamedTuple):
    """A charge that starts on a later day: RDS Extended Support, at its price of years 1 and 2, then of year 3."""

    logical_id: str
    start: str
    monthly: float
    year_3: str
    year_3_monthly: float


@dataclass(frozen=True)
class Estimate:
    lines: tuple[Line, ...]
    unpriced: tuple[Unpriced, ...]
    no_charge: tuple[tuple[str, str], ...]
    """(logical ID, type) of the resources that cost nothing by themselves."""
    notes: tuple[str, ...]
    assumptions: tuple[str, ...]
    """The assumptions from prices.json this estimate relied on, with their values."""
    prices: Prices
    steady_from_month: int = 1
    """The first month the estimate describes: charges that grow (key rotations) have all started by then."""
    extended_support: tuple[ComingCharge, ...] = ()
    """RDS Extended Support charges this estimate does not hold yet."""

    @property
    def total(self) -> float:
        return sum(line.monthly for line in self.lines)


@dataclass(frozen=True)
class Resource:
    logical_id: str
    type: str
    props: Mapping[str, Any]


def literal_number(value: Any) -> float | None:
    # CDK writes some numbers as strings, e.g. AllocatedStorage "20".
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def literal_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return None


def refs(value: Any) -> set[str]:
    """Logical IDs named by Ref or Fn::GetAtt anywhere inside `value`."""
    if isinstance(value, list):
        return set().union(*(refs(item) for item in value))
    if not isinstance(value, dict):
        return set()
    found: set[str] = set()
    for key, inner in value.items():
        if key == "Ref" and isinstance(inner, str):
            found.add(inner)
        elif key == "Fn::GetAtt" and isinstance(inner, list) and inner and isinstance(inner[0], str):
            found.add(inner[0])
        elif key == "Fn::GetAtt" and isinstance(inner, str):
            found.add(inner.split(".", 1)[0])
        else:
            found |= refs(inner)
    return found


def show(value: Any) -> str:
    return json.dumps(value) if isinstance(value, dict | list) else repr(value)


def rds_log_target(name: Any, named_instances: Mapping[str, str] | None = None) -> tuple[str, str] | None:
    """(DB logical ID, log type) of a log group named like RDS names its exports, /aws/rds/instance/<db>/<type>: <db>
    a Ref to the instance, as CDK writes it, or the identifier of a named instance (``named_instances``: identifier ->
    logical ID)."""
    if isinstance(name, str) and name.startswith("/aws/rds/instance/"):
        identifier, _, log = name.removeprefix("/aws/rds/instance/").partition("/")
        found = (named_instances or {}).get(identifier)
        return (found, log) if found and log else None
    join = name.get("Fn::Join") if isinstance(name, dict) else None
    if not (isinstance(join, list) and len(join) == 2 and join[0] == "" and isinstance(join[1], list)):
        return None
    parts = join[1]
    if (
        len(parts) == 3
        and parts[0] == "/aws/rds/instance/"
        and isinstance(parts[1], dict)
        and isinstance(parts[1].get("Ref"), str)
        and isinstance(parts[2], str)
        and parts[2].startswith("/")
    ):
        return parts[1]["Ref"], parts[2][1:]
    return None


class Base:
    """The template's resources, what has been priced so far, and the helpers every pricing rule uses."""

    def __init__(self, template: Mapping[str, Any], prices: Prices, on: date | None = None) -> None:
        raw = template.get("Resources")
        self.on = on or date.today()
        """The day the estimate is for: RDS Extended Support depends on it."""
        self.extended_support: list[ComingCharge] = []
        if not isinstance(raw, Mapping):
            raise ValueError("the template has no Resources object")
        self.prices = prices
        self.lines: list[Line] = []
        self.unpriced: list[Unpriced] = []
        self.no_charge: list[tuple[str, str]] = []
        self.notes: list[str] = []
        self.used_assumptions: set[str] = set()
        # (DB logical ID, backup GB, allocated GB): the free allowance is shared by every instance in the region.
        self.rds_backups: list[tuple[str, float, float]] = []
        # Log groups already priced on the lines of the resource that writes to them.
        self.written_log_groups: set[str] = set()
        self.resources: dict[str, Resource] = {}
        self.conditions: dict[str, Any] = {}
        self.steady_from_day = 0.0
        for logical_id, body in raw.items():
            if isinstance(body, Mapping) and isinstance(body.get("Type"), str):
                props = body.get("Properties")
                self.resources[logical_id] = Resource(
                    logical_id, body["Type"], props if isinstance(props, Mapping) else {}
                )
                if "Condition" in body:
                    self.conditions[logical_id] = body["Condition"]
            else:
                self.unpriced.append(Unpriced(logical_id, "?", "no Type: not a resource definition"))
        self._index()

    def _index(self) -> None:
        """Find which log groups hold RDS exports and flow logs, and which buckets receive access logs."""
        self.rds_log_retention: dict[tuple[str, str], Any] = {}
        self.rds_log_groups: dict[tuple[str, str], str] = {}
        self.flow_log_groups: dict[str, str] = {}
        self.access_log_buckets: set[str] = set()
        log_groups = {r.logical_id for r in self.resources.values() if r.type == LOG_GROUP}
        names = {
            r.props["LogGroupName"]: r.logical_id
            for r in self.resources.values()
            if r.type == LOG_GROUP and isinstance(r.props.get("LogGroupName"), str)
        }
        named_instances = {
            r.props["DBInstanceIdentifier"]: r.logical_id
            for r in self.resources.values()
            if r.type == "AWS::RDS::DBInstance" and isinstance(r.props.get("DBInstanceIdentifier"), str)
        }
        for r in self.resources.values():
            if r.type in (LOG_GROUP, "Custom::LogRetention"):
                target = rds_log_target(r.props.get("LogGroupName"), named_instances)
                if target is not None:
                    self.rds_log_retention[target] = r.props.get("RetentionInDays")
                    if r.type == LOG_GROUP:
                        self.rds_log_groups[target] = r.logical_id
            elif r.type == "AWS::EC2::FlowLog":
                named = r.props.get("LogGroupName")
                groups = refs([named, r.props.get("LogDestination")]) & log_groups
                if isinstance(named, str) and named in names:
                    groups.add(names[named])
                if len(groups) == 1:
                    self.flow_log_groups[r.logical_id] = groups.pop()
            elif r.type == BUCKET:
                logging = r.props.get("LoggingConfiguration")
                if isinstance(logging, Mapping):
                    self.access_log_buckets |= refs(logging.get("DestinationBucketName"))

    # Helpers shared by the handlers.

    @property
    def hours(self) -> float:
        return self.prices.hours_per_month

    def _add(self, item: str, ids: Sequence[str], quantity: float, unit: str, unit_price: float) -> None:
        self.lines.append(Line(item, tuple(ids), quantity, unit, unit_price))

    def _unpriced(self, r: Resource, reason: str) -> None:
        self.unpriced.append(Unpriced(r.logical_id, r.type, reason))

    def _note(self, text: str) -> None:
        self.notes.append(text)

    def _assume(self, key: str) -> float:
        self.used_assumptions.add(key)
        return self.prices.assumption(key)

    def _assume_table(self, key: str) -> dict[str, float]:
        self.used_assumptions.add(key)
        return self.prices.table("assumptions", key, "value")

    def _default(self, r: Resource, key: str) -> Any:
        return self.prices.data["cloudformation_defaults"][r.type][key]

    def _number(self, r: Resource, key: str) -> float:
        """A numeric property; absent or not a literal, the CloudFormation default from prices.json."""
        value = r.props.get(key)
        default = float(self._default(r, key))
        if value is None:
            return default
        number = literal_number(value)
        if number is None:
            self._note(f"{r.logical_id}: {key} is {show(value)}, not a literal; used the default {default:g}.")
            return default
        return number

    def _flag(self, r: Resource, key: str) -> bool:
        """A boolean property; not a literal, the costlier `true`."""
        value = r.props.get(key)
        if value is None:
            return bool(self._default(r, key))
        flag = literal_bool(value)
        if flag is None:
            self._note(f"{r.logical_id}: {key} is {show(value)}, not a literal; priced as true (costlier).")
            return True
        return flag

    def _retention_days(self, r: Resource, value: Any) -> float | None:
        """Days a log group keeps data; None when it never expires or the template does not say."""
        if value is None:
            return None
        days = literal_number(value)
        if days is None:
            self._note(f"{r.logical_id}: log retention is {show(value)}, not a literal; retention unknown.")
        return days

    def _log_lines(
        self, label: str, ids: Sequence[str], gb_month: float, retention_days: float | None, ingestion: str
    ) -> None:
        logs = ("cloudwatch_logs",)
        self._add(f"CloudWatch Logs ingestion, {label}", ids, gb_month, "GB", self.prices.rate(*logs, ingestion))
        if retention_days is None:
            months = self._assume("log_retention_months_when_unknown")
            kept = f"{months:g} months assumed"
        else:
            months = retention_days / (self.hours / 24)
            kept = f"{retention_days:g}-day retention"
        self._add(
            f"CloudWatch Logs storage, {label} ({kept})",
            ids,
            gb_month * months,
            "GB-month",
            self.prices.rate(*logs, "storage_gb_month"),
        )

    def _assumption_texts(self) -> tuple[str, ...]:
        texts = [f"{self.hours:g} hours per month.", *self.prices.data["general_assumptions"]]
        for key, entry in self.prices.data["assumptions"].items():
            if key in self.used_assumptions:
                value = entry["value"]
                shown = (
                    ", ".join(f"{name} {number:g}" for name, number in value.items())
                    if isinstance(value, Mapping)
                    else f"{value:g}"
                )
                texts.append(entry["description"].format(value=shown))
        texts.append(str(self.prices.data["not_included"]))
        return tuple(texts)

    def _inter_region(self, r: Resource, allocated: float) -> None:
        """One day's changes per day, sent to the other Region."""
        self._add(
            "Data transfer to another Region",
            [r.logical_id],
            allocated * self._assume("rds_daily_change_fraction") * self.hours / 24,
            "GB",
            self.prices.rate("data_transfer", "inter_region_gb"),
        )

    def _snapshot_gb(self, allocated: float, retention_days: float) -> float:
        """GB held by snapshots kept `retention_days`: one full copy plus each retained day's changes."""
        if retention_days <= 0:
            return 0.0
        used = self._assume("rds_used_storage_fraction")
        change = self._assume("rds_daily_change_fraction")
        return allocated * (used + change * retention_days)


def quantity(value: float) -> str:
    return f"{value:,.3f}".rstrip("0").rstrip(".")
