variable "account_id" {
  description = "The AWS account this environment deploys to (account_id in include/environments/<env>.yaml); the provider refuses any other."
  type        = string

  validation {
    condition     = can(regex("^[0-9]{12}$", var.account_id))
    error_message = "account_id is 12 digits."
  }
}

variable "region" {
  description = "The region of the Config rules and runbooks (region in the environment YAML)."
  type        = string
}

variable "environment" {
  description = "Environment name (name in the environment YAML)."
  type        = string
}

variable "approver_arns" {
  description = "IAM principals allowed to approve a runbook's aws:approve step: the role the Airflow workers of this environment use (the human approval happens in Airflow first)."
  type        = list(string)
}

variable "min_required_approvals" {
  description = "Distinct approver_arns needed to release an aws:approve step. 1 when the Airflow role is the only approver; Airflow enforces required_approvers (2 in prod) before it signals."
  type        = number
}

variable "loop_guard_window_hours" {
  description = "Runbook loop guard window in hours (loop_guard.window_hours in the environment YAML)."
  type        = number
}

variable "loop_guard_max_per_window" {
  description = "Runbook loop guard cap per window (loop_guard.max_per_window in the environment YAML)."
  type        = number
}

variable "evidence_bucket_name" {
  description = "Evidence bucket created by the module (evidence.s3_bucket in the environment YAML)."
  type        = string
}

variable "evidence_object_lock_mode" {
  description = "GOVERNANCE or COMPLIANCE object lock for evidence."
  type        = string
}

variable "evidence_retention_days" {
  description = "Object lock retention of evidence, in days."
  type        = number
}

variable "pre_state_expiration_days" {
  description = "Days after which pre-state objects expire (at least evidence_retention_days)."
  type        = number
}

variable "access_log_bucket" {
  description = "Existing central bucket for the evidence bucket's server access logs; null for none."
  type        = string
  default     = null
}

variable "notification_topic_name" {
  description = "SNS topic name; its ARN is notifications.sns_topic_arn in the environment YAML."
  type        = string
}
