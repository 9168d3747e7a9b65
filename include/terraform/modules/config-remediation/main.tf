# drift-repair remediation assets for one account and region: AWS Config managed rules, their remediation
# configurations (never automatic), the SSM Automation runbooks, the role they run as, the evidence bucket
# and the notifications. What to deploy comes from the mapping files through ./catalog.

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

module "catalog" {
  source = "./catalog"

  mappings_dir = coalesce(var.mappings_dir, "${path.module}/../../../mappings")
  runbooks_dir = coalesce(var.runbooks_dir, "${path.module}/../../../runbooks")

  # The values behind {module: <name>} in the mappings: the names are this module's contract with them.
  module_values = {
    automation_role_arn       = aws_iam_role.automation.arn
    evidence_bucket           = aws_s3_bucket.evidence.bucket
    approvers                 = var.approver_arns
    min_required_approvals    = var.min_required_approvals
    loop_guard_window_hours   = var.loop_guard_window_hours
    loop_guard_max_per_window = var.loop_guard_max_per_window
  }
  expected_defaults = var.expected_defaults
}

locals {
  account_id = data.aws_caller_identity.current.account_id
  region     = data.aws_region.current.name
  partition  = data.aws_partition.current.partition

  rules        = module.catalog.config_rules
  remediations = module.catalog.remediations
  runbooks     = module.catalog.runbooks

  topic_name = coalesce(var.notification_topic_name, "${var.name_prefix}-${var.environment}")
  tags       = merge({ "drift-repair:environment" = var.environment, "drift-repair:managed-by" = "terraform" }, var.tags)
}
