//! Helpers shared by the integration tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use cairn_backends::{Backend, MemoryBackend};
use cairn_erasure::{Child, ErasureBackend, ErasureConfig, HealthConfig, RetryConfig};

/// `n` empty memory stores.
pub(crate) fn stores(n: usize) -> Vec<MemoryBackend> {
    (0..n).map(|_| MemoryBackend::new()).collect()
}

/// Children named `c0`.. over the given backends.
pub(crate) fn children(backends: Vec<Arc<dyn Backend>>) -> Vec<Child> {
    backends
        .into_iter()
        .enumerate()
        .map(|(i, b)| Child::new(format!("c{i}"), b))
        .collect()
}

/// Children over clones of memory stores (clones share their maps).
pub(crate) fn mem_children(stores: &[MemoryBackend]) -> Vec<Child> {
    children(
        stores
            .iter()
            .map(|s| Arc::new(s.clone()) as Arc<dyn Backend>)
            .collect(),
    )
}

/// A test configuration: quick retries, breaker after 3 failures, no
/// cool-down (so the next call after opening is a probe).
pub(crate) fn config(k: usize, m: usize) -> ErasureConfig {
    let mut retry = RetryConfig::default();
    retry.initial_backoff = Duration::from_millis(1);
    retry.max_backoff = Duration::from_millis(2);
    let mut health = HealthConfig::default();
    health.failure_threshold = 3;
    health.cool_down = Duration::ZERO;
    ErasureConfig::new(k, m).retry(retry).health(health)
}

/// A 4+2 erasure backend over six memory stores, with the stores.
pub(crate) fn mem_4_2() -> (ErasureBackend, Vec<MemoryBackend>) {
    let s = stores(6);
    let e = ErasureBackend::new(mem_children(&s), config(4, 2)).unwrap();
    (e, s)
}
