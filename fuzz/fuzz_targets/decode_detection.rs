//! Any bytes on vigil.detections.v1, through the enricher's decoder: the
//! protobuf decode and the domain checks (ids, kind, confidence, box,
//! plate, snapshot hash) either accept a detection or say why not — never
//! panic — and an accepted one survives the trip back to the wire.

#![no_main]

use libfuzzer_sys::fuzz_target;
use prost::Message as _;
use vigil_domain::Detection;
use vigil_proto::v1 as pb;

fuzz_target!(|data: &[u8]| {
    let Ok(wire) = pb::Detection::decode(data) else {
        return;
    };
    if let Ok(detection) = Detection::try_from(wire) {
        let back = pb::Detection::from(detection.clone());
        let again = Detection::try_from(back).expect("an accepted detection converts back");
        assert_eq!(again, detection);
    }
});
