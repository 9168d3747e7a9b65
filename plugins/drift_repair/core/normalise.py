"""Normalisers: bring a Terraform value and an AWS Config value to one comparable form.

A mapping names a normaliser for both sides (``normalise: bool``) or one per side
(``normalise: {terraform: sg_rules_terraform, config: sg_rules_config}``). A normaliser gets a known,
non-sensitive value and returns the canonical value, or raises :class:`NormaliseError` when the value has a
shape it does not understand (compare turns that into ``UNKNOWN`` with the reason, never into a guess).
Adding a resource type may add a normaliser here; compare itself never changes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

Normaliser = Callable[[Any], Any]


class NormaliseError(ValueError):
    """The value's shape is not what the normaliser understands."""


_TRUE = {"true", "yes", "1", "enabled", "on"}
_FALSE = {"false", "no", "0", "disabled", "off"}


def identity(value: Any) -> Any:
    return value


def to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        low = value.strip().lower()
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False
    raise NormaliseError(f"not a boolean: {value!r}")


def to_int(value: Any) -> int:
    if isinstance(value, bool):
        raise NormaliseError(f"not an integer: {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            pass
    raise NormaliseError(f"not an integer: {value!r}")


def to_str(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    raise NormaliseError(f"not a scalar: {value!r}")


def upper(value: Any) -> str:
    return to_str(value).upper()


def lower(value: Any) -> str:
    return to_str(value).lower()


def string_set(value: Any) -> frozenset[str]:
    """A list whose order does not matter (Terraform sets, AWS lists returned in any order)."""
    if value is None:
        return frozenset()
    if isinstance(value, str):
        return frozenset({value})
    if isinstance(value, Iterable):
        return frozenset(to_str(v) for v in value if v is not None)
    raise NormaliseError(f"not a list: {value!r}")


def present(value: Any) -> bool:
    """True when a value is set: a non-empty string, list or object (e.g. a logging target)."""
    if value is None:
        return False
    if isinstance(value, (str, list, dict, tuple, set, frozenset)):
        return len(value) > 0
    return True


def s3_sse_algorithm(value: Any) -> str:
    """``AES256`` / ``aws:kms`` / ``aws:kms:dsse`` whatever the case AWS or a module used."""
    text = to_str(value).strip()
    return "AES256" if text.upper() == "AES256" else text.lower()


def s3_versioning(value: Any) -> str:
    """``Enabled`` or ``Disabled``: Suspended, Off, Disabled and ``enabled = false`` all mean not versioning."""
    if value is None:
        return "Disabled"
    if isinstance(value, bool):
        return "Enabled" if value else "Disabled"
    text = to_str(value).strip().lower()
    if text in ("enabled", "true"):
        return "Enabled"
    if text in ("suspended", "off", "disabled", "false", ""):
        return "Disabled"
    raise NormaliseError(f"not an S3 versioning status: {value!r}")


def ec2_monitoring(value: Any) -> bool:
    """Detailed monitoring: Terraform's ``monitoring = true`` vs Config's ``{"state": "enabled"}``."""
    if isinstance(value, Mapping):
        value = value.get("state")
    if isinstance(value, str) and value.lower() in ("enabled", "pending"):
        return True
    if isinstance(value, str) and value.lower() in ("disabled", "disabling"):
        return False
    return to_bool(value)


def kms_key_id(value: Any) -> str:
    """A KMS key as its id, whether given as id or ARN (``arn:aws:kms:r:a:key/ID`` → ``ID``); aliases kept."""
    text = to_str(value).strip()
    if text.startswith("arn:") and ":key/" in text:
        return text.rsplit(":key/", 1)[1]
    return text


_PROTOCOLS = {"-1": "all", "all": "all", "6": "tcp", "17": "udp", "1": "icmp", "58": "icmpv6"}


def _protocol(value: Any) -> str:
    text = to_str(value).lower()
    return _PROTOCOLS.get(text, text)


def _ports(protocol: str, from_port: Any, to_port: Any) -> str:
    if protocol == "all":
        return "all"
    lo = -1 if from_port is None else to_int(from_port)
    hi = -1 if to_port is None else to_int(to_port)
    return f"{lo}-{hi}"


def sg_rules_terraform(value: Any) -> frozenset[str]:
    """``aws_security_group`` ``ingress`` / ``egress`` blocks → one canonical string per (rule, source)."""
    if value is None:
        return frozenset()
    if not isinstance(value, list):
        raise NormaliseError(f"security group rules are not a list: {value!r}")
    out: set[str] = set()
    for rule in value:
        if not isinstance(rule, Mapping):
            raise NormaliseError(f"security group rule is not an object: {rule!r}")
        proto = _protocol(rule.get("protocol"))
        ports = _ports(proto, rule.get("from_port"), rule.get("to_port"))
        sources = [f"cidr:{c}" for c in rule.get("cidr_blocks") or ()]
        sources += [f"cidr6:{c}" for c in rule.get("ipv6_cidr_blocks") or ()]
        sources += [f"sg:{g}" for g in rule.get("security_groups") or ()]
        sources += [f"pl:{p}" for p in rule.get("prefix_list_ids") or ()]
        if rule.get("self"):
            sources.append("self")
        out.update(f"{proto}:{ports}:{s}" for s in sources)
    return frozenset(out)


def sg_rules_config(value: Any, self_group_id: str | None = None) -> frozenset[str]:
    """Config's ``ipPermissions`` / ``ipPermissionsEgress`` → the same canonical strings as Terraform's."""
    if value is None:
        return frozenset()
    if not isinstance(value, list):
        raise NormaliseError(f"ipPermissions is not a list: {value!r}")
    out: set[str] = set()
    for perm in value:
        if not isinstance(perm, Mapping):
            raise NormaliseError(f"ipPermission is not an object: {perm!r}")
        proto = _protocol(perm.get("ipProtocol"))
        ports = _ports(proto, perm.get("fromPort"), perm.get("toPort"))
        sources: list[str] = []
        # Config gives IPv4 ranges twice: ipRanges (strings) and ipv4Ranges (objects). Either suffices.
        for r in perm.get("ipv4Ranges") or ():
            sources.append(f"cidr:{r['cidrIp'] if isinstance(r, Mapping) else r}")
        for r in perm.get("ipRanges") or ():
            sources.append(f"cidr:{r['cidrIp'] if isinstance(r, Mapping) else r}")
        for r in perm.get("ipv6Ranges") or ():
            sources.append(f"cidr6:{r['cidrIpv6'] if isinstance(r, Mapping) else r}")
        for pair in perm.get("userIdGroupPairs") or ():
            group = pair.get("groupId") if isinstance(pair, Mapping) else pair
            sources.append("self" if self_group_id and group == self_group_id else f"sg:{group}")
        for pl in perm.get("prefixListIds") or ():
            sources.append(f"pl:{pl['prefixListId'] if isinstance(pl, Mapping) else pl}")
        out.update(f"{proto}:{ports}:{s}" for s in sources)
    return frozenset(out)


REGISTRY: dict[str, Normaliser] = {
    "identity": identity,
    "bool": to_bool,
    "int": to_int,
    "str": to_str,
    "upper": upper,
    "lower": lower,
    "string_set": string_set,
    "present": present,
    "s3_sse_algorithm": s3_sse_algorithm,
    "s3_versioning": s3_versioning,
    "ec2_monitoring": ec2_monitoring,
    "kms_key_id": kms_key_id,
    "sg_rules_terraform": sg_rules_terraform,
    "sg_rules_config": sg_rules_config,
}


def get(name: str) -> Normaliser:
    try:
        return REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown normaliser {name!r}; known: {', '.join(sorted(REGISTRY))}") from None
