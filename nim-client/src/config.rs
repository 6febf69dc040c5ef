//! Client configuration: base URL, API key, headers, timeouts, retries, proxy.

use std::fmt;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

use crate::error::{Error, Result};

/// The hosted NVIDIA API catalog, used by [`ClientConfig::from_env`] when no base URL is set.
pub const HOSTED_BASE_URL: &str = "https://integrate.api.nvidia.com/v1";

/// Environment variables read by [`ClientConfig::from_env`] for the API key, in order.
pub const API_KEY_VARS: [&str; 3] = ["NVIDIA_API_KEY", "NGC_API_KEY", "OPENAI_API_KEY"];

/// Environment variables read by [`ClientConfig::from_env`] for the base URL, in order.
pub const BASE_URL_VARS: [&str; 2] = ["NIM_BASE_URL", "OPENAI_BASE_URL"];

/// Where the NIM sampling extensions of a request ([`crate::NvExt`]) are sent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExtensionPlacement {
    /// At the top level of the request body (NIM 1.14 and later, NIM 2.x).
    #[default]
    TopLevel,
    /// Inside an `"nvext"` object (NIM 1.x before 1.14).
    Nvext,
}

/// Client settings. `Default` reads nothing from the environment; use
/// [`ClientConfig::from_env`] for that.
///
/// ```
/// use std::time::Duration;
/// let config = nim_client::ClientConfig::new("http://localhost:8000")
///     .api_key("nvapi-secret")
///     .max_retries(3)
///     .timeout(Duration::from_secs(30));
/// assert!(!format!("{config:?}").contains("nvapi-secret"));
/// ```
#[derive(Clone)]
pub struct ClientConfig {
    pub(crate) base_url: String,
    pub(crate) api_key: Option<SecretString>,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) timeout: Duration,
    pub(crate) connect_timeout: Duration,
    pub(crate) stream_idle_timeout: Duration,
    pub(crate) max_retries: u32,
    pub(crate) max_retry_after: Duration,
    pub(crate) proxy: Option<String>,
    pub(crate) ranking_url: Option<String>,
    pub(crate) extension_placement: ExtensionPlacement,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig::new("http://localhost:8000")
    }
}

impl fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let header_names: Vec<&str> = self.headers.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("ClientConfig")
            .field("base_url", &self.base_url)
            .field("api_key", &self.api_key.as_ref().map(|_| "[redacted]"))
            .field("headers", &header_names)
            .field("timeout", &self.timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("stream_idle_timeout", &self.stream_idle_timeout)
            .field("max_retries", &self.max_retries)
            .field("max_retry_after", &self.max_retry_after)
            .field("proxy", &self.proxy.as_ref().map(|_| "[set]"))
            .field("ranking_url", &self.ranking_url)
            .field("extension_placement", &self.extension_placement)
            .finish()
    }
}

impl ClientConfig {
    /// A configuration for the server at `base_url` (with or without a trailing `/v1`), no API
    /// key, openai-python's defaults: 600 s timeout, 5 s connect timeout, 2 retries.
    pub fn new(base_url: impl Into<String>) -> Self {
        ClientConfig {
            base_url: base_url.into(),
            api_key: None,
            headers: Vec::new(),
            timeout: Duration::from_secs(600),
            connect_timeout: Duration::from_secs(5),
            stream_idle_timeout: Duration::from_secs(600),
            max_retries: 2,
            max_retry_after: Duration::from_secs(120),
            proxy: None,
            ranking_url: None,
            extension_placement: ExtensionPlacement::TopLevel,
        }
    }

    /// Reads the process environment: the base URL from `NIM_BASE_URL` or `OPENAI_BASE_URL`
    /// (else [`HOSTED_BASE_URL`]), the key from `NVIDIA_API_KEY`, `NGC_API_KEY` or
    /// `OPENAI_API_KEY` (first non-empty).
    pub fn from_env() -> Result<Self> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Like [`ClientConfig::from_env`], with variables looked up by `lookup`.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let base = BASE_URL_VARS
            .iter()
            .find_map(|v| get(v))
            .unwrap_or_else(|| HOSTED_BASE_URL.to_owned());
        let mut config = ClientConfig::new(base);
        config.api_key = API_KEY_VARS
            .iter()
            .find_map(|v| get(v))
            .map(|k| SecretString::from(k.trim().to_owned()));
        config.root_url()?;
        Ok(config)
    }

    /// Sets the API key, sent as `Authorization: Bearer ...`.
    #[must_use]
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = Some(SecretString::from(key.into()));
        self
    }

    /// Adds a header sent with every request. Its value is not shown by `Debug`.
    #[must_use]
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Overall time for one attempt of a non-streaming request, and for a stream's response
    /// headers.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Time to establish a connection.
    #[must_use]
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Longest wait for the next bytes of a stream.
    #[must_use]
    pub fn stream_idle_timeout(mut self, timeout: Duration) -> Self {
        self.stream_idle_timeout = timeout;
        self
    }

    /// Retries after the first attempt (default 2).
    #[must_use]
    pub fn max_retries(mut self, retries: u32) -> Self {
        self.max_retries = retries;
        self
    }

    /// The longest server-requested delay (`Retry-After`) that is honoured; a longer one
    /// means no retry (default 120 s).
    #[must_use]
    pub fn max_retry_after(mut self, limit: Duration) -> Self {
        self.max_retry_after = limit;
        self
    }

    /// Sends all requests through this HTTP(S) proxy URL.
    #[must_use]
    pub fn proxy(mut self, url: impl Into<String>) -> Self {
        self.proxy = Some(url.into());
        self
    }

    /// A full URL for ranking requests, e.g. the hosted
    /// `https://ai.api.nvidia.com/v1/retrieval/nvidia/reranking`; default `{base}/v1/ranking`.
    #[must_use]
    pub fn ranking_url(mut self, url: impl Into<String>) -> Self {
        self.ranking_url = Some(url.into());
        self
    }

    /// Where NIM sampling extensions go.
    #[must_use]
    pub fn extension_placement(mut self, placement: ExtensionPlacement) -> Self {
        self.extension_placement = placement;
        self
    }

    /// The base URL without a trailing `/` or `/v1`.
    pub fn root_url(&self) -> Result<String> {
        let trimmed = self.base_url.trim().trim_end_matches('/');
        let root = trimmed.strip_suffix("/v1").unwrap_or(trimmed);
        if !(root.starts_with("http://") || root.starts_with("https://")) {
            return Err(Error::Config {
                field: "base_url".to_owned(),
                message: format!("{:?} is not an http:// or https:// URL", self.base_url),
            });
        }
        Ok(root.to_owned())
    }

    pub(crate) fn bearer(&self) -> Option<String> {
        self.api_key
            .as_ref()
            .map(|k| format!("Bearer {}", k.expose_secret()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_url_with_or_without_v1() {
        for url in [
            "http://h:8000",
            "http://h:8000/",
            "http://h:8000/v1",
            "http://h:8000/v1/",
        ] {
            assert_eq!(ClientConfig::new(url).root_url().unwrap(), "http://h:8000");
        }
        assert!(ClientConfig::new("h:8000").root_url().is_err());
    }

    #[test]
    fn from_lookup_order_and_defaults() {
        let c = ClientConfig::from_lookup(|n| match n {
            "NGC_API_KEY" => Some("ngc".into()),
            "OPENAI_API_KEY" => Some("oai".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(c.bearer().as_deref(), Some("Bearer ngc"));
        assert_eq!(c.base_url, HOSTED_BASE_URL);
        let c = ClientConfig::from_lookup(|n| (n == "NIM_BASE_URL").then(|| "http://x/v1".into()))
            .unwrap();
        assert!(c.api_key.is_none());
        assert_eq!(c.root_url().unwrap(), "http://x");
    }

    #[test]
    fn default_reads_no_environment_and_debug_hides_secrets() {
        let c = ClientConfig::default()
            .api_key("nvapi-XYZ")
            .header("x-token", "hidden-value");
        let debug = format!("{c:?}");
        assert!(!debug.contains("nvapi-XYZ"));
        assert!(!debug.contains("hidden-value"));
        assert!(debug.contains("x-token"));
    }
}
