//! The README's `nim-client` example, run against the in-repo test server.
#![allow(clippy::unwrap_used)] // the shared test server unwraps; a failed unwrap is a failed test
#![allow(dead_code)] // this test uses a part of the shared test server

mod server;

use futures_util::StreamExt;
use nim_client::{ChatCompletionRequest, ChatMessage, Client, ClientConfig, NvExt};

#[tokio::test]
async fn readme_example() -> nim_client::Result<()> {
    let server = server::start().await;
    let base_url = server.url.clone();

    let client = Client::new(ClientConfig::new(base_url).max_retries(3))?;
    client
        .wait_until_ready(std::time::Duration::from_secs(60))
        .await?;
    let request = ChatCompletionRequest::new(
        "meta/llama-3.1-8b-instruct",
        vec![ChatMessage::user("Write a haiku about GPUs.")],
    )
    .max_tokens(64)
    .nim(NvExt::default().top_k(40));
    let mut stream = client.chat_stream(&request.include_usage(true)).await?;
    let mut reply = String::new();
    while let Some(chunk) = stream.next().await {
        for choice in chunk?.choices {
            reply.push_str(&choice.delta.content.unwrap_or_default());
        }
    }
    assert!(!reply.is_empty());
    Ok(())
}
