//! The import parser (original-design `{"conversation": [...]}` files) on
//! arbitrary bytes: it never panics, and every entry it accepts is one the
//! writer takes (a known role, a timestamp stored as valid RFC 3339,
//! content within the limit).
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(parsed) = convlog::import::parse_original(Path::new("fuzz.json"), data) else {
        return;
    };
    for e in &parsed.entries {
        convlog::time::parse_ts(&e.ts).expect("the stored timestamp is RFC 3339");
        assert!(e.content.len() <= convlog::MAX_CONTENT_LIMIT);
        assert!(
            convlog::fuzz::rfc3339_or_local(&e.timestamp).is_some(),
            "{:?}",
            e.timestamp
        );
    }
    for &i in &parsed.whole_seconds {
        assert!(i < parsed.entries.len());
    }
});
