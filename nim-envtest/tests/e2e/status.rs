use crate::support::{Ctx, TestResult};
pub async fn status_subresource(_ctx: Ctx) -> TestResult {
    Ok(())
}
