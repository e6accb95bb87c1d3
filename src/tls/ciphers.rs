//! `ssl_ciphers`: OpenSSL cipher strings mapped onto the TLS 1.2 suites rustls implements.
//!
//! The product takes OpenSSL's cipher-list syntax. This module evaluates such
//! a string the way OpenSSL does — same aliases, same `!`/`-`/`+` operators,
//! same resulting order — over the six TLS 1.2 suites that rustls with
//! aws-lc-rs implements (ECDHE with ECDSA or RSA, and AES-GCM or
//! ChaCha20-Poly1305). Names of other OpenSSL suites are valid and select
//! nothing; a word that OpenSSL does not know is an error, so that typos are
//! not silently ignored. TLS 1.3 suites are not configured here.

mod aliases;
mod rules;
mod suites;

#[cfg(test)]
mod tests;

use rustls::crypto::CryptoProvider;
use rustls::{CipherSuite, SupportedCipherSuite};

use self::rules::{CipherList, parse_rules};
use self::suites::UNIVERSE;

/// Why an `ssl_ciphers` value was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum CipherError {
    /// A word is neither an OpenSSL cipher suite name nor an OpenSSL alias.
    #[error("ssl_ciphers: \"{token}\" is neither an OpenSSL cipher name nor a cipher alias{hint}")]
    UnknownToken {
        /// The unknown word.
        token: String,
        /// Empty, or a suggestion that starts with "; ".
        hint: String,
    },

    /// An entry has characters or operators that OpenSSL's syntax does not allow.
    #[error(
        "ssl_ciphers: \"{entry}\" is not a valid entry: write a cipher name or alias, or \
         aliases joined by '+' (e.g. ECDHE+AESGCM), optionally prefixed by '!', '-' or '+'; \
         separate entries with ':'"
    )]
    Syntax {
        /// The faulty entry.
        entry: String,
    },

    /// An `@` command other than `@STRENGTH` and `@SECLEVEL=0`…`5`.
    #[error(
        "ssl_ciphers: unknown command \"{entry}\": only @STRENGTH and @SECLEVEL=0 to \
         @SECLEVEL=5 are accepted"
    )]
    UnknownCommand {
        /// The faulty entry, `@` included.
        entry: String,
    },

    /// The string selects none of the TLS 1.2 suites the provider implements.
    #[error(
        "ssl_ciphers selects no TLS 1.2 cipher suite implemented here (ECDHE-ECDSA or ECDHE-RSA \
         with AES128-GCM-SHA256, AES256-GCM-SHA384 or CHACHA20-POLY1305): add one of them, or \
         an alias such as ECDHE+AESGCM or HIGH"
    )]
    NoSuites,
}

/// Selects the TLS 1.2 suites named by an OpenSSL cipher string, in OpenSSL's
/// resulting order, among those the provider implements.
///
/// Entries are separated by `:`, `,`, `;` or white space. An entry is a suite
/// name or an alias, or several joined by `+` (all must match); a leading `!`
/// removes the matching suites for good, `-` removes them (a later entry may
/// add them back), `+` moves them to the end. `@STRENGTH` sorts by key length,
/// longest first; `@SECLEVEL=n` is accepted and ignored. Returns
/// [`CipherError::NoSuites`] when nothing is selected.
///
/// # Errors
///
/// [`CipherError::UnknownToken`], [`CipherError::Syntax`] or
/// [`CipherError::UnknownCommand`] for the first faulty entry, and
/// [`CipherError::NoSuites`] when no implemented TLS 1.2 suite is selected.
pub(crate) fn select_tls12_suites(
    spec: &str,
    provider: &CryptoProvider,
) -> Result<Vec<SupportedCipherSuite>, CipherError> {
    let mut list = CipherList::new();
    for rule in parse_rules(spec)? {
        list.apply(rule);
    }
    let selected: Vec<SupportedCipherSuite> = list
        .selected()
        .filter_map(|suite| provider_suite(provider, suite.id))
        .collect();
    if selected.is_empty() {
        return Err(CipherError::NoSuites);
    }
    Ok(selected)
}

/// The OpenSSL name of a suite rustls may negotiate, for access logs
/// (`ssl_cipher`), e.g. `ECDHE-RSA-AES128-GCM-SHA256` or `TLS_AES_128_GCM_SHA256`.
/// `None` for suites outside the six TLS 1.2 suites and the three TLS 1.3 ones.
#[must_use]
pub(crate) fn openssl_name(suite: CipherSuite) -> Option<&'static str> {
    if let Some(known) = UNIVERSE.iter().find(|known| known.id == suite) {
        return Some(known.name);
    }
    TLS13_NAMES
        .iter()
        .find(|(id, _)| *id == suite)
        .map(|(_, name)| *name)
}

fn provider_suite(provider: &CryptoProvider, id: CipherSuite) -> Option<SupportedCipherSuite> {
    provider
        .cipher_suites
        .iter()
        .find(|suite| suite.suite() == id && suite.tls13().is_none())
        .copied()
}

const TLS13_NAMES: [(CipherSuite, &str); 3] = [
    (
        CipherSuite::TLS13_AES_128_GCM_SHA256,
        "TLS_AES_128_GCM_SHA256",
    ),
    (
        CipherSuite::TLS13_AES_256_GCM_SHA384,
        "TLS_AES_256_GCM_SHA384",
    ),
    (
        CipherSuite::TLS13_CHACHA20_POLY1305_SHA256,
        "TLS_CHACHA20_POLY1305_SHA256",
    ),
];
