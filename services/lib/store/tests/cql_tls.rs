//! CQL over TLS against the local stack's Cassandra, which serves TLS
//! optionally on its native port with the certificate `deploy/local/stack`
//! makes (`.vigil/data/tls/cql-ca.pem`). Needs the stack up.

use std::path::PathBuf;

use clap::Parser;
use vigil_store::StoreArgs;

#[derive(Debug, Parser)]
struct Cli {
    #[command(flatten)]
    store: StoreArgs,
}

/// The stack's CQL CA file.
fn stack_ca() -> PathBuf {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../.vigil/data/tls/cql-ca.pem");
    assert!(
        path.exists(),
        "{} is missing: start the local stack (deploy/local/stack up)",
        path.display()
    );
    path
}

fn store(extra: &[&str]) -> StoreArgs {
    let mut args = vec!["test", "--cql-nodes", "127.0.0.1:9042"];
    args.extend_from_slice(extra);
    Cli::try_parse_from(args).unwrap().store
}

#[tokio::test]
async fn a_session_with_the_clusters_ca_speaks_tls() {
    let ca = stack_ca();
    let session = store(&["--cql-tls-ca-file", ca.to_str().unwrap()])
        .connect()
        .await
        .expect("connecting over TLS");
    // Only TLS sessions show ssl_enabled; nothing else in the test suite
    // connects over TLS, so a TLS row is this session's.
    let rows = session
        .query_unpaged(
            "SELECT ssl_enabled, ssl_protocol FROM system_views.clients",
            (),
        )
        .await
        .unwrap()
        .into_rows_result()
        .unwrap();
    let tls: Vec<String> = rows
        .rows::<(Option<bool>, Option<String>)>()
        .unwrap()
        .filter_map(|row| match row.unwrap() {
            (Some(true), protocol) => Some(protocol.unwrap_or_default()),
            _ => None,
        })
        .collect();
    assert!(!tls.is_empty(), "no client connection uses TLS");
    assert!(tls.iter().all(|p| p.starts_with("TLSv1.")), "{tls:?}");
}

#[tokio::test]
async fn a_session_refuses_a_node_its_ca_did_not_sign() {
    let other = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("other-ca.pem");
    std::fs::write(&ca, other.cert.pem()).unwrap();
    let error = store(&["--cql-tls-ca-file", ca.to_str().unwrap()])
        .connect()
        .await
        .expect_err("a node with a certificate from another CA must be refused");
    let text = format!("{error:#}");
    let detail = format!("{error:?}");
    assert!(text.contains("127.0.0.1:9042"), "{text}");
    assert!(
        detail.contains("UnknownIssuer") || detail.contains("certificate"),
        "the refusal names the certificate problem: {detail}"
    );
}

#[test]
fn client_certificates_need_a_key_and_a_ca() {
    let parse = |args: &[&str]| {
        let mut all = vec!["test"];
        all.extend_from_slice(args);
        Cli::try_parse_from(all).map(|cli| cli.store)
    };
    assert!(parse(&["--cql-tls-cert-file", "c.pem"]).is_err());
    assert!(
        parse(&[
            "--cql-tls-cert-file",
            "c.pem",
            "--cql-tls-key-file",
            "k.pem"
        ])
        .is_err()
    );
    assert!(parse(&["--cql-tls-key-file", "k.pem"]).is_err());
    let store = parse(&[
        "--cql-tls-ca-file",
        "ca.pem",
        "--cql-tls-cert-file",
        "c.pem",
        "--cql-tls-key-file",
        "k.pem",
    ])
    .unwrap();
    assert_eq!(
        store.tls.key_file.as_deref(),
        Some(std::path::Path::new("k.pem"))
    );
}
