//! AliECS's identifiers: Sonyflake ids written in base58, made from a seed.
//!
//! AliECS names environments (and tasks) with `uid.New()` (reference §6): a Sonyflake id — 39 bits
//! of time in 10 ms units since 2009-11-10 23:00:00 UTC, an 8-bit sequence number within one
//! tick, a 16-bit machine id — encoded in base58 with the Bitcoin alphabet, which gives 11
//! characters today (`2oDvieFrVTi`). ecsim builds them the same way from the simulated clock, with
//! a machine id drawn from the scenario's seed, so that ids look and sort like AliECS's and the
//! same seed gives the same ids.

use crate::clock::Timestamp;

/// Unix time of the Sonyflake epoch, 2009-11-10 23:00:00 UTC, in milliseconds.
const SONYFLAKE_EPOCH_MS: i64 = 1_257_894_000_000;
/// Sonyflake's time unit, in milliseconds.
const TICK_MS: i64 = 10;
const ALPHABET: &[u8; 58] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

/// Writes `value` in base58 (Bitcoin alphabet), most significant digit first, as
/// `osamingo/base58` does for a number.
pub(crate) fn encode_base58(mut value: u64) -> String {
    if value == 0 {
        return (ALPHABET[0] as char).to_string();
    }
    let mut digits = Vec::with_capacity(11);
    while value > 0 {
        digits.push(ALPHABET[(value % 58) as usize]);
        value /= 58;
    }
    digits.iter().rev().map(|&digit| digit as char).collect()
}

#[cfg(test)]
/// Reads a base58 number; `None` if a character is outside the alphabet or it overflows.
pub(crate) fn decode_base58(text: &str) -> Option<u64> {
    text.bytes().try_fold(0_u64, |value, byte| {
        let digit = ALPHABET.iter().position(|&a| a == byte)?;
        value.checked_mul(58)?.checked_add(digit as u64)
    })
}

/// Makes Sonyflake ids from simulated time, as AliECS's `uid.New()` does from real time.
#[derive(Debug, Clone)]
pub(crate) struct UidGenerator {
    machine_id: u16,
    last_tick: i64,
    sequence: u16,
}

impl UidGenerator {
    /// A generator with the given 16-bit machine id.
    pub(crate) fn new(machine_id: u16) -> Self {
        Self {
            machine_id,
            last_tick: i64::MIN,
            sequence: 0,
        }
    }

    /// The next id at simulated time `now`. Ids are strictly increasing: within one 10 ms tick
    /// the sequence number counts up, and past 256 ids in a tick the id borrows the next tick,
    /// as Sonyflake does by waiting for it.
    pub(crate) fn next_id(&mut self, now: Timestamp) -> String {
        let tick = ((now.unix_millis() - SONYFLAKE_EPOCH_MS) / TICK_MS).max(0);
        if tick > self.last_tick {
            self.last_tick = tick;
            self.sequence = 0;
        } else {
            self.sequence += 1;
            if self.sequence > 0xff {
                self.last_tick += 1;
                self.sequence = 0;
            }
        }
        let time_bits = (self.last_tick as u64) & ((1 << 39) - 1);
        let id = (time_bits << 24) | (u64::from(self.sequence) << 16) | u64::from(self.machine_id);
        encode_base58(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The id from AliECS's tests (reference §6) decodes to a Sonyflake of 2024-06-25 10:49:13.79
    /// UTC, sequence 0, machine 5989; encoding those parts gives it back.
    #[test]
    fn reproduces_an_aliecs_id() {
        let mut generator = UidGenerator::new(5989);
        let at = Timestamp::from_unix_millis(SONYFLAKE_EPOCH_MS + 46_141_855_379 * TICK_MS);
        assert_eq!(generator.next_id(at), "2oDvieFrVTi");
        assert_eq!(decode_base58("2oDvieFrVTi"), Some(0x0abe_44d6_9300_1765));
    }

    #[test]
    fn ids_are_eleven_characters_and_strictly_increasing_within_a_tick() {
        let mut generator = UidGenerator::new(42);
        let now = Timestamp::from_unix_millis(1_750_000_000_000);
        let ids: Vec<u64> = (0..600)
            .map(|_| decode_base58(&generator.next_id(now)).unwrap())
            .collect();
        assert!(ids.windows(2).all(|pair| pair[0] < pair[1]));
        assert_eq!(generator.next_id(now).len(), 11);
    }

    #[test]
    fn base58_round_trips_and_rejects_foreign_characters() {
        for value in [0, 1, 57, 58, u64::MAX, 0x0abe_44d6_9300_1765] {
            assert_eq!(decode_base58(&encode_base58(value)), Some(value));
        }
        assert_eq!(
            decode_base58("0OIl"),
            None,
            "0, O, I and l are not in the alphabet"
        );
        assert_eq!(decode_base58("zzzzzzzzzzzzz"), None, "overflows u64");
    }
}
