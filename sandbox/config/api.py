"""AWS Config operations (``X-Amz-Target: StarlingDoveService.<Operation>``) the sandbox answers itself.

Each handler takes the request parameters as botocore sends them and returns the response document,
raising :class:`~sandbox.server.AwsError` with the code, message and status AWS uses. Operations not
registered here (configuration recorder and delivery channel management, DescribeConfigRules, tags,
aggregators...) pass through to moto, whose state the handlers read.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import threading
import time
from collections.abc import Callable
from typing import Any

from sandbox.backends import config_backend
from sandbox.config import items as ci
from sandbox.config import query as aq
from sandbox.config import remediation as rem
from sandbox.config import rules as rl
from sandbox.config.recorder import recorder_view
from sandbox.config.service import ConfigService, rule_compliance
from sandbox.server import AwsError, RequestContext

TARGET_PREFIX = "StarlingDoveService"
SERVICE = "config"

_RULE_TYPES = frozenset({rl.COMPLIANT, rl.NON_COMPLIANT, rl.INSUFFICIENT_DATA})
_RESULT_TYPES = frozenset({rl.COMPLIANT, rl.NON_COMPLIANT, rl.NOT_APPLICABLE})


def _moto_errors(fn: Callable[[], Any]) -> Any:
    """Call moto's Config backend, turning its exceptions into the AWS error it stands for."""
    try:
        return fn()
    except AwsError:
        raise
    except Exception as exc:
        code = getattr(exc, "error_type", None)
        if code is None:
            raise
        raise AwsError(str(code), str(getattr(exc, "message", exc)), int(getattr(exc, "code", 400))) from None


def _token(scope: str, offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"o": offset, "s": scope}).encode()).decode()


def _offset(scope: str, token: str | None) -> int:
    if not token:
        return 0
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
        if data["s"] != scope or int(data["o"]) < 0:
            raise ValueError
        return int(data["o"])
    except (ValueError, KeyError, TypeError):
        raise AwsError(
            "InvalidNextTokenException", "The specified next token is invalid. Specify a valid next token."
        ) from None


def _page(items: list[Any], scope: str, limit: int, token: str | None) -> tuple[list[Any], str | None]:
    offset = _offset(scope, token)
    chunk = items[offset : offset + limit]
    return chunk, (_token(scope, offset + limit) if offset + limit < len(items) else None)


def _time(value: Any) -> dt.datetime | None:
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return dt.datetime.fromtimestamp(value, tz=dt.UTC)
    if isinstance(value, str):
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    raise AwsError("ValidationException", f"not a timestamp: {value!r}")


def _compliance_filter(params: dict[str, Any], allowed: frozenset[str], default: frozenset[str]) -> frozenset[str]:
    wanted = params.get("ComplianceTypes") or []
    bad = [t for t in wanted if t not in allowed]
    if bad:
        raise AwsError(
            "InvalidParameterValueException",
            f"The compliance type {bad[0]} is not valid here. Valid values: {', '.join(sorted(allowed))}.",
        )
    return frozenset(wanted) if wanted else default


class ConfigApi:
    """The registered operations, bound to one :class:`ConfigService` and the app's shared services."""

    def __init__(self, service: ConfigService, services: dict[str, Any]) -> None:
        self.service = service
        self.services = services
        self.remediations = rem.Remediations(services)
        self.lock = threading.RLock()
        self.unprocessed_next = 0  # test hook: leave the last N keys of the next BatchGetResourceConfig unprocessed
        self.last_evaluation_start: dict[tuple[str, str, str], float] = {}

    def handlers(self) -> dict[str, Callable[[dict[str, Any], RequestContext], dict[str, Any]]]:
        return {
            "PutConfigRule": self.put_config_rule,
            "DeleteConfigRule": self.delete_config_rule,
            "ListDiscoveredResources": self.list_discovered_resources,
            "BatchGetResourceConfig": self.batch_get_resource_config,
            "GetResourceConfigHistory": self.get_resource_config_history,
            "SelectResourceConfig": self.select_resource_config,
            "StartConfigRulesEvaluation": self.start_config_rules_evaluation,
            "DescribeComplianceByConfigRule": self.describe_compliance_by_config_rule,
            "GetComplianceDetailsByConfigRule": self.get_compliance_details_by_config_rule,
            "DescribeComplianceByResource": self.describe_compliance_by_resource,
            "GetComplianceDetailsByResource": self.get_compliance_details_by_resource,
            "DescribeConfigRuleEvaluationStatus": self.describe_config_rule_evaluation_status,
            "PutEvaluations": self.put_evaluations,
            "PutRemediationConfigurations": self.put_remediation_configurations,
            "DescribeRemediationConfigurations": self.describe_remediation_configurations,
            "DeleteRemediationConfiguration": self.delete_remediation_configuration,
            "StartRemediationExecution": self.start_remediation_execution,
            "DescribeRemediationExecutionStatus": self.describe_remediation_execution_status,
        }

    def reset(self) -> None:
        self.service.reset()
        self.remediations.reset()
        with self.lock:
            self.unprocessed_next = 0
            self.last_evaluation_start.clear()

    # ------------------------------------------------------------------ rules

    def put_config_rule(self, params: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
        self.service.require_recorder(ctx.account_id, ctx.region)
        rule_spec = params.get("ConfigRule") or {}
        backend = config_backend(ctx.account_id, ctx.region)
        _moto_errors(lambda: backend.put_config_rule(rule_spec, params.get("Tags")))
        name = rule_spec.get("ConfigRuleName")
        rule = backend.config_rules.get(name) if name else None
        if rule is not None:
            self.service.forget_rule(ctx.account_id, ctx.region, rule.config_rule_name)
            self.service.evaluate_rule(ctx.account_id, ctx.region, rule)
        return {}

    def delete_config_rule(self, params: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
        name = params.get("ConfigRuleName", "")
        self.service.rule(ctx.account_id, ctx.region, name)
        state = self.service.state(ctx.account_id, ctx.region)
        if name in state.remediation_configs:
            raise AwsError(
                "ResourceInUseException",
                f"The rule {name} has a remediation configuration associated with it. Delete the remediation "
                "configuration first.",
            )
        backend = config_backend(ctx.account_id, ctx.region)
        _moto_errors(lambda: backend.delete_config_rule(name))
        self.service.forget_rule(ctx.account_id, ctx.region, name)
        return {}

    def start_config_rules_evaluation(self, params: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
        names = params.get("ConfigRuleNames") or []
        if len(names) > 25:
            raise AwsError("InvalidParameterValueException", "You can specify at most 25 ConfigRuleNames.")
        all_rules = self.service.rules(ctx.account_id, ctx.region)
        if not names:
            names = sorted(all_rules)
        chosen = [self.service.rule(ctx.account_id, ctx.region, n) for n in names]
        control = self.services.get("control")
        if control is not None and control.quotas_enabled("StartConfigRulesEvaluation"):
            # AWS: "more than once per minute" for the same rule → LimitExceededException.
            now = time.monotonic()
            with self.lock:
                for name in names:
                    last = self.last_evaluation_start.get((ctx.account_id, ctx.region, name))
                    if last is not None and now - last < 60:
                        raise AwsError(
                            "LimitExceededException",
                            f"An evaluation of the rule {name} was started less than a minute ago.",
                        )
                for name in names:
                    self.last_evaluation_start[(ctx.account_id, ctx.region, name)] = now
        for rule in chosen:
            self.service.evaluate_rule(ctx.account_id, ctx.region, rule)
        return {}

    def describe_config_rule_evaluation_status(self, params: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
        names = params.get("ConfigRuleNames") or sorted(self.service.rules(ctx.account_id, ctx.region))
        state = self.service.state(ctx.account_id, ctx.region)
        out = []
        for name in names:
            rule = self.service.rule(ctx.account_id, ctx.region, name)
            status = dict(state.rule_status.get(name, {}))
            out.append(
                {
                    "ConfigRuleName": name,
                    "ConfigRuleArn": rule.config_rule_arn,
                    "ConfigRuleId": rule.config_rule_id,
                    "FirstEvaluationStarted": bool(status.pop("FirstEvaluationStarted", False)),
                    **status,
                }
            )
        limit = aq.check_limit(params.get("Limit"), 50, "limit")
        page, token = _page(out, f"status:{','.join(names)}", limit, params.get("NextToken"))
        result: dict[str, Any] = {"ConfigRulesEvaluationStatus": page}
        if token:
            result["NextToken"] = token
        return result

    # ------------------------------------------------------------------ items

    def list_discovered_resources(self, params: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
        resource_type = params.get("resourceType")
        if not resource_type:
            raise AwsError("ValidationException", "resourceType is required.")
        ids = params.get("resourceIds") or []
        name = params.get("resourceName")
        if ids and name:
            raise AwsError(
                "ValidationException", "Both Resource ID and Resource Name cannot be specified in the request"
            )
        if len(ids) > 20:
            raise AwsError("ValidationException", "The specified list had more than 20 resource ID's.")
        limit = aq.check_limit(params.get("limit"))
        if not recorder_view(ctx.account_id, ctx.region).exists:
            raise AwsError(
                "NoAvailableConfigurationRecorderException",
                "There are no configuration recorders available to provide the role needed to describe your resources.",
            )
        self.service.refresh(ctx.account_id, ctx.region)
        state = self.service.state(ctx.account_id, ctx.region)
        include_deleted = bool(params.get("includeDeletedResources"))
        found = []
        for item in state.current_items(include_deleted=include_deleted):
            if item.resource_type != resource_type:
                continue
            if ids and item.resource_id not in ids:
                continue
            if name and item.resource_name != name:
                continue
            ident: dict[str, Any] = {"resourceType": item.resource_type, "resourceId": item.resource_id}
            if item.resource_name:
                ident["resourceName"] = item.resource_name
            if item.is_deleted:
                ident["resourceDeletionTime"] = item.capture_time
            found.append(ident)
        scope = f"ldr:{resource_type}:{','.join(ids)}:{name}:{include_deleted}"
        page, token = _page(found, scope, limit, params.get("nextToken"))
        result: dict[str, Any] = {"resourceIdentifiers": page}
        if token:
            result["nextToken"] = token
        return result

    def batch_get_resource_config(self, params: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
        keys = params.get("resourceKeys") or []
        if not keys:
            raise AwsError("ValidationException", "resourceKeys must contain at least 1 key.")
        if len(keys) > 100:
            raise AwsError(
                "ValidationException",
                f"Value '{len(keys)}' at 'resourceKeys' failed to satisfy constraint: Member must have length less "
                "than or equal to 100",
            )
        if not recorder_view(ctx.account_id, ctx.region).exists:
            raise AwsError(
                "NoAvailableConfigurationRecorderException",
                "There are no configuration recorders available to provide the role needed to describe your resources.",
            )
        self.service.refresh(ctx.account_id, ctx.region)
        with self.lock:
            unprocessed_count, self.unprocessed_next = min(self.unprocessed_next, len(keys)), 0
        processed = keys[: len(keys) - unprocessed_count]
        state = self.service.state(ctx.account_id, ctx.region)
        found = []
        for key in processed:
            item = state.latest((key.get("resourceType", ""), key.get("resourceId", "")))
            if item is not None and not item.is_deleted:  # deleted resources are not returned
                found.append(ci.base_item(item))
        return {
            "baseConfigurationItems": found,
            "unprocessedResourceKeys": keys[len(keys) - unprocessed_count :] if unprocessed_count else [],
        }

    def get_resource_config_history(self, params: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
        rtype, rid = params.get("resourceType", ""), params.get("resourceId", "")
        limit = aq.check_limit(params.get("limit"), 100) if params.get("limit") else 10
        order = params.get("chronologicalOrder", "Reverse")
        if order not in ("Reverse", "Forward"):
            raise AwsError("ValidationException", f"Invalid chronologicalOrder {order}.")
        later, earlier = _time(params.get("laterTime")), _time(params.get("earlierTime"))
        if later and earlier and earlier > later:
            raise AwsError(
                "InvalidTimeRangeException",
                "The specified time range is not valid. The earlier time is not chronologically before the later time.",
            )
        self.service.refresh(ctx.account_id, ctx.region)
        state = self.service.state(ctx.account_id, ctx.region)
        with self.service.recorder.lock:
            history = list(state.history.get((rtype, rid), []))
        if not history:
            raise AwsError(
                "ResourceNotDiscoveredException",
                f"Resource {rid} of resourceType:{rtype} is unknown or has not been discovered",
            )
        chosen = [
            i
            for i in history
            if (earlier is None or i.capture_time >= earlier) and (later is None or i.capture_time <= later)
        ]
        if order == "Reverse":
            chosen.reverse()
        page, token = _page(chosen, f"hist:{rtype}:{rid}:{order}", limit, params.get("nextToken"))
        result: dict[str, Any] = {"configurationItems": [ci.history_item(i) for i in page]}
        if token:
            result["nextToken"] = token
        return result

    def select_resource_config(self, params: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
        expression = params.get("Expression") or ""
        aq.parse(expression)  # refuse a bad expression before doing any work
        self.service.refresh(ctx.account_id, ctx.region)
        state = self.service.state(ctx.account_id, ctx.region)
        documents = [ci.query_document(i) for i in state.current_items()]
        return aq.run(expression, documents, params.get("Limit"), params.get("NextToken"))

    # ------------------------------------------------------------------ compliance

    def describe_compliance_by_config_rule(self, params: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
        wanted = _compliance_filter(params, _RULE_TYPES, _RULE_TYPES)
        self.service.refresh(ctx.account_id, ctx.region)
        names = params.get("ConfigRuleNames") or sorted(self.service.rules(ctx.account_id, ctx.region))
        out = []
        for name in names:
            self.service.rule(ctx.account_id, ctx.region, name)
            compliance = rule_compliance(self.service.results(ctx.account_id, ctx.region, name))
            if compliance["ComplianceType"] in wanted:
                out.append({"ConfigRuleName": name, "Compliance": compliance})
        return {"ComplianceByConfigRules": out}

    def get_compliance_details_by_config_rule(self, params: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
        name = params.get("ConfigRuleName", "")
        # Sandbox choice: with no filter, COMPLIANT and NON_COMPLIANT results (NOT_APPLICABLE only when asked).
        wanted = _compliance_filter(params, _RESULT_TYPES, frozenset({rl.COMPLIANT, rl.NON_COMPLIANT}))
        limit = aq.check_limit(params.get("Limit"), 100) if params.get("Limit") else 10
        self.service.refresh(ctx.account_id, ctx.region)
        self.service.rule(ctx.account_id, ctx.region, name)
        found = [r for r in self.service.results(ctx.account_id, ctx.region, name) if r["ComplianceType"] in wanted]
        page, token = _page(found, f"gcd:{name}:{','.join(sorted(wanted))}", limit, params.get("NextToken"))
        result: dict[str, Any] = {"EvaluationResults": page}
        if token:
            result["NextToken"] = token
        return result

    def describe_compliance_by_resource(self, params: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
        rtype, rid = params.get("ResourceType"), params.get("ResourceId")
        if rid and not rtype:
            raise AwsError("InvalidParameterValueException", "ResourceType is required when ResourceId is given.")
        wanted = _compliance_filter(params, _RULE_TYPES, _RULE_TYPES)
        limit = aq.check_limit(params.get("Limit"), 100) if params.get("Limit") else 10
        self.service.refresh(ctx.account_id, ctx.region)
        grouped: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for r in self.service.all_results(ctx.account_id, ctx.region):
            q = r["EvaluationResultIdentifier"]["EvaluationResultQualifier"]
            grouped.setdefault((q["ResourceType"], q["ResourceId"]), []).append(r)
        if rtype and rid:
            grouped.setdefault((rtype, rid), [])
        out = []
        for (t, i), results in sorted(grouped.items()):
            if (rtype and t != rtype) or (rid and i != rid):
                continue
            compliance = rule_compliance(results)
            if compliance["ComplianceType"] in wanted:
                out.append({"ResourceType": t, "ResourceId": i, "Compliance": compliance})
        page, token = _page(out, f"dcr:{rtype}:{rid}:{','.join(sorted(wanted))}", limit, params.get("NextToken"))
        result: dict[str, Any] = {"ComplianceByResources": page}
        if token:
            result["NextToken"] = token
        return result

    def get_compliance_details_by_resource(self, params: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
        rtype, rid = params.get("ResourceType"), params.get("ResourceId")
        if not rtype or not rid:
            raise AwsError("InvalidParameterValueException", "ResourceType and ResourceId are required.")
        wanted = _compliance_filter(params, _RESULT_TYPES, frozenset({rl.COMPLIANT, rl.NON_COMPLIANT}))
        self.service.refresh(ctx.account_id, ctx.region)
        found = []
        for r in self.service.all_results(ctx.account_id, ctx.region):
            q = r["EvaluationResultIdentifier"]["EvaluationResultQualifier"]
            if (q["ResourceType"], q["ResourceId"]) == (rtype, rid) and r["ComplianceType"] in wanted:
                found.append(r)
        found.sort(key=lambda r: r["EvaluationResultIdentifier"]["EvaluationResultQualifier"]["ConfigRuleName"])
        page, token = _page(found, f"gcr:{rtype}:{rid}", 100, params.get("NextToken"))
        result: dict[str, Any] = {"EvaluationResults": page}
        if token:
            result["NextToken"] = token
        return result

    def put_evaluations(self, params: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
        token = params.get("ResultToken")
        if not token:
            raise AwsError("InvalidResultTokenException", "The specified ResultToken is not valid.")
        evaluations = params.get("Evaluations") or []
        if not evaluations:
            raise AwsError(
                "InvalidParameterValueException",
                "The Evaluations object in your request cannot be null. Add the required parameters and try again.",
            )
        failed = self.service.put_evaluations(
            ctx.account_id, ctx.region, token, evaluations, bool(params.get("TestMode"))
        )
        return {"FailedEvaluations": failed}

    # ------------------------------------------------------------------ remediation

    def put_remediation_configurations(self, params: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
        configs = params.get("RemediationConfigurations") or []
        if len(configs) > 25:
            raise AwsError("InvalidParameterValueException", "You can put at most 25 remediation configurations.")
        state = self.service.state(ctx.account_id, ctx.region)
        rules = self.service.rules(ctx.account_id, ctx.region)
        failed = []
        for config in configs:
            name = config.get("ConfigRuleName", "")
            problem = None if name in rules else f"The config rule {name} does not exist."
            problem = problem or rem.validate_configuration(config)
            if problem:
                failed.append({"FailureMessage": problem, "FailedItems": [config]})
                continue
            with self.service.recorder.lock:
                previous = state.remediation_configs.get(name)
                stored = {k: v for k, v in config.items() if k not in ("Arn", "CreatedByService")}
                stored["Arn"] = previous["Arn"] if previous else rem.configuration_arn(ctx.region, ctx.account_id, name)
                stored.setdefault("Automatic", False)
                state.remediation_configs[name] = stored
        return {"FailedBatches": failed}

    def describe_remediation_configurations(self, params: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
        state = self.service.state(ctx.account_id, ctx.region)
        with self.service.recorder.lock:
            found = [
                dict(state.remediation_configs[n])
                for n in params.get("ConfigRuleNames") or []
                if n in state.remediation_configs
            ]
        return {"RemediationConfigurations": found}

    def _configuration(self, ctx: RequestContext, name: str) -> dict[str, Any]:
        state = self.service.state(ctx.account_id, ctx.region)
        with self.service.recorder.lock:
            config = state.remediation_configs.get(name)
        if config is None:
            raise AwsError(
                "NoSuchRemediationConfigurationException",
                f"No RemediationConfiguration for rule {name} exists.",
            )
        return config

    def delete_remediation_configuration(self, params: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
        name = params.get("ConfigRuleName", "")
        self._configuration(ctx, name)
        if self.remediations.any_active(ctx.account_id, ctx.region, name):
            raise AwsError(
                "RemediationInProgressException",
                f"Remediation for rule {name} is in progress. Wait for it to finish before deleting the configuration.",
            )
        state = self.service.state(ctx.account_id, ctx.region)
        with self.service.recorder.lock:
            state.remediation_configs.pop(name, None)
        self.remediations.forget_rule(ctx.account_id, ctx.region, name)
        return {}

    def start_remediation_execution(self, params: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
        name = params.get("ConfigRuleName", "")
        keys = params.get("ResourceKeys") or []
        config = self._configuration(ctx, name)
        if not keys:
            raise AwsError("InvalidParameterValueException", "ResourceKeys must contain at least one resource key.")
        if len(keys) > 100:
            raise AwsError("InvalidParameterValueException", "You can remediate at most 100 resource keys at a time.")
        failed = self.remediations.start(ctx, config, keys)
        result: dict[str, Any] = {"FailedItems": failed}
        if failed:
            result["FailureMessage"] = (
                "A remediation for these resources is already queued or in progress; wait for it to finish."
            )
        return result

    def describe_remediation_execution_status(self, params: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
        name = params.get("ConfigRuleName", "")
        self._configuration(ctx, name)
        keys = params.get("ResourceKeys")
        if keys is not None and len(keys) > 100:
            raise AwsError("InvalidParameterValueException", "You can ask for at most 100 resource keys at a time.")
        limit = aq.check_limit(params.get("Limit"), 100)
        executions = self.remediations.statuses(ctx.account_id, ctx.region, name, keys)
        statuses = [e.status() for e in executions]
        page, token = _page(statuses, f"rem:{name}", limit, params.get("NextToken"))
        result: dict[str, Any] = {"RemediationExecutionStatuses": page}
        if token:
            result["NextToken"] = token
        return result
