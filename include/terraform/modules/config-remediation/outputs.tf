output "automation_role_arn" {
  description = "ARN of the role the runbooks run as: the AutomationAssumeRole the DAG passes to StartAutomationExecution."
  value       = aws_iam_role.automation.arn
}

output "evidence_bucket" {
  description = "Name of the evidence bucket (pre-states under pre-state/, evidence bundles elsewhere)."
  value       = aws_s3_bucket.evidence.bucket
}

output "kms_key_arn" {
  description = "ARN of the KMS key encrypting the evidence bucket and the notification topic (writers need kms:GenerateDataKey)."
  value       = aws_kms_key.drift_repair.arn
}

output "sns_topic_arn" {
  description = "ARN of the SNS topic receiving Automation status changes of the drift-repair runbooks."
  value       = aws_sns_topic.notifications.arn
}

output "eventbridge_rule_name" {
  description = "Name of the EventBridge rule forwarding Automation status changes to the topic."
  value       = aws_cloudwatch_event_rule.automation_status.name
}

output "config_rule_names" {
  description = "Config rule name => the rule's ARN, for every mapping rule."
  value       = { for name, rule in aws_config_config_rule.this : name => rule.arn }
}

output "remediation_configurations" {
  description = "Config rule name => runbook (document name) and the document version its remediation configuration targets."
  value = {
    for name, rc in aws_config_remediation_configuration.this : name => {
      runbook        = rc.target_id
      target_version = rc.target_version
    }
  }
}

output "ssm_documents" {
  description = "Document name => ARN, default_version and latest_version of every runbook deployed."
  value = {
    for name, doc in aws_ssm_document.runbook : name => {
      arn             = doc.arn
      default_version = doc.default_version
      latest_version  = doc.latest_version
    }
  }
}

output "approver_arns" {
  description = "Principals that can release a runbook's aws:approve step (the DAG signals as one of them)."
  value       = var.approver_arns
}

output "dag_settings" {
  description = "Everything the drift-repair DAG reads, in one object (terraform output -json dag_settings)."
  value = {
    region                 = local.region
    account_id             = local.account_id
    automation_role_arn    = aws_iam_role.automation.arn
    evidence_bucket        = aws_s3_bucket.evidence.bucket
    sns_topic_arn          = aws_sns_topic.notifications.arn
    config_rules           = sort(keys(aws_config_config_rule.this))
    remediation_runbooks   = { for name, rc in aws_config_remediation_configuration.this : name => rc.target_id }
    document_versions      = { for name, doc in aws_ssm_document.runbook : name => doc.default_version }
    min_required_approvals = var.min_required_approvals
  }
}

output "airflow_policy_json" {
  description = "IAM policy (JSON) to attach to the role of this environment's Airflow workers: run and approve the runbooks, read remediation configurations and compliance, write evidence. Reading Config items (BatchGetResourceConfig, SelectResourceConfig) is granted separately (AWS managed ConfigReadOnlyAccess or equivalent), as detection needs it without remediation."
  value       = data.aws_iam_policy_document.airflow.json
}
