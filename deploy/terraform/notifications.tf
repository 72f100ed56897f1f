# Telling people (issue #23; docs/events.md). Every switch puts one event on var.event_bus_name
# (source "maintenance-responder", detail-type "Maintenance Switched" or "Maintenance Switch
# Refused"): maintctl on/off and the switch function need events:PutEvents on that bus (main.tf,
# switch.tf). Everything below is off by default:
#   - notifications: a rule on that bus sends this environment's events to an SNS topic in the
#     custom-notification format of Amazon Q Developer in chat applications (formerly AWS
#     Chatbot: {"version": "1.0", "source": "custom", "content": {...}}; its Administrator
#     Guide, "Custom notifications"), so a Slack or Teams channel subscribed to the topic shows
#     them with no code;
#   - hand_edit_alarm: a rule on CloudTrail's ELB calls by anyone but the tool's roles;
#   - switch_errors_alarm: the switch function's Errors.
# Mirrors the same part of deploy/sam/template.yaml.

locals {
  event_bus_arn       = "arn:${local.partition}:events:${local.region}:${local.account_id}:event-bus/${var.event_bus_name}"
  want_notifications  = var.notifications
  want_topic          = var.notifications && var.notification_topic_arn == ""
  notification_topic  = local.want_topic ? aws_sns_topic.notifications[0].arn : var.notification_topic_arn
  want_hand_edit_rule = var.notifications && var.hand_edit_alarm
  # The roles whose ELB calls are the tool's own: the switch function's and the operators'.
  tool_role_names = concat(aws_iam_role.switch[*].name, var.tool_role_names)
}

resource "aws_sns_topic" "notifications" {
  count             = local.want_topic ? 1 : 0
  name              = "${local.name}-notifications"
  kms_master_key_id = "alias/aws/sns"
  tags              = local.common_tags
}

# EventBridge publishes to an SNS topic only when the topic's policy lets events.amazonaws.com
# (EventBridge User Guide, "Using resource-based policies for Amazon EventBridge", SNS). With
# alias/aws/sns, the AWS managed key allows it.
data "aws_iam_policy_document" "notifications" {
  count = local.want_topic ? 1 : 0
  statement {
    sid       = "EventBridgePublishes"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.notifications[0].arn]
    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }
    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = concat(aws_cloudwatch_event_rule.switch_events[*].arn, aws_cloudwatch_event_rule.hand_edits[*].arn)
    }
  }
}

resource "aws_sns_topic_policy" "notifications" {
  count  = local.want_topic ? 1 : 0
  arn    = aws_sns_topic.notifications[0].arn
  policy = data.aws_iam_policy_document.notifications[0].json
}

resource "aws_cloudwatch_event_rule" "switch_events" {
  count          = local.want_notifications ? 1 : 0
  name           = "${local.name}-switch-events"
  description    = "Every switch of ${var.environment} (maintctl on/off, windows, alarms) and every refused unattended switch, to the notification topic"
  event_bus_name = var.event_bus_name
  event_pattern = jsonencode({
    source        = ["maintenance-responder"]
    "detail-type" = ["Maintenance Switched", "Maintenance Switch Refused"]
    detail        = { environment = [var.environment] }
  })
  tags = local.common_tags
}

resource "aws_cloudwatch_event_target" "switch_events" {
  count          = local.want_notifications ? 1 : 0
  rule           = aws_cloudwatch_event_rule.switch_events[0].name
  event_bus_name = var.event_bus_name
  arn            = local.notification_topic
  input_transformer {
    input_paths = {
      kind      = "$.detail-type"
      env       = "$.detail.environment"
      direction = "$.detail.direction"
      outcome   = "$.detail.outcome"
      caller    = "$.detail.who.caller"
      reason    = "$.detail.reason"
      message   = "$.detail.message"
    }
    input_template = <<-EOT
      {"version": "1.0", "source": "custom", "content": {"textType": "client-markdown", "title": "<kind>: <env> <direction> (<outcome>)", "description": "<message>\nWho: <caller>\nWhy: <reason>"}, "metadata": {"threadId": "maintenance-<env>"}}
    EOT
  }
}

# CloudTrail delivers the ELB API calls to the default bus as "AWS API Call via CloudTrail"
# (needs a trail with management events; EventBridge events reference, Elastic Load
# Balancing). A call by a role that is not one of the tool's is a hand edit. Calls by IAM users
# (no session issuer) are not matched: operators should work through roles.
resource "aws_cloudwatch_event_rule" "hand_edits" {
  count       = local.want_hand_edit_rule ? 1 : 0
  name        = "${local.name}-hand-edits"
  description = "Someone changed the listener rules by hand (not maintctl, not the switch function)"
  event_pattern = jsonencode({
    source        = ["aws.elasticloadbalancing"]
    "detail-type" = ["AWS API Call via CloudTrail"]
    detail = {
      eventSource = ["elasticloadbalancing.amazonaws.com"]
      eventName   = ["SetRulePriorities", "ModifyRule", "CreateRule", "DeleteRule", "AddTags", "RemoveTags"]
      userIdentity = {
        sessionContext = { sessionIssuer = { userName = [{ "anything-but" = concat(local.tool_role_names, ["-"]) }] } }
      }
    }
  })
  tags = local.common_tags
}

resource "aws_cloudwatch_event_target" "hand_edits" {
  count = local.want_hand_edit_rule ? 1 : 0
  rule  = aws_cloudwatch_event_rule.hand_edits[0].name
  arn   = local.notification_topic
  input_transformer {
    input_paths = {
      call   = "$.detail.eventName"
      caller = "$.detail.userIdentity.arn"
      at     = "$.detail.eventTime"
    }
    input_template = <<-EOT
      {"version": "1.0", "source": "custom", "content": {"textType": "client-markdown", "title": "Someone changed the listener rules of ${var.environment} by hand", "description": "<call> by <caller> at <at>. Check them with maintctl status -e ${var.environment}; maintctl history -e ${var.environment} lists the tool's own switches."}, "metadata": {"threadId": "maintenance-${var.environment}"}}
    EOT
  }
}

resource "aws_cloudwatch_metric_alarm" "switch_errors" {
  count = var.switch_function && var.switch_errors_alarm ? 1 : 0

  alarm_name          = "${local.switch_name}-errors"
  alarm_description   = "The switch function of ${var.environment} failed an invocation (Lambda retries it, then sends it to the dead-letter queue). Read its log group /aws/lambda/${local.switch_name}, check the listeners with maintctl status and maintctl history, and switch by hand if needed."
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = local.switch_name }
  statistic           = "Sum"
  period              = 60
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = local.common_tags
}
