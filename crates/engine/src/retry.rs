//! The one retry and back-off policy of the engine ([`Backoff`]): how long to wait before the
//! next attempt (a first delay, doubled each time up to a ceiling, or fixed), and when to stop
//! (after so many attempts, or at a deadline). The throttled `SetRulePriorities`, the tag
//! writes, the lease's wait for another writer and the live-endpoint probe all wait through it.

use std::time::{Duration, Instant};

/// When the next attempt may be made, and whether there is one.
#[derive(Debug, Clone)]
pub struct Backoff {
    next: Duration,
    factor: u32,
    ceiling: Duration,
    floor: Duration,
    attempts_left: Option<u32>,
    deadline: Option<Instant>,
}

impl Backoff {
    /// Waits `first`, then twice as long each time, with no end of its own.
    pub fn doubling(first: Duration) -> Self {
        Self {
            next: first,
            factor: 2,
            ceiling: Duration::MAX,
            floor: Duration::ZERO,
            attempts_left: None,
            deadline: None,
        }
    }

    /// Waits `every` each time, with no end of its own.
    pub fn fixed(every: Duration) -> Self {
        Self {
            factor: 1,
            ..Self::doubling(every)
        }
    }

    /// No wait longer than `ceiling`.
    pub fn at_most(self, ceiling: Duration) -> Self {
        Self { ceiling, ..self }
    }

    /// No wait shorter than `floor`, even just before the deadline.
    pub fn at_least(self, floor: Duration) -> Self {
        Self { floor, ..self }
    }

    /// `attempts` in all, the first included: [`Backoff::wait`] says no after `attempts - 1`
    /// waits.
    pub fn attempts(self, attempts: u32) -> Self {
        Self {
            attempts_left: Some(attempts.saturating_sub(1)),
            ..self
        }
    }

    /// No attempt after `deadline`: the last wait ends there.
    pub fn until(self, deadline: Instant) -> Self {
        Self {
            deadline: Some(deadline),
            ..self
        }
    }

    /// The wait before the next attempt, or `None` when there is none (no attempt left, or the
    /// deadline passed). Counts the attempt.
    pub fn next_delay(&mut self) -> Option<Duration> {
        if let Some(left) = &mut self.attempts_left {
            *left = left.checked_sub(1)?;
        }
        let mut delay = self.next.min(self.ceiling);
        if let Some(deadline) = self.deadline {
            delay = delay.min(deadline.checked_duration_since(Instant::now())?);
        }
        self.next = self.next.saturating_mul(self.factor).min(self.ceiling);
        Some(delay.max(self.floor))
    }

    /// Sleeps until the next attempt may be made; false (at once) when there is none.
    pub async fn wait(&mut self) -> bool {
        match self.next_delay() {
            Some(delay) => {
                tokio::time::sleep(delay).await;
                true
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn doubling_stops_after_its_attempts() {
        let mut b = Backoff::doubling(ms(200)).attempts(3);
        assert_eq!(b.next_delay(), Some(ms(200)));
        assert_eq!(b.next_delay(), Some(ms(400)));
        assert_eq!(b.next_delay(), None);
        assert_eq!(b.next_delay(), None);
    }

    #[test]
    fn the_ceiling_and_the_floor_bound_every_wait() {
        let mut b = Backoff::doubling(ms(400)).at_most(ms(1000));
        let waits: Vec<_> = (0..4).map(|_| b.next_delay().unwrap()).collect();
        assert_eq!(waits, [ms(400), ms(800), ms(1000), ms(1000)]);
        let soon = Instant::now() + ms(5);
        let mut b = Backoff::doubling(ms(100)).at_least(ms(20)).until(soon);
        assert_eq!(b.next_delay(), Some(ms(20)), "the floor, not the 5 ms left");
    }

    #[test]
    fn a_deadline_shortens_the_last_wait_and_then_stops() {
        let mut b = Backoff::fixed(ms(2000)).until(Instant::now() + ms(1500));
        let last = b.next_delay().unwrap();
        assert!(last <= ms(1500) && last > ms(1000), "{last:?}");
        let mut far = Backoff::fixed(ms(2000)).until(Instant::now() + ms(60_000));
        assert_eq!(far.next_delay(), Some(ms(2000)));
        assert_eq!(far.next_delay(), Some(ms(2000)), "fixed: no doubling");
        let mut past = Backoff::fixed(ms(2000)).until(Instant::now() - ms(1));
        assert_eq!(past.next_delay(), None);
    }

    #[tokio::test]
    async fn wait_sleeps_then_says_no() {
        let started = Instant::now();
        let mut b = Backoff::doubling(ms(30)).attempts(2);
        assert!(b.wait().await);
        assert!(started.elapsed() >= ms(30));
        assert!(!b.wait().await);
    }
}
