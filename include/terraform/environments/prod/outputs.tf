output "automation_role_arn" {
  description = "AutomationAssumeRole for the runbooks."
  value       = module.drift_repair.automation_role_arn
}

output "evidence_bucket" {
  description = "Evidence bucket name."
  value       = module.drift_repair.evidence_bucket
}

output "kms_key_arn" {
  description = "KMS key of the evidence bucket and the topic."
  value       = module.drift_repair.kms_key_arn
}

output "sns_topic_arn" {
  description = "Topic receiving Automation status changes."
  value       = module.drift_repair.sns_topic_arn
}

output "eventbridge_rule_name" {
  description = "EventBridge rule forwarding Automation status changes."
  value       = module.drift_repair.eventbridge_rule_name
}

output "config_rule_names" {
  description = "Config rule name => ARN."
  value       = module.drift_repair.config_rule_names
}

output "remediation_configurations" {
  description = "Config rule name => runbook and target version."
  value       = module.drift_repair.remediation_configurations
}

output "ssm_documents" {
  description = "Runbook name => ARN and versions."
  value       = module.drift_repair.ssm_documents
}

output "dag_settings" {
  description = "Everything the DAG reads, in one object."
  value       = module.drift_repair.dag_settings
}

output "airflow_policy_json" {
  description = "Policy to attach to the Airflow workers' role (the approver in approver_arns)."
  value       = module.drift_repair.airflow_policy_json
}
