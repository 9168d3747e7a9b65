output "config_rules" {
  description = "Config rule name => source_identifier, resource_type, input_parameters (strings), mapping, description, has_remediation."
  value = {
    for name, rule in local.rules : name => {
      source_identifier = rule.source_identifier
      resource_type     = rule.resource_type
      input_parameters  = rule.input_parameters
      mapping           = rule.mapping
      description       = rule.description
      has_remediation   = rule.remediation != null
    }
  }
}

output "remediations" {
  description = "Config rule name => runbook, aws_owned, resource_type, retry settings and parameters (name => resource_value | static_value | static_values)."
  value       = local.remediations
}

output "runbooks" {
  description = "Document name => path of the runbook file, for every runbook of our own."
  value       = local.runbooks
}
