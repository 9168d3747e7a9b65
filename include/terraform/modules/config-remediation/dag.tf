# What the drift-repair DAG's own role (the Airflow workers') needs in this account, as a policy document to
# attach to that role: start, watch, signal and stop the drift-repair runbooks, pass the automation role,
# read the remediation configurations and compliance, and write evidence. Output as airflow_policy_json.

data "aws_iam_policy_document" "airflow" {
  statement {
    sid       = "StartDriftRepairRunbooks"
    actions   = ["ssm:StartAutomationExecution"]
    resources = [for name in keys(aws_ssm_document.runbook) : "arn:${local.partition}:ssm:${local.region}:${local.account_id}:automation-definition/${name}:*"]
  }

  statement {
    sid       = "WatchSignalAndStopExecutions"
    actions   = ["ssm:GetAutomationExecution", "ssm:SendAutomationSignal", "ssm:StopAutomationExecution", "ssm:DescribeAutomationStepExecutions"]
    resources = ["arn:${local.partition}:ssm:${local.region}:${local.account_id}:automation-execution/*"]
  }

  statement {
    sid       = "PassTheAutomationRoleToSsmOnly"
    actions   = ["iam:PassRole"]
    resources = [aws_iam_role.automation.arn]

    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["ssm.amazonaws.com"]
    }
  }

  statement {
    sid = "RemediationConfigurationsAndCompliance"
    actions = [
      "config:DescribeRemediationConfigurations",
      "config:StartRemediationExecution",
      "config:DescribeRemediationExecutionStatus",
      "config:GetComplianceDetailsByConfigRule",
    ]
    resources = [for rule in aws_config_config_rule.this : rule.arn]
  }

  statement {
    sid       = "EvidenceObjects"
    actions   = ["s3:PutObject", "s3:GetObject"]
    resources = ["${aws_s3_bucket.evidence.arn}/*"]
  }

  statement {
    sid       = "ListEvidence"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.evidence.arn]
  }

  statement {
    sid       = "EvidenceKey"
    actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
    resources = [aws_kms_key.drift_repair.arn]
  }
}
