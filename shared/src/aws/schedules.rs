//! A tracked job's checks as EventBridge Scheduler one-time schedules (feature `ledger`): each invokes
//! the reconciler once, at its time, with the job's name, and then deletes itself. Nothing runs while a
//! job is waited for, and a job that ends on time costs one invocation that finds it closed.

use aws_sdk_scheduler::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_scheduler::primitives::{DateTime, DateTimeFormat};
use aws_sdk_scheduler::types::{ActionAfterCompletion, FlexibleTimeWindow, FlexibleTimeWindowMode, Target};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// What a check's schedule hands the reconciler.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckRequest {
    /// The job to check.
    pub job: String,
}

/// A schedule could not be made.
#[derive(Debug, thiserror::Error)]
#[error("scheduling the check of {job} failed: {detail}")]
pub struct ScheduleError {
    /// The job.
    pub job: String,
    /// What EventBridge Scheduler said.
    pub detail: String,
}

/// Where the checks are scheduled, and what they invoke.
#[derive(Debug, Clone)]
pub struct Schedules {
    client: aws_sdk_scheduler::Client,
    group: String,
    target_arn: String,
    role_arn: String,
}

impl Schedules {
    /// Schedules in `group` invoking `target_arn` (the reconciler) as `role_arn`.
    pub fn new(
        client: aws_sdk_scheduler::Client,
        group: impl Into<String>,
        target_arn: impl Into<String>,
        role_arn: impl Into<String>,
    ) -> Self {
        Self { client, group: group.into(), target_arn: target_arn.into(), role_arn: role_arn.into() }
    }

    /// The group's name.
    pub fn group(&self) -> &str {
        &self.group
    }

    /// The name of `job`'s check number `check`: Scheduler's names allow 64 letters, digits, `-`, `_`
    /// and `.`, so the job's name is hashed.
    pub fn name(job: &str, check: u32) -> String {
        format!("job-{}-{check}", &hex::encode(Sha256::digest(job))[..40])
    }

    /// Schedules `job`'s check number `check` for `at_ms` (to the next whole second). Making one that
    /// exists already is not an error: a retried call schedules nothing twice.
    pub async fn check_at(&self, job: &str, check: u32, at_ms: i64) -> Result<(), ScheduleError> {
        let failed = |detail: String| ScheduleError { job: job.to_owned(), detail };
        let input = serde_json::to_string(&CheckRequest { job: job.to_owned() })
            .map_err(|e| failed(e.to_string()))?;
        let target = Target::builder()
            .arn(&self.target_arn)
            .role_arn(&self.role_arn)
            .input(input)
            .build()
            .map_err(|e| failed(e.to_string()))?;
        let window = FlexibleTimeWindow::builder()
            .mode(FlexibleTimeWindowMode::Off)
            .build()
            .map_err(|e| failed(e.to_string()))?;
        let result = self
            .client
            .create_schedule()
            .name(Self::name(job, check))
            .group_name(&self.group)
            .schedule_expression(at_expression(at_ms))
            .schedule_expression_timezone("UTC")
            .flexible_time_window(window)
            .action_after_completion(ActionAfterCompletion::Delete)
            .target(target)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(error) if error.code() == Some("ConflictException") => Ok(()),
            Err(error) => Err(failed(DisplayErrorContext(&error).to_string())),
        }
    }
}

/// `at(yyyy-mm-ddThh:mm:ss)`, UTC, of Unix milliseconds rounded up to the second: never early.
pub fn at_expression(at_ms: i64) -> String {
    let secs = at_ms.div_euclid(1000) + i64::from(at_ms.rem_euclid(1000) > 0);
    let text = DateTime::from_secs(secs).fmt(DateTimeFormat::DateTime).unwrap_or_default();
    format!("at({})", text.trim_end_matches('Z'))
}

/// The time of an `at(...)` expression, Unix milliseconds (for a local stand-in for Scheduler).
pub fn at_time(expression: &str) -> Option<i64> {
    let inner = expression.strip_prefix("at(")?.strip_suffix(')')?;
    let parsed = DateTime::from_str(&format!("{inner}Z"), DateTimeFormat::DateTime).ok()?;
    parsed.to_millis().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_check_is_never_early_and_its_time_reads_back() {
        assert_eq!(at_expression(1_769_083_200_000), "at(2026-01-22T12:00:00)");
        assert_eq!(at_expression(1_769_083_200_001), "at(2026-01-22T12:00:01)");
        assert_eq!(at_time("at(2026-01-22T12:00:01)"), Some(1_769_083_201_000));
        assert_eq!(at_time("rate(1 minute)"), None);
    }

    #[test]
    fn names_fit_scheduler_and_differ_by_job_and_check() {
        let name = Schedules::name("models/veo-3.0/operations/abc", 12);
        assert!(name.len() <= 64 && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)));
        assert_ne!(Schedules::name("batches/a", 0), Schedules::name("batches/a", 1));
        assert_ne!(Schedules::name("batches/a", 0), Schedules::name("batches/b", 0));
    }
}
