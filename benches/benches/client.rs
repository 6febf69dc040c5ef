//! nim-client benchmarks.
//!
//! * `sse_decode`: [`nim_client::sse::SseDecoder`] over a recorded-style chat stream of 10,000
//!   chunks with sse-starlette's CRLF framing and a `: ping` comment every 100 chunks, fed in
//!   16 KiB reads: bytes per second, and events per second with and without decoding each
//!   event's JSON into a [`nim_client::ChatCompletionChunk`].
//! * `chat_requests`: small non-streaming chat completions against an axum server on
//!   127.0.0.1:0 in this process, one at a time and 16 at once, by nim-client and, in the same
//!   run against the same server, by async-openai (a dev-dependency of this package only).
//!   Both clients send the same body and decode the same ~400-byte answer; neither retries.
//!
//! ```sh
//! cargo bench -p nim-benches --bench client -- --warm-up-time 1 --measurement-time 3
//! ```

// criterion_group! and criterion_main! generate undocumented functions.
#![allow(missing_docs)]

use std::hint::black_box;
use std::time::Duration;

use async_openai::config::OpenAIConfig;
use async_openai::types::chat::{
    ChatCompletionRequestUserMessageArgs, CreateChatCompletionRequest,
    CreateChatCompletionRequestArgs,
};
use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::post;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use futures_util::future::join_all;
use nim_client::sse::SseDecoder;
use nim_client::{ChatCompletionChunk, ChatCompletionRequest, ChatMessage, Client, ClientConfig};

const CHUNKS: usize = 10_000;
const READ: usize = 16 * 1024;
const CONCURRENT: usize = 16;

/// A chat stream as vLLM-based NIMs send it, with CRLF line endings.
fn recorded_stream(chunks: usize) -> Vec<u8> {
    let mut out = String::new();
    out.push_str(
        "data: {\"id\":\"chatcmpl-5f1c\",\"object\":\"chat.completion.chunk\",\"created\":1767225600,\
         \"model\":\"meta/llama-3.1-8b-instruct\",\"choices\":[{\"index\":0,\"delta\":\
         {\"role\":\"assistant\",\"content\":\"\"},\"logprobs\":null,\"finish_reason\":null}]}\r\n\r\n",
    );
    let words = [
        "The", " GPU", " streams", " tokens", " quickly", ",", " one", " by", " one.",
    ];
    for i in 0..chunks {
        if i % 100 == 99 {
            out.push_str(": ping - 2026-01-01 00:00:00.000000\r\n\r\n");
        }
        let word = words[i % words.len()];
        out.push_str(&format!(
            "data: {{\"id\":\"chatcmpl-5f1c\",\"object\":\"chat.completion.chunk\",\
             \"created\":1767225600,\"model\":\"meta/llama-3.1-8b-instruct\",\"choices\":\
             [{{\"index\":0,\"delta\":{{\"content\":\"{word}\"}},\"logprobs\":null,\
             \"finish_reason\":null}}],\"usage\":{{\"prompt_tokens\":12,\
             \"completion_tokens\":{},\"total_tokens\":{}}}}}\r\n\r\n",
            i + 1,
            i + 13
        ));
    }
    out.push_str("data: [DONE]\r\n\r\n");
    out.into_bytes()
}

fn sse(c: &mut Criterion) {
    let stream = recorded_stream(CHUNKS);
    let events = (CHUNKS + 2) as u64;
    let decode = |parse: bool| {
        let mut decoder = SseDecoder::new();
        let mut out = Vec::with_capacity(64);
        let mut count = 0usize;
        for read in stream.chunks(READ) {
            decoder.push(read, &mut out);
            for event in out.drain(..) {
                if parse && event.data != "[DONE]" {
                    let chunk: ChatCompletionChunk =
                        serde_json::from_str(&event.data).expect("valid chunk");
                    black_box(chunk);
                } else {
                    black_box(event);
                }
                count += 1;
            }
        }
        count += decoder.finish().into_iter().count();
        assert_eq!(count as u64, events);
        count
    };

    let mut group = c.benchmark_group("sse_decode");
    group.throughput(Throughput::Bytes(stream.len() as u64));
    group.bench_function("10k_chunks_crlf/bytes", |b| b.iter(|| decode(false)));
    group.throughput(Throughput::Elements(events));
    group.bench_function("10k_chunks_crlf/events", |b| b.iter(|| decode(false)));
    group.bench_function("10k_chunks_crlf/events+json", |b| b.iter(|| decode(true)));
    group.finish();
}

const ANSWER: &str = r#"{"id":"chatcmpl-8d2e","object":"chat.completion","created":1767225600,"model":"meta/llama-3.1-8b-instruct","choices":[{"index":0,"message":{"role":"assistant","content":"Hello! How can I help you today?","refusal":null},"logprobs":null,"finish_reason":"stop","stop_reason":null}],"usage":{"prompt_tokens":12,"completion_tokens":9,"total_tokens":21},"prompt_logprobs":null}"#;

fn requests(c: &mut Criterion) {
    // async-openai's reqwest 0.13 is built without a bundled crypto provider (no aws-lc, no
    // native TLS); the requests are plain HTTP, but building a client needs a provider.
    let _ = rustls::crypto::ring::default_provider().install_default();

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let app = Router::new().route(
        "/v1/chat/completions",
        post(|_body: axum::body::Bytes| async {
            ([(header::CONTENT_TYPE, "application/json")], ANSWER).into_response()
        }),
    );
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("a loopback port");
    let url = format!("http://{}/v1", listener.local_addr().expect("an address"));
    runtime.spawn(async move { axum::serve(listener, app).await });

    let nim = Client::new(
        ClientConfig::new(url.as_str())
            .api_key("bench-key")
            .max_retries(0),
    )
    .expect("a nim-client");
    let mut nim_request = ChatCompletionRequest::new(
        "meta/llama-3.1-8b-instruct",
        vec![ChatMessage::user("Hello!")],
    );
    nim_request.max_completion_tokens = Some(16);

    let openai = async_openai::Client::with_config(
        OpenAIConfig::new()
            .with_api_base(url.as_str())
            .with_api_key("bench-key"),
    );
    let openai_request: CreateChatCompletionRequest = CreateChatCompletionRequestArgs::default()
        .model("meta/llama-3.1-8b-instruct")
        .messages([ChatCompletionRequestUserMessageArgs::default()
            .content("Hello!")
            .build()
            .expect("a message")
            .into()])
        .max_completion_tokens(16u32)
        .build()
        .expect("a request");

    // Both answer the same before anything is measured.
    let a = runtime
        .block_on(nim.chat(&nim_request))
        .expect("nim-client");
    let b = runtime
        .block_on(openai.chat().create(openai_request.clone()))
        .expect("async-openai");
    assert_eq!(a.text().as_deref(), b.choices[0].message.content.as_deref());

    let mut group = c.benchmark_group("chat_requests");
    group.throughput(Throughput::Elements(1));
    group.bench_function("sequential/nim-client", |bench| {
        bench.iter(|| runtime.block_on(nim.chat(&nim_request)).expect("answer"));
    });
    group.bench_function("sequential/async-openai", |bench| {
        bench.iter(|| {
            runtime
                .block_on(openai.chat().create(openai_request.clone()))
                .expect("answer")
        });
    });
    group.throughput(Throughput::Elements(CONCURRENT as u64));
    group.bench_function("16_concurrent/nim-client", |bench| {
        bench.iter(|| {
            runtime.block_on(async {
                let answers = join_all((0..CONCURRENT).map(|_| nim.chat(&nim_request))).await;
                answers.into_iter().for_each(|a| {
                    black_box(a.expect("answer"));
                });
            });
        });
    });
    group.bench_function("16_concurrent/async-openai", |bench| {
        bench.iter(|| {
            runtime.block_on(async {
                let chat = openai.chat();
                let answers =
                    join_all((0..CONCURRENT).map(|_| chat.create(openai_request.clone()))).await;
                answers.into_iter().for_each(|a| {
                    black_box(a.expect("answer"));
                });
            });
        });
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3));
    targets = sse, requests
}
criterion_main!(benches);
