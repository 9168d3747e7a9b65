terraform {
  # No provider: this module only reads files and computes, so tests can evaluate it with a bare Terraform.
  required_version = ">= 1.6.0"
}
