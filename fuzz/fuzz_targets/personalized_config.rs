//! The personalized configuration (nginx directives bound to a load
//! balancer): parse arbitrary text. Errors are expected; a panic is a bug.

#![no_main]

use libfuzzer_sys::fuzz_target;
use stgw::config::custom;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // Lines as the parser counts them (1-based; a trailing line counts).
    let lines = text.bytes().filter(|&b| b == b'\n').count() + 1;
    match custom::parse(text) {
        Ok(parsed) => {
            assert!(text.len() <= custom::MAX_TEXT_LEN);
            for w in &parsed.warnings {
                assert!(
                    (1..=lines).contains(&w.line),
                    "warning line {} outside 1..={lines}",
                    w.line
                );
            }
            // Parsing is a function of the text alone.
            assert_eq!(custom::parse(text).ok(), Some(parsed));
        }
        Err(e) => {
            if let Some(line) = e.line() {
                assert!(
                    (1..=lines).contains(&line),
                    "error line {line} outside 1..={lines}: {e}"
                );
            }
            assert!(!e.to_string().is_empty());
        }
    }
});
