//! Object ids with OpenAI's prefixes (`resp_`, `msg_`, `fc_`, `rs_`, `call_`,
//! `chatcmpl-`): 48 hex digits that begin, like OpenAI's own, with the time —
//! the Unix second (8 digits) and the microsecond within it (5) — followed by
//! 35 random ones, far too many to collide. Time first keeps the indexes on
//! ids growing at their right edge: a stored turn dirties a few pages that
//! the next turns share instead of a random page of each index, which is what
//! SQLite's checkpoints then copy (measured at 1,000 stored turns a second: a
//! p99 of 6 ms with random ids, see benches/RESULTS.md).

use uuid::Uuid;

/// A new id: `prefix` followed by 48 hex digits (OpenAI's ids are of that
/// length): the time, then random digits (see the module doc).
pub fn new_id(prefix: &str) -> String {
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let random = Uuid::new_v4().simple().to_string();
    let mut id = String::with_capacity(prefix.len() + 48);
    id.push_str(prefix);
    id.push_str(&format!(
        "{:08x}{:05x}",
        since_epoch.as_secs() as u32,
        since_epoch.subsec_micros()
    ));
    id.push_str(&random);
    id.push_str(&random_hex(3));
    id
}

/// `length` (at most 32) random hex digits, for padding that only has to look
/// random: `obfuscation` hides a delta's size by its length, not its content.
/// A per-thread SplitMix64 stream seeded once from the OS, so a streamed delta
/// costs no system call (a UUID per delta took two thirds of the Responses
/// grammar's time, see `benches/grammar.rs`).
pub fn random_hex(length: usize) -> String {
    thread_local! {
        static STATE: std::cell::Cell<u64> = std::cell::Cell::new(Uuid::new_v4().as_u64_pair().0);
    }
    let length = length.min(32);
    let mut text = String::with_capacity(length);
    STATE.with(|state| {
        let mut bits = 0u64;
        for position in 0..length {
            if position % 16 == 0 {
                bits = split_mix(state);
            }
            text.push(char::from_digit((bits & 0xf) as u32, 16).unwrap_or('0'));
            bits >>= 4;
        }
    });
    text
}

/// The next number of a SplitMix64 sequence.
fn split_mix(state: &std::cell::Cell<u64>) -> u64 {
    let mut z = state.get().wrapping_add(0x9E37_79B9_7F4A_7C15);
    state.set(z);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Seconds since the Unix epoch, as OpenAI's `created_at`.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_hex_has_the_asked_length_and_varies() {
        let first = random_hex(16);
        assert_eq!(first.len(), 16);
        assert!(first.chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(random_hex(40).len(), 32);
        assert_ne!(random_hex(16), first);
    }

    #[test]
    fn ids_carry_their_prefix_and_differ() {
        let a = new_id("resp_");
        let b = new_id("resp_");
        assert!(a.starts_with("resp_"));
        assert_eq!(a.len(), "resp_".len() + 48);
        assert!(a["resp_".len()..].chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }

    #[test]
    fn ids_begin_with_the_time_so_later_ones_sort_after() {
        let seconds = format!("{:08x}", unix_now() as u32);
        let first = new_id("msg_");
        std::thread::sleep(std::time::Duration::from_millis(2));
        let later = new_id("msg_");
        assert!(later > first, "{first} then {later}");
        // The same second (or the next one, at a boundary).
        assert!(
            first["msg_".len()..].starts_with(&seconds[..6]),
            "{first} vs {seconds}"
        );
    }
}
