//! The client: one method per endpoint, retries, timeouts.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::StreamExt;
use reqwest::Method;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::config::{ClientConfig, ExtensionPlacement};
use crate::error::{ApiError, Error, Result};
use crate::metrics::Metrics;
use crate::retry::{self, Decision};
use crate::stream::{self, BoxErrorWithTimeout, EventStream, ResponseStreamEvent};
use crate::types::chat::{ChatCompletion, ChatCompletionChunk, ChatCompletionRequest};
use crate::types::completions::{Completion, CompletionRequest};
use crate::types::embeddings::{EmbeddingRequest, EmbeddingResponse};
use crate::types::management::{Health, Metadata, ModelList, Version};
use crate::types::nvext::NvExt;
use crate::types::ranking::{RankingRequest, RankingResponse};
use crate::types::responses::{Response, ResponseRequest};

/// A NIM client. Cheap to clone (clones share the connection pool and the retry counter).
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    config: ClientConfig,
    root: String,
    retries: AtomicU64,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

enum Outcome {
    Full {
        status: u16,
        headers: Vec<(String, String)>,
        body: Bytes,
    },
    Stream(reqwest::Response),
}

fn header_pairs(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect()
}

fn decode<T: DeserializeOwned>(body: &[u8], what: &'static str) -> Result<T> {
    serde_json::from_slice(body).map_err(|source| Error::Decode {
        what,
        snippet: String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned(),
        source,
    })
}

impl Client {
    /// A client with this configuration.
    pub fn new(config: ClientConfig) -> Result<Client> {
        let root = config.root_url()?;
        let mut headers = HeaderMap::new();
        if let Some(bearer) = config.bearer() {
            let mut value = HeaderValue::from_str(&bearer).map_err(|_| Error::Config {
                field: "api_key".to_owned(),
                message: "contains characters not allowed in a header".to_owned(),
            })?;
            value.set_sensitive(true);
            headers.insert(AUTHORIZATION, value);
        }
        for (name, value) in &config.headers {
            let invalid = |what: &str| Error::Config {
                field: format!("header {name}"),
                message: format!("invalid header {what}"),
            };
            let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| invalid("name"))?;
            let mut value = HeaderValue::from_str(value).map_err(|_| invalid("value"))?;
            value.set_sensitive(true);
            headers.append(name, value);
        }
        let mut builder = reqwest::Client::builder()
            .default_headers(headers)
            .connect_timeout(config.connect_timeout)
            .user_agent(concat!("nim-client/", env!("CARGO_PKG_VERSION")));
        builder = match &config.proxy {
            Some(url) => builder.proxy(reqwest::Proxy::all(url).map_err(|e| Error::Config {
                field: "proxy".to_owned(),
                message: e.to_string(),
            })?),
            None => builder.no_proxy(),
        };
        let http = builder.build().map_err(|e| Error::Config {
            field: "http client".to_owned(),
            message: e.to_string(),
        })?;
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                config,
                root,
                retries: AtomicU64::new(0),
            }),
        })
    }

    /// A client configured from the environment ([`ClientConfig::from_env`]).
    pub fn from_env() -> Result<Client> {
        Client::new(ClientConfig::from_env()?)
    }

    /// The configuration.
    pub fn config(&self) -> &ClientConfig {
        &self.inner.config
    }

    /// How many retries this client (and its clones) made so far.
    pub fn retries_total(&self) -> u64 {
        self.inner.retries.load(Ordering::Relaxed)
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.inner.root)
    }

    /// Sends a request, retrying per openai-python's rules; returns the first answer that is
    /// not retried. With `stream`, a success is returned before its body is read.
    async fn execute(
        &self,
        method: Method,
        url: &str,
        body: Option<Bytes>,
        stream: bool,
        max_retries: u32,
    ) -> Result<Outcome> {
        let config = &self.inner.config;
        let mut attempt = 0u32;
        loop {
            let mut request = self.inner.http.request(method.clone(), url);
            if let Some(body) = &body {
                request = request
                    .header(CONTENT_TYPE, "application/json")
                    .body(body.clone());
            }
            let result = tokio::time::timeout(config.timeout, async {
                let response = request.send().await?;
                if stream && response.status().is_success() {
                    return Ok(Outcome::Stream(response));
                }
                let status = response.status().as_u16();
                let headers = header_pairs(response.headers());
                let body = response.bytes().await?;
                Ok::<_, reqwest::Error>(Outcome::Full {
                    status,
                    headers,
                    body,
                })
            })
            .await;
            let failure = match result {
                Ok(Ok(Outcome::Full {
                    status,
                    headers,
                    body,
                })) if !(200..300).contains(&status) => {
                    match retry::decide(status, &headers, config.max_retry_after) {
                        Decision::Retry(delay) if attempt < max_retries => {
                            self.pause(delay.unwrap_or_else(|| retry::backoff(attempt)))
                                .await;
                            attempt += 1;
                            continue;
                        }
                        _ => {
                            return Err(Error::Api(Box::new(ApiError::from_body(
                                status, headers, &body,
                            ))));
                        }
                    }
                }
                Ok(Ok(outcome)) => return Ok(outcome),
                Ok(Err(e)) if e.is_timeout() => Error::Timeout {
                    what: "request",
                    after: config.timeout,
                },
                Ok(Err(e)) => Error::Transport {
                    url: url.to_owned(),
                    message: if e.is_connect() {
                        "cannot connect".to_owned()
                    } else {
                        "request failed".to_owned()
                    },
                    source: Box::new(e.without_url()),
                },
                Err(_) => Error::Timeout {
                    what: "request",
                    after: config.timeout,
                },
            };
            if attempt >= max_retries {
                return Err(failure);
            }
            self.pause(retry::backoff(attempt)).await;
            attempt += 1;
        }
    }

    async fn pause(&self, delay: Duration) {
        self.inner.retries.fetch_add(1, Ordering::Relaxed);
        tokio::time::sleep(delay).await;
    }

    async fn get_json<T: DeserializeOwned>(&self, path: &str, what: &'static str) -> Result<T> {
        let url = self.url(path);
        match self
            .execute(
                Method::GET,
                &url,
                None,
                false,
                self.inner.config.max_retries,
            )
            .await?
        {
            Outcome::Full { body, .. } => decode(&body, what),
            Outcome::Stream(_) => Err(unreachable_stream()),
        }
    }

    async fn post_json<T: DeserializeOwned>(
        &self,
        url: &str,
        body: Bytes,
        what: &'static str,
    ) -> Result<T> {
        match self
            .execute(
                Method::POST,
                url,
                Some(body),
                false,
                self.inner.config.max_retries,
            )
            .await?
        {
            Outcome::Full { body, .. } => decode(&body, what),
            Outcome::Stream(_) => Err(unreachable_stream()),
        }
    }

    /// Serializes a request, placing the NIM extensions per the configuration, and sets
    /// `stream` when asked.
    fn body(&self, request: &impl Serialize, nim: &NvExt, stream: Option<bool>) -> Result<Bytes> {
        nim.validate()?;
        let mut value = serde_json::to_value(request).map_err(|e| Error::InvalidRequest {
            field: "body",
            message: e.to_string(),
        })?;
        if let Value::Object(map) = &mut value {
            if self.inner.config.extension_placement == ExtensionPlacement::Nvext && !nim.is_empty()
            {
                let keys: Vec<String> = match serde_json::to_value(nim) {
                    Ok(Value::Object(m)) => m.keys().cloned().collect(),
                    _ => Vec::new(),
                };
                let mut moved = Map::new();
                for key in keys {
                    if let Some(v) = map.remove(&key) {
                        moved.insert(key, v);
                    }
                }
                match map.get_mut("nvext") {
                    Some(Value::Object(existing)) => existing.extend(moved),
                    _ => {
                        map.insert("nvext".to_owned(), Value::Object(moved));
                    }
                }
            }
            if let Some(flag) = stream {
                map.insert("stream".to_owned(), Value::Bool(flag));
            }
        }
        serde_json::to_vec(&value)
            .map(Bytes::from)
            .map_err(|e| Error::InvalidRequest {
                field: "body",
                message: e.to_string(),
            })
    }

    async fn open_stream(&self, path: &str, body: Bytes) -> Result<stream::SseEvents> {
        let url = self.url(path);
        match self
            .execute(
                Method::POST,
                &url,
                Some(body),
                true,
                self.inner.config.max_retries,
            )
            .await?
        {
            Outcome::Stream(response) => {
                let bytes = response
                    .bytes_stream()
                    .map(|r| {
                        r.map_err(|e| BoxErrorWithTimeout {
                            timeout: e.is_timeout(),
                            source: Box::new(e.without_url()),
                        })
                    })
                    .boxed();
                Ok(stream::sse_events(
                    bytes,
                    self.inner.config.stream_idle_timeout,
                    url,
                ))
            }
            Outcome::Full { .. } => Err(unreachable_stream()),
        }
    }

    /// `POST /v1/chat/completions`.
    pub async fn chat(&self, request: &ChatCompletionRequest) -> Result<ChatCompletion> {
        let body = self.body(request, &request.nim, request.stream.map(|_| false))?;
        self.post_json(&self.url("/v1/chat/completions"), body, "chat completion")
            .await
    }

    /// `POST /v1/chat/completions` with `stream: true`. HTTP errors are returned here, before
    /// any chunk; once the stream is returned nothing is retried.
    pub async fn chat_stream(
        &self,
        request: &ChatCompletionRequest,
    ) -> Result<EventStream<ChatCompletionChunk>> {
        let body = self.body(request, &request.nim, Some(true))?;
        let events = self.open_stream("/v1/chat/completions", body).await?;
        Ok(stream::json_stream(events, "chat completion chunk"))
    }

    /// `POST /v1/completions`.
    pub async fn completion(&self, request: &CompletionRequest) -> Result<Completion> {
        let body = self.body(request, &request.nim, request.stream.map(|_| false))?;
        self.post_json(&self.url("/v1/completions"), body, "completion")
            .await
    }

    /// `POST /v1/completions` with `stream: true`.
    pub async fn completion_stream(
        &self,
        request: &CompletionRequest,
    ) -> Result<EventStream<Completion>> {
        let body = self.body(request, &request.nim, Some(true))?;
        let events = self.open_stream("/v1/completions", body).await?;
        Ok(stream::json_stream(events, "completion chunk"))
    }

    /// `POST /v1/responses`.
    pub async fn response(&self, request: &ResponseRequest) -> Result<Response> {
        let body = self.body(request, &request.nim, None)?;
        self.post_json(&self.url("/v1/responses"), body, "response")
            .await
    }

    /// `POST /v1/responses` with `stream: true`: named events.
    pub async fn response_stream(
        &self,
        request: &ResponseRequest,
    ) -> Result<EventStream<ResponseStreamEvent>> {
        let body = self.body(request, &request.nim, Some(true))?;
        let events = self.open_stream("/v1/responses", body).await?;
        Ok(stream::response_stream(events))
    }

    /// `POST /v1/embeddings`.
    pub async fn embeddings(&self, request: &EmbeddingRequest) -> Result<EmbeddingResponse> {
        let body = self.body(request, &NvExt::default(), None)?;
        self.post_json(&self.url("/v1/embeddings"), body, "embeddings")
            .await
    }

    /// `POST /v1/ranking` (or the configured ranking URL); rankings come back sorted by
    /// descending logit.
    pub async fn rank(&self, request: &RankingRequest) -> Result<RankingResponse> {
        let url = match &self.inner.config.ranking_url {
            Some(url) => url.clone(),
            None => self.url("/v1/ranking"),
        };
        let body = self.body(request, &NvExt::default(), None)?;
        let mut response: RankingResponse = self.post_json(&url, body, "ranking").await?;
        response.sort();
        Ok(response)
    }

    /// `GET /v1/models`.
    pub async fn models(&self) -> Result<ModelList> {
        self.get_json("/v1/models", "model list").await
    }

    /// `GET /v1/metadata`.
    pub async fn metadata(&self) -> Result<Metadata> {
        self.get_json("/v1/metadata", "metadata").await
    }

    /// `GET /v1/version`.
    pub async fn version(&self) -> Result<Version> {
        self.get_json("/v1/version", "version").await
    }

    async fn health(&self, path: &str) -> Result<Health> {
        let url = self.url(path);
        match self.execute(Method::GET, &url, None, false, 0).await {
            Ok(Outcome::Full { status, body, .. }) => Ok(Health {
                ok: (200..300).contains(&status),
                status,
                body: String::from_utf8_lossy(&body).into_owned(),
            }),
            Ok(Outcome::Stream(_)) => Err(unreachable_stream()),
            Err(Error::Api(e)) => Ok(Health {
                ok: false,
                status: e.status,
                body: e.body,
            }),
            Err(e) => Err(e),
        }
    }

    /// `GET /v1/health/live`: the process is up. A non-2xx status is an answer, not an error.
    pub async fn health_live(&self) -> Result<Health> {
        self.health("/v1/health/live").await
    }

    /// `GET /v1/health/ready`: the model is loaded. A non-2xx status is an answer, not an error.
    pub async fn health_ready(&self) -> Result<Health> {
        self.health("/v1/health/ready").await
    }

    /// Polls `/v1/health/ready` until it answers 2xx, with backoff from 250 ms to 5 s;
    /// connection errors count as "not yet". Fails with [`Error::NotReady`] after `timeout`.
    pub async fn wait_until_ready(&self, timeout: Duration) -> Result<Health> {
        let start = Instant::now();
        let mut delay = Duration::from_millis(250);
        let mut last = String::from("no answer");
        loop {
            let remaining = timeout.saturating_sub(start.elapsed());
            match tokio::time::timeout(remaining, self.health_ready()).await {
                Ok(Ok(health)) if health.ok => return Ok(health),
                Ok(Ok(health)) => {
                    last = format!("HTTP {}: {}", health.status, health.body.trim());
                }
                Ok(Err(e)) => last = e.to_string(),
                // The answer seen before is more useful than "timed out".
                Err(_) => {}
            }
            let elapsed = start.elapsed();
            if elapsed >= timeout {
                return Err(Error::NotReady {
                    waited: elapsed,
                    last,
                });
            }
            tokio::time::sleep(delay.min(timeout - elapsed)).await;
            delay = (delay * 2).min(Duration::from_secs(5));
        }
    }

    /// `GET /v1/metrics`, falling back to `/metrics` when that is 404, parsed.
    pub async fn metrics(&self) -> Result<Metrics> {
        let retries = self.inner.config.max_retries;
        let first = self
            .execute(Method::GET, &self.url("/v1/metrics"), None, false, retries)
            .await;
        let body = match first {
            Ok(Outcome::Full { body, .. }) => body,
            Err(Error::Api(e)) if e.status == 404 => {
                match self
                    .execute(Method::GET, &self.url("/metrics"), None, false, retries)
                    .await?
                {
                    Outcome::Full { body, .. } => body,
                    Outcome::Stream(_) => return Err(unreachable_stream()),
                }
            }
            Ok(Outcome::Stream(_)) => return Err(unreachable_stream()),
            Err(e) => return Err(e),
        };
        Ok(Metrics::parse(&String::from_utf8_lossy(&body)))
    }
}

/// `execute` returns a stream outcome only when asked for one.
fn unreachable_stream() -> Error {
    Error::InvalidResponse {
        message: "internal: unexpected streaming outcome".to_owned(),
    }
}
