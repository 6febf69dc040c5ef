//! The README's `nim-engine` example, kept compiling and true.

use nim_engine::{CacheConfig, Scheduler, SchedulerConfig};

#[test]
fn readme_example() -> Result<(), nim_engine::Error> {
    let mut scheduler = Scheduler::new(SchedulerConfig::default(), CacheConfig::new(2048))?;
    scheduler.add_request(1, (0..3000).collect(), 128)?;
    let step = scheduler.schedule()?;
    // The first step prefills a chunk of the prompt within the per-step token budget.
    assert_eq!(step.scheduled.len(), 1);
    assert!(step.scheduled[0].is_prefill);
    assert!(step.num_batched_tokens <= SchedulerConfig::default().max_num_batched_tokens);
    let metrics = scheduler.render_prometheus()?;
    assert!(metrics.contains("num_requests_running"), "{metrics}");
    assert!(metrics.contains("gpu_cache_usage_perc"), "{metrics}");
    Ok(())
}
