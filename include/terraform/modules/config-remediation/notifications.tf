# Status changes of drift-repair Automation executions (Waiting for approval, Success, Failed, TimedOut...)
# go to an SNS topic, for on-call people and for anything that subscribes besides the DAG's own polling.

resource "aws_sns_topic" "notifications" {
  name              = local.topic_name
  kms_master_key_id = aws_kms_key.drift_repair.arn
  tags              = local.tags
}

resource "aws_cloudwatch_event_rule" "automation_status" {
  name        = "${var.name_prefix}-automation-status-${var.environment}"
  description = "drift-repair: SSM Automation status changes of the drift-repair runbooks"

  event_pattern = jsonencode({
    source        = ["aws.ssm"]
    "detail-type" = ["EC2 Automation Execution Status-change Notification"]
    detail = {
      Definition = sort(distinct(concat(keys(local.runbooks), [for r in local.remediations : r.runbook])))
    }
  })

  tags = local.tags
}

resource "aws_cloudwatch_event_target" "automation_status" {
  rule      = aws_cloudwatch_event_rule.automation_status.name
  target_id = "sns"
  arn       = aws_sns_topic.notifications.arn
}

data "aws_iam_policy_document" "notifications" {
  statement {
    sid       = "EventBridgePublishes"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.notifications.arn]

    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }

    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [aws_cloudwatch_event_rule.automation_status.arn]
    }
  }
}

resource "aws_sns_topic_policy" "notifications" {
  arn    = aws_sns_topic.notifications.arn
  policy = data.aws_iam_policy_document.notifications.json
}
