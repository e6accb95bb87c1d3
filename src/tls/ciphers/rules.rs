//! A cipher string's entries parsed into rules, and the rules applied to the
//! list as OpenSSL's `ssl_cipher_apply_rule` does.

use super::CipherError;
use super::aliases::lookup;
use super::suites::{Selector, Suite, UNIVERSE};

/// What an entry does to the list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Op {
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
pub(super) enum Rule {
    Apply(Op, Selector),
    /// `@STRENGTH`.
    SortByStrength,
    /// `@SECLEVEL=n`: OpenSSL's security level, which has no counterpart here.
    Ignore,
}

pub(super) fn parse_rules(spec: &str) -> Result<Vec<Rule>, CipherError> {
    spec.split(|c: char| matches!(c, ':' | ',' | ';') || c.is_ascii_whitespace())
        .filter(|entry| !entry.is_empty())
        .map(parse_entry)
        .collect()
}

pub(super) fn parse_entry(entry: &str) -> Result<Rule, CipherError> {
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

#[derive(Clone, Copy, Debug)]
struct Entry {
    suite: &'static Suite,
    selected: bool,
}

/// OpenSSL's working list: every suite not killed, selected or not, in an
/// order that decides both the result and where re-added suites go.
pub(super) struct CipherList {
    entries: Vec<Entry>,
}

impl CipherList {
    pub(super) fn new() -> Self {
        let entries = UNIVERSE
            .iter()
            .map(|suite| Entry {
                suite,
                selected: false,
            })
            .collect();
        Self { entries }
    }

    pub(super) fn apply(&mut self, rule: Rule) {
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
    pub(super) fn selected(&self) -> impl Iterator<Item = &'static Suite> + '_ {
        self.entries
            .iter()
            .filter(|entry| entry.selected)
            .map(|entry| entry.suite)
    }
}
