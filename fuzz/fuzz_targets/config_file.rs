//! The TOML configuration file, as `stgw check` reads it: parse and validate
//! arbitrary text. Errors are expected; a panic is a bug.

#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use stgw::config::Config;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = Path::new("/nonexistent/stgw-fuzz/stgw.toml");
    match Config::from_str(text, path) {
        Ok(config) => {
            // A valid file stays valid when the API writes its model back.
            let again = Config::from_model(config.file.clone(), path);
            assert!(again.is_ok(), "re-validating the model failed: {again:?}");
        }
        Err(e) => {
            // Every refusal can be shown to the user.
            assert!(!e.to_string().is_empty());
        }
    }
});
