//! Any text as a plate read: normalization and the OCR-confusion key never
//! panic, normalizing is idempotent, and a plate's display form reads back
//! as the same plate.

#![no_main]

use libfuzzer_sys::fuzz_target;
use vigil_domain::plate::{normalize_plate, ocr_key};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = ocr_key(&text);
    if let Ok(plate) = normalize_plate(&text) {
        let again = normalize_plate(plate.as_str()).expect("a normalized plate normalizes");
        assert_eq!(again.as_str(), plate.as_str());
        assert_eq!(normalize_plate(&plate.display()).map(|p| p.as_str().to_owned()).ok().as_deref(), Some(plate.as_str()));
    }
});
