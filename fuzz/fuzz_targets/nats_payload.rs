//! cargo-fuzz target: arbitrary bytes as the payload of a `feedback.inbound.<channel>` request,
//! through intake's decode and validation path (`intake::inbound::check_payload`).

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    closedloop_fuzz::nats_payload(data);
});
