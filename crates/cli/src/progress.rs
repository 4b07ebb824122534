//! Progress bars for long commands (`bench`, `fn deploy`), drawn on stderr only when stderr is
//! a terminal: piped or redirected output never carries a bar or its escape codes.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How often a spinner redraws while nothing else happens.
const SPINNER_TICK: Duration = Duration::from_millis(120);
/// A spinner's line: its message and the time since it started.
const SPINNER_TEMPLATE: &str = "{spinner} {msg} {elapsed}";

/// A bar's line for steps of `what`.
fn bar_template(what: &str) -> String {
    format!("{{bar:30}} {{human_pos}}/{{human_len}} {what}  {{per_sec:0}}  eta {{eta}}")
}

fn draw_target() -> Option<ProgressDrawTarget> {
    std::io::stderr().is_terminal().then(ProgressDrawTarget::stderr)
}

/// A bar counting `total` steps of `what` (e.g. "events"), or a hidden one.
pub fn bar(total: u64, what: &str) -> ProgressBar {
    let Some(target) = draw_target() else {
        return ProgressBar::hidden();
    };
    let style = ProgressStyle::with_template(&bar_template(what)).unwrap_or_else(|_| ProgressStyle::default_bar());
    ProgressBar::with_draw_target(Some(total), target).with_style(style.progress_chars("=> "))
}

/// A spinner showing `message` and the time since it started, or a hidden one.
pub fn spinner(message: String) -> ProgressBar {
    let Some(target) = draw_target() else {
        return ProgressBar::hidden();
    };
    let style = ProgressStyle::with_template(SPINNER_TEMPLATE).unwrap_or_else(|_| ProgressStyle::default_spinner());
    let spinner = ProgressBar::with_draw_target(None, target).with_style(style).with_message(message);
    spinner.enable_steady_tick(SPINNER_TICK);
    spinner
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_parse() {
        // The templates are built at run time; a typo would silently fall back to the default.
        assert!(ProgressStyle::with_template(&bar_template("events")).is_ok());
        assert!(ProgressStyle::with_template(SPINNER_TEMPLATE).is_ok());
    }
}
