# The module with every option on: arm64, capacity and logging settings, every alarm with a topic,
# every bypass rule (the bypass link's cookie rule too), a customer-managed KMS key, the NLB in front of the ALB, both operator
# policies, the switch function with its schedule group, queue and HealthyHostCount alarm, extra
# switch events routed to a chat topic with the hand-edit rule and the switch errors alarm,
# tags. Checked by tests/deploy/templates.rs with `terraform validate` (no AWS account
# involved).

terraform {
  required_version = ">= 1.5.0"
}

provider "aws" {
  region = "eu-west-1"
}

locals {
  alb = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/shop/0123456789abcdef"
}

module "maintenance" {
  source = "../.."

  environment = "shop-prod"
  listener_arns = [
    "arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener/app/shop/0123456789abcdef/00000000000000a1",
    "arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener/app/shop/0123456789abcdef/00000000000000b2",
    "arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener/app/shop/0123456789abcdef/00000000000000c3",
  ]
  parked_priority        = 45000
  app_target_group_arn   = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/shop-app/0123456789abcdef"
  app_catch_all_priority = 44000
  allow_fallthrough      = true

  package_path = "${path.root}/../../../../dist/arm64/bootstrap.zip"
  architecture = "arm64"

  ssm_prefix      = "/maintenance/shop-prod"
  ssm_ttl_seconds = 60
  ssm_kms_key_arn = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
  health_path     = "/_health"

  memory_size             = 256
  reserved_concurrency    = 400
  provisioned_concurrency = 5
  log_level               = "DEBUG"
  system_log_level        = "WARN"
  log_retention_days      = 90

  alarm_topic_arn         = "arn:aws:sns:eu-west-1:123456789012:ops-pager"
  function_alarms         = true
  alb_alarms              = true
  elb_502_alarm_threshold = 1

  lambda_multi_value_headers_enabled = true
  health_check_enabled               = false
  health_check_interval_seconds      = 300

  bypass_source_cidrs       = ["203.0.113.0/24", "198.51.100.7/32"]
  bypass_source_ip_priority = 44999
  bypass_header_name        = "X-Maintenance-Bypass"
  bypass_header_value       = "a-long-random-secret"
  bypass_header_priority    = 44998
  bypass_link               = true
  bypass_link_priority      = 44997

  create_nlb                = true
  alb_arn                   = local.alb
  alb_listener_port         = 443
  vpc_id                    = "vpc-0123456789abcdef0"
  nlb_subnet_ids            = ["subnet-0123456789abcdef0", "subnet-0fedcba9876543210"]
  nlb_internal              = true
  nlb_health_check_protocol = "HTTPS"

  create_switching_policy = true
  create_attach_policy    = true

  switch_function                 = true
  switch_package_path             = "${path.root}/../../../../dist/maintenance-switch/arm64/bootstrap.zip"
  switch_on_alarm_ok              = "stay"
  auto_switch_alarm               = true
  auto_switch_healthy_hosts_below = 2
  auto_switch_period_seconds      = 120
  auto_switch_evaluation_periods  = 5
  auto_fallback                   = true
  switch_errors_alarm             = true

  event_bus_name         = "shop-events"
  notifications          = true
  notification_topic_arn = "arn:aws:sns:eu-west-1:123456789012:ops-chat"
  hand_edit_alarm        = true
  tool_role_names        = ["ops-maintenance"]

  tags = { team = "platform", cost-center = "1234" }
}

output "every_output" {
  value     = module.maintenance
  sensitive = true
}
