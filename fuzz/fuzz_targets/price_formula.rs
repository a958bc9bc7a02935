#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| vpp_fuzz::price_formula(data));
