# drift-repair remediation assets for the dev account (123456789012, ap-northeast-1).
# Values mirror include/environments/dev.yaml; see docs/deploying.md for the order of apply.

terraform {
  required_version = ">= 1.10.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.60.0, < 6.0.0"
    }
  }

  # State in the account's Terraform state bucket (created once, before the first apply: docs/deploying.md).
  # Backend blocks take no variables, so the values are written here per environment:
  #   bucket       - the state bucket of account 123456789012
  #   key          - one state per environment of this project
  #   use_lockfile - S3-native state locking (Terraform >= 1.10), no DynamoDB table needed
  backend "s3" {
    bucket       = "tfstate-123456789012-ap-northeast-1"
    key          = "drift-repair/dev/remediation.tfstate"
    region       = "ap-northeast-1"
    encrypt      = true
    use_lockfile = true
  }
}

provider "aws" {
  region = var.region

  # A wrong profile or role fails the plan instead of changing another account.
  allowed_account_ids = [var.account_id]

  default_tags {
    tags = {
      Project     = "drift-repair"
      Environment = var.environment
    }
  }
}

module "drift_repair" {
  source = "../../modules/config-remediation"

  environment               = var.environment
  approver_arns             = var.approver_arns
  min_required_approvals    = var.min_required_approvals
  loop_guard_window_hours   = var.loop_guard_window_hours
  loop_guard_max_per_window = var.loop_guard_max_per_window
  evidence_bucket_name      = var.evidence_bucket_name
  evidence_object_lock_mode = var.evidence_object_lock_mode
  evidence_retention_days   = var.evidence_retention_days
  pre_state_expiration_days = var.pre_state_expiration_days
  access_log_bucket         = var.access_log_bucket
  notification_topic_name   = var.notification_topic_name
}
