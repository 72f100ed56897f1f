# maintenance-responder: a Lambda target group behind an existing ALB listener, with the
# maintenance rule created parked (priority 50000 by default) behind an application catch-all
# rule (49990, forwards to app_target_group_arn). maintctl switches it on and off.
# Mirrors deploy/sam/template.yaml; see deploy/README.md.

data "aws_partition" "current" {}
data "aws_region" "current" {}
data "aws_caller_identity" "current" {}

locals {
  name       = "maintenance-responder-${var.environment}"
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.id
  account_id = data.aws_caller_identity.current.account_id
  zip_path   = coalesce(var.lambda_zip_path, "${path.module}/../../dist/bootstrap.zip")

  # GetParametersByPath is authorised against the path itself, the others against each
  # parameter below it: grant both.
  ssm_parameter_arns = [
    "arn:${local.partition}:ssm:${local.region}:${local.account_id}:parameter${var.ssm_prefix}",
    "arn:${local.partition}:ssm:${local.region}:${local.account_id}:parameter${var.ssm_prefix}/*",
  ]
  has_kms_key = var.ssm_kms_key_arn != ""

  # Every rule of the listener: listener/app/LB/ID/LISTENER -> listener-rule/app/LB/ID/LISTENER/*
  listener_rules_arn = "${replace(var.listener_arn, ":listener/", ":listener-rule/")}/*"

  want_app_catch_all    = var.app_target_group_arn != ""
  want_source_ip_bypass = length(var.bypass_source_cidrs) > 0
  want_header_bypass    = var.bypass_header_name != "" && var.bypass_header_value != ""

  common_tags = merge(var.tags, {
    "maintenance-responder:environment" = var.environment
  })
  # No maintenance-responder:role tag: maintctl refuses rules whose role is neither maintenance
  # nor bypass, and counts an untagged /* rule before the parked one as the application's.
  app_catch_all_rule_tags = merge(local.common_tags, {
    Name = "app-catch-all"
  })
  maintenance_rule_tags = merge(local.common_tags, {
    "maintenance-responder:role"            = "maintenance"
    "maintenance-responder:parked-priority" = tostring(var.parked_priority)
  })
  bypass_source_ip_rule_tags = merge(local.common_tags, {
    "maintenance-responder:role"            = "bypass"
    "maintenance-responder:parked-priority" = tostring(var.bypass_source_ip_priority)
  })
  bypass_header_rule_tags = merge(local.common_tags, {
    "maintenance-responder:role"            = "bypass"
    "maintenance-responder:parked-priority" = tostring(var.bypass_header_priority)
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

  statement {
    sid       = "ReadContent"
    actions   = ["ssm:GetParametersByPath", "ssm:GetParameters", "ssm:GetParameter"]
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
    }
  }
}

resource "aws_iam_role" "this" {
  name               = local.name
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
  function_name    = local.name
  description      = "Maintenance and error pages for ${var.environment} (maintenance-responder)"
  filename         = local.zip_path
  source_code_hash = filebase64sha256(local.zip_path)
  handler          = "bootstrap"
  runtime          = "provided.al2023"
  architectures    = ["x86_64"]
  memory_size      = var.memory_size
  timeout          = 5
  role             = aws_iam_role.this.arn
  publish          = true

  environment {
    variables = {
      MAINTENANCE_SSM_PREFIX      = var.ssm_prefix
      MAINTENANCE_SSM_TTL_SECONDS = tostring(var.ssm_ttl_seconds)
      MAINTENANCE_HEALTH_PATH     = var.health_path
    }
  }

  tags       = local.common_tags
  depends_on = [aws_cloudwatch_log_group.this, aws_iam_role_policy.this]
}

resource "aws_lambda_alias" "live" {
  name             = "live"
  function_name    = aws_lambda_function.this.function_name
  function_version = aws_lambda_function.this.version
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

# Listener rule order (lower priority number first): the application's own rules, then the
# application catch-all (49990), then the parked bypass rules (49998, 49999), then the parked
# maintenance rule (50000). The catch-all forwards everything the application's rules leave over
# to the application, so the parked rules below it see no traffic until maintctl moves them on
# top.
resource "aws_lb_listener_rule" "app_catch_all" {
  count = local.want_app_catch_all ? 1 : 0

  listener_arn = var.listener_arn
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
  listener_arn = var.listener_arn
  priority     = var.parked_priority

  # Created after the catch-all (and destroyed before it), so it is never the last /* rule.
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

resource "aws_lb_listener_rule" "bypass_source_ip" {
  count = local.want_source_ip_bypass ? 1 : 0

  listener_arn = var.listener_arn
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
  count = local.want_header_bypass ? 1 : 0

  listener_arn = var.listener_arn
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

# ---------------------------------------------------- optional NLB in front of the ALB

resource "aws_lb" "nlb" {
  count = var.create_nlb ? 1 : 0

  name               = "maint-${var.environment}-nlb"
  load_balancer_type = "network"
  internal           = var.nlb_internal
  subnets            = var.nlb_subnet_ids
  tags               = local.common_tags

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

# ------------------------------------------------------------- operators (maintctl)

data "aws_iam_policy_document" "operator" {
  statement {
    sid       = "Describe"
    actions   = ["elasticloadbalancing:Describe*"]
    resources = ["*"]
  }

  statement {
    sid = "SwitchRules"
    actions = [
      "elasticloadbalancing:SetRulePriorities",
      "elasticloadbalancing:AddTags",
      "elasticloadbalancing:RemoveTags",
      "elasticloadbalancing:CreateRule",
    ]
    resources = [var.listener_arn, local.listener_rules_arn]
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
    }
  }

  statement {
    sid       = "WhoAmI"
    actions   = ["sts:GetCallerIdentity"]
    resources = ["*"]
  }
}

resource "aws_iam_policy" "operator" {
  count = var.create_operator_policy ? 1 : 0

  name        = "${local.name}-operator"
  description = "Lets operators run maintctl for ${var.environment} (switch the maintenance rule, edit its content)"
  policy      = data.aws_iam_policy_document.operator.json
  tags        = local.common_tags
}
