//! The client against a peer: aimock (`@copilotkit/aimock`, pinned in `tests/peer/package.json`),
//! an OpenAI-compatible mock server nobody on this team wrote, serving the fixtures in
//! `tests/peer/fixtures/`: a chat completion with usage, the same streamed with a usage chunk,
//! a tool call, a 429 and a 429-then-200 sequence.
//!
//! Needs Node.js 20.15 or later and `npm ci` in `nim-client/tests/peer` (`.ci/run` does both).
//! Without them the test prints `skipped: <reason>` and passes, unless
//! `NIM_CLIENT_PEER=require` (set by `.ci/run`), which makes it fail; `NIM_CLIENT_PEER=skip`
//! skips it.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use nim_client::{
    ChatAccumulator, ChatCompletionRequest, ChatMessage, Client, ClientConfig, Error, ErrorCode,
    FinishReason, Tool,
};
use serde_json::{Value, json};

/// A running aimock, killed on drop.
struct Peer {
    child: Child,
    url: String,
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn peer_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peer")
}

/// Why the peer cannot run here, if it cannot.
fn missing() -> Option<String> {
    let node = match Command::new("node").arg("--version").output() {
        Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout).trim().to_owned(),
        Ok(out) => return Some(format!("`node --version` exited with {}", out.status)),
        Err(e) => return Some(format!("no `node` on PATH ({e})")),
    };
    let version: Vec<u32> = node
        .trim_start_matches('v')
        .split('.')
        .map(|p| p.parse().unwrap_or(0))
        .collect();
    if version.as_slice() < [20, 15].as_slice() {
        return Some(format!("node {node} is older than aimock's minimum, 20.15"));
    }
    let cli = peer_dir().join("node_modules/@copilotkit/aimock/dist/cli.js");
    if !cli.is_file() {
        return Some(format!(
            "{} is missing; run `npm ci` in nim-client/tests/peer",
            cli.display()
        ));
    }
    None
}

/// Starts aimock on a free port (it binds port 0 and prints its URL).
fn start() -> Peer {
    let dir = peer_dir();
    let mut child = Command::new("node")
        .arg(dir.join("node_modules/@copilotkit/aimock/dist/cli.js"))
        .args(["--host", "127.0.0.1", "--port", "0", "--chunk-size", "8"])
        .arg("--fixtures")
        .arg(dir.join("fixtures"))
        .current_dir(&dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("node starts");
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = mpsc::channel();
    // Reads the URL, then keeps draining the log so that the pipe never fills.
    std::thread::spawn(move || {
        let mut tx = Some(tx);
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(url) = line.split("listening on ").nth(1)
                && let Some(tx) = tx.take()
            {
                let _ = tx.send(url.trim().to_owned());
            }
        }
    });
    let mut peer = Peer {
        child,
        url: String::new(),
    };
    peer.url = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("aimock prints `listening on URL` within 30 s");
    peer
}

fn client(url: &str, retries: u32) -> Client {
    Client::new(
        ClientConfig::new(format!("{url}/v1"))
            .api_key("peer-test-key")
            .timeout(Duration::from_secs(10))
            .max_retries(retries),
    )
    .unwrap()
}

fn ask(text: &str) -> ChatCompletionRequest {
    ChatCompletionRequest::new("peer-model", vec![ChatMessage::user(text)]).max_tokens(32)
}

const HELLO: &str = "Hello from aimock, a server nobody on the team wrote.";

#[test]
fn against_aimock() {
    let mode = std::env::var("NIM_CLIENT_PEER").unwrap_or_default();
    let skip = |reason: &str| {
        // Written past libtest's capture, so that the reason shows.
        let _ = writeln!(std::io::stderr(), "skipped: {reason}");
    };
    match mode.as_str() {
        "skip" => return skip("NIM_CLIENT_PEER=skip"),
        "" | "require" => {}
        other => panic!("NIM_CLIENT_PEER={other:?}: expected `require`, `skip` or unset"),
    }
    if let Some(reason) = missing() {
        assert!(mode != "require", "NIM_CLIENT_PEER=require, but {reason}");
        return skip(&reason);
    }
    let peer = start();
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(run(&peer.url));
}

async fn run(url: &str) {
    let c = client(url, 2);

    // A plain completion, with the fixture's usage.
    let out = c.chat(&ask("hello")).await.unwrap();
    assert_eq!(out.text().as_deref(), Some(HELLO));
    assert_eq!(out.object.as_deref(), Some("chat.completion"));
    assert_eq!(out.choices[0].finish_reason, Some(FinishReason::Stop));
    let usage = out.usage.unwrap();
    assert_eq!(
        (
            usage.prompt_tokens,
            usage.completion_tokens,
            usage.total_tokens
        ),
        (3, 11, 14)
    );

    // Streamed in 8-character pieces, a role-only first delta and a `choices: []` usage chunk.
    let mut stream = c
        .chat_stream(&ask("hello").include_usage(true))
        .await
        .unwrap();
    let (mut chunks, mut usage_chunks) = (0, 0);
    let mut acc = ChatAccumulator::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.unwrap();
        chunks += 1;
        if chunk.choices.is_empty() && chunk.usage.is_some() {
            usage_chunks += 1;
        }
        acc.push(&chunk);
    }
    assert!(chunks >= 8, "{chunks} chunks");
    assert_eq!(usage_chunks, 1);
    let done = acc.finish();
    assert_eq!(done.text().as_deref(), Some(HELLO));
    assert_eq!(done.usage.unwrap().total_tokens, 14);
    let done = c
        .chat_stream(&ask("hello").include_usage(true))
        .await
        .unwrap()
        .collect_completion()
        .await
        .unwrap();
    assert_eq!(done.text().as_deref(), Some(HELLO));
    assert_eq!(done.choices[0].finish_reason, Some(FinishReason::Stop));
    assert_eq!(done.usage.unwrap().completion_tokens, 11);

    // A tool call, plain and streamed.
    let tools = vec![Tool::function(
        "get_weather",
        "The weather in a city",
        json!({"type": "object", "properties": {"location": {"type": "string"},
               "unit": {"type": "string"}}, "required": ["location"]}),
    )];
    let request = ask("What is the weather in Paris?").tools(tools);
    let plain = c.chat(&request).await.unwrap();
    let streamed = c
        .chat_stream(&request)
        .await
        .unwrap()
        .collect_completion()
        .await
        .unwrap();
    for out in [plain, streamed] {
        let choice = &out.choices[0];
        assert_eq!(choice.finish_reason, Some(FinishReason::ToolCalls));
        let calls = choice.message.tool_calls.as_ref().expect("tool calls");
        assert_eq!(calls.len(), 1);
        assert!(calls[0].id.as_deref().is_some_and(|id| !id.is_empty()));
        let function = calls[0].function.as_ref().unwrap();
        assert_eq!(function.name, "get_weather");
        let arguments: Value = serde_json::from_str(&function.arguments).unwrap();
        assert_eq!(arguments, json!({"location": "Paris", "unit": "celsius"}));
    }
    assert_eq!(c.retries_total(), 0);

    // A 429 on every attempt: one retry after the server's `Retry-After: 1`, then the error.
    let limited = client(url, 1);
    let started = Instant::now();
    let err = limited.chat(&ask("rate limit")).await.unwrap_err();
    let elapsed = started.elapsed();
    let Error::Api(api) = &err else {
        panic!("expected Error::Api, got {err:?}")
    };
    assert_eq!(api.status, 429);
    assert_eq!(api.message, "Rate limit reached for requests");
    assert_eq!(api.kind.as_deref(), Some("rate_limit_error"));
    assert_eq!(
        api.code,
        Some(ErrorCode::Text("rate_limit_exceeded".to_owned()))
    );
    assert_eq!(api.header("retry-after"), Some("1"));
    assert_eq!(limited.retries_total(), 1);
    assert!(elapsed >= Duration::from_millis(950), "{elapsed:?}");

    // A 429, then success on the retry.
    let flaky = client(url, 2);
    let out = flaky.chat(&ask("flaky")).await.unwrap();
    assert_eq!(out.text().as_deref(), Some("second time lucky"));
    assert_eq!(flaky.retries_total(), 1);

    // No fixture matches: aimock's 404, which is not retried.
    let err = c.chat(&ask("no such fixture")).await.unwrap_err();
    assert_eq!(err.status(), Some(404), "{err}");
    assert_eq!(c.retries_total(), 0);
}
