//! Progress bars for long work (bulk submit, verify, replay, export): drawn on standard
//! error when it is a terminal, silent when piped.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;

/// A progress bar of `length` steps labelled `what`, hidden unless standard error is a
/// terminal (and `quiet` is false, for JSON output).
pub fn bar(length: u64, what: &str, quiet: bool) -> ProgressBar {
    // Styled while hidden, so that nothing is drawn before the first real position (a bar
    // whose length is not known yet would show as a full bar of 0/0).
    let bar = ProgressBar::with_draw_target(Some(length), ProgressDrawTarget::hidden());
    let style = ProgressStyle::with_template("{msg} [{bar:30}] {human_pos}/{human_len} {eta}")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
    bar.set_style(style);
    bar.set_message(what.to_owned());
    if !quiet && std::io::stderr().is_terminal() {
        bar.set_draw_target(ProgressDrawTarget::stderr());
    }
    bar
}

/// A progress bar for copying rows: rows per second and the time left, hidden like [`bar`].
pub fn rate_bar(length: u64, what: &str, quiet: bool) -> ProgressBar {
    let bar = bar(length, what, quiet);
    let style = ProgressStyle::with_template(
        "{msg} [{bar:30}] {human_pos}/{human_len} {per_sec} eta {eta}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar())
    .progress_chars("=> ");
    bar.set_style(style);
    bar
}
