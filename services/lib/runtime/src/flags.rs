//! Value parsers shared by every command line, so a nonsense setting is
//! refused at start-up by clap (which names the flag or its variable)
//! instead of panicking later inside a task: a zero interval reaches
//! `tokio::time::interval`, a huge one overflows `Instant` arithmetic.
//!
//! ```text
//! error: invalid value '0s' for '--heartbeat-interval <HEARTBEAT_INTERVAL>': must be longer than zero
//! ```

use std::str::FromStr;
use std::time::Duration;

/// The longest duration any flag takes: twenty years, which is also the
/// largest TTL Cassandra and ScyllaDB accept.
pub const MAX_DURATION: Duration = Duration::from_secs(20 * 365 * 24 * 3600);

/// A duration such as `30s`, `15m` or `90days`: longer than zero and at
/// most [`MAX_DURATION`].
pub fn duration(value: &str) -> Result<Duration, String> {
    let parsed = humantime::parse_duration(value).map_err(|error| error.to_string())?;
    if parsed.is_zero() {
        return Err("must be longer than zero".to_owned());
    }
    if parsed > MAX_DURATION {
        return Err(format!(
            "must be at most {}",
            humantime::format_duration(MAX_DURATION)
        ));
    }
    Ok(parsed)
}

/// A delay that may be `0s`, meaning "off" (e.g. speculative executions):
/// like [`duration`] otherwise.
pub fn duration_or_off(value: &str) -> Result<Duration, String> {
    ttl(value)
}

/// A time to live: like [`duration`], except that `0s` is allowed and
/// means "never expires".
pub fn ttl(value: &str) -> Result<Duration, String> {
    match humantime::parse_duration(value) {
        Ok(zero) if zero.is_zero() => Ok(zero),
        _ => duration(value),
    }
}

/// A count (of partitions, records in flight, callers...): a whole number
/// of at least one that fits the flag's type.
pub fn count<T>(value: &str) -> Result<T, String>
where
    T: FromStr + TryFrom<u8> + PartialOrd,
    T::Err: std::fmt::Display,
{
    let parsed: T = value
        .trim()
        .parse()
        .map_err(|error: T::Err| format!("not a whole number: {error}"))?;
    let one = T::try_from(1).map_err(|_| "unsupported count type".to_owned())?;
    if parsed < one {
        return Err("must be at least 1".to_owned());
    }
    Ok(parsed)
}

/// A rate in events per second: a finite number above zero, at most a
/// million (a zero or infinite rate would make a zero or infinite pause).
pub fn rate(value: &str) -> Result<f64, String> {
    let parsed: f64 = value
        .trim()
        .parse()
        .map_err(|error| format!("not a number: {error}"))?;
    if !(parsed > 0.0 && parsed <= 1e6) {
        return Err("must be above 0 and at most 1000000 per second".to_owned());
    }
    Ok(parsed)
}

/// A size in bytes: a plain number (`65536`) or with a unit (`64KiB`,
/// `1 GiB`, `10MB`); more than zero, and fitting the flag's type.
pub fn byte_size<T: TryFrom<u64>>(value: &str) -> Result<T, String> {
    let parsed: bytesize::ByteSize = value.trim().parse().map_err(|error: String| {
        format!("not a size in bytes (e.g. 65536, 64KiB, 1GiB): {error}")
    })?;
    if parsed.as_u64() == 0 {
        return Err("must be more than zero bytes".to_owned());
    }
    T::try_from(parsed.as_u64()).map_err(|_| format!("{parsed} is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_must_be_positive_and_bounded() {
        assert_eq!(duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(duration("90days"), Ok(Duration::from_secs(90 * 86_400)));
        assert_eq!(duration("0s").unwrap_err(), "must be longer than zero");
        assert!(duration("1000years").unwrap_err().contains("at most"));
        assert!(duration("soon").is_err());
        assert!(duration("").is_err());
        assert_eq!(ttl("0s"), Ok(Duration::ZERO));
        assert_eq!(ttl("90days"), Ok(Duration::from_secs(90 * 86_400)));
        assert!(ttl("1000years").is_err());
    }

    #[test]
    fn counts_must_be_at_least_one() {
        assert_eq!(count::<usize>("512"), Ok(512));
        assert_eq!(count::<i32>(" 6 "), Ok(6));
        assert_eq!(count::<u16>("0").unwrap_err(), "must be at least 1");
        assert_eq!(count::<i32>("-3").unwrap_err(), "must be at least 1");
        assert!(
            count::<u8>("300")
                .unwrap_err()
                .starts_with("not a whole number")
        );
        assert!(count::<u32>("many").is_err());
    }

    #[test]
    fn rates_must_be_positive_and_finite() {
        assert_eq!(rate("0.15"), Ok(0.15));
        assert_eq!(rate("2000"), Ok(2000.0));
        for refused in ["0", "-1", "NaN", "inf", "1e9", "fast"] {
            assert!(rate(refused).is_err(), "{refused}");
        }
    }

    #[test]
    fn sizes_take_units_and_must_be_positive() {
        assert_eq!(byte_size::<u64>("65536"), Ok(65_536));
        assert_eq!(byte_size::<usize>("64KiB"), Ok(64 * 1024));
        assert_eq!(byte_size::<u64>("1 GiB"), Ok(1 << 30));
        assert_eq!(
            byte_size::<u64>("0").unwrap_err(),
            "must be more than zero bytes"
        );
        assert!(byte_size::<u16>("1MiB").unwrap_err().contains("too large"));
        assert!(byte_size::<u64>("lots").is_err());
    }

    #[test]
    fn clap_names_the_flag_when_a_value_is_refused() {
        #[derive(Debug, clap::Parser)]
        struct Flags {
            #[arg(long, value_parser = duration)]
            heartbeat_interval: Duration,
        }
        let error = <Flags as clap::Parser>::try_parse_from(["x", "--heartbeat-interval", "0s"])
            .unwrap_err()
            .to_string();
        assert!(error.contains("--heartbeat-interval"), "{error}");
        assert!(error.contains("must be longer than zero"), "{error}");
    }
}
