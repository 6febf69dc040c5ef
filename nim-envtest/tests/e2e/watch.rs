use crate::support::{Ctx, TestResult};
pub async fn watcher_sees_events_in_order(_ctx: Ctx) -> TestResult {
    Ok(())
}
