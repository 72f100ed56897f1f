# The maintenance-switch function (optional: switch_function = true; issue #15): the same
# switching engine as maintctl on/off, run by EventBridge Scheduler (the windows of maintctl
# schedule and on --until) and by the application's HealthyHostCount alarm. It plans when it
# runs, from the live listeners, under the lease ({ssm_prefix}/switch/lease).
# Mirrors the switch part of deploy/sam/template.yaml; see deploy/README.md.

locals {
  switch_name     = "maintenance-switch-${var.environment}"
  switch_count    = var.switch_function ? 1 : 0
  schedule_group  = "maintenance-${var.environment}"
  switch_alarm    = "${local.switch_name}-app-unhealthy"
  want_alarm      = var.switch_function && var.auto_switch_alarm && local.want_app_catch_all
  switch_iam_name = "maintenance-switch-${var.environment}-${local.region}"
  ssm_parameter   = "arn:${local.partition}:ssm:${local.region}:${local.account_id}:parameter${var.ssm_prefix}"
  # targetgroup/NAME/ID, the TargetGroup dimension of the ALB's metrics.
  app_target_group_suffix = try(regex(":(targetgroup/.+)$", var.app_target_group_arn)[0], "")
  schedule_group_arn      = "arn:${local.partition}:scheduler:${local.region}:${local.account_id}:schedule-group/${local.schedule_group}"
  # The responder's alarms that exist, by name: with auto_fallback each may invoke the switch
  # function, by its exact ARN.
  fallback_alarm_names = local.want_fallback_alarms ? concat(
    var.function_alarms ? ["${local.name}-throttles", "${local.name}-errors"] : [],
    var.alb_alarms ? ["${local.name}-alb-502", "${local.name}-lambda-user-error"] : [],
  ) : []
  dead_letter_alarm = "${local.switch_name}-dead-letters"
}

resource "aws_cloudwatch_log_group" "switch" {
  count = local.switch_count

  name              = "/aws/lambda/${local.switch_name}"
  retention_in_days = var.log_retention_days
  tags              = local.common_tags
}

# What Scheduler could not deliver to the function, and the switches the function failed after
# Lambda's retries (its on-failure destination): a window's start or end that did not happen.
# Kept 14 days; README, "Windows and automatic switching".
resource "aws_sqs_queue" "switch_dead_letters" {
  count = local.switch_count

  name                      = "${local.switch_name}-dead-letters"
  message_retention_seconds = 1209600
  sqs_managed_sse_enabled   = true
  tags                      = local.common_tags
}

data "aws_iam_policy_document" "switch_dead_letters" {
  count = local.switch_count

  statement {
    sid       = "SchedulerAndSwitchFunctionSend"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.switch_dead_letters[0].arn]
    principals {
      type        = "AWS"
      identifiers = [aws_iam_role.scheduler[0].arn, aws_iam_role.switch[0].arn]
    }
  }

  statement {
    sid       = "TlsOnly"
    effect    = "Deny"
    actions   = ["sqs:*"]
    resources = [aws_sqs_queue.switch_dead_letters[0].arn]
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

resource "aws_sqs_queue_policy" "switch_dead_letters" {
  count = local.switch_count

  queue_url = aws_sqs_queue.switch_dead_letters[0].id
  policy    = data.aws_iam_policy_document.switch_dead_letters[0].json
}

# What the switch does and nothing more: read the listeners, move priorities on this ALB's rules
# (room-making moves the application's rules too), tag the record on this environment's rules,
# the lease and the window's end and zone under the content prefix, and the bypass link's token
# when the module has the cookie rule.
data "aws_iam_policy_document" "switch" {
  count = local.switch_count

  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:/aws/lambda/${local.switch_name}:*"]
  }

  statement {
    sid = "ReadListeners"
    actions = [
      "elasticloadbalancing:DescribeLoadBalancers",
      "elasticloadbalancing:DescribeListeners",
      "elasticloadbalancing:DescribeRules",
      "elasticloadbalancing:DescribeTags",
      "elasticloadbalancing:DescribeTargetGroups",
    ]
    resources = ["*"]
  }

  statement {
    sid       = "Switch"
    actions   = ["elasticloadbalancing:SetRulePriorities"]
    resources = [local.alb_rules]
  }

  # The record (who, when, why, the window or alarm) goes on the environment's maintenance and
  # fallback rules only.
  statement {
    sid       = "Record"
    actions   = ["elasticloadbalancing:AddTags"]
    resources = [local.alb_rules]
    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/maintenance-responder:environment"
      values   = [var.environment]
    }
  }

  # It never gives a rule a role, the cookie tag, an environment, a parked priority or a content
  # prefix, in any case of the letters (local.identity_tag_keys, main.tf).
  statement {
    sid       = "KeepTheIdentityTags"
    effect    = "Deny"
    actions   = ["elasticloadbalancing:AddTags"]
    resources = ["*"]
    condition {
      test     = "ForAnyValue:StringEqualsIgnoreCase"
      variable = "aws:TagKeys"
      values   = local.identity_tag_keys
    }
  }

  # The lease: created without overwrite, read, deleted (and the takeover marker beside it).
  statement {
    sid       = "Lease"
    actions   = ["ssm:PutParameter", "ssm:GetParameter", "ssm:DeleteParameter"]
    resources = ["${local.ssm_parameter}/switch/*"]
  }

  # Every switch is announced on the event bus (issue #23): PutEvents is scoped to the bus's
  # ARN (EventBridge User Guide, "Using identity-based policies for EventBridge").
  statement {
    sid       = "AnnounceSwitches"
    actions   = ["events:PutEvents"]
    resources = [local.event_bus_arn]
  }

  # A window's start writes its end (the page's "back at", Retry-After) and zone.
  statement {
    sid       = "WindowEnd"
    actions   = ["ssm:PutParameter"]
    resources = ["${local.ssm_parameter}/retry-after", "${local.ssm_parameter}/timezone"]
  }

  statement {
    sid       = "WindowZoneRemoved"
    actions   = ["ssm:DeleteParameter"]
    resources = ["${local.ssm_parameter}/timezone"]
  }

  # A gradual return (maintctl off --gradual, docs/return.md): its scheduled steps rewrite
  # {prefix}/return/state (read back decrypted by path), its final step and its abort alarm
  # delete it and the admission rules, found by their tags (role admission, this environment;
  # ELBv2 has no condition key on a rule's actions: Service Authorization Reference, Elastic
  # Load Balancing V2).
  statement {
    sid       = "ReturnState"
    actions   = ["ssm:PutParameter", "ssm:DeleteParameter"]
    resources = ["${local.ssm_parameter}/return/state"]
  }

  statement {
    sid       = "ReadReturnState"
    actions   = ["ssm:GetParametersByPath"]
    resources = ["${local.ssm_parameter}/return"]
  }

  statement {
    sid       = "DeleteAdmissionRules"
    actions   = ["elasticloadbalancing:DeleteRule"]
    resources = [local.alb_rules]
    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/maintenance-responder:role"
      values   = ["admission"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/maintenance-responder:environment"
      values   = [var.environment]
    }
  }

  # How each value is stored (a SecureString keeps its key); not resource-scoped.
  statement {
    sid       = "ParameterTypes"
    actions   = ["ssm:DescribeParameters"]
    resources = ["*"]
  }

  # Lambda's on-failure destination: a switch that failed after the retries.
  statement {
    sid       = "DeadLetters"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.switch_dead_letters[0].arn]
  }

  dynamic "statement" {
    for_each = local.has_kms_key ? [var.ssm_kms_key_arn] : []
    content {
      sid       = "SecureStrings"
      actions   = ["kms:Encrypt", "kms:GenerateDataKey", "kms:Decrypt"]
      resources = [statement.value]
      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["ssm.${local.region}.amazonaws.com"]
      }
      condition {
        test     = "StringLike"
        variable = "kms:EncryptionContext:PARAMETER_ARN"
        values   = [local.kms_parameter_context]
      }
    }
  }

  # With the cookie bypass rule (bypass_link), every switch sets the window's token (on) or
  # rotates it (off), as maintctl does; the link is left out of the function's answer.
  dynamic "statement" {
    for_each = local.want_bypass_link ? [1] : []
    content {
      sid       = "SetBypassLinkToken"
      actions   = ["elasticloadbalancing:ModifyRule"]
      resources = [local.alb_rules]
      condition {
        test     = "StringEquals"
        variable = "aws:ResourceTag/maintenance-responder:bypass-link"
        values   = ["cookie"]
      }
    }
  }

  dynamic "statement" {
    for_each = local.want_bypass_link ? [1] : []
    content {
      sid       = "BypassLinkToken"
      actions   = ["ssm:PutParameter"]
      resources = ["${local.ssm_parameter}/bypass/token"]
    }
  }

  # DescribeListenerCertificates takes no resource; the names come from ACM.
  dynamic "statement" {
    for_each = local.want_bypass_link ? [1] : []
    content {
      sid       = "BypassLinkHost"
      actions   = ["elasticloadbalancing:DescribeListenerCertificates"]
      resources = ["*"]
    }
  }

  dynamic "statement" {
    for_each = local.want_bypass_link ? [1] : []
    content {
      sid       = "BypassLinkCertificateNames"
      actions   = ["acm:DescribeCertificate"]
      resources = [local.acm_certificates]
    }
  }
}

resource "aws_iam_role" "switch" {
  count = local.switch_count

  name               = local.switch_iam_name
  description        = "maintenance-switch Lambda of ${var.environment} (switches its listener rules on a schedule or an alarm)"
  assume_role_policy = data.aws_iam_policy_document.assume_lambda.json
  tags               = local.common_tags
}

resource "aws_iam_role_policy" "switch" {
  count = local.switch_count

  name   = "maintenance-switch"
  role   = aws_iam_role.switch[0].id
  policy = data.aws_iam_policy_document.switch[0].json
}

resource "aws_lambda_function" "switch" {
  count = local.switch_count

  function_name    = local.switch_name
  description      = "Switches the maintenance of ${var.environment} on a schedule or an alarm (maintenance-responder)"
  filename         = var.switch_package_path
  source_code_hash = filebase64sha256(var.switch_package_path)
  handler          = "bootstrap"
  runtime          = "provided.al2023"
  architectures    = [var.architecture]
  memory_size      = 128
  # The lease wait, a switch with its retries and rollback, and the parameter writes.
  timeout = 90
  role    = aws_iam_role.switch[0].arn
  # A ceiling on switches running at once (they take turns under the lease anyway); an
  # asynchronous event throttled by it is retried by Lambda within its event age (600 s).
  reserved_concurrent_executions = 5

  logging_config {
    log_format            = "JSON"
    application_log_level = var.log_level
    system_log_level      = var.system_log_level
    log_group             = aws_cloudwatch_log_group.switch[0].name
  }

  environment {
    variables = {
      MAINTENANCE_SWITCH_ENVIRONMENT = var.environment
      MAINTENANCE_SWITCH_ON_ALARM_OK = var.switch_on_alarm_ok
      # Only the alarm of this module switches (it exists with auto_switch_alarm = true).
      MAINTENANCE_SWITCH_ALARM_NAMES = local.switch_alarm
      # auto_fallback: the responder's alarms swap the page during maintenance.
      # The bus its switches are announced on (issue #23).
      MAINTENANCE_SWITCH_EVENT_BUS       = var.event_bus_name
      MAINTENANCE_SWITCH_FALLBACK_ALARMS = local.want_fallback_alarms ? join(",", [for a in ["throttles", "errors", "alb-502", "lambda-user-error"] : "${local.name}-${a}"]) : ""
    }
  }

  tags       = local.common_tags
  depends_on = [aws_iam_role_policy.switch]

  lifecycle {
    precondition {
      condition     = var.switch_package_path != null
      error_message = "switch_function = true needs switch_package_path (dist/maintenance-switch/bootstrap.zip from scripts/package, or its arm64/ twin)."
    }
  }
}

# Scheduler and the alarm invoke it asynchronously: a switch that failed in a way a retry can fix
# (the function then answers with an invocation error) is tried twice more within ten minutes,
# then goes to the dead-letter queue.
resource "aws_lambda_function_event_invoke_config" "switch" {
  count = local.switch_count

  function_name                = aws_lambda_function.switch[0].function_name
  maximum_retry_attempts       = 2
  maximum_event_age_in_seconds = 600

  destination_config {
    on_failure {
      destination = aws_sqs_queue.switch_dead_letters[0].arn
    }
  }
}

# The role EventBridge Scheduler assumes for the windows' schedules: it invokes the switch
# function and nothing else, and sends what it could not deliver to the dead-letter queue.
data "aws_iam_policy_document" "assume_scheduler" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["scheduler.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
    # The schedule group's ARN, not its schedules': "The value of aws:SourceArn must be your
    # EventBridge Scheduler schedule group ARN ... Do not scope the aws:SourceArn statement to a
    # specific schedule or a schedule name prefix" (EventBridge Scheduler User Guide,
    # "Confused deputy prevention in EventBridge Scheduler"). With a schedule/GROUP/* condition
    # STS refuses every window's start and end, and they end in the dead-letter queue.
    condition {
      test     = "StringEquals"
      variable = "aws:SourceArn"
      values   = [local.schedule_group_arn]
    }
  }
}

data "aws_iam_policy_document" "scheduler" {
  count = local.switch_count

  statement {
    sid       = "InvokeTheSwitchFunction"
    actions   = ["lambda:InvokeFunction"]
    resources = [aws_lambda_function.switch[0].arn]
  }

  statement {
    sid       = "DeadLetters"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.switch_dead_letters[0].arn]
  }
}

resource "aws_iam_role" "scheduler" {
  count = local.switch_count

  name               = "${local.switch_iam_name}-scheduler"
  description        = "EventBridge Scheduler invokes the maintenance-switch function of ${var.environment}"
  assume_role_policy = data.aws_iam_policy_document.assume_scheduler.json
  tags               = local.common_tags
}

resource "aws_iam_role_policy" "scheduler" {
  count = local.switch_count

  name   = "invoke-the-switch-function"
  role   = aws_iam_role.scheduler[0].id
  policy = data.aws_iam_policy_document.scheduler[0].json
}

# maintctl schedule finds where its schedules go from this group's tags (src/deploy_names.rs).
# Deleting the group deletes its schedules: removing the module cancels every window.
resource "aws_scheduler_schedule_group" "this" {
  count = local.switch_count

  name = local.schedule_group
  tags = merge(local.common_tags, {
    "maintenance-responder:switch-function"   = aws_lambda_function.switch[0].arn
    "maintenance-responder:scheduler-role"    = aws_iam_role.scheduler[0].arn
    "maintenance-responder:dead-letter-queue" = aws_sqs_queue.switch_dead_letters[0].arn
  })
}

# Only that alarm may invoke the switch function as an alarm action. The source ARN is spelled
# out (the alarm's name is fixed), so the permission exists before the alarm.
resource "aws_lambda_permission" "alarm" {
  count = local.want_alarm ? 1 : 0

  statement_id   = "AllowInvokeFromTheAppUnhealthyAlarm"
  action         = "lambda:InvokeFunction"
  function_name  = aws_lambda_function.switch[0].function_name
  principal      = "lambda.alarms.cloudwatch.amazonaws.com"
  source_account = local.account_id
  source_arn     = "arn:${local.partition}:cloudwatch:${local.region}:${local.account_id}:alarm:${local.switch_alarm}"
}

# auto_fallback: each of the responder's alarms may invoke the switch function as an alarm
# action, by its exact ARN (a prefix such as maintenance-responder-shop-* would also admit the
# alarms of an environment shop-prod).
resource "aws_lambda_permission" "fallback_alarms" {
  for_each = toset(local.fallback_alarm_names)

  statement_id   = "AllowInvokeFrom-${each.value}"
  action         = "lambda:InvokeFunction"
  function_name  = aws_lambda_function.switch[0].function_name
  principal      = "lambda.alarms.cloudwatch.amazonaws.com"
  source_account = local.account_id
  source_arn     = "arn:${local.partition}:cloudwatch:${local.region}:${local.account_id}:alarm:${each.value}"
}

# Automatic switching on an outage (auto_switch_alarm = true): the application target group's
# fewest healthy hosts below auto_switch_healthy_hosts_below for auto_switch_evaluation_periods
# periods. Its ALARM and OK actions invoke the switch function directly (and notify
# alarm_topic_arn, if set).
resource "aws_cloudwatch_metric_alarm" "app_unhealthy" {
  count = local.want_alarm ? 1 : 0

  alarm_name          = local.switch_alarm
  alarm_description   = "The application of ${var.environment} has too few healthy hosts: the switch function puts the maintenance page on (reason \"automatic: <this alarm>\"), and on OK takes it off again unless switch_on_alarm_ok = \"stay\" or a person or a window switched it on."
  namespace           = "AWS/ApplicationELB"
  metric_name         = "HealthyHostCount"
  dimensions          = { TargetGroup = local.app_target_group_suffix, LoadBalancer = local.alb_arn_suffix }
  statistic           = "Minimum"
  period              = var.auto_switch_period_seconds
  evaluation_periods  = var.auto_switch_evaluation_periods
  datapoints_to_alarm = var.auto_switch_evaluation_periods
  threshold           = var.auto_switch_healthy_hosts_below
  comparison_operator = "LessThanThreshold"
  # No data (no health checks reported) keeps the state: no switch on a gap in the metric.
  treat_missing_data = "missing"
  alarm_actions      = concat([aws_lambda_function.switch[0].arn], local.alarm_actions)
  ok_actions         = concat([aws_lambda_function.switch[0].arn], local.alarm_actions)
  tags               = local.common_tags
  depends_on         = [aws_lambda_permission.alarm]
}

# A message in the dead-letter queue is a window's start or end, or an alarm's switch, that did
# not happen (Scheduler could not invoke the function, or the switch failed after Lambda's
# retries); nothing else says so. On by default with the switch function (dead_letter_alarm):
# one standard alarm, USD 0.10 a month beyond the account's 10 free ones. It notifies
# alarm_topic_arn, if set.
resource "aws_cloudwatch_metric_alarm" "dead_letters" {
  count = var.switch_function && var.dead_letter_alarm ? 1 : 0

  alarm_name          = local.dead_letter_alarm
  alarm_description   = "A switch of ${var.environment} did not happen: a window's start or end, or an alarm's switch, is in the dead-letter queue ${local.switch_name}-dead-letters. Read it (README, Windows and automatic switching), check the listeners with maintctl status, and switch by hand if needed."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.switch_dead_letters[0].name }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  # SQS reports no data for an empty, unused queue.
  treat_missing_data = "notBreaching"
  alarm_actions      = local.alarm_actions
  ok_actions         = local.alarm_actions
  tags               = local.common_tags
}
