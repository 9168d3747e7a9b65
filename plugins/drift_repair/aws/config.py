"""Actual values from AWS Config, fetched in batches.

* BatchGetResourceConfig takes at most 100 keys a call; unprocessed keys are asked again.
* Resources Terraform names only by name (a CloudTrail trail) are resolved to ids with one paginated
  ListDiscoveredResources per type, not one call per resource.
* SelectResourceConfig (advanced query) is the alternative mode: pages of up to 100 results with NextToken.
* Rule compliance (for settings that have no configuration item) comes from GetComplianceDetailsByConfigRule.

Throttling is handled by botocore's adaptive retry mode on the client (see aws/clients.py). The fetcher
counts its calls so that the task logs and the benchmark can show calls per resource.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from botocore import xform_name

from drift_repair.core.compare import Lookup
from drift_repair.core.config_items import ActualIndex, ConfigItem, parse_item

log = logging.getLogger(__name__)

BATCH_SIZE = 100  # BatchGetResourceConfig limit
SELECT_LIMIT = 100  # SelectResourceConfig page limit
MAX_UNPROCESSED_ROUNDS = 5
SELECT_FIELDS = (
    "resourceId",
    "resourceName",
    "resourceType",
    "configuration",
    "supplementaryConfiguration",
    "configurationItemStatus",
    "configurationItemCaptureTime",
    "arn",
    "awsRegion",
    "accountId",
)


@dataclass
class FetchStats:
    calls: Counter[str] = field(default_factory=Counter)
    requested: int = 0
    found: int = 0

    @property
    def total_calls(self) -> int:
        return sum(self.calls.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "calls": dict(self.calls),
            "total_calls": self.total_calls,
            "requested": self.requested,
            "found": self.found,
        }


def chunks(values: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


class ConfigItemFetcher:
    """Fetch configuration items for lookups (ids or names per resource type) with as few calls as possible."""

    def __init__(self, client: Any, stats: FetchStats | None = None) -> None:
        self.client = client
        self.stats = stats or FetchStats()

    def _call(self, operation: str, **kwargs: Any) -> dict[str, Any]:
        self.stats.calls[operation] += 1
        method = getattr(self.client, xform_name(operation))
        response: dict[str, Any] = method(**kwargs)
        return response

    # ---------------------------------------------------------------- by id / name

    def fetch(self, lookups: Iterable[Lookup]) -> ActualIndex:
        index = ActualIndex()
        keys: list[dict[str, str]] = []
        for lookup in lookups:
            self.stats.requested += len(lookup.values)
            if lookup.id_field == "resourceName":
                ids = self.resolve_names(lookup.config_resource_type, lookup.values)
            else:
                ids = set(lookup.values)
            keys.extend({"resourceType": lookup.config_resource_type, "resourceId": i} for i in sorted(ids))
        for item in self.batch_get(keys):
            index.add(item)
        self.stats.found = len(index)
        log.info(
            "Fetched %s configuration items for %s requested resources in %s calls %s",
            self.stats.found,
            self.stats.requested,
            self.stats.total_calls,
            dict(self.stats.calls),
        )
        return index

    def batch_get(self, keys: Sequence[dict[str, str]]) -> Iterator[ConfigItem]:
        for batch in chunks(list(keys), BATCH_SIZE):
            pending: list[dict[str, str]] = list(batch)
            for _round in range(MAX_UNPROCESSED_ROUNDS):
                response = self._call("BatchGetResourceConfig", resourceKeys=pending)
                for raw in response.get("baseConfigurationItems", []):
                    yield parse_item(raw, "BatchGetResourceConfig")
                pending = [
                    {"resourceType": k["resourceType"], "resourceId": k["resourceId"]}
                    for k in response.get("unprocessedResourceKeys", []) or []
                ]
                if not pending:
                    break
            else:
                log.warning("AWS Config left %s keys unprocessed after %s rounds", len(pending), MAX_UNPROCESSED_ROUNDS)

    def resolve_names(self, resource_type: str, names: Iterable[str]) -> set[str]:
        """Resource ids for resource names: one paginated listing of the type."""
        wanted = set(names)
        ids: set[str] = set()
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {"resourceType": resource_type, "limit": 100}
            if token:
                kwargs["nextToken"] = token
            response = self._call("ListDiscoveredResources", **kwargs)
            for identifier in response.get("resourceIdentifiers", []):
                if identifier.get("resourceName") in wanted and "resourceDeletionTime" not in identifier:
                    ids.add(identifier["resourceId"])
            token = response.get("nextToken")
            if not token:
                return ids

    # ---------------------------------------------------------------- advanced query

    def select(self, resource_types: Iterable[str]) -> ActualIndex:
        """Every recorded item of the given types through SelectResourceConfig, 100 a page."""
        index = ActualIndex()
        for resource_type in sorted(set(resource_types)):
            expression = f"SELECT {', '.join(SELECT_FIELDS)} WHERE resourceType = '{resource_type}'"
            token: str | None = None
            while True:
                kwargs: dict[str, Any] = {"Expression": expression, "Limit": SELECT_LIMIT}
                if token:
                    kwargs["NextToken"] = token
                response = self._call("SelectResourceConfig", **kwargs)
                for result in response.get("Results", []):
                    index.add(parse_item(json.loads(result), "SelectResourceConfig"))
                token = response.get("NextToken")
                if not token:
                    break
        self.stats.found = len(index)
        return index

    def fetch_lookups_by_select(self, lookups: Iterable[Lookup]) -> ActualIndex:
        lookups = list(lookups)
        self.stats.requested += sum(len(lk.values) for lk in lookups)
        return self.select(lk.config_resource_type for lk in lookups)

    # ---------------------------------------------------------------- compliance

    def reevaluate(self, rule_names: Iterable[str], timeout: float = 300, poll: float = 5) -> bool:
        """Run the rules now (periodic rules otherwise report what they saw hours ago) and wait until each
        has recorded a result after this moment; False when that took longer than ``timeout``."""
        names = sorted(set(rule_names))
        if not names:
            return True
        started = datetime.now(UTC)
        for start in range(0, len(names), 25):  # StartConfigRulesEvaluation takes at most 25 names
            self._call("StartConfigRulesEvaluation", ConfigRuleNames=names[start : start + 25])
        pending = set(names)
        deadline = time.monotonic() + timeout
        while pending and time.monotonic() < deadline:
            for rule in sorted(pending):
                results = self._call("GetComplianceDetailsByConfigRule", ConfigRuleName=rule, Limit=100)
                times = [r.get("ResultRecordedTime") for r in results.get("EvaluationResults", [])]
                if any(isinstance(t, datetime) and t >= started for t in times):
                    pending.discard(rule)
            if pending:
                time.sleep(poll)
        if pending:
            log.warning("Config rules %s did not re-evaluate within %ss", sorted(pending), timeout)
        return not pending

    def compliance(self, rule_names: Iterable[str]) -> dict[tuple[str, str], str]:
        """(rule, resource id) -> ComplianceType for the given rules (all results, paginated)."""
        out: dict[tuple[str, str], str] = {}
        for rule in rule_names:
            token: str | None = None
            while True:
                kwargs: dict[str, Any] = {"ConfigRuleName": rule, "Limit": 100}
                if token:
                    kwargs["NextToken"] = token
                response = self._call("GetComplianceDetailsByConfigRule", **kwargs)
                out.update(compliance_from_results(response.get("EvaluationResults", [])))
                token = response.get("NextToken")
                if not token:
                    break
        return out


def compliance_from_results(results: Iterable[dict[str, Any]]) -> dict[tuple[str, str], str]:
    """EvaluationResults (API response or a saved file) -> (rule, resource id) -> ComplianceType."""
    out: dict[tuple[str, str], str] = {}
    for result in results:
        qualifier = result.get("EvaluationResultIdentifier", {}).get("EvaluationResultQualifier", {})
        rule, resource_id = qualifier.get("ConfigRuleName"), qualifier.get("ResourceId")
        if rule and resource_id:
            out[(rule, resource_id)] = str(result.get("ComplianceType", "INSUFFICIENT_DATA"))
    return out
