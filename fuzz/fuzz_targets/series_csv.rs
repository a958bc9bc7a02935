#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| vpp_fuzz::series_csv(data));
