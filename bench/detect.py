"""Benchmark: detection on a synthetic 50,000-resource estate.

    python bench/detect.py --resources 50000 --out bench/results/detect.json

1. Generates (in a child process, not measured) a realistic ``terraform show -json`` plan: resources spread
   over module instances (count), RDS instances and EC2 instances alternating, 10 mapped attributes each,
   planned_values + resource_changes (before/after) + prior_state + configuration, 2% of the resources
   drifted (the plan proposes an update; the Config item carries the drifted value). And the matching AWS
   Config items, in the API form (configuration as a JSON string).
2. Measures, in a fresh child process: parse the plan + fetch the items + compare. Fetching goes through
   the project's ConfigItemFetcher and a real botocore client; the HTTP layer is replaced by an in-process
   stand-in (a botocore ``before-send`` handler) that answers BatchGetResourceConfig from the generated
   items and counts calls. So serialisation, response parsing, retries and batching are all real.
3. Writes the figures to ``--out``: resources, seconds (parse, fetch, compare), peak_rss_mb of the measuring
   process, config_calls_per_resource, and whether the targets (≤ 10 s, ≤ 1536 MB, ≤ 0.011) were met.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "plugins"))
sys.path.insert(0, str(ROOT / "scripts"))

import plan_builder as pb  # noqa: E402 - the builders of the example estate, on the path just above

TARGETS = {"seconds": 10.0, "peak_rss_mb": 1536.0, "config_calls_per_resource": 0.011}
PROVIDER = "registry.terraform.io/hashicorp/aws"
PER_MODULE = 1000
REGION = "ap-northeast-1"
ACCOUNT = "123456789012"


# ----------------------------------------------------------------------------- generation


def _resource(i: int) -> tuple[pb.Res, Any]:
    """The i-th resource: RDS instances and EC2 instances alternate; same builders as the example estate."""
    if i % 2 == 0:
        return pb.db_instance("db", f"db-{i:06d}"), pb.rds_item
    return pb.ec2_instance("vm", f"vm-{i:06d}"), pb.ec2_item


DRIFTS = {
    "aws_db_instance": ("backup_retention_period", 1),
    "aws_instance": ("instance_type", "t3.large"),
}
KEEP = ("configurationItemStatus", "resourceType", "resourceId", "resourceName", "awsRegion")


def _api_item(snapshot_item: dict[str, Any]) -> dict[str, Any]:
    """A snapshot-form item as BatchGetResourceConfig returns it (configuration as a JSON string)."""
    item = {k: snapshot_item[k] for k in KEEP}
    item.update(
        {
            "version": "1.3",
            "accountId": ACCOUNT,
            "configurationItemCaptureTime": 1764460800.0,
            "configuration": json.dumps(snapshot_item["configuration"], separators=(",", ":")),
        }
    )
    return item


def generate(directory: Path, resources: int, drift_ratio: float) -> dict[str, Any]:
    modules: dict[int, list[dict[str, Any]]] = {}
    changes: list[str] = []
    items_path = directory / "items.jsonl"
    drifted = 0
    every = max(1, round(1 / drift_ratio)) if drift_ratio else 0
    with items_path.open("w") as items:
        for i in range(resources):
            res, item_of = _resource(i)
            tf_type, values = res.type, res.values
            values.pop("password", None)  # sensitive values are not part of the benchmark
            shard, idx = divmod(i, PER_MODULE)
            module = f"module.shard[{shard}]"
            name = res.name
            address = f"{module}.{tf_type}.{name}[{idx // 2}]"
            is_drifted = bool(every) and i % every == every // 2
            before = values
            drift: dict[str, Any] = {}
            if is_drifted:
                tf_attr, bad = DRIFTS[tf_type]
                before = {**values, tf_attr: bad}
                drift = {tf_attr: bad}
                drifted += 1
            item = _api_item(item_of(res, **drift))
            entry = {
                "address": address,
                "mode": "managed",
                "type": tf_type,
                "name": name,
                "index": idx // 2,
                "provider_name": PROVIDER,
                "schema_version": 0,
                "values": values,
                "sensitive_values": {},
            }
            modules.setdefault(shard, []).append(entry)
            rc = {
                "address": address,
                "module_address": module,
                "mode": "managed",
                "type": tf_type,
                "name": name,
                "index": idx // 2,
                "provider_name": PROVIDER,
                "change": {
                    "actions": ["update" if is_drifted else "no-op"],
                    "before": before,
                    "after": values,
                    "after_unknown": {},
                    "before_sensitive": {},
                    "after_sensitive": {},
                },
            }
            changes.append(json.dumps(rc, separators=(",", ":")))
            items.write(json.dumps(item, separators=(",", ":")) + "\n")

    def module_tree() -> dict[str, Any]:
        return {
            "resources": [],
            "child_modules": [
                {"address": f"module.shard[{s}]", "resources": res} for s, res in sorted(modules.items())
            ],
        }

    # The configuration section lists what the module writes: the builders' configured arguments.
    examples = [res for res, _ in (_resource(0), _resource(1))]
    configuration = {
        "root_module": {
            "module_calls": {
                "shard": {
                    "source": "./modules/shard",
                    "count_expression": {"constant_value": resources // PER_MODULE + 1},
                    "module": {
                        "resources": [
                            {
                                "address": f"{r.type}.{r.name}",
                                "mode": "managed",
                                "type": r.type,
                                "name": r.name,
                                "count_expression": {"constant_value": PER_MODULE // 2},
                                "expressions": {k: {"constant_value": None} for k in r.configured},
                            }
                            for r in examples
                        ]
                    },
                }
            }
        }
    }
    plan_path = directory / "plan.json"
    with plan_path.open("w") as f:
        f.write('{"format_version":"1.2","terraform_version":"1.9.8","planned_values":')
        json.dump({"root_module": module_tree()}, f, separators=(",", ":"))
        f.write(',"resource_changes":[')
        f.write(",".join(changes))
        f.write('],"prior_state":')
        json.dump(
            {"format_version": "1.0", "terraform_version": "1.9.8", "values": {"root_module": module_tree()}},
            f,
            separators=(",", ":"),
        )
        f.write(',"configuration":')
        json.dump(configuration, f, separators=(",", ":"))
        f.write("}")
    return {
        "resources": resources,
        "drifted_resources": drifted,
        "plan_bytes": plan_path.stat().st_size,
        "attributes_per_resource": 10,
    }


# ----------------------------------------------------------------------------- measurement


def measure(directory: Path) -> dict[str, Any]:
    import boto3
    from botocore.awsrequest import AWSResponse

    from drift_repair.aws.clients import client_config
    from drift_repair.core.mappings import load_mappings
    from drift_repair.pipeline import detect, load_document

    # The stand-in for AWS Config: items pre-serialised as they would come over the wire.
    store: dict[tuple[str, str], str] = {}
    with (directory / "items.jsonl").open() as f:
        for line in f:
            item = json.loads(line)
            store[(item["resourceType"], item["resourceId"])] = line.rstrip("\n")

    class _Raw:
        def __init__(self, body: bytes) -> None:
            self._body = body

        def stream(self, **_kwargs: Any) -> Any:
            yield self._body

    def answer(request: Any, **_kwargs: Any) -> AWSResponse:
        target = request.headers.get("X-Amz-Target", b"")
        target = target.decode() if isinstance(target, bytes) else target
        if not target.endswith("BatchGetResourceConfig"):
            raise RuntimeError(f"the benchmark stand-in only answers BatchGetResourceConfig, not {target}")
        keys = json.loads(request.body)["resourceKeys"]
        found = [
            store[(k["resourceType"], k["resourceId"])] for k in keys if (k["resourceType"], k["resourceId"]) in store
        ]
        body = ('{"baseConfigurationItems":[' + ",".join(found) + '],"unprocessedResourceKeys":[]}').encode()
        return AWSResponse(request.url, 200, {"Content-Type": "application/x-amz-json-1.1"}, _Raw(body))

    client = boto3.session.Session().client(
        "config",
        region_name=REGION,
        endpoint_url="http://bench.invalid",
        aws_access_key_id="bench",
        aws_secret_access_key="bench",
        config=client_config(),
    )
    client.meta.events.register("before-send.config.*", answer)
    mappings = load_mappings()
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    t0 = time.perf_counter()
    document = load_document(directory / "plan.json")
    t_parse = time.perf_counter() - t0
    run = detect(document, context={"account_id": ACCOUNT, "region": REGION}, mappings=mappings, config_client=client)
    total = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result = run.result
    return {
        "seconds": round(total, 3),
        "parse_seconds": round(t_parse, 3),
        "fetch_seconds": round(run.timings["fetch_seconds"], 3),
        "compare_seconds": round(run.timings["compare_seconds"], 3),
        "peak_rss_mb": round(rss, 1),
        "rss_before_parse_mb": round(rss_before, 1),
        "config_calls": run.fetch_stats.total_calls,
        "config_calls_by_operation": dict(run.fetch_stats.calls),
        "config_calls_per_resource": round(run.fetch_stats.total_calls / max(1, result.resources), 5),
        "compared_resources": result.resources,
        "attributes": len(result.rows),
        "verdicts": result.summary["verdicts"],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resources", type=int, default=50_000)
    parser.add_argument("--drift", type=float, default=0.02)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "detect.json")
    parser.add_argument("--generate", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.generate:
        print(json.dumps(generate(args.generate, args.resources, args.drift)))
        return 0
    if args.measure:
        print(json.dumps(measure(args.measure)))
        return 0
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'plugins'}{os.pathsep}{ROOT}"}
    with tempfile.TemporaryDirectory(prefix="drift-bench-") as tmp:
        print(f"generating a {args.resources}-resource plan and its Config items ...", flush=True)
        gen = json.loads(
            subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--generate",
                    tmp,
                    "--resources",
                    str(args.resources),
                    "--drift",
                    str(args.drift),
                ],
                check=True,
                env=env,
                capture_output=True,
                text=True,
            ).stdout
        )
        print(f"measuring parse + fetch + compare (plan {gen['plan_bytes'] / 1e6:.0f} MB) ...", flush=True)
        figures = json.loads(
            subprocess.run(
                [sys.executable, __file__, "--measure", tmp], check=True, env=env, capture_output=True, text=True
            ).stdout
        )
    result = {
        "benchmark": "detect",
        "resources": args.resources,
        **gen,
        **figures,
        "targets": TARGETS,
        "met": {k: figures[k] <= v for k, v in TARGETS.items()},
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()},
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    assert figures["verdicts"]["NG"] == gen["drifted_resources"], "every drifted resource must be found"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(
        json.dumps(
            {k: result[k] for k in ("resources", "seconds", "peak_rss_mb", "config_calls_per_resource", "met")},
            indent=2,
        )
    )
    print(f"written to {args.out}")
    return 0 if all(result["met"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
