use crate::support::{Ctx, TestResult};
pub async fn round_trip_with_server_defaults(_ctx: Ctx) -> TestResult {
    Ok(())
}
pub async fn unknown_fields_are_rejected(_ctx: Ctx) -> TestResult {
    Ok(())
}
