"""AWS Config's behaviour, independent of HTTP: recording, rule evaluation, compliance results.

:class:`ConfigService` is what the operation handlers (:mod:`sandbox.config.api`) and the rest of the
sandbox call. It keeps the recorder's items and the evaluation results per account and region; rules
themselves (names, sources, scope, parameters) stay in moto's Config backend, which implements
PutConfigRule / DescribeConfigRules faithfully enough.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
from collections.abc import Iterable
from typing import Any

from sandbox.backends import config_backend
from sandbox.config import items as ci
from sandbox.config import rules as rl
from sandbox.config.recorder import Recorder, RegionState, recorder_view
from sandbox.server import AwsError

MAX_INVOCATIONS = 1000


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class ConfigService:
    def __init__(self) -> None:
        self.recorder = Recorder()

    # ------------------------------------------------------------------ state

    def state(self, account_id: str, region: str) -> RegionState:
        return self.recorder.state(account_id, region)

    def reset(self) -> None:
        self.recorder.reset()

    def rules(self, account_id: str, region: str) -> dict[str, Any]:
        """Config rules of the account and region (moto's ConfigRule objects, by name)."""
        return dict(config_backend(account_id, region).config_rules)

    def rule(self, account_id: str, region: str, name: str) -> Any:
        rule = config_backend(account_id, region).config_rules.get(name)
        if rule is None:
            raise AwsError(
                "NoSuchConfigRuleException",
                f"The ConfigRule '{name}' provided in the request is invalid. Please check the configRule name",
            )
        return rule

    # ------------------------------------------------------------------ recording

    def refresh(self, account_id: str, region: str) -> None:
        """Record what changed since the last look, then run the change-triggered rules on the new items."""
        new = self.recorder.sync(account_id, region)
        if not new:
            return
        state = self.state(account_id, region)
        for rule in self.rules(account_id, region).values():
            if rl.is_change_triggered(rule):
                self._evaluate_items(state, rule, [i for i in new], full=False)

    def require_recorder(self, account_id: str, region: str) -> None:
        if not recorder_view(account_id, region).exists:
            raise AwsError(
                "NoAvailableConfigurationRecorderException",
                "There are no configuration recorders available to provide the role needed to describe your "
                "resources. Create a configuration recorder.",
            )

    # ------------------------------------------------------------------ evaluation

    def evaluate_rule(self, account_id: str, region: str, rule: Any) -> None:
        """Run one rule over everything in its scope (rule creation, StartConfigRulesEvaluation)."""
        self.refresh(account_id, region)
        state = self.state(account_id, region)
        now = _now()
        status = state.rule_status.setdefault(rule.config_rule_name, {"FirstActivatedTime": now})
        status["LastSuccessfulInvocationTime"] = now
        status["FirstEvaluationStarted"] = True
        managed = rl.managed_rule(rule)
        if managed is None:
            if rl.is_periodic(rule):
                self._invoke_custom(state, rule, None)
            if rl.is_change_triggered(rule):
                self._evaluate_items(state, rule, state.current_items(), full=True)
        elif managed.account_check is not None:
            verdict = managed.account_check(account_id, region, rl.rule_parameters(rule))
            with self.recorder.lock:
                results = state.evaluations.setdefault(rule.config_rule_name, {})
                results.clear()
                results[(ci.ACCOUNT, account_id)] = self._result(rule, ci.ACCOUNT, account_id, verdict, now)
        elif managed.periodic:
            # Periodic rules call the service APIs themselves: they see the live state, recorded or not.
            live = ci.current_resources(account_id, region)
            by_type: dict[str, list[ci.ResourceState]] = {}
            for resource in live:
                by_type.setdefault(resource.resource_type, []).append(resource)
            ctx = rl.Context(account_id, region, by_type)
            params = rl.rule_parameters(rule)
            with self.recorder.lock:
                results = state.evaluations.setdefault(rule.config_rule_name, {})
                results.clear()
                for resource in by_type.get(managed.resource_type, []):
                    if managed.check is None or not rl.in_scope(rule, resource):
                        continue
                    verdict = managed.check(resource, params, ctx)
                    results[resource.key] = self._result(
                        rule, resource.resource_type, resource.resource_id, verdict, now
                    )
        else:
            self._evaluate_items(state, rule, state.current_items(), full=True)
        status["LastSuccessfulEvaluationTime"] = _now()

    def _evaluate_items(self, state: RegionState, rule: Any, recorded: Iterable[ci.RecordedItem], full: bool) -> None:
        managed = rl.managed_rule(rule)
        recorded = list(recorded)
        if managed is None:
            for item in recorded:
                if item.state is not None and rl.in_scope(rule, item.state):
                    self._invoke_custom(state, rule, item)
            return
        if managed.check is None or managed.periodic:
            return
        params = rl.rule_parameters(rule)
        ctx = rl.Context(state.account_id, state.region, {})
        now = _now()
        with self.recorder.lock:
            results = state.evaluations.setdefault(rule.config_rule_name, {})
            if full:
                results.clear()
            for item in recorded:
                if item.resource_type != managed.resource_type:
                    continue
                if item.state is None or item.is_deleted:
                    results.pop(item.key, None)  # a deleted resource leaves the rule's results
                    continue
                if not rl.in_scope(rule, item.state):
                    results.pop(item.key, None)
                    continue
                verdict = managed.check(item.state, params, ctx)
                results[item.key] = self._result(
                    rule, item.resource_type, item.resource_id, verdict, now, ordering=item.capture_time
                )
            status = state.rule_status.setdefault(rule.config_rule_name, {"FirstActivatedTime": now})
            status["LastSuccessfulInvocationTime"] = now
            status["LastSuccessfulEvaluationTime"] = now
            status["FirstEvaluationStarted"] = True

    @staticmethod
    def _result(
        rule: Any,
        resource_type: str,
        resource_id: str,
        verdict: rl.Verdict,
        now: dt.datetime,
        ordering: dt.datetime | None = None,
    ) -> dict[str, Any]:
        compliance, annotation = verdict
        result: dict[str, Any] = {
            "EvaluationResultIdentifier": {
                "EvaluationResultQualifier": {
                    "ConfigRuleName": rule.config_rule_name,
                    "ResourceType": resource_type,
                    "ResourceId": resource_id,
                    "EvaluationMode": "DETECTIVE",
                },
                "OrderingTimestamp": ordering or now,
            },
            "ComplianceType": compliance,
            "ResultRecordedTime": now,
            "ConfigRuleInvokedTime": now,
        }
        if annotation:
            result["Annotation"] = annotation[:256]
        return result

    def forget_rule(self, account_id: str, region: str, name: str) -> None:
        state = self.state(account_id, region)
        with self.recorder.lock:
            state.evaluations.pop(name, None)
            state.rule_status.pop(name, None)
            for token in [t for t, r in state.result_tokens.items() if r == name]:
                del state.result_tokens[token]

    # ------------------------------------------------------------------ custom rules

    def _invoke_custom(self, state: RegionState, rule: Any, item: ci.RecordedItem | None) -> None:
        """What AWS sends the rule's Lambda function; kept for a test (the "function") to answer.

        The sandbox runs no Lambda code: a test reads the invocation (GET /_sandbox/config/invocations),
        and answers with PutEvaluations and the invocation's resultToken, as the function would.
        """
        token = secrets.token_urlsafe(24)
        now = _now()
        invoking: dict[str, Any]
        if item is None:
            invoking = {
                "awsAccountId": state.account_id,
                "notificationCreationTime": ci.iso(now),
                "messageType": "ScheduledNotification",
                "recordVersion": "1.0",
            }
        else:
            invoking = {
                "configurationItem": ci.snapshot_item(item),
                "notificationCreationTime": ci.iso(now),
                "messageType": "ConfigurationItemChangeNotification",
                "recordVersion": "1.3",
            }
        event = {
            "version": "1.0",
            "invokingEvent": json.dumps(invoking, default=str),
            "ruleParameters": json.dumps(rl.rule_parameters(rule)),
            "resultToken": token,
            "eventLeftScope": bool(item is not None and item.is_deleted),
            "configRuleArn": rule.config_rule_arn,
            "configRuleName": rule.config_rule_name,
            "configRuleId": rule.config_rule_id,
            "accountId": state.account_id,
            "evaluationMode": "DETECTIVE",
            "functionArn": getattr(rule.source, "source_identifier", None),
        }
        with self.recorder.lock:
            state.result_tokens[token] = rule.config_rule_name
            state.invocations.append(event)
            del state.invocations[:-MAX_INVOCATIONS]

    def put_evaluations(
        self, account_id: str, region: str, token: str, evaluations: list[dict[str, Any]], test_mode: bool
    ) -> list[dict[str, Any]]:
        state = self.state(account_id, region)
        with self.recorder.lock:
            rule_name = state.result_tokens.get(token)
        if rule_name is None:
            raise AwsError("InvalidResultTokenException", "The specified ResultToken is not valid.")
        rule = self.rule(account_id, region, rule_name)
        if len(evaluations) > 100:
            raise AwsError(
                "InvalidParameterValueException", "The Evaluations object in your request cannot exceed 100 items."
            )
        now = _now()
        results = {}
        for ev in evaluations:
            compliance = ev.get("ComplianceType")
            if compliance not in (rl.COMPLIANT, rl.NON_COMPLIANT, rl.NOT_APPLICABLE):
                raise AwsError(
                    "InvalidParameterValueException",
                    f"The ComplianceType {compliance} is not valid for PutEvaluations: use COMPLIANT, "
                    "NON_COMPLIANT or NOT_APPLICABLE.",
                )
            rtype, rid = ev.get("ComplianceResourceType"), ev.get("ComplianceResourceId")
            if not rtype or not rid or ev.get("OrderingTimestamp") is None:
                raise AwsError(
                    "InvalidParameterValueException",
                    "Each evaluation needs ComplianceResourceType, ComplianceResourceId and OrderingTimestamp.",
                )
            ordering = ev["OrderingTimestamp"]
            if isinstance(ordering, (int, float)):
                ordering = dt.datetime.fromtimestamp(ordering, tz=dt.UTC)
            results[(rtype, rid)] = self._result(rule, rtype, rid, (compliance, ev.get("Annotation")), now, ordering)
        if not test_mode:
            with self.recorder.lock:
                state.evaluations.setdefault(rule_name, {}).update(results)
                status = state.rule_status.setdefault(rule_name, {"FirstActivatedTime": now})
                status["LastSuccessfulEvaluationTime"] = now
        return []

    # ------------------------------------------------------------------ compliance views

    def results(self, account_id: str, region: str, rule_name: str) -> list[dict[str, Any]]:
        state = self.state(account_id, region)
        with self.recorder.lock:
            found = list(state.evaluations.get(rule_name, {}).values())
        found.sort(key=_qualifier_key)
        return found

    def all_results(self, account_id: str, region: str) -> list[dict[str, Any]]:
        state = self.state(account_id, region)
        with self.recorder.lock:
            return [r for per_rule in state.evaluations.values() for r in per_rule.values()]


def _qualifier_key(result: dict[str, Any]) -> tuple[str, str]:
    q = result["EvaluationResultIdentifier"]["EvaluationResultQualifier"]
    return (q["ResourceType"], q["ResourceId"])


def rule_compliance(results: list[dict[str, Any]]) -> dict[str, Any]:
    """A rule's (or a resource's) overall compliance, as DescribeComplianceBy* report it.

    Non-compliant if any result is; compliant if at least one result is and none is not; otherwise
    (no results, or only NOT_APPLICABLE ones) INSUFFICIENT_DATA.
    """
    non = sum(1 for r in results if r["ComplianceType"] == rl.NON_COMPLIANT)
    if non:
        return {
            "ComplianceType": rl.NON_COMPLIANT,
            "ComplianceContributorCount": {"CappedCount": min(non, 100), "CapExceeded": non > 100},
        }
    if any(r["ComplianceType"] == rl.COMPLIANT for r in results):
        return {"ComplianceType": rl.COMPLIANT}
    return {"ComplianceType": rl.INSUFFICIENT_DATA}
