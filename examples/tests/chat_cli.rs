//! The `chat` example's command line against a small OpenAI-compatible server on loopback:
//! plain and streamed replies, the `--json` contract (with `retries` after a 429), embeddings,
//! ranking, `--wait-ready`, the API key from the environment, and exit statuses.
//!
//! Runs the example through `cargo run --example chat`, which reuses the build cache.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

/// Counters shared by the handlers.
#[derive(Default)]
struct Seen {
    rate_limited: AtomicUsize,
    ready_polls: AtomicUsize,
}

/// A server on 127.0.0.1:0, stopped when dropped (with its runtime).
struct Server {
    url: String,
    _runtime: tokio::runtime::Runtime,
}

fn start() -> Server {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let app = Router::new()
        .route("/v1/chat/completions", post(chat))
        .route("/v1/embeddings", post(embeddings))
        .route("/v1/ranking", post(ranking))
        .route("/v1/health/ready", get(ready))
        .with_state(Arc::new(Seen::default()));
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    runtime.spawn(async move { axum::serve(listener, app).await });
    Server {
        url,
        _runtime: runtime,
    }
}

const USAGE: &str = r#"{"prompt_tokens":5,"completion_tokens":3,"total_tokens":8}"#;

fn json_response(status: StatusCode, body: Value) -> Response {
    (status, axum::Json(body)).into_response()
}

async fn chat(State(seen): State<Arc<Seen>>, headers: HeaderMap, body: String) -> Response {
    let request: Value = serde_json::from_str(&body).unwrap();
    let prompt = request["messages"][0]["content"].as_str().unwrap_or("");
    let reply = match prompt {
        "too long" => {
            return json_response(
                StatusCode::BAD_REQUEST,
                json!({"error": {
                    "message": "This model's maximum context length is 512 tokens",
                    "type": "invalid_request_error",
                    "param": "messages",
                    "code": "context_length_exceeded"
                }}),
            );
        }
        "rate limit once" if seen.rate_limited.fetch_add(1, Ordering::SeqCst) == 0 => {
            let mut response = json_response(
                StatusCode::TOO_MANY_REQUESTS,
                json!({"error": {"message": "slow down", "type": "rate_limit_error", "code": 429}}),
            );
            response
                .headers_mut()
                .insert("retry-after-ms", "10".parse().unwrap());
            return response;
        }
        "whoami" => headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("no key")
            .to_owned(),
        _ => "Hello, world".to_owned(),
    };
    if request["stream"] == true {
        let include_usage = request["stream_options"]["include_usage"] == true;
        // sse-starlette's CRLF framing, a comment, the role-only first delta, content in
        // pieces, the finish reason, a `choices: []` usage chunk, then `[DONE]`.
        let mut sse = String::from(": ping\r\n\r\n");
        let mut event = |data: &str| sse.push_str(&format!("data: {data}\r\n\r\n"));
        event(r#"{"id":"c1","choices":[{"index":0,"delta":{"role":"assistant"}}]}"#);
        for piece in reply.split_inclusive(' ') {
            let chunk = json!({"id":"c1","choices":[{"index":0,"delta":{"content": piece}}]});
            event(&chunk.to_string());
        }
        if prompt == "stream error" {
            event(
                r#"{"error":{"message":"engine died mid-stream","type":"InternalServerError","code":500}}"#,
            );
        } else {
            event(r#"{"id":"c1","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#);
            if include_usage {
                event(&format!(r#"{{"id":"c1","choices":[],"usage":{USAGE}}}"#));
            }
            event("[DONE]");
        }
        return Response::builder()
            .header(header::CONTENT_TYPE, "text/event-stream")
            .body(Body::from(sse))
            .unwrap();
    }
    json_response(
        StatusCode::OK,
        json!({
            "id": "c1",
            "object": "chat.completion",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": reply},
                         "finish_reason": "length"}],
            "usage": serde_json::from_str::<Value>(USAGE).unwrap(),
        }),
    )
}

async fn embeddings(body: String) -> Response {
    let request: Value = serde_json::from_str(&body).unwrap();
    let inputs = request["input"].as_array().cloned().unwrap_or_default();
    let data: Vec<Value> = inputs
        .iter()
        .enumerate()
        .map(|(i, _)| json!({"object": "embedding", "index": i, "embedding": [i as f64, 0.5]}))
        .collect();
    json_response(
        StatusCode::OK,
        json!({"object": "list", "data": data, "model": request["model"],
               "input_type": request["input_type"],
               "usage": {"prompt_tokens": 4, "total_tokens": 4}}),
    )
}

async fn ranking(body: String) -> Response {
    let request: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(request["query"]["text"], "what is a GPU?");
    // Unsorted on purpose: the client sorts by descending logit.
    json_response(
        StatusCode::OK,
        json!({"rankings": [{"index": 0, "logit": -1.5}, {"index": 1, "logit": 3.25}]}),
    )
}

async fn ready(State(seen): State<Arc<Seen>>) -> Response {
    if seen.ready_polls.fetch_add(1, Ordering::SeqCst) == 0 {
        (StatusCode::SERVICE_UNAVAILABLE, "loading").into_response()
    } else {
        json_response(StatusCode::OK, json!({"status": "ready"}))
    }
}

/// What one run of `chat ARGS...` gave.
struct Run {
    status: i32,
    stdout: String,
    stderr: String,
}

fn chat_cli(args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut command = Command::new(env!("CARGO"));
    command
        .args(["run", "--quiet", "--example", "chat", "--"])
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    for name in ["NVIDIA_API_KEY", "NGC_API_KEY", "OPENAI_API_KEY"] {
        command.env_remove(name);
    }
    command.envs(env.iter().copied());
    let output = command.output().expect("cargo runs");
    Run {
        status: output.status.code().expect("an exit status"),
        stdout: String::from_utf8(output.stdout).expect("UTF-8 stdout"),
        stderr: String::from_utf8(output.stderr).expect("UTF-8 stderr"),
    }
}

fn json(run: &Run) -> Value {
    serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("{e}: not JSON:\n{}\n{}", run.stdout, run.stderr))
}

#[test]
fn plain_and_streamed_replies() {
    let s = start();
    let run = chat_cli(&["--base-url", &s.url, "--model=m", "hi"], &[]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert_eq!(run.stdout, "Hello, world\n");

    let run = chat_cli(
        &["--base-url", &s.url, "--model", "m", "--stream", "hi"],
        &[],
    );
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert_eq!(run.stdout, "Hello, world\n");
}

#[test]
fn json_contract_plain_and_streamed() {
    let s = start();
    let url = format!("{}/v1", s.url);
    let run = chat_cli(
        &[
            "--base-url",
            &url,
            "--model",
            "m",
            "--json",
            "--max-tokens=3",
            "hi",
        ],
        &[],
    );
    assert_eq!(run.status, 0, "{}", run.stderr);
    let out = json(&run);
    assert_eq!(
        out,
        json!({"content": "Hello, world", "finish_reason": "length",
               "usage": {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8},
               "retries": 0})
    );

    let run = chat_cli(
        &[
            "--base-url",
            &url,
            "--model",
            "m",
            "--stream",
            "--json",
            "hi",
        ],
        &[],
    );
    assert_eq!(run.status, 0, "{}", run.stderr);
    let out = json(&run);
    assert_eq!(out["content"], "Hello, world");
    assert_eq!(out["finish_reason"], "stop");
    assert_eq!(out["usage"]["total_tokens"], 8);
    assert_eq!(out["retries"], 0);
}

#[test]
fn a_429_is_retried_and_counted() {
    let s = start();
    let run = chat_cli(
        &[
            "--base-url",
            &s.url,
            "--model",
            "m",
            "--json",
            "rate limit once",
        ],
        &[],
    );
    assert_eq!(run.status, 0, "{}", run.stderr);
    let out = json(&run);
    assert_eq!(out["retries"], 1, "{out}");
    assert_eq!(out["content"], "Hello, world");

    // With no retries allowed the 429 is the answer: exit 1 with the server's message.
    let s = start();
    let run = chat_cli(
        &[
            "--base-url",
            &s.url,
            "--model",
            "m",
            "--max-retries",
            "0",
            "rate limit once",
        ],
        &[],
    );
    assert_eq!(run.status, 1, "{}{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("HTTP 429"), "{}", run.stderr);
    assert!(run.stderr.contains("slow down"), "{}", run.stderr);
}

#[test]
fn api_errors_exit_1_with_the_servers_message() {
    let s = start();
    for extra in [&[][..], &["--stream"][..]] {
        let mut args = vec!["--base-url", &s.url, "--model", "m"];
        args.extend_from_slice(extra);
        args.push("too long");
        let run = chat_cli(&args, &[]);
        assert_eq!(run.status, 1, "{extra:?}: {}{}", run.stdout, run.stderr);
        assert!(run.stdout.is_empty(), "{}", run.stdout);
        for needle in [
            "HTTP 400",
            "maximum context length is 512 tokens",
            "context_length_exceeded",
        ] {
            assert!(
                run.stderr.contains(needle),
                "no `{needle}` in {}",
                run.stderr
            );
        }
    }

    // An error object inside the stream, after HTTP 200.
    let run = chat_cli(
        &[
            "--base-url",
            &s.url,
            "--model",
            "m",
            "--stream",
            "stream error",
        ],
        &[],
    );
    assert_eq!(run.status, 1, "{}{}", run.stdout, run.stderr);
    assert_eq!(run.stdout, "Hello, world\n");
    assert!(
        run.stderr.contains("engine died mid-stream"),
        "{}",
        run.stderr
    );

    // Nobody listening: exit 1 too.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    let run = chat_cli(
        &[
            "--base-url",
            &closed,
            "--model",
            "m",
            "--max-retries=0",
            "hi",
        ],
        &[],
    );
    assert_eq!(run.status, 1, "{}{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("cannot connect"), "{}", run.stderr);
}

#[test]
fn api_key_from_flag_then_environment() {
    let s = start();
    let base = ["--base-url", &s.url, "--model", "m", "whoami"];
    assert_eq!(chat_cli(&base, &[]).stdout, "no key\n");
    let env = [("NGC_API_KEY", "ngc-key"), ("OPENAI_API_KEY", "oai-key")];
    assert_eq!(chat_cli(&base, &env).stdout, "Bearer ngc-key\n");
    let mut args = vec!["--api-key", "flag-key"];
    args.extend_from_slice(&base);
    assert_eq!(chat_cli(&args, &env).stdout, "Bearer flag-key\n");
}

#[test]
fn embeddings_and_ranking_print_json() {
    let s = start();
    let run = chat_cli(
        &[
            "--base-url",
            &s.url,
            "--model",
            "e",
            "--embed",
            "--input-type",
            "query",
            "a",
            "b",
        ],
        &[],
    );
    assert_eq!(run.status, 0, "{}", run.stderr);
    let out = json(&run);
    assert_eq!(out["embeddings"], json!([[0.0, 0.5], [1.0, 0.5]]));
    assert_eq!(out["usage"]["total_tokens"], 4);
    assert_eq!(out["retries"], 0);

    let run = chat_cli(
        &[
            "--base-url",
            &s.url,
            "--model",
            "r",
            "--rank",
            "what is a GPU?",
            "--passage",
            "Bananas are yellow.",
            "--passage=A GPU is a processor.",
        ],
        &[],
    );
    assert_eq!(run.status, 0, "{}", run.stderr);
    let out = json(&run);
    assert_eq!(
        out["rankings"],
        json!([
            {"index": 1, "logit": 3.25, "passage": "A GPU is a processor."},
            {"index": 0, "logit": -1.5, "passage": "Bananas are yellow."}
        ])
    );
    assert_eq!(out["usage"], Value::Null);
}

#[test]
fn wait_ready_polls_until_ready() {
    let s = start();
    let run = chat_cli(
        &[
            "--base-url",
            &s.url,
            "--model",
            "m",
            "--wait-ready",
            "30",
            "hi",
        ],
        &[],
    );
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert_eq!(run.stdout, "Hello, world\n");
}

#[test]
fn bad_usage_exits_2() {
    let cases: &[(&[&str], &str)] = &[
        (&["--model", "m", "hi"], "--base-url is required"),
        (&["--base-url", "http://x", "hi"], "--model is required"),
        (&["--base-url", "x:1", "--model", "m", "hi"], "--base-url"),
        (
            &[
                "--base-url",
                "http://x",
                "--model",
                "m",
                "--max-tokens",
                "a",
                "hi",
            ],
            "--max-tokens",
        ),
        (&["--base-url", "http://x", "--model", "m"], "one PROMPT"),
        (
            &[
                "--base-url",
                "http://x",
                "--model",
                "m",
                "--frobnicate",
                "hi",
            ],
            "--frobnicate",
        ),
        (
            &[
                "--base-url",
                "http://x",
                "--model",
                "m",
                "--stream=yes",
                "hi",
            ],
            "--stream takes no value",
        ),
        (
            &[
                "--base-url",
                "http://x",
                "--model",
                "m",
                "--passage",
                "p",
                "hi",
            ],
            "--passage is for --rank",
        ),
        (
            &["--base-url", "http://x", "--model", "m", "--rank", "q"],
            "no --passage",
        ),
        (
            &[
                "--base-url",
                "http://x",
                "--model",
                "m",
                "--embed",
                "--stream",
                "t",
            ],
            "--stream is for chat",
        ),
    ];
    for (args, needle) in cases {
        let run = chat_cli(args, &[]);
        assert_eq!(run.status, 2, "{args:?}: {}{}", run.stdout, run.stderr);
        assert!(run.stdout.is_empty(), "{args:?}: {}", run.stdout);
        assert!(
            run.stderr.contains(needle) && run.stderr.contains("usage: chat"),
            "{args:?}: no `{needle}` in {}",
            run.stderr
        );
    }
}

#[test]
fn help_exits_0() {
    let run = chat_cli(&["--help"], &[]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    for needle in [
        "usage: chat",
        "--wait-ready",
        "NVIDIA_API_KEY",
        "Exit status",
    ] {
        assert!(
            run.stdout.contains(needle),
            "no `{needle}` in {}",
            run.stdout
        );
    }
}
