//! Where a job's follow-up is stored in the results bucket: one key per job and kind, made from the
//! job's id, so a redelivered event writes the same object again and the CLI can say, when it starts a
//! job, where its result will land.

/// A batch's results file.
pub const BATCH_RESULTS: &str = "results.jsonl";
/// A video.
pub const VIDEO: &str = "video.mp4";
/// An interaction, whole.
pub const INTERACTION: &str = "interaction.json";
/// The record of a job that failed, expired or was cancelled.
pub const FAILURE: &str = "failure.json";
/// The note left in place of a result larger than the example consumer stores.
pub const TOO_LARGE: &str = "too_large.json";

/// `{job}/{name}`, the job id made safe for a key; an interaction's bare id gets `interactions/`.
pub fn key(job: &str, name: &str) -> String {
    let safe: String =
        job.chars().map(|c| if c.is_ascii_alphanumeric() || "/_.-".contains(c) { c } else { '_' }).collect();
    let safe = safe.trim_matches('/');
    if safe.contains('/') { format!("{safe}/{name}") } else { format!("interactions/{safe}/{name}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_follow_the_job_id_and_stay_safe() {
        assert_eq!(key("batches/abc123", BATCH_RESULTS), "batches/abc123/results.jsonl");
        assert_eq!(key("v1_xyz", INTERACTION), "interactions/v1_xyz/interaction.json");
        assert_eq!(key("models/veo-3.0/operations/op1", VIDEO), "models/veo-3.0/operations/op1/video.mp4");
        assert_eq!(key("batches/a b?c", FAILURE), "batches/a_b_c/failure.json");
    }
}
