//! `ssl_ciphers`: OpenSSL cipher strings mapped onto the TLS 1.2 suites rustls implements.
//!
//! The product takes OpenSSL's cipher-list syntax. This module evaluates such
//! a string the way OpenSSL does — same aliases, same `!`/`-`/`+` operators,
//! same resulting order — over the six TLS 1.2 suites that rustls with
//! aws-lc-rs implements (ECDHE with ECDSA or RSA, and AES-GCM or
//! ChaCha20-Poly1305). Names of other OpenSSL suites are valid and select
//! nothing; a word that OpenSSL does not know is an error, so that typos are
//! not silently ignored. TLS 1.3 suites are not configured here.

use rustls::crypto::CryptoProvider;
use rustls::{CipherSuite, SupportedCipherSuite};

/// Why an `ssl_ciphers` value was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CipherError {
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
pub fn select_tls12_suites(
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
pub fn openssl_name(suite: CipherSuite) -> Option<&'static str> {
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

// ---------------------------------------------------------------------------
// The suites and what OpenSSL's aliases match in them
//
// OpenSSL describes each suite by bit sets (key exchange, authentication,
// encryption, MAC, strength, protocol version); an alias is a pattern over
// them. Only the bits that occur among our six suites are kept: an alias
// whose bits are all outside them becomes an empty set, and so selects
// nothing, alone or joined with others by '+', as in OpenSSL.

const KX_ECDHE: u8 = 1;

const AUTH_RSA: u8 = 1;
const AUTH_ECDSA: u8 = 2;
const AUTH_ANY: u8 = AUTH_RSA | AUTH_ECDSA;

const ENC_AES128GCM: u8 = 1;
const ENC_AES256GCM: u8 = 2;
const ENC_CHACHA20: u8 = 4;
const ENC_AESGCM: u8 = ENC_AES128GCM | ENC_AES256GCM;
const ENC_ANY: u8 = ENC_AESGCM | ENC_CHACHA20;

const MAC_AEAD: u8 = 1;

const STRENGTH_HIGH: u8 = 1;
const STRENGTH_FIPS: u8 = 2;

/// The protocol version an OpenSSL suite (or a `TLSv1.x` alias) is tied to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum MinVersion {
    Ssl3,
    Tls1,
    Tls12,
}

/// A TLS 1.2 suite rustls implements, with OpenSSL's description of it.
#[derive(Debug)]
struct Suite {
    name: &'static str,
    id: CipherSuite,
    auth: u8,
    enc: u8,
    strength: u8,
    /// Symmetric key bits, for `@STRENGTH`.
    bits: u16,
}

const fn suite(
    name: &'static str,
    id: CipherSuite,
    auth: u8,
    enc: u8,
    strength: u8,
    bits: u16,
) -> Suite {
    Suite {
        name,
        id,
        auth,
        enc,
        strength,
        bits,
    }
}

/// Every suite is ECDHE, AEAD and TLS 1.2 only. Listed in OpenSSL's built-in
/// order, which an entry follows when it adds several suites at once.
const UNIVERSE: [Suite; 6] = [
    suite(
        "ECDHE-ECDSA-AES256-GCM-SHA384",
        CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        AUTH_ECDSA,
        ENC_AES256GCM,
        STRENGTH_HIGH | STRENGTH_FIPS,
        256,
    ),
    suite(
        "ECDHE-RSA-AES256-GCM-SHA384",
        CipherSuite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        AUTH_RSA,
        ENC_AES256GCM,
        STRENGTH_HIGH | STRENGTH_FIPS,
        256,
    ),
    suite(
        "ECDHE-ECDSA-CHACHA20-POLY1305",
        CipherSuite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
        AUTH_ECDSA,
        ENC_CHACHA20,
        STRENGTH_HIGH,
        256,
    ),
    suite(
        "ECDHE-RSA-CHACHA20-POLY1305",
        CipherSuite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
        AUTH_RSA,
        ENC_CHACHA20,
        STRENGTH_HIGH,
        256,
    ),
    suite(
        "ECDHE-ECDSA-AES128-GCM-SHA256",
        CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        AUTH_ECDSA,
        ENC_AES128GCM,
        STRENGTH_HIGH | STRENGTH_FIPS,
        128,
    ),
    suite(
        "ECDHE-RSA-AES128-GCM-SHA256",
        CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        AUTH_RSA,
        ENC_AES128GCM,
        STRENGTH_HIGH | STRENGTH_FIPS,
        128,
    ),
];

/// A pattern over suites: each category set must share a bit with the suite.
/// `None` leaves a category free; `Some(0)` matches no suite.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Selector {
    kx: Option<u8>,
    auth: Option<u8>,
    enc: Option<u8>,
    mac: Option<u8>,
    strength: Option<u8>,
    version: Option<MinVersion>,
    /// An explicit suite name: only that suite.
    suite: Option<CipherSuite>,
}

impl Selector {
    const ANY: Self = Self {
        kx: None,
        auth: None,
        enc: None,
        mac: None,
        strength: None,
        version: None,
        suite: None,
    };

    /// Matches no suite here (the suites OpenSSL would match are not implemented).
    const NOTHING: Self = Self {
        kx: Some(0),
        ..Self::ANY
    };

    const fn kx(bits: u8) -> Self {
        Self {
            kx: Some(bits),
            ..Self::ANY
        }
    }

    const fn auth(bits: u8) -> Self {
        Self {
            auth: Some(bits),
            ..Self::ANY
        }
    }

    const fn enc(bits: u8) -> Self {
        Self {
            enc: Some(bits),
            ..Self::ANY
        }
    }

    const fn strength(bits: u8) -> Self {
        Self {
            strength: Some(bits),
            ..Self::ANY
        }
    }

    const fn version(version: MinVersion) -> Self {
        Self {
            version: Some(version),
            ..Self::ANY
        }
    }

    /// An explicit suite name: the suite itself, with all its properties
    /// (OpenSSL joins them too when a name is combined with '+').
    fn named(suite: &Suite) -> Self {
        Self {
            kx: Some(KX_ECDHE),
            auth: Some(suite.auth),
            enc: Some(suite.enc),
            mac: Some(MAC_AEAD),
            strength: Some(suite.strength),
            version: None,
            suite: Some(suite.id),
        }
    }

    /// Both patterns (`a+b`): category sets intersect; differing versions
    /// match nothing; of two explicit names the last counts, as in OpenSSL.
    fn and(self, other: Self) -> Self {
        if matches!((self.version, other.version), (Some(a), Some(b)) if a != b) {
            return Self::NOTHING;
        }
        Self {
            kx: intersect(self.kx, other.kx),
            auth: intersect(self.auth, other.auth),
            enc: intersect(self.enc, other.enc),
            mac: intersect(self.mac, other.mac),
            strength: intersect(self.strength, other.strength),
            version: self.version.or(other.version),
            suite: other.suite.or(self.suite),
        }
    }

    fn matches(&self, suite: &Suite) -> bool {
        self.suite.is_none_or(|wanted| wanted == suite.id)
            && shares_bit(self.kx, KX_ECDHE)
            && shares_bit(self.auth, suite.auth)
            && shares_bit(self.enc, suite.enc)
            && shares_bit(self.mac, MAC_AEAD)
            && shares_bit(self.strength, suite.strength)
            && self
                .version
                .is_none_or(|version| version == MinVersion::Tls12)
    }
}

fn intersect(a: Option<u8>, b: Option<u8>) -> Option<u8> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a & b),
        (a, b) => a.or(b),
    }
}

fn shares_bit(pattern: Option<u8>, bits: u8) -> bool {
    pattern.is_none_or(|pattern| pattern & bits != 0)
}

/// OpenSSL's aliases (1.0.2 to 3.x), with what they match among our suites.
const ALIASES: &[(&str, Selector)] = &[
    // Everything but eNULL. DEFAULT differs from ALL only outside our suites.
    ("ALL", Selector::enc(ENC_ANY)),
    ("DEFAULT", Selector::enc(ENC_ANY)),
    ("HIGH", Selector::strength(STRENGTH_HIGH)),
    ("FIPS", Selector::strength(STRENGTH_FIPS)),
    // Key exchange: ECDH means ephemeral ECDH in OpenSSL, not static.
    ("kECDHE", Selector::kx(KX_ECDHE)),
    ("kEECDH", Selector::kx(KX_ECDHE)),
    ("ECDH", Selector::kx(KX_ECDHE)),
    // Authenticated ephemeral ECDH (kECDHE without aNULL).
    (
        "ECDHE",
        Selector {
            kx: Some(KX_ECDHE),
            auth: Some(AUTH_ANY),
            ..Selector::ANY
        },
    ),
    (
        "EECDH",
        Selector {
            kx: Some(KX_ECDHE),
            auth: Some(AUTH_ANY),
            ..Selector::ANY
        },
    ),
    ("aRSA", Selector::auth(AUTH_RSA)),
    ("aECDSA", Selector::auth(AUTH_ECDSA)),
    ("ECDSA", Selector::auth(AUTH_ECDSA)),
    ("AES", Selector::enc(ENC_AESGCM)),
    ("AESGCM", Selector::enc(ENC_AESGCM)),
    ("AES128", Selector::enc(ENC_AES128GCM)),
    ("AES256", Selector::enc(ENC_AES256GCM)),
    ("CHACHA20", Selector::enc(ENC_CHACHA20)),
    ("TLSv1.2", Selector::version(MinVersion::Tls12)),
    ("TLSv1", Selector::version(MinVersion::Tls1)),
    ("TLSv1.0", Selector::version(MinVersion::Tls1)),
    ("SSLv3", Selector::version(MinVersion::Ssl3)),
    // Key exchanges rustls does not implement (RSA means kRSA in OpenSSL).
    ("RSA", Selector::NOTHING),
    ("kRSA", Selector::NOTHING),
    ("kEDH", Selector::NOTHING),
    ("kDHE", Selector::NOTHING),
    ("EDH", Selector::NOTHING),
    ("DHE", Selector::NOTHING),
    ("ADH", Selector::NOTHING),
    ("AECDH", Selector::NOTHING),
    ("DH", Selector::NOTHING),
    ("kDH", Selector::NOTHING),
    ("kDHr", Selector::NOTHING),
    ("kDHd", Selector::NOTHING),
    ("kECDH", Selector::NOTHING),
    ("kECDHr", Selector::NOTHING),
    ("kECDHe", Selector::NOTHING),
    ("PSK", Selector::NOTHING),
    ("kPSK", Selector::NOTHING),
    ("kRSAPSK", Selector::NOTHING),
    ("kECDHEPSK", Selector::NOTHING),
    ("kDHEPSK", Selector::NOTHING),
    ("SRP", Selector::NOTHING),
    ("kSRP", Selector::NOTHING),
    ("kGOST", Selector::NOTHING),
    ("kGOST18", Selector::NOTHING),
    ("KRB5", Selector::NOTHING),
    ("kKRB5", Selector::NOTHING),
    // Authentication rustls does not implement.
    ("aNULL", Selector::NOTHING),
    ("aDSS", Selector::NOTHING),
    ("DSS", Selector::NOTHING),
    ("aDH", Selector::NOTHING),
    ("aECDH", Selector::NOTHING),
    ("aPSK", Selector::NOTHING),
    ("aSRP", Selector::NOTHING),
    ("aGOST", Selector::NOTHING),
    ("aGOST01", Selector::NOTHING),
    ("aGOST12", Selector::NOTHING),
    ("aKRB5", Selector::NOTHING),
    // Ciphers rustls does not implement.
    ("eNULL", Selector::NOTHING),
    ("NULL", Selector::NOTHING),
    ("COMPLEMENTOFALL", Selector::NOTHING),
    ("DES", Selector::NOTHING),
    ("3DES", Selector::NOTHING),
    ("RC4", Selector::NOTHING),
    ("RC2", Selector::NOTHING),
    ("IDEA", Selector::NOTHING),
    ("SEED", Selector::NOTHING),
    ("CAMELLIA", Selector::NOTHING),
    ("CAMELLIA128", Selector::NOTHING),
    ("CAMELLIA256", Selector::NOTHING),
    ("AESCCM", Selector::NOTHING),
    ("AESCCM8", Selector::NOTHING),
    ("ARIA", Selector::NOTHING),
    ("ARIAGCM", Selector::NOTHING),
    ("ARIA128", Selector::NOTHING),
    ("ARIA256", Selector::NOTHING),
    ("CBC", Selector::NOTHING),
    ("GOST89", Selector::NOTHING),
    // MACs: our suites are AEAD, which no MAC alias matches (SHA256 included).
    ("MD5", Selector::NOTHING),
    ("SHA1", Selector::NOTHING),
    ("SHA", Selector::NOTHING),
    ("SHA256", Selector::NOTHING),
    ("SHA384", Selector::NOTHING),
    ("GOST94", Selector::NOTHING),
    ("GOST89MAC", Selector::NOTHING),
    ("GOST12", Selector::NOTHING),
    // Strength classes none of our suites is in.
    ("MEDIUM", Selector::NOTHING),
    ("LOW", Selector::NOTHING),
    ("EXP", Selector::NOTHING),
    ("EXPORT", Selector::NOTHING),
    ("EXPORT40", Selector::NOTHING),
    ("EXPORT56", Selector::NOTHING),
    ("COMPLEMENTOFDEFAULT", Selector::NOTHING),
];

/// OpenSSL suite names (1.0.2 to 3.x) outside our six: valid, select nothing.
/// Sorted, for binary search.
const OTHER_SUITE_NAMES: &[&str] = &[
    "ADH-AES128-GCM-SHA256",
    "ADH-AES128-SHA",
    "ADH-AES128-SHA256",
    "ADH-AES256-GCM-SHA384",
    "ADH-AES256-SHA",
    "ADH-AES256-SHA256",
    "ADH-CAMELLIA128-SHA",
    "ADH-CAMELLIA128-SHA256",
    "ADH-CAMELLIA256-SHA",
    "ADH-CAMELLIA256-SHA256",
    "ADH-DES-CBC-SHA",
    "ADH-DES-CBC3-SHA",
    "ADH-RC4-MD5",
    "ADH-SEED-SHA",
    "AECDH-AES128-SHA",
    "AECDH-AES256-SHA",
    "AECDH-DES-CBC3-SHA",
    "AECDH-NULL-SHA",
    "AECDH-RC4-SHA",
    "AES128-CCM",
    "AES128-CCM8",
    "AES128-GCM-SHA256",
    "AES128-SHA",
    "AES128-SHA256",
    "AES256-CCM",
    "AES256-CCM8",
    "AES256-GCM-SHA384",
    "AES256-SHA",
    "AES256-SHA256",
    "ARIA128-GCM-SHA256",
    "ARIA256-GCM-SHA384",
    "CAMELLIA128-SHA",
    "CAMELLIA128-SHA256",
    "CAMELLIA256-SHA",
    "CAMELLIA256-SHA256",
    "DES-CBC-MD5",
    "DES-CBC-SHA",
    "DES-CBC3-MD5",
    "DES-CBC3-SHA",
    "DH-DSS-AES128-GCM-SHA256",
    "DH-DSS-AES128-SHA",
    "DH-DSS-AES128-SHA256",
    "DH-DSS-AES256-GCM-SHA384",
    "DH-DSS-AES256-SHA",
    "DH-DSS-AES256-SHA256",
    "DH-DSS-CAMELLIA128-SHA",
    "DH-DSS-CAMELLIA256-SHA",
    "DH-DSS-DES-CBC-SHA",
    "DH-DSS-DES-CBC3-SHA",
    "DH-DSS-SEED-SHA",
    "DH-RSA-AES128-GCM-SHA256",
    "DH-RSA-AES128-SHA",
    "DH-RSA-AES128-SHA256",
    "DH-RSA-AES256-GCM-SHA384",
    "DH-RSA-AES256-SHA",
    "DH-RSA-AES256-SHA256",
    "DH-RSA-CAMELLIA128-SHA",
    "DH-RSA-CAMELLIA256-SHA",
    "DH-RSA-DES-CBC-SHA",
    "DH-RSA-DES-CBC3-SHA",
    "DH-RSA-SEED-SHA",
    "DHE-DSS-AES128-GCM-SHA256",
    "DHE-DSS-AES128-SHA",
    "DHE-DSS-AES128-SHA256",
    "DHE-DSS-AES256-GCM-SHA384",
    "DHE-DSS-AES256-SHA",
    "DHE-DSS-AES256-SHA256",
    "DHE-DSS-ARIA128-GCM-SHA256",
    "DHE-DSS-ARIA256-GCM-SHA384",
    "DHE-DSS-CAMELLIA128-SHA",
    "DHE-DSS-CAMELLIA128-SHA256",
    "DHE-DSS-CAMELLIA256-SHA",
    "DHE-DSS-CAMELLIA256-SHA256",
    "DHE-DSS-DES-CBC3-SHA",
    "DHE-DSS-SEED-SHA",
    "DHE-PSK-3DES-EDE-CBC-SHA",
    "DHE-PSK-AES128-CBC-SHA",
    "DHE-PSK-AES128-CBC-SHA256",
    "DHE-PSK-AES128-CCM",
    "DHE-PSK-AES128-CCM8",
    "DHE-PSK-AES128-GCM-SHA256",
    "DHE-PSK-AES256-CBC-SHA",
    "DHE-PSK-AES256-CBC-SHA384",
    "DHE-PSK-AES256-CCM",
    "DHE-PSK-AES256-CCM8",
    "DHE-PSK-AES256-GCM-SHA384",
    "DHE-PSK-ARIA128-GCM-SHA256",
    "DHE-PSK-ARIA256-GCM-SHA384",
    "DHE-PSK-CAMELLIA128-SHA256",
    "DHE-PSK-CAMELLIA256-SHA384",
    "DHE-PSK-CHACHA20-POLY1305",
    "DHE-PSK-NULL-SHA",
    "DHE-PSK-NULL-SHA256",
    "DHE-PSK-NULL-SHA384",
    "DHE-PSK-RC4-SHA",
    "DHE-RSA-AES128-CCM",
    "DHE-RSA-AES128-CCM8",
    "DHE-RSA-AES128-GCM-SHA256",
    "DHE-RSA-AES128-SHA",
    "DHE-RSA-AES128-SHA256",
    "DHE-RSA-AES256-CCM",
    "DHE-RSA-AES256-CCM8",
    "DHE-RSA-AES256-GCM-SHA384",
    "DHE-RSA-AES256-SHA",
    "DHE-RSA-AES256-SHA256",
    "DHE-RSA-ARIA128-GCM-SHA256",
    "DHE-RSA-ARIA256-GCM-SHA384",
    "DHE-RSA-CAMELLIA128-SHA",
    "DHE-RSA-CAMELLIA128-SHA256",
    "DHE-RSA-CAMELLIA256-SHA",
    "DHE-RSA-CAMELLIA256-SHA256",
    "DHE-RSA-CHACHA20-POLY1305",
    "DHE-RSA-DES-CBC3-SHA",
    "DHE-RSA-SEED-SHA",
    "ECDH-ECDSA-AES128-GCM-SHA256",
    "ECDH-ECDSA-AES128-SHA",
    "ECDH-ECDSA-AES128-SHA256",
    "ECDH-ECDSA-AES256-GCM-SHA384",
    "ECDH-ECDSA-AES256-SHA",
    "ECDH-ECDSA-AES256-SHA384",
    "ECDH-ECDSA-DES-CBC3-SHA",
    "ECDH-ECDSA-NULL-SHA",
    "ECDH-ECDSA-RC4-SHA",
    "ECDH-RSA-AES128-GCM-SHA256",
    "ECDH-RSA-AES128-SHA",
    "ECDH-RSA-AES128-SHA256",
    "ECDH-RSA-AES256-GCM-SHA384",
    "ECDH-RSA-AES256-SHA",
    "ECDH-RSA-AES256-SHA384",
    "ECDH-RSA-DES-CBC3-SHA",
    "ECDH-RSA-NULL-SHA",
    "ECDH-RSA-RC4-SHA",
    "ECDHE-ARIA128-GCM-SHA256",
    "ECDHE-ARIA256-GCM-SHA384",
    "ECDHE-ECDSA-AES128-CCM",
    "ECDHE-ECDSA-AES128-CCM8",
    "ECDHE-ECDSA-AES128-SHA",
    "ECDHE-ECDSA-AES128-SHA256",
    "ECDHE-ECDSA-AES256-CCM",
    "ECDHE-ECDSA-AES256-CCM8",
    "ECDHE-ECDSA-AES256-SHA",
    "ECDHE-ECDSA-AES256-SHA384",
    "ECDHE-ECDSA-ARIA128-GCM-SHA256",
    "ECDHE-ECDSA-ARIA256-GCM-SHA384",
    "ECDHE-ECDSA-CAMELLIA128-SHA256",
    "ECDHE-ECDSA-CAMELLIA256-SHA384",
    "ECDHE-ECDSA-DES-CBC3-SHA",
    "ECDHE-ECDSA-NULL-SHA",
    "ECDHE-ECDSA-RC4-SHA",
    "ECDHE-PSK-3DES-EDE-CBC-SHA",
    "ECDHE-PSK-AES128-CBC-SHA",
    "ECDHE-PSK-AES128-CBC-SHA256",
    "ECDHE-PSK-AES256-CBC-SHA",
    "ECDHE-PSK-AES256-CBC-SHA384",
    "ECDHE-PSK-CAMELLIA128-SHA256",
    "ECDHE-PSK-CAMELLIA256-SHA384",
    "ECDHE-PSK-CHACHA20-POLY1305",
    "ECDHE-PSK-NULL-SHA",
    "ECDHE-PSK-NULL-SHA256",
    "ECDHE-PSK-NULL-SHA384",
    "ECDHE-PSK-RC4-SHA",
    "ECDHE-RSA-AES128-SHA",
    "ECDHE-RSA-AES128-SHA256",
    "ECDHE-RSA-AES256-SHA",
    "ECDHE-RSA-AES256-SHA384",
    "ECDHE-RSA-CAMELLIA128-SHA256",
    "ECDHE-RSA-CAMELLIA256-SHA384",
    "ECDHE-RSA-DES-CBC3-SHA",
    "ECDHE-RSA-NULL-SHA",
    "ECDHE-RSA-RC4-SHA",
    "EDH-DSS-DES-CBC-SHA",
    "EDH-DSS-DES-CBC3-SHA",
    "EDH-RSA-DES-CBC-SHA",
    "EDH-RSA-DES-CBC3-SHA",
    "EXP-ADH-DES-CBC-SHA",
    "EXP-ADH-RC4-MD5",
    "EXP-DES-CBC-SHA",
    "EXP-DH-DSS-DES-CBC-SHA",
    "EXP-DH-RSA-DES-CBC-SHA",
    "EXP-EDH-DSS-DES-CBC-SHA",
    "EXP-EDH-RSA-DES-CBC-SHA",
    "EXP-KRB5-DES-CBC-MD5",
    "EXP-KRB5-DES-CBC-SHA",
    "EXP-KRB5-RC2-CBC-MD5",
    "EXP-KRB5-RC2-CBC-SHA",
    "EXP-KRB5-RC4-MD5",
    "EXP-KRB5-RC4-SHA",
    "EXP-RC2-CBC-MD5",
    "EXP-RC4-MD5",
    "GOST2001-GOST89-GOST89",
    "GOST2001-NULL-GOST94",
    "GOST2012-GOST8912-GOST8912",
    "GOST2012-KUZNYECHIK-KUZNYECHIKOMAC",
    "GOST2012-MAGMA-MAGMAOMAC",
    "GOST2012-NULL-GOST12",
    "GOST94-GOST89-GOST89",
    "GOST94-NULL-GOST94",
    "IDEA-CBC-MD5",
    "IDEA-CBC-SHA",
    "KRB5-DES-CBC-MD5",
    "KRB5-DES-CBC-SHA",
    "KRB5-DES-CBC3-MD5",
    "KRB5-DES-CBC3-SHA",
    "KRB5-IDEA-CBC-MD5",
    "KRB5-IDEA-CBC-SHA",
    "KRB5-RC4-MD5",
    "KRB5-RC4-SHA",
    "NULL-MD5",
    "NULL-SHA",
    "NULL-SHA256",
    "PSK-3DES-EDE-CBC-SHA",
    "PSK-AES128-CBC-SHA",
    "PSK-AES128-CBC-SHA256",
    "PSK-AES128-CCM",
    "PSK-AES128-CCM8",
    "PSK-AES128-GCM-SHA256",
    "PSK-AES256-CBC-SHA",
    "PSK-AES256-CBC-SHA384",
    "PSK-AES256-CCM",
    "PSK-AES256-CCM8",
    "PSK-AES256-GCM-SHA384",
    "PSK-ARIA128-GCM-SHA256",
    "PSK-ARIA256-GCM-SHA384",
    "PSK-CAMELLIA128-SHA256",
    "PSK-CAMELLIA256-SHA384",
    "PSK-CHACHA20-POLY1305",
    "PSK-NULL-SHA",
    "PSK-NULL-SHA256",
    "PSK-NULL-SHA384",
    "PSK-RC4-SHA",
    "RC2-CBC-MD5",
    "RC4-64-MD5",
    "RC4-MD5",
    "RC4-SHA",
    "RSA-PSK-3DES-EDE-CBC-SHA",
    "RSA-PSK-AES128-CBC-SHA",
    "RSA-PSK-AES128-CBC-SHA256",
    "RSA-PSK-AES128-GCM-SHA256",
    "RSA-PSK-AES256-CBC-SHA",
    "RSA-PSK-AES256-CBC-SHA384",
    "RSA-PSK-AES256-GCM-SHA384",
    "RSA-PSK-ARIA128-GCM-SHA256",
    "RSA-PSK-ARIA256-GCM-SHA384",
    "RSA-PSK-CAMELLIA128-SHA256",
    "RSA-PSK-CAMELLIA256-SHA384",
    "RSA-PSK-CHACHA20-POLY1305",
    "RSA-PSK-NULL-SHA",
    "RSA-PSK-NULL-SHA256",
    "RSA-PSK-NULL-SHA384",
    "RSA-PSK-RC4-SHA",
    "SEED-SHA",
    "SRP-3DES-EDE-CBC-SHA",
    "SRP-AES-128-CBC-SHA",
    "SRP-AES-256-CBC-SHA",
    "SRP-DSS-3DES-EDE-CBC-SHA",
    "SRP-DSS-AES-128-CBC-SHA",
    "SRP-DSS-AES-256-CBC-SHA",
    "SRP-RSA-3DES-EDE-CBC-SHA",
    "SRP-RSA-AES-128-CBC-SHA",
    "SRP-RSA-AES-256-CBC-SHA",
];

/// Finds what a word of a cipher string selects.
fn lookup(word: &str, entry: &str) -> Result<Selector, CipherError> {
    if let Some(suite) = UNIVERSE.iter().find(|suite| suite.name == word) {
        return Ok(Selector::named(suite));
    }
    if let Some((_, selector)) = ALIASES.iter().find(|(name, _)| *name == word) {
        return Ok(*selector);
    }
    if OTHER_SUITE_NAMES.binary_search(&word).is_ok() {
        return Ok(Selector::NOTHING);
    }
    Err(unknown_word(word, entry))
}

fn unknown_word(word: &str, entry: &str) -> CipherError {
    if word.starts_with("TLS_") {
        return CipherError::UnknownToken {
            token: word.to_owned(),
            hint: "; TLS 1.3 suites are not set by ssl_ciphers: they are always enabled".to_owned(),
        };
    }
    if word.is_empty() || !word.chars().all(is_word_char) {
        return CipherError::Syntax {
            entry: entry.to_owned(),
        };
    }
    CipherError::UnknownToken {
        token: word.to_owned(),
        hint: case_hint(word),
    }
}

/// The characters OpenSSL allows in a cipher or alias name.
fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '=')
}

/// Names are case-sensitive in OpenSSL; suggest the spelling it knows.
fn case_hint(word: &str) -> String {
    let known = UNIVERSE
        .iter()
        .map(|suite| suite.name)
        .chain(ALIASES.iter().map(|(name, _)| *name))
        .chain(OTHER_SUITE_NAMES.iter().copied())
        .find(|name| name.eq_ignore_ascii_case(word));
    match known {
        Some(name) => format!("; names are case-sensitive: did you mean \"{name}\"?"),
        None => String::new(),
    }
}

// ---------------------------------------------------------------------------
// Parsing

/// What an entry does to the list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    /// No prefix: append the matching suites not yet selected.
    Add,
    /// `-`: unselect the matching suites; a later entry may add them again.
    Delete,
    /// `!`: remove the matching suites for good.
    Kill,
    /// `+`: move the matching selected suites to the end.
    MoveToEnd,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Rule {
    Apply(Op, Selector),
    /// `@STRENGTH`.
    SortByStrength,
    /// `@SECLEVEL=n`: OpenSSL's security level, which has no counterpart here.
    Ignore,
}

fn parse_rules(spec: &str) -> Result<Vec<Rule>, CipherError> {
    spec.split(|c: char| matches!(c, ':' | ',' | ';') || c.is_ascii_whitespace())
        .filter(|entry| !entry.is_empty())
        .map(parse_entry)
        .collect()
}

fn parse_entry(entry: &str) -> Result<Rule, CipherError> {
    let (op, body) = match entry.split_at_checked(1) {
        Some(("@", command)) => return parse_command(command, entry),
        Some(("!", body)) => (Op::Kill, body),
        Some(("-", body)) => (Op::Delete, body),
        Some(("+", body)) => (Op::MoveToEnd, body),
        _ => (Op::Add, entry),
    };
    let mut selector = Selector::ANY;
    for word in body.split('+') {
        selector = selector.and(lookup(word, entry)?);
    }
    Ok(Rule::Apply(op, selector))
}

fn parse_command(command: &str, entry: &str) -> Result<Rule, CipherError> {
    if command == "STRENGTH" {
        return Ok(Rule::SortByStrength);
    }
    match command.strip_prefix("SECLEVEL=") {
        Some("0" | "1" | "2" | "3" | "4" | "5") => Ok(Rule::Ignore),
        _ => Err(CipherError::UnknownCommand {
            entry: entry.to_owned(),
        }),
    }
}

// ---------------------------------------------------------------------------
// Applying the rules, as OpenSSL's ssl_cipher_apply_rule does

#[derive(Clone, Copy, Debug)]
struct Entry {
    suite: &'static Suite,
    selected: bool,
}

/// OpenSSL's working list: every suite not killed, selected or not, in an
/// order that decides both the result and where re-added suites go.
struct CipherList {
    entries: Vec<Entry>,
}

impl CipherList {
    fn new() -> Self {
        let entries = UNIVERSE
            .iter()
            .map(|suite| Entry {
                suite,
                selected: false,
            })
            .collect();
        Self { entries }
    }

    fn apply(&mut self, rule: Rule) {
        match rule {
            Rule::Apply(op, selector) => self.apply_op(op, &selector),
            Rule::SortByStrength => self.sort_by_strength(),
            Rule::Ignore => {}
        }
    }

    fn apply_op(&mut self, op: Op, selector: &Selector) {
        let matching = |entry: &Entry| selector.matches(entry.suite);
        match op {
            Op::Add => self.move_to_end(|entry| !entry.selected && matching(entry)),
            Op::MoveToEnd => self.move_to_end(|entry| entry.selected && matching(entry)),
            Op::Delete => self.unselect_to_front(|entry| entry.selected && matching(entry)),
            Op::Kill => self.entries.retain(|entry| !matching(entry)),
        }
    }

    /// Moves the picked entries to the end, in list order, and selects them.
    fn move_to_end(&mut self, pick: impl Fn(&Entry) -> bool) {
        let (mut picked, rest): (Vec<Entry>, Vec<Entry>) = std::mem::take(&mut self.entries)
            .into_iter()
            .partition(|entry| pick(entry));
        for entry in &mut picked {
            entry.selected = true;
        }
        self.entries = rest;
        self.entries.append(&mut picked);
    }

    /// Moves the picked entries to the front, in list order, and unselects
    /// them: a later addition takes the most recently deleted first.
    fn unselect_to_front(&mut self, pick: impl Fn(&Entry) -> bool) {
        let (mut picked, mut rest): (Vec<Entry>, Vec<Entry>) = std::mem::take(&mut self.entries)
            .into_iter()
            .partition(|entry| pick(entry));
        for entry in &mut picked {
            entry.selected = false;
        }
        picked.append(&mut rest);
        self.entries = picked;
    }

    /// Moves the selected entries to the end, longest key first, keeping the
    /// order among equal lengths.
    fn sort_by_strength(&mut self) {
        let (mut selected, unselected): (Vec<Entry>, Vec<Entry>) =
            std::mem::take(&mut self.entries)
                .into_iter()
                .partition(|entry| entry.selected);
        selected.sort_by_key(|entry| std::cmp::Reverse(entry.suite.bits));
        self.entries = unselected;
        self.entries.append(&mut selected);
    }

    /// The selected suites, in order.
    fn selected(&self) -> impl Iterator<Item = &'static Suite> + '_ {
        self.entries
            .iter()
            .filter(|entry| entry.selected)
            .map(|entry| entry.suite)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
