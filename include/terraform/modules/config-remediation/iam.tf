# The role every drift-repair runbook runs as (AutomationAssumeRole), with one inline policy per runbook
# granting only the calls that runbook makes, plus one for the evidence bucket they all write pre-states to.

locals {
  bucket_arns      = [for pattern in var.remediable_bucket_patterns : "arn:${local.partition}:s3:::${pattern}"]
  db_instance_arns = ["arn:${local.partition}:rds:${local.region}:${local.account_id}:db:*"]
  kms_key_arns     = ["arn:${local.partition}:kms:${local.region}:${local.account_id}:key/*"]
  trail_arns       = ["arn:${local.partition}:cloudtrail:${local.region}:${local.account_id}:trail/*"]
  instance_arns    = ["arn:${local.partition}:ec2:${local.region}:${local.account_id}:instance/*"]

  # The only actions granted on Resource "*": IAM defines no resource type for them, so it accepts no other
  # resource. Every "*" in a runbook policy must be for actions listed here (checked by a precondition below
  # and by tests/terraform).
  wildcard_resource_actions = {
    "ec2:GetEbsEncryptionByDefault"     = "EBS encryption by default is an account-and-region setting; IAM has no resource type for it"
    "ec2:EnableEbsEncryptionByDefault"  = "EBS encryption by default is an account-and-region setting; IAM has no resource type for it"
    "ec2:DisableEbsEncryptionByDefault" = "EBS encryption by default is an account-and-region setting; IAM has no resource type for it (rollback)"
    "ec2:DescribeInstances"             = "EC2 Describe* calls support no resource-level permissions (read-only)"
  }

  # Runbook => the statements its steps need (the APIs its executeAwsApi steps and scripts call, incl. rollback).
  runbook_statements = {
    "DriftRepair-S3-EnableEncryption" = [
      { sid = "BucketEncryption", actions = ["s3:GetEncryptionConfiguration", "s3:PutEncryptionConfiguration"], resources = local.bucket_arns },
    ]
    "DriftRepair-S3-EnableEncryptionScript" = [
      { sid = "BucketEncryption", actions = ["s3:GetEncryptionConfiguration", "s3:PutEncryptionConfiguration"], resources = local.bucket_arns },
    ]
    "DriftRepair-S3-EnableVersioning" = [
      { sid = "BucketVersioning", actions = ["s3:GetBucketVersioning", "s3:PutBucketVersioning"], resources = local.bucket_arns },
    ]
    "DriftRepair-S3-BlockPublicAccess" = [
      # DeletePublicAccessBlock (rollback to "no configuration") is authorised by s3:PutBucketPublicAccessBlock.
      { sid = "BucketPublicAccessBlock", actions = ["s3:GetBucketPublicAccessBlock", "s3:PutBucketPublicAccessBlock"], resources = local.bucket_arns },
    ]
    "DriftRepair-RDS-EnableBackupRetention" = [
      { sid = "DbInstanceBackup", actions = ["rds:DescribeDBInstances", "rds:ModifyDBInstance"], resources = local.db_instance_arns },
    ]
    "DriftRepair-RDS-DisablePublicAccess" = [
      { sid = "DbInstancePublicAccess", actions = ["rds:DescribeDBInstances", "rds:ModifyDBInstance"], resources = local.db_instance_arns },
    ]
    "DriftRepair-KMS-EnableKeyRotation" = [
      { sid = "KeyRotation", actions = ["kms:GetKeyRotationStatus", "kms:EnableKeyRotation", "kms:DisableKeyRotation"], resources = local.kms_key_arns },
    ]
    "DriftRepair-CloudTrail-EnableLogFileValidation" = [
      { sid = "TrailValidation", actions = ["cloudtrail:GetTrail", "cloudtrail:UpdateTrail"], resources = local.trail_arns },
    ]
    "DriftRepair-EC2-EnableEbsEncryptionByDefault" = [
      { sid = "EbsEncryptionByDefault", actions = ["ec2:GetEbsEncryptionByDefault", "ec2:EnableEbsEncryptionByDefault", "ec2:DisableEbsEncryptionByDefault"], resources = ["*"] },
    ]
    "DriftRepair-EC2-RequireImdsV2" = [
      { sid = "DescribeInstances", actions = ["ec2:DescribeInstances"], resources = ["*"] },
      { sid = "InstanceMetadataOptions", actions = ["ec2:ModifyInstanceMetadataOptions"], resources = local.instance_arns },
    ]
  }
}

data "aws_iam_policy_document" "automation_trust" {
  statement {
    sid     = "AutomationAndConfig"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ssm.amazonaws.com", "config.amazonaws.com"]
    }

    # Confused-deputy guard: only this account's SSM Automation and AWS Config may assume the role.
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "automation" {
  name                 = "${var.name_prefix}-automation-${var.environment}"
  description          = "drift-repair: the role SSM Automation runbooks run as (AutomationAssumeRole)"
  assume_role_policy   = data.aws_iam_policy_document.automation_trust.json
  max_session_duration = 3600
  tags                 = local.tags
}

data "aws_iam_policy_document" "runbook" {
  for_each = local.runbook_statements

  dynamic "statement" {
    for_each = each.value
    content {
      sid       = statement.value.sid
      effect    = "Allow"
      actions   = statement.value.actions
      resources = statement.value.resources
    }
  }
}

resource "aws_iam_role_policy" "runbook" {
  for_each = data.aws_iam_policy_document.runbook

  name   = each.key
  role   = aws_iam_role.automation.id
  policy = each.value.json

  lifecycle {
    precondition {
      condition = alltrue([
        for s in local.runbook_statements[each.key] : !contains(s.resources, "*") || alltrue([for a in s.actions : contains(keys(local.wildcard_resource_actions), a)])
      ])
      error_message = "A runbook policy grants Resource \"*\" to an action not listed in local.wildcard_resource_actions."
    }
    precondition {
      condition     = contains(keys(local.runbooks), each.key)
      error_message = "A runbook policy names a runbook that has no file in the runbooks directory."
    }
  }
}

data "aws_iam_policy_document" "evidence" {
  statement {
    sid       = "PreStateObjects"
    actions   = ["s3:PutObject", "s3:GetObject"]
    resources = ["${aws_s3_bucket.evidence.arn}/pre-state/*"]
  }

  # The loop guard counts a resource's pre-states.
  statement {
    sid       = "ListPreStates"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.evidence.arn]

    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["pre-state/*"]
    }
  }

  statement {
    sid       = "EvidenceKey"
    actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
    resources = [aws_kms_key.drift_repair.arn]
  }

  # A runbook pointed at the evidence bucket itself must never change it (or its evidence).
  statement {
    sid    = "NeverChangeTheEvidenceBucket"
    effect = "Deny"
    actions = [
      "s3:PutEncryptionConfiguration",
      "s3:PutBucketVersioning",
      "s3:PutBucketPublicAccessBlock",
      "s3:PutBucketPolicy",
      "s3:DeleteBucketPolicy",
      "s3:PutLifecycleConfiguration",
      "s3:PutBucketObjectLockConfiguration",
      "s3:DeleteObject",
      "s3:DeleteObjectVersion",
      "s3:BypassGovernanceRetention",
    ]
    resources = [aws_s3_bucket.evidence.arn, "${aws_s3_bucket.evidence.arn}/*"]
  }
}

resource "aws_iam_role_policy" "evidence" {
  name   = "evidence-bucket"
  role   = aws_iam_role.automation.id
  policy = data.aws_iam_policy_document.evidence.json
}
