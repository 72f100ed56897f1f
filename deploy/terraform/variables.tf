# Placement

variable "environment" {
  description = "Environment name: tag maintenance-responder:environment (maintctl --environment finds the rules by it); also names the function and the target group."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9]([a-z0-9-]{0,18}[a-z0-9])?$", var.environment))
    error_message = "environment: 1-20 lower-case letters, digits and inner hyphens."
  }
}

variable "listener_arn" {
  description = "ARN of the existing ALB listener that gets the maintenance rule."
  type        = string
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

# Function

variable "lambda_zip_path" {
  description = "The package written by scripts/package (default: dist/bootstrap.zip of this repository)."
  type        = string
  default     = null
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

variable "memory_size" {
  description = "Lambda memory in MB."
  type        = number
  default     = 128
}

variable "log_retention_days" {
  description = "Retention of the function's log group."
  type        = number
  default     = 30
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
  description = "Create the maintenance rule without the application catch-all when app_target_group_arn is empty. The parked rule then catches every request no other rule matches (as maintctl attach --allow-fallthrough)."
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

variable "create_operator_policy" {
  description = "Create the IAM managed policy for the people who run maintctl (its JSON is an output either way)."
  type        = bool
  default     = true
}

variable "tags" {
  description = "Extra tags for every resource."
  type        = map(string)
  default     = {}
}
