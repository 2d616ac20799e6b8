//! The one place a driver turns the runtime's clock into the machines' [`Timestamp`]s and
//! their deadlines back into something to sleep until. The machines never read a clock.

use crate::machine::time::Timestamp;
use tokio::time::Instant;

/// A driver's clock: its epoch is when the driver started, so machine time is "since then".
/// Built on tokio's clock, so a runtime with paused time moves it too.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    epoch: Instant,
}

impl Clock {
    /// A clock whose epoch is now.
    pub fn start() -> Self {
        Clock {
            epoch: Instant::now(),
        }
    }

    /// Now, as the machines see it.
    pub fn now(&self) -> Timestamp {
        Timestamp::after_epoch(self.epoch.elapsed())
    }

    /// The runtime instant of a machine deadline (`None` stays `None`: nothing to wake for).
    pub fn instant(&self, at: Option<Timestamp>) -> Option<Instant> {
        at.map(|at| self.epoch + at.since_epoch())
    }
}

/// Sleeps until `at`, or forever when there is no `at` (a `select!` arm that never fires).
pub async fn sleep_until_or_never(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn machine_time_follows_the_runtime_clock() {
        let clock = Clock::start();
        tokio::time::sleep(Duration::from_millis(30)).await;
        assert!(clock.now().since_epoch() >= Duration::from_millis(30));
        let deadline = clock.now() + Duration::from_millis(40);
        let at = clock.instant(Some(deadline)).unwrap();
        sleep_until_or_never(Some(at)).await;
        assert!(clock.now() >= deadline);
        assert_eq!(clock.instant(None), None);
    }
}
