# Placement

variable "environment" {
  description = "Environment name: tag maintenance-responder:environment (maintctl --environment finds the rules by it); also names the function and the target group."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9]([a-z0-9-]{0,18}[a-z0-9])?$", var.environment))
    error_message = "environment: 1-20 lower-case letters, digits and inner hyphens."
  }
}

variable "listener_arns" {
  description = "ARNs of the existing listeners of ONE ALB (e.g. its HTTP and its HTTPS listener). Each gets the catch-all, the parked maintenance rule and the bypass rules, all forwarding to the one Lambda target group of this module (a lambda target group belongs to one load balancer). Rules are indexed by position: append new listeners at the end."
  type        = list(string)

  validation {
    condition     = length(var.listener_arns) > 0 && length(distinct(var.listener_arns)) == length(var.listener_arns)
    error_message = "listener_arns: at least one listener ARN, each once."
  }
  validation {
    condition     = alltrue([for arn in var.listener_arns : can(regex("^arn:[a-z-]+:elasticloadbalancing:[a-z0-9-]+:[0-9]{12}:listener/app/[^/]+/[0-9a-f]+/[0-9a-f]+$", arn))])
    error_message = "listener_arns: each must be an ALB listener ARN (...:listener/app/NAME/ID/ID)."
  }
  validation {
    condition     = length(distinct([for arn in var.listener_arns : try(regex(":listener/(app/[^/]+/[^/]+)/", arn)[0], arn)])) == 1
    error_message = "listener_arns: every listener must belong to the same ALB (one Lambda target group serves one load balancer; deploy the module once per ALB)."
  }
}

variable "parked_priority" {
  description = "Priority of the maintenance rule while maintenance is off (1-50000; the last slot by default)."
  type        = number
  default     = 50000

  validation {
    condition     = var.parked_priority >= 1 && var.parked_priority <= 50000
    error_message = "parked_priority must be between 1 and 50000."
  }
}

variable "fallback_priority" {
  description = "Priority of the parked fallback rule (a fixed-response 503 page that needs no Lambda, put live by maintctl on --fallback), created with the application catch-all only; null: parked_priority - 5. After the catch-all, not within the four priorities directly above parked_priority (the bypass rules' place)."
  type        = number
  default     = null

  validation {
    condition     = var.fallback_priority == null ? true : (var.fallback_priority >= 1 && var.fallback_priority <= 50000)
    error_message = "fallback_priority must be between 1 and 50000."
  }
}

# Function

variable "package_path" {
  description = "The Lambda package written by scripts/package, built for var.architecture: dist/bootstrap.zip (x86_64) or dist/arm64/bootstrap.zip (arm64) of a checkout, e.g. \"$${path.root}/dist/bootstrap.zip\"."
  type        = string

  validation {
    condition     = endswith(var.package_path, ".zip")
    error_message = "package_path must name the .zip written by scripts/package."
  }
}

variable "ssm_prefix" {
  description = "SSM parameter path holding the page content, e.g. /maintenance/shop (no trailing slash)."
  type        = string

  validation {
    condition     = can(regex("^(/[A-Za-z0-9_.-]+)+$", var.ssm_prefix))
    error_message = "ssm_prefix must look like /maintenance/shop (leading slash, no trailing slash)."
  }
}

variable "ssm_ttl_seconds" {
  description = "Seconds a fetched content snapshot stays fresh in a warm function."
  type        = number
  default     = 30
}

variable "ssm_kms_key_arn" {
  description = "Customer-managed KMS key of SecureString parameters under the prefix; empty grants no kms:Decrypt."
  type        = string
  default     = ""
}

variable "health_path" {
  description = "Path of the responder's health route; also the target group's health-check path."
  type        = string
  default     = "/healthz"
}

# Capacity and logs (README, "Capacity")

variable "architecture" {
  description = "x86_64, or arm64 for Graviton (cheaper per GB-second). package_path must be the package built for it."
  type        = string
  default     = "x86_64"

  validation {
    condition     = contains(["x86_64", "arm64"], var.architecture)
    error_message = "architecture must be x86_64 or arm64."
  }
}

variable "memory_size" {
  description = "Lambda memory in MB (CPU grows with it; the responder needs about 10 MB)."
  type        = number
  default     = 128

  validation {
    condition     = var.memory_size >= 128 && var.memory_size <= 10240
    error_message = "memory_size must be between 128 and 10240 MB."
  }
}

variable "reserved_concurrency" {
  description = "Execution environments reserved for the responder (guaranteed to it, and its ceiling). Sizing: peak requests/s x seconds an environment is busy per request (a cold start at switch-on) x headroom; 100 = 1,000 requests/s x 0.05 s x 2 (README, Capacity). -1: no reservation (the account's unreserved pool, shared with every other function). 0 is refused: it throttles every request."
  type        = number
  default     = 100

  validation {
    condition     = var.reserved_concurrency == -1 || var.reserved_concurrency >= 1
    error_message = "reserved_concurrency must be -1 (no reservation) or at least 1; 0 would throttle every request (the ALB answers 502)."
  }
}

variable "provisioned_concurrency" {
  description = "Environments kept initialised on the live alias (no cold start for them; billed for every hour configured, used or not). 0: none. At most reserved_concurrency."
  type        = number
  default     = 0

  validation {
    condition     = var.provisioned_concurrency >= 0
    error_message = "provisioned_concurrency must be 0 (none) or more."
  }
}

variable "log_level" {
  description = "Application log level (logging_config; Lambda passes it to the function as AWS_LAMBDA_LOG_LEVEL). INFO logs one line per request; WARN keeps only the problems."
  type        = string
  default     = "INFO"

  validation {
    condition     = contains(["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"], var.log_level)
    error_message = "log_level must be one of TRACE, DEBUG, INFO, WARN, ERROR, FATAL."
  }
}

variable "system_log_level" {
  description = "Lambda's own log lines (INFO keeps START and REPORT with the billed duration)."
  type        = string
  default     = "INFO"

  validation {
    condition     = contains(["DEBUG", "INFO", "WARN"], var.system_log_level)
    error_message = "system_log_level must be DEBUG, INFO or WARN."
  }
}

variable "log_retention_days" {
  description = "Retention of the function's log group."
  type        = number
  default     = 30

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be one of the values CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, ...)."
  }
}

# Alarms (each one costs money; all off by default)

variable "alarm_topic_arn" {
  description = "SNS topic the alarms notify (on ALARM and on OK). Empty: the alarms only change state."
  type        = string
  default     = ""
}

variable "function_alarms" {
  description = "Alarms on the responder's Throttles and Errors (any in a minute): 2 standard alarms, USD 0.10 a month each beyond the account's 10 free ones."
  type        = bool
  default     = false
}

variable "alb_alarms" {
  description = "Alarms on the ALB's HTTPCode_ELB_502_Count (the bare 502 visitors get; it also counts the application's own failures) and on LambdaUserError of the maintenance target group (any in a minute): 2 standard alarms, USD 0.10 a month each beyond the 10 free ones."
  type        = bool
  default     = false
}

variable "elb_502_alarm_threshold" {
  description = "ALB 502 responses in one minute that raise the ALB alarm."
  type        = number
  default     = 10
}

# Target group

variable "lambda_multi_value_headers_enabled" {
  description = "Target group attribute lambda.multi_value_headers.enabled."
  type        = bool
  default     = false
}

variable "health_check_enabled" {
  description = "Health checks of the Lambda target group (each check is a billed invocation)."
  type        = bool
  default     = true
}

variable "health_check_interval_seconds" {
  description = "Interval of the Lambda target group's health checks."
  type        = number
  default     = 60
}

# Application catch-all (keeps the parked maintenance rule from catching traffic)

variable "app_target_group_arn" {
  description = "Existing target group of the application. The application catch-all rule (path /*, at app_catch_all_priority) and the bypass rules forward to it. Required unless allow_fallthrough = true: without the catch-all, the parked maintenance rule answers every request no other rule matches, instead of the listener's default action."
  type        = string
  default     = ""
}

variable "app_catch_all_priority" {
  description = "Priority of the application catch-all rule: free on the listener, after the application's own rules and before parked_priority (lower number)."
  type        = number
  default     = 49990

  validation {
    condition     = var.app_catch_all_priority >= 1 && var.app_catch_all_priority <= 50000
    error_message = "app_catch_all_priority must be between 1 and 50000."
  }
}

variable "allow_fallthrough" {
  description = "Create the maintenance rule without the application catch-all when app_target_group_arn is empty. The parked rule then catches every request no other rule matches (as maintctl attach --allow-fallthrough). No fallback rule is created then: parked, it would answer those requests (health checks included) with the ALB's bare 503."
  type        = bool
  default     = false
}

# Bypass rules (optional)

variable "bypass_source_cidrs" {
  description = "Up to 5 CIDRs that keep reaching the application during maintenance (matches the connection's source address, not X-Forwarded-For). Empty: no source-ip bypass rule."
  type        = list(string)
  default     = []

  validation {
    condition     = length(var.bypass_source_cidrs) <= 5
    error_message = "A source-ip condition takes at most 5 CIDRs."
  }
}

variable "bypass_source_ip_priority" {
  description = "Parked priority of the source-ip bypass rule."
  type        = number
  default     = 49999
}

variable "bypass_header_name" {
  description = "Name of a secret request header that bypasses maintenance. Empty: no header bypass rule."
  type        = string
  default     = ""
}

variable "bypass_header_value" {
  description = "Value of the bypass header (readable by anyone who can describe the listener rules)."
  type        = string
  default     = ""
  sensitive   = true
}

variable "bypass_header_priority" {
  description = "Parked priority of the header bypass rule."
  type        = number
  default     = 49998
}

variable "bypass_link" {
  description = "Create a cookie bypass rule on every listener, for the bypass link maintctl on prints (it sets the window's token on the rule and in SSM under ssm_prefix). Needs app_target_group_arn."
  type        = bool
  default     = false
}

variable "bypass_link_priority" {
  description = "Parked priority of the cookie bypass rule."
  type        = number
  default     = 49997

  validation {
    condition     = var.bypass_link_priority >= 1 && var.bypass_link_priority <= 50000
    error_message = "bypass_link_priority must be between 1 and 50000."
  }
}

# NLB in front of the ALB (optional)

variable "create_nlb" {
  description = "Create a Network Load Balancer whose target group (type alb) forwards to the ALB."
  type        = bool
  default     = false
}

variable "alb_arn" {
  description = "ARN of the ALB (with create_nlb)."
  type        = string
  default     = ""
}

variable "alb_listener_port" {
  description = "Port of the ALB listener the NLB forwards to and health-checks through."
  type        = number
  default     = 80
}

variable "vpc_id" {
  description = "VPC of the ALB (with create_nlb)."
  type        = string
  default     = ""
}

variable "nlb_subnet_ids" {
  description = "Subnets of the NLB (with create_nlb)."
  type        = list(string)
  default     = []
}

variable "nlb_internal" {
  description = "Make the NLB internal instead of internet-facing."
  type        = bool
  default     = false
}

variable "nlb_deletion_protection" {
  description = "Deletion protection of the NLB (on by default: it carries the site's traffic). Turn it off with an apply before removing the NLB or the module."
  type        = bool
  default     = true
}

variable "nlb_health_check_protocol" {
  description = "Protocol of the NLB health check (HTTP or HTTPS); must match the ALB listener on alb_listener_port."
  type        = string
  default     = "HTTP"

  validation {
    condition     = contains(["HTTP", "HTTPS"], var.nlb_health_check_protocol)
    error_message = "nlb_health_check_protocol must be HTTP or HTTPS."
  }
}

# Operators

variable "create_switching_policy" {
  description = "Create the IAM managed policy for the people who run maintctl status/on/off/message (its JSON is an output either way)."
  type        = bool
  default     = true
}

variable "create_attach_policy" {
  description = "Also create the attach policy (CreateRule on the ALB's listeners, for maintctl attach). Not needed when this module created the rules; its JSON is an output either way."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Extra tags for every resource."
  type        = map(string)
  default     = {}
}

# Automatic switching (issue #15; the function is billed per use, the alarm monthly)

variable "switch_function" {
  description = "Create the maintenance-switch function, which switches on a schedule (maintctl schedule, maintctl on --until) or an alarm with every safety rule of maintctl on/off, under the lease; its role, the schedule group maintenance-<environment> that maintctl schedule writes to, the role EventBridge Scheduler invokes it with, and the dead-letter queue. Off by default: it is one more writer of the listener rules."
  type        = bool
  default     = false
}

variable "switch_package_path" {
  description = "The switch function's package from scripts/package, built for var.architecture: dist/maintenance-switch/bootstrap.zip (x86_64) or dist/maintenance-switch/arm64/bootstrap.zip (arm64) of a checkout. Required with switch_function = true."
  type        = string
  default     = null

  validation {
    condition     = var.switch_package_path == null ? true : endswith(var.switch_package_path, ".zip")
    error_message = "switch_package_path must name the zip scripts/package writes (dist/maintenance-switch/bootstrap.zip or dist/maintenance-switch/arm64/bootstrap.zip)."
  }
}

variable "switch_on_alarm_ok" {
  description = "What the alarm's OK does to a maintenance that alarm switched on: \"off\" switches it off, \"stay\" leaves it on until a person ends it (maintctl off). A maintenance a person or a window switched on is never ended by an alarm."
  type        = string
  default     = "off"

  validation {
    condition     = contains(["off", "stay"], var.switch_on_alarm_ok)
    error_message = "switch_on_alarm_ok must be \"off\" or \"stay\"."
  }
}

variable "dead_letter_alarm" {
  description = "With switch_function: an alarm on the dead-letter queue's depth (any message: a window's start or end, or an alarm's switch, that did not happen), notifying alarm_topic_arn if set. On by default: nothing else says a window failed. One standard alarm, USD 0.10 a month beyond the account's 10 free ones."
  type        = bool
  default     = true
}

variable "auto_fallback" {
  description = "With switch_function, function_alarms or alb_alarms, and app_target_group_arn (the fallback rule exists only behind the application catch-all): the responder's own alarms (throttles, errors, the ALB's 502s and Lambda user errors) also invoke the switch function: during maintenance their ALARM puts the fallback page (the ALB's fixed-response 503) live in the responder's place, their OK puts the responder's page back; they never switch maintenance on or off. Those alarms then keep their state while no data comes (treat_missing_data = \"missing\"): once the fallback answers, the responder gets no traffic."
  type        = bool
  default     = false
}

variable "auto_switch_alarm" {
  description = "With switch_function and app_target_group_arn: an alarm on the application target group's HealthyHostCount whose actions invoke the switch function: ALARM switches maintenance on (reason \"automatic: <alarm>\"), OK switches it off (switch_on_alarm_ok). One standard alarm, USD 0.10 a month beyond the account's 10 free ones."
  type        = bool
  default     = false
}

variable "auto_switch_healthy_hosts_below" {
  description = "The alarm fires when the fewest healthy hosts of the application target group in a period (Minimum) is below this, for auto_switch_evaluation_periods periods in a row."
  type        = number
  default     = 1

  validation {
    condition     = var.auto_switch_healthy_hosts_below >= 1
    error_message = "auto_switch_healthy_hosts_below must be at least 1."
  }
}

variable "auto_switch_period_seconds" {
  description = "The alarm's period (HealthyHostCount is a one-minute metric)."
  type        = number
  default     = 60

  validation {
    condition     = contains([60, 120, 180, 300, 600], var.auto_switch_period_seconds)
    error_message = "auto_switch_period_seconds must be one of 60, 120, 180, 300, 600."
  }
}

variable "auto_switch_evaluation_periods" {
  description = "Periods in a row below the threshold before maintenance goes on (and above it before the alarm is OK again): 3 x 60 s by default, so a single failed health check does not switch."
  type        = number
  default     = 3

  validation {
    condition     = var.auto_switch_evaluation_periods >= 1 && var.auto_switch_evaluation_periods <= 30
    error_message = "auto_switch_evaluation_periods must be between 1 and 30."
  }
}

variable "event_bus_name" {
  description = "The EventBridge bus every switch is announced on (maintctl on/off and the switch function put one event each; docs/events.md): \"default\", the account's default bus, or the name of a bus of yours. maintctl reads it from --event-bus or MAINTCTL_EVENT_BUS."
  type        = string
  default     = "default"
  validation {
    condition     = can(regex("^[A-Za-z0-9._/-]{1,256}$", var.event_bus_name))
    error_message = "event_bus_name is a bus name: letters, digits, . _ / - (up to 256)."
  }
}

variable "notifications" {
  description = "Route the switch events to people: an EventBridge rule on event_bus_name sends every switch of this environment to an SNS topic (notification_topic_arn, or a new one) in the custom-notification format of Amazon Q Developer in chat applications (Slack, Microsoft Teams). Off by default. See docs/events.md."
  type        = bool
  default     = false
}

variable "notification_topic_arn" {
  description = "With notifications: an existing SNS topic to send to (its policy must let events.amazonaws.com publish). Empty: a new topic maintenance-responder-<environment>-notifications, encrypted with alias/aws/sns."
  type        = string
  default     = ""
}

variable "hand_edit_alarm" {
  description = "With notifications: an EventBridge rule on CloudTrail's ELB calls (SetRulePriorities, ModifyRule, CreateRule, DeleteRule, AddTags, RemoveTags) made by a role other than the switch function's and tool_role_names, sent to the same topic: \"someone changed the listener's rules by hand\". Needs a CloudTrail trail with management events. Off by default."
  type        = bool
  default     = false
}

variable "tool_role_names" {
  description = "With hand_edit_alarm: the IAM role names maintctl runs as (your operators' roles); their ELB calls are not reported as hand edits. The switch function's role is always left out."
  type        = list(string)
  default     = []
}

variable "switch_errors_alarm" {
  description = "With switch_function: an alarm on the switch function's Errors (an invocation that failed: Lambda retries it, then it goes to the dead-letter queue), notifying alarm_topic_arn if set. Off by default: one standard alarm, USD 0.10 a month beyond the account's 10 free ones."
  type        = bool
  default     = false
}
