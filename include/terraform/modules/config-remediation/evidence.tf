# The evidence bucket: pre-states saved by the runbooks before any change, and the DAG's evidence bundles.
# Encrypted with this module's KMS key, versioned, never public, object-locked so evidence cannot be
# rewritten or removed during its retention.

resource "aws_kms_key" "drift_repair" {
  description             = "drift-repair ${var.environment}: evidence bucket and notification topic"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  # A key policy is a resource policy: its Resource is always "*", meaning this key.
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        # Without the account statement nobody, not even IAM administrators, could manage the key.
        Sid       = "AccountAdministersTheKeyThroughIam"
        Effect    = "Allow"
        Principal = { AWS = "arn:${local.partition}:iam::${local.account_id}:root" }
        Action    = "kms:*"
        Resource  = "*"
      },
      {
        # EventBridge publishes to the encrypted SNS topic, so it needs the key.
        Sid       = "EventBridgePublishesToTheTopic"
        Effect    = "Allow"
        Principal = { Service = "events.amazonaws.com" }
        Action    = ["kms:GenerateDataKey*", "kms:Decrypt"]
        Resource  = "*"
        Condition = { StringEquals = { "aws:SourceAccount" = local.account_id } }
      },
    ]
  })
  tags = local.tags
}

resource "aws_kms_alias" "drift_repair" {
  name          = "alias/${var.name_prefix}-${var.environment}"
  target_key_id = aws_kms_key.drift_repair.key_id
}

resource "aws_s3_bucket" "evidence" {
  bucket              = var.evidence_bucket_name
  object_lock_enabled = true
  tags                = local.tags
}

resource "aws_s3_bucket_ownership_controls" "evidence" {
  bucket = aws_s3_bucket.evidence.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_versioning" "evidence" {
  bucket = aws_s3_bucket.evidence.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "evidence" {
  bucket = aws_s3_bucket.evidence.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.drift_repair.arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_public_access_block" "evidence" {
  bucket = aws_s3_bucket.evidence.id

  block_public_acls       = true
  ignore_public_acls      = true
  block_public_policy     = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_object_lock_configuration" "evidence" {
  bucket = aws_s3_bucket.evidence.id

  rule {
    default_retention {
      mode = var.evidence_object_lock_mode
      days = var.evidence_retention_days
    }
  }

  depends_on = [aws_s3_bucket_versioning.evidence]
}

resource "aws_s3_bucket_lifecycle_configuration" "evidence" {
  bucket = aws_s3_bucket.evidence.id

  # Pre-states serve rollback and the loop guard's window; after that they are old evidence.
  rule {
    id     = "pre-state"
    status = "Enabled"

    filter {
      prefix = "pre-state/"
    }

    expiration {
      days = var.pre_state_expiration_days
    }

    # Locked versions cannot be removed before their retention ends; S3 retries until it can.
    noncurrent_version_expiration {
      noncurrent_days = 30
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }

  rule {
    id     = "abort-incomplete-uploads"
    status = "Enabled"

    filter {}

    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }

  lifecycle {
    precondition {
      condition     = var.pre_state_expiration_days >= var.evidence_retention_days
      error_message = "pre_state_expiration_days must be at least evidence_retention_days: a pre-state stays readable while it is locked."
    }
  }

  depends_on = [aws_s3_bucket_versioning.evidence]
}

data "aws_iam_policy_document" "evidence_bucket" {
  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.evidence.arn, "${aws_s3_bucket.evidence.arn}/*"]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "evidence" {
  bucket = aws_s3_bucket.evidence.id
  policy = data.aws_iam_policy_document.evidence_bucket.json

  depends_on = [aws_s3_bucket_public_access_block.evidence]
}

resource "aws_s3_bucket_logging" "evidence" {
  count = var.access_log_bucket == null ? 0 : 1

  bucket        = aws_s3_bucket.evidence.id
  target_bucket = var.access_log_bucket
  target_prefix = "s3-access/${var.evidence_bucket_name}/"
}
