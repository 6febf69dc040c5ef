//! The client against the in-repo fake NIM on loopback, with injected faults.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod server;

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use nim_client::{
    ChatCompletionRequest, ChatMessage, Client, ClientConfig, CompletionRequest, EmbeddingRequest,
    EncodingFormat, Error, ErrorCode, ExtensionPlacement, FinishReason, InputType, NvExt,
    RankingRequest, ResponseRequest, Truncate,
};
use serde_json::json;

fn config(url: &str, fault: &str) -> ClientConfig {
    ClientConfig::new(format!("{url}/v1"))
        .api_key("nvapi-test-key")
        .header("x-fault", fault)
        .timeout(Duration::from_secs(5))
}

fn client(url: &str, fault: &str) -> Client {
    Client::new(config(url, fault)).unwrap()
}

fn hello() -> ChatCompletionRequest {
    ChatCompletionRequest::new("m", vec![ChatMessage::user("hi")]).max_tokens(8)
}

#[tokio::test]
async fn chat_sends_key_and_omits_unset_fields() {
    let s = server::start().await;
    let c = client(&s.url, "");
    let out = c
        .chat(&hello().nim(NvExt::default().top_k(3)))
        .await
        .unwrap();
    assert_eq!(out.text().as_deref(), Some("Hello"));
    assert_eq!(out.choices[0].finish_reason, Some(FinishReason::Stop));
    assert_eq!(out.usage.unwrap().total_tokens, 6);
    assert!(out.extra.contains_key("nvext"));
    assert_eq!(
        s.seen.last_body.lock().unwrap().clone().unwrap(),
        json!({"model":"m","messages":[{"role":"user","content":"hi"}],"max_tokens":8,"top_k":3})
    );
    assert_eq!(
        s.seen.last_auth.lock().unwrap().as_deref(),
        Some("Bearer nvapi-test-key")
    );
    assert!(!format!("{c:?}").contains("nvapi-test-key"));
}

#[tokio::test]
async fn nvext_placement_for_nim_1x() {
    let s = server::start().await;
    let c = Client::new(config(&s.url, "").extension_placement(ExtensionPlacement::Nvext)).unwrap();
    let req = hello().nim(
        NvExt::default()
            .repetition_penalty(1.1)
            .guided_choice(vec!["yes".into(), "no".into()]),
    );
    c.chat(&req).await.unwrap();
    let body = s.seen.last_body.lock().unwrap().clone().unwrap();
    assert_eq!(
        body["nvext"],
        json!({"repetition_penalty":1.1f32,"guided_choice":["yes","no"]})
    );
    assert!(body.get("repetition_penalty").is_none());
    let bad = hello().nim(NvExt::default().top_k(0));
    assert!(matches!(
        c.chat(&bad).await,
        Err(Error::InvalidRequest { field: "top_k", .. })
    ));
}

#[tokio::test]
async fn retries_429_with_retry_after() {
    let s = server::start().await;
    let c = client(&s.url, "429-once");
    let start = Instant::now();
    c.chat(&hello()).await.unwrap();
    assert!(
        start.elapsed() >= Duration::from_millis(950),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(s.seen.hits.load(Ordering::SeqCst), 2);
    assert_eq!(c.retries_total(), 1);
}

#[tokio::test]
async fn retry_after_beyond_the_cap_is_not_retried() {
    let s = server::start().await;
    let err = client(&s.url, "429-long").chat(&hello()).await.unwrap_err();
    assert_eq!(err.status(), Some(429));
    assert_eq!(s.seen.hits.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn retries_503_then_succeeds_and_gives_up_after_max() {
    let s = server::start().await;
    client(&s.url, "503-then-ok").chat(&hello()).await.unwrap();
    assert_eq!(s.seen.hits.load(Ordering::SeqCst), 2);

    let s = server::start().await;
    let c = Client::new(config(&s.url, "503-always").max_retries(1)).unwrap();
    let err = c.chat(&hello()).await.unwrap_err();
    assert_eq!(err.status(), Some(503));
    assert_eq!(err.api_error().unwrap().message, "Service Unavailable");
    assert_eq!(s.seen.hits.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn connection_reset_mid_body_is_retried() {
    let s = server::start().await;
    let out = client(&s.url, "reset-then-ok")
        .chat(&hello())
        .await
        .unwrap();
    assert_eq!(out.text().as_deref(), Some("Hello"));
    assert_eq!(s.seen.hits.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn slow_first_byte_times_out() {
    let s = server::start().await;
    let c = Client::new(
        config(&s.url, "slow")
            .timeout(Duration::from_millis(300))
            .max_retries(1),
    )
    .unwrap();
    let err = c.chat(&hello()).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Timeout {
                what: "request",
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(s.seen.hits.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn connection_refused_is_a_transport_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let c = Client::new(ClientConfig::new(url).max_retries(0)).unwrap();
    assert!(matches!(c.models().await, Err(Error::Transport { .. })));
}

#[tokio::test]
async fn every_error_body_shape() {
    let s = server::start().await;
    let cases: [(&str, u16, &str, Option<ErrorCode>); 6] = [
        (
            "err-nested",
            400,
            "maximum context length is 512",
            Some(ErrorCode::Number(400)),
        ),
        (
            "err-nested-string",
            400,
            "too long",
            Some(ErrorCode::Text("context_length_exceeded".into())),
        ),
        ("err-flat", 400, "bad top_k", Some(ErrorCode::Number(400))),
        ("err-detail", 401, "Invalid API key", None),
        ("err-empty", 500, "Internal Server Error", None),
        ("err-html", 502, "Bad Gateway", None),
    ];
    for (fault, status, message, code) in cases {
        let c = Client::new(config(&s.url, fault).max_retries(0)).unwrap();
        let err = c.chat(&hello()).await.unwrap_err();
        let api = err
            .api_error()
            .unwrap_or_else(|| panic!("{fault}: {err:?}"));
        assert_eq!(api.status, status, "{fault}");
        assert_eq!(api.message, message, "{fault}");
        assert_eq!(api.code, code, "{fault}");
        assert!(!err.to_string().contains("nvapi-test-key"));
    }
    let c = Client::new(config(&s.url, "err-html").max_retries(0)).unwrap();
    let err = c.chat(&hello()).await.unwrap_err();
    assert!(err.api_error().unwrap().body.contains("<h1>502"));
}

async fn stream_text(fault: &str) -> nim_client::ChatCompletion {
    let s = server::start().await;
    let stream = client(&s.url, fault)
        .chat_stream(&hello().include_usage(true))
        .await
        .unwrap();
    stream.collect_completion().await.unwrap()
}

#[tokio::test]
async fn streams_with_lf_crlf_cr_and_keepalives() {
    for fault in ["", "crlf", "cr", "keepalive"] {
        let out = stream_text(fault).await;
        assert_eq!(out.text().as_deref(), Some("Hello"), "{fault}");
        assert_eq!(
            out.choices[0].finish_reason,
            Some(FinishReason::Stop),
            "{fault}"
        );
    }
}

#[tokio::test]
async fn usage_only_final_chunk_and_eof_without_blank_line() {
    for fault in ["usage", "no-final-blank"] {
        let out = stream_text(fault).await;
        assert_eq!(out.text().as_deref(), Some("Hello"));
        assert_eq!(out.usage.unwrap().total_tokens, 7, "{fault}");
    }
    assert_eq!(stream_text("multiline").await.text().as_deref(), Some("x"));
}

#[tokio::test]
async fn stream_tool_calls() {
    let out = stream_text("tools").await;
    let call = &out.choices[0].message.tool_calls.as_ref().unwrap()[0];
    assert_eq!(call.id.as_deref(), Some("call_1"));
    let f = call.function.as_ref().unwrap();
    assert_eq!(
        (f.name.as_str(), f.arguments.as_str()),
        ("get_weather", "{\"city\":\"Paris\"}")
    );
    assert_eq!(out.choices[0].finish_reason, Some(FinishReason::ToolCalls));
}

#[tokio::test]
async fn error_after_http_200_is_typed() {
    let s = server::start().await;
    let mut stream = client(&s.url, "stream-error")
        .chat_stream(&hello())
        .await
        .unwrap();
    assert!(stream.next().await.unwrap().is_ok());
    match stream.next().await.unwrap() {
        Err(Error::Stream(e)) => {
            assert_eq!(e.message, "engine died");
            assert_eq!(e.code, Some(ErrorCode::Number(500)));
        }
        other => panic!("{other:?}"),
    }
    assert!(stream.next().await.is_none());
}

#[tokio::test]
async fn reset_mid_stream_is_not_retried() {
    let s = server::start().await;
    let mut stream = client(&s.url, "stream-reset")
        .chat_stream(&hello())
        .await
        .unwrap();
    assert!(stream.next().await.unwrap().is_ok());
    assert!(matches!(
        stream.next().await.unwrap(),
        Err(Error::Transport { .. })
    ));
    assert!(stream.next().await.is_none());
    assert_eq!(s.seen.hits.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn stream_idle_timeout() {
    let s = server::start().await;
    let c =
        Client::new(config(&s.url, "stream-stall").stream_idle_timeout(Duration::from_millis(200)))
            .unwrap();
    let mut stream = c.chat_stream(&hello()).await.unwrap();
    assert!(stream.next().await.unwrap().is_ok());
    assert!(matches!(
        stream.next().await.unwrap(),
        Err(Error::Timeout {
            what: "stream idle",
            ..
        })
    ));
}

#[tokio::test]
async fn dropping_a_stream_closes_the_connection() {
    let s = server::start().await;
    let mut stream = client(&s.url, "endless")
        .chat_stream(&hello())
        .await
        .unwrap();
    assert!(stream.next().await.unwrap().is_ok());
    drop(stream);
    let deadline = Instant::now() + Duration::from_secs(3);
    while !s.seen.stream_dropped.load(Ordering::SeqCst) {
        assert!(Instant::now() < deadline, "the server still streams");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn completions_plain_and_streamed() {
    let s = server::start().await;
    let c = client(&s.url, "");
    let req = CompletionRequest::new("m", "Once").max_tokens(2);
    let out = c.completion(&req).await.unwrap();
    assert_eq!(out.choices[0].text, "Once upon");
    let chunks: Vec<_> = c.completion_stream(&req).await.unwrap().collect().await;
    let text: String = chunks
        .into_iter()
        .map(|c| c.unwrap().choices[0].text.clone())
        .collect();
    assert_eq!(text, "Once upon");
}

#[tokio::test]
async fn responses_plain_and_streamed() {
    let s = server::start().await;
    let c = client(&s.url, "");
    let req = ResponseRequest::new("m", "hi");
    assert_eq!(c.response(&req).await.unwrap().output_text(), "Hi there");
    let mut stream = c.response_stream(&req).await.unwrap();
    assert_eq!(
        stream.next().await.unwrap().unwrap().event,
        "response.created"
    );
    let delta = stream.next().await.unwrap().unwrap();
    assert_eq!(delta.data["delta"], json!("Hi"));
    match stream.next().await.unwrap() {
        Err(Error::Stream(e)) => assert_eq!(e.message, "overloaded"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn embeddings_float_and_base64() {
    let s = server::start().await;
    let c = client(&s.url, "");
    let texts = vec!["a".to_owned(), "b".to_owned(), "c".to_owned()];
    let req = EmbeddingRequest::new("e", texts.clone())
        .input_type(InputType::Query)
        .truncate(Truncate::End);
    let floats = c.embeddings(&req).await.unwrap().vectors().unwrap();
    assert_eq!(floats, vec![vec![0.0, 0.5], vec![1.0, 0.5], vec![2.0, 0.5]]);
    let body = s.seen.last_body.lock().unwrap().clone().unwrap();
    assert_eq!(body["input_type"], "query");
    assert_eq!(body["truncate"], "END");
    let b64 = c
        .embeddings(&req.encoding_format(EncodingFormat::Base64))
        .await
        .unwrap()
        .vectors()
        .unwrap();
    assert_eq!(b64, floats);
}

#[tokio::test]
async fn ranking_sorted_and_mapped_back() {
    let s = server::start().await;
    let passages = vec!["cats".to_owned(), "dogs".to_owned(), "GPUs".to_owned()];
    let out = client(&s.url, "")
        .rank(&RankingRequest::new("r", "accelerators", passages.clone()))
        .await
        .unwrap();
    let ranked = out.ranked(&passages).unwrap();
    let names: Vec<&str> = ranked.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(names, ["GPUs", "dogs", "cats"]);
    assert_eq!(
        s.seen.last_body.lock().unwrap().clone().unwrap()["query"],
        json!({"text":"accelerators"})
    );
}

#[tokio::test]
async fn management_endpoints() {
    let s = server::start().await;
    let c = client(&s.url, "");
    assert_eq!(
        c.models().await.unwrap().data[0].id,
        "meta/llama-3.1-8b-instruct"
    );
    assert!(c.health_live().await.unwrap().ok);
    assert!(c.health_ready().await.unwrap().ok);
    let meta = c.metadata().await.unwrap();
    assert_eq!(meta.selected_model_profile_id.as_deref(), Some("abc123"));
    assert!(meta.extra.contains_key("licenseInfo"));
    assert_eq!(c.version().await.unwrap().release.as_deref(), Some("1.0.0"));
    let m = c.metrics().await.unwrap();
    assert_eq!(m.kv_cache_usage, Some(0.42));
    assert_eq!(m.requests_running, Some(2.0));
    assert_eq!(m.time_to_first_token.unwrap().count, 4.0);
    let old = client(&s.url, "old-metrics").metrics().await.unwrap();
    assert_eq!(old.kv_cache_usage, Some(0.1));
}

#[tokio::test]
async fn wait_until_ready_polls_and_gives_up() {
    let s = server::start().await;
    let c = client(&s.url, "ready-after-2");
    c.wait_until_ready(Duration::from_secs(10)).await.unwrap();
    assert_eq!(s.seen.hits.load(Ordering::SeqCst), 3);

    let c = client(&s.url, "never-ready");
    match c.wait_until_ready(Duration::from_millis(600)).await {
        Err(Error::NotReady { last, .. }) => assert!(last.contains("503"), "{last}"),
        other => panic!("{other:?}"),
    }
}
