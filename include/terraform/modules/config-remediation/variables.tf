variable "environment" {
  description = "Environment name (dev, stg, prod): part of resource names and tags."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,15}$", var.environment))
    error_message = "environment is 2-16 lower-case letters, digits or hyphens, starting with a letter."
  }
}

variable "name_prefix" {
  description = "Prefix of the names this module gives (IAM role, KMS alias, SNS topic, EventBridge rule). Config rule and SSM document names come from the mappings and runbooks unchanged, because the DAG looks them up by those names."
  type        = string
  default     = "drift-repair"
}

variable "mappings_dir" {
  description = "Directory of the mapping YAML files; null means the repository's include/mappings next to this module."
  type        = string
  default     = null
}

variable "runbooks_dir" {
  description = "Directory of the runbook YAML files; null means the repository's include/runbooks next to this module."
  type        = string
  default     = null
}

variable "approver_arns" {
  description = "IAM principals whose SendAutomationSignal Approve releases a runbook's aws:approve step (at most 10). Normally only the role the Airflow workers use: the human approval happens in Airflow, the DAG then signals as this role."
  type        = list(string)

  validation {
    condition     = length(var.approver_arns) >= 1 && length(var.approver_arns) <= 10 && alltrue([for a in var.approver_arns : can(regex("^arn:aws[a-z-]*:(iam|sts)::[0-9]{12}:(user|role|assumed-role)/", a))])
    error_message = "approver_arns holds 1 to 10 IAM user, role or assumed-role ARNs."
  }
}

variable "min_required_approvals" {
  description = "MinRequiredApprovals of the aws:approve step: how many distinct approver_arns must approve. SSM counts principals, not people: with the Airflow role as the only approver this is 1, and the two-person rule for prod is enforced by Airflow's approval (required_approvers in include/environments/<env>.yaml)."
  type        = number
  default     = 1

  validation {
    condition     = var.min_required_approvals >= 1 && floor(var.min_required_approvals) == var.min_required_approvals
    error_message = "min_required_approvals is a whole number of at least 1."
  }
}

variable "loop_guard_window_hours" {
  description = "Runbook loop guard: the window, in hours, over which a resource's remediations are counted (loop_guard.window_hours in the environment YAML)."
  type        = number
  default     = 24
}

variable "loop_guard_max_per_window" {
  description = "Runbook loop guard: refuse a change when the resource was remediated this many times in the window (loop_guard.max_per_window); 0 turns the runbook guard off."
  type        = number
  default     = 3
}

variable "expected_defaults" {
  description = "Static defaults, by mapping attribute, for runbook parameters the DAG fills with the designed value ({expected: <attribute>} in a mapping). They apply to runs started from the AWS Config console; an empty string leaves the parameter to the runbook's default."
  type        = map(string)
  default = {
    sse_algorithm           = "AES256"
    sse_kms_key_id          = ""
    bucket_key_enabled      = "false"
    backup_retention_period = "7"
  }
}

variable "concurrent_execution_rate_percentage" {
  description = "Remediation execution controls: the share of a rule's non-compliant resources remediated at the same time (1-100)."
  type        = number
  default     = 10

  validation {
    condition     = var.concurrent_execution_rate_percentage >= 1 && var.concurrent_execution_rate_percentage <= 100
    error_message = "concurrent_execution_rate_percentage is between 1 and 100."
  }
}

variable "error_percentage" {
  description = "Remediation execution controls: stop a rule's remediation batch when this share of executions failed (1-100)."
  type        = number
  default     = 10

  validation {
    condition     = var.error_percentage >= 1 && var.error_percentage <= 100
    error_message = "error_percentage is between 1 and 100."
  }
}

variable "periodic_rule_frequency" {
  description = "Evaluation frequency of the periodic managed rules (One_Hour, Three_Hours, Six_Hours, Twelve_Hours, TwentyFour_Hours)."
  type        = string
  default     = "TwentyFour_Hours"

  validation {
    condition     = contains(["One_Hour", "Three_Hours", "Six_Hours", "Twelve_Hours", "TwentyFour_Hours"], var.periodic_rule_frequency)
    error_message = "periodic_rule_frequency is one of One_Hour, Three_Hours, Six_Hours, Twelve_Hours, TwentyFour_Hours."
  }
}

variable "remediable_bucket_patterns" {
  description = "S3 bucket names (IAM wildcards allowed) the S3 runbooks may change; [\"*\"] means every bucket of the account. The evidence bucket is always excluded by an explicit deny."
  type        = list(string)
  default     = ["*"]
}

variable "evidence_bucket_name" {
  description = "Name of the evidence bucket created here (evidence.s3_bucket in the environment YAML): pre-states of every remediation and the DAG's evidence bundles."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.evidence_bucket_name))
    error_message = "evidence_bucket_name must be a valid S3 bucket name."
  }
}

variable "evidence_object_lock_mode" {
  description = "Object lock mode of the evidence bucket's default retention: GOVERNANCE (privileged users can still remove evidence) or COMPLIANCE (nobody can, not even root, until retention ends)."
  type        = string
  default     = "GOVERNANCE"

  validation {
    condition     = contains(["GOVERNANCE", "COMPLIANCE"], var.evidence_object_lock_mode)
    error_message = "evidence_object_lock_mode is GOVERNANCE or COMPLIANCE."
  }
}

variable "evidence_retention_days" {
  description = "Default object lock retention of everything written to the evidence bucket, in days."
  type        = number
  default     = 400

  validation {
    condition     = var.evidence_retention_days >= 1
    error_message = "evidence_retention_days is at least 1."
  }
}

variable "pre_state_expiration_days" {
  description = "Lifecycle: pre-state objects (pre-state/) expire after this many days; at least evidence_retention_days, so a pre-state stays readable while it is locked."
  type        = number
  default     = 400
}

variable "access_log_bucket" {
  description = "Bucket receiving the evidence bucket's server access logs (an existing, central log bucket); null turns access logging off."
  type        = string
  default     = null
}

variable "notification_topic_name" {
  description = "Name of the SNS topic receiving SSM Automation status changes of the drift-repair runbooks; null means <name_prefix>-<environment>."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags added to every resource that takes tags."
  type        = map(string)
  default     = {}
}
