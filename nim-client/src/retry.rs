//! When to retry and how long to wait, following openai-python.

use std::time::{Duration, SystemTime};

/// The retry decision for an HTTP answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Do not retry.
    Stop,
    /// Retry, after the server's delay if it gave one.
    Retry(Option<Duration>),
}

/// Reads a header by name from `(name, value)` pairs.
fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim())
}

/// The delay the server asked for: `retry-after-ms`, else `Retry-After` as seconds or an HTTP
/// date. None when absent, unparsable or not positive.
pub(crate) fn server_delay(headers: &[(String, String)], now: SystemTime) -> Option<Duration> {
    if let Some(ms) = header(headers, "retry-after-ms").and_then(|v| v.parse::<f64>().ok())
        && ms.is_finite()
        && ms > 0.0
    {
        return Some(Duration::from_secs_f64(ms / 1000.0));
    }
    let value = header(headers, "retry-after")?;
    if let Ok(secs) = value.parse::<f64>() {
        return (secs.is_finite() && secs > 0.0).then(|| Duration::from_secs_f64(secs));
    }
    let date = httpdate::parse_http_date(value).ok()?;
    date.duration_since(now).ok().filter(|d| !d.is_zero())
}

/// Whether to retry an answer with `status` and `headers`.
pub(crate) fn decide(
    status: u16,
    headers: &[(String, String)],
    max_retry_after: Duration,
) -> Decision {
    let delay = server_delay(headers, SystemTime::now());
    if let Some(d) = delay
        && d > max_retry_after
    {
        return Decision::Stop;
    }
    match header(headers, "x-should-retry") {
        Some("true") => return Decision::Retry(delay),
        Some("false") => return Decision::Stop,
        _ => {}
    }
    if matches!(status, 408 | 409 | 429) || status >= 500 {
        Decision::Retry(delay)
    } else {
        Decision::Stop
    }
}

/// Exponential backoff for retry number `retry` (0 for the first retry): `min(0.5 * 2^n, 8)`
/// seconds times a jitter in [0.75, 1].
pub(crate) fn backoff(retry: u32) -> Duration {
    let base = (0.5 * 2f64.powi(retry.min(16) as i32)).min(8.0);
    let jitter = 1.0 - 0.25 * fastrand::f64();
    Duration::from_secs_f64(base * jitter)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect()
    }

    const CAP: Duration = Duration::from_secs(120);

    #[test]
    fn statuses() {
        for s in [408, 409, 429, 500, 502, 503, 504] {
            assert_eq!(decide(s, &[], CAP), Decision::Retry(None), "{s}");
        }
        for s in [400, 401, 403, 404, 422] {
            assert_eq!(decide(s, &[], CAP), Decision::Stop, "{s}");
        }
    }

    #[test]
    fn headers_win() {
        assert_eq!(
            decide(400, &h(&[("x-should-retry", "true")]), CAP),
            Decision::Retry(None)
        );
        assert_eq!(
            decide(503, &h(&[("X-Should-Retry", "false")]), CAP),
            Decision::Stop
        );
        assert_eq!(
            decide(
                429,
                &h(&[("retry-after-ms", "250"), ("retry-after", "9")]),
                CAP
            ),
            Decision::Retry(Some(Duration::from_millis(250)))
        );
        assert_eq!(
            decide(429, &h(&[("Retry-After", "1.5")]), CAP),
            Decision::Retry(Some(Duration::from_millis(1500)))
        );
        assert_eq!(
            decide(429, &h(&[("retry-after", "121")]), CAP),
            Decision::Stop
        );
        assert_eq!(
            decide(429, &h(&[("retry-after", "soon")]), CAP),
            Decision::Retry(None)
        );
    }

    #[test]
    fn http_date() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let later = httpdate::fmt_http_date(now + Duration::from_secs(30));
        assert_eq!(
            server_delay(&h(&[("retry-after", &later)]), now),
            Some(Duration::from_secs(30))
        );
        let earlier = httpdate::fmt_http_date(now - Duration::from_secs(30));
        assert_eq!(server_delay(&h(&[("retry-after", &earlier)]), now), None);
    }

    #[test]
    fn backoff_bounds() {
        for n in 0..10 {
            let d = backoff(n).as_secs_f64();
            let base = (0.5 * 2f64.powi(n as i32)).min(8.0);
            assert!(d >= base * 0.75 - 1e-9 && d <= base + 1e-9, "{n}: {d}");
        }
    }
}
