"""The estimator: every resource of a synthesized template to its pricing rule, flat rates straight from the data."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from datetime import date
from typing import Any

from tools.cost.base import BUCKET, DB_INSTANCE, LOG_GROUP, Estimate, Line, Resource, show
from tools.cost.prices import Prices, load_prices
from tools.cost.rds import RdsPricing
from tools.cost.services import ServicePricing


def estimate(template: Mapping[str, Any], prices: Prices | None = None, on: date | None = None) -> Estimate:
    """Price every resource of a synthesized template for one month, as of the day `on` (today by default)."""
    return Estimator(template, prices or load_prices(), on).run()


def profile_template(profile: str) -> dict[str, Any]:
    """A profile's stacks as one template to price: the platform, and its DR stack's resources where it has one."""
    from tools import synth

    template = synth.profile_template(profile)
    if synth.has_recovery(profile):
        recovery = synth.profile_template(profile, recovery=True)
        template = {**template, "Resources": {**template["Resources"], **recovery["Resources"]}}
    return template


class Estimator(RdsPricing, ServicePricing):
    def run(self) -> Estimate:
        handlers: dict[str, Callable[[Resource], None]] = {
            DB_INSTANCE: self._db_instance,
            "AWS::RDS::DBProxy": self._db_proxy,
            "AWS::KMS::Key": self._kms_key,
            "AWS::SecretsManager::Secret": self._secret,
            "AWS::CloudWatch::Alarm": self._alarm,
            "AWS::EC2::FlowLog": self._flow_log,
            "AWS::EC2::VPCEndpoint": self._vpc_endpoint,
            "AWS::EC2::NatGateway": self._nat_gateway,
            BUCKET: self._bucket,
            "AWS::Backup::BackupPlan": self._backup_plan,
            "AWS::Backup::RestoreTestingPlan": self._restore_testing_plan,
            LOG_GROUP: self._log_group,
        }
        handlers |= dict.fromkeys(self.prices.data["flat_rate"], self._flat_rate)
        no_charge = self.prices.data["no_charge"]
        # Log groups come last, so that the resources writing to them (flow logs, RDS exports) have claimed them.
        for resource in sorted(self.resources.values(), key=lambda r: r.type == LOG_GROUP):
            handler = handlers.get(resource.type)
            if handler is not None:
                handler(resource)
            elif resource.type in no_charge["types"] or resource.type.startswith(tuple(no_charge["type_prefixes"])):
                self.no_charge.append((resource.logical_id, resource.type))
            else:
                self._unpriced(resource, "no price known for this resource type")
        self._rds_backup_line()
        free = {logical_id for logical_id, _ in self.no_charge}
        self.notes += [
            f"{logical_id} has Condition {show(condition)}: priced as if it is created."
            for logical_id, condition in self.conditions.items()
            if logical_id not in free
        ]
        return Estimate(
            lines=tuple(_merge(self.lines)),
            unpriced=tuple(self.unpriced),
            no_charge=tuple(self.no_charge),
            notes=tuple(dict.fromkeys(self.notes)),
            assumptions=self._assumption_texts(),
            prices=self.prices,
            steady_from_month=1 + math.ceil(self.steady_from_day / (self.hours / 24)),
            extended_support=tuple(self.extended_support),
        )

    def _flat_rate(self, r: Resource) -> None:
        """A resource billed a fixed amount per month or per hour, as prices.json's flat_rate section says."""
        entry = self.prices.data["flat_rate"][r.type]
        quantity = self.hours if entry["per"] == "hour" else 1
        self._add(entry["item"], [r.logical_id], quantity, entry["unit"], self.prices.rate(*entry["price"]))
        if "note" in entry:
            self._note(entry["note"])


def _merge(lines: Sequence[Line]) -> list[Line]:
    """Add up lines that differ only in their resources, e.g. three standard alarms."""
    merged: dict[tuple[str, str, float], Line] = {}
    for line in lines:
        key = (line.item, line.unit, line.unit_price)
        if key in merged:
            seen = merged[key]
            merged[key] = Line(
                line.item, seen.resources + line.resources, seen.quantity + line.quantity, line.unit, line.unit_price
            )
        else:
            merged[key] = line
    return list(merged.values())
