//! Domain patterns and the per-listener domain table, with nginx's
//! `server_name` precedence: exact name, then the longest leading wildcard
//! (`*.example.com`), then the longest trailing wildcard (`www.example.*`),
//! then the first matching regex in file order.

use super::fnv::FnvMap;
use super::pcre::translate;

/// Longest domain accepted (the product's limit).
pub const MAX_DOMAIN_LEN: usize = 120;

/// A parsed domain name from the configuration.
#[derive(Debug, Clone)]
pub enum DomainPattern {
    /// `www.example.com` (lower-cased).
    Exact(String),
    /// `*.example.com`: `suffix` is `.example.com`. nginx's `.example.com`
    /// form also matches the bare `example.com` (`also_bare`).
    Leading {
        /// The part after `*`, lower-cased, starting with `.`.
        suffix: String,
        /// nginx's `.example.com` form: the bare `example.com` matches too.
        also_bare: bool,
    },
    /// `www.example.*`: `prefix` is `www.example.`.
    Trailing {
        /// The part before `*`, lower-cased, ending with `.`.
        prefix: String,
    },
    /// `~regex`, matched case-insensitively against the lower-cased host,
    /// with PCRE's meaning ([`super::pcre::translate`]).
    Regex(regex::Regex),
}

/// Why a domain name is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    /// Empty or too long.
    #[error("must be 1-{MAX_DOMAIN_LEN} characters")]
    Length,
    /// A character outside the allowed set.
    #[error(
        "character {0:?} is not allowed: use a-z 0-9 . - _ and one leading or trailing '*' (or ~regex)"
    )]
    Charset(char),
    /// `*` not as a whole first or last label, or more than once.
    #[error(
        "'*' is allowed only once, as the first label (*.example.com) or the last (www.example.*)"
    )]
    Wildcard,
    /// Empty labels (`a..b`) or a trailing dot.
    #[error("empty label")]
    EmptyLabel,
    /// A regex with a forbidden character or that does not compile.
    #[error("invalid regex: {0}")]
    Regex(String),
}

/// Characters a regex (domain or URL) may not contain, to keep the product's
/// nginx-syntax safety: quotes, braces, semicolon, backtick, whitespace.
pub(crate) fn regex_forbidden(c: char) -> bool {
    matches!(c, '"' | '\'' | '{' | '}' | ';' | '`') || c.is_whitespace()
}

impl DomainPattern {
    /// Parses a configured domain name.
    pub fn parse(name: &str) -> Result<DomainPattern, DomainError> {
        if name.is_empty() || name.len() > MAX_DOMAIN_LEN {
            return Err(DomainError::Length);
        }
        if let Some(re) = name.strip_prefix('~') {
            return parse_regex(re);
        }
        let lower = name.to_ascii_lowercase();
        if is_bracketed_ipv6(&lower) {
            return Ok(DomainPattern::Exact(lower));
        }
        if let Some(c) = lower
            .chars()
            .find(|&c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || ".-_*".contains(c)))
        {
            return Err(DomainError::Charset(c));
        }
        let stars = lower.matches('*').count();
        if stars > 1 {
            return Err(DomainError::Wildcard);
        }
        if let Some(rest) = lower.strip_prefix("*.") {
            check_labels(rest)?;
            return Ok(DomainPattern::Leading {
                suffix: format!(".{rest}"),
                also_bare: false,
            });
        }
        if let Some(rest) = lower.strip_suffix(".*") {
            check_labels(rest)?;
            return Ok(DomainPattern::Trailing {
                prefix: format!("{rest}."),
            });
        }
        if stars == 1 {
            return Err(DomainError::Wildcard);
        }
        if let Some(rest) = lower.strip_prefix('.') {
            check_labels(rest)?;
            return Ok(DomainPattern::Leading {
                suffix: lower.clone(),
                also_bare: true,
            });
        }
        check_labels(&lower)?;
        Ok(DomainPattern::Exact(lower))
    }

    /// Whether a normalised host matches this pattern on its own (ignoring
    /// precedence between patterns).
    pub fn matches(&self, host: &str) -> bool {
        match self {
            DomainPattern::Exact(name) => host == name,
            DomainPattern::Leading { suffix, also_bare } => {
                (host.len() > suffix.len() && host.ends_with(suffix.as_str()))
                    || (*also_bare && host == &suffix[1..])
            }
            DomainPattern::Trailing { prefix } => {
                host.len() > prefix.len() && host.starts_with(prefix.as_str())
            }
            DomainPattern::Regex(re) => re.is_match(host),
        }
    }

    /// Whether this is an exact (non-wildcard, non-regex) name.
    pub fn is_exact(&self) -> bool {
        matches!(self, DomainPattern::Exact(_))
    }
}

fn is_bracketed_ipv6(name: &str) -> bool {
    name.strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .is_some_and(|ip| ip.parse::<std::net::Ipv6Addr>().is_ok())
}

fn check_labels(name: &str) -> Result<(), DomainError> {
    if name.is_empty() || name.split('.').any(str::is_empty) {
        return Err(DomainError::EmptyLabel);
    }
    Ok(())
}

fn parse_regex(pattern: &str) -> Result<DomainPattern, DomainError> {
    if pattern.is_empty() {
        return Err(DomainError::Regex("empty pattern".into()));
    }
    if let Some(c) = pattern.chars().find(|&c| regex_forbidden(c)) {
        return Err(DomainError::Regex(format!(
            "character {c:?} is not allowed"
        )));
    }
    let translated = translate(pattern).map_err(|e| DomainError::Regex(e.to_string()))?;
    regex::RegexBuilder::new(&translated)
        .case_insensitive(true)
        .build()
        .map(DomainPattern::Regex)
        .map_err(|e| DomainError::Regex(one_line(&e.to_string())))
}

/// The last line of a multi-line regex error (the reason).
pub(crate) fn one_line(msg: &str) -> String {
    msg.lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or(msg)
        .trim()
        .trim_start_matches("error: ")
        .to_owned()
}

/// The domains of one listener, compiled for matching. Values of type `T`
/// are what a match yields (an index into the listener's domains).
#[derive(Debug, Clone)]
pub struct DomainTable<T: Copy> {
    exact: FnvMap<Box<str>, T>,
    leading: FnvMap<Box<str>, T>,
    trailing: FnvMap<Box<str>, T>,
    regexes: Vec<(regex::Regex, T)>,
    default: Option<T>,
}

impl<T: Copy> DomainTable<T> {
    /// Builds a table from patterns in file order. On duplicates the first
    /// wins (validation refuses duplicates before this).
    pub fn new(patterns: impl IntoIterator<Item = (DomainPattern, T)>, default: Option<T>) -> Self {
        let mut table = DomainTable {
            exact: FnvMap::default(),
            leading: FnvMap::default(),
            trailing: FnvMap::default(),
            regexes: Vec::new(),
            default,
        };
        for (pattern, value) in patterns {
            match pattern {
                DomainPattern::Exact(name) => {
                    table.exact.entry(name.into()).or_insert(value);
                }
                DomainPattern::Leading { suffix, also_bare } => {
                    if also_bare {
                        table.leading.entry(suffix[1..].into()).or_insert(value);
                    }
                    table.leading.entry(suffix.into()).or_insert(value);
                }
                DomainPattern::Trailing { prefix } => {
                    table.trailing.entry(prefix.into()).or_insert(value);
                }
                DomainPattern::Regex(re) => table.regexes.push((re, value)),
            }
        }
        table
    }

    /// The domain for a normalised host, by nginx precedence, without the
    /// default. Allocates nothing.
    pub fn find(&self, host: &str) -> Option<T> {
        if let Some(v) = self.exact.get(host) {
            return Some(*v);
        }
        if !self.leading.is_empty() {
            // Longest first: the whole host (a key without a leading dot is
            // the bare name of a `.example.com` pattern), then each suffix
            // cut at a dot, from the left.
            if let Some(v) = self.leading.get(host) {
                return Some(*v);
            }
            for (i, _) in host.match_indices('.') {
                if let Some(v) = self.leading.get(&host[i..]) {
                    return Some(*v);
                }
            }
        }
        if !self.trailing.is_empty() {
            for (i, _) in host.rmatch_indices('.') {
                if i + 1 < host.len()
                    && let Some(v) = self.trailing.get(&host[..=i])
                {
                    return Some(*v);
                }
            }
        }
        self.regexes
            .iter()
            .find(|(re, _)| re.is_match(host))
            .map(|(_, v)| *v)
    }

    /// The listener's default domain, if it has one and uses it.
    pub fn default(&self) -> Option<T> {
        self.default
    }

    /// [`find`](Self::find), falling back to the default.
    pub fn find_or_default(&self, host: Option<&str>) -> Option<T> {
        host.and_then(|h| self.find(h)).or(self.default)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(names: &[&str]) -> DomainTable<usize> {
        DomainTable::new(
            names
                .iter()
                .enumerate()
                .map(|(i, n)| (DomainPattern::parse(n).unwrap(), i)),
            Some(0),
        )
    }

    #[test]
    fn nginx_precedence_exact_then_leading_then_trailing_then_regex() {
        let t = table(&[
            "~^www\\d+\\.example\\.com$",
            "www.example.*",
            "*.example.com",
            "www1.example.com",
        ]);
        assert_eq!(t.find("www1.example.com"), Some(3));
        assert_eq!(t.find("www2.example.com"), Some(2));
        assert_eq!(t.find("www.example.org"), Some(1));
        assert_eq!(t.find("www9.example.com"), Some(2));
        assert_eq!(t.find("other.org"), None);
        assert_eq!(t.find_or_default(Some("other.org")), Some(0));
    }

    #[test]
    fn longest_wildcards_win() {
        let t = table(&[
            "*.com",
            "*.example.com",
            "*.b.example.com",
            "www.*",
            "www.example.*",
        ]);
        assert_eq!(t.find("a.b.example.com"), Some(2));
        assert_eq!(t.find("a.c.example.com"), Some(1));
        assert_eq!(t.find("x.org.com"), Some(0));
        assert_eq!(t.find("www.example.co.uk"), Some(4));
        assert_eq!(t.find("www.other.net"), Some(3));
    }

    #[test]
    fn leading_wildcards_never_match_the_bare_name_but_dot_form_does() {
        let t = table(&["*.example.com"]);
        assert_eq!(t.find("example.com"), None);
        assert_eq!(t.find("a.b.example.com"), Some(0));
        let t = table(&[".example.com", "*.com"]);
        assert_eq!(t.find("example.com"), Some(0));
        assert_eq!(t.find("a.example.com"), Some(0));
        assert_eq!(t.find("xexample.com"), Some(1));
    }

    #[test]
    fn trailing_wildcards_need_a_label_after_the_prefix() {
        let t = table(&["www.example.*"]);
        assert_eq!(t.find("www.example"), None);
        assert_eq!(t.find("www.example.com"), Some(0));
        assert_eq!(t.find("www.example.co.uk"), Some(0));
    }

    #[test]
    fn regexes_are_caseless_and_first_in_file_order_wins() {
        let t = table(&["~^API\\.", "~^api\\.v2\\."]);
        assert_eq!(t.find("api.v2.example.com"), Some(0));
    }

    #[test]
    fn bad_names_are_refused_with_the_reason() {
        assert_eq!(DomainPattern::parse("").unwrap_err(), DomainError::Length);
        assert_eq!(
            DomainPattern::parse(&"a".repeat(121)).unwrap_err(),
            DomainError::Length
        );
        assert_eq!(
            DomainPattern::parse("a*.com").unwrap_err(),
            DomainError::Wildcard
        );
        assert_eq!(
            DomainPattern::parse("*.a.*").unwrap_err(),
            DomainError::Wildcard
        );
        assert_eq!(
            DomainPattern::parse("a..com").unwrap_err(),
            DomainError::EmptyLabel
        );
        assert_eq!(
            DomainPattern::parse("a b.com").unwrap_err(),
            DomainError::Charset(' ')
        );
        assert!(matches!(
            DomainPattern::parse("~a{2}"),
            Err(DomainError::Regex(_))
        ));
        assert!(matches!(
            DomainPattern::parse("~(?=x)"),
            Err(DomainError::Regex(_))
        ));
        assert!(DomainPattern::parse("WWW.Example.com").is_ok());
        assert!(DomainPattern::parse("[::1]").is_ok());
        assert!(DomainPattern::parse("10.0.0.1").is_ok());
    }
}
