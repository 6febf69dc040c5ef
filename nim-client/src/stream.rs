//! Streams of decoded server-sent events.

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures_util::stream::{self, BoxStream, Stream, StreamExt};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::{ApiError, Error, Result};
use crate::sse::{SseDecoder, SseEvent};
use crate::types::chat::{ChatAccumulator, ChatCompletion, ChatCompletionChunk};

/// A stream of typed items from a server-sent-events response. Pull-based: nothing is read
/// ahead of the consumer. Dropping it closes the connection. It ends at `data: [DONE]` or at
/// the end of the body; an error (transport, idle timeout, or an error object sent by the
/// server) is the last item.
pub struct EventStream<T> {
    inner: BoxStream<'static, Result<T>>,
}

impl<T> std::fmt::Debug for EventStream<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EventStream")
    }
}

impl<T> Stream for EventStream<T> {
    type Item = Result<T>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.as_mut().poll_next(cx)
    }
}

impl EventStream<ChatCompletionChunk> {
    /// Reads the whole stream into one completion (see [`ChatAccumulator`]).
    pub async fn collect_completion(mut self) -> Result<ChatCompletion> {
        let mut acc = ChatAccumulator::new();
        while let Some(chunk) = self.next().await {
            acc.push(&chunk?);
        }
        Ok(acc.finish())
    }
}

/// A Responses API stream event: its `type` and its data.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct ResponseStreamEvent {
    /// E.g. `response.output_text.delta`.
    pub event: String,
    /// The event's JSON.
    pub data: Value,
}

struct SseState {
    body: BoxStream<'static, std::result::Result<Bytes, BoxErrorWithTimeout>>,
    decoder: SseDecoder,
    queue: VecDeque<SseEvent>,
    scratch: Vec<SseEvent>,
    ended: bool,
    idle: Duration,
    url: String,
}

/// A body read error, with whether it was a timeout.
pub(crate) struct BoxErrorWithTimeout {
    pub(crate) timeout: bool,
    pub(crate) source: crate::error::BoxError,
}

/// A stream of SSE events.
pub(crate) type SseEvents = BoxStream<'static, Result<SseEvent>>;

/// Decodes a body into SSE events with an idle timeout between reads.
pub(crate) fn sse_events(
    body: BoxStream<'static, std::result::Result<Bytes, BoxErrorWithTimeout>>,
    idle: Duration,
    url: String,
) -> BoxStream<'static, Result<SseEvent>> {
    let state = SseState {
        body,
        decoder: SseDecoder::new(),
        queue: VecDeque::new(),
        scratch: Vec::new(),
        ended: false,
        idle,
        url,
    };
    stream::unfold(state, |mut s| async move {
        loop {
            if let Some(ev) = s.queue.pop_front() {
                return Some((Ok(ev), s));
            }
            if s.ended {
                return None;
            }
            match tokio::time::timeout(s.idle, s.body.next()).await {
                Err(_) => {
                    s.ended = true;
                    let after = s.idle;
                    return Some((
                        Err(Error::Timeout {
                            what: "stream idle",
                            after,
                        }),
                        s,
                    ));
                }
                Ok(Some(Ok(bytes))) => {
                    s.decoder.push(&bytes, &mut s.scratch);
                    s.queue.extend(s.scratch.drain(..));
                }
                Ok(Some(Err(e))) => {
                    s.ended = true;
                    let err = if e.timeout {
                        Error::Timeout {
                            what: "stream read",
                            after: s.idle,
                        }
                    } else {
                        Error::Transport {
                            url: s.url.clone(),
                            message: "stream interrupted".to_owned(),
                            source: e.source,
                        }
                    };
                    return Some((Err(err), s));
                }
                Ok(None) => {
                    s.ended = true;
                    s.queue.extend(s.decoder.finish());
                }
            }
        }
    })
    .boxed()
}

#[derive(Deserialize)]
struct ErrorProbe {
    #[serde(default)]
    error: Option<Value>,
    #[serde(default, rename = "type")]
    kind: Option<String>,
}

/// An error object sent inside a stream, if `data` is one.
fn stream_error(data: &str, named_error: bool) -> Option<Error> {
    if !named_error && !data.contains("\"error\"") {
        return None;
    }
    let probe: ErrorProbe = serde_json::from_str(data).ok()?;
    if probe.error.is_none() && !named_error && probe.kind.as_deref() != Some("error") {
        return None;
    }
    let mut err = ApiError::from_body(0, Vec::new(), data.as_bytes());
    if err.message == "HTTP error" {
        "An error occurred during streaming".clone_into(&mut err.message);
    }
    Some(Error::Stream(Box::new(err)))
}

/// Chat and completion streams: JSON chunks, `[DONE]` terminator, keep-alive events skipped.
pub(crate) fn json_stream<T: DeserializeOwned + Send + 'static>(
    events: BoxStream<'static, Result<SseEvent>>,
    what: &'static str,
) -> EventStream<T> {
    let inner = stream::unfold((events, false), move |(mut events, done)| async move {
        if done {
            return None;
        }
        loop {
            let ev = match events.next().await? {
                Ok(ev) => ev,
                Err(e) => return Some((Err(e), (events, true))),
            };
            let data = ev.data.trim();
            if data.starts_with("[DONE]") {
                return None;
            }
            if data.is_empty() || ev.event.as_deref() == Some("keepalive") {
                continue;
            }
            if let Some(err) = stream_error(data, ev.event.as_deref() == Some("error")) {
                return Some((Err(err), (events, true)));
            }
            let item = serde_json::from_str::<T>(data).map_err(|source| Error::Decode {
                what,
                snippet: data.chars().take(200).collect(),
                source,
            });
            let failed = item.is_err();
            return Some((item, (events, failed)));
        }
    });
    EventStream {
        inner: inner.boxed(),
    }
}

/// Responses API streams: every event's data carries its `type`; `error` events end the stream
/// with [`Error::Stream`].
pub(crate) fn response_stream(
    events: BoxStream<'static, Result<SseEvent>>,
) -> EventStream<ResponseStreamEvent> {
    let typed = json_stream::<Value>(events, "response stream event");
    let inner = typed.map(|item| {
        item.map(|data| {
            let event = data
                .get("type")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            ResponseStreamEvent { event, data }
        })
    });
    EventStream {
        inner: inner.boxed(),
    }
}
