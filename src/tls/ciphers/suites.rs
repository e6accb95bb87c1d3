//! The six suites and what OpenSSL's aliases match in them.
//!
//! OpenSSL describes each suite by bit sets (key exchange, authentication,
//! encryption, MAC, strength, protocol version); an alias is a pattern over
//! them. Only the bits that occur among our six suites are kept: an alias
//! whose bits are all outside them becomes an empty set, and so selects
//! nothing, alone or joined with others by '+', as in OpenSSL.

use rustls::CipherSuite;

pub(super) const KX_ECDHE: u8 = 1;

pub(super) const AUTH_RSA: u8 = 1;
pub(super) const AUTH_ECDSA: u8 = 2;
pub(super) const AUTH_ANY: u8 = AUTH_RSA | AUTH_ECDSA;

pub(super) const ENC_AES128GCM: u8 = 1;
pub(super) const ENC_AES256GCM: u8 = 2;
pub(super) const ENC_CHACHA20: u8 = 4;
pub(super) const ENC_AESGCM: u8 = ENC_AES128GCM | ENC_AES256GCM;
pub(super) const ENC_ANY: u8 = ENC_AESGCM | ENC_CHACHA20;

const MAC_AEAD: u8 = 1;

pub(super) const STRENGTH_HIGH: u8 = 1;
pub(super) const STRENGTH_FIPS: u8 = 2;

/// The protocol version an OpenSSL suite (or a `TLSv1.x` alias) is tied to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum MinVersion {
    Ssl3,
    Tls1,
    Tls12,
}

/// A TLS 1.2 suite rustls implements, with OpenSSL's description of it.
#[derive(Debug)]
pub(super) struct Suite {
    pub(super) name: &'static str,
    pub(super) id: CipherSuite,
    auth: u8,
    enc: u8,
    strength: u8,
    /// Symmetric key bits, for `@STRENGTH`.
    pub(super) bits: u16,
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
pub(super) const UNIVERSE: [Suite; 6] = [
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
pub(super) struct Selector {
    pub(super) kx: Option<u8>,
    pub(super) auth: Option<u8>,
    pub(super) enc: Option<u8>,
    pub(super) mac: Option<u8>,
    pub(super) strength: Option<u8>,
    pub(super) version: Option<MinVersion>,
    /// An explicit suite name: only that suite.
    pub(super) suite: Option<CipherSuite>,
}

impl Selector {
    pub(super) const ANY: Self = Self {
        kx: None,
        auth: None,
        enc: None,
        mac: None,
        strength: None,
        version: None,
        suite: None,
    };

    /// Matches no suite here (the suites OpenSSL would match are not implemented).
    pub(super) const NOTHING: Self = Self {
        kx: Some(0),
        ..Self::ANY
    };

    pub(super) const fn kx(bits: u8) -> Self {
        Self {
            kx: Some(bits),
            ..Self::ANY
        }
    }

    pub(super) const fn auth(bits: u8) -> Self {
        Self {
            auth: Some(bits),
            ..Self::ANY
        }
    }

    pub(super) const fn enc(bits: u8) -> Self {
        Self {
            enc: Some(bits),
            ..Self::ANY
        }
    }

    pub(super) const fn strength(bits: u8) -> Self {
        Self {
            strength: Some(bits),
            ..Self::ANY
        }
    }

    pub(super) const fn version(version: MinVersion) -> Self {
        Self {
            version: Some(version),
            ..Self::ANY
        }
    }

    /// An explicit suite name: the suite itself, with all its properties
    /// (OpenSSL joins them too when a name is combined with '+').
    pub(super) fn named(suite: &Suite) -> Self {
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
    pub(super) fn and(self, other: Self) -> Self {
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

    pub(super) fn matches(&self, suite: &Suite) -> bool {
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
