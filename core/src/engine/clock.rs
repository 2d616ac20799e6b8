//! The one place a driver turns the runtime's clock into the machines' [`Timestamp`]s and
//! their deadlines back into something to sleep until. The machines never read a clock.

use crate::machine::time::Timestamp;
use std::pin::Pin;
use tokio::time::{Instant, Sleep};

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

/// A driver's one timer for its machine: a single [`Sleep`] re-armed only when the machine's
/// deadline moves. (A sleep built per loop turn registers a timer per data frame.)
pub struct MachineTimer {
    sleep: Pin<Box<Sleep>>,
    armed: Option<Instant>,
}

impl MachineTimer {
    /// A timer with nothing to wake for.
    pub fn new() -> Self {
        MachineTimer {
            sleep: Box::pin(tokio::time::sleep_until(Instant::now())),
            armed: None,
        }
    }

    /// Wakes at `at` from now on (`None`: never).
    pub fn arm(&mut self, at: Option<Instant>) {
        if at == self.armed {
            return;
        }
        if let Some(at) = at {
            self.sleep.as_mut().reset(at);
        }
        self.armed = at;
    }

    /// Completes when the armed deadline has come; never while nothing is armed. Disarms,
    /// so the next [`MachineTimer::arm`] sets the machine's next deadline afresh.
    pub async fn fired(&mut self) {
        if self.armed.is_none() {
            return std::future::pending().await;
        }
        self.sleep.as_mut().await;
        self.armed = None;
    }
}

impl Default for MachineTimer {
    fn default() -> Self {
        Self::new()
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

    #[tokio::test]
    async fn the_timer_fires_at_the_armed_deadline_and_follows_it_when_it_moves() {
        let mut timer = MachineTimer::new();
        let start = Instant::now();
        timer.arm(Some(start + Duration::from_secs(10)));
        timer.arm(Some(start + Duration::from_millis(30)));
        tokio::time::timeout(Duration::from_secs(5), timer.fired())
            .await
            .expect("fired at the moved deadline, not the first");
        assert!(Instant::now() - start >= Duration::from_millis(30));
        timer.arm(None);
        let never = tokio::time::timeout(Duration::from_millis(100), timer.fired()).await;
        assert!(never.is_err(), "fired with nothing armed");
    }
}
