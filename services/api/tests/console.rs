//! The console's origin over plain HTTP/1.1, as a browser sees it: the page
//! with its security headers, and the vigil.v1 services in gRPC-web with the
//! same bearer-token scope as gRPC.

mod common;

use common::Fixture;
use prost::Message as _;
use reqwest::StatusCode;
use vigil_proto::v1::{Role, WhoAmIRequest, WhoAmIResponse};

/// `message` framed for gRPC-web: a data frame (flag 0, big-endian length).
fn frame(message: &impl prost::Message) -> Vec<u8> {
    let body = message.encode_to_vec();
    let mut framed = vec![0u8];
    framed.extend_from_slice(&u32::try_from(body.len()).unwrap().to_be_bytes());
    framed.extend_from_slice(&body);
    framed
}

/// The frames of a gRPC-web response body: (flag, payload).
fn frames(mut body: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut frames = Vec::new();
    while body.len() >= 5 {
        let length = u32::from_be_bytes(body[1..5].try_into().unwrap()) as usize;
        frames.push((body[0], body[5..5 + length].to_vec()));
        body = &body[5 + length..];
    }
    assert!(body.is_empty(), "a truncated gRPC-web frame");
    frames
}

/// Calls WhoAmI in gRPC-web with `token`: the HTTP status, the message
/// (if any) and the trailers frame's text.
async fn who_am_i(
    fixture: &Fixture,
    token: Option<&str>,
) -> (StatusCode, Option<WhoAmIResponse>, String) {
    let mut request = reqwest::Client::new()
        .post(format!(
            "{}/vigil.v1.RegistryService/WhoAmI",
            fixture.console_origin
        ))
        .header("content-type", "application/grpc-web+proto")
        .header("x-grpc-web", "1")
        .body(frame(&WhoAmIRequest {}));
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let header_status = response
        .headers()
        .get("grpc-status")
        .map(|value| format!("grpc-status:{}\r\n", value.to_str().unwrap()))
        .unwrap_or_default();
    let body = response.bytes().await.unwrap();
    let mut message = None;
    let mut trailers = header_status;
    for (flag, payload) in frames(&body) {
        if flag & 0x80 == 0 {
            message = Some(WhoAmIResponse::decode(payload.as_slice()).unwrap());
        } else {
            trailers.push_str(&String::from_utf8(payload).unwrap());
        }
    }
    (status, message, trailers)
}

#[tokio::test]
async fn the_console_origin_serves_its_page_and_grpc_web_with_the_same_scope() {
    let fixture = Fixture::start("console").await.unwrap();
    let http = reqwest::Client::new();

    // The page (or, before `console/build`, the page saying how to build
    // it), with a strict policy: own script, style and calls only.
    let page = http
        .get(format!("{}/", fixture.console_origin))
        .send()
        .await
        .unwrap();
    assert!(
        [StatusCode::OK, StatusCode::SERVICE_UNAVAILABLE].contains(&page.status()),
        "{}",
        page.status()
    );
    let header = |name: &str| {
        page.headers()
            .get(name)
            .map(|value| value.to_str().unwrap().to_owned())
            .unwrap_or_default()
    };
    assert_eq!(
        header("content-security-policy"),
        vigil_api::console::CONTENT_SECURITY_POLICY
    );
    for directive in [
        "default-src 'none'",
        "script-src 'self'",
        "connect-src 'self'",
    ] {
        assert!(header("content-security-policy").contains(directive));
    }
    assert_eq!(header("x-content-type-options"), "nosniff");
    assert!(header("content-type").starts_with("text/html"));
    let text = page.text().await.unwrap();
    assert!(text.contains("Vigil"), "{text}");

    // Unknown files, dotfiles and writes are refused, not answered with
    // the page.
    for path in ["/no-such-file.js", "/.keep"] {
        let response = http
            .get(format!("{}{path}", fixture.console_origin))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
    }
    let post = http
        .post(format!("{}/index.html", fixture.console_origin))
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), StatusCode::METHOD_NOT_ALLOWED);

    // gRPC-web over HTTP/1.1: the caller's identity, scoped as in gRPC.
    let (status, message, trailers) = who_am_i(&fixture, Some(&fixture.tokens["police_a"])).await;
    assert_eq!(status, StatusCode::OK);
    assert!(trailers.contains("grpc-status:0"), "{trailers}");
    let me = message.expect("a WhoAmI answer");
    assert_eq!(me.role, Role::CommunePolice as i32);
    assert_eq!(me.zone_id, fixture.commune_a);
    assert_eq!(
        me.zone_name,
        fixture.registry.zone(&fixture.commune_a).unwrap().name
    );

    // No token, or a forged one: refused in the same words.
    let (_, message, trailers) = who_am_i(&fixture, None).await;
    assert!(message.is_none());
    assert!(trailers.contains("grpc-status:16"), "{trailers}");
    let (_, message, trailers) = who_am_i(&fixture, Some("vgl_forged_secret")).await;
    assert!(message.is_none());
    assert!(trailers.contains("grpc-status:16"), "{trailers}");

    fixture.stop().await.unwrap();
}
