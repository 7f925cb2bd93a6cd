//! Fuzzes `codec::hex::parse`: never panics, errors point at a real character, and
//! whatever parses formats back to something that parses to the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[allow(dead_code)]
#[path = "../../src/codec/mod.rs"]
mod codec;

use codec::hex;

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    match hex::parse(input) {
        Ok(bytes) => {
            assert!(bytes.len() * 2 <= input.len());
            assert_eq!(hex::parse(&hex::to_spaced(&bytes)), Ok(bytes.clone()));
            let mut dump = String::new();
            hex::hexdump(&bytes, &mut dump);
            assert_eq!(dump.lines().count(), bytes.len().div_ceil(16));
        }
        Err(e) => {
            assert!(e.position >= 1);
            let at = input.chars().nth(e.position - 1);
            match e.found {
                Some(ch) => assert_eq!(at, Some(ch)),
                None => assert!(at.is_some_and(|c| c.is_ascii_hexdigit())),
            }
        }
    }
});
