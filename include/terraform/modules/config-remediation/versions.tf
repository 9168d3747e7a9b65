terraform {
  required_version = ">= 1.6.0"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # 5.x: aws_config_remediation_configuration has static_values; aws_region still exposes `name` (6.x renames it).
      version = ">= 5.60.0, < 6.0.0"
    }
  }
}
