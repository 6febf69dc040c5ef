//! Talks to a NIM (or any OpenAI-compatible server) with `nim-client`: a chat completion, an
//! embedding or a ranking.
//!
//! ```sh
//! cargo run --example chat -- --base-url http://localhost:8000 \
//!     --model meta/llama-3.1-8b-instruct --stream "Write a haiku about GPUs."
//! cargo run --example chat -- --base-url https://integrate.api.nvidia.com/v1 \
//!     --model meta/llama-3.1-8b-instruct --json --max-tokens 64 "Hello"
//! cargo run --example chat -- --base-url http://localhost:8000 \
//!     --model nvidia/llama-3.2-nv-embedqa-1b-v2 --embed --input-type query "What is a GPU?"
//! cargo run --example chat -- --base-url http://localhost:8000 \
//!     --model nvidia/llama-3.2-nv-rerankqa-1b-v2 --rank "What is a GPU?" \
//!     --passage "A GPU is a processor." --passage "Bananas are yellow."
//! ```
//!
//! The chat reply is printed as text (token by token with `--stream`); with `--json`, one JSON
//! object at the end: `{"content", "finish_reason", "usage" (or null), "retries"}`, where
//! `retries` is how many retries the client made. `--embed` and `--rank` always print JSON.
//!
//! The API key is `--api-key`, else the first non-empty of `NVIDIA_API_KEY`, `NGC_API_KEY`
//! and `OPENAI_API_KEY`, else none. The base URL is never read from the environment.
//!
//! Exit status: 0 on success, 1 when the server answers with an error or cannot be reached (the
//! server's message goes to stderr), 2 on bad usage.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use futures_util::StreamExt;
use nim_client::config::API_KEY_VARS;
use nim_client::{
    ChatAccumulator, ChatCompletion, ChatCompletionRequest, ChatMessage, Client, ClientConfig,
    EmbeddingRequest, Error, InputType, RankingRequest,
};
use serde_json::{Value, json};

const USAGE: &str = "\
usage: chat --base-url URL [--api-key KEY] --model NAME [--stream] [--json]
            [--max-tokens N] [--wait-ready SECS] [--max-retries N] PROMPT
       chat --base-url URL [--api-key KEY] --model NAME --embed [--input-type T] TEXT...
       chat --base-url URL [--api-key KEY] --model NAME --rank QUERY --passage P...";

const HELP: &str = "\
Sends a chat completion (default), an embedding request (--embed) or a ranking request
(--rank) to a NIM or any OpenAI-compatible server and prints the answer.

  --base-url URL      the server, with or without /v1 (required)
  --api-key KEY       sent as `Authorization: Bearer KEY` (default: the first non-empty of
                      NVIDIA_API_KEY, NGC_API_KEY, OPENAI_API_KEY; else no key)
  --model NAME        the model (required)
  --stream            stream the reply, printing it token by token
  --json              print one JSON object at the end: content, finish_reason, usage (or
                      null) and retries (how many retries the client made)
  --max-tokens N      token limit of the reply
  --wait-ready SECS   first wait up to SECS seconds for /v1/health/ready to answer 2xx
  --max-retries N     retries after the first attempt (default: 2, as openai-python)
  --embed             embed the TEXT arguments (POST /v1/embeddings); prints JSON
  --input-type T      with --embed: query or passage (asymmetric models need it)
  --rank QUERY        rank the --passage texts against QUERY (POST /v1/ranking); prints JSON
                      with the rankings sorted by descending logit
  --passage P         with --rank: a passage (repeat for more)
  -h, --help          print this help

Values go as `--flag VALUE` or `--flag=VALUE`; `--` ends the flags.

Exit status: 0 on success, 1 when the server answers with an error or cannot be reached (the
server's message is printed), 2 on bad usage.";

/// Flags that take a value.
const VALUE_FLAGS: [&str; 9] = [
    "--base-url",
    "--api-key",
    "--model",
    "--max-tokens",
    "--wait-ready",
    "--max-retries",
    "--input-type",
    "--rank",
    "--passage",
];

fn main() -> ExitCode {
    let args = match parse(std::env::args().skip(1)) {
        Ok(Some(args)) => args,
        Ok(None) => {
            println!("{USAGE}\n\n{HELP}");
            return ExitCode::SUCCESS;
        }
        Err(message) => return usage_error(&message),
    };
    let mode = match args.mode() {
        Ok(mode) => mode,
        Err(message) => return usage_error(&message),
    };
    let client = match args.client() {
        Ok(client) => client,
        Err(Error::Config { field, message }) => {
            return usage_error(&format!("{}: {message}", flag_of(&field)));
        }
        Err(error) => return usage_error(&error.to_string()),
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("chat: cannot start a tokio runtime: {error}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run(&client, &args, mode)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("chat: {error}");
            ExitCode::from(1)
        }
    }
}

fn usage_error(message: &str) -> ExitCode {
    eprintln!("chat: {message}\n{USAGE}\n(see chat --help)");
    ExitCode::from(2)
}

/// The flag behind a configuration field.
fn flag_of(field: &str) -> &str {
    match field {
        "base_url" | "proxy" => "--base-url",
        "api_key" => "--api-key",
        other => other,
    }
}

/// The command line.
#[derive(Debug, Default)]
struct Args {
    base_url: Option<String>,
    api_key: Option<String>,
    model: Option<String>,
    stream: bool,
    json: bool,
    embed: bool,
    max_tokens: Option<u32>,
    wait_ready: Option<u64>,
    max_retries: Option<u32>,
    input_type: Option<InputType>,
    rank: Option<String>,
    passages: Vec<String>,
    texts: Vec<String>,
}

/// What to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Chat,
    Embed,
    Rank,
}

/// Parses the arguments; `Ok(None)` for `--help`.
fn parse(argv: impl IntoIterator<Item = String>) -> Result<Option<Args>, String> {
    let mut args = Args::default();
    let mut argv = argv.into_iter();
    while let Some(arg) = argv.next() {
        if arg == "--" {
            args.texts.extend(argv.by_ref());
            break;
        }
        if arg == "-h" || arg == "--help" {
            return Ok(None);
        }
        if !arg.starts_with('-') || arg == "-" {
            args.texts.push(arg);
            continue;
        }
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => (flag, Some(value.to_owned())),
            _ => (arg.as_str(), None),
        };
        let switch = match flag {
            "--stream" => Some(&mut args.stream),
            "--json" => Some(&mut args.json),
            "--embed" => Some(&mut args.embed),
            _ => None,
        };
        if let Some(slot) = switch {
            if inline.is_some() {
                return Err(format!("{flag} takes no value"));
            }
            *slot = true;
            continue;
        }
        if !VALUE_FLAGS.contains(&flag) {
            return Err(format!("unknown flag `{flag}`"));
        }
        let value = match inline {
            Some(value) => value,
            None => match argv.next() {
                Some(value) if !value.starts_with("--") => value,
                _ => return Err(format!("{flag}: missing value")),
            },
        };
        match flag {
            "--base-url" => set(&mut args.base_url, flag, value)?,
            "--api-key" => set(&mut args.api_key, flag, value)?,
            "--model" => set(&mut args.model, flag, value)?,
            "--rank" => set(&mut args.rank, flag, value)?,
            "--passage" => args.passages.push(value),
            "--max-tokens" => set(&mut args.max_tokens, flag, number(flag, &value, 1)?)?,
            "--max-retries" => set(&mut args.max_retries, flag, number(flag, &value, 0)?)?,
            "--wait-ready" => set(&mut args.wait_ready, flag, number(flag, &value, 1)?)?,
            "--input-type" => {
                let input_type = match value.as_str() {
                    "query" => InputType::Query,
                    "passage" => InputType::Passage,
                    _ => return Err(format!("--input-type: {value:?} is not query or passage")),
                };
                set(&mut args.input_type, flag, input_type)?;
            }
            _ => return Err(format!("unknown flag `{flag}`")),
        }
    }
    Ok(Some(args))
}

/// Stores a flag's value; a flag given twice is an error.
fn set<T>(slot: &mut Option<T>, flag: &str, value: T) -> Result<(), String> {
    if slot.is_some() {
        return Err(format!("{flag} given twice"));
    }
    *slot = Some(value);
    Ok(())
}

/// An integer of at least `min`.
fn number<T: std::str::FromStr + PartialOrd + From<u8>>(
    flag: &str,
    value: &str,
    min: u8,
) -> Result<T, String> {
    match value.trim().parse::<T>() {
        Ok(n) if n >= T::from(min) => Ok(n),
        _ => Err(format!(
            "{flag}: {value:?} is not an integer of at least {min}"
        )),
    }
}

impl Args {
    /// The mode, after checking that the flags given belong to it.
    fn mode(&self) -> Result<Mode, String> {
        if self.base_url.is_none() {
            return Err("--base-url is required".to_owned());
        }
        if self.model.is_none() {
            return Err("--model is required".to_owned());
        }
        let mode = match (self.embed, &self.rank) {
            (true, Some(_)) => return Err("--embed and --rank are mutually exclusive".to_owned()),
            (true, None) => Mode::Embed,
            (false, Some(_)) => Mode::Rank,
            (false, None) => Mode::Chat,
        };
        let chat_only = [
            ("--stream", self.stream),
            ("--json", self.json),
            ("--max-tokens", self.max_tokens.is_some()),
        ];
        if mode != Mode::Chat
            && let Some((flag, _)) = chat_only.iter().find(|(_, given)| *given)
        {
            return Err(format!(
                "{flag} is for chat; --embed and --rank always print JSON"
            ));
        }
        if mode != Mode::Embed && self.input_type.is_some() {
            return Err("--input-type is for --embed".to_owned());
        }
        if mode != Mode::Rank && !self.passages.is_empty() {
            return Err("--passage is for --rank".to_owned());
        }
        match mode {
            Mode::Chat if self.texts.len() != 1 => Err(format!(
                "expected one PROMPT (quote it), got {}",
                self.texts.len()
            )),
            Mode::Embed if self.texts.is_empty() => Err("--embed: no TEXT to embed".to_owned()),
            Mode::Rank if self.passages.is_empty() => {
                Err("--rank: no --passage to rank".to_owned())
            }
            Mode::Rank if !self.texts.is_empty() => Err(format!(
                "unexpected argument `{}`; give passages with --passage",
                self.texts[0]
            )),
            _ => Ok(mode),
        }
    }

    /// The API key: `--api-key`, else the first non-empty key variable.
    fn api_key(&self) -> Option<String> {
        self.api_key.clone().or_else(|| {
            API_KEY_VARS.iter().find_map(|name| {
                std::env::var(name)
                    .ok()
                    .map(|v| v.trim().to_owned())
                    .filter(|v| !v.is_empty())
            })
        })
    }

    fn client(&self) -> nim_client::Result<Client> {
        let mut config = ClientConfig::new(self.base_url.clone().unwrap_or_default());
        if let Some(key) = self.api_key() {
            config = config.api_key(key);
        }
        if let Some(retries) = self.max_retries {
            config = config.max_retries(retries);
        }
        Client::new(config)
    }

    fn model(&self) -> String {
        self.model.clone().unwrap_or_default()
    }
}

async fn run(client: &Client, args: &Args, mode: Mode) -> nim_client::Result<()> {
    if let Some(seconds) = args.wait_ready {
        client
            .wait_until_ready(Duration::from_secs(seconds))
            .await?;
    }
    match mode {
        Mode::Chat => chat(client, args).await,
        Mode::Embed => {
            let mut request = EmbeddingRequest::new(args.model(), args.texts.clone());
            if let Some(input_type) = args.input_type {
                request = request.input_type(input_type);
            }
            let response = client.embeddings(&request).await?;
            let vectors = response.vectors()?;
            print_json(&json!({
                "model": response.model,
                "embeddings": vectors,
                "usage": response.usage,
                "retries": client.retries_total(),
            }));
            Ok(())
        }
        Mode::Rank => {
            let query = args.rank.clone().unwrap_or_default();
            let request = RankingRequest::new(args.model(), query, args.passages.clone());
            let response = client.rank(&request).await?;
            let rankings: Vec<Value> = response
                .ranked(&args.passages)?
                .into_iter()
                .zip(&response.rankings)
                .map(|((passage, logit), ranking)| {
                    json!({"index": ranking.index, "logit": logit, "passage": passage})
                })
                .collect();
            print_json(&json!({
                "rankings": rankings,
                "usage": response.usage,
                "retries": client.retries_total(),
            }));
            Ok(())
        }
    }
}

async fn chat(client: &Client, args: &Args) -> nim_client::Result<()> {
    let mut request =
        ChatCompletionRequest::new(args.model(), vec![ChatMessage::user(args.texts.concat())]);
    if let Some(n) = args.max_tokens {
        request = request.max_tokens(n);
    }
    let completion = if args.stream {
        let mut stream = client.chat_stream(&request.include_usage(true)).await?;
        let mut accumulator = ChatAccumulator::new();
        let mut stdout = std::io::stdout().lock();
        let mut printed = false;
        while let Some(chunk) = stream.next().await {
            let chunk = match chunk {
                Ok(chunk) => chunk,
                Err(error) => {
                    if printed {
                        let _ = writeln!(stdout);
                    }
                    return Err(error);
                }
            };
            if !args.json {
                for choice in chunk.choices.iter().filter(|c| c.index == 0) {
                    if let Some(text) = &choice.delta.content {
                        let _ = write!(stdout, "{text}");
                        let _ = stdout.flush();
                        printed = true;
                    }
                }
            }
            accumulator.push(&chunk);
        }
        if printed {
            let _ = writeln!(stdout);
        }
        accumulator.finish()
    } else {
        let completion = client.chat(&request).await?;
        if !args.json {
            println!("{}", completion.text().unwrap_or_default());
        }
        completion
    };
    if args.json {
        print_json(&summary(&completion, client.retries_total()));
    }
    Ok(())
}

/// The `--json` object.
fn summary(completion: &ChatCompletion, retries: u64) -> Value {
    let first = completion.choices.first();
    json!({
        "content": completion.text().unwrap_or_default(),
        "finish_reason": first.and_then(|c| c.finish_reason.as_ref()).map(|r| r.as_str()),
        "usage": completion.usage,
        "retries": retries,
    })
}

fn print_json(value: &Value) {
    println!("{value}");
}
