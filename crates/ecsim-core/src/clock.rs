//! Simulated time: every timestamp ecsim publishes comes from a [`Clock`].
//!
//! A clock maps the runtime's monotonic time onto the wall clock: `now = epoch + elapsed × speed`.
//! The same code serves both of ecsim's modes:
//!
//! - **virtual time** (`speed = 0` in a scenario): the tokio runtime is created with its clock
//!   paused (`start_paused`), so time only moves when every task is waiting on a timer, and then
//!   jumps straight to the next one. A 10-minute run takes microseconds, and because a paused
//!   current-thread runtime schedules deterministically, the same inputs give the same
//!   timestamps, byte for byte. The clock's speed is 1: virtual seconds are simulated seconds.
//! - **real time** (`speed = 1`) or faster/slower than real time (`speed = 10`, `0.5`): the
//!   runtime's clock runs; sleeps are shortened by the speed factor and timestamps stretched by
//!   it, so a 10-minute run at speed 10 takes one minute and still reports 10 minutes.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// An instant on the wall clock, in nanoseconds since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

impl Timestamp {
    /// The instant `nanos` nanoseconds after the Unix epoch.
    pub const fn from_unix_nanos(nanos: i64) -> Self {
        Self(nanos)
    }

    /// The instant `millis` milliseconds after the Unix epoch.
    pub const fn from_unix_millis(millis: i64) -> Self {
        Self(millis.saturating_mul(1_000_000))
    }

    /// Nanoseconds since the Unix epoch (`events.Event.timestampNano`).
    pub const fn unix_nanos(self) -> i64 {
        self.0
    }

    /// Whole milliseconds since the Unix epoch (`events.Event.timestamp`, `*_time_ms` vars).
    pub const fn unix_millis(self) -> i64 {
        self.0.div_euclid(1_000_000)
    }

    /// The current wall-clock time of this machine.
    pub fn system_now() -> Self {
        let since_epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        Self(i64::try_from(since_epoch.as_nanos()).unwrap_or(i64::MAX))
    }

    fn saturating_add(self, duration: Duration) -> Self {
        Self(
            self.0
                .saturating_add(i64::try_from(duration.as_nanos()).unwrap_or(i64::MAX)),
        )
    }
}

/// The simulation's clock. Cheap to clone; all clones tell the same time.
#[derive(Debug, Clone)]
pub struct Clock {
    epoch: Timestamp,
    start: tokio::time::Instant,
    speed: f64,
    virtual_time: bool,
}

impl Clock {
    /// A clock for virtual time, starting at `epoch`. Use it on a runtime whose clock is paused
    /// (`tokio::runtime::Builder::start_paused(true)` or `#[tokio::test(start_paused = true)]`).
    pub fn virtual_time(epoch: Timestamp) -> Self {
        Self {
            epoch,
            start: tokio::time::Instant::now(),
            speed: 1.0,
            virtual_time: true,
        }
    }

    /// A clock that runs `speed` times as fast as the wall clock (1.0 is real time), starting
    /// at `epoch`. A speed that is not a positive finite number is taken as 1.0.
    pub fn scaled(epoch: Timestamp, speed: f64) -> Self {
        let speed = if speed.is_finite() && speed > 0.0 {
            speed
        } else {
            1.0
        };
        Self {
            epoch,
            start: tokio::time::Instant::now(),
            speed,
            virtual_time: false,
        }
    }

    /// The current simulated instant.
    pub fn now(&self) -> Timestamp {
        let elapsed = self.start.elapsed();
        let simulated = if self.speed == 1.0 {
            elapsed
        } else {
            elapsed.mul_f64(self.speed)
        };
        self.epoch.saturating_add(simulated)
    }

    /// How long `simulated` lasts on the runtime's clock.
    pub fn runtime_duration(&self, simulated: Duration) -> Duration {
        if self.speed == 1.0 {
            simulated
        } else {
            simulated.div_f64(self.speed)
        }
    }

    /// Waits until `simulated` has passed on this clock.
    pub async fn sleep(&self, simulated: Duration) {
        if !simulated.is_zero() {
            tokio::time::sleep(self.runtime_duration(simulated)).await;
        }
    }

    /// The speed factor (1.0 for virtual and real time).
    pub fn speed(&self) -> f64 {
        self.speed
    }

    /// Whether this clock runs in virtual time: time moves only when every task waits, so
    /// anything that takes wall-clock time without waiting on this clock takes no simulated
    /// time at all.
    pub fn is_virtual(&self) -> bool {
        self.virtual_time
    }

    /// Waits until the simulated instant `until` (at once if it has passed).
    pub async fn sleep_until(&self, until: Timestamp) {
        let remaining = until.unix_nanos().saturating_sub(self.now().unix_nanos());
        if remaining > 0 {
            self.sleep(Duration::from_nanos(
                u64::try_from(remaining).unwrap_or(u64::MAX),
            ))
            .await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EPOCH: Timestamp = Timestamp::from_unix_millis(1_750_000_000_000);

    #[tokio::test(start_paused = true)]
    async fn virtual_time_moves_only_by_sleeping_and_exactly_by_the_sleep() {
        let clock = Clock::virtual_time(EPOCH);
        assert_eq!(clock.now(), EPOCH);
        clock.sleep(Duration::from_secs(600)).await;
        assert_eq!(clock.now().unix_millis(), EPOCH.unix_millis() + 600_000);
        let other = clock.clone();
        assert_eq!(other.now(), clock.now(), "clones tell the same time");
    }

    #[tokio::test(start_paused = true)]
    async fn a_faster_clock_reports_more_time_than_the_runtime_spent() {
        let clock = Clock::scaled(EPOCH, 10.0);
        let before = tokio::time::Instant::now();
        clock.sleep(Duration::from_secs(60)).await;
        assert_eq!(before.elapsed(), Duration::from_secs(6));
        assert_eq!(clock.now().unix_millis(), EPOCH.unix_millis() + 60_000);
    }

    #[test]
    fn a_nonsensical_speed_falls_back_to_real_time() {
        for speed in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            assert_eq!(Clock::scaled(EPOCH, speed).speed(), 1.0);
        }
    }

    #[test]
    fn milliseconds_round_towards_the_past() {
        assert_eq!(Timestamp::from_unix_nanos(1_999_999).unix_millis(), 1);
        assert_eq!(Timestamp::from_unix_nanos(-1).unix_millis(), -1);
    }
}
