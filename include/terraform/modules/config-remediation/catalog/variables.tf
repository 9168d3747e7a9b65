variable "mappings_dir" {
  description = "Directory of the attribute mapping YAML files (include/mappings): the single source of the Config rules and their remediation parameters."
  type        = string
}

variable "runbooks_dir" {
  description = "Directory of the SSM Automation runbooks (include/runbooks), one <document name>.yaml per runbook."
  type        = string
}

variable "module_values" {
  description = "Values for mapping parameters written {module: <name>}: automation_role_arn, evidence_bucket, approvers (a list), min_required_approvals, loop_guard_window_hours, loop_guard_max_per_window."
  type        = any
}

variable "expected_defaults" {
  description = "Static defaults for mapping parameters written {expected: <attribute>}, by attribute name. The DAG passes the designed value per resource when it starts a remediation; these serve runs started from the AWS Config console. An empty string leaves the parameter out (the runbook's own default applies)."
  type        = map(string)
}
