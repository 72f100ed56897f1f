# The module as most deployments call it: the HTTP and the HTTPS listener of one ALB, the
# application's target group for the catch-all, everything else at its default. Checked by
# tests/deploy/templates.rs with `terraform validate` (no AWS account involved).

terraform {
  required_version = ">= 1.5.0"
}

provider "aws" {
  region = "eu-west-1"
}

module "maintenance" {
  source = "../.."

  environment = "shop"
  listener_arns = [
    "arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener/app/shop/0123456789abcdef/00000000000000a1",
    "arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener/app/shop/0123456789abcdef/00000000000000b2",
  ]
  app_target_group_arn = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/shop-app/0123456789abcdef"
  ssm_prefix           = "/maintenance/shop"
  package_path         = "${path.root}/../../../../dist/bootstrap.zip"
}

output "maintenance_rule_arns" {
  value = module.maintenance.maintenance_rule_arns
}

output "switching_policy_json" {
  value = module.maintenance.switching_policy_json
}
