//! The operations console's origin: the browser speaks gRPC-web (tonic-web,
//! over HTTP/1.1 or HTTP/2) to the same vigil.v1 services, and every other
//! GET is a file of the console's build (`console/dist`), embedded in release
//! builds. One origin, so no CORS; a strict Content-Security-Policy, so the
//! page runs only its own script and talks only to this origin.

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use rust_embed::RustEmbed;
use tonic::service::Routes;
use tonic_web::GrpcWebLayer;

/// The console's built files: `console/build` writes them. In debug builds
/// they are read from disk at each request; release builds embed them.
#[derive(RustEmbed)]
#[folder = "../../console/dist/"]
#[allow_missing = true]
struct Assets;

/// Own script, style and calls only; no frames, forms, plugins or base
/// rewriting. Images may be data: URLs (the map's markers).
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; \
     manifest-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// Shown when vigil-api was built before the console was.
const NOT_BUILT: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Vigil console not built</title></head>
<body><h1>The Vigil console has not been built</h1>
<p>This vigil-api binary carries no console files. Build them, then the API:</p>
<pre>console/build
cargo build --release -p vigil-api</pre>
<p>(Debug builds read <code>console/dist</code> from disk, so there a reload is enough.)</p>
</body></html>
"#;

/// The console's router: `services` answered in gRPC-web, the console's
/// files for everything else.
pub fn router(services: Routes) -> axum::Router {
    services
        .into_axum_router()
        // Only on the service routes: the layer answers 400 to any other
        // HTTP/1.1 request, the console's pages included.
        .route_layer(GrpcWebLayer::new())
        .fallback(asset)
}

/// A file of the console: `/` is `index.html`; unknown paths are 404.
async fn asset(method: Method, uri: Uri, headers: HeaderMap) -> Response {
    if method != Method::GET && method != Method::HEAD {
        return (
            StatusCode::METHOD_NOT_ALLOWED,
            [(header::ALLOW, "GET, HEAD")],
        )
            .into_response();
    }
    let path = match uri.path().trim_start_matches('/') {
        "" => "index.html",
        path => path,
    };
    // `.keep` holds the folder in git; no dotfile is the console's.
    let file = (!path.starts_with('.'))
        .then(|| Assets::get(path))
        .flatten();
    let Some(file) = file else {
        return if path == "index.html" {
            secured(
                StatusCode::SERVICE_UNAVAILABLE,
                "text/html; charset=utf-8",
                None,
            )
            .body(Body::from(NOT_BUILT))
        } else {
            secured(StatusCode::NOT_FOUND, "text/plain; charset=utf-8", None)
                .body(Body::from("not found\n"))
        }
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response());
    };
    let etag = format!("\"{}\"", hex::encode(file.metadata.sha256_hash()));
    let unchanged = headers
        .get(header::IF_NONE_MATCH)
        .is_some_and(|tag| tag.as_bytes() == etag.as_bytes());
    let mime = file.metadata.mimetype();
    let content_type = if mime.starts_with("text/") || mime.ends_with("javascript") {
        format!("{mime}; charset=utf-8")
    } else {
        mime.to_owned()
    };
    let response = if unchanged {
        secured(StatusCode::NOT_MODIFIED, &content_type, Some(&etag)).body(Body::empty())
    } else if method == Method::HEAD {
        secured(StatusCode::OK, &content_type, Some(&etag))
            .header(header::CONTENT_LENGTH, file.data.len())
            .body(Body::empty())
    } else {
        secured(StatusCode::OK, &content_type, Some(&etag)).body(Body::from(file.data))
    };
    response.unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

/// A response with the console's security headers. Files are revalidated
/// on every load (ETag), so a new build is seen at once.
fn secured(
    status: StatusCode,
    content_type: &str,
    etag: Option<&str>,
) -> axum::http::response::Builder {
    let mut builder = Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, content_type)
        .header(header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY)
        .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff")
        .header(header::REFERRER_POLICY, "no-referrer")
        .header(header::X_FRAME_OPTIONS, "DENY")
        .header(header::CACHE_CONTROL, "no-cache")
        .header(
            "cross-origin-opener-policy",
            HeaderValue::from_static("same-origin"),
        );
    if let Some(etag) = etag {
        builder = builder.header(header::ETAG, etag);
    }
    builder
}
