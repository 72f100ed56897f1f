output "function_name" {
  value = aws_lambda_function.this.function_name
}

output "function_arn" {
  value = aws_lambda_function.this.arn
}

output "alias_name" {
  description = "The alias the target group invokes (and provisioned concurrency is set on)."
  value       = aws_lambda_alias.live.name
}

output "alias_arn" {
  value = aws_lambda_alias.live.arn
}

output "log_group_name" {
  value = aws_cloudwatch_log_group.this.name
}

output "target_group_arn" {
  value = aws_lb_target_group.this.arn
}

output "target_group_arn_suffix" {
  description = "targetgroup/NAME/ID, the TargetGroup dimension of the ALB's CloudWatch metrics."
  value       = aws_lb_target_group.this.arn_suffix
}

output "load_balancer_arn_suffix" {
  description = "app/NAME/ID of the ALB the listeners belong to, the LoadBalancer dimension of its metrics."
  value       = local.alb_arn_suffix
}

output "maintenance_rule_arns" {
  description = "Parked maintenance rule of each listener, by listener ARN (maintctl switches them by priority)."
  value       = zipmap(var.listener_arns, aws_lb_listener_rule.maintenance[*].arn)
}

output "fallback_rule_arns" {
  description = "Parked fallback rule (fixed-response 503) of each listener, by listener ARN (maintctl on --fallback); empty without app_target_group_arn."
  value       = local.want_app_catch_all ? zipmap(var.listener_arns, aws_lb_listener_rule.fallback[*].arn) : {}
}

output "app_catch_all_rule_arns" {
  description = "Application catch-all rule of each listener (path /*, forwards to app_target_group_arn), by listener ARN; empty without app_target_group_arn."
  value       = local.want_app_catch_all ? zipmap(var.listener_arns, aws_lb_listener_rule.app_catch_all[*].arn) : {}
}

output "bypass_rule_arns" {
  description = "Every bypass rule (source IP, then header), all listeners."
  value       = concat(aws_lb_listener_rule.bypass_source_ip[*].arn, aws_lb_listener_rule.bypass_header[*].arn)
}

output "bypass_link_rule_arns" {
  description = "The cookie bypass rules of the bypass link, one per listener (empty unless bypass_link)."
  value       = aws_lb_listener_rule.bypass_link[*].arn
}

output "alarm_arns" {
  description = "The alarms created, by name."
  value = merge(
    { for alarm in aws_cloudwatch_metric_alarm.function : alarm.alarm_name => alarm.arn },
    { for alarm in aws_cloudwatch_metric_alarm.elb_502 : alarm.alarm_name => alarm.arn },
    { for alarm in aws_cloudwatch_metric_alarm.lambda_user_error : alarm.alarm_name => alarm.arn },
  )
}

output "switching_policy_json" {
  description = "IAM policy for the people who run maintctl status, on, off and message (no CreateRule, no RemoveTags)."
  value       = data.aws_iam_policy_document.switching.json
}

output "switching_policy_arn" {
  value = one(aws_iam_policy.switching[*].arn)
}

output "attach_policy_json" {
  description = "IAM policy for maintctl attach (CreateRule, tags on creation), given together with the switching policy."
  value       = data.aws_iam_policy_document.attach.json
}

output "attach_policy_arn" {
  value = one(aws_iam_policy.attach[*].arn)
}

output "nlb_dns_name" {
  value = one(aws_lb.nlb[*].dns_name)
}

output "switch_function_arn" {
  description = "The maintenance-switch function (schedules and the alarm invoke it); null without switch_function."
  value       = one(aws_lambda_function.switch[*].arn)
}

output "schedule_group_name" {
  description = "The schedule group maintctl schedule writes the windows to; null without switch_function."
  value       = one(aws_scheduler_schedule_group.this[*].name)
}

output "scheduler_role_arn" {
  value = one(aws_iam_role.scheduler[*].arn)
}

output "dead_letter_queue_url" {
  description = "Switches that did not happen (undelivered, or failed after Lambda's retries)."
  value       = one(aws_sqs_queue.switch_dead_letters[*].id)
}

output "app_unhealthy_alarm_name" {
  value = one(aws_cloudwatch_metric_alarm.app_unhealthy[*].alarm_name)
}

output "dead_letter_alarm_name" {
  description = "The alarm on the dead-letter queue's depth; null without switch_function or with dead_letter_alarm = false."
  value       = one(aws_cloudwatch_metric_alarm.dead_letters[*].alarm_name)
}
