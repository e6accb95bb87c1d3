//! Path normalisation, Host normalisation and routing: a route table built
//! from fuzzer-chosen domains and rules, asked for fuzzer-chosen requests.
//! The choice it makes must match what the patterns say on their own.

#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use stgw::routing::{
    DomainPattern, DomainSpec, HostName, LocationMatch, RouteTable, Routed, UrlPattern,
    normalize_path,
};

/// Bytes mapped onto small alphabets, so that rules, hosts and paths share
/// enough characters to match one another.
#[derive(Arbitrary, Debug)]
struct Input {
    domains: Vec<Domain>,
    default: Option<u8>,
    host: Option<Vec<u8>>,
    path: Vec<u8>,
}

#[derive(Arbitrary, Debug)]
struct Domain {
    name: Vec<u8>,
    rules: Vec<Vec<u8>>,
}

const DOMAIN_CHARS: &[u8] = b"ab.*~^$-";
const RULE_CHARS: &[u8] = b"/ab.=~^*$ ?%";
const HOST_CHARS: &[u8] = b"ab.:-[]1A";
const PATH_CHARS: &[u8] = b"/ab.%2eEF0#?";

fn spell(bytes: &[u8], alphabet: &[u8]) -> String {
    bytes
        .iter()
        .map(|&b| char::from(alphabet[usize::from(b) % alphabet.len()]))
        .collect()
}

fn check_path(raw: &[u8]) -> Option<Vec<u8>> {
    let out = normalize_path(raw).ok()?.into_owned();
    assert!(out.starts_with(b"/"), "{out:?}");
    // Merged slashes and no dot segments left.
    for seg in out.split(|&b| b == b'/').skip(1) {
        assert!(seg != b"." && seg != b"..", "dot segment left in {out:?}");
    }
    assert!(!out.windows(2).any(|w| w == b"//"), "// left in {out:?}");
    // Normal form is a fixed point, unless a decoded '%' or '#' (kept
    // literally) now reads as an escape or a fragment.
    if !out.contains(&b'%') && !out.contains(&b'#') {
        let again = normalize_path(&out).expect("a normal path normalises");
        assert_eq!(&*again, &out[..], "not idempotent");
    }
    Some(out)
}

fn check_host(raw: &[u8]) -> Option<String> {
    let host = HostName::parse(raw).ok()?;
    let name = host.as_str().to_owned();
    assert!(!name.is_empty());
    assert!(!name.bytes().any(|b| b.is_ascii_uppercase()), "{name:?}");
    let again = HostName::parse(name.as_bytes()).expect("a normal host parses");
    assert_eq!(again.as_str(), name, "not idempotent");
    Some(name)
}

fuzz_target!(|input: Input| {
    let mut patterns: Vec<DomainPattern> = Vec::new();
    let mut rules: Vec<Vec<UrlPattern>> = Vec::new();
    let mut specs = Vec::new();
    for d in input.domains.iter().take(8) {
        let Ok(pattern) = DomainPattern::parse(&spell(&d.name, DOMAIN_CHARS)) else {
            continue;
        };
        let parsed: Vec<UrlPattern> = d
            .rules
            .iter()
            .take(8)
            .filter_map(|r| UrlPattern::parse(&spell(r, RULE_CHARS)).ok())
            .collect();
        specs.push(DomainSpec {
            pattern: pattern.clone(),
            data: patterns.len(),
            rules: parsed
                .iter()
                .cloned()
                .enumerate()
                .map(|(j, p)| (p, j))
                .collect(),
        });
        patterns.push(pattern);
        rules.push(parsed);
    }
    let default = input.default.map(usize::from);
    let table = RouteTable::new(specs, default);
    let default = default.filter(|&d| d < patterns.len());

    let host = match &input.host {
        Some(raw) => match check_host(&spell(raw, HOST_CHARS).into_bytes()) {
            Some(h) => Some(h),
            None => return,
        },
        None => None,
    };
    let Some(path) = check_path(spell(&input.path, PATH_CHARS).as_bytes()) else {
        return;
    };

    let matching = |h: &str| patterns.iter().filter(|p| p.matches(h)).count();
    match table.route(host.as_deref(), &path) {
        Routed::NoDomain => {
            assert_eq!(default, None, "unmatched with a default domain");
            if let Some(h) = &host {
                assert_eq!(matching(h), 0, "{h:?} matches a domain but none was chosen");
            }
        }
        Routed::Domain { domain, location } => {
            let d = *domain;
            match &host {
                Some(h) if patterns[d].matches(h) => {
                    let exact = patterns.iter().any(|p| p.is_exact() && p.matches(h));
                    assert!(!exact || patterns[d].is_exact(), "an exact name loses");
                    assert_eq!(table.domain_exact(h), Some(&d));
                }
                Some(h) => {
                    assert_eq!(
                        Some(d),
                        default,
                        "{h:?} routed to a domain it does not match"
                    );
                    assert_eq!(matching(h), 0);
                    assert_eq!(table.domain_exact(h), None);
                }
                None => assert_eq!(Some(d), default),
            }
            let rules = &rules[d];
            let exact = rules
                .iter()
                .position(|r| matches!(r, UrlPattern::Exact(p) if p.as_bytes() == &path[..]));
            match location {
                LocationMatch::Rule(&j) => {
                    assert!(rules[j].matches(&path), "rule {j} does not match {path:?}");
                    if let Some(e) = exact {
                        assert_eq!(j, e, "an equal `=` rule loses");
                    }
                }
                LocationMatch::AddSlash(&j) => {
                    assert_eq!(exact, None, "an equal `=` rule loses to a redirect");
                    let mut slashed = path.clone();
                    slashed.push(b'/');
                    assert_eq!(rules[j].literal().map(str::as_bytes), Some(&slashed[..]));
                }
                LocationMatch::None => {
                    assert!(
                        !rules.iter().any(|r| r.matches(&path)),
                        "{path:?} matches a rule but none was chosen"
                    );
                }
            }
        }
    }
});
