# maintenance-responder: one Lambda target group for one existing ALB, and on every listener of
# it (listener_arns: its HTTP and HTTPS listeners) the maintenance rule created parked (priority
# 50000 by default) behind an application catch-all rule (49990, forwards to
# app_target_group_arn). maintctl switches it on and off.
# Mirrors deploy/sam/template.yaml; see deploy/README.md.

data "aws_partition" "current" {}
data "aws_region" "current" {}
data "aws_caller_identity" "current" {}

locals {
  name       = "maintenance-responder-${var.environment}"
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.id
  account_id = data.aws_caller_identity.current.account_id
  # IAM names are global to the account: the region keeps two regions' deployments apart.
  iam_name = "${local.name}-${local.region}"

  # listener/app/NAME/ID/LISTENER_ID: every listener belongs to the ALB app/NAME/ID (checked in
  # variables.tf). Its ARN suffix is the LoadBalancer dimension of the ALB's metrics.
  alb_arn_suffix = regex(":listener/(app/[^/]+/[^/]+)/", var.listener_arns[0])[0]
  elb_arn_prefix = split(":listener/", var.listener_arns[0])[0]
  alb_listeners  = "${local.elb_arn_prefix}:listener/${local.alb_arn_suffix}/*"
  alb_rules      = "${local.elb_arn_prefix}:listener-rule/${local.alb_arn_suffix}/*"
  reserve        = var.reserved_concurrency != -1
  alarm_actions  = var.alarm_topic_arn == "" ? [] : [var.alarm_topic_arn]
  # auto_fallback: the responder's alarms invoke the switch function too, and keep their state
  # while no data comes (the fallback page answers; the responder gets no traffic).
  want_fallback_alarms    = var.auto_fallback && var.switch_function
  responder_alarm_actions = concat(local.want_fallback_alarms ? aws_lambda_function.switch[*].arn : [], local.alarm_actions)
  responder_missing_data  = local.want_fallback_alarms ? "missing" : "notBreaching"

  # GetParametersByPath is authorised against the path itself, the others against each
  # parameter below it: grant both.
  ssm_parameter_arns = [
    "arn:${local.partition}:ssm:${local.region}:${local.account_id}:parameter${var.ssm_prefix}",
    "arn:${local.partition}:ssm:${local.region}:${local.account_id}:parameter${var.ssm_prefix}/*",
  ]
  has_kms_key = var.ssm_kms_key_arn != ""
  # SSM encrypts a SecureString with the parameter's ARN as the encryption context
  # (PARAMETER_ARN; AWS Systems Manager User Guide, "How AWS Systems Manager Parameter Store uses
  # AWS KMS"): a customer key decrypts and encrypts for the parameters under the prefix only.
  kms_parameter_context = "${local.ssm_parameter_arns[0]}/*"
  # The certificates' names give the bypass link's host: ACM certificates of this account and
  # region (which ones the listeners use is known only when maintctl reads them).
  acm_certificates = "arn:${local.partition}:acm:${local.region}:${local.account_id}:certificate/*"

  # The tag keys that say what a rule is and where it belongs. maintctl trusts them and so do
  # the policies (ModifyRule on the fallback and cookie rules, AddTags on the environment's
  # rules): nobody may add them to a rule but as it is created. Compared case-insensitively
  # (ForAnyValue:StringEqualsIgnoreCase): ELB tag keys are case-sensitive, while IAM matches the
  # tag key of aws:ResourceTag/KEY case-insensitively (IAM User Guide, "Controlling access to
  # AWS resources using tags"), so Maintenance-Responder:Role = fallback on an application rule
  # would pass the ModifyRule condition; ForAnyValue:StringEquals and StringLike would let it on.
  identity_tag_keys = [
    "maintenance-responder:role",
    "maintenance-responder:bypass-link",
    "maintenance-responder:environment",
    "maintenance-responder:parked-priority",
    "maintenance-responder:content-prefix",
  ]

  want_app_catch_all    = var.app_target_group_arn != ""
  want_source_ip_bypass = length(var.bypass_source_cidrs) > 0
  want_header_bypass    = var.bypass_header_name != "" && var.bypass_header_value != ""
  want_bypass_link      = var.bypass_link

  common_tags = merge(var.tags, {
    "maintenance-responder:environment" = var.environment
  })
  # No maintenance-responder:* tag at all: maintctl counts an untagged /* rule before the parked
  # one as the application's, and reads a rule with one of its tags but no role as a rule that
  # lost its role tag, which blocks attach and every switch (found by applying the module and
  # running maintctl on what it made: tests/deploy/terraform.rs).
  app_catch_all_rule_tags = merge(var.tags, {
    Name = "app-catch-all"
  })
  maintenance_rule_tags = merge(local.common_tags, {
    "maintenance-responder:role"            = "maintenance"
    "maintenance-responder:parked-priority" = tostring(var.parked_priority)
    "maintenance-responder:content-prefix"  = var.ssm_prefix
  })
  fallback_priority = coalesce(var.fallback_priority, var.parked_priority - 5)
  fallback_rule_tags = merge(local.common_tags, {
    "maintenance-responder:role"            = "fallback"
    "maintenance-responder:parked-priority" = tostring(local.fallback_priority)
  })
  # deploy/fallback.html as committed (the default texts; tests/deploy/templates.rs keeps the two equal):
  # Terraform cannot run the renderer, and the module is used from git without that file beside
  # it. maintctl message set replaces it with the live content (ModifyRule).
  fallback_page = "<!doctype html><html lang='en'><meta charset='utf-8'><meta name='viewport' content='width=device-width,initial-scale=1'><meta name='robots' content='noindex'><meta name='color-scheme' content='light dark'><title>We&#39;ll be back soon</title><style>body{font:16px/1.6 system-ui,sans-serif;max-width:34em;margin:12vh auto;padding:0 1em;border-top:4px solid #2f5fd0}</style><h1>We&#39;ll be back soon</h1><p>We&#39;re carrying out planned maintenance to improve the service. Thank you for your patience.</p>"
  bypass_source_ip_rule_tags = merge(local.common_tags, {
    "maintenance-responder:role"            = "bypass"
    "maintenance-responder:parked-priority" = tostring(var.bypass_source_ip_priority)
  })
  bypass_header_rule_tags = merge(local.common_tags, {
    "maintenance-responder:role"            = "bypass"
    "maintenance-responder:parked-priority" = tostring(var.bypass_header_priority)
  })
  # The one rule maintctl modifies (its condition holds the bypass link's token): the switching
  # policy grants ModifyRule on rules with this tag only.
  bypass_link_rule_tags = merge(local.common_tags, {
    "maintenance-responder:role"            = "bypass"
    "maintenance-responder:parked-priority" = tostring(var.bypass_link_priority)
    "maintenance-responder:bypass-link"     = "cookie"
  })
}

# ------------------------------------------------------------------------------ function

resource "aws_cloudwatch_log_group" "this" {
  name              = "/aws/lambda/${local.name}"
  retention_in_days = var.log_retention_days
  tags              = local.common_tags
}

data "aws_iam_policy_document" "assume_lambda" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

data "aws_iam_policy_document" "execution" {
  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.this.arn}:*"]
  }

  # The responder's one SSM call (src/ssm.rs, ParameterStore): GetParametersByPath, recursive,
  # decrypted, authorised against the path (and, for what it returns, the parameters below it).
  statement {
    sid       = "ReadContent"
    actions   = ["ssm:GetParametersByPath"]
    resources = local.ssm_parameter_arns
  }

  dynamic "statement" {
    for_each = local.has_kms_key ? [var.ssm_kms_key_arn] : []
    content {
      sid       = "DecryptSecureStrings"
      actions   = ["kms:Decrypt"]
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
}

resource "aws_iam_role" "this" {
  name               = local.iam_name
  description        = "maintenance-responder Lambda (reads its SSM content, writes its logs)"
  assume_role_policy = data.aws_iam_policy_document.assume_lambda.json
  tags               = local.common_tags
}

resource "aws_iam_role_policy" "this" {
  name   = "maintenance-responder"
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.execution.json
}

resource "aws_lambda_function" "this" {
  function_name                  = local.name
  description                    = "Maintenance and error pages for ${var.environment} (maintenance-responder)"
  filename                       = var.package_path
  source_code_hash               = filebase64sha256(var.package_path)
  handler                        = "bootstrap"
  runtime                        = "provided.al2023"
  architectures                  = [var.architecture]
  memory_size                    = var.memory_size
  timeout                        = 5
  role                           = aws_iam_role.this.arn
  publish                        = true
  reserved_concurrent_executions = var.reserved_concurrency

  # JSON format is what lets Lambda set the application log level: it reaches the function as
  # AWS_LAMBDA_LOG_LEVEL (and AWS_LAMBDA_LOG_FORMAT=JSON); the responder's lines are JSON with a
  # "level" field already.
  logging_config {
    log_format            = "JSON"
    application_log_level = var.log_level
    system_log_level      = var.system_log_level
    log_group             = aws_cloudwatch_log_group.this.name
  }

  environment {
    variables = {
      MAINTENANCE_SSM_PREFIX      = var.ssm_prefix
      MAINTENANCE_SSM_TTL_SECONDS = tostring(var.ssm_ttl_seconds)
      MAINTENANCE_HEALTH_PATH     = var.health_path
      # The time zone database scripts/package puts in the zip (provided.al2023 may have
      # none): the page's "expected back" in the display zones.
      TZDIR = "/var/task/zoneinfo"
    }
  }

  tags       = local.common_tags
  depends_on = [aws_iam_role_policy.this]
}

resource "aws_lambda_alias" "live" {
  name             = "live"
  function_name    = aws_lambda_function.this.function_name
  function_version = aws_lambda_function.this.version
}

# Environments kept initialised on the alias: no cold start for them, billed while configured.
resource "aws_lambda_provisioned_concurrency_config" "live" {
  count = var.provisioned_concurrency > 0 ? 1 : 0

  function_name                     = aws_lambda_alias.live.function_name
  qualifier                         = aws_lambda_alias.live.name
  provisioned_concurrent_executions = var.provisioned_concurrency

  lifecycle {
    precondition {
      condition     = !local.reserve || var.provisioned_concurrency <= var.reserved_concurrency
      error_message = "provisioned_concurrency must not exceed reserved_concurrency."
    }
  }
}

# ------------------------------------------------------------ target group and rules

resource "aws_lb_target_group" "this" {
  name                               = "maint-${var.environment}"
  target_type                        = "lambda"
  lambda_multi_value_headers_enabled = var.lambda_multi_value_headers_enabled

  health_check {
    enabled             = var.health_check_enabled
    path                = var.health_path
    interval            = var.health_check_interval_seconds
    timeout             = 10
    healthy_threshold   = 2
    unhealthy_threshold = 2
    matcher             = "200"
  }

  tags = local.common_tags

  lifecycle {
    # Checked here, on a resource that always exists: the alarm is counted out otherwise.
    precondition {
      condition     = !var.auto_switch_alarm || (var.switch_function && local.want_app_catch_all)
      error_message = "auto_switch_alarm invokes the switch function and watches the application target group: set switch_function = true and app_target_group_arn."
    }
    precondition {
      condition     = !var.auto_fallback || (var.switch_function && (var.function_alarms || var.alb_alarms) && local.want_app_catch_all)
      error_message = "auto_fallback has the responder's alarms invoke the switch function, which puts the fallback rule live (created only behind the application catch-all): set switch_function = true, function_alarms or alb_alarms, and app_target_group_arn."
    }
  }
}

# Only the target group may invoke, and only through the alias. ELB checks this permission
# when the target is registered, so the attachment depends on it.
resource "aws_lambda_permission" "alb" {
  statement_id   = "AllowInvokeFromTargetGroup"
  action         = "lambda:InvokeFunction"
  function_name  = aws_lambda_function.this.function_name
  qualifier      = aws_lambda_alias.live.name
  principal      = "elasticloadbalancing.amazonaws.com"
  source_arn     = aws_lb_target_group.this.arn
  source_account = local.account_id
}

resource "aws_lb_target_group_attachment" "this" {
  target_group_arn = aws_lb_target_group.this.arn
  target_id        = aws_lambda_alias.live.arn
  depends_on       = [aws_lambda_permission.alb]
}

# One set of rules per listener, index i for var.listener_arns[i] (count, not for_each by ARN: a
# listener created in the same apply has no ARN at plan time). Listener rule order (lower priority
# number first): the application's own rules, then the application catch-all (49990), then the
# parked bypass rules (49998, 49999), then the parked maintenance rule (50000). The catch-all
# forwards everything the application's rules leave over to the application, so the parked rules
# below it see no traffic until maintctl moves them on top.
resource "aws_lb_listener_rule" "app_catch_all" {
  count = local.want_app_catch_all ? length(var.listener_arns) : 0

  listener_arn = var.listener_arns[count.index]
  priority     = var.app_catch_all_priority

  action {
    type             = "forward"
    target_group_arn = var.app_target_group_arn
  }

  condition {
    path_pattern {
      values = ["/*"]
    }
  }

  tags = local.app_catch_all_rule_tags

  lifecycle {
    # maintctl may displace it while maintenance is on (and puts it back on off).
    ignore_changes = [priority]
    precondition {
      condition     = var.app_catch_all_priority < var.parked_priority
      error_message = "app_catch_all_priority must be lower than parked_priority, or the parked maintenance rule comes first."
    }
    precondition {
      condition = !contains(concat(
        local.want_source_ip_bypass ? [var.bypass_source_ip_priority] : [],
        local.want_header_bypass ? [var.bypass_header_priority] : [],
      ), var.app_catch_all_priority)
      error_message = "app_catch_all_priority must differ from the bypass rules' priorities."
    }
  }
}

resource "aws_lb_listener_rule" "maintenance" {
  count = length(var.listener_arns)

  listener_arn = var.listener_arns[count.index]
  priority     = var.parked_priority

  # Created after the catch-alls (and destroyed before them), so it is never the last /* rule.
  depends_on = [aws_lb_listener_rule.app_catch_all]

  action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.this.arn
  }

  condition {
    path_pattern {
      values = ["/*"]
    }
  }

  tags = local.maintenance_rule_tags

  # maintctl moves the rule (SetRulePriorities) and records in tags who switched it, when, why,
  # and which other rules it displaced (maintenance-responder:displaced, -2, -3, ...; the number
  # of keys varies, and ignore_changes takes no wildcard). A later apply must undo none of it, so
  # the tags are set at creation and then left to maintctl.
  lifecycle {
    ignore_changes = [priority, tags, tags_all]
    precondition {
      condition     = local.want_app_catch_all || var.allow_fallthrough
      error_message = "Set app_target_group_arn (an application catch-all rule keeps the parked maintenance rule from catching traffic) or allow_fallthrough = true."
    }
  }
}

# Before listener_arns the module had one listener and one maintenance rule: it becomes the first.
# (The conditional rules were counted already, so their first instance keeps its address.)
moved {
  from = aws_lb_listener_rule.maintenance
  to   = aws_lb_listener_rule.maintenance[0]
}

# The fallback rule: the ALB's own fixed-response 503 page, parked like the maintenance rule;
# maintctl on --fallback puts it live instead of the Lambda, off parks it again. Only behind the
# application catch-all: without it (allow_fallthrough), parked, the rule would answer every
# request no other rule matches, health checks included, with the ALB's bare 503 (maintctl
# attach --allow-fallthrough does not create it either).
resource "aws_lb_listener_rule" "fallback" {
  count = local.want_app_catch_all ? length(var.listener_arns) : 0

  listener_arn = var.listener_arns[count.index]
  priority     = local.fallback_priority
  depends_on   = [aws_lb_listener_rule.app_catch_all]

  action {
    type = "fixed-response"
    fixed_response {
      status_code  = "503"
      content_type = "text/html"
      message_body = local.fallback_page
    }
  }

  condition {
    path_pattern {
      values = ["/*"]
    }
  }

  tags = local.fallback_rule_tags

  # maintctl moves it and maintctl message set replaces its page: a later apply undoes neither.
  lifecycle {
    ignore_changes = [priority, action]
    precondition {
      condition     = local.fallback_priority > var.app_catch_all_priority
      error_message = "fallback_priority must be after app_catch_all_priority (a higher number): before the catch-all, the parked fallback rule would answer every request the application's rules leave over, health checks included, with the ALB's bare 503."
    }
    precondition {
      condition = !contains(concat(
        [var.app_catch_all_priority],
        range(var.parked_priority - 4, var.parked_priority + 1),
      ), local.fallback_priority)
      error_message = "fallback_priority must differ from app_catch_all_priority and from the five priorities parked_priority - 4 ... parked_priority (the maintenance and bypass rules' place)."
    }
  }
}

resource "aws_lb_listener_rule" "bypass_source_ip" {
  count = local.want_source_ip_bypass ? length(var.listener_arns) : 0

  listener_arn = var.listener_arns[count.index]
  priority     = var.bypass_source_ip_priority

  action {
    type             = "forward"
    target_group_arn = var.app_target_group_arn
  }

  condition {
    source_ip {
      values = var.bypass_source_cidrs
    }
  }

  tags = local.bypass_source_ip_rule_tags

  lifecycle {
    ignore_changes = [priority]
    precondition {
      condition     = var.app_target_group_arn != ""
      error_message = "A bypass rule forwards to the application: set app_target_group_arn."
    }
    precondition {
      condition     = var.bypass_source_ip_priority != var.parked_priority && !(local.want_header_bypass && var.bypass_source_ip_priority == var.bypass_header_priority)
      error_message = "bypass_source_ip_priority must differ from parked_priority and bypass_header_priority."
    }
  }
}

resource "aws_lb_listener_rule" "bypass_header" {
  count = local.want_header_bypass ? length(var.listener_arns) : 0

  listener_arn = var.listener_arns[count.index]
  priority     = var.bypass_header_priority

  action {
    type             = "forward"
    target_group_arn = var.app_target_group_arn
  }

  condition {
    http_header {
      http_header_name = var.bypass_header_name
      values           = [var.bypass_header_value]
    }
  }

  tags = local.bypass_header_rule_tags

  lifecycle {
    ignore_changes = [priority]
    precondition {
      condition     = var.app_target_group_arn != ""
      error_message = "A bypass rule forwards to the application: set app_target_group_arn."
    }
    precondition {
      condition     = var.bypass_header_priority != var.parked_priority
      error_message = "bypass_header_priority must differ from parked_priority."
    }
  }
}

# The cookie bypass rule of the bypass link (issue #14): maintctl on sets the window's token on
# it and in SSM ({ssm_prefix}/bypass/token) and prints the link; off parks it and rotates the
# token. Its first token is one nobody is given: two uuid() (122 random bits each, from the
# operating system's CSPRNG) without the dashes. Terraform never puts the condition back: it is
# maintctl's from then on.
resource "aws_lb_listener_rule" "bypass_link" {
  count = local.want_bypass_link ? length(var.listener_arns) : 0

  listener_arn = var.listener_arns[count.index]
  priority     = var.bypass_link_priority

  action {
    type             = "forward"
    target_group_arn = var.app_target_group_arn
  }

  condition {
    http_header {
      http_header_name = "Cookie"
      values           = ["*maint_bypass=${replace("${uuid()}${uuid()}", "-", "")}*"]
    }
  }

  tags = local.bypass_link_rule_tags

  lifecycle {
    ignore_changes = [priority, condition]
    precondition {
      condition     = var.app_target_group_arn != ""
      error_message = "A bypass rule forwards to the application: set app_target_group_arn."
    }
    precondition {
      condition = !contains(concat(
        [var.parked_priority],
        local.want_source_ip_bypass ? [var.bypass_source_ip_priority] : [],
        local.want_header_bypass ? [var.bypass_header_priority] : [],
      ), var.bypass_link_priority)
      error_message = "bypass_link_priority must differ from parked_priority and the other bypass rules' priorities."
    }
  }
}

# ---------------------------------------------------- optional NLB in front of the ALB

resource "aws_lb" "nlb" {
  count = var.create_nlb ? 1 : 0

  name               = "maint-${var.environment}-nlb"
  load_balancer_type = "network"
  internal           = var.nlb_internal
  subnets            = var.nlb_subnet_ids
  # The ALB balances across zones always; an NLB in front of it must too, or a zone whose NLB
  # node has fewer ALB nodes behind it gets intermittent 503s (deploy/README.md, Caveats).
  enable_cross_zone_load_balancing = true
  enable_deletion_protection       = var.nlb_deletion_protection
  tags                             = local.common_tags

  lifecycle {
    precondition {
      condition     = var.alb_arn != "" && var.vpc_id != "" && length(var.nlb_subnet_ids) > 0
      error_message = "create_nlb needs alb_arn, vpc_id and nlb_subnet_ids."
    }
  }
}

resource "aws_lb_target_group" "nlb_to_alb" {
  count = var.create_nlb ? 1 : 0

  name        = "maint-${var.environment}-alb"
  target_type = "alb"
  protocol    = "TCP"
  port        = var.alb_listener_port
  vpc_id      = var.vpc_id

  # Sent to the ALB and through its listener rules: while maintenance is on they reach the
  # responder, which answers 200 on the health path so the NLB keeps the ALB in service.
  health_check {
    enabled  = true
    protocol = var.nlb_health_check_protocol
    port     = "traffic-port"
    path     = var.health_path
    interval = 30
    matcher  = "200-399"
  }

  tags = local.common_tags
}

resource "aws_lb_target_group_attachment" "nlb_to_alb" {
  count = var.create_nlb ? 1 : 0

  target_group_arn = aws_lb_target_group.nlb_to_alb[0].arn
  target_id        = var.alb_arn
  port             = var.alb_listener_port
}

resource "aws_lb_listener" "nlb" {
  count = var.create_nlb ? 1 : 0

  load_balancer_arn = aws_lb.nlb[0].arn
  port              = var.alb_listener_port
  protocol          = "TCP"

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.nlb_to_alb[0].arn
  }
}

# -------------------------------------------------------------------------- alarms
# Standard-resolution alarms on one metric each (USD 0.10 a month each beyond the account's 10 free
# ones); off by default. Missing data (no traffic) is not a breach.

locals {
  function_alarms = var.function_alarms ? {
    throttles = {
      metric      = "Throttles"
      description = "The maintenance responder was throttled: each throttled request got the ALB's bare 502. Raise reserved_concurrency (README, Capacity) or find what exhausts the account's concurrency."
    }
    errors = {
      metric      = "Errors"
      description = "The maintenance responder failed invocations (crash, timeout, init failure): the ALB answered those requests with its bare 502. See the function's log group."
    }
  } : {}
}

resource "aws_cloudwatch_metric_alarm" "function" {
  for_each = local.function_alarms

  alarm_name          = "${local.name}-${each.key}"
  alarm_description   = each.value.description
  namespace           = "AWS/Lambda"
  metric_name         = each.value.metric
  dimensions          = { FunctionName = aws_lambda_function.this.function_name }
  statistic           = "Sum"
  period              = 60
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = local.responder_missing_data
  alarm_actions       = local.responder_alarm_actions
  ok_actions          = local.responder_alarm_actions
  tags                = local.common_tags
}

resource "aws_cloudwatch_metric_alarm" "elb_502" {
  count = var.alb_alarms ? 1 : 0

  alarm_name          = "${local.name}-alb-502"
  alarm_description   = "The ALB answered with its own 502 (no Retry-After, no no-store). During maintenance that is the responder failing (throttled, erroring); otherwise it may be the application."
  namespace           = "AWS/ApplicationELB"
  metric_name         = "HTTPCode_ELB_502_Count"
  dimensions          = { LoadBalancer = local.alb_arn_suffix }
  statistic           = "Sum"
  period              = 60
  evaluation_periods  = 1
  threshold           = var.elb_502_alarm_threshold
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = local.responder_missing_data
  alarm_actions       = local.responder_alarm_actions
  ok_actions          = local.responder_alarm_actions
  tags                = local.common_tags
}

resource "aws_cloudwatch_metric_alarm" "lambda_user_error" {
  count = var.alb_alarms ? 1 : 0

  alarm_name          = "${local.name}-lambda-user-error"
  alarm_description   = "Requests the ALB could not hand to the responder or got no valid answer for (throttled, permission, malformed or oversized response): each got the ALB's 502."
  namespace           = "AWS/ApplicationELB"
  metric_name         = "LambdaUserError"
  dimensions          = { TargetGroup = aws_lb_target_group.this.arn_suffix, LoadBalancer = local.alb_arn_suffix }
  statistic           = "Sum"
  period              = 60
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = local.responder_missing_data
  alarm_actions       = local.responder_alarm_actions
  ok_actions          = local.responder_alarm_actions
  tags                = local.common_tags
}

# ------------------------------------------------------------- operators (maintctl)
# Scoped to the ALB (every listener and rule of app/NAME/ID): maintctl works on all listeners of
# the load balancer, and on its own rules as well as yours (it may move yours down to make room at
# the top, and puts them back).

# maintctl status, on, off and message: no CreateRule, no RemoveTags.
data "aws_iam_policy_document" "switching" {
  statement {
    sid = "ReadListeners"
    actions = [
      "elasticloadbalancing:DescribeLoadBalancers",
      "elasticloadbalancing:DescribeListeners",
      "elasticloadbalancing:DescribeRules",
      "elasticloadbalancing:DescribeTags",
      "elasticloadbalancing:DescribeTargetGroups",
      "elasticloadbalancing:DescribeTargetHealth",
      "elasticloadbalancing:DescribeListenerAttributes",
    ]
    resources = ["*"]
  }

  # Every rule of the ALB: with no room at the top, on moves the application's rules too.
  statement {
    sid       = "Switch"
    actions   = ["elasticloadbalancing:SetRulePriorities"]
    resources = [local.alb_rules]
  }

  # The record (who, when, why, the displaced rules, the window) goes on this environment's
  # maintenance rules only: AddTags on the rules tagged with this environment.
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

  # maintctl message set puts the new content on the fallback rules' page; only on rules tagged
  # as the fallback rule (verify the tag condition on AWS before relying on it).
  statement {
    sid       = "RefreshFallbackPage"
    actions   = ["elasticloadbalancing:ModifyRule"]
    resources = [local.alb_rules]
    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/maintenance-responder:role"
      values   = ["fallback"]
    }
  }

  # maintctl doctor (and the preflight of maintctl on) invokes the responder with a synthetic ALB
  # event and reads its concurrency settings.
  statement {
    sid       = "CheckTheResponder"
    actions   = ["lambda:InvokeFunction", "lambda:GetFunctionConcurrency"]
    resources = [aws_lambda_function.this.arn, aws_lambda_alias.live.arn]
  }

  statement {
    sid       = "ReadAccountConcurrency"
    actions   = ["lambda:GetAccountSettings"]
    resources = ["*"]
  }

  statement {
    sid       = "EditContent"
    actions   = ["ssm:PutParameter", "ssm:GetParametersByPath", "ssm:GetParameter"]
    resources = local.ssm_parameter_arns
  }

  dynamic "statement" {
    for_each = local.has_kms_key ? [var.ssm_kms_key_arn] : []
    content {
      sid       = "SecureStrings"
      actions   = ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey"]
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

  # The bypass link (issue #14): on sets the window's token on the cookie bypass rules, the one
  # rule maintctl modifies, and off rotates it.
  statement {
    sid       = "SetBypassLinkToken"
    actions   = ["elasticloadbalancing:ModifyRule"]
    resources = [local.alb_rules]
    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/maintenance-responder:bypass-link"
      values   = ["cookie"]
    }
  }

  # Nobody with this policy gives a rule a role, the cookie tag, an environment, a parked
  # priority or a content prefix (and so the power to be modified, recorded on or moved as one of
  # ours), except as attach creates it (local.identity_tag_keys).
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
    condition {
      test     = "StringNotEquals"
      variable = "elasticloadbalancing:CreateAction"
      values   = ["CreateRule"]
    }
  }

  # The link's host: the HTTPS listeners' certificates (DescribeListenerCertificates takes no
  # resource) and their names.
  statement {
    sid       = "BypassLinkHost"
    actions   = ["elasticloadbalancing:DescribeListenerCertificates"]
    resources = ["*"]
  }

  statement {
    sid       = "BypassLinkCertificateNames"
    actions   = ["acm:DescribeCertificate"]
    resources = [local.acm_certificates]
  }

  # How each value is stored (an existing SecureString keeps its key: message set and the
  # token). DescribeParameters takes no resource.
  statement {
    sid       = "ParameterTypes"
    actions   = ["ssm:DescribeParameters"]
    resources = ["*"]
  }

  # One writer at a time (issue #15): on and off take the lease {ssm_prefix}/switch/lease
  # (PutParameter without overwrite, GetParameter, DeleteParameter); on --until writes the
  # window's zone and removes a stale one.
  statement {
    sid     = "Lease"
    actions = ["ssm:DeleteParameter"]
    resources = [
      "${local.ssm_parameter_arns[0]}/switch/*",
      "${local.ssm_parameter_arns[0]}/timezone",
    ]
  }

  # Every switch is announced on the event bus and appended to {ssm_prefix}/switch/history
  # (issue #23); maintctl history reads that parameter's versions. PutEvents is scoped to the
  # bus's ARN (EventBridge User Guide, "Using identity-based policies for EventBridge").
  statement {
    sid       = "AnnounceSwitches"
    actions   = ["events:PutEvents"]
    resources = [local.event_bus_arn]
  }
  statement {
    sid       = "ReadTheHistory"
    actions   = ["ssm:GetParameterHistory"]
    resources = ["${local.ssm_parameter_arns[0]}/switch/history"]
  }
  # maintctl doctor: the bus exists and a rule routes the events.
  statement {
    sid       = "CheckTheRoutes"
    actions   = ["events:DescribeEventBus", "events:ListRules"]
    resources = [local.event_bus_arn, "arn:${local.partition}:events:${local.region}:${local.account_id}:rule/*"]
  }

  # Windows (switch_function): maintctl schedule create|list|cancel|extend and on --until write
  # one-time schedules in this environment's group, read where they go from its tags, and hand
  # Scheduler its role.
  dynamic "statement" {
    for_each = var.switch_function ? [1] : []
    content {
      sid = "ScheduleWindows"
      actions = [
        "scheduler:CreateSchedule",
        "scheduler:UpdateSchedule",
        "scheduler:DeleteSchedule",
        "scheduler:GetSchedule",
      ]
      resources = ["arn:${local.partition}:scheduler:${local.region}:${local.account_id}:schedule/maintenance-${var.environment}/*"]
    }
  }

  dynamic "statement" {
    for_each = var.switch_function ? [1] : []
    content {
      sid       = "ReadTheScheduleGroup"
      actions   = ["scheduler:GetScheduleGroup", "scheduler:ListTagsForResource"]
      resources = ["arn:${local.partition}:scheduler:${local.region}:${local.account_id}:schedule-group/maintenance-${var.environment}"]
    }
  }

  # ListSchedules takes no resource (it is filtered by group in the call).
  dynamic "statement" {
    for_each = var.switch_function ? [1] : []
    content {
      sid       = "ListWindows"
      actions   = ["scheduler:ListSchedules"]
      resources = ["*"]
    }
  }

  dynamic "statement" {
    for_each = aws_iam_role.scheduler[*].arn
    content {
      sid       = "PassTheSchedulerRole"
      actions   = ["iam:PassRole"]
      resources = [statement.value]
      condition {
        test     = "StringEquals"
        variable = "iam:PassedToService"
        values   = ["scheduler.amazonaws.com"]
      }
    }
  }
}

# maintctl attach, on listeners whose rules this module did not create; given together with the
# switching policy.
data "aws_iam_policy_document" "attach" {
  statement {
    sid       = "CreateRules"
    actions   = ["elasticloadbalancing:CreateRule"]
    resources = [local.alb_listeners]
  }

  statement {
    sid       = "TagOnCreate"
    actions   = ["elasticloadbalancing:AddTags"]
    resources = [local.alb_rules]
    condition {
      test     = "StringEquals"
      variable = "elasticloadbalancing:CreateAction"
      values   = ["CreateRule"]
    }
  }
}

# maintctl off --gradual (docs/return.md), with the switching policy: admission rules created
# only with role admission and this environment as their tags (tagged as created), deleted only
# with those tags; the return's state. ELBv2 has no condition key on a rule's actions (Service
# Authorization Reference, Elastic Load Balancing V2; IAM User Guide, aws:RequestTag).
data "aws_iam_policy_document" "gradual_return" {
  statement {
    sid       = "CreateAdmissionRules"
    actions   = ["elasticloadbalancing:CreateRule"]
    resources = [local.alb_listeners]
    condition {
      test     = "StringEquals"
      variable = "aws:RequestTag/maintenance-responder:role"
      values   = ["admission"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:RequestTag/maintenance-responder:environment"
      values   = [var.environment]
    }
  }

  statement {
    sid       = "TagAdmissionRulesOnCreate"
    actions   = ["elasticloadbalancing:AddTags"]
    resources = [local.alb_rules]
    condition {
      test     = "StringEquals"
      variable = "elasticloadbalancing:CreateAction"
      values   = ["CreateRule"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:RequestTag/maintenance-responder:role"
      values   = ["admission"]
    }
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
}

resource "aws_iam_policy" "gradual_return" {
  count = var.create_switching_policy ? 1 : 0

  name        = "${local.iam_name}-gradual-return"
  description = "maintctl off --gradual for ${var.environment}: create and delete the admission rules (tagged role admission), write and delete the return state. Attach together with the switching policy."
  policy      = data.aws_iam_policy_document.gradual_return.json
  tags        = local.common_tags
}

resource "aws_iam_policy" "switching" {
  count = var.create_switching_policy ? 1 : 0

  name        = "${local.iam_name}-switching"
  description = "maintctl status/on/off and message for ${var.environment}: read the listeners, move the rule priorities, record who switched (tags), edit the page content."
  policy      = data.aws_iam_policy_document.switching.json
  tags        = local.common_tags
}

resource "aws_iam_policy" "attach" {
  count = var.create_attach_policy ? 1 : 0

  name        = "${local.iam_name}-attach"
  description = "maintctl attach for ${var.environment}: create the parked rules on the ALB's listeners and tag them as they are created. Attach together with the switching policy."
  policy      = data.aws_iam_policy_document.attach.json
  tags        = local.common_tags
}
