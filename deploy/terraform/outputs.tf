output "function_arn" {
  value = aws_lambda_function.this.arn
}

output "alias_arn" {
  description = "The alias the target group invokes."
  value       = aws_lambda_alias.live.arn
}

output "target_group_arn" {
  value = aws_lb_target_group.this.arn
}

output "maintenance_rule_arn" {
  description = "Parked maintenance rule (maintctl switches it by priority)."
  value       = aws_lb_listener_rule.maintenance.arn
}

output "app_catch_all_rule_arn" {
  description = "Application catch-all rule (path /*, forwards to app_target_group_arn)."
  value       = one(aws_lb_listener_rule.app_catch_all[*].arn)
}

output "bypass_rule_arns" {
  value = concat(aws_lb_listener_rule.bypass_source_ip[*].arn, aws_lb_listener_rule.bypass_header[*].arn)
}

output "operator_policy_json" {
  description = "IAM policy for the people who run maintctl."
  value       = data.aws_iam_policy_document.operator.json
}

output "operator_policy_arn" {
  value = one(aws_iam_policy.operator[*].arn)
}

output "nlb_dns_name" {
  value = one(aws_lb.nlb[*].dns_name)
}
