//! Any bytes as a ListEventsRequest, and any text as a page token: the
//! API's checks answer with an error or a value, never a panic, and a page
//! token is accepted only as issued.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    vigil_api::fuzzing::list_events_request(data);
    vigil_api::fuzzing::page_token(&String::from_utf8_lossy(data));
});
