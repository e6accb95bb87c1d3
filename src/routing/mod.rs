//! Request routing: Host → domain → URL rule, with nginx's precedence.
//!
//! A listener's domains and rules are compiled once into a [`RouteTable`];
//! matching a request borrows from it, allocates nothing and cannot fail.
//! The request's host and path are first brought into nginx's normal form
//! ([`HostName`], [`normalize_path`]).

mod domain;
mod fnv;
mod host;
mod location;
mod normalize;
mod pcre;
#[cfg(test)]
pub(crate) use pcre::TRANSLATIONS;

pub use domain::{DomainError, DomainPattern, DomainTable, MAX_DOMAIN_LEN};
pub use host::{HostName, InvalidHost};
pub use location::{LocationMatch, LocationTable, MAX_URL_LEN, UrlError, UrlPattern};
pub use normalize::{PathError, normalize_path};

/// The compiled routes of one listener: its domains (payload `D`) and each
/// domain's URL rules (payload `R`).
#[derive(Debug)]
pub struct RouteTable<D, R> {
    domains: DomainTable<usize>,
    entries: Vec<DomainEntry<D, R>>,
}

#[derive(Debug)]
struct DomainEntry<D, R> {
    data: D,
    locations: LocationTable<usize>,
    rules: Vec<R>,
}

/// One domain to compile: its pattern, payload and rules in file order.
pub struct DomainSpec<D, R> {
    /// The domain name pattern.
    pub pattern: DomainPattern,
    /// What a match on this domain yields.
    pub data: D,
    /// The domain's rules, in file order.
    pub rules: Vec<(UrlPattern, R)>,
}

/// Where a request goes.
#[derive(Debug)]
pub enum Routed<'a, D, R> {
    /// No domain matched and the listener has no default: 404.
    NoDomain,
    /// A domain was selected.
    Domain {
        /// The domain's payload.
        domain: &'a D,
        /// The rule selection within it.
        location: LocationMatch<&'a R>,
    },
}

impl<D, R> RouteTable<D, R> {
    /// Compiles domains in file order. `default` is the index of the domain
    /// that takes unmatched hosts, or `None` (unmatched → [`Routed::NoDomain`]).
    pub fn new(domains: Vec<DomainSpec<D, R>>, default: Option<usize>) -> Self {
        let mut patterns = Vec::with_capacity(domains.len());
        let mut entries = Vec::with_capacity(domains.len());
        for (i, spec) in domains.into_iter().enumerate() {
            patterns.push((spec.pattern, i));
            let mut rules = Vec::with_capacity(spec.rules.len());
            let locations = LocationTable::new(spec.rules.into_iter().enumerate().map(
                |(j, (pattern, rule))| {
                    rules.push(rule);
                    (pattern, j)
                },
            ));
            entries.push(DomainEntry {
                data: spec.data,
                locations,
                rules,
            });
        }
        let default = default.filter(|&d| d < entries.len());
        RouteTable {
            domains: DomainTable::new(patterns, default),
            entries,
        }
    }

    /// Routes a request by its normalised host (`None` when the request has
    /// none) and normalised path.
    pub fn route(&self, host: Option<&str>, path: &[u8]) -> Routed<'_, D, R> {
        let Some(index) = self.domains.find_or_default(host) else {
            return Routed::NoDomain;
        };
        let entry = &self.entries[index];
        let location = match entry.locations.find(path) {
            LocationMatch::Rule(j) => LocationMatch::Rule(&entry.rules[j]),
            LocationMatch::AddSlash(j) => LocationMatch::AddSlash(&entry.rules[j]),
            LocationMatch::None => LocationMatch::None,
        };
        Routed::Domain {
            domain: &entry.data,
            location,
        }
    }

    /// The domain a host selects (with the default), without a path.
    pub fn domain(&self, host: Option<&str>) -> Option<&D> {
        self.domains
            .find_or_default(host)
            .map(|i| &self.entries[i].data)
    }

    /// The domain a host selects by name alone (no default).
    pub fn domain_exact(&self, host: &str) -> Option<&D> {
        self.domains.find(host).map(|i| &self.entries[i].data)
    }

    /// Every domain payload, in file order.
    pub fn domains(&self) -> impl Iterator<Item = &D> {
        self.entries.iter().map(|e| &e.data)
    }

    /// Every domain payload with its rules, in file order.
    pub fn domains_with_rules(&self) -> impl Iterator<Item = (&D, &[R])> {
        self.entries.iter().map(|e| (&e.data, e.rules.as_slice()))
    }

    /// Every rule payload, in file order.
    pub fn rules(&self) -> impl Iterator<Item = &R> {
        self.entries.iter().flat_map(|e| e.rules.iter())
    }
}

#[cfg(test)]
mod proptests;
