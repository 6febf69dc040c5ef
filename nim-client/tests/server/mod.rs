//! An in-repo fake NIM on 127.0.0.1:0 serving every endpoint, with faults chosen per request
//! by the `x-fault` header.

use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures_util::stream;
use serde_json::{Value, json};

/// What the server saw, shared with the test.
#[derive(Default)]
pub struct Seen {
    /// Requests per fault key (or path for management endpoints).
    pub hits: AtomicUsize,
    /// The last JSON body received.
    pub last_body: Mutex<Option<Value>>,
    /// The last `authorization` header received.
    pub last_auth: Mutex<Option<String>>,
    /// Set when a streaming body was dropped by the server (the client went away).
    pub stream_dropped: AtomicBool,
}

/// A running server.
pub struct TestServer {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// What it saw.
    pub seen: Arc<Seen>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts the server.
pub async fn start() -> TestServer {
    let seen = Arc::new(Seen::default());
    let app = Router::new()
        .route("/v1/chat/completions", post(chat))
        .route("/v1/completions", post(completions))
        .route("/v1/responses", post(responses))
        .route("/v1/embeddings", post(embeddings))
        .route("/v1/ranking", post(ranking))
        .route("/v1/models", get(models))
        .route("/v1/health/live", get(|| async { "live" }))
        .route("/v1/health/ready", get(ready))
        .route("/v1/metadata", get(metadata))
        .route(
            "/v1/version",
            get(|| async { axum::Json(json!({"release":"1.0.0","api":"3.1.0"})) }),
        )
        .route("/v1/metrics", get(metrics_v1))
        .route("/metrics", get(metrics_legacy))
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    TestServer { url, seen, task }
}

fn fault(headers: &HeaderMap) -> String {
    headers
        .get("x-fault")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned()
}

fn record(seen: &Seen, headers: &HeaderMap, body: &Bytes) -> usize {
    *seen.last_body.lock().unwrap() = serde_json::from_slice(body).ok();
    *seen.last_auth.lock().unwrap() = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    seen.hits.fetch_add(1, Ordering::SeqCst)
}

/// Error answers and retry faults shared by the POST endpoints; none when the request
/// proceeds normally.
async fn common_fault(fault: &str, hit: usize) -> Option<Response> {
    let json_body = |status: u16, body: &str| {
        Response::builder()
            .status(status)
            .header("content-type", "application/json")
            .body(Body::from(body.to_owned()))
            .unwrap()
    };
    match fault {
        "429-once" if hit == 0 => Some(
            Response::builder()
                .status(429)
                .header("retry-after", "1")
                .body(Body::from(r#"{"error":{"message":"slow down","type":"rate_limit","code":"rate_limited"}}"#))
                .unwrap(),
        ),
        "429-long" => Some(
            Response::builder()
                .status(429)
                .header("retry-after", "3600")
                .body(Body::from("{}"))
                .unwrap(),
        ),
        "503-then-ok" if hit == 0 => Some(json_body(503, "")),
        "503-always" => Some(json_body(503, "")),
        "reset-then-ok" if hit == 0 => Some(
            Response::builder()
                .header("content-type", "application/json")
                .body(Body::from_stream(stream::iter(vec![
                    Ok::<_, std::io::Error>(Bytes::from_static(b"{\"choi")),
                    Err(std::io::Error::other("reset")),
                ])))
                .unwrap(),
        ),
        "slow" => {
            tokio::time::sleep(Duration::from_secs(2)).await;
            None
        }
        "err-nested" => Some(json_body(
            400,
            r#"{"error":{"message":"maximum context length is 512","type":"BadRequestError","param":null,"code":400}}"#,
        )),
        "err-nested-string" => Some(json_body(
            400,
            r#"{"error":{"message":"too long","type":"invalid_request_error","param":"messages","code":"context_length_exceeded"}}"#,
        )),
        "err-flat" => Some(json_body(
            400,
            r#"{"object":"error","message":"bad top_k","type":"BadRequestError","param":null,"code":400}"#,
        )),
        "err-detail" => Some(json_body(401, r#"{"detail":"Invalid API key"}"#)),
        "err-empty" => Some(json_body(500, "")),
        "err-html" => Some(
            Response::builder()
                .status(502)
                .header("content-type", "text/html")
                .body(Body::from("<html><body><h1>502 Bad Gateway</h1></body></html>"))
                .unwrap(),
        ),
        _ => None,
    }
}

fn chunk(content: Option<&str>, finish: Option<&str>) -> String {
    let mut delta = json!({});
    if let Some(c) = content {
        delta = json!({"content": c});
    }
    json!({"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m",
        "choices":[{"index":0,"delta":delta,"finish_reason":finish}]})
    .to_string()
}

fn sse_response(body: impl Into<Body>) -> Response {
    Response::builder()
        .header("content-type", "text/event-stream")
        .body(body.into())
        .unwrap()
}

/// Sets `stream_dropped` when dropped.
struct DropFlag(Arc<Seen>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.stream_dropped.store(true, Ordering::SeqCst);
    }
}

fn chat_stream(fault: &str, seen: Arc<Seen>) -> Response {
    let role = json!({"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m",
        "choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]})
    .to_string();
    let usage = json!({"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m",
        "choices":[],"usage":{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7}})
    .to_string();
    let events = [
        role,
        chunk(Some("Hel"), None),
        chunk(Some("lo"), None),
        chunk(None, Some("stop")),
    ];
    let lines = |sep: &str| {
        let mut s = String::new();
        for e in &events {
            s.push_str(&format!("data: {e}{sep}{sep}"));
        }
        s
    };
    match fault {
        "crlf" => sse_response(format!("{}data: [DONE]\r\n\r\n", lines("\r\n"))),
        "cr" => sse_response(format!("{}data: [DONE]\r\r", lines("\r"))),
        "keepalive" => sse_response(format!(
            ": ping\n\nevent: keepalive\ndata: {{}}\n\n{}: ping - 2024\n\ndata: [DONE]\n\n",
            lines("\n")
        )),
        "usage" => sse_response(format!("{}data: {usage}\n\ndata: [DONE]\n\n", lines("\n"))),
        "no-final-blank" => sse_response(format!("{}data: {usage}", lines("\n"))),
        "multiline" => sse_response(
            "data: {\"choices\":[{\"index\":0,\n data: \"delta\":{\"content\":\"x\"}}]}\n\ndata: [DONE]\n\n"
                .replace("\n data", "\ndata"),
        ),
        "stream-error" => sse_response(format!(
            "data: {}\n\ndata: {{\"error\":{{\"message\":\"engine died\",\"type\":\"InternalServerError\",\"code\":500}}}}\n\n",
            chunk(Some("Hel"), None)
        )),
        "stream-reset" => {
            let first = Bytes::from(format!("data: {}\n\n", chunk(Some("Hel"), None)));
            let s = stream::unfold(Some(first), |first| async move {
                match first {
                    Some(bytes) => Some((Ok(bytes), None)),
                    None => {
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        Some((Err(std::io::Error::other("reset")), None))
                    }
                }
            });
            sse_response(Body::from_stream(s))
        }
        "stream-stall" => {
            let first = Bytes::from(format!("data: {}\n\n", chunk(Some("Hel"), None)));
            let s = stream::unfold(0u32, move |n| {
                let piece = first.clone();
                async move {
                    if n > 0 {
                        tokio::time::sleep(Duration::from_secs(5)).await;
                    }
                    Some((Ok::<_, Infallible>(piece), n + 1))
                }
            });
            sse_response(Body::from_stream(s))
        }
        "endless" => {
            let guard = DropFlag(seen);
            let s = stream::unfold(guard, |guard| async move {
                tokio::time::sleep(Duration::from_millis(20)).await;
                let piece = Bytes::from(format!("data: {}\n\n", chunk(Some("x"), None)));
                Some((Ok::<_, Infallible>(piece), guard))
            });
            sse_response(Body::from_stream(s))
        }
        "tools" => {
            let a = json!({"choices":[{"index":0,"delta":{"role":"assistant","tool_calls":[
                {"index":0,"id":"call_1","type":"function","function":{"name":"get_weather","arguments":""}}]}}]});
            let b = json!({"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"city\":"}}]}}]});
            let c = json!({"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"\"Paris\"}"}}]}}]});
            let d = json!({"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]});
            sse_response(format!("data: {a}\n\ndata: {b}\n\ndata: {c}\n\ndata: {d}\n\ndata: [DONE]\n\n"))
        }
        _ => sse_response(format!("{}data: [DONE]\n\n", lines("\n"))),
    }
}

async fn chat(State(seen): State<Arc<Seen>>, headers: HeaderMap, body: Bytes) -> Response {
    let hit = record(&seen, &headers, &body);
    let fault = fault(&headers);
    if let Some(r) = common_fault(&fault, hit).await {
        return r;
    }
    let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    if request["stream"] == json!(true) {
        return chat_stream(&fault, seen.clone());
    }
    axum::Json(json!({
        "id":"chatcmpl-1","object":"chat.completion","created":1,"model":request["model"],
        "choices":[{"index":0,"message":{"role":"assistant","content":"Hello"},"finish_reason":"stop","stop_reason":null}],
        "usage":{"prompt_tokens":5,"completion_tokens":1,"total_tokens":6},
        "nvext":{"worker_id":7}
    }))
    .into_response()
}

async fn completions(State(seen): State<Arc<Seen>>, headers: HeaderMap, body: Bytes) -> Response {
    let hit = record(&seen, &headers, &body);
    if let Some(r) = common_fault(&fault(&headers), hit).await {
        return r;
    }
    let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    if request["stream"] == json!(true) {
        let a = json!({"choices":[{"index":0,"text":"Once"}]});
        let b = json!({"choices":[{"index":0,"text":" upon","finish_reason":"length"}]});
        return sse_response(format!("data: {a}\n\ndata: {b}\n\ndata: [DONE]\n\n"));
    }
    axum::Json(json!({"id":"cmpl-1","object":"text_completion","choices":[{"index":0,"text":"Once upon","finish_reason":"length"}]}))
        .into_response()
}

async fn responses(State(seen): State<Arc<Seen>>, headers: HeaderMap, body: Bytes) -> Response {
    let hit = record(&seen, &headers, &body);
    if let Some(r) = common_fault(&fault(&headers), hit).await {
        return r;
    }
    let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    if request["stream"] == json!(true) {
        return sse_response(
            "event: response.created\ndata: {\"type\":\"response.created\",\"response\":{\"id\":\"resp_1\"}}\n\n\
             event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"delta\":\"Hi\"}\n\n\
             event: error\ndata: {\"type\":\"error\",\"message\":\"overloaded\",\"code\":\"server_error\"}\n\n",
        );
    }
    axum::Json(
        json!({"id":"resp_1","object":"response","status":"completed","output":[
        {"type":"reasoning","summary":[]},
        {"type":"message","role":"assistant","content":[{"type":"output_text","text":"Hi there"}]}],
        "usage":{"input_tokens":3,"output_tokens":2}}),
    )
    .into_response()
}

async fn embeddings(State(seen): State<Arc<Seen>>, headers: HeaderMap, body: Bytes) -> Response {
    let hit = record(&seen, &headers, &body);
    if let Some(r) = common_fault(&fault(&headers), hit).await {
        return r;
    }
    let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let texts = request["input"].as_array().cloned().unwrap_or_default();
    let base64 = request["encoding_format"] == json!("base64");
    let data: Vec<Value> = texts
        .iter()
        .enumerate()
        .rev()
        .map(|(i, _)| {
            let v = [i as f32, 0.5];
            let embedding = if base64 {
                // [i, 0.5] as little-endian f32 in base64, for i in 0..3.
                json!(["AAAAAAAAAD8=", "AACAPwAAAD8=", "AAAAQAAAAD8="][i])
            } else {
                json!(v)
            };
            json!({"object":"embedding","index":i,"embedding":embedding})
        })
        .collect();
    axum::Json(json!({"object":"list","data":data,"model":request["model"],"usage":{"prompt_tokens":4,"total_tokens":4}}))
        .into_response()
}

async fn ranking(State(seen): State<Arc<Seen>>, headers: HeaderMap, body: Bytes) -> Response {
    let hit = record(&seen, &headers, &body);
    if let Some(r) = common_fault(&fault(&headers), hit).await {
        return r;
    }
    // Deliberately unsorted: the client sorts.
    axum::Json(json!({"rankings":[{"index":0,"logit":-4.5},{"index":2,"logit":3.25},{"index":1,"logit":0.5}],
        "usage":{"prompt_tokens":9,"total_tokens":9}}))
    .into_response()
}

async fn models() -> Response {
    axum::Json(json!({"object":"list","data":[{"id":"meta/llama-3.1-8b-instruct","object":"model","owned_by":"system","max_model_len":8192}]}))
        .into_response()
}

async fn ready(State(seen): State<Arc<Seen>>, headers: HeaderMap) -> Response {
    let hit = seen.hits.fetch_add(1, Ordering::SeqCst);
    let not_ready = match fault(&headers).as_str() {
        "ready-after-2" => hit < 2,
        "never-ready" => true,
        _ => false,
    };
    if not_ready {
        (StatusCode::SERVICE_UNAVAILABLE, "loading").into_response()
    } else {
        axum::Json(
            json!({"object":"health.response","message":"Service is ready.","status":"ready"}),
        )
        .into_response()
    }
}

async fn metadata() -> Response {
    axum::Json(json!({"version":"1.8.0","selectedModelProfileId":"abc123","modelInfo":[{"shortName":"llama"}],
        "licenseInfo":{"name":"NVIDIA"}}))
    .into_response()
}

const METRICS: &str = "# TYPE vllm:kv_cache_usage_perc gauge\nvllm:kv_cache_usage_perc{model_name=\"m\"} 0.42\nvllm:num_requests_running{model_name=\"m\"} 2\nvllm:num_requests_waiting{model_name=\"m\"} 1\nvllm:time_to_first_token_seconds_bucket{le=\"0.5\",model_name=\"m\"} 3\nvllm:time_to_first_token_seconds_bucket{le=\"+Inf\",model_name=\"m\"} 4\nvllm:time_to_first_token_seconds_sum{model_name=\"m\"} 1.2\nvllm:time_to_first_token_seconds_count{model_name=\"m\"} 4\n";

async fn metrics_v1(headers: HeaderMap) -> Response {
    if fault(&headers) == "old-metrics" {
        return (StatusCode::NOT_FOUND, "").into_response();
    }
    METRICS.into_response()
}

async fn metrics_legacy() -> Response {
    "gpu_cache_usage_perc 0.1\nnum_requests_running 0\nnum_requests_waiting 0\n".into_response()
}
