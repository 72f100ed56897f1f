//! The short names of the load balancer's resources in messages: a listener's and a target
//! group's ARN without their `arn:…:` prefix.

/// A listener ARN without the `arn:…:listener/` prefix: `app/NAME/LB_ID/LISTENER_ID`.
pub fn short_listener(arn: &str) -> &str {
    arn.split_once(":listener/").map_or(arn, |(_, rest)| rest)
}

/// A target group ARN without the `arn:…:targetgroup/` prefix: `NAME/ID`.
pub fn short_target_group(arn: &str) -> &str {
    arn.split_once(":targetgroup/")
        .map_or(arn, |(_, rest)| rest)
}
