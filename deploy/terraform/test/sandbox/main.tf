# A throwaway sandbox for the module: a VPC with two public subnets, an internet-facing ALB with
# an HTTP and an HTTPS listener (an imported, self-signed certificate), a tiny application behind
# it (a Python Lambda answering "application"), and the module on both listeners. With
# every_option = true: the switch function with its alarm, every alarm with a topic, every bypass
# rule, a customer-managed KMS key, the NLB, both operator policies. With fallthrough = true: the
# module without the application catch-all (allow_fallthrough, no bypass rules), the application
# answering /app/* through a rule of its own.
#
# Applied by tests/deploy/terraform.rs against moto (a provider override file points every endpoint
# at the loopback emulator) and by scripts/aws-acceptance in a sandbox account. Not for
# production: the ALB is public and its security group admits the world on 80 and 443.

terraform {
  required_version = ">= 1.5.0"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.32"
    }
  }
}

variable "region" {
  type = string
}

variable "name" {
  description = "Prefix of every name (at most 12 characters: target group names are short)."
  type        = string
}

variable "every_option" {
  type    = bool
  default = false
}

variable "package_path" {
  description = "The responder's zip (scripts/package: dist/bootstrap.zip)."
  type        = string
}

variable "switch_package_path" {
  description = "The switch function's zip (dist/maintenance-switch/bootstrap.zip)."
  type        = string
}

variable "app_package_path" {
  description = "A zip with app.py (handler app.handler): the application behind the ALB."
  type        = string
}

variable "certificate_pem" {
  description = "Self-signed certificate of the HTTPS listener (PEM)."
  type        = string
}

variable "private_key_pem" {
  type      = string
  sensitive = true
}

variable "fallthrough" {
  type    = bool
  default = false
}

variable "bypass_source_cidrs" {
  type    = list(string)
  default = ["203.0.113.0/24"]
}

provider "aws" {
  region = var.region
}

data "aws_availability_zones" "here" {
  state = "available"
}

resource "aws_vpc" "this" {
  cidr_block           = "10.42.0.0/16"
  enable_dns_hostnames = true
  tags                 = { Name = var.name }
}

resource "aws_internet_gateway" "this" {
  vpc_id = aws_vpc.this.id
}

resource "aws_subnet" "public" {
  count                   = 2
  vpc_id                  = aws_vpc.this.id
  cidr_block              = "10.42.${count.index}.0/24"
  availability_zone       = data.aws_availability_zones.here.names[count.index]
  map_public_ip_on_launch = false
  tags                    = { Name = "${var.name}-${count.index}" }
}

resource "aws_route_table" "public" {
  vpc_id = aws_vpc.this.id
  route {
    cidr_block = "0.0.0.0/0"
    gateway_id = aws_internet_gateway.this.id
  }
}

resource "aws_route_table_association" "public" {
  count          = 2
  subnet_id      = aws_subnet.public[count.index].id
  route_table_id = aws_route_table.public.id
}

resource "aws_security_group" "alb" {
  name   = "${var.name}-alb"
  vpc_id = aws_vpc.this.id
  ingress {
    from_port   = 80
    to_port     = 80
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }
  ingress {
    from_port   = 443
    to_port     = 443
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }
  egress {
    from_port   = 0
    to_port     = 0
    protocol    = "-1"
    cidr_blocks = ["0.0.0.0/0"]
  }
}

resource "aws_lb" "this" {
  name               = "${var.name}-alb"
  load_balancer_type = "application"
  subnets            = aws_subnet.public[*].id
  security_groups    = [aws_security_group.alb.id]
  depends_on         = [aws_internet_gateway.this]
}

resource "aws_acm_certificate" "this" {
  certificate_body = var.certificate_pem
  private_key      = var.private_key_pem
}

# The application: a Python Lambda behind its own target group.
data "aws_iam_policy_document" "assume_lambda" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "app" {
  name               = "${var.name}-app-${var.region}"
  assume_role_policy = data.aws_iam_policy_document.assume_lambda.json
}

resource "aws_lambda_function" "app" {
  function_name    = "${var.name}-app"
  filename         = var.app_package_path
  source_code_hash = filebase64sha256(var.app_package_path)
  handler          = "app.handler"
  runtime          = "python3.12"
  role             = aws_iam_role.app.arn
  timeout          = 3
}

resource "aws_lb_target_group" "app" {
  name        = "${var.name}-app"
  target_type = "lambda"
}

resource "aws_lambda_permission" "app" {
  statement_id  = "AllowInvokeFromTheAlb"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.app.function_name
  principal     = "elasticloadbalancing.amazonaws.com"
  source_arn    = aws_lb_target_group.app.arn
}

resource "aws_lb_target_group_attachment" "app" {
  target_group_arn = aws_lb_target_group.app.arn
  target_id        = aws_lambda_function.app.arn
  depends_on       = [aws_lambda_permission.app]
}

resource "aws_lb_listener" "http" {
  load_balancer_arn = aws_lb.this.arn
  port              = 80
  protocol          = "HTTP"
  default_action {
    type = "fixed-response"
    fixed_response {
      content_type = "text/plain"
      message_body = "not found"
      status_code  = "404"
    }
  }
}

resource "aws_lb_listener" "https" {
  load_balancer_arn = aws_lb.this.arn
  port              = 443
  protocol          = "HTTPS"
  ssl_policy        = "ELBSecurityPolicy-TLS13-1-2-2021-06"
  certificate_arn   = aws_acm_certificate.this.arn
  default_action {
    type = "fixed-response"
    fixed_response {
      content_type = "text/plain"
      message_body = "not found"
      status_code  = "404"
    }
  }
}

# fallthrough: the application's own rule (no catch-all) on both listeners.
resource "aws_lb_listener_rule" "app" {
  count        = var.fallthrough ? 2 : 0
  listener_arn = [aws_lb_listener.http.arn, aws_lb_listener.https.arn][count.index]
  priority     = 10
  action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.app.arn
  }
  condition {
    path_pattern {
      values = ["/app/*"]
    }
  }
}

# every_option: a topic for the alarms and a customer-managed key for SecureString content.
resource "aws_sns_topic" "ops" {
  count = var.every_option ? 1 : 0
  name  = "${var.name}-ops"
}

resource "aws_kms_key" "content" {
  count                   = var.every_option ? 1 : 0
  description             = "${var.name}: SecureString content"
  deletion_window_in_days = 7
  enable_key_rotation     = true
}

module "maintenance" {
  source = "../.."

  environment          = var.name
  listener_arns        = [aws_lb_listener.http.arn, aws_lb_listener.https.arn]
  app_target_group_arn = var.fallthrough ? "" : aws_lb_target_group.app.arn
  allow_fallthrough    = var.fallthrough
  ssm_prefix           = "/maintenance/${var.name}"
  package_path         = var.package_path
  health_check_enabled = true

  # A sandbox: no reservation taken from the account's concurrency (new accounts have little).
  reserved_concurrency = -1

  switch_function     = var.every_option
  switch_package_path = var.switch_package_path
  auto_switch_alarm   = var.every_option
  auto_fallback       = var.every_option
  function_alarms     = var.every_option
  alb_alarms          = var.every_option
  alarm_topic_arn     = var.every_option ? aws_sns_topic.ops[0].arn : ""
  notifications       = var.every_option
  hand_edit_alarm     = var.every_option
  switch_errors_alarm = var.every_option
  ssm_kms_key_arn     = var.every_option ? aws_kms_key.content[0].arn : ""

  bypass_link         = !var.fallthrough
  bypass_source_cidrs = var.every_option ? var.bypass_source_cidrs : []
  bypass_header_name  = var.every_option ? "X-Maintenance-Bypass" : ""
  bypass_header_value = var.every_option ? "sandbox-header-secret-0123456789" : ""

  create_nlb              = var.every_option
  alb_arn                 = aws_lb.this.arn
  alb_listener_port       = 80
  vpc_id                  = aws_vpc.this.id
  nlb_subnet_ids          = aws_subnet.public[*].id
  nlb_deletion_protection = false

  create_attach_policy = var.every_option
  depends_on           = [aws_lb_target_group_attachment.app, aws_lb_listener_rule.app]
}

output "load_balancer_arn" {
  value = aws_lb.this.arn
}

output "load_balancer_dns_name" {
  value = aws_lb.this.dns_name
}

output "listener_arns" {
  value = [aws_lb_listener.http.arn, aws_lb_listener.https.arn]
}

output "app_target_group_arn" {
  value = aws_lb_target_group.app.arn
}

output "maintenance" {
  value     = module.maintenance
  sensitive = true
}
