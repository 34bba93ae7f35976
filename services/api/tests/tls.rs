//! vigil-api with TLS (rustls) on a test certificate: a client that trusts
//! the issuing CA gets answers; plaintext and untrusting clients do not.

mod common;

use std::time::Duration;

use common::Fixture;
use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint};
use vigil_proto::v1::WhoAmIRequest;
use vigil_proto::v1::registry_service_client::RegistryServiceClient;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tls_serves_trusting_clients_only() -> anyhow::Result<()> {
    let mut ca = CertificateParams::new(Vec::<String>::new())?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_key = KeyPair::generate()?;
    let ca_cert = ca.self_signed(&ca_key)?;
    let server_key = KeyPair::generate()?;
    let server_cert = CertificateParams::new(vec!["localhost".to_owned()])?.signed_by(
        &server_key,
        &ca_cert,
        &ca_key,
    )?;
    let dir = tempfile::tempdir()?;
    let (cert_path, key_path) = (dir.path().join("tls.crt"), dir.path().join("tls.key"));
    std::fs::write(&cert_path, server_cert.pem())?;
    std::fs::write(&key_path, server_key.serialize_pem())?;

    let fx = Fixture::start_with(
        "api_tls",
        &[
            "--tls-cert",
            cert_path.to_str().unwrap(),
            "--tls-key",
            key_path.to_str().unwrap(),
        ],
    )
    .await?;
    let port = fx.address.rsplit(':').next().unwrap().to_owned();
    let url = format!("https://localhost:{port}");
    let trusting = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(ca_cert.pem()))
        .domain_name("localhost");
    let mut channel = None;
    for _ in 0..120 {
        match Endpoint::from_shared(url.clone())?
            .tls_config(trusting.clone())?
            .connect()
            .await
        {
            Ok(connected) => {
                channel = Some(connected);
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(250)).await,
        }
    }
    let channel = channel.expect("the TLS server came up");
    let me = RegistryServiceClient::new(channel)
        .who_am_i(fx.request("auditor", WhoAmIRequest {}))
        .await?
        .into_inner();
    assert_eq!(me.name, "auditor");

    // Plaintext against the TLS port fails.
    let plain = RegistryServiceClient::new(fx.channel.clone())
        .who_am_i(fx.request("auditor", WhoAmIRequest {}))
        .await;
    assert!(plain.is_err(), "plaintext must not be served");
    // A client that does not trust the CA refuses the server.
    let untrusting = Endpoint::from_shared(url)?
        .tls_config(ClientTlsConfig::new().domain_name("localhost"))?
        .connect()
        .await;
    let refused = match untrusting {
        Err(_) => true,
        Ok(channel) => RegistryServiceClient::new(channel)
            .who_am_i(fx.request("auditor", WhoAmIRequest {}))
            .await
            .is_err(),
    };
    assert!(refused, "an unknown CA must not be trusted");
    fx.stop().await
}
