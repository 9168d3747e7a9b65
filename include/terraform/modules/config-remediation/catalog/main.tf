# Turns the mapping files into the Config rules, remediation configurations and runbooks to deploy.
#
# The mappings (include/mappings/*.yaml) name each AWS managed Config rule and the runbook and parameters that
# repair it; the drift detector reads the same files. Reading them here, instead of restating them in
# tfvars, keeps one source of truth: a rule added to a mapping is deployed by the next apply.

locals {
  mapping_files = sort(tolist(fileset(var.mappings_dir, "*.yaml")))
  mappings      = { for f in local.mapping_files : trimsuffix(f, ".yaml") => yamldecode(file("${var.mappings_dir}/${f}")) }

  # Config rule name => rule, across every mapping (rule names are unique: the mapping loader enforces it).
  rules = merge([
    for mapping_name, mapping in local.mappings : {
      for rule in try(mapping.rules, []) : rule.name => {
        mapping           = mapping_name
        source_identifier = rule.source_identifier
        resource_type     = try(rule.compliance_resource_type, mapping.config_resource_type)
        input_parameters  = { for k, v in try(rule.input_parameters, {}) : k => tostring(v) }
        description       = try(rule.description, mapping.description, "")
        remediation       = try(rule.remediation, null)
      }
    }
  ]...)

  # Each remediation parameter becomes exactly one of: the resource id, one static value, a list of values.
  raw_parameters = {
    for rule_name, rule in local.rules : rule_name => {
      for name, spec in rule.remediation.parameters : name => {
        resource_value = try(spec.resource_id, false) ? "RESOURCE_ID" : null
        static_value = (
          can(spec.static) ? tostring(spec.static) :
          # Automation resolves {{ssm:name}} in parameter values when the execution starts, so a rotated
          # Parameter Store value needs no Terraform run.
          can(spec.ssm_parameter) ? "{{ssm:${spec.ssm_parameter}}}" :
          can(spec.expected) ? lookup(var.expected_defaults, spec.expected, "") :
          can(spec.module) ? (can(tolist(var.module_values[spec.module])) ? null : tostring(var.module_values[spec.module])) :
          null
        )
        static_values = can(spec.module) ? (can(tolist(var.module_values[spec.module])) ? [for v in tolist(var.module_values[spec.module]) : tostring(v)] : null) : null
      }
    } if rule.remediation != null
  }

  remediations = {
    for rule_name, rule in local.rules : rule_name => {
      runbook                    = rule.remediation.runbook
      aws_owned                  = try(rule.remediation.aws_owned, false)
      resource_type              = rule.resource_type
      maximum_automatic_attempts = try(rule.remediation.maximum_automatic_attempts, 3)
      retry_attempt_seconds      = try(rule.remediation.retry_attempt_seconds, 60)
      # An empty static value means "not set": the runbook's default applies.
      parameters = {
        for name, p in local.raw_parameters[rule_name] : name => p
        if p.resource_value != null || p.static_values != null || try(length(p.static_value) > 0, false)
      }
    } if rule.remediation != null
  }

  # Runbooks of our own (AWS-owned documents are not deployed): every file in the runbooks directory,
  # including alternatives no mapping names yet (DriftRepair-S3-EnableEncryptionScript).
  runbook_files = sort(tolist(fileset(var.runbooks_dir, "*.yaml")))
  runbooks      = { for f in local.runbook_files : trimsuffix(f, ".yaml") => "${var.runbooks_dir}/${f}" }
}
