//! URL rules (nginx `location`) and the per-domain location table.
//!
//! Precedence is exactly nginx's: an `=` rule equal to the path wins; else
//! the longest prefix among plain and `^~` rules is found; if it is `^~` it
//! wins; else the regexes (`~`, `~*`) are tried in file order and the first
//! match wins; else the longest plain prefix wins. Before the regexes, a path
//! equal to a non-regex rule's URL minus its trailing `/` (with no non-regex
//! rule equal to the path itself) is answered with nginx's 301 to that URL.

use std::sync::Arc;

use super::fnv::{FnvMap, FnvSet};

use super::domain::{one_line, regex_forbidden};
use super::pcre::translate;

/// Longest rule URL accepted (including the modifier).
pub const MAX_URL_LEN: usize = 200;

/// A parsed URL rule.
#[derive(Debug, Clone)]
pub enum UrlPattern {
    /// `= /path`.
    Exact(String),
    /// `^~ /prefix`: a prefix that, when longest, stops the regex search.
    PrefixNoRegex(String),
    /// `/prefix`.
    Prefix(String),
    /// `~ re` (`caseless = false`) or `~* re` (`caseless = true`).
    Regex {
        /// Compiled over bytes, unanchored, with PCRE's meaning
        /// ([`super::pcre::translate`]). Shared by every copy of the
        /// pattern (the configuration's, each snapshot's route table), so
        /// a copy costs no allocation and all match with one compiled
        /// program and one pool of match caches.
        regex: Arc<regex::bytes::Regex>,
        /// The pattern as written.
        source: Box<str>,
        /// `~*`.
        caseless: bool,
    },
}

/// Why a rule URL is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    /// Empty or too long.
    #[error("must be 1-{MAX_URL_LEN} characters")]
    Length,
    /// A non-regex URL that does not start with `/`.
    #[error("a non-regex URL must start with '/' (or use = ^~ ~ ~* modifiers)")]
    NotAbsolute,
    /// A character outside the allowed set.
    #[error("character {0:?} is not allowed in a URL")]
    Charset(char),
    /// A regex with a forbidden character or that does not compile.
    #[error("invalid regex: {0}")]
    Regex(String),
}

impl UrlPattern {
    /// Parses a configured rule URL. A modifier may be followed by spaces or
    /// not (`~*\.(gif)$` = `~* \.(gif)$`).
    pub fn parse(url: &str) -> Result<UrlPattern, UrlError> {
        let url = url.trim();
        if url.is_empty() || url.len() > MAX_URL_LEN {
            return Err(UrlError::Length);
        }
        if let Some(rest) = url.strip_prefix("~*") {
            return parse_regex(rest.trim_start(), true);
        }
        if let Some(rest) = url.strip_prefix('~') {
            return parse_regex(rest.trim_start(), false);
        }
        if let Some(rest) = url.strip_prefix("^~") {
            return parse_path(rest.trim_start()).map(UrlPattern::PrefixNoRegex);
        }
        if let Some(rest) = url.strip_prefix('=') {
            return parse_path(rest.trim_start()).map(UrlPattern::Exact);
        }
        parse_path(url).map(UrlPattern::Prefix)
    }

    /// Whether a normalised path matches this pattern on its own.
    pub fn matches(&self, path: &[u8]) -> bool {
        match self {
            UrlPattern::Exact(p) => path == p.as_bytes(),
            UrlPattern::PrefixNoRegex(p) | UrlPattern::Prefix(p) => path.starts_with(p.as_bytes()),
            UrlPattern::Regex { regex, .. } => regex.is_match(path),
        }
    }

    /// The literal path of a non-regex rule.
    pub fn literal(&self) -> Option<&str> {
        match self {
            UrlPattern::Exact(p) | UrlPattern::PrefixNoRegex(p) | UrlPattern::Prefix(p) => Some(p),
            UrlPattern::Regex { .. } => None,
        }
    }

    /// A canonical spelling, used to detect duplicates: `= /a` and `=/a` are
    /// the same rule; `/a` and `^~ /a` collide as nginx says.
    pub fn identity(&self) -> String {
        match self {
            UrlPattern::Exact(p) => format!("= {p}"),
            UrlPattern::PrefixNoRegex(p) | UrlPattern::Prefix(p) => p.clone(),
            UrlPattern::Regex {
                source, caseless, ..
            } => format!("{} {source}", if *caseless { "~*" } else { "~" }),
        }
    }
}

/// Characters a non-regex URL may contain: the union of the product's tables
/// (`a-z A-Z 0-9 . - _ / = ?`) plus the other unreserved and sub-delimiter
/// characters of RFC 3986 paths, minus what nginx syntax forbids.
fn url_char_allowed(c: char) -> bool {
    c.is_ascii_alphanumeric() || "./-_=?~!$&()*+,:@%".contains(c)
}

fn parse_path(path: &str) -> Result<String, UrlError> {
    if !path.starts_with('/') {
        return Err(UrlError::NotAbsolute);
    }
    if let Some(c) = path.chars().find(|&c| !url_char_allowed(c)) {
        return Err(UrlError::Charset(c));
    }
    Ok(path.to_owned())
}

fn parse_regex(pattern: &str, caseless: bool) -> Result<UrlPattern, UrlError> {
    if pattern.is_empty() {
        return Err(UrlError::Regex("empty pattern".into()));
    }
    if let Some(c) = pattern.chars().find(|&c| regex_forbidden(c)) {
        return Err(UrlError::Regex(format!("character {c:?} is not allowed")));
    }
    let translated = translate(pattern).map_err(|e| UrlError::Regex(e.to_string()))?;
    regex::bytes::RegexBuilder::new(&translated)
        .case_insensitive(caseless)
        .unicode(false)
        .build()
        .or_else(|_| {
            // Patterns with non-ASCII classes need Unicode mode.
            regex::bytes::RegexBuilder::new(&translated)
                .case_insensitive(caseless)
                .build()
        })
        .map(|regex| UrlPattern::Regex {
            regex: Arc::new(regex),
            source: pattern.into(),
            caseless,
        })
        .map_err(|e| UrlError::Regex(one_line(&e.to_string())))
}

/// What a path selects within a domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LocationMatch<T> {
    /// Forward by this rule.
    Rule(T),
    /// nginx's directory auto-redirect: answer 301 to this rule's URL
    /// (plus `?query`).
    AddSlash(T),
    /// No rule: 404.
    None,
}

/// The rules of one domain, compiled for matching.
#[derive(Debug, Clone)]
pub struct LocationTable<T: Copy> {
    exact: FnvMap<Box<[u8]>, T>,
    /// Plain and `^~` prefixes, longest first; `bool` = `^~`.
    prefixes: Vec<(Box<[u8]>, T, bool)>,
    regexes: Vec<(Arc<regex::bytes::Regex>, T)>,
    /// Non-regex URLs ending in `/`, keyed by the URL without it.
    add_slash: FnvMap<Box<[u8]>, T>,
    /// Every prefix URL (to know that a path equals one).
    prefix_names: FnvSet<Box<[u8]>>,
}

impl<T: Copy> LocationTable<T> {
    /// Builds a table from rules in file order. On duplicates the first wins
    /// (validation refuses them before this).
    pub fn new(patterns: impl IntoIterator<Item = (UrlPattern, T)>) -> Self {
        let mut table = LocationTable {
            exact: FnvMap::default(),
            prefixes: Vec::new(),
            regexes: Vec::new(),
            add_slash: FnvMap::default(),
            prefix_names: FnvSet::default(),
        };
        for (pattern, value) in patterns {
            if let Some(lit) = pattern.literal()
                && lit.len() > 1
                && let Some(dir) = lit.strip_suffix('/')
            {
                table
                    .add_slash
                    .entry(dir.as_bytes().into())
                    .or_insert(value);
            }
            match pattern {
                UrlPattern::Exact(p) => {
                    table.exact.entry(p.into_bytes().into()).or_insert(value);
                }
                UrlPattern::PrefixNoRegex(p) | UrlPattern::Prefix(p)
                    if table.prefix_names.contains(p.as_bytes()) => {}
                UrlPattern::PrefixNoRegex(p) => {
                    table.prefix_names.insert(p.as_bytes().into());
                    table.prefixes.push((p.into_bytes().into(), value, true));
                }
                UrlPattern::Prefix(p) => {
                    table.prefix_names.insert(p.as_bytes().into());
                    table.prefixes.push((p.into_bytes().into(), value, false));
                }
                UrlPattern::Regex { regex, .. } => table.regexes.push((regex, value)),
            }
        }
        // Stable: equal lengths cannot both match unless equal (refused).
        table.prefixes.sort_by_key(|p| std::cmp::Reverse(p.0.len()));
        table
    }

    /// Selects the rule for a normalised path. Allocates nothing.
    pub fn find(&self, path: &[u8]) -> LocationMatch<T> {
        if let Some(v) = self.exact.get(path) {
            return LocationMatch::Rule(*v);
        }
        if let Some(v) = self.add_slash.get(path)
            && !self.prefix_names.contains(path)
        {
            return LocationMatch::AddSlash(*v);
        }
        let longest = self.prefixes.iter().find(|(p, _, _)| path.starts_with(p));
        if let Some((_, v, true)) = longest {
            return LocationMatch::Rule(*v);
        }
        if let Some((_, v)) = self.regexes.iter().find(|(re, _)| re.is_match(path)) {
            return LocationMatch::Rule(*v);
        }
        match longest {
            Some((_, v, _)) => LocationMatch::Rule(*v),
            None => LocationMatch::None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::LocationMatch::{AddSlash, None as NoMatch, Rule};
    use super::*;

    fn table(urls: &[&str]) -> LocationTable<usize> {
        LocationTable::new(
            urls.iter()
                .enumerate()
                .map(|(i, u)| (UrlPattern::parse(u).unwrap(), i)),
        )
    }

    /// nginx's documentation example for `location`:
    /// A `= /`, B `/`, C `/documents/`, D `^~ /images/`, E `~* \.(gif|jpg|jpeg)$`.
    #[test]
    fn copies_of_a_regex_rule_share_one_compiled_regex() {
        let pattern = UrlPattern::parse("~* \\.(gif|jpg)$").unwrap();
        let copy = pattern.clone();
        let (UrlPattern::Regex { regex: a, .. }, UrlPattern::Regex { regex: b, .. }) =
            (&pattern, &copy)
        else {
            panic!("not a regex rule");
        };
        assert!(Arc::ptr_eq(a, b));
        let table = LocationTable::new([(copy, 7)]);
        assert_eq!(table.find(b"/a.GIF"), Rule(7));
    }

    #[test]
    fn the_nginx_documentation_example_selects_as_documented() {
        let t = table(&[
            "= /",
            "/",
            "/documents/",
            "^~ /images/",
            "~* \\.(gif|jpg|jpeg)$",
        ]);
        let cases = [
            ("/", Rule(0)),
            ("/index.html", Rule(1)),
            ("/documents/document.html", Rule(2)),
            ("/images/1.gif", Rule(3)),
            ("/documents/1.jpg", Rule(4)),
            ("/DOCUMENTS/1.JPG", Rule(4)),
        ];
        for (path, want) in cases {
            assert_eq!(t.find(path.as_bytes()), want, "{path}");
        }
    }

    /// The product's precedence example (groups 1-3 and the default URL).
    #[test]
    fn the_product_documentation_example_selects_as_documented() {
        let t = table(&[
            "= /test1/image/index1.html",
            "/test1/image/",
            "/test2/video/",
            "/",
        ]);
        let cases = [
            ("/test1/image/index1.html", Rule(0)),
            ("/test1/image/hello.html", Rule(1)),
            ("/test2/video/mp4/", Rule(2)),
            ("/test3/hello/index.html", Rule(3)),
            ("/test2/", Rule(3)),
        ];
        for (path, want) in cases {
            assert_eq!(t.find(path.as_bytes()), want, "{path}");
        }
    }

    #[test]
    fn without_a_default_url_an_unmatched_path_has_no_rule() {
        let t = table(&["/a/"]);
        assert_eq!(t.find(b"/b"), NoMatch);
    }

    #[test]
    fn regexes_beat_a_plain_prefix_but_not_a_caret_tilde_prefix() {
        let t = table(&["/static/", "~ \\.php$", "^~ /assets/"]);
        assert_eq!(t.find(b"/static/x.php"), Rule(1));
        assert_eq!(t.find(b"/assets/x.php"), Rule(2));
        assert_eq!(t.find(b"/static/x.css"), Rule(0));
    }

    #[test]
    fn the_longest_prefix_decides_whether_regexes_run() {
        // "^~ /a/" is shorter than "/a/b/", so regexes still run for /a/b/x.php.
        let t = table(&["^~ /a/", "/a/b/", "~ \\.php$"]);
        assert_eq!(t.find(b"/a/b/x.php"), Rule(2));
        assert_eq!(t.find(b"/a/x.php"), Rule(0));
    }

    #[test]
    fn regexes_run_in_file_order_and_tilde_is_case_sensitive() {
        let t = table(&["~ ^/A", "~* ^/a", "/"]);
        assert_eq!(t.find(b"/Abc"), Rule(0));
        assert_eq!(t.find(b"/abc"), Rule(1));
        assert_eq!(t.find(b"/xyz"), Rule(2));
    }

    #[test]
    fn a_directory_rule_redirects_its_bare_name() {
        let t = table(&["/", "/dir/", "~ ^/dir$"]);
        assert_eq!(t.find(b"/dir"), AddSlash(1));
        assert_eq!(t.find(b"/dir/x"), Rule(1));
        let t = table(&["= /exact/"]);
        assert_eq!(t.find(b"/exact"), AddSlash(0));
        let t = table(&["^~ /nore/"]);
        assert_eq!(t.find(b"/nore"), AddSlash(0));
    }

    #[test]
    fn a_rule_equal_to_the_bare_name_prevents_the_redirect() {
        let t = table(&["/dir/", "/dir"]);
        assert_eq!(t.find(b"/dir"), Rule(1));
        let t = table(&["/dir/", "= /dir"]);
        assert_eq!(t.find(b"/dir"), Rule(1));
    }

    #[test]
    fn modifiers_may_be_followed_by_a_space_or_not() {
        let t = table(&["~*\\.(gif|jpg|bmp)$", "=/x", "^~/y/"]);
        assert_eq!(t.find(b"/a.GIF"), Rule(0));
        assert_eq!(t.find(b"/x"), Rule(1));
        assert_eq!(t.find(b"/y/z"), Rule(2));
    }

    #[test]
    fn bad_urls_are_refused_with_the_reason() {
        assert_eq!(UrlPattern::parse("").unwrap_err(), UrlError::Length);
        assert_eq!(UrlPattern::parse("abc").unwrap_err(), UrlError::NotAbsolute);
        assert_eq!(
            UrlPattern::parse("/a b").unwrap_err(),
            UrlError::Charset(' ')
        );
        assert!(matches!(
            UrlPattern::parse("~ a{2}"),
            Err(UrlError::Regex(_))
        ));
        assert!(matches!(
            UrlPattern::parse("~ (?<=a)b"),
            Err(UrlError::Regex(_))
        ));
        assert!(matches!(
            UrlPattern::parse("~ (a)\\1"),
            Err(UrlError::Regex(_))
        ));
        assert_eq!(
            UrlPattern::parse(&format!("/{}", "a".repeat(200))).unwrap_err(),
            UrlError::Length
        );
    }
}
