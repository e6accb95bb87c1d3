//! The personalized-configuration parser against texts: defaults, syntax,
//! each directive's values and ranges, and the error messages.

use std::borrow::Cow;
use std::time::Duration;

use super::directives::{DIRECTIVES, find_spec};
use super::error::CustomConfigError;
use super::error_page::{ErrorPage, ErrorPageResponse, ErrorPageTarget};
use super::lexer::{Lexeme, Lexer};
use super::settings::{
    AddHeader, CustomConfig, Parsed, ProxyBuffers, SetHeader, TlsVersions, Warning,
};
use super::template::{TemplatePart, Variable};
use super::values::{parse_size, parse_time};
use super::{MAX_TEXT_LEN, parse};

// -- helpers -------------------------------------------------------------

fn parsed(text: &str) -> Parsed {
    match parse(text) {
        Ok(parsed) => parsed,
        Err(error) => panic!("{text:?} should parse, got: {error}"),
    }
}

fn config(text: &str) -> CustomConfig {
    parsed(text).config
}

fn error(text: &str) -> String {
    match parse(text) {
        Ok(parsed) => panic!("{text:?} should be refused, got {parsed:?}"),
        Err(error) => error.to_string(),
    }
}

fn assert_mentions(message: &str, parts: &[&str]) {
    for part in parts {
        assert!(
            message.contains(part),
            "{message:?} should mention {part:?}"
        );
    }
}

/// Puts `directive value;` on line 2 and checks the message names the
/// directive, the line, the value and the allowed range.
fn assert_out_of_range(directive: &str, value: &str, allowed: &str) {
    let message = error(&format!("# comment on line 1\n{directive} {value};"));
    assert_mentions(
        &message,
        &["line 2", directive, value, "out of range", allowed],
    );
}

fn assert_invalid(text: &str, parts: &[&str]) {
    let message = error(text);
    assert_mentions(&message, &["is invalid"]);
    assert_mentions(&message, parts);
}

fn assert_wrong_arg_count(text: &str, directive: &str, expected: &str) {
    let message = error(text);
    assert_mentions(&message, &["line 1", directive, "takes", expected]);
}

/// The template of a value without variables.
fn text(value: &str) -> Vec<TemplatePart> {
    vec![TemplatePart::Literal(value.into())]
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

// -- whole text ----------------------------------------------------------

#[test]
fn empty_text_gives_every_product_default() {
    let parsed = parsed("");
    assert!(parsed.warnings.is_empty());
    let c = parsed.config;
    assert_eq!(c, CustomConfig::default());
    assert_eq!(
        c.ssl_protocols,
        TlsVersions {
            tls12: true,
            tls13: true
        }
    );
    assert_eq!(c.ssl_ciphers, None);
    assert_eq!(c.client_header_timeout, secs(60));
    assert_eq!(c.client_header_buffer_size, 4096);
    assert_eq!(c.client_body_timeout, secs(60));
    assert_eq!(c.client_max_body_size, 60 * 1024 * 1024);
    assert_eq!(c.keepalive_timeout, secs(75));
    assert_eq!(c.keepalive_requests, 100);
    assert!(c.add_headers.is_empty());
    assert!(c.more_set_headers.is_empty());
    assert_eq!(c.proxy_connect_timeout, secs(4));
    assert_eq!(c.proxy_read_timeout, secs(60));
    assert_eq!(c.proxy_send_timeout, secs(60));
    assert_eq!(c.proxy_buffer_size, 4096);
    assert_eq!(
        c.proxy_buffers,
        ProxyBuffers {
            count: 8,
            size: 4096
        }
    );
    assert!(c.proxy_request_buffering);
    assert!(c.proxy_set_headers.is_empty());
    assert_eq!(c.send_timeout, secs(60));
    assert_eq!(c.ssl_verify_depth, 1);
    assert!(!c.proxy_redirect_https);
    assert_eq!(c.http2_max_field_size, 4096);
    assert!(c.error_pages.is_empty());
    assert!(!c.proxy_ignore_client_abort);
}

#[test]
fn whitespace_and_comments_alone_give_the_defaults() {
    let c = config("  \t\r\n# only a comment ; add_header X y;\n\n   # another\n");
    assert_eq!(c, CustomConfig::default());
}

#[test]
fn product_default_sample_parses_to_defaults_plus_headers_and_two_warnings() {
    let sample = "ssl_protocols TLSv1 TLSv1.1 TLSv1.2; client_header_timeout 60s; \
                  client_header_buffer_size 4k; client_body_timeout 60s; client_max_body_size 60M; \
                  keepalive_timeout 75s; add_header xxx yyy; more_set_headers \"A:B\"; \
                  proxy_connect_timeout 4s; proxy_read_timeout 60s; proxy_send_timeout 60s;";
    let parsed = parsed(sample);
    let expected = CustomConfig {
        // The sample lists TLS 1.2 as its only version rustls supports.
        ssl_protocols: TlsVersions {
            tls12: true,
            tls13: false,
        },
        add_headers: vec![AddHeader {
            name: "xxx".into(),
            value: "yyy".into(),
            template: text("yyy"),
            always: false,
        }],
        more_set_headers: vec![SetHeader {
            name: "A".into(),
            value: Some("B".into()),
            template: text("B"),
        }],
        ..CustomConfig::default()
    };
    assert_eq!(parsed.config, expected);
    let warnings: Vec<String> = parsed.warnings.iter().map(Warning::to_string).collect();
    assert_eq!(
        warnings,
        [
            "line 1: ssl_protocols: TLSv1 ignored: rustls supports TLS 1.2 and 1.3 only",
            "line 1: ssl_protocols: TLSv1.1 ignored: rustls supports TLS 1.2 and 1.3 only",
        ]
    );
}

#[test]
fn directives_may_share_a_line_or_span_several_lines() {
    let c = config("send_timeout 10s; keepalive_requests 5;\nadd_header\n  X-A\n  b\n  always\n;");
    assert_eq!(c.send_timeout, secs(10));
    assert_eq!(c.keepalive_requests, 5);
    assert_eq!(
        c.add_headers,
        [AddHeader {
            name: "X-A".into(),
            value: "b".into(),
            template: text("b"),
            always: true
        }]
    );
}

#[test]
fn comment_runs_to_end_of_line_but_hash_inside_a_word_is_literal() {
    let c = config("add_header X-A a#b; # add_header X-B c;\nadd_header X-C \"#d\";");
    let values: Vec<&str> = c.add_headers.iter().map(|h| h.value.as_str()).collect();
    assert_eq!(values, ["a#b", "#d"]);
}

#[test]
fn double_and_single_quotes_group_words_with_spaces_and_semicolons() {
    let c = config("add_header X-A \"a b; c\"; add_header X-B 'd \"e\"';");
    let values: Vec<&str> = c.add_headers.iter().map(|h| h.value.as_str()).collect();
    assert_eq!(values, ["a b; c", "d \"e\""]);
}

#[test]
fn backslash_escapes_follow_nginx() {
    let c = config(r#"add_header X-A "say \"hi\" \\ \'x\' \d"; add_header X-B a\"b;"#);
    let values: Vec<&str> = c.add_headers.iter().map(|h| h.value.as_str()).collect();
    assert_eq!(values, [r#"say "hi" \ 'x' \d"#, "a\"b"]);
}

#[test]
fn escaped_newline_in_a_header_value_is_refused() {
    assert_invalid(
        r#"add_header X-A "a\nb";"#,
        &["line 1", "add_header", "control characters"],
    );
}

#[test]
fn tokens_without_escapes_borrow_the_text() {
    let mut lexer = Lexer::new("plain \"quoted\" esc\\\"aped");
    let mut borrowed = Vec::new();
    while let Ok(Some(Lexeme::Word(token))) = lexer.next_lexeme() {
        borrowed.push(matches!(token.text, Cow::Borrowed(_)));
    }
    assert_eq!(borrowed, [true, true, false]);
}

#[test]
fn unclosed_quote_is_refused_naming_the_directive_and_line() {
    let message = error("send_timeout 5s;\nadd_header X-A \"abc;\n");
    assert_mentions(
        &message,
        &["line 2", "quoted string is not closed", "add_header"],
    );
}

#[test]
fn text_glued_to_a_closing_quote_is_refused() {
    let message = error("add_header X-A \"a\"b;");
    assert_mentions(&message, &["line 1", "unexpected \"b\"", "add_header"]);
}

#[test]
fn missing_final_semicolon_names_the_directive_and_its_line() {
    let message = error("send_timeout 5s;\n\nkeepalive_requests 5\n");
    assert_eq!(
        message,
        "line 3: directive \"keepalive_requests\" is not terminated by \";\""
    );
}

#[test]
fn braces_are_refused_because_there_are_no_blocks() {
    assert_mentions(
        &error("server {\n}"),
        &["line 1", "unexpected \"{\"", "server"],
    );
    assert_mentions(
        &error("send_timeout 5s;\n}"),
        &["line 2", "unexpected \"}\""],
    );
}

#[test]
fn lone_semicolon_is_refused() {
    assert_eq!(
        error("send_timeout 5s;;"),
        "line 1: unexpected \";\": a directive name is missing"
    );
}

#[test]
fn unknown_directive_is_refused_listing_the_allowed_ones() {
    let message = error("send_timeout 5s;\ngzip_types text/plain;");
    assert!(message.starts_with(
        "line 2: unknown directive \"gzip_types\"; allowed: ssl_protocols, ssl_ciphers,"
    ));
    for spec in DIRECTIVES {
        assert_mentions(&message, &[spec.name]);
    }
}

#[test]
fn directive_names_are_case_sensitive_as_in_nginx() {
    assert_mentions(
        &error("Send_Timeout 5s;"),
        &["unknown directive \"Send_Timeout\""],
    );
}

#[test]
fn text_of_exactly_64_kib_is_accepted() {
    let directive = "send_timeout 5s;";
    let padding = "#".repeat(MAX_TEXT_LEN - directive.len() - 1);
    let text = format!("{directive}\n{padding}");
    assert_eq!(text.len(), 64 * 1024);
    assert_eq!(config(&text).send_timeout, secs(5));
}

#[test]
fn text_over_64_kib_is_refused() {
    let text = " ".repeat(MAX_TEXT_LEN + 1);
    assert_eq!(
        parse(&text),
        Err(CustomConfigError::TooLong {
            len: 65537,
            max: 65536
        })
    );
    assert_mentions(&error(&text), &["65537 bytes", "at most 65536 bytes"]);
}

#[test]
fn duplicate_single_valued_directive_is_refused_with_both_lines() {
    let message = error("client_header_timeout 60s;\nsend_timeout 5s;\nclient_header_timeout 60s;");
    assert_eq!(
        message,
        "line 3: \"client_header_timeout\" directive is duplicate (first set on line 1)"
    );
}

/// A valid value for every directive, in table order.
const VALID_VALUES: [(&str, &str); 23] = [
    ("ssl_protocols", "TLSv1.2"),
    ("ssl_ciphers", "HIGH"),
    ("client_header_timeout", "60s"),
    ("client_header_buffer_size", "4k"),
    ("client_body_timeout", "60s"),
    ("client_max_body_size", "60M"),
    ("keepalive_timeout", "75s"),
    ("add_header", "X-A b"),
    ("more_set_headers", "X-A:b"),
    ("proxy_connect_timeout", "4s"),
    ("proxy_read_timeout", "60s"),
    ("proxy_send_timeout", "60s"),
    ("keepalive_requests", "100"),
    ("proxy_buffer_size", "4k"),
    ("proxy_buffers", "8 4k"),
    ("proxy_request_buffering", "on"),
    ("proxy_set_header", "X-A $host"),
    ("send_timeout", "60s"),
    ("ssl_verify_depth", "1"),
    ("proxy_redirect", "off"),
    ("http2_max_field_size", "4k"),
    ("error_page", "404 /x"),
    ("proxy_ignore_client_abort", "off"),
];

#[test]
fn the_directive_list_is_exactly_the_products() {
    let names: Vec<&str> = DIRECTIVES.iter().map(|spec| spec.name).collect();
    let expected: Vec<&str> = VALID_VALUES.iter().map(|(name, _)| *name).collect();
    assert_eq!(names, expected);
    let all: String = VALID_VALUES
        .iter()
        .map(|(name, value)| format!("{name} {value};\n"))
        .collect();
    parsed(&all);
}

#[test]
fn every_single_valued_directive_refuses_a_duplicate() {
    for (name, value) in VALID_VALUES {
        let text = format!("{name} {value};\n{name} {value};");
        let Some(spec) = find_spec(name).map(|(_, spec)| spec) else {
            panic!("{name} is not in the table");
        };
        if spec.repeatable {
            assert!(parse(&text).is_ok(), "{name} is repeatable");
            continue;
        }
        let message = error(&text);
        let expected = format!("line 2: \"{name}\" directive is duplicate (first set on line 1)");
        assert_eq!(message, expected);
    }
}

#[test]
fn repeatable_directives_accumulate_in_text_order() {
    let c = config(
        "add_header A 1; add_header B 2;\nmore_set_headers \"C: 3\"; more_set_headers \"D: 4\";\n\
         proxy_set_header E $host; proxy_set_header F $uri;\nerror_page 404 /a; error_page 500 /b;",
    );
    assert_eq!(c.add_headers.len(), 2);
    assert_eq!(c.more_set_headers.len(), 2);
    assert_eq!(c.proxy_set_headers.len(), 2);
    assert_eq!(c.error_pages.len(), 2);
    assert_eq!(c.add_headers[1].name, "B");
    assert_eq!(c.error_pages[1].codes, [500]);
}

#[test]
fn crlf_line_endings_count_lines_like_lf() {
    let message = error("send_timeout 5s;\r\n# note\r\nsend_timeout 0s;\r\n");
    assert_mentions(&message, &["line 3"]);
}

#[test]
fn error_line_is_the_line_of_the_offending_value() {
    let message = error("proxy_buffers\n  8\n  64k;");
    assert_mentions(&message, &["line 3", "proxy_buffers", "64k", "4k–16k"]);
}

#[test]
fn non_ascii_text_is_handled_without_panicking() {
    let c = config("add_header X-Name \"中文 ü\"; # 注释\n");
    assert_eq!(c.add_headers[0].value, "中文 ü");
    assert_mentions(&error("中文;"), &["unknown directive \"中文\""]);
    assert_mentions(&error("add_header X \"a\"é;"), &["unexpected \"é\""]);
}

// -- units ---------------------------------------------------------------

#[test]
fn sizes_take_k_m_g_in_either_case_or_plain_bytes() {
    assert_eq!(parse_size("512"), Some(512));
    assert_eq!(parse_size("8k"), Some(8 * 1024));
    assert_eq!(parse_size("8K"), Some(8 * 1024));
    assert_eq!(parse_size("3m"), Some(3 * 1024 * 1024));
    assert_eq!(parse_size("3M"), Some(3 * 1024 * 1024));
    assert_eq!(parse_size("2g"), Some(2 * 1024 * 1024 * 1024));
    assert_eq!(parse_size("2G"), Some(2 * 1024 * 1024 * 1024));
}

#[test]
fn malformed_sizes_are_invalid_values() {
    for bad in ["4kb", "k", "-1k", "1.5k", "4 k", "", "0x10"] {
        assert_eq!(parse_size(bad), None, "{bad}");
    }
    assert_invalid(
        "client_header_buffer_size 4kb;",
        &["client_header_buffer_size", "\"4kb\"", "a size"],
    );
}

#[test]
fn times_take_nginx_units_and_combinations() {
    assert_eq!(parse_time("60"), Some(secs(60)));
    assert_eq!(parse_time("60s"), Some(secs(60)));
    assert_eq!(parse_time("1m30s"), Some(secs(90)));
    assert_eq!(parse_time("1m30"), Some(secs(90)));
    assert_eq!(parse_time("1500ms"), Some(Duration::from_millis(1500)));
    assert_eq!(parse_time("1s500ms"), Some(Duration::from_millis(1500)));
    assert_eq!(parse_time("2h"), Some(secs(7200)));
    assert_eq!(parse_time("1d"), Some(secs(86400)));
    assert_eq!(parse_time("1w"), Some(secs(7 * 86400)));
    assert_eq!(parse_time("0"), Some(Duration::ZERO));
}

#[test]
fn times_with_units_out_of_order_or_unknown_are_invalid() {
    for bad in [
        "30s1m", "1s1s", "1y", "1M", "1.5s", "", "s", "1 m", "-5s", "10sec",
    ] {
        assert_eq!(parse_time(bad), None, "{bad}");
    }
    assert_invalid(
        "send_timeout 30s1m;",
        &["send_timeout", "\"30s1m\"", "a time"],
    );
}

#[test]
fn huge_numbers_are_out_of_range_not_a_crash() {
    assert_out_of_range("send_timeout", "99999999999999999999999d", "1s–3600s");
    assert_out_of_range(
        "client_max_body_size",
        "99999999999999999999999G",
        "1M–10240M",
    );
    assert_out_of_range("keepalive_requests", "99999999999999999999999", "1–10000");
}

// -- ssl_protocols ---------------------------------------------------------

#[test]
fn ssl_protocols_keeps_tls12_and_tls13() {
    let tls13_only = config("ssl_protocols TLSv1.3;").ssl_protocols;
    assert_eq!(
        tls13_only,
        TlsVersions {
            tls12: false,
            tls13: true
        }
    );
    let both = config("ssl_protocols TLSv1.2 TLSv1.3;").ssl_protocols;
    assert_eq!(
        both,
        TlsVersions {
            tls12: true,
            tls13: true
        }
    );
}

#[test]
fn ssl_protocols_drops_tls10_and_tls11_with_a_warning() {
    let parsed = parsed("\nssl_protocols TLSv1.1 TLSv1.2;");
    assert_eq!(
        parsed.config.ssl_protocols,
        TlsVersions {
            tls12: true,
            tls13: false
        }
    );
    assert_eq!(
        parsed.warnings,
        [Warning {
            line: 2,
            directive: "ssl_protocols",
            message: "TLSv1.1 ignored: rustls supports TLS 1.2 and 1.3 only".into(),
        }]
    );
}

#[test]
fn ssl_protocols_leaving_neither_tls12_nor_tls13_is_refused() {
    assert_invalid(
        "ssl_protocols TLSv1 TLSv1.1;",
        &[
            "line 1",
            "ssl_protocols",
            "\"TLSv1 TLSv1.1\"",
            "TLSv1.2 or TLSv1.3",
        ],
    );
}

#[test]
fn ssl_protocols_unknown_version_is_refused() {
    assert_invalid(
        "ssl_protocols SSLv3 TLSv1.2;",
        &[
            "ssl_protocols",
            "\"SSLv3\"",
            "TLSv1, TLSv1.1, TLSv1.2 or TLSv1.3",
        ],
    );
}

#[test]
fn ssl_protocols_names_are_case_insensitive_as_in_nginx() {
    assert!(config("ssl_protocols tlsv1.3;").ssl_protocols.tls13);
}

#[test]
fn ssl_protocols_needs_at_least_one_argument() {
    assert_wrong_arg_count("ssl_protocols;", "ssl_protocols", "at least 1 argument");
}

// -- ssl_ciphers -----------------------------------------------------------

#[test]
fn ssl_ciphers_is_kept_raw_for_the_tls_module() {
    let raw = "ECDHE-RSA-AES128-GCM-SHA256:kEDH+AESGCM:HIGH:!aNULL:!MD5:+3DES";
    assert_eq!(
        config(&format!("ssl_ciphers {raw};"))
            .ssl_ciphers
            .as_deref(),
        Some(raw)
    );
    assert_eq!(
        config(&format!("ssl_ciphers \"{raw}\";"))
            .ssl_ciphers
            .as_deref(),
        Some(raw)
    );
}

#[test]
fn ssl_ciphers_takes_exactly_one_non_empty_argument() {
    assert_wrong_arg_count(
        "ssl_ciphers HIGH MEDIUM;",
        "ssl_ciphers",
        "exactly 1 argument",
    );
    assert_wrong_arg_count("ssl_ciphers;", "ssl_ciphers", "exactly 1 argument");
    assert_invalid(
        "ssl_ciphers \"\";",
        &["ssl_ciphers", "OpenSSL cipher string"],
    );
}

// -- client_header_timeout -------------------------------------------------

#[test]
fn client_header_timeout_accepts_30s_to_120s() {
    assert_eq!(
        config("client_header_timeout 30s;").client_header_timeout,
        secs(30)
    );
    assert_eq!(
        config("client_header_timeout 120s;").client_header_timeout,
        secs(120)
    );
    assert_eq!(
        config("client_header_timeout 2m;").client_header_timeout,
        secs(120)
    );
}

#[test]
fn client_header_timeout_refuses_29s_and_121s() {
    assert_out_of_range("client_header_timeout", "29s", "30s–120s");
    assert_out_of_range("client_header_timeout", "121s", "30s–120s");
    assert_out_of_range("client_header_timeout", "29999ms", "30s–120s");
}

#[test]
fn client_header_timeout_takes_exactly_one_argument() {
    assert_wrong_arg_count(
        "client_header_timeout 30s 40s;",
        "client_header_timeout",
        "exactly 1 argument",
    );
}

// -- client_header_buffer_size ---------------------------------------------

#[test]
fn client_header_buffer_size_accepts_1k_to_256k() {
    assert_eq!(
        config("client_header_buffer_size 1k;").client_header_buffer_size,
        1024
    );
    assert_eq!(
        config("client_header_buffer_size 1024;").client_header_buffer_size,
        1024
    );
    assert_eq!(
        config("client_header_buffer_size 256k;").client_header_buffer_size,
        256 * 1024
    );
}

#[test]
fn client_header_buffer_size_refuses_0k_1023_bytes_and_257k() {
    assert_out_of_range("client_header_buffer_size", "0k", "1k–256k");
    assert_out_of_range("client_header_buffer_size", "1023", "1k–256k");
    assert_out_of_range("client_header_buffer_size", "257k", "1k–256k");
}

#[test]
fn client_header_buffer_size_takes_exactly_one_argument() {
    assert_wrong_arg_count(
        "client_header_buffer_size;",
        "client_header_buffer_size",
        "exactly 1 argument",
    );
}

// -- client_body_timeout ---------------------------------------------------

#[test]
fn client_body_timeout_accepts_30s_to_120s() {
    assert_eq!(
        config("client_body_timeout 30;").client_body_timeout,
        secs(30)
    );
    assert_eq!(
        config("client_body_timeout 120s;").client_body_timeout,
        secs(120)
    );
}

#[test]
fn client_body_timeout_refuses_29s_and_121s() {
    assert_out_of_range("client_body_timeout", "29s", "30s–120s");
    assert_out_of_range("client_body_timeout", "121s", "30s–120s");
}

#[test]
fn client_body_timeout_takes_exactly_one_argument() {
    assert_wrong_arg_count(
        "client_body_timeout 30s 1;",
        "client_body_timeout",
        "exactly 1 argument",
    );
}

// -- client_max_body_size --------------------------------------------------

#[test]
fn client_max_body_size_accepts_1m_to_256m_alone() {
    assert_eq!(
        config("client_max_body_size 1M;").client_max_body_size,
        1024 * 1024
    );
    assert_eq!(
        config("client_max_body_size 1024k;").client_max_body_size,
        1024 * 1024
    );
    assert_eq!(
        config("client_max_body_size 256M;").client_max_body_size,
        256 * 1024 * 1024
    );
}

#[test]
fn client_max_body_size_above_256m_requires_buffering_off() {
    let message = error("# big uploads\nclient_max_body_size 257M;");
    assert_eq!(
        message,
        "line 2: client_max_body_size 257M (above 256M) requires proxy_request_buffering off in the same configuration"
    );
    let explicit_on = error("client_max_body_size 10240M; proxy_request_buffering on;");
    assert_mentions(
        &explicit_on,
        &["client_max_body_size 10240M", "proxy_request_buffering off"],
    );
}

#[test]
fn client_max_body_size_up_to_10240m_is_accepted_with_buffering_off_in_any_order() {
    let after = config("client_max_body_size 10240M; proxy_request_buffering off;");
    assert_eq!(after.client_max_body_size, 10240 * 1024 * 1024);
    let before = config("proxy_request_buffering off;\nclient_max_body_size 10g;");
    assert_eq!(before.client_max_body_size, 10240 * 1024 * 1024);
    assert!(!before.proxy_request_buffering);
}

#[test]
fn client_max_body_size_1g_counts_as_1024m() {
    assert_eq!(
        config("client_max_body_size 1G; proxy_request_buffering off;").client_max_body_size,
        1 << 30
    );
    assert_mentions(
        &error("client_max_body_size 1G;"),
        &["client_max_body_size 1024M (above 256M)"],
    );
}

#[test]
fn client_max_body_size_refuses_0_512k_and_10241m() {
    // nginx reads 0 as "unlimited"; the product range starts at 1M.
    assert_out_of_range("client_max_body_size", "0", "1M–10240M");
    assert_out_of_range("client_max_body_size", "512k", "1M–10240M");
    assert_out_of_range("client_max_body_size", "10241M", "1M–10240M");
    assert_out_of_range("client_max_body_size", "20000M", "1M–10240M");
}

#[test]
fn client_max_body_size_takes_exactly_one_argument() {
    assert_wrong_arg_count(
        "client_max_body_size 1M 2M;",
        "client_max_body_size",
        "exactly 1 argument",
    );
}

// -- keepalive_timeout -----------------------------------------------------

#[test]
fn keepalive_timeout_accepts_0_to_3600s_where_0_disables_keep_alive() {
    assert_eq!(
        config("keepalive_timeout 0;").keepalive_timeout,
        Duration::ZERO
    );
    assert_eq!(
        config("keepalive_timeout 0s;").keepalive_timeout,
        Duration::ZERO
    );
    assert_eq!(
        config("keepalive_timeout 3600s;").keepalive_timeout,
        secs(3600)
    );
    assert_eq!(
        config("keepalive_timeout 1h;").keepalive_timeout,
        secs(3600)
    );
}

#[test]
fn keepalive_timeout_refuses_3601s() {
    assert_out_of_range("keepalive_timeout", "3601s", "0s–3600s");
    assert_out_of_range("keepalive_timeout", "1h1s", "0s–3600s");
}

#[test]
fn keepalive_timeout_refuses_nginx_header_timeout_argument() {
    let message = error("keepalive_timeout 75s 60s;");
    assert_mentions(
        &message,
        &[
            "line 1",
            "keepalive_timeout",
            "exactly 1 argument",
            "header_timeout",
            "found 2",
        ],
    );
    assert_wrong_arg_count(
        "keepalive_timeout;",
        "keepalive_timeout",
        "exactly 1 argument",
    );
}

// -- keepalive_requests ----------------------------------------------------

#[test]
fn keepalive_requests_accepts_1_to_10000() {
    assert_eq!(config("keepalive_requests 1;").keepalive_requests, 1);
    assert_eq!(
        config("keepalive_requests 10000;").keepalive_requests,
        10000
    );
}

#[test]
fn keepalive_requests_refuses_0_and_10001() {
    assert_out_of_range("keepalive_requests", "0", "1–10000");
    assert_out_of_range("keepalive_requests", "10001", "1–10000");
}

#[test]
fn keepalive_requests_is_a_plain_integer() {
    assert_invalid(
        "keepalive_requests 1k;",
        &["keepalive_requests", "\"1k\"", "a whole number"],
    );
    assert_wrong_arg_count(
        "keepalive_requests 1 2;",
        "keepalive_requests",
        "exactly 1 argument",
    );
}

// -- add_header ------------------------------------------------------------

#[test]
fn add_header_keeps_name_case_value_and_always() {
    let c = config(
        "add_header X-Frame-Options \"SAMEORIGIN\" always; add_header Cache-Control 'no-cache, no-store';",
    );
    assert_eq!(
        c.add_headers,
        [
            AddHeader {
                name: "X-Frame-Options".into(),
                value: "SAMEORIGIN".into(),
                template: text("SAMEORIGIN"),
                always: true
            },
            AddHeader {
                name: "Cache-Control".into(),
                value: "no-cache, no-store".into(),
                template: text("no-cache, no-store"),
                always: false
            },
        ]
    );
}

#[test]
fn add_header_with_empty_value_is_kept_with_a_warning() {
    let parsed = parsed("add_header X-Empty \"\";");
    assert_eq!(parsed.config.add_headers[0].value, "");
    assert_eq!(parsed.warnings.len(), 1);
    assert_mentions(
        &parsed.warnings[0].to_string(),
        &["line 1", "add_header", "X-Empty", "will not be added"],
    );
}

#[test]
fn framing_fields_are_ignored_with_a_warning() {
    let parsed = parsed(
        "add_header Content-Length 5 always; more_set_headers \"Transfer-Encoding: chunked\" \"X-A: 1\";",
    );
    assert!(parsed.config.add_headers.is_empty());
    assert_eq!(parsed.config.more_set_headers.len(), 1);
    assert_eq!(parsed.config.more_set_headers[0].name, "X-A");
    assert_eq!(parsed.warnings.len(), 2);
    assert_mentions(
        &parsed.warnings[0].to_string(),
        &["add_header", "Content-Length", "ignored", "framing"],
    );
    assert_mentions(&parsed.warnings[1].to_string(), &["Transfer-Encoding"]);
}

#[test]
fn response_header_values_are_templates_without_warnings() {
    let parsed = parsed(
        "add_header X-Host \"h=$host\"; add_header Access-Control-Allow-Origin $http_origin always;\n\
         more_set_headers \"X-Status: $status\" 'X-Via: ${HTTP_X_Forwarded_For}!' \"X-Q: $args$query_string$server_name\";",
    );
    assert!(parsed.warnings.is_empty(), "{:?}", parsed.warnings);
    let c = parsed.config;
    assert_eq!(c.add_headers[0].value, "h=$host");
    assert_eq!(
        c.add_headers[0].template,
        [
            TemplatePart::Literal("h=".into()),
            TemplatePart::Var(Variable::Host)
        ]
    );
    assert_eq!(
        c.add_headers[1].template,
        [TemplatePart::RequestHeader("origin".into())]
    );
    assert_eq!(
        c.more_set_headers[0].template,
        [TemplatePart::Var(Variable::Status)]
    );
    assert_eq!(
        c.more_set_headers[1].template,
        [
            TemplatePart::RequestHeader("x-forwarded-for".into()),
            TemplatePart::Literal("!".into())
        ]
    );
    assert_eq!(
        c.more_set_headers[2].template,
        [
            TemplatePart::Var(Variable::Args),
            TemplatePart::Var(Variable::QueryString),
            TemplatePart::Var(Variable::ServerName)
        ]
    );
}

#[test]
fn response_header_values_refuse_unknown_variables_with_their_line() {
    assert_mentions(
        &error("add_header X-A b;\nadd_header X-Id $request_id always;"),
        &[
            "line 2",
            "add_header",
            "unknown variable \"$request_id\"",
            "$status",
            "$http_NAME",
        ],
    );
    assert_mentions(
        &error("\n\nmore_set_headers \"X-A: 1\" \"X-B: $nope\";"),
        &["line 3", "more_set_headers", "unknown variable \"$nope\""],
    );
    assert_mentions(
        &error("add_header X-A $http_;"),
        &["line 1", "unknown variable \"$http_\""],
    );
    assert_invalid(
        "more_set_headers \"X-A: cost $ 5\";",
        &["more_set_headers", "$name or ${name}"],
    );
}

#[test]
fn proxy_set_header_refuses_status_with_what_is_allowed() {
    let message = error("add_header X-S $status;\nproxy_set_header X-S $status;");
    assert_mentions(
        &message,
        &[
            "line 2",
            "proxy_set_header",
            "\"$status\"",
            "response headers",
            "allowed: $remote_port",
            "$http_NAME",
        ],
    );
    let allowed = message.split("allowed:").nth(1).unwrap_or_default();
    assert!(!allowed.contains("$status"), "{message}");
    let refused = parse("\nproxy_set_header X-S ${STATUS};").err();
    assert!(matches!(
        refused,
        Some(CustomConfigError::ResponseOnlyVariable { line: 2, .. })
    ));
}

#[test]
fn proxy_set_header_reads_request_headers() {
    let c = config("proxy_set_header X-Orig $http_x_real_ip;");
    assert_eq!(
        c.proxy_set_headers[0].value,
        [TemplatePart::RequestHeader("x-real-ip".into())]
    );
}

#[test]
fn add_header_refuses_invalid_name_and_unknown_flag() {
    assert_invalid(
        "add_header \"Bad Name\" x;",
        &["add_header", "\"Bad Name\"", "header name"],
    );
    assert_invalid("add_header X:Y x;", &["add_header", "\"X:Y\""]);
    assert_invalid(
        "add_header X-A b sometimes;",
        &["add_header", "\"sometimes\"", "always"],
    );
}

#[test]
fn add_header_takes_2_or_3_arguments() {
    assert_wrong_arg_count("add_header X-A;", "add_header", "2 or 3 arguments");
    assert_wrong_arg_count(
        "add_header X-A b always more;",
        "add_header",
        "2 or 3 arguments",
    );
}

// -- more_set_headers ------------------------------------------------------

#[test]
fn more_set_headers_sets_each_name_value_pair_with_trimmed_value() {
    let c = config("more_set_headers \"Server: my-server\" 'X-A:  b c  ' X-B:d;");
    assert_eq!(
        c.more_set_headers,
        [
            SetHeader {
                name: "Server".into(),
                value: Some("my-server".into()),
                template: text("my-server"),
            },
            SetHeader {
                name: "X-A".into(),
                value: Some("b c".into()),
                template: text("b c"),
            },
            SetHeader {
                name: "X-B".into(),
                value: Some("d".into()),
                template: text("d"),
            },
        ]
    );
}

#[test]
fn more_set_headers_with_empty_value_removes_the_header() {
    let c = config("more_set_headers \"X-Powered-By:\" 'Server: ';");
    assert_eq!(c.more_set_headers[0].value, None);
    assert_eq!(c.more_set_headers[1].value, None);
}

#[test]
fn more_set_headers_refuses_missing_colon_options_and_bad_names() {
    assert_invalid(
        "more_set_headers \"A B\";",
        &["more_set_headers", "\"A B\"", "Name: value"],
    );
    assert_invalid(
        "more_set_headers -s 404 \"A: B\";",
        &["more_set_headers", "\"-s\"", "-s and -t"],
    );
    assert_invalid(
        "more_set_headers \"Bad Name: x\";",
        &["more_set_headers", "header name"],
    );
    assert_invalid("more_set_headers \":x\";", &["more_set_headers", "\":x\""]);
}

#[test]
fn more_set_headers_needs_at_least_one_argument() {
    assert_wrong_arg_count(
        "more_set_headers;",
        "more_set_headers",
        "at least 1 argument",
    );
}

// -- proxy_connect_timeout / proxy_read_timeout / proxy_send_timeout --------

#[test]
fn proxy_connect_timeout_accepts_4s_to_120s() {
    assert_eq!(
        config("proxy_connect_timeout 4s;").proxy_connect_timeout,
        secs(4)
    );
    assert_eq!(
        config("proxy_connect_timeout 120s;").proxy_connect_timeout,
        secs(120)
    );
}

#[test]
fn proxy_connect_timeout_refuses_3s_and_121s() {
    assert_out_of_range("proxy_connect_timeout", "3s", "4s–120s");
    assert_out_of_range("proxy_connect_timeout", "3999ms", "4s–120s");
    assert_out_of_range("proxy_connect_timeout", "121s", "4s–120s");
}

#[test]
fn proxy_connect_timeout_takes_exactly_one_argument() {
    assert_wrong_arg_count(
        "proxy_connect_timeout;",
        "proxy_connect_timeout",
        "exactly 1 argument",
    );
}

#[test]
fn proxy_read_timeout_accepts_30s_to_3600s() {
    assert_eq!(
        config("proxy_read_timeout 30s;").proxy_read_timeout,
        secs(30)
    );
    assert_eq!(
        config("proxy_read_timeout 3600s;").proxy_read_timeout,
        secs(3600)
    );
}

#[test]
fn proxy_read_timeout_refuses_29s_and_3601s() {
    assert_out_of_range("proxy_read_timeout", "29s", "30s–3600s");
    assert_out_of_range("proxy_read_timeout", "3601s", "30s–3600s");
}

#[test]
fn proxy_read_timeout_takes_exactly_one_argument() {
    assert_wrong_arg_count(
        "proxy_read_timeout 1 2;",
        "proxy_read_timeout",
        "exactly 1 argument",
    );
}

#[test]
fn proxy_send_timeout_accepts_30s_to_3600s() {
    assert_eq!(
        config("proxy_send_timeout 30s;").proxy_send_timeout,
        secs(30)
    );
    assert_eq!(
        config("proxy_send_timeout 60m;").proxy_send_timeout,
        secs(3600)
    );
}

#[test]
fn proxy_send_timeout_refuses_29s_and_3601s() {
    assert_out_of_range("proxy_send_timeout", "29s", "30s–3600s");
    assert_out_of_range("proxy_send_timeout", "3601s", "30s–3600s");
}

#[test]
fn proxy_send_timeout_takes_exactly_one_argument() {
    assert_wrong_arg_count(
        "proxy_send_timeout;",
        "proxy_send_timeout",
        "exactly 1 argument",
    );
}

// -- proxy_buffer_size / proxy_buffers -------------------------------------

#[test]
fn proxy_buffer_size_accepts_1k_to_32k_with_proxy_buffers() {
    assert_eq!(
        config("proxy_buffer_size 1k; proxy_buffers 8 4k;").proxy_buffer_size,
        1024
    );
    assert_eq!(
        config("proxy_buffers 8 4k; proxy_buffer_size 32k;").proxy_buffer_size,
        32 * 1024
    );
}

#[test]
fn proxy_buffer_size_refuses_0k_and_33k() {
    let with_buffers =
        |value: &str| error(&format!("proxy_buffers 8 4k;\nproxy_buffer_size {value};"));
    assert_mentions(
        &with_buffers("0k"),
        &["line 2", "proxy_buffer_size 0k", "out of range", "1k–32k"],
    );
    assert_mentions(
        &with_buffers("33k"),
        &["line 2", "proxy_buffer_size 33k", "out of range", "1k–32k"],
    );
}

#[test]
fn proxy_buffer_size_requires_proxy_buffers() {
    assert_eq!(
        error("\nproxy_buffer_size 8k;"),
        "line 2: proxy_buffer_size requires proxy_buffers in the same configuration"
    );
}

#[test]
fn proxy_buffer_size_takes_exactly_one_argument() {
    assert_wrong_arg_count(
        "proxy_buffer_size 4k 8k;",
        "proxy_buffer_size",
        "exactly 1 argument",
    );
}

#[test]
fn proxy_buffers_accepts_3_to_8_buffers_of_4k_to_16k() {
    let min = config("proxy_buffers 3 4k;").proxy_buffers;
    assert_eq!(
        min,
        ProxyBuffers {
            count: 3,
            size: 4096
        }
    );
    let max = config("proxy_buffers 8 16k;").proxy_buffers;
    assert_eq!(
        max,
        ProxyBuffers {
            count: 8,
            size: 16384
        }
    );
}

#[test]
fn proxy_buffers_refuses_2_or_9_buffers_and_3k_or_17k_sizes() {
    assert_mentions(
        &error("proxy_buffers 2 4k;"),
        &["line 1", "proxy_buffers 2", "out of range", "3–8"],
    );
    assert_mentions(
        &error("proxy_buffers 9 4k;"),
        &["line 1", "proxy_buffers 9", "out of range", "3–8"],
    );
    assert_mentions(
        &error("proxy_buffers 8 3k;"),
        &["line 1", "proxy_buffers 3k", "out of range", "4k–16k"],
    );
    assert_mentions(
        &error("proxy_buffers 8 17k;"),
        &["line 1", "proxy_buffers 17k", "out of range", "4k–16k"],
    );
    assert_invalid(
        "proxy_buffers eight 4k;",
        &["proxy_buffers", "\"eight\"", "a whole number"],
    );
}

#[test]
fn proxy_buffers_takes_exactly_two_arguments() {
    assert_wrong_arg_count("proxy_buffers 8;", "proxy_buffers", "exactly 2 arguments");
    assert_wrong_arg_count(
        "proxy_buffers 8 4k 4k;",
        "proxy_buffers",
        "exactly 2 arguments",
    );
}

// -- proxy_request_buffering / proxy_ignore_client_abort --------------------

#[test]
fn proxy_request_buffering_is_on_or_off_in_any_case() {
    assert!(config("proxy_request_buffering on;").proxy_request_buffering);
    assert!(!config("proxy_request_buffering off;").proxy_request_buffering);
    assert!(!config("proxy_request_buffering OFF;").proxy_request_buffering);
}

#[test]
fn proxy_request_buffering_refuses_other_values_and_arg_counts() {
    assert_invalid(
        "proxy_request_buffering yes;",
        &["proxy_request_buffering", "\"yes\"", "on or off"],
    );
    assert_wrong_arg_count(
        "proxy_request_buffering;",
        "proxy_request_buffering",
        "exactly 1 argument",
    );
}

#[test]
fn proxy_ignore_client_abort_is_on_or_off() {
    assert!(config("proxy_ignore_client_abort on;").proxy_ignore_client_abort);
    assert!(!config("proxy_ignore_client_abort off;").proxy_ignore_client_abort);
}

#[test]
fn proxy_ignore_client_abort_refuses_other_values_and_arg_counts() {
    assert_invalid(
        "proxy_ignore_client_abort 1;",
        &["proxy_ignore_client_abort", "\"1\"", "on or off"],
    );
    assert_wrong_arg_count(
        "proxy_ignore_client_abort on off;",
        "proxy_ignore_client_abort",
        "exactly 1 argument",
    );
}

// -- proxy_set_header ------------------------------------------------------

#[test]
fn every_directive_accepts_every_documented_variable() {
    for variable in Variable::ALL {
        let name = variable.name();
        let c = config(&format!(
            "add_header X-A ${name}; more_set_headers \"X-B: ${name}\";"
        ));
        assert_eq!(c.add_headers[0].template, [TemplatePart::Var(variable)]);
        assert_eq!(
            c.more_set_headers[0].template,
            [TemplatePart::Var(variable)]
        );
        if variable.is_response_only() {
            continue;
        }
        let c = config(&format!("proxy_set_header X-Test ${name};"));
        assert_eq!(c.proxy_set_headers[0].value, [TemplatePart::Var(variable)]);
    }
}

#[test]
fn proxy_set_header_parses_product_examples_with_lower_cased_names() {
    let c = config(
        "proxy_set_header X-Real-Port $remote_port;\nproxy_set_header X-clb-stgw-vip $server_addr;\n\
         proxy_set_header Stgw-request-id $stgw_request_id;",
    );
    let names: Vec<&str> = c
        .proxy_set_headers
        .iter()
        .map(|h| h.name.as_str())
        .collect();
    assert_eq!(names, ["x-real-port", "x-clb-stgw-vip", "stgw-request-id"]);
    assert_eq!(
        c.proxy_set_headers[1].value,
        [TemplatePart::Var(Variable::ServerAddr)]
    );
}

#[test]
fn proxy_set_header_mixes_literals_and_braced_variables() {
    let c = config(
        "proxy_set_header X-Where \"${scheme}://$host:${server_port}$request_uri (id $lbid)\";",
    );
    assert_eq!(
        c.proxy_set_headers[0].value,
        [
            TemplatePart::Var(Variable::Scheme),
            TemplatePart::Literal("://".into()),
            TemplatePart::Var(Variable::Host),
            TemplatePart::Literal(":".into()),
            TemplatePart::Var(Variable::ServerPort),
            TemplatePart::Var(Variable::RequestUri),
            TemplatePart::Literal(" (id ".into()),
            TemplatePart::Var(Variable::Lbid),
            TemplatePart::Literal(")".into()),
        ]
    );
}

#[test]
fn proxy_set_header_accepts_unquoted_braced_variable_like_nginx() {
    let c = config("proxy_set_header X-Port ${vport};");
    assert_eq!(
        c.proxy_set_headers[0].value,
        [TemplatePart::Var(Variable::Vport)]
    );
}

#[test]
fn proxy_set_header_variable_names_are_case_insensitive() {
    let c = config("proxy_set_header X-Method $Request_Method;");
    assert_eq!(
        c.proxy_set_headers[0].value,
        [TemplatePart::Var(Variable::RequestMethod)]
    );
}

#[test]
fn proxy_set_header_with_empty_value_suppresses_the_header() {
    let c = config("proxy_set_header Accept-Encoding \"\";");
    assert!(c.proxy_set_headers[0].suppresses());
    assert!(!config("proxy_set_header X-A b;").proxy_set_headers[0].suppresses());
}

#[test]
fn proxy_set_header_refuses_unknown_variables() {
    let message = error("\nproxy_set_header X-Id $request_id;");
    assert_mentions(
        &message,
        &[
            "line 2",
            "proxy_set_header",
            "unknown variable \"$request_id\"",
            "allowed: $remote_port",
            "$request_uri",
        ],
    );
    assert_mentions(
        &error("proxy_set_header X-A $1;"),
        &["unknown variable \"$1\""],
    );
}

#[test]
fn proxy_set_header_refuses_malformed_variables_and_names() {
    assert_invalid(
        "proxy_set_header X-A \"cost $ 5\";",
        &["proxy_set_header", "$name or ${name}"],
    );
    assert_invalid(
        "proxy_set_header X-A \"${host\";",
        &["proxy_set_header", "$name or ${name}"],
    );
    assert_invalid(
        "proxy_set_header X-A \"${}\";",
        &["proxy_set_header", "$name or ${name}"],
    );
    assert_invalid(
        "proxy_set_header \"X A\" b;",
        &["proxy_set_header", "header name"],
    );
}

#[test]
fn proxy_set_header_takes_exactly_two_arguments() {
    assert_wrong_arg_count(
        "proxy_set_header X-A;",
        "proxy_set_header",
        "exactly 2 arguments",
    );
    assert_wrong_arg_count(
        "proxy_set_header X-A b c;",
        "proxy_set_header",
        "exactly 2 arguments",
    );
}

// -- send_timeout ----------------------------------------------------------

#[test]
fn send_timeout_accepts_1s_to_3600s() {
    assert_eq!(config("send_timeout 1s;").send_timeout, secs(1));
    assert_eq!(config("send_timeout 3600;").send_timeout, secs(3600));
    assert_eq!(
        config("send_timeout 1500ms;").send_timeout,
        Duration::from_millis(1500)
    );
}

#[test]
fn send_timeout_refuses_0s_999ms_and_3601s() {
    assert_out_of_range("send_timeout", "0s", "1s–3600s");
    assert_out_of_range("send_timeout", "999ms", "1s–3600s");
    assert_out_of_range("send_timeout", "3601s", "1s–3600s");
}

#[test]
fn send_timeout_takes_exactly_one_argument() {
    assert_wrong_arg_count("send_timeout;", "send_timeout", "exactly 1 argument");
}

// -- ssl_verify_depth ------------------------------------------------------

#[test]
fn ssl_verify_depth_accepts_1_to_10() {
    assert_eq!(config("ssl_verify_depth 1;").ssl_verify_depth, 1);
    assert_eq!(config("ssl_verify_depth 10;").ssl_verify_depth, 10);
}

#[test]
fn ssl_verify_depth_refuses_0_and_11() {
    assert_out_of_range("ssl_verify_depth", "0", "1–10");
    assert_out_of_range("ssl_verify_depth", "11", "1–10");
}

#[test]
fn ssl_verify_depth_takes_exactly_one_plain_integer() {
    assert_wrong_arg_count(
        "ssl_verify_depth 1 2;",
        "ssl_verify_depth",
        "exactly 1 argument",
    );
    assert_invalid(
        "ssl_verify_depth 2s;",
        &["ssl_verify_depth", "\"2s\"", "a whole number"],
    );
}

// -- proxy_redirect --------------------------------------------------------

#[test]
fn proxy_redirect_http_to_https_pair_turns_rewriting_on() {
    assert!(config("proxy_redirect http:// https://;").proxy_redirect_https);
}

#[test]
fn proxy_redirect_off_and_default_mean_no_rewriting() {
    assert!(!config("proxy_redirect off;").proxy_redirect_https);
    assert!(!config("proxy_redirect default;").proxy_redirect_https);
}

#[test]
fn proxy_redirect_refuses_any_other_form_naming_the_allowed_one() {
    assert_invalid(
        "proxy_redirect http://a/ https://b/;",
        &[
            "line 1",
            "proxy_redirect",
            "\"http://a/ https://b/\"",
            "http:// https://",
        ],
    );
    assert_invalid(
        "proxy_redirect on;",
        &["proxy_redirect", "\"on\"", "off, default"],
    );
    assert_invalid("proxy_redirect https:// http://;", &["proxy_redirect"]);
}

#[test]
fn proxy_redirect_takes_1_or_2_arguments() {
    assert_wrong_arg_count("proxy_redirect;", "proxy_redirect", "1 or 2 arguments");
    assert_wrong_arg_count(
        "proxy_redirect http:// https:// x;",
        "proxy_redirect",
        "1 or 2 arguments",
    );
}

// -- http2_max_field_size --------------------------------------------------

#[test]
fn http2_max_field_size_accepts_1k_to_256k() {
    assert_eq!(
        config("http2_max_field_size 1k;").http2_max_field_size,
        1024
    );
    assert_eq!(
        config("http2_max_field_size 256k;").http2_max_field_size,
        256 * 1024
    );
}

#[test]
fn http2_max_field_size_refuses_0k_and_257k() {
    assert_out_of_range("http2_max_field_size", "0k", "1k–256k");
    assert_out_of_range("http2_max_field_size", "257k", "1k–256k");
}

#[test]
fn http2_max_field_size_takes_exactly_one_argument() {
    assert_wrong_arg_count(
        "http2_max_field_size 4k 8k;",
        "http2_max_field_size",
        "exactly 1 argument",
    );
}

// -- error_page ------------------------------------------------------------

fn only_error_page(text: &str) -> ErrorPage {
    let mut pages = config(text).error_pages;
    assert_eq!(pages.len(), 1);
    pages.remove(0)
}

#[test]
fn error_page_local_uri_keeps_the_error_status() {
    let page = only_error_page("error_page 500 502 503 504 /50x.html;");
    assert_eq!(
        page,
        ErrorPage {
            codes: vec![500, 502, 503, 504],
            response: ErrorPageResponse::Keep,
            target: ErrorPageTarget::Local("/50x.html".into()),
        }
    );
}

#[test]
fn error_page_bare_equals_uses_the_served_page_status() {
    let page = only_error_page("error_page 404 = /fallback?from=404;");
    assert_eq!(page.response, ErrorPageResponse::Auto);
    assert_eq!(
        page.target,
        ErrorPageTarget::Local("/fallback?from=404".into())
    );
}

#[test]
fn error_page_equals_code_sets_the_answer_status() {
    let page = only_error_page("error_page 404 =200 /empty.gif;");
    assert_eq!(page.response, ErrorPageResponse::Code(200));
}

#[test]
fn error_page_url_target_redirects_with_302_by_default() {
    let page = only_error_page("error_page 403 http://example.com/forbidden.html;");
    assert_eq!(page.response, ErrorPageResponse::Code(302));
    assert_eq!(
        page.target,
        ErrorPageTarget::Redirect("http://example.com/forbidden.html".into())
    );
    let bare_equals = only_error_page("error_page 403 = https://example.com/;");
    assert_eq!(bare_equals.response, ErrorPageResponse::Code(302));
}

#[test]
fn error_page_url_target_accepts_a_redirect_code() {
    for code in [301, 302, 303, 307, 308] {
        let page = only_error_page(&format!("error_page 404 ={code} https://example.com/;"));
        assert_eq!(page.response, ErrorPageResponse::Code(code));
    }
}

#[test]
fn error_page_url_target_refuses_a_non_redirect_code() {
    assert_invalid(
        "error_page 404 =200 https://example.com/;",
        &[
            "line 1",
            "error_page",
            "\"=200\"",
            "=301, =302, =303, =307 or =308",
        ],
    );
}

#[test]
fn error_page_codes_must_be_300_to_599_and_not_499() {
    let below = error("# codes\nerror_page 404 299 /x;");
    assert_mentions(
        &below,
        &["line 2", "error_page 299", "out of range", "300–599"],
    );
    let above = error("error_page 600 /x;");
    assert_mentions(
        &above,
        &["line 1", "error_page 600", "out of range", "300–599"],
    );
    assert_invalid(
        "error_page 499 /x;",
        &["error_page", "\"499\"", "except 499"],
    );
    assert_invalid(
        "error_page abc /x;",
        &["error_page", "\"abc\"", "between 300 and 599"],
    );
    assert_eq!(only_error_page("error_page 300 599 /x;").codes, [300, 599]);
}

#[test]
fn error_page_response_code_must_be_200_to_599() {
    assert_invalid(
        "error_page 404 =abc /x;",
        &["error_page", "\"=abc\"", "between 200 and 599"],
    );
    assert_invalid("error_page 404 =700 /x;", &["error_page", "\"=700\""]);
    assert_invalid("error_page 404 =199 /x;", &["error_page", "\"=199\""]);
}

#[test]
fn error_page_equals_must_be_joined_to_its_code_and_follow_a_code() {
    assert_invalid(
        "error_page 404 = 200 /x;",
        &["error_page", "\"=\"", "no space inside"],
    );
    assert_invalid(
        "error_page = /x;",
        &["error_page", "\"=\"", "after at least one code"],
    );
}

#[test]
fn error_page_target_must_be_a_path_or_http_url() {
    for bad in [
        "x.html",
        "@fallback",
        "ftp://example.com/",
        "http://",
        "http:///x",
        "/a$uri",
        "\"/a b\"",
    ] {
        assert_invalid(
            &format!("error_page 404 {bad};"),
            &["error_page", "starting with \"/\""],
        );
    }
    let upper = only_error_page("error_page 404 HTTPS://example.com/;");
    assert_eq!(
        upper.target,
        ErrorPageTarget::Redirect("HTTPS://example.com/".into())
    );
}

#[test]
fn error_page_takes_at_least_two_arguments() {
    assert_wrong_arg_count("error_page /x;", "error_page", "at least 2 arguments");
    assert_wrong_arg_count("error_page;", "error_page", "at least 2 arguments");
}

#[test]
fn error_page_for_returns_the_first_entry_listing_the_status() {
    let c = config("error_page 404 /first; error_page 500 404 /second; error_page 502 /third;");
    let target_of = |status| c.error_page_for(status).map(|page| page.target.clone());
    assert_eq!(
        target_of(404),
        Some(ErrorPageTarget::Local("/first".into()))
    );
    assert_eq!(
        target_of(500),
        Some(ErrorPageTarget::Local("/second".into()))
    );
    assert_eq!(
        target_of(502),
        Some(ErrorPageTarget::Local("/third".into()))
    );
    assert_eq!(target_of(503), None);
}

#[test]
fn error_line_is_available_without_parsing_the_message() {
    let error_at = |text: &str| parse(text).err().and_then(|error| error.line());
    assert_eq!(error_at("send_timeout 5s;\n\nsend_timeout 0s;"), Some(3));
    assert_eq!(error_at("\nadd_header X \"open"), Some(2));
    assert_eq!(error_at("\n\nproxy_buffer_size 4k;"), Some(3));
    assert_eq!(error_at(&" ".repeat(MAX_TEXT_LEN + 1)), None);
}

// -- Variable --------------------------------------------------------------

#[test]
fn variable_names_round_trip_and_display_with_dollar() {
    for variable in Variable::ALL {
        assert_eq!(Variable::from_name(variable.name()), Some(variable));
        assert_eq!(variable.to_string(), format!("${}", variable.name()));
    }
    assert_eq!(Variable::from_name("request_id"), None);
    assert_eq!(Variable::RemotePort.name(), "remote_port");
    assert_eq!(Variable::StgwRequestId.name(), "stgw_request_id");
}
