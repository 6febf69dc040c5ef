use crate::support::{Ctx, TestResult};
pub async fn validate_agrees_with_the_server(_ctx: Ctx) -> TestResult {
    Ok(())
}
