//! Prometheus text from `/v1/metrics` (or `/metrics`), with typed values for the names NIM
//! 1.x (unprefixed) and NIM 2.x (vLLM, `vllm:`-prefixed) use.

/// One sample line.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    /// Metric name, e.g. `vllm:num_requests_running` or `time_to_first_token_seconds_bucket`.
    pub name: String,
    /// Labels, in the order sent.
    pub labels: Vec<(String, String)>,
    /// Value.
    pub value: f64,
}

impl Sample {
    /// A label's value.
    pub fn label(&self, name: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A histogram summed over label sets: cumulative buckets by upper bound, sum and count.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Histogram {
    /// `(le, cumulative count)`, sorted by `le`; the last bound is `+Inf`.
    pub buckets: Vec<(f64, f64)>,
    /// Sum of observations.
    pub sum: f64,
    /// Number of observations.
    pub count: f64,
}

impl Histogram {
    /// The mean observation, if any.
    pub fn mean(&self) -> Option<f64> {
        (self.count > 0.0).then(|| self.sum / self.count)
    }
}

/// Parsed metrics. Gauges are summed over label sets (several models or engines), except the
/// KV-cache usage, which is the largest.
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct Metrics {
    /// KV-cache usage as a fraction in [0, 1] (`gpu_cache_usage_perc`,
    /// `vllm:gpu_cache_usage_perc` or `vllm:kv_cache_usage_perc`).
    pub kv_cache_usage: Option<f64>,
    /// Requests running (`num_requests_running`, `vllm:num_requests_running`).
    pub requests_running: Option<f64>,
    /// Requests waiting (`num_requests_waiting`, `vllm:num_requests_waiting`).
    pub requests_waiting: Option<f64>,
    /// Time to first token in seconds (`time_to_first_token_seconds`,
    /// `vllm:time_to_first_token_seconds`).
    pub time_to_first_token: Option<Histogram>,
    /// Every sample, as sent.
    pub samples: Vec<Sample>,
}

fn matches(name: &str, bases: &[&str]) -> bool {
    let unprefixed = name.strip_prefix("vllm:").unwrap_or(name);
    bases.contains(&unprefixed)
}

impl Metrics {
    /// Parses Prometheus text exposition. Malformed lines are skipped.
    pub fn parse(text: &str) -> Metrics {
        let samples: Vec<Sample> = text.lines().filter_map(parse_line).collect();
        let gauge_sum = |bases: &[&str]| {
            samples
                .iter()
                .filter(|s| matches(&s.name, bases))
                .map(|s| s.value)
                .reduce(|a, b| a + b)
        };
        let kv_cache_usage = samples
            .iter()
            .filter(|s| matches(&s.name, &["gpu_cache_usage_perc", "kv_cache_usage_perc"]))
            .map(|s| s.value)
            .reduce(f64::max);
        let time_to_first_token = histogram(&samples, "time_to_first_token_seconds");
        Metrics {
            kv_cache_usage,
            requests_running: gauge_sum(&["num_requests_running"]),
            requests_waiting: gauge_sum(&["num_requests_waiting"]),
            time_to_first_token,
            samples,
        }
    }
}

fn histogram(samples: &[Sample], base: &str) -> Option<Histogram> {
    let bucket = format!("{base}_bucket");
    let sum = format!("{base}_sum");
    let count = format!("{base}_count");
    let mut h = Histogram::default();
    let mut seen = false;
    for s in samples {
        let name = s.name.strip_prefix("vllm:").unwrap_or(&s.name);
        if name == bucket {
            let Some(le) = s.label("le").and_then(parse_value) else {
                continue;
            };
            seen = true;
            match h.buckets.iter_mut().find(|(b, _)| *b == le) {
                Some(entry) => entry.1 += s.value,
                None => h.buckets.push((le, s.value)),
            }
        } else if name == sum {
            seen = true;
            h.sum += s.value;
        } else if name == count {
            seen = true;
            h.count += s.value;
        }
    }
    h.buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    seen.then_some(h)
}

fn parse_value(s: &str) -> Option<f64> {
    match s {
        "+Inf" | "Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        "NaN" => Some(f64::NAN),
        _ => s.parse().ok(),
    }
}

fn parse_line(line: &str) -> Option<Sample> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let (name, labels, rest) = match line.find('{') {
        Some(open) if line[..open].find(' ').is_none() => {
            let (labels, after) = parse_labels(&line[open + 1..])?;
            (&line[..open], labels, after)
        }
        _ => {
            let space = line.find(char::is_whitespace)?;
            (&line[..space], Vec::new(), &line[space..])
        }
    };
    let value = parse_value(rest.split_whitespace().next()?)?;
    Some(Sample {
        name: name.to_owned(),
        labels,
        value,
    })
}

/// Parses `a="x",b="y\"z"}` and returns the labels and what follows the `}`.
fn parse_labels(mut s: &str) -> Option<(Vec<(String, String)>, &str)> {
    let mut labels = Vec::new();
    loop {
        s = s.trim_start_matches([' ', ',']);
        if let Some(rest) = s.strip_prefix('}') {
            return Some((labels, rest));
        }
        let eq = s.find('=')?;
        let name = s[..eq].trim().to_owned();
        s = s[eq + 1..].trim_start().strip_prefix('"')?;
        let mut value = String::new();
        let mut chars = s.char_indices();
        let end = loop {
            let (i, c) = chars.next()?;
            match c {
                '\\' => match chars.next()?.1 {
                    'n' => value.push('\n'),
                    other => value.push(other),
                },
                '"' => break i,
                other => value.push(other),
            }
        };
        labels.push((name, value));
        s = &s[end + 1..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_generations() {
        let v1 = "# HELP gpu_cache_usage_perc x\n# TYPE gpu_cache_usage_perc gauge\ngpu_cache_usage_perc 0.25\nnum_requests_running 3\nnum_requests_waiting 1\ntime_to_first_token_seconds_bucket{le=\"0.1\"} 2\ntime_to_first_token_seconds_bucket{le=\"+Inf\"} 4\ntime_to_first_token_seconds_sum 0.8\ntime_to_first_token_seconds_count 4\n";
        let m = Metrics::parse(v1);
        assert_eq!(m.kv_cache_usage, Some(0.25));
        assert_eq!(m.requests_running, Some(3.0));
        assert_eq!(m.requests_waiting, Some(1.0));
        let h = m.time_to_first_token.unwrap();
        assert_eq!(h.buckets, vec![(0.1, 2.0), (f64::INFINITY, 4.0)]);
        assert_eq!(h.mean(), Some(0.2));

        let v2 = "vllm:kv_cache_usage_perc{engine=\"0\",model_name=\"m\"} 0.5\nvllm:num_requests_running{model_name=\"m\",engine=\"0\"} 2\nvllm:num_requests_running{model_name=\"m\",engine=\"1\"} 1\nvllm:time_to_first_token_seconds_count{model_name=\"m\"} 9\n";
        let m = Metrics::parse(v2);
        assert_eq!(m.kv_cache_usage, Some(0.5));
        assert_eq!(m.requests_running, Some(3.0));
        assert_eq!(m.requests_waiting, None);
        assert_eq!(m.time_to_first_token.unwrap().count, 9.0);
        assert_eq!(m.samples[0].label("model_name"), Some("m"));
    }

    #[test]
    fn escaped_labels_and_timestamps() {
        let s = parse_line(r#"x{a="q\"u",b="c}d"} 1.5 1700000000"#).unwrap();
        assert_eq!(
            s.labels,
            vec![("a".into(), "q\"u".into()), ("b".into(), "c}d".into())]
        );
        assert_eq!(s.value, 1.5);
        assert!(parse_line("garbage").is_none());
    }
}
