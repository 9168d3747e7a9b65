# One Automation document per runbook file. The document name is the file name, which is what the mappings
# (and so the remediation configurations and the DAG) refer to.
resource "aws_ssm_document" "runbook" {
  for_each = local.runbooks

  name            = each.key
  document_type   = "Automation"
  document_format = "YAML"
  content         = file(each.value)

  tags = local.tags
}
