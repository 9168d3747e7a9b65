# AWS managed Config rules and their remediation configurations, one per mapping rule.
#
# Assumes AWS Config is already recording in this account and region (a configuration recorder and delivery
# channel, usually set up account-wide, e.g. by Control Tower): rules cannot be created without it.

locals {
  # Managed rules whose trigger type is Periodic only ("Trigger type: Periodic" in each rule's AWS Config
  # documentation): they take an evaluation frequency and no scope.
  periodic_source_identifiers = toset([
    "CLOUD_TRAIL_LOG_FILE_VALIDATION_ENABLED",
    "CMK_BACKING_KEY_ROTATION_ENABLED",
    "EC2_EBS_ENCRYPTION_BY_DEFAULT",
    "VPC_FLOW_LOGS_ENABLED",
  ])
}

resource "aws_config_config_rule" "this" {
  for_each = local.rules

  name        = each.key
  description = substr("drift-repair (${each.value.mapping}): ${each.value.description}", 0, 256)

  source {
    owner             = "AWS"
    source_identifier = each.value.source_identifier
  }

  input_parameters            = length(each.value.input_parameters) > 0 ? jsonencode(each.value.input_parameters) : null
  maximum_execution_frequency = contains(local.periodic_source_identifiers, each.value.source_identifier) ? var.periodic_rule_frequency : null

  dynamic "scope" {
    for_each = contains(local.periodic_source_identifiers, each.value.source_identifier) ? [] : [each.value.resource_type]
    content {
      compliance_resource_types = [scope.value]
    }
  }

  tags = local.tags
}

resource "aws_config_remediation_configuration" "this" {
  for_each = local.remediations

  config_rule_name = aws_config_config_rule.this[each.key].name
  # Account-level findings (AWS::::Account) take no resource type on the remediation configuration.
  resource_type  = each.value.resource_type == "AWS::::Account" ? null : each.value.resource_type
  target_type    = "SSM_DOCUMENT"
  target_id      = each.value.aws_owned ? each.value.runbook : aws_ssm_document.runbook[each.value.runbook].name
  target_version = each.value.aws_owned ? null : aws_ssm_document.runbook[each.value.runbook].default_version

  # Never automatic: every repair goes through a human approval (Airflow, then the runbook's aws:approve).
  automatic                  = false
  maximum_automatic_attempts = each.value.maximum_automatic_attempts
  retry_attempt_seconds      = each.value.retry_attempt_seconds

  dynamic "parameter" {
    for_each = each.value.parameters
    content {
      name           = parameter.key
      resource_value = parameter.value.resource_value
      static_value   = parameter.value.static_value
      static_values  = parameter.value.static_values
    }
  }

  execution_controls {
    ssm_controls {
      concurrent_execution_rate_percentage = var.concurrent_execution_rate_percentage
      error_percentage                     = var.error_percentage
    }
  }
}
