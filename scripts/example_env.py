"""Write the bundled example environments: include/environments/<env>/plan.json (+ dev's Config snapshot).

    python scripts/example_env.py            # rewrite the files
    python scripts/example_env.py --check    # exit 1 when the committed files differ (a test runs this)

The estate: S3 buckets with split encryption / versioning / public-access-block / logging resources (a
for_each module) and one legacy bucket with inline blocks, an RDS instance, two EC2 instances (count) with
their security groups, a KMS key, a CloudTrail trail, EBS encryption by default and a VPC flow log, plus a
bucket the plan is about to create (values known only after apply). dev's snapshot carries drift.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import plan_builder as pb

ROOT = Path(__file__).resolve().parents[1]
ENVS = ROOT / "include" / "environments"


def estate(env: str) -> list[pb.Res]:
    p = f"drift-repair-{env}"
    storage = "module.storage"
    buckets = {"logs": f"{p}-logs", "data": f"{p}-data", "artifacts": f"{p}-artifacts"}
    resources: list[pb.Res] = []
    for key, bucket in buckets.items():
        resources.append(pb.s3_bucket("this", bucket, storage, key))
        resources.append(
            pb.s3_sse(
                "this",
                bucket,
                module=storage,
                index=key,
                **({"algorithm": "aws:kms", "kms_key": pb.uuid_for(f"{env}-data")} if key == "data" else {}),
            )
        )
        resources.append(pb.s3_versioning("this", bucket, module=storage, index=key))
        resources.append(pb.s3_pab("this", bucket, module=storage, index=key))
        if key != "logs":
            resources.append(pb.s3_logging("this", bucket, buckets["logs"], f"s3/{key}/", storage, key))
    resources.append(
        pb.s3_bucket(
            "legacy",
            f"{p}-legacy",
            versioning=[{"enabled": True, "mfa_delete": False}],
            server_side_encryption_configuration=[
                {
                    "rule": [
                        {
                            "apply_server_side_encryption_by_default": [
                                {"sse_algorithm": "AES256", "kms_master_key_id": ""}
                            ],
                            "bucket_key_enabled": False,
                        }
                    ]
                }
            ],
        )
    )
    # A bucket the plan creates: its name is known, everything AWS assigns is not.
    new = pb.s3_bucket("reports", f"{p}-reports")
    new.action = "create"
    new.after_unknown = {
        "id": True,
        "arn": True,
        "bucket_domain_name": True,
        "versioning": True,
        "server_side_encryption_configuration": True,
    }
    resources.append(new)
    new_v = pb.s3_versioning("reports", f"{p}-reports")
    new_v.action = "create"
    new_v.values["bucket"] = None
    new_v.after_unknown = {"bucket": True, "id": True}
    resources.append(new_v)

    resources.append(pb.db_instance("main", f"{p}-db"))
    web_sg = pb.security_group(
        "web",
        f"{p}-web",
        module="module.app",
        ingress=[
            {"protocol": "tcp", "from_port": 443, "to_port": 443, "cidr_blocks": ["0.0.0.0/0"], "description": "https"},
        ],
    )
    db_sg = pb.security_group(
        "db",
        f"{p}-db",
        module="module.app",
        ingress=[
            {"protocol": "tcp", "from_port": 5432, "to_port": 5432, "security_groups": [web_sg.values["id"]]},
        ],
    )
    resources += [web_sg, db_sg]
    for i in range(2):
        resources.append(
            pb.ec2_instance("web", f"{p}-web-{i}", "module.app", i, vpc_security_group_ids=[web_sg.values["id"]])
        )
    resources.append(pb.kms_key("data", f"{env}-data"))
    resources.append(pb.cloudtrail("main", f"{p}-trail", buckets["logs"]))
    resources.append(pb.ebs_default_encryption())
    resources.append(pb.flow_log("vpc", f"{p}-flow", pb._id("vpc-", "main"), buckets["logs"]))
    return resources


def drifted_items(resources: list[pb.Res]) -> tuple[list[dict], list[dict]]:
    """Config items for dev as AWS would record them after some hands-on changes, and rule compliance."""
    by = {r.address: r for r in resources}
    p = "drift-repair-dev"
    logs, data, artifacts = f"{p}-logs", f"{p}-data", f"{p}-artifacts"
    full_pab = {
        "blockPublicAcls": True,
        "ignorePublicAcls": True,
        "blockPublicPolicy": True,
        "restrictPublicBuckets": True,
    }
    items = [
        # versioning suspended by hand on the log bucket
        pb.s3_item(logs, versioning="Suspended", pab=full_pab),
        # someone relaxed the bucket policy guard on the data bucket
        pb.s3_item(
            data,
            sse="aws:kms",
            kms_key=f"arn:aws:kms:{pb.REGION}:{pb.ACCOUNT}:key/{pb.uuid_for('dev-data')}",
            versioning="Enabled",
            pab={**full_pab, "blockPublicPolicy": False},
            logging=(logs, "s3/data/"),
        ),
        pb.s3_item(artifacts, versioning="Enabled", pab=full_pab, logging=(logs, "s3/artifacts/")),
        pb.s3_item(f"{p}-legacy", versioning="Enabled"),
        # backups shortened and the instance opened to the internet
        pb.rds_item(by["aws_db_instance.main"], backup_retention_period=1, publicly_accessible=True),
        pb.sg_item(
            by["module.app.aws_security_group.web"],
            extra_ingress=[{"protocol": "tcp", "from_port": 22, "to_port": 22, "cidr_blocks": ["0.0.0.0/0"]}],
        ),
        pb.sg_item(by["module.app.aws_security_group.db"]),
        pb.ec2_item(by["module.app.aws_instance.web[0]"]),
        # IMDSv1 re-allowed and the instance resized by hand
        pb.ec2_item(
            by["module.app.aws_instance.web[1]"],
            instance_type="t3.large",
            metadata_options=[
                {
                    "http_tokens": "optional",
                    "http_endpoint": "enabled",
                    "http_put_response_hop_limit": 1,
                    "instance_metadata_tags": "disabled",
                }
            ],
        ),
        pb.kms_item(by["aws_kms_key.data"], rotation=False),
        pb.trail_item(by["aws_cloudtrail.main"], enable_log_file_validation=False),
        pb.flow_log_item(by["aws_flow_log.vpc"]),
    ]
    compliance = [
        {
            "EvaluationResultIdentifier": {
                "EvaluationResultQualifier": {
                    "ConfigRuleName": "ec2-ebs-encryption-by-default",
                    "ResourceType": "AWS::::Account",
                    "ResourceId": pb.ACCOUNT,
                },
                "OrderingTimestamp": pb.CAPTURE_TIME,
            },
            "ComplianceType": "COMPLIANT",
            "ResultRecordedTime": pb.CAPTURE_TIME,
            "ConfigRuleInvokedTime": pb.CAPTURE_TIME,
        }
    ]
    return items, compliance


def mark_drift_in_plan(resources: list[pb.Res], items: list[dict]) -> None:
    """A plan taken after the drift proposes updates for the drifted resources (before = refreshed values)."""
    drifted = {
        "aws_db_instance.main": {"backup_retention_period": 1, "publicly_accessible": True},
        "module.app.aws_instance.web[1]": {"instance_type": "t3.large"},
        "aws_kms_key.data": {"enable_key_rotation": False},
        "aws_cloudtrail.main": {"enable_log_file_validation": False},
        'module.storage.aws_s3_bucket_versioning.this["logs"]': {
            "versioning_configuration": [{"status": "Suspended", "mfa_delete": "Disabled"}]
        },
        'module.storage.aws_s3_bucket_public_access_block.this["data"]': {"block_public_policy": False},
    }
    for r in resources:
        if r.address in drifted:
            r.action = "update"
            r.before = {**r.values, **drifted[r.address]}


def render() -> dict[Path, str]:
    out: dict[Path, str] = {}
    for env in ("dev", "stg", "prod"):
        resources = estate(env)
        if env == "dev":
            items, compliance = drifted_items(resources)
            mark_drift_in_plan(resources, items)
            out[ENVS / env / "config-snapshot.json"] = json.dumps(pb.snapshot_document(items), indent=2) + "\n"
            out[ENVS / env / "config-compliance.json"] = json.dumps({"EvaluationResults": compliance}, indent=2) + "\n"
        else:
            for r in resources:
                for key in ("tags", "tags_all"):
                    if isinstance(r.values.get(key), dict) and "Environment" in r.values[key]:
                        r.values[key] = {**r.values[key], "Environment": env}
        out[ENVS / env / "plan.json"] = json.dumps(pb.plan_document(resources), indent=2) + "\n"
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail when the committed files are out of date")
    args = parser.parse_args()
    stale = []
    for path, text in render().items():
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(path)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path.relative_to(ROOT)}")
    if stale:
        print("out of date (run python scripts/example_env.py):", *stale, sep="\n  ")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
