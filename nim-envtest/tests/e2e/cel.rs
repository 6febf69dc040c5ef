use crate::support::{Ctx, TestResult};
pub async fn each_rule_rejects_with_its_message(_ctx: Ctx) -> TestResult {
    Ok(())
}
pub async fn transition_rules_reject_updates(_ctx: Ctx) -> TestResult {
    Ok(())
}
