//! [`Scheduler`]: the EventBridge Scheduler operations `maintctl` uses
//! (`maintenance_engine::schedules::Schedules`), over the SDK client. The only file that knows
//! the Scheduler SDK: schedules are converted here into
//! `maintenance_engine::planner::window::Schedule`.
//!
//! `UpdateSchedule` replaces a schedule whole (a field left out takes its default, and
//! `ActionAfterCompletion`'s is `NONE`), so create and update send the same complete request,
//! built by one function.

use aws_sdk_scheduler as scheduler;
use scheduler::error::{ProvideErrorMetadata, SdkError};
use scheduler::types::{
    ActionAfterCompletion, DeadLetterConfig, FlexibleTimeWindow, FlexibleTimeWindowMode,
    RetryPolicy, ScheduleState, Target,
};

use maintenance_engine::planner::window::Schedule;
use maintenance_engine::schedules::{ScheduleGroup, Schedules, SchedulesError};

/// The real thing: the EventBridge Scheduler SDK client.
#[derive(Debug, Clone)]
pub struct Scheduler {
    client: scheduler::Client,
}

impl Scheduler {
    /// A client from one SDK configuration.
    pub fn new(config: &aws_config::SdkConfig) -> Self {
        Self {
            client: scheduler::Client::new(config),
        }
    }
}

fn failed<E: ProvideErrorMetadata + std::error::Error + 'static, R: std::fmt::Debug>(
    operation: &'static str,
    resource: &str,
    e: SdkError<E, R>,
) -> SchedulesError {
    let code = e.code().map(str::to_string);
    let message = match (e.code(), e.message()) {
        (Some(code), Some(m)) => format!("{code}: {m}"),
        (Some(code), None) => code.to_string(),
        _ => maintenance_core::causes::chain(&e),
    };
    SchedulesError {
        operation,
        resource: resource.to_string(),
        code,
        message,
    }
}

fn not_found(code: Option<&str>) -> bool {
    matches!(code, Some("ResourceNotFoundException" | "ResourceNotFound"))
}

/// The target of a schedule, in the SDK's types.
fn target(s: &Schedule) -> Result<Target, SchedulesError> {
    let invalid = |e: scheduler::error::BuildError| SchedulesError {
        operation: "CreateSchedule",
        resource: s.name.clone(),
        code: None,
        message: e.to_string(),
    };
    let retry = RetryPolicy::builder()
        .set_maximum_event_age_in_seconds(s.retry_max_event_age_seconds)
        .set_maximum_retry_attempts(s.retry_max_attempts)
        .build();
    Target::builder()
        .arn(&s.target)
        .role_arn(&s.role)
        .input(&s.input)
        .retry_policy(retry)
        .set_dead_letter_config(
            s.dead_letter
                .as_ref()
                .map(|arn| DeadLetterConfig::builder().arn(arn).build()),
        )
        .build()
        .map_err(invalid)
}

fn window(s: &Schedule) -> Result<FlexibleTimeWindow, SchedulesError> {
    FlexibleTimeWindow::builder()
        .mode(FlexibleTimeWindowMode::from(s.flexible_window.as_str()))
        .build()
        .map_err(|e| SchedulesError {
            operation: "CreateSchedule",
            resource: s.name.clone(),
            code: None,
            message: e.to_string(),
        })
}

/// Every field a create and an update send, on either builder.
macro_rules! complete {
    ($builder:expr, $s:expr) => {
        $builder
            .name(&$s.name)
            .group_name(&$s.group)
            .description(&$s.description)
            .schedule_expression(&$s.expression)
            .schedule_expression_timezone(&$s.timezone)
            .flexible_time_window(window($s)?)
            .action_after_completion(ActionAfterCompletion::from(
                $s.action_after_completion.as_str(),
            ))
            .state(ScheduleState::from($s.state.as_str()))
            .target(target($s)?)
    };
}

impl Schedules for Scheduler {
    async fn group(&self, name: &str) -> Result<Option<ScheduleGroup>, SchedulesError> {
        let out = match self.client.get_schedule_group().name(name).send().await {
            Ok(out) => out,
            Err(e) if not_found(e.code()) => return Ok(None),
            Err(e) => return Err(failed("GetScheduleGroup", name, e)),
        };
        let arn = out.arn().unwrap_or_default().to_string();
        let tags = self
            .client
            .list_tags_for_resource()
            .resource_arn(&arn)
            .send()
            .await
            .map_err(|e| failed("ListTagsForResource", &arn, e))?;
        let tags = tags
            .tags()
            .iter()
            .map(|t| (t.key().to_string(), t.value().to_string()))
            .collect();
        Ok(Some(ScheduleGroup { arn, tags }))
    }

    async fn names(&self, group: &str) -> Result<Vec<String>, SchedulesError> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = self
                .client
                .list_schedules()
                .group_name(group)
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| failed("ListSchedules", group, e))?;
            out.extend(
                page.schedules()
                    .iter()
                    .filter_map(|s| s.name().map(str::to_string)),
            );
            match page.next_token() {
                Some(t) if !t.is_empty() => token = Some(t.to_string()),
                _ => return Ok(out),
            }
        }
    }

    async fn get(&self, group: &str, name: &str) -> Result<Option<Schedule>, SchedulesError> {
        let out = match self
            .client
            .get_schedule()
            .group_name(group)
            .name(name)
            .send()
            .await
        {
            Ok(out) => out,
            Err(e) if not_found(e.code()) => return Ok(None),
            Err(e) => return Err(failed("GetSchedule", &format!("{group}/{name}"), e)),
        };
        let t = out.target();
        let retry = t.and_then(|t| t.retry_policy());
        Ok(Some(Schedule {
            group: out.group_name().unwrap_or(group).to_string(),
            name: out.name().unwrap_or(name).to_string(),
            description: out.description().unwrap_or_default().to_string(),
            expression: out.schedule_expression().unwrap_or_default().to_string(),
            timezone: out
                .schedule_expression_timezone()
                .unwrap_or("UTC")
                .to_string(),
            flexible_window: out
                .flexible_time_window()
                .map(|w| w.mode().as_str().to_string())
                .unwrap_or_default(),
            action_after_completion: out
                .action_after_completion()
                .map(|a| a.as_str().to_string())
                .unwrap_or_default(),
            state: out
                .state()
                .map(|s| s.as_str().to_string())
                .unwrap_or_default(),
            target: t.map(|t| t.arn().to_string()).unwrap_or_default(),
            role: t.map(|t| t.role_arn().to_string()).unwrap_or_default(),
            input: t.and_then(|t| t.input()).unwrap_or_default().to_string(),
            retry_max_event_age_seconds: retry.and_then(|r| r.maximum_event_age_in_seconds()),
            retry_max_attempts: retry.and_then(|r| r.maximum_retry_attempts()),
            dead_letter: t
                .and_then(|t| t.dead_letter_config())
                .and_then(|d| d.arn())
                .map(str::to_string),
        }))
    }

    async fn create(&self, s: &Schedule) -> Result<(), SchedulesError> {
        complete!(self.client.create_schedule(), s)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| failed("CreateSchedule", &format!("{}/{}", s.group, s.name), e))
    }

    async fn update(&self, s: &Schedule) -> Result<(), SchedulesError> {
        complete!(self.client.update_schedule(), s)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| failed("UpdateSchedule", &format!("{}/{}", s.group, s.name), e))
    }

    async fn delete(&self, group: &str, name: &str) -> Result<bool, SchedulesError> {
        match self
            .client
            .delete_schedule()
            .group_name(group)
            .name(name)
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if not_found(e.code()) => Ok(false),
            Err(e) => Err(failed("DeleteSchedule", &format!("{group}/{name}"), e)),
        }
    }
}
