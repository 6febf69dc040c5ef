//! The accepted schema differences listed in `SCHEMA-DIFFERENCES.md`.
//!
//! The file is prose plus one or more Markdown tables whose header row is
//! `| Kind | Path | Key | Reason |` (case-insensitive), each row accepting differences
//! reported by [`super::schema_diff::diff_crd`]:
//!
//! * `Kind`: the CRD kind, e.g. `NIMService`.
//! * `Path`: the difference's path exactly as the comparator prints it, optionally in
//!   backticks. A path ending in `/**` accepts the path itself and everything below it
//!   (see [`path_is_within`]); use sparingly.
//! * `Key`: the difference's key exactly as printed (optionally in backticks), or `*` for
//!   any key.
//! * `Reason`: why the difference is acceptable; must not be empty.
//!
//! A literal `|` inside a cell is written `\|`. Other tables and all text outside the
//! accepted-differences tables are ignored.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use super::schema_diff::{Difference, path_is_within};

/// The header cells (lowercase) of an accepted-differences table.
const HEADER: [&str; 4] = ["kind", "path", "key", "reason"];
/// Suffix of a path that accepts a whole subtree.
const SUBTREE_SUFFIX: &str = "/**";
/// A `Key` cell that matches every key.
const ANY_KEY: &str = "*";

/// One row of the accepted-differences table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Acceptance {
    /// The CRD kind the row applies to.
    pub(crate) kind: String,
    /// The accepted path, without a trailing `/**`.
    pub(crate) path: String,
    /// Whether the path ended in `/**` (accepts everything below `path` too).
    pub(crate) subtree: bool,
    /// The accepted key, or `*` for any.
    pub(crate) key: String,
    /// Why the difference is acceptable (never empty).
    pub(crate) reason: String,
    /// The 1-based line of the row in the Markdown file.
    pub(crate) line: usize,
}

impl Acceptance {
    /// Whether this row accepts `difference`, found in the CRD of `kind`.
    pub(crate) fn matches(&self, kind: &str, difference: &Difference) -> bool {
        let path_matches = if self.subtree {
            path_is_within(&difference.path, &self.path)
        } else {
            difference.path == self.path
        };
        self.kind == kind && path_matches && (self.key == ANY_KEY || self.key == difference.key)
    }
}

impl fmt::Display for Acceptance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let suffix = if self.subtree { SUBTREE_SUFFIX } else { "" };
        write!(
            f,
            "line {}: | {} | `{}{suffix}` | `{}` |",
            self.line, self.kind, self.path, self.key
        )
    }
}

/// Why `SCHEMA-DIFFERENCES.md` could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ParseError {
    /// The 1-based line of the problem (0 when it concerns the whole file).
    pub(crate) line: usize,
    /// What is wrong.
    pub(crate) message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            f.write_str(&self.message)
        } else {
            write!(f, "line {}: {}", self.line, self.message)
        }
    }
}

impl std::error::Error for ParseError {}

/// Parses the accepted-differences tables of a Markdown document.
///
/// Fails when there is no such table, when a table's header is not followed by a
/// delimiter row, and on a row without exactly four cells, with an empty `Kind`, `Path`,
/// `Key` or `Reason`, or that repeats an earlier row's kind, path and key.
pub(crate) fn parse(markdown: &str) -> Result<Vec<Acceptance>, ParseError> {
    let mut acceptances = Vec::new();
    let mut seen = BTreeSet::new();
    let mut tables = 0_usize;
    let mut lines = markdown
        .lines()
        .enumerate()
        .map(|(index, line)| (index + 1, line));
    while let Some((line, text)) = lines.next() {
        if !is_header(text) {
            continue;
        }
        tables += 1;
        match lines.next() {
            Some((_, delimiter)) if is_delimiter(delimiter) => {}
            _ => {
                return Err(ParseError {
                    line: line + 1,
                    message: "expected a `|---|---|---|---|` row below the table header".to_owned(),
                });
            }
        }
        for (line, text) in lines.by_ref() {
            if !text.trim_start().starts_with('|') {
                break;
            }
            let acceptance = parse_row(line, text)?;
            let identity = (
                acceptance.kind.clone(),
                acceptance.path.clone(),
                acceptance.subtree,
                acceptance.key.clone(),
            );
            if !seen.insert(identity) {
                return Err(ParseError {
                    line,
                    message: "duplicate row (same Kind, Path and Key as an earlier row)".to_owned(),
                });
            }
            acceptances.push(acceptance);
        }
    }
    if tables == 0 {
        return Err(ParseError {
            line: 0,
            message: "no `| Kind | Path | Key | Reason |` table found".to_owned(),
        });
    }
    Ok(acceptances)
}

/// Splits a table row into trimmed cells, honouring `\|` escapes.
fn cells(row: &str) -> Vec<String> {
    let row = row.trim();
    let row = row.strip_prefix('|').unwrap_or(row);
    let mut cells = Vec::new();
    let mut current = String::new();
    let mut chars = row.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'|') => {
                current.push('|');
                chars.next();
            }
            '|' => cells.push(std::mem::take(&mut current)),
            _ => current.push(c),
        }
    }
    // Text after the last `|` is a cell only when the row has no closing pipe.
    if !current.trim().is_empty() {
        cells.push(current);
    }
    cells
        .into_iter()
        .map(|cell| cell.trim().to_owned())
        .collect()
}

fn is_header(line: &str) -> bool {
    line.trim_start().starts_with('|') && {
        let cells = cells(line);
        cells.len() == HEADER.len()
            && cells
                .iter()
                .zip(HEADER)
                .all(|(cell, expected)| cell.eq_ignore_ascii_case(expected))
    }
}

fn is_delimiter(line: &str) -> bool {
    let cells = cells(line);
    line.trim_start().starts_with('|')
        && cells.len() == HEADER.len()
        && cells.iter().all(|cell| {
            let dashes = cell.strip_prefix(':').unwrap_or(cell);
            let dashes = dashes.strip_suffix(':').unwrap_or(dashes);
            !dashes.is_empty() && dashes.chars().all(|c| c == '-')
        })
}

/// Removes one pair of surrounding backticks.
fn unquote(cell: &str) -> &str {
    cell.strip_prefix('`')
        .and_then(|inner| inner.strip_suffix('`'))
        .unwrap_or(cell)
}

fn parse_row(line: usize, text: &str) -> Result<Acceptance, ParseError> {
    let error = |message: String| ParseError { line, message };
    let cells = cells(text);
    let [kind, path, key, reason] = cells.as_slice() else {
        return Err(error(format!(
            "expected 4 cells (Kind, Path, Key, Reason), found {}",
            cells.len()
        )));
    };
    let (kind, path, key) = (
        unquote(kind).trim(),
        unquote(path).trim(),
        unquote(key).trim(),
    );
    let (path, subtree) = match path.strip_suffix(SUBTREE_SUFFIX) {
        Some(ancestor) => (ancestor, true),
        None => (path, false),
    };
    for (name, value) in [
        ("Kind", kind),
        ("Path", path),
        ("Key", key),
        ("Reason", reason),
    ] {
        if value.is_empty() {
            return Err(error(format!(
                "empty {name}; every accepted difference needs a Kind, a Path, a Key and a Reason"
            )));
        }
    }
    Ok(Acceptance {
        kind: kind.to_owned(),
        path: path.to_owned(),
        subtree,
        key: key.to_owned(),
        reason: reason.clone(),
        line,
    })
}

/// The outcome of checking actual differences against the accepted ones.
#[derive(Debug, Default)]
pub(crate) struct Triage<'a> {
    /// Differences no row accepts, by kind.
    pub(crate) unaccepted: BTreeMap<String, Vec<Difference>>,
    /// Rows that accept no actual difference (stale entries).
    pub(crate) stale: Vec<&'a Acceptance>,
}

impl Triage<'_> {
    /// Whether every difference is accepted and every row is used.
    pub(crate) fn is_clean(&self) -> bool {
        self.unaccepted.values().all(Vec::is_empty) && self.stale.is_empty()
    }
}

/// Splits `differences` (by kind) into accepted and unaccepted ones and finds the rows of
/// `acceptances` that accept nothing.
pub(crate) fn triage<'a>(
    acceptances: &'a [Acceptance],
    differences: &BTreeMap<String, Vec<Difference>>,
) -> Triage<'a> {
    let mut used = vec![false; acceptances.len()];
    let mut unaccepted = BTreeMap::new();
    for (kind, kind_differences) in differences {
        let mut left = Vec::new();
        for difference in kind_differences {
            let mut accepted = false;
            for (row, acceptance) in acceptances.iter().enumerate() {
                if acceptance.matches(kind, difference) {
                    used[row] = true;
                    accepted = true;
                }
            }
            if !accepted {
                left.push(difference.clone());
            }
        }
        if !left.is_empty() {
            unaccepted.insert(kind.clone(), left);
        }
    }
    let stale = acceptances
        .iter()
        .zip(used)
        .filter_map(|(acceptance, used)| (!used).then_some(acceptance))
        .collect();
    Triage { unaccepted, stale }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::json;

    use super::super::schema_diff::Difference;
    use super::{Acceptance, parse, triage};

    const PROSE: &str = "# Accepted differences\n\nSome prose with a | pipe.\n\n";

    fn document(rows: &str) -> String {
        format!(
            "{PROSE}| Kind | Path | Key | Reason |\n| --- | --- | :---: | --- |\n{rows}\nMore prose.\n"
        )
    }

    fn difference(path: &str, key: &str) -> Difference {
        Difference {
            path: path.to_owned(),
            key: key.to_owned(),
            ours: None,
            upstream: Some(json!({ "type": "string" })),
        }
    }

    fn by_kind(kind: &str, differences: Vec<Difference>) -> BTreeMap<String, Vec<Difference>> {
        BTreeMap::from([(kind.to_owned(), differences)])
    }

    #[test]
    fn parses_rows_with_and_without_backticks() {
        let rows = "| NIMService | `spec.expose.router{}` | `missing-in-ours` | not modelled \\| yet |\n\
                    |NIMCache|@names|shortNames|kube sets none|";
        let parsed = parse(&document(rows)).expect("valid table");
        assert_eq!(
            parsed,
            vec![
                Acceptance {
                    kind: "NIMService".to_owned(),
                    path: "spec.expose.router{}".to_owned(),
                    subtree: false,
                    key: "missing-in-ours".to_owned(),
                    reason: "not modelled | yet".to_owned(),
                    line: 7,
                },
                Acceptance {
                    kind: "NIMCache".to_owned(),
                    path: "@names".to_owned(),
                    subtree: false,
                    key: "shortNames".to_owned(),
                    reason: "kube sets none".to_owned(),
                    line: 8,
                },
            ]
        );
    }

    #[test]
    fn an_empty_table_is_valid() {
        assert_eq!(parse(&document("")), Ok(vec![]));
    }

    #[test]
    fn a_row_without_reason_fails_to_parse() {
        let error = parse(&document("| NIMCache | `spec.a` | `type` |   |"))
            .expect_err("a row without a reason must be rejected");
        assert_eq!(error.line, 7);
        assert!(error.message.contains("empty Reason"), "{error}");
    }

    #[test]
    fn malformed_documents_fail_to_parse() {
        assert!(parse("just prose\n").is_err(), "no table");
        assert!(
            parse("| Kind | Path | Key | Reason |\nno delimiter\n").is_err(),
            "missing delimiter row"
        );
        assert!(
            parse(&document("| NIMCache | `spec.a` | `type` |")).is_err(),
            "three cells"
        );
        assert!(
            parse(&document(
                "| NIMCache | `spec.a` | `type` | r |\n| NIMCache | spec.a | type | s |"
            ))
            .is_err(),
            "duplicate row"
        );
        assert!(
            parse(&document("|  | `spec.a` | `type` | r |")).is_err(),
            "empty kind"
        );
    }

    #[test]
    fn exact_rows_accept_only_their_path_and_key() {
        let acceptances =
            parse(&document("| NIMCache | `spec.a` | `type` | reason |")).expect("valid table");
        let differences = by_kind(
            "NIMCache",
            vec![
                difference("spec.a", "type"),
                difference("spec.a", "format"),
                difference("spec.a.b", "type"),
            ],
        );
        let triage = triage(&acceptances, &differences);
        assert!(triage.stale.is_empty());
        assert_eq!(
            triage.unaccepted["NIMCache"],
            vec![
                difference("spec.a", "format"),
                difference("spec.a.b", "type")
            ]
        );
        assert!(!triage.is_clean());
    }

    #[test]
    fn subtree_rows_accept_everything_below_their_path() {
        let acceptances = parse(&document(
            "| NIMService | `spec.storage/**` | `*` | reason |\n| NIMService | `spec.other/**` | `type` | reason |",
        ))
        .expect("valid table");
        let differences = by_kind(
            "NIMService",
            vec![
                difference("spec.storage", "type"),
                difference("spec.storage.pvc[]", "missing-in-ours"),
                difference("spec.storage{}.size", "default"),
                difference("spec.storageClass", "type"),
                difference("spec.other.x", "type"),
                difference("spec.other.x", "format"),
            ],
        );
        let triage = triage(&acceptances, &differences);
        assert!(triage.stale.is_empty());
        assert_eq!(
            triage.unaccepted["NIMService"],
            vec![
                difference("spec.storageClass", "type"),
                difference("spec.other.x", "format"),
            ]
        );
    }

    #[test]
    fn rows_that_match_nothing_are_stale() {
        let acceptances = parse(&document(
            "| NIMCache | `spec.a` | `type` | reason |\n\
             | NIMService | `spec.a` | `type` | wrong kind |\n\
             | NIMCache | `spec.gone/**` | `*` | removed |",
        ))
        .expect("valid table");
        let triage = triage(
            &acceptances,
            &by_kind("NIMCache", vec![difference("spec.a", "type")]),
        );
        assert!(triage.unaccepted.is_empty());
        let stale: Vec<usize> = triage.stale.iter().map(|row| row.line).collect();
        assert_eq!(stale, vec![8, 9]);
        assert!(!triage.is_clean());
    }
}
