//! `ssl_ciphers` strings evaluated against OpenSSL's results: aliases, operators,
//! order, and the refusal of unknown words.

use rustls::CipherSuite;
use rustls::crypto::CryptoProvider;

use super::aliases::OTHER_SUITE_NAMES;
use super::rules::parse_entry;
use super::suites::UNIVERSE;
use super::{CipherError, openssl_name, select_tls12_suites};

/// The product's default `ssl_ciphers` value, verbatim from its documentation
/// (without the directive's closing `;`). It selects all six suites.
const PRODUCT_DEFAULT_CIPHERS: &str = "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES128-GCM-SHA256:\
ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-CHACHA20-POLY1305:kEDH+AESGCM:\
ECDHE-RSA-AES128-SHA256:ECDHE-ECDSA-AES128-SHA256:ECDHE-RSA-AES128-SHA:ECDHE-ECDSA-AES128-SHA:\
ECDHE-RSA-AES256-SHA384:ECDHE-ECDSA-AES256-SHA384:ECDHE-RSA-AES256-SHA:ECDHE-ECDSA-AES256-SHA:\
AES128-GCM-SHA256:AES256-GCM-SHA384:AES128:AES256:AES:HIGH:!aNULL:!eNULL:!EXPORT:!DES:!RC4:!MD5:\
!PSK:!DHE:3DES";

const E128: &str = "ECDHE-ECDSA-AES128-GCM-SHA256";
const R128: &str = "ECDHE-RSA-AES128-GCM-SHA256";
const E256: &str = "ECDHE-ECDSA-AES256-GCM-SHA384";
const R256: &str = "ECDHE-RSA-AES256-GCM-SHA384";
const ECHA: &str = "ECDHE-ECDSA-CHACHA20-POLY1305";
const RCHA: &str = "ECDHE-RSA-CHACHA20-POLY1305";

fn provider() -> CryptoProvider {
    rustls::crypto::aws_lc_rs::default_provider()
}

/// The OpenSSL names of what `spec` selects with the default provider.
fn select(spec: &str) -> Result<Vec<&'static str>, CipherError> {
    let suites = select_tls12_suites(spec, &provider())?;
    Ok(suites
        .iter()
        .map(|suite| openssl_name(suite.suite()).expect("every selected suite has a name"))
        .collect())
}

#[test]
fn the_product_default_selects_all_six_suites_in_openssl_order() {
    assert_eq!(
        select(PRODUCT_DEFAULT_CIPHERS).unwrap(),
        [R128, E128, R256, E256, RCHA, ECHA]
    );
}

#[test]
fn high_without_anull_selects_all_six_in_openssl_builtin_order() {
    assert_eq!(
        select("HIGH:!aNULL").unwrap(),
        [E256, R256, ECHA, RCHA, E128, R128]
    );
}

#[test]
fn ecdhe_joined_with_aesgcm_selects_the_four_gcm_suites() {
    assert_eq!(select("ECDHE+AESGCM").unwrap(), [E256, R256, E128, R128]);
    assert_eq!(
        select("EECDH+AESGCM:EDH+AESGCM").unwrap(),
        [E256, R256, E128, R128]
    );
}

#[test]
fn kedh_joined_with_aesgcm_alone_selects_no_suite() {
    assert_eq!(select("kEDH+AESGCM"), Err(CipherError::NoSuites));
}

#[test]
fn an_empty_string_selects_no_suite() {
    assert_eq!(select(""), Err(CipherError::NoSuites));
    assert_eq!(select(" : "), Err(CipherError::NoSuites));
}

#[test]
fn bang_ecdsa_removes_the_ecdsa_suites_for_good() {
    assert_eq!(select("HIGH:!ECDSA").unwrap(), [R256, RCHA, R128]);
    assert_eq!(select("HIGH:!ECDSA:ECDSA").unwrap(), [R256, RCHA, R128]);
    assert_eq!(select("!ECDSA:HIGH").unwrap(), [R256, RCHA, R128]);
}

#[test]
fn minus_removes_suites_that_a_later_entry_may_add_back_at_the_end() {
    assert_eq!(
        select("HIGH:-ECDSA:ECDSA").unwrap(),
        [R256, RCHA, R128, E256, ECHA, E128]
    );
}

#[test]
fn plus_aes256_moves_the_aes256_suites_to_the_end() {
    assert_eq!(
        select("HIGH:+AES256").unwrap(),
        [ECHA, RCHA, E128, R128, E256, R256]
    );
}

#[test]
fn plus_only_moves_suites_already_selected() {
    assert_eq!(select("AES128:+CHACHA20").unwrap(), [E128, R128]);
}

#[test]
fn strength_sorts_longest_keys_first_and_keeps_the_order_of_equals() {
    assert_eq!(
        select("AES128:CHACHA20:AES256:@STRENGTH").unwrap(),
        [ECHA, RCHA, E256, R256, E128, R128]
    );
}

#[test]
fn seclevel_is_accepted_and_ignored() {
    assert_eq!(select("AES128:@SECLEVEL=2").unwrap(), [E128, R128]);
}

#[test]
fn an_unknown_command_is_refused() {
    let err = select("HIGH:@SECLEVEL=9").unwrap_err();
    assert_eq!(
        err,
        CipherError::UnknownCommand {
            entry: "@SECLEVEL=9".to_owned()
        }
    );
    assert!(select("@FASTEST").is_err());
}

#[test]
fn an_unknown_token_is_refused_with_its_name() {
    let err = select("HIGH:!aNULL:FOO-BAR").unwrap_err();
    assert!(matches!(&err, CipherError::UnknownToken { token, .. } if token == "FOO-BAR"));
    assert!(err.to_string().contains("\"FOO-BAR\""));
}

#[test]
fn a_wrongly_cased_alias_is_refused_with_the_right_spelling() {
    let err = select("high").unwrap_err();
    assert!(err.to_string().contains("did you mean \"HIGH\""), "{err}");
}

#[test]
fn a_tls13_suite_name_is_refused_with_an_explanation() {
    let err = select("TLS_AES_128_GCM_SHA256").unwrap_err();
    assert!(err.to_string().contains("always enabled"), "{err}");
}

#[test]
fn malformed_entries_are_syntax_errors() {
    for spec in ["HIGH+", "+", "AES128++AES256", "HIGH!aNULL", "AES*"] {
        assert!(
            matches!(select(spec), Err(CipherError::Syntax { .. })),
            "{spec}"
        );
    }
}

#[test]
fn names_of_suites_rustls_lacks_are_accepted_and_select_nothing() {
    let spec = "AES128-SHA:DH-RSA-AES128-SHA256:ECDHE-RSA-AES128-SHA:DES-CBC3-SHA:\
                ECDHE-RSA-AES128-GCM-SHA256";
    assert_eq!(select(spec).unwrap(), [R128]);
}

#[test]
fn every_alias_of_the_brief_is_known() {
    let aliases = [
        "HIGH",
        "MEDIUM",
        "LOW",
        "ALL",
        "DEFAULT",
        "COMPLEMENTOFDEFAULT",
        "AES",
        "AES128",
        "AES256",
        "AESGCM",
        "CHACHA20",
        "ECDHE",
        "EECDH",
        "kECDHE",
        "kEECDH",
        "ECDSA",
        "aECDSA",
        "RSA",
        "aRSA",
        "kRSA",
        "SHA256",
        "SHA384",
        "SHA",
        "SHA1",
        "TLSv1.2",
        "kEDH",
        "EDH",
        "DHE",
        "3DES",
        "DES",
        "RC4",
        "MD5",
        "aNULL",
        "eNULL",
        "NULL",
        "EXPORT",
        "PSK",
        "SRP",
        "CAMELLIA",
        "SEED",
        "IDEA",
        "ECDH",
        "kECDH",
    ];
    for alias in aliases {
        assert!(parse_entry(alias).is_ok(), "{alias}");
    }
}

#[test]
fn rsa_means_rsa_key_exchange_and_selects_nothing_but_arsa_selects_rsa_suites() {
    assert_eq!(select("RSA"), Err(CipherError::NoSuites));
    assert_eq!(select("aRSA").unwrap(), [R256, RCHA, R128]);
}

#[test]
fn ecdh_means_ephemeral_ecdh_as_in_openssl() {
    assert_eq!(select("ECDH").unwrap().len(), 6);
    assert_eq!(select("kECDH"), Err(CipherError::NoSuites));
}

#[test]
fn mac_aliases_do_not_match_aead_suites() {
    assert_eq!(select("SHA256:SHA384:SHA"), Err(CipherError::NoSuites));
}

#[test]
fn aliases_of_one_category_joined_with_plus_select_nothing() {
    assert_eq!(select("AES128+AES256"), Err(CipherError::NoSuites));
    assert_eq!(select("TLSv1.2+TLSv1"), Err(CipherError::NoSuites));
}

#[test]
fn a_suite_name_joined_with_an_alias_must_match_both() {
    assert_eq!(select("ECDHE-RSA-AES256-GCM-SHA384+aRSA").unwrap(), [R256]);
    assert_eq!(
        select("ECDHE-RSA-AES256-GCM-SHA384+AES128"),
        Err(CipherError::NoSuites)
    );
}

#[test]
fn commas_semicolons_and_spaces_separate_entries() {
    assert_eq!(
        select("HIGH, !ECDSA;-CHACHA20 +AES128").unwrap(),
        [R256, R128]
    );
}

#[test]
fn suites_the_provider_lacks_are_left_out() {
    let mut provider = provider();
    provider
        .cipher_suites
        .retain(|suite| openssl_name(suite.suite()) != Some(RCHA));
    let suites = select_tls12_suites("CHACHA20", &provider).unwrap();
    assert_eq!(suites.len(), 1);
    provider
        .cipher_suites
        .retain(|suite| openssl_name(suite.suite()) != Some(ECHA));
    assert_eq!(
        select_tls12_suites("CHACHA20", &provider),
        Err(CipherError::NoSuites)
    );
}

#[test]
fn openssl_name_round_trips_through_select() {
    let provider = provider();
    let tls12: Vec<_> = provider
        .cipher_suites
        .iter()
        .filter(|suite| suite.tls13().is_none())
        .collect();
    assert_eq!(tls12.len(), 6);
    for suite in tls12 {
        let name = openssl_name(suite.suite()).unwrap();
        let selected = select_tls12_suites(name, &provider).unwrap();
        assert_eq!(selected.len(), 1);
        assert_eq!(selected[0].suite(), suite.suite());
    }
}

#[test]
fn openssl_name_gives_the_tls13_names() {
    assert_eq!(
        openssl_name(CipherSuite::TLS13_AES_128_GCM_SHA256),
        Some("TLS_AES_128_GCM_SHA256")
    );
    assert_eq!(
        openssl_name(CipherSuite::TLS13_AES_256_GCM_SHA384),
        Some("TLS_AES_256_GCM_SHA384")
    );
    assert_eq!(
        openssl_name(CipherSuite::TLS13_CHACHA20_POLY1305_SHA256),
        Some("TLS_CHACHA20_POLY1305_SHA256")
    );
    assert_eq!(
        openssl_name(CipherSuite::TLS_RSA_WITH_AES_128_CBC_SHA),
        None
    );
}

#[test]
fn other_suite_names_are_sorted_unique_and_exclude_ours() {
    assert!(OTHER_SUITE_NAMES.windows(2).all(|pair| pair[0] < pair[1]));
    for suite in &UNIVERSE {
        assert!(!OTHER_SUITE_NAMES.contains(&suite.name), "{}", suite.name);
    }
}
