"""The architecture diagram in the README, drawn from a synthesized template rather than by hand.

Each construct of the stack becomes a Mermaid subgraph holding the resources worth drawing; an arrow means that
resource's properties refer to the other (a Ref or GetAtt), e.g. the instance to its key. Alarms are drawn as one
node. Rendered from prod, the profile with most optional parts (replica, AWS Backup; staging adds the RDS Proxy).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

# Resource types worth drawing, and how to label them.
LABELS: Mapping[str, str] = {
    "AWS::EC2::VPC": "VPC",
    "AWS::EC2::SecurityGroup": "security group",
    "AWS::EC2::VPCEndpoint": "VPC endpoint",
    "AWS::EC2::FlowLog": "flow log",
    "AWS::Logs::LogGroup": "log group",
    "AWS::KMS::Key": "KMS key",
    "AWS::S3::Bucket": "bucket",
    "AWS::Backup::BackupVault": "backup vault",
    "AWS::Backup::BackupPlan": "backup plan",
    "AWS::Backup::BackupSelection": "backup selection",
    "AWS::RDS::DBSubnetGroup": "subnet group",
    "AWS::RDS::DBInstance": "PostgreSQL instance",
    "AWS::SecretsManager::Secret": "secret",
    "AWS::Lambda::Function": "function",
    "Custom::DatabaseRoles": "database roles",
    "AWS::RDS::DBProxy": "RDS Proxy",
    "AWS::SNS::Topic": "alerts topic",
    "AWS::CloudWatch::Dashboard": "dashboard",
    "AWS::CloudWatch::Alarm": "alarms",
}
ALARMS = "AWS::CloudWatch::Alarm"


def _refs(value: Any) -> set[str]:
    if isinstance(value, list):
        return set().union(*(_refs(item) for item in value)) if value else set()
    if not isinstance(value, Mapping):
        return set()
    if "Ref" in value and isinstance(value["Ref"], str):
        return {value["Ref"]}
    if "Fn::GetAtt" in value:
        target = value["Fn::GetAtt"]
        return {target[0] if isinstance(target, list) else str(target).split(".")[0]}
    return set().union(*(_refs(item) for item in value.values())) if value else set()


def _name(path: str) -> str:
    """The construct's own ID, from a path like TapStackprod/BackupStack/DatabaseBackupBucket/Resource."""
    parts = [p for p in path.split("/")[2:] if p not in ("Resource", "Default")]
    return parts[-1] if parts else path.split("/")[-1]


def _construct(body: Mapping[str, Any]) -> str:
    """The construct of the stack a resource belongs to: the second part of its path."""
    path = str(body.get("Metadata", {}).get("aws:cdk:path", ""))
    return path.split("/")[1] if path.count("/") >= 2 else ""


def render(template: Mapping[str, Any]) -> str:
    resources: Mapping[str, Any] = template["Resources"]
    # The constructs' resources. The CDK's own custom-resource plumbing sits at the stack's top level, under IDs
    # with a hash (AWS679f..., LogRetention...) or a type name (Custom::...); ours are plain words.
    drawn = {k: v for k, v in resources.items() if v["Type"] in LABELS and re.fullmatch(r"[A-Za-z]+", _construct(v))}
    alarms = sorted(k for k, v in drawn.items() if v["Type"] == ALARMS)
    node = {k: ("Alarms" if k in alarms else re.sub(r"[^A-Za-z0-9]", "", k)) for k in drawn}
    groups: dict[str, list[str]] = {}
    for logical_id, body in drawn.items():
        group = _construct(body)
        groups.setdefault(group, [])
        if node[logical_id] not in groups[group]:
            groups[group].append(node[logical_id])
    labels = {}
    for logical_id, body in drawn.items():
        if logical_id in alarms:
            labels["Alarms"] = f"{len(alarms)} alarms"
        else:
            path = body.get("Metadata", {}).get("aws:cdk:path", logical_id)
            labels[node[logical_id]] = f"{_name(path)}<br/><i>{LABELS[body['Type']]}</i>"
    edges = sorted(
        {
            (node[source], node[target])
            for source, body in drawn.items()
            for target in _refs(body.get("Properties", {}))
            if target in drawn and node[target] != node[source]
        }
    )
    lines = ["```mermaid", "flowchart LR"]
    for group, members in groups.items():
        lines.append(f"  subgraph {group}")
        lines += [f'    {member}["{labels[member]}"]' for member in members]
        lines.append("  end")
    lines += [f"  {source} --> {target}" for source, target in edges]
    lines.append("```")
    return "\n".join(lines)
