"""One factory for every alarm, after cdk-monitoring-constructs' AlarmFactory: defaults in one place, each alarm
named with the stack's prefix, notifying one action on ALARM and OK, and ending its description with its runbook link.

The choice of statistic, period, datapoints and missing-data policy is explained in the runbook's "How the alarms
evaluate" section; the defaults below are what most alarms use.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_rds as rds
from constructs import Construct

ABOVE = cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD
AT_OR_ABOVE = cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD
BELOW = cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD
# RDS publishes continuously while the instance runs, so a gap means late metrics or a stopped instance. Keeping the
# current state neither pages for the gap nor sends a false "OK" while nothing is known.
IGNORE = cloudwatch.TreatMissingData.IGNORE
# datapoints_to_alarm: every evaluated period must breach (M of M), the default.
EVERY_PERIOD = -1
# "A single PutMetricAlarm call can include ... as many as 10 structures that contain a MetricStat parameter"
# (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_MetricDataQuery.html).
ALARM_METRICS = 10


@dataclass(frozen=True, kw_only=True)
class AlarmSpec:
    construct_id: str
    anchor: str
    """The runbook section's anchor, and the alarm name's last part."""
    metric_name: str
    comparison: cloudwatch.ComparisonOperator
    threshold: float
    summary: str
    statistic: str = "Average"
    period_seconds: int = 60
    evaluation_periods: int = 5
    datapoints_to_alarm: int | None = EVERY_PERIOD
    """EVERY_PERIOD (M of M), a number, or None to leave it unset as the reference's alarms do."""
    missing: cloudwatch.TreatMissingData = IGNORE
    proxy_dimensions: tuple[tuple[str, str], ...] | None = None
    """A metric of the RDS Proxy, not the instance: its ProxyName and these further dimensions."""
    replica: int | None = None
    """A metric of this read replica (numbered from 1), not the instance."""
    namespace: str = "AWS/RDS"
    watched: str | None = None
    """A metric of a resource the stack registered with the factory under this name (a function, the event rules),
    not of the database: summed over the resource's dimension sets where it has several."""

    @property
    def name(self) -> str:
        """The alarm name's last part: the anchor, prefixed by the replica it watches."""
        return f"replica{self.replica}-{self.anchor.removeprefix('replica-')}" if self.replica else self.anchor


class AlarmFactory:
    def __init__(
        self,
        scope: Construct,
        *,
        database: rds.IDatabaseInstance,
        name_prefix: str,
        action: cloudwatch.IAlarmAction,
        runbook_link: Callable[[str], str],
        proxy_name: str | None = None,
        replicas: Sequence[rds.IDatabaseInstance] = (),
    ) -> None:
        self.replicas = replicas
        self.scope = scope
        self.database = database
        self.proxy_name = proxy_name
        self.name_prefix = name_prefix
        self.action = action
        self.runbook_link = runbook_link
        self.watched: dict[str, list[Mapping[str, str]]] = {}

    def watch(self, name: str, dimensions: Mapping[str, str]) -> None:
        """Registers one dimension set of the resource that specs with ``watched=name`` alarm on."""
        self.watched.setdefault(name, []).append(dimensions)

    def add(self, spec: AlarmSpec) -> list[cloudwatch.Alarm]:
        """The spec's alarm; for a registered resource with more dimension sets than one alarm can sum, one alarm for
        each ALARM_METRICS of them, the first with the spec's own ID and name, the others numbered from 2."""
        if spec.watched is None:
            return [self._alarm(spec, spec.construct_id, spec.name, self.metric(spec))]
        if spec.watched not in self.watched:
            raise ValueError(f"{spec.construct_id} watches {spec.watched}, which this stack has not registered")
        dimension_sets = self.watched[spec.watched]
        return [
            self._alarm(
                spec,
                f"{spec.construct_id}{number if number > 1 else ''}",
                f"{spec.name}{f'-{number}' if number > 1 else ''}",
                self._summed(spec, dimension_sets[start : start + ALARM_METRICS]),
            )
            for number, start in enumerate(range(0, len(dimension_sets), ALARM_METRICS), start=1)
        ]

    def _alarm(self, spec: AlarmSpec, construct_id: str, name: str, metric: cloudwatch.IMetric) -> cloudwatch.Alarm:
        datapoints = spec.evaluation_periods if spec.datapoints_to_alarm == EVERY_PERIOD else spec.datapoints_to_alarm
        alarm = cloudwatch.Alarm(
            self.scope,
            construct_id,
            alarm_name=f"{self.name_prefix}{name}",
            metric=metric,
            threshold=spec.threshold,
            comparison_operator=spec.comparison,
            evaluation_periods=spec.evaluation_periods,
            datapoints_to_alarm=datapoints,
            treat_missing_data=spec.missing,
            alarm_description=f"{spec.summary} Runbook: {self.runbook_link(spec.anchor)}",
        )
        alarm.add_alarm_action(self.action)
        alarm.add_ok_action(self.action)
        return alarm

    def _summed(self, spec: AlarmSpec, dimension_sets: Sequence[Mapping[str, str]]) -> cloudwatch.IMetric:
        period = Duration.seconds(spec.period_seconds)
        metrics = {
            f"m{number}": cloudwatch.Metric(
                namespace=spec.namespace,
                metric_name=spec.metric_name,
                dimensions_map=dict(dimensions),
                statistic=spec.statistic,
                period=period,
            )
            for number, dimensions in enumerate(dimension_sets)
        }
        if len(metrics) == 1:
            return metrics["m0"]
        return cloudwatch.MathExpression(
            expression=f"SUM([{','.join(metrics)}])",
            using_metrics=metrics,
            label=f"{spec.metric_name} of {spec.watched}",
            period=period,
        )

    def metric(self, spec: AlarmSpec) -> cloudwatch.IMetric:
        """The metric of the database, a replica or the proxy that the spec watches."""
        period = Duration.seconds(spec.period_seconds)
        if spec.replica is not None:
            return self.replicas[spec.replica - 1].metric(spec.metric_name, statistic=spec.statistic, period=period)
        if spec.proxy_dimensions is None:
            return self.database.metric(spec.metric_name, statistic=spec.statistic, period=period)
        if self.proxy_name is None:
            raise ValueError(f"{spec.construct_id} watches the RDS Proxy, which this stack does not have")
        return cloudwatch.Metric(
            namespace="AWS/RDS",
            metric_name=spec.metric_name,
            dimensions_map={"ProxyName": self.proxy_name, **dict(spec.proxy_dimensions)},
            statistic=spec.statistic,
            period=period,
        )
