#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| conflict_fuzz::derive(data));
