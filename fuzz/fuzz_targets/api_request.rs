//! Any bytes as a ListEvents request, through the checks the API makes
//! before it reads anything: the time window, page size, detection kinds
//! and page token either pass with values in range or are refused naming
//! the field — never a panic — and the only page token accepted is one
//! this server issued, byte for byte, for this query.

#![no_main]

use libfuzzer_sys::fuzz_target;
use prost::Message as _;
use vigil_proto::v1 as pb;
use vigil_request::{Cursor, EARLIEST_S, LATEST_S, PageTokens, Window, checked_kinds, page_size};

const MAX_DAYS: i64 = 31;

fuzz_target!(|data: &[u8]| {
    let Ok(request) = pb::ListEventsRequest::decode(data) else {
        return;
    };
    match Window::parse(request.window.as_ref(), "window", MAX_DAYS) {
        Ok(window) => {
            assert!(window.start_ms < window.end_ms);
            assert!(EARLIEST_S * 1000 <= window.start_ms && window.end_ms < LATEST_S * 1000);
            assert!(window.end_ms - window.start_ms <= MAX_DAYS * 86_400_000);
            let _ = (window.start(), window.end());
        }
        Err(invalid) => assert_eq!(invalid.field, "window"),
    }
    match page_size(request.page_size, 100, 1000) {
        Ok(size) => assert!((1..=1000).contains(&size)),
        Err(invalid) => assert_eq!(invalid.field, "page_size"),
    }
    match checked_kinds(&request.kinds) {
        Ok(kinds) => assert_eq!(kinds, request.kinds),
        Err(invalid) => assert_eq!(invalid.field, "kinds"),
    }

    // The seed corpus holds tokens issued with this key for this query.
    let tokens = PageTokens::new(b"vigil-fuzz".to_vec());
    let query = format!("ListEvents zone={}", request.zone_id);
    match tokens.resume(&query, &request.page_token) {
        Ok(None) => assert!(request.page_token.is_empty()),
        Ok(Some(cursor)) => assert_eq!(tokens.issue(&query, cursor), request.page_token),
        Err(invalid) => assert_eq!(invalid.field, "page_token"),
    }
    let cursor = Cursor {
        at_ms: i64::from(request.page_size),
        event_id: uuid::Uuid::from_u128(u128::from(request.page_size)),
    };
    let issued = tokens.issue(&query, cursor);
    assert_eq!(tokens.resume(&query, &issued).unwrap(), Some(cursor));
});
