"""Detection as one call: expected values (Terraform JSON) + actual values (AWS Config) -> CompareResult.

Shared by the CLI and the Airflow tasks, so that both read the same inputs the same way. The core does the
deciding; this module only chooses the sources (file, S3 object, Config API, snapshot file).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from drift_repair.aws.config import ConfigItemFetcher, FetchStats, compliance_from_results
from drift_repair.core import compare, config_items, terraform
from drift_repair.core.compare import CompareResult
from drift_repair.core.errors import InputError
from drift_repair.core.jsonfile import decode_text, loads_json, read_json
from drift_repair.core.mappings import MappingSet, load_mappings

log = logging.getLogger(__name__)


@dataclass
class DetectionRun:
    result: CompareResult
    document: terraform.TerraformDocument
    targets: list[compare.Target]
    fetch_stats: FetchStats = field(default_factory=FetchStats)
    timings: dict[str, float] = field(default_factory=dict)


def split_s3_url(url: str) -> tuple[str, str]:
    if not url.startswith("s3://") or "/" not in url[5:]:
        raise InputError(url, "not an s3://bucket/key URL")
    bucket, key = url[5:].split("/", 1)
    return bucket, key


def load_document(source: str | Path, s3_client: Any = None) -> terraform.TerraformDocument:
    """A plan or state JSON from a local path or an ``s3://bucket/key`` URL."""
    text = str(source)
    if text.startswith("s3://"):
        if s3_client is None:
            raise InputError(text, "an S3 client is needed to read an s3:// plan")
        bucket, key = split_s3_url(text)
        try:
            body = s3_client.get_object(Bucket=bucket, Key=key)["Body"].read()
        except Exception as exc:  # botocore ClientError, connection errors: name the object
            raise InputError(text, f"cannot be read from S3: {exc}") from None
        return terraform.parse_document(loads_json(decode_text(body, text), text), text)
    return terraform.load(source)


def load_compliance_file(path: str | Path) -> dict[tuple[str, str], str]:
    doc = read_json(path)
    results = doc.get("EvaluationResults", []) if isinstance(doc, dict) else doc
    if not isinstance(results, list):
        raise InputError(path, "no EvaluationResults list")
    return compliance_from_results(results)


def detect(
    document: terraform.TerraformDocument,
    *,
    context: dict[str, str],
    mappings: MappingSet | None = None,
    config_client: Any = None,
    snapshot: str | Path | None = None,
    compliance_file: str | Path | None = None,
    fetch_mode: str = "batch",
    reevaluate_rules: bool = False,
) -> DetectionRun:
    """Compare a parsed Terraform document with AWS Config (API client) or a Config snapshot file."""
    timings: dict[str, float] = {}
    mappings = mappings or load_mappings()
    t0 = time.perf_counter()
    targets = compare.build_targets(document, mappings, context)
    lookups = compare.lookups(targets)
    stats = FetchStats()
    compliance: dict[tuple[str, str], str] | None = None
    if snapshot is not None:
        actual = config_items.ActualIndex(config_items.load_snapshot(snapshot))
        if compliance_file is not None:
            compliance = load_compliance_file(compliance_file)
    elif config_client is not None:
        fetcher = ConfigItemFetcher(config_client, stats)
        actual = fetcher.fetch_lookups_by_select(lookups) if fetch_mode == "select" else fetcher.fetch(lookups)
        rules = compare.compliance_rules(targets)
        if rules and reevaluate_rules:
            fetcher.reevaluate(rules)
        compliance = fetcher.compliance(rules) if rules else {}
    else:
        raise ValueError("detect needs a Config client or a snapshot file")
    timings["fetch_seconds"] = time.perf_counter() - t0
    t1 = time.perf_counter()
    result = compare.compare(targets, actual, compliance)
    timings["compare_seconds"] = time.perf_counter() - t1
    log.info(
        "Compared %s attributes of %s resources: %s",
        len(result.rows),
        result.resources,
        result.summary["verdicts"],
    )
    return DetectionRun(result=result, document=document, targets=targets, fetch_stats=stats, timings=timings)
