terraform {
  required_version = ">= 1.5.0"

  required_providers {
    # 5.32: the first release with logging_config on aws_lambda_function (advanced logging
    # controls: JSON format, application and system log levels).
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.32"
    }
  }
}
