#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| vpp_fuzz::field_devices(data));
