"""Request-rate quotas as token buckets, per account, region and operation, switchable at run time.

Off by default (tests and the demo should not wait); on with ``SANDBOX_THROTTLING=1``, a control file or
``POST /_sandbox/throttling``. When on, an operation with a known rate is limited to it: a bucket holds
``burst`` tokens, refills at ``rate`` per second, and a request that finds it empty is answered with the
protocol's throttling error, exactly as AWS answers an account that exceeds its quota.

Rates are keyed ``service:Operation`` (``ssm:StartAutomationExecution``) or just ``Operation``. The
defaults are AWS's published values where a source gives them; everything else is unlimited unless
configured.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

# (rate per second, burst). Sources: SSM's Automation API quotas (StartAutomationExecution 1/s;
# GetAutomationExecution, DescribeAutomationStepExecutions, SendAutomationSignal 3/s; DESIGN.md decision 7),
# CloudTrail's documented LookupEvents limit (2 per second per account and Region), KMS's request quotas for
# key management operations. AWS Config publishes no per-operation rates in the sources used: none are
# enforced by default (StartConfigRulesEvaluation's documented once-a-minute limit is, see sandbox.config).
DEFAULT_RATES: dict[str, tuple[float, float]] = {
    "ssm:StartAutomationExecution": (1.0, 1.0),
    "ssm:GetAutomationExecution": (3.0, 3.0),
    "ssm:DescribeAutomationStepExecutions": (3.0, 3.0),
    "ssm:SendAutomationSignal": (3.0, 3.0),
    "ssm:DescribeAutomationExecutions": (3.0, 3.0),
    "ssm:StopAutomationExecution": (3.0, 3.0),
    "cloudtrail:LookupEvents": (2.0, 2.0),
    "kms:EnableKeyRotation": (5.0, 5.0),
    "kms:DisableKeyRotation": (5.0, 5.0),
    "kms:CreateKey": (5.0, 5.0),
    "kms:ScheduleKeyDeletion": (5.0, 5.0),
    "kms:GetKeyRotationStatus": (1000.0, 1000.0),
    "kms:DescribeKey": (2000.0, 2000.0),
}


@dataclass
class Rule:
    """One operation's setting: rate and burst, and an explicit on/off that overrides the global switch."""

    rate: float
    burst: float
    enabled: bool | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"rate": self.rate, "burst": self.burst, "enabled": self.enabled}


class Bucket:
    def __init__(self, rate: float, burst: float) -> None:
        self.rate = rate
        self.burst = max(burst, 1.0)
        self.tokens = self.burst
        self.stamp = time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


class Throttle:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.enabled = False
        self.rules: dict[str, Rule] = {k: Rule(*v) for k, v in DEFAULT_RATES.items()}
        self.buckets: dict[tuple[str, str, str], Bucket] = {}

    def reset(self) -> None:
        with self.lock:
            self.enabled = False
            self.rules = {k: Rule(*v) for k, v in DEFAULT_RATES.items()}
            self.buckets.clear()

    def _rule(self, service: str, operation: str) -> tuple[str, Rule] | None:
        for key in (f"{service}:{operation}", operation):
            if key in self.rules:
                return key, self.rules[key]
        return None

    def applies(self, service: str, operation: str) -> bool:
        """Whether quotas are enforced for this operation now (global switch or its own)."""
        with self.lock:
            found = self._rule(service, operation)
            if found is None:
                return self.enabled
            rule = found[1]
            return self.enabled if rule.enabled is None else rule.enabled

    def allow(self, account_id: str, region: str, service: str, operation: str) -> bool:
        with self.lock:
            found = self._rule(service, operation)
            if found is None:
                return True
            key, rule = found
            on = self.enabled if rule.enabled is None else rule.enabled
            if not on:
                return True
            bucket_key = (account_id, region, key)
            bucket = self.buckets.get(bucket_key)
            if bucket is None or bucket.rate != rule.rate or bucket.burst != max(rule.burst, 1.0):
                bucket = self.buckets[bucket_key] = Bucket(rule.rate, rule.burst)
            return bucket.take()

    def configure(self, body: dict[str, Any]) -> None:
        """``{"enabled": bool, "operations": {"ssm:GetAutomationExecution": {"rate": 3, "burst": 3,
        "enabled": true}}}``: any part may be left out; an operation given ``null`` loses its setting."""
        with self.lock:
            if "enabled" in body:
                self.enabled = bool(body["enabled"])
            for name, spec in (body.get("operations") or {}).items():
                # A bare operation name also reaches its service-qualified default ("GetAutomationExecution").
                keys = [name] if name in self.rules else [k for k in self.rules if k.endswith(f":{name}")] or [name]
                for key in keys:
                    self._set(key, spec)
            self.buckets.clear()

    def _set(self, key: str, spec: dict[str, Any] | None) -> None:
        if spec is None:
            self.rules.pop(key, None)
            return
        current = self.rules.get(key)
        rate = float(spec.get("rate", current.rate if current else 0) or 0)
        if rate <= 0:
            raise ValueError(f"{key}: a rate (requests per second, > 0) is required")
        default_burst = current.burst if current is not None and "rate" not in spec else rate
        burst = float(spec.get("burst", default_burst) or rate)
        enabled = spec.get("enabled", current.enabled if current else None)
        self.rules[key] = Rule(rate, burst, None if enabled is None else bool(enabled))

    def describe(self) -> dict[str, Any]:
        with self.lock:
            return {"enabled": self.enabled, "operations": {k: r.as_dict() for k, r in sorted(self.rules.items())}}
