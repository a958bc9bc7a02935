#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| vpp_fuzz::mqtt_payloads(data));
