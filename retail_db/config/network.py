"""[<profile>.network]: the VPC the database lives in."""

from __future__ import annotations

import ipaddress
import math

from pydantic import field_validator

from retail_db.config.shared import CIDR_FORM, Area, Broken, LogRetentionDays, parse_cidr, setting


class NetworkSettings(Area):
    vpc_cidr: str = setting(
        "The VPC's IPv4 range.",
        f"an IPv4 CIDR {CIDR_FORM}, /16 to /28, large enough for max_azs subnets of subnet_cidr_mask",
    )
    # Six is the most Availability Zones any Region has (us-east-1): a seventh would be selected from a list of six.
    max_azs: int = setting("Availability zones the VPC spans.", "2 to 6: an RDS subnet group needs two AZs", ge=2, le=6)
    subnet_cidr_mask: int = setting("Prefix length of each isolated subnet.", "16 to 28", ge=16, le=28)
    flow_log_retention_days: LogRetentionDays = setting(
        "Days the VPC flow logs are kept.", "a CloudWatch Logs retention: 1, 3, 5, 7, 14, 30, 60, 90, ... 3653"
    )

    @field_validator("vpc_cidr")
    @classmethod
    def _cidr(cls, value: str) -> str:
        network = parse_cidr(value)
        if not 16 <= network.prefixlen <= 28:
            raise ValueError(f"/{network.prefixlen} is outside /16 to /28")
        return value

    def check(self) -> None:
        prefix = ipaddress.IPv4Network(self.vpc_cidr).prefixlen
        needed = self.subnet_cidr_mask - math.ceil(math.log2(self.max_azs))
        if prefix > needed:
            raise Broken(("vpc_cidr",), self.vpc_cidr, f"use /{needed} or larger")
