#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| vpp_fuzz::weather_mosmix(data));
