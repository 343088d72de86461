//! A per-address brake on failed sign-ins, beside the per-account lockout: the lockout stops
//! guessing one account's password, this stops one client trying many names (whose failures no
//! account counts). In memory, per process: a client spreading its guesses over several
//! processes gets each one's allowance, which still bounds it.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failed sign-ins one address may make per window.
pub const FAILURES_PER_ADDRESS: u32 = 20;
pub const WINDOW: Duration = Duration::from_secs(10 * 60);
/// Addresses remembered before old windows are forgotten.
const MAX_ADDRESSES: usize = 10_000;

#[derive(Default)]
pub struct SignInThrottle {
    failures: Mutex<HashMap<IpAddr, (Instant, u32)>>,
}

impl SignInThrottle {
    /// How long `addr` must wait before trying again, if it has used up its allowance.
    pub fn wait(&self, addr: IpAddr) -> Option<Duration> {
        let now = Instant::now();
        let failures = self.failures.lock().ok()?;
        let (started, count) = failures.get(&addr)?;
        let elapsed = now.duration_since(*started);
        (elapsed < WINDOW && *count >= FAILURES_PER_ADDRESS).then(|| WINDOW - elapsed)
    }

    /// Counts a failed sign-in from `addr`.
    pub fn failed(&self, addr: IpAddr) {
        let now = Instant::now();
        let Ok(mut failures) = self.failures.lock() else {
            return;
        };
        if failures.len() >= MAX_ADDRESSES {
            failures.retain(|_, (started, _)| now.duration_since(*started) < WINDOW);
        }
        let entry = failures.entry(addr).or_insert((now, 0));
        if now.duration_since(entry.0) >= WINDOW {
            *entry = (now, 0);
        }
        entry.1 += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_braked_after_its_allowance_and_others_are_not() {
        let throttle = SignInThrottle::default();
        let addr: IpAddr = "192.0.2.7".parse().unwrap();
        for _ in 0..FAILURES_PER_ADDRESS - 1 {
            throttle.failed(addr);
        }
        assert!(throttle.wait(addr).is_none());
        throttle.failed(addr);
        assert!(throttle.wait(addr).is_some_and(|d| d <= WINDOW));
        assert!(throttle.wait("192.0.2.8".parse().unwrap()).is_none());
    }
}
