//! An example webhook receiver for vigil-notifier, and the one the local
//! demo runs: it checks each request's signature and timestamp, answers a
//! notification it has already taken with 200 without taking it again
//! (deduplicating by the `Idempotency-Key` header: the notifier delivers at
//! least once), and prints the message a person on duty would read.
//!
//! ```text
//! cargo run -p vigil-notifier --example receiver -- \
//!     --signing-key-file .vigil/notifier.key --listen 127.0.0.1:8090
//! ```
//!
//! A real receiver keeps the keys it has seen in its database (for at
//! least as long as the notifier may retry: minutes) and hands the text to
//! an SMS gateway, a chat group or a pager.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use clap::Parser;
use vigil_signing::{SIGNATURE_HEADER, SigningKey, TIMESTAMP_HEADER, unix_now};

/// Receives and prints Vigil alert notifications.
#[derive(Debug, Parser)]
struct Args {
    /// The key shared with the notifier.
    #[arg(long)]
    signing_key_file: PathBuf,
    /// Where to listen.
    #[arg(long, default_value = "127.0.0.1:8090")]
    listen: SocketAddr,
}

#[derive(Debug)]
struct Receiver {
    key: SigningKey,
    /// Idempotency keys already taken.
    taken: Mutex<HashSet<String>>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let receiver = Arc::new(Receiver {
        key: SigningKey::from_file(&args.signing_key_file)?,
        taken: Mutex::default(),
    });
    let router = axum::Router::new().fallback(receive).with_state(receiver);
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    println!("receiver: listening on http://{}", listener.local_addr()?);
    axum::serve(listener, router)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}

async fn receive(
    State(receiver): State<Arc<Receiver>>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, String) {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    // 1. Authenticity and freshness, over the exact bytes received.
    if let Err(refused) = receiver.key.verify(
        header(TIMESTAMP_HEADER),
        header(SIGNATURE_HEADER),
        &body,
        unix_now(),
    ) {
        println!("receiver: refused a request: {refused}");
        return (StatusCode::UNAUTHORIZED, refused.to_string());
    }
    // 2. At most once for people: a retry of a notification already taken
    // is acknowledged and dropped.
    let Some(key) = header("idempotency-key").map(str::to_owned) else {
        return (
            StatusCode::BAD_REQUEST,
            "no Idempotency-Key header".to_owned(),
        );
    };
    let first = receiver
        .taken
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .insert(key.clone());
    if !first {
        println!("receiver: {key} again (a retry); already taken");
        return (StatusCode::OK, "duplicate".to_owned());
    }
    // 3. The message.
    let message: serde_json::Value = match serde_json::from_slice(&body) {
        Ok(message) => message,
        Err(error) => return (StatusCode::BAD_REQUEST, format!("not JSON: {error}")),
    };
    println!(
        "receiver: {key} for {} (attempt {}):\n{}\n",
        message["audience"].as_str().unwrap_or("?"),
        header("x-vigil-attempt").unwrap_or("?"),
        message["text"].as_str().unwrap_or_default()
    );
    (StatusCode::OK, "taken".to_owned())
}
