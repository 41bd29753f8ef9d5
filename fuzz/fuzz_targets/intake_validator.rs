//! cargo-fuzz target: arbitrary bytes, split into the fields of a submission, through the
//! intake validator (`domain::submission::Submission::parse`).

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    closedloop_fuzz::intake_validator(data);
});
