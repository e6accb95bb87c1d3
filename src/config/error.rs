//! Configuration errors that point at the file, line and field.

use std::borrow::Cow;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use std::cell::OnceCell;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// A path to a value in the file, e.g. `load_balancer[0].listener[1].port`.
///
/// Validation names the field of every value it checks, most of which
/// are never reported: extending a path shares its parent instead of
/// copying it, so it costs one allocation (none for a literal key).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct FieldPath(Option<Arc<Step>>);

/// The last step of a [`FieldPath`] and the path before it.
#[derive(Debug, PartialEq, Eq)]
struct Step {
    parent: FieldPath,
    segment: Segment,
}

/// One step of a [`FieldPath`].
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Key(Cow<'static, str>),
    Index(usize),
}

impl FieldPath {
    /// The empty path (the document root).
    pub(crate) fn root() -> Self {
        FieldPath(None)
    }

    /// This path extended by a table key.
    pub(crate) fn key(&self, key: impl Into<Cow<'static, str>>) -> Self {
        self.then(Segment::Key(key.into()))
    }

    /// This path extended by an array index.
    pub(crate) fn index(&self, index: usize) -> Self {
        self.then(Segment::Index(index))
    }

    fn then(&self, segment: Segment) -> Self {
        FieldPath(Some(Arc::new(Step {
            parent: self.clone(),
            segment,
        })))
    }

    /// Whether this is the root (no step).
    fn is_root(&self) -> bool {
        self.0.is_none()
    }

    /// The steps from the root.
    fn segments(&self) -> Vec<&Segment> {
        let mut steps = Vec::new();
        let mut at = self;
        while let Some(step) = &at.0 {
            steps.push(&step.segment);
            at = &step.parent;
        }
        steps.reverse();
        steps
    }

    /// The byte span of the value this path names in the parsed document
    /// `root`, or of its nearest existing ancestor (a defaulted field has
    /// no span of its own); see [`SourceMap::span`].
    fn span_in_root(&self, root: &Spanned<DeTable<'_>>) -> std::ops::Range<usize> {
        let mut best = root.span();
        let mut current: &DeValue<'_>;
        let mut table: &DeTable<'_> = root.get_ref();
        let segments = self.segments();
        let mut segments = segments.into_iter().peekable();
        // Walk tables and arrays as far as the path exists.
        loop {
            let Some(Segment::Key(key)) = segments.next() else {
                return best;
            };
            let Some((_, value)) = table
                .iter()
                .find(|(k, _)| k.get_ref().as_ref() == key.as_ref())
            else {
                return best;
            };
            best = value.span();
            current = value.get_ref();
            while let Some(Segment::Index(i)) = segments.peek() {
                segments.next();
                let DeValue::Array(items) = current else {
                    return best;
                };
                let Some(item) = items.get(*i) else {
                    return best;
                };
                best = item.span();
                current = item.get_ref();
            }
            match current {
                DeValue::Table(t) => table = t,
                _ => return best,
            }
        }
    }
}

/// A configuration text, parsed (once, when first asked) for finding where
/// fields are and on which line. Validation names the line of every
/// certificate reference; parsing the whole file again for each one made
/// loading 1,000 certificates take 13 s (quadratic in their number).
pub(crate) struct SourceMap<'a> {
    source: &'a str,
    root: OnceCell<Option<Spanned<DeTable<'a>>>>,
    line_starts: OnceCell<Vec<usize>>,
}

impl fmt::Debug for SourceMap<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SourceMap")
            .field("bytes", &self.source.len())
            .field("parsed", &self.root.get().is_some())
            .finish()
    }
}

impl<'a> SourceMap<'a> {
    /// A map of `source`; nothing is parsed yet.
    pub(crate) fn new(source: &'a str) -> SourceMap<'a> {
        SourceMap {
            source,
            root: OnceCell::new(),
            line_starts: OnceCell::new(),
        }
    }

    /// The byte span of the value `field` names, or of its nearest
    /// existing ancestor; `None` when the text is not a TOML document.
    pub(crate) fn span(&self, field: &FieldPath) -> Option<std::ops::Range<usize>> {
        let root = self.root.get_or_init(|| parse_document(self.source));
        root.as_ref().map(|root| field.span_in_root(root))
    }

    /// The 1-based line of `field` (see [`span`](Self::span)).
    pub(crate) fn line(&self, field: &FieldPath) -> Option<usize> {
        self.span(field).map(|s| self.line_at(s.start))
    }

    /// The 1-based line of byte offset `at`, as [`line_of`] counts it.
    pub(crate) fn line_at(&self, at: usize) -> usize {
        let starts = self.line_starts.get_or_init(|| {
            let newlines = self.source.bytes().enumerate().filter(|(_, b)| *b == b'\n');
            newlines.map(|(i, _)| i + 1).collect()
        });
        // Lines before `at` = newlines strictly before it.
        starts.partition_point(|&start| start <= at.min(self.source.len())) + 1
    }
}

#[cfg(test)]
thread_local! {
    /// Whole-document parses on this thread (tests count them).
    pub(crate) static DOCUMENT_PARSES: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Parses `source` as a TOML document with spans.
fn parse_document(source: &str) -> Option<Spanned<DeTable<'_>>> {
    #[cfg(test)]
    DOCUMENT_PARSES.with(|n| n.set(n.get() + 1));
    DeTable::parse(source).ok()
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for segment in self.segments() {
            match segment {
                Segment::Key(k) => {
                    if !first {
                        f.write_str(".")?;
                    }
                    f.write_str(k.as_ref())?;
                }
                Segment::Index(i) => write!(f, "[{i}]")?,
            }
            first = false;
        }
        Ok(())
    }
}

/// One problem found in a file: where, which field, what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    /// 1-based line in the file, when known.
    pub line: Option<usize>,
    /// The field, as a dotted path.
    pub field: String,
    /// What is wrong and what is allowed.
    pub message: String,
}

/// Why a configuration was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{}: cannot read: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid TOML or does not have the documented shape.
    #[error(
        "{}:{}: {}{message}",
        path.display(),
        line.map_or("?".to_owned(), |l| l.to_string()),
        field.as_ref().map_or(String::new(), |f| format!("{f}: "))
    )]
    Syntax {
        /// The file.
        path: PathBuf,
        /// 1-based line, when known.
        line: Option<usize>,
        /// The field, as a dotted path, when the value has the wrong shape
        /// (a type, an enum value, a missing or unknown field).
        field: Option<String>,
        /// The parser's message.
        message: String,
    },
    /// Values outside the product's ranges, unknown references, conflicts.
    #[error("{}", render_issues(path, issues))]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Every problem found, in file order.
        issues: Vec<Issue>,
    },
}

fn render_issues(path: &Path, issues: &[Issue]) -> String {
    let mut out = String::new();
    for (i, issue) in issues.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let line = issue.line.map_or("?".to_owned(), |l| l.to_string());
        out.push_str(&format!(
            "{}:{line}: {}: {}",
            path.display(),
            issue.field,
            issue.message
        ));
    }
    out
}

/// The field and message of a serde error at `path` (where the document
/// stopped having the documented shape). A missing field is named in the
/// path itself; serde's `i64` reads as "an integer".
pub(super) fn shape_error(
    path: &serde_path_to_error::Path,
    message: &str,
) -> (Option<String>, String) {
    use serde_path_to_error::Segment as S;
    let mut field = FieldPath::root();
    for segment in path.iter() {
        field = match segment {
            S::Seq { index } => field.index(*index),
            S::Map { key } | S::Enum { variant: key } => field.key(key.clone()),
            S::Unknown => field.key("?"),
        };
    }
    let message = message.trim();
    let mut message = message.replace("expected i64", "expected an integer");
    // serde: "missing field `vip`".
    if let Some(name) = message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.strip_suffix('`'))
    {
        field = field.key(name.to_owned());
        message = "is required".to_owned();
    }
    let field = (!field.is_root()).then(|| field.to_string());
    (field, message)
}

/// The 1-based line of byte offset `at` in `source`.
pub(crate) fn line_of(source: &str, at: usize) -> usize {
    source.as_bytes()[..at.min(source.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "[global]\nworker_threads = 2\n\n[[load_balancer]]\nvip = \"127.0.0.1\"\n  [[load_balancer.listener]]\n  port = 70000\n";

    #[test]
    fn field_paths_display_like_the_file() {
        let p = FieldPath::root()
            .key("load_balancer")
            .index(0)
            .key("listener")
            .index(1)
            .key("port");
        assert_eq!(p.to_string(), "load_balancer[0].listener[1].port");
    }

    #[test]
    fn span_lookup_finds_nested_array_values() {
        let p = FieldPath::root()
            .key("load_balancer")
            .index(0)
            .key("listener")
            .index(0)
            .key("port");
        let span = SourceMap::new(DOC).span(&p).unwrap();
        assert_eq!(&DOC[span.clone()], "70000");
        assert_eq!(line_of(DOC, span.start), 7);
    }

    #[test]
    fn a_source_map_gives_the_lines_line_of_gives() {
        let map = SourceMap::new(DOC);
        for at in 0..=DOC.len() + 2 {
            assert_eq!(map.line_at(at), line_of(DOC, at), "offset {at}");
        }
        let port = FieldPath::root()
            .key("load_balancer")
            .index(0)
            .key("listener")
            .index(0)
            .key("port");
        assert_eq!(map.line(&port), Some(7));
        assert_eq!(SourceMap::new("not = [toml").line(&port), None);
    }

    #[test]
    fn span_lookup_falls_back_to_the_nearest_ancestor() {
        let p = FieldPath::root().key("load_balancer").index(0).key("name");
        let span = SourceMap::new(DOC).span(&p).unwrap();
        assert_eq!(line_of(DOC, span.start), 4);
    }
}
