//! The compiled tables against a naive reading of nginx's rules, on random
//! rule sets and requests.

use proptest::prelude::*;

use super::*;

/// nginx's `location` selection written as plainly as possible.
fn reference_location(rules: &[UrlPattern], path: &[u8]) -> LocationMatch<usize> {
    if let Some(i) = rules
        .iter()
        .position(|r| matches!(r, UrlPattern::Exact(p) if p.as_bytes() == path))
    {
        return LocationMatch::Rule(i);
    }
    let is_prefix =
        |r: &UrlPattern| matches!(r, UrlPattern::Prefix(_) | UrlPattern::PrefixNoRegex(_));
    let path_is_a_prefix_rule = rules
        .iter()
        .any(|r| is_prefix(r) && r.literal() == Some(as_str(path)));
    if !path_is_a_prefix_rule {
        let with_slash = format!("{}/", as_str(path));
        if let Some(i) = rules
            .iter()
            .position(|r| r.literal() == Some(with_slash.as_str()) && with_slash.len() > 1)
        {
            return LocationMatch::AddSlash(i);
        }
    }
    let mut longest: Option<(usize, usize)> = None; // (len, index)
    for (i, r) in rules.iter().enumerate() {
        if is_prefix(r) && r.matches(path) {
            let len = r.literal().map_or(0, str::len);
            if longest.is_none_or(|(l, _)| len > l) {
                longest = Some((len, i));
            }
        }
    }
    if let Some((_, i)) = longest
        && matches!(rules[i], UrlPattern::PrefixNoRegex(_))
    {
        return LocationMatch::Rule(i);
    }
    if let Some(i) = rules
        .iter()
        .position(|r| matches!(r, UrlPattern::Regex { .. }) && r.matches(path))
    {
        return LocationMatch::Rule(i);
    }
    longest.map_or(LocationMatch::None, |(_, i)| LocationMatch::Rule(i))
}

/// nginx's `server_name` selection written as plainly as possible.
fn reference_domain(patterns: &[DomainPattern], host: &str) -> Option<usize> {
    if let Some(i) = patterns
        .iter()
        .position(|p| p.is_exact() && p.matches(host))
    {
        return Some(i);
    }
    let longest = |want_leading: bool| {
        let mut best: Option<(usize, usize)> = None;
        for (i, p) in patterns.iter().enumerate() {
            let len = match p {
                DomainPattern::Leading { suffix, .. } if want_leading => suffix.len(),
                DomainPattern::Trailing { prefix } if !want_leading => prefix.len(),
                _ => continue,
            };
            if p.matches(host) && best.is_none_or(|(l, _)| len > l) {
                best = Some((len, i));
            }
        }
        best.map(|(_, i)| i)
    };
    longest(true).or_else(|| longest(false)).or_else(|| {
        patterns
            .iter()
            .position(|p| matches!(p, DomainPattern::Regex(_)) && p.matches(host))
    })
}

fn as_str(b: &[u8]) -> &str {
    std::str::from_utf8(b).unwrap_or("")
}

fn path_strategy() -> impl Strategy<Value = String> {
    (
        prop::collection::vec(
            prop::sample::select(vec!["a", "b", "ab", "A", "x.gif"]),
            0..4,
        ),
        any::<bool>(),
    )
        .prop_map(|(segs, slash)| {
            let mut p = format!("/{}", segs.join("/"));
            if slash && !p.ends_with('/') {
                p.push('/');
            }
            p
        })
}

fn rule_strategy() -> impl Strategy<Value = String> {
    prop_oneof![
        path_strategy(),
        path_strategy().prop_map(|p| format!("= {p}")),
        path_strategy().prop_map(|p| format!("^~ {p}")),
        prop::sample::select(vec![
            "~ ^/a",
            "~* ^/a",
            "~ b$",
            "~* \\.GIF$",
            "~ /a/",
            "~ ^/$"
        ])
        .prop_map(String::from),
    ]
}

fn host_strategy() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop::sample::select(vec!["a", "b", "www", "example", "com"]),
        1..5,
    )
    .prop_map(|labels| labels.join("."))
}

fn domain_strategy() -> impl Strategy<Value = String> {
    prop_oneof![
        host_strategy(),
        host_strategy().prop_map(|h| format!("*.{h}")),
        host_strategy().prop_map(|h| format!("{h}.*")),
        prop::sample::select(vec!["~^www\\.", "~\\.com$", "~^a\\.b"]).prop_map(String::from),
    ]
}

/// Keeps the first of rules with the same identity, as validation requires.
fn dedup<T>(items: Vec<T>, identity: impl Fn(&T) -> String) -> Vec<T> {
    let mut seen = std::collections::HashSet::new();
    items
        .into_iter()
        .filter(|i| seen.insert(identity(i)))
        .collect()
}

proptest! {
    #[test]
    fn compiled_locations_agree_with_the_reference(
        urls in prop::collection::vec(rule_strategy(), 0..10),
        paths in prop::collection::vec(path_strategy(), 1..20),
    ) {
        let rules = dedup(urls.iter().map(|u| UrlPattern::parse(u).unwrap()).collect(), UrlPattern::identity);
        let table = LocationTable::new(rules.iter().cloned().enumerate().map(|(i, r)| (r, i)));
        for path in &paths {
            let got = table.find(path.as_bytes());
            let want = reference_location(&rules, path.as_bytes());
            // The same 301 target is fine whichever equal-URL rule carries it.
            let same = match (got, want) {
                (LocationMatch::AddSlash(a), LocationMatch::AddSlash(b)) => rules[a].literal() == rules[b].literal(),
                (a, b) => a == b,
            };
            prop_assert!(same, "path {path:?} rules {urls:?}: got {got:?}, want {want:?}");
        }
    }

    #[test]
    fn compiled_domains_agree_with_the_reference(
        names in prop::collection::vec(domain_strategy(), 0..8),
        hosts in prop::collection::vec(host_strategy(), 1..20),
    ) {
        let patterns = dedup(
            names.iter().map(|n| DomainPattern::parse(n).unwrap()).collect(),
            |p| format!("{p:?}"),
        );
        let table = DomainTable::new(patterns.iter().cloned().enumerate().map(|(i, p)| (p, i)), None);
        for host in &hosts {
            prop_assert_eq!(table.find(host), reference_domain(&patterns, host), "host {} names {:?}", host, names);
        }
    }

    #[test]
    fn normalisation_never_panics_and_is_idempotent(raw in "/[a-zA-Z0-9%./#?+]{0,24}") {
        if let Ok(once) = normalize_path(raw.as_bytes()) {
            // A decoded '%' may form a new escape, exactly as in nginx, so
            // only escape-free results are fixed points.
            if !once.contains(&b'%') && !once.contains(&b'#') {
                let twice = normalize_path(&once).map(|c| c.into_owned());
                prop_assert_eq!(twice, Ok(once.into_owned()));
            }
        }
    }
}
