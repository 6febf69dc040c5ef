//! Structural validation of an object against a CRD's `openAPIV3Schema`.
//!
//! [`check`] walks a JSON value (a Kubernetes object parsed from YAML) alongside an OpenAPI v3
//! schema node and reports what the API server's structural-schema validation and pruning would
//! do with it: wrong types, missing required fields, enum, pattern, length and range violations,
//! duplicate list entries and unknown fields (which the API server drops), each as a
//! [`Diagnostic`] whose message says what to write instead.
//!
//! Like the API server, it treats a required property that has a `default` as present (defaults
//! are applied before validation), ignores everything but the type of the document's `metadata`,
//! and honours `nullable`, `x-kubernetes-int-or-string`, `x-kubernetes-preserve-unknown-fields`,
//! `x-kubernetes-embedded-resource` and `x-kubernetes-list-type` / `x-kubernetes-list-map-keys`.
//! It does not evaluate `x-kubernetes-validations` (CEL rules), and it never panics: nesting deeper
//! than 128 levels is reported as [`code::TOO_DEEP`] and not followed.
//!
//! All findings are errors; their codes are listed in [`code`].

use std::cmp::Ordering;
use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::fmt::Write as _;
use std::sync::{Mutex, OnceLock, PoisonError};

use regex::Regex;
use serde_json::{Map, Number, Value};

use crate::diagnostic::{Diagnostic, path};

/// The [`Diagnostic::code`]s this module reports.
pub mod code {
    /// The value has the wrong JSON type, or is `null` where the schema is not `nullable`.
    pub const TYPE_MISMATCH: &str = "type-mismatch";
    /// A string does not match its `format` (`byte`, `date-time`, `date`).
    pub const FORMAT: &str = "format";
    /// A number is outside `minimum` / `maximum` (exclusive or not) or outside the range of its
    /// `int32` / `int64` format.
    pub const OUT_OF_RANGE: &str = "out-of-range";
    /// A number is not a multiple of `multipleOf`.
    pub const MULTIPLE_OF: &str = "multiple-of";
    /// A property listed in `required` (and without a `default`) is absent.
    pub const REQUIRED: &str = "required";
    /// The value is not one of the schema's `enum` values.
    pub const ENUM: &str = "enum";
    /// A string does not match the schema's `pattern`.
    pub const PATTERN: &str = "pattern";
    /// A string is shorter than `minLength` characters.
    pub const MIN_LENGTH: &str = "min-length";
    /// A string is longer than `maxLength` characters.
    pub const MAX_LENGTH: &str = "max-length";
    /// A list has fewer than `minItems` entries.
    pub const MIN_ITEMS: &str = "min-items";
    /// A list has more than `maxItems` entries.
    pub const MAX_ITEMS: &str = "max-items";
    /// An object has fewer than `minProperties` fields.
    pub const MIN_PROPERTIES: &str = "min-properties";
    /// An object has more than `maxProperties` fields.
    pub const MAX_PROPERTIES: &str = "max-properties";
    /// A field the schema does not know; the API server would prune it.
    pub const UNKNOWN_FIELD: &str = "unknown-field";
    /// A repeated entry in an `x-kubernetes-list-type: set` list, or two entries with the same
    /// key in an `x-kubernetes-list-type: map` list.
    pub const DUPLICATE_ITEM: &str = "duplicate-item";
    /// The object is nested too deeply to be checked further.
    pub const TOO_DEEP: &str = "too-deep";
}

/// How many schema levels are followed before [`code::TOO_DEEP`] is reported.
const MAX_DEPTH: usize = 128;
/// How many property levels below an object are searched for a misplaced field's real place.
const SUGGESTION_DEPTH: usize = 4;
/// How many field names an unknown-field message lists when it has no suggestion.
const MAX_LISTED: usize = 12;
/// How many alternatives a "did you mean" lists.
const MAX_ALTERNATIVES: usize = 3;
/// How many compiled patterns are kept before the cache is emptied.
const MAX_CACHED_PATTERNS: usize = 512;
/// Appended to every unknown-field message.
const DROP_NOTE: &str =
    "The API server would drop this field (kubectl's default strict field validation rejects it).";

type Object = Map<String, Value>;

/// Checks `value` against `schema` (an `openAPIV3Schema` node) and returns every problem found,
/// in document order.
///
/// `value` is taken to be a whole document: its `metadata` is only checked to be an object.
/// Paths in the diagnostics are relative to `value` (the empty path is `value` itself). A missing
/// required field is reported at the path of the object that lacks it, an unknown field at its
/// own path. "Document order" is the order of the keys in `value`'s maps, which is the order in
/// the source only when `serde_json`'s `preserve_order` feature is on (otherwise keys are
/// sorted); an object's own problems come before those of its fields.
pub fn check(schema: &Value, value: &Value) -> Vec<Diagnostic> {
    check_at(schema, value, "")
}

/// Checks `value`, found at the JSON path `path` of its document, against `schema` and returns
/// every problem found, in document order, with paths that start with `path`.
///
/// With an empty `path`, this is [`check`].
pub fn check_at(schema: &Value, value: &Value, path: &str) -> Vec<Diagnostic> {
    // The API server drops `null`s that are neither nullable nor defaulted, and fills in
    // defaults (a defaulted `null` included), before it validates
    // (`PruneNonNullableNullsWithoutDefaults`, then structural defaulting): check what it checks.
    let mut value = value.clone();
    crate::defaulting::apply_schema_defaults(schema, &mut value);
    let value = &value;
    let mut out = Vec::new();
    let ctx = Ctx {
        field: None,
        entry: false,
        branch: false,
        document_root: path.is_empty(),
        outer_properties: None,
    };
    check_node(schema, value, path, &ctx, 0, &mut out);
    out
}

/// Where a value sits, for messages and for the rules that depend on it.
#[derive(Clone, Copy)]
struct Ctx<'a> {
    /// The name of the field that holds the value (or the list the value is an entry of).
    field: Option<&'a str>,
    /// Whether the value is an entry of the list named by `field`.
    entry: bool,
    /// Whether the schema is (inside) an `allOf` / `anyOf` / `oneOf` branch, where the API server
    /// does not prune and so unknown fields are not reported.
    branch: bool,
    /// Whether the value is the whole document (its `metadata` is special).
    document_root: bool,
    /// In a branch, the properties of the schema the branch belongs to, whose defaults count.
    outer_properties: Option<&'a Object>,
}

impl<'a> Ctx<'a> {
    /// The context of the value of field `name` of this value.
    fn field(&self, name: &'a str) -> Self {
        Self {
            field: Some(name),
            entry: false,
            branch: self.branch,
            document_root: false,
            outer_properties: None,
        }
    }

    /// The context of an entry of this (list) value.
    fn entry(&self) -> Self {
        Self {
            field: self.field,
            entry: true,
            branch: self.branch,
            document_root: false,
            outer_properties: None,
        }
    }
}

fn check_node<'a>(
    schema: &'a Value,
    value: &'a Value,
    at: &str,
    ctx: &Ctx<'a>,
    depth: usize,
    out: &mut Vec<Diagnostic>,
) {
    if depth > MAX_DEPTH {
        out.push(Diagnostic::error(
            at,
            code::TOO_DEEP,
            format!("nested more than {MAX_DEPTH} levels deep; the rest was not checked"),
        ));
        return;
    }
    // `true`, or anything that is not a schema object, accepts every value.
    let Some(schema) = schema.as_object() else {
        return;
    };
    if value.is_null() {
        if !flag(schema, "nullable") {
            out.push(Diagnostic::error(
                at,
                code::TYPE_MISMATCH,
                null_message(schema),
            ));
        }
        return;
    }
    if !check_type(schema, value, at, ctx, out) {
        return;
    }
    check_enum(schema, value, at, out);
    match value {
        Value::String(s) => check_string(schema, s, at, out),
        Value::Number(n) => check_number(schema, n, at, out),
        Value::Object(map) => check_object(schema, map, at, ctx, depth, out),
        Value::Array(items) => check_array(schema, items, at, ctx, depth, out),
        Value::Bool(_) | Value::Null => {}
    }
    check_junctors(schema, value, at, ctx, depth, out);
}

/// Whether `schema[key]` is `true`.
fn flag(schema: &Object, key: &str) -> bool {
    schema.get(key).and_then(Value::as_bool).unwrap_or(false)
}

// ---------------------------------------------------------------------------------------------
// Types
// ---------------------------------------------------------------------------------------------

/// The JSON type a schema asks for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Expected {
    Object,
    Array,
    String,
    Integer,
    Number,
    Boolean,
    IntOrString,
}

impl Expected {
    /// What `schema` asks for, if anything this module understands.
    fn of(schema: &Object) -> Option<Self> {
        if flag(schema, "x-kubernetes-int-or-string") {
            return Some(Self::IntOrString);
        }
        match schema.get("type")?.as_str()? {
            "object" => Some(Self::Object),
            "array" => Some(Self::Array),
            "string" => Some(Self::String),
            "integer" => Some(Self::Integer),
            "number" => Some(Self::Number),
            "boolean" => Some(Self::Boolean),
            _ => None,
        }
    }

    fn accepts(self, value: &Value) -> bool {
        match self {
            Self::Object => value.is_object(),
            Self::Array => value.is_array(),
            Self::String => value.is_string(),
            Self::Integer => is_integer(value),
            Self::Number => value.is_number(),
            Self::Boolean => value.is_boolean(),
            Self::IntOrString => value.is_string() || is_integer(value),
        }
    }

    /// "a string", "an object", ...
    fn describe(self) -> &'static str {
        match self {
            Self::Object => "an object",
            Self::Array => "an array",
            Self::String => "a string",
            Self::Integer => "an integer",
            Self::Number => "a number",
            Self::Boolean => "a boolean",
            Self::IntOrString => "an integer or a string",
        }
    }

    /// "strings", "objects", ... (what the entries of a list are).
    fn plural(self) -> &'static str {
        match self {
            Self::Object => "objects",
            Self::Array => "arrays",
            Self::String => "strings",
            Self::Integer => "integers",
            Self::Number => "numbers",
            Self::Boolean => "booleans",
            Self::IntOrString => "integers or strings",
        }
    }
}

/// Whether `value` is a JSON integer (a float with a zero fraction counts).
fn is_integer(value: &Value) -> bool {
    value.as_number().and_then(as_integer).is_some()
}

/// `n` as an integer, if it is one (a finite float with a zero fraction counts; floats beyond
/// the range of `i128` saturate, which is out of every format's range anyway).
fn as_integer(n: &Number) -> Option<i128> {
    exact_integer(n).or_else(|| {
        let f = n.as_f64()?;
        (f.is_finite() && f.fract() == 0.0).then_some(f as i128)
    })
}

/// `n` as an integer, if it was written as one.
fn exact_integer(n: &Number) -> Option<i128> {
    n.as_i64()
        .map(i128::from)
        .or_else(|| n.as_u64().map(i128::from))
}

fn check_type(
    schema: &Object,
    value: &Value,
    at: &str,
    ctx: &Ctx<'_>,
    out: &mut Vec<Diagnostic>,
) -> bool {
    let Some(expected) = Expected::of(schema) else {
        return true;
    };
    if expected.accepts(value) {
        return true;
    }
    let mut message = format!(
        "expected {}, found {}",
        expected.describe(),
        describe(value)
    );
    if let Some(hint) = type_hint(expected, value, ctx) {
        message.push_str("; ");
        message.push_str(&hint);
    }
    out.push(Diagnostic::error(at, code::TYPE_MISMATCH, message));
    false
}

fn null_message(schema: &Object) -> String {
    match Expected::of(schema) {
        Some(expected) => format!(
            "null is not allowed here (expected {}); remove it or give it a value",
            expected.describe()
        ),
        None => {
            "null is not allowed here (the field is not nullable); remove it or give it a value"
                .to_owned()
        }
    }
}

/// What a user who wrote `value` where `expected` belongs should write instead.
fn type_hint(expected: Expected, value: &Value, ctx: &Ctx<'_>) -> Option<String> {
    // "`pullSecrets` entries are strings" / "`tag` is a string".
    let subject = ctx.field.map(|field| {
        if ctx.entry {
            format!("`{field}` entries are {}", expected.plural())
        } else {
            format!("`{field}` is {}", expected.describe())
        }
    });
    match (expected, value) {
        (Expected::String | Expected::IntOrString, Value::Object(map)) => {
            let mut hint = subject?;
            if map.len() == 1
                && let Some((key, inner)) = map.iter().next()
                && let Some(inner) = scalar_text(inner)
            {
                if ctx.entry {
                    let _ = write!(hint, ": write `- {inner}`, not `- {key}: {inner}`");
                } else if let Some(field) = ctx.field {
                    let _ = write!(
                        hint,
                        ": write `{field}: {inner}`, not `{field}: {{{key}: {inner}}}`"
                    );
                }
            }
            Some(hint)
        }
        (Expected::String, Value::Number(_) | Value::Bool(_)) => {
            Some("quote the value in YAML so that it stays a string exactly as written".to_owned())
        }
        (Expected::Integer | Expected::Number, Value::String(s))
            if s.trim().parse::<f64>().is_ok() =>
        {
            Some("remove the quotes around the number".to_owned())
        }
        (Expected::Integer | Expected::IntOrString, Value::Number(_)) => {
            Some("use a whole number".to_owned())
        }
        (Expected::Boolean, Value::String(s))
            if s.eq_ignore_ascii_case("true") || s.eq_ignore_ascii_case("false") =>
        {
            Some("remove the quotes around the boolean".to_owned())
        }
        (Expected::Array, _) => {
            subject.map(|subject| format!("{subject}: write its entries as `- entry` lines"))
        }
        (Expected::Object, Value::Array(_)) => subject
            .map(|subject| format!("{subject}, not a list: remove the `- ` before its fields")),
        _ => subject,
    }
}

/// A scalar as it would be written in YAML, for hints.
fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(truncate(s, 60)),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Null | Value::Array(_) | Value::Object(_) => None,
    }
}

/// "the string \"x\"", "an object with keys [a, b]", ...
fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => format!("the boolean `{b}`"),
        Value::Number(n) if exact_integer(n).is_some() => format!("the integer `{n}`"),
        Value::Number(n) => format!("the number `{n}`"),
        Value::String(s) => format!("the string {:?}", truncate(s, 60)),
        Value::Array(items) => match items.len() {
            0 => "an empty array".to_owned(),
            1 => "an array with 1 entry".to_owned(),
            n => format!("an array with {n} entries"),
        },
        Value::Object(map) if map.is_empty() => "an empty object".to_owned(),
        Value::Object(map) => {
            let mut keys: Vec<&str> = map.keys().map(String::as_str).take(8).collect();
            if map.len() > keys.len() {
                keys.push("…");
            }
            format!("an object with keys [{}]", keys.join(", "))
        }
    }
}

/// A value for a message: strings as they are, everything else as JSON, in backticks.
fn show(value: &Value) -> String {
    match value {
        Value::String(s) => format!("`{}`", truncate(s, 60)),
        other => {
            let json = other.to_string();
            format!("`{}`", truncate(&json, 60))
        }
    }
}

/// `s`, cut to `max` characters (with an ellipsis when cut).
fn truncate(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((end, _)) => format!("{}…", &s[..end]),
        None => s.to_owned(),
    }
}

// ---------------------------------------------------------------------------------------------
// Scalars
// ---------------------------------------------------------------------------------------------

fn check_enum(schema: &Object, value: &Value, at: &str, out: &mut Vec<Diagnostic>) {
    let Some(allowed) = schema.get("enum").and_then(Value::as_array) else {
        return;
    };
    if allowed.is_empty() || allowed.iter().any(|a| json_eq(a, value, 0)) {
        return;
    }
    let mut names: Vec<String> = allowed
        .iter()
        .take(20)
        .map(|a| match a {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
        .collect();
    if allowed.len() > names.len() {
        names.push("…".to_owned());
    }
    let mut message = format!("{} is not one of: {}", show(value), names.join(", "));
    if let Value::String(s) = value
        && let Some(close) = allowed
            .iter()
            .filter_map(Value::as_str)
            .find(|a| a.eq_ignore_ascii_case(s.trim()))
    {
        let _ = write!(message, "; did you mean `{close}`?");
    }
    out.push(Diagnostic::error(at, code::ENUM, message));
}

fn check_string(schema: &Object, s: &str, at: &str, out: &mut Vec<Diagnostic>) {
    let min = schema.get("minLength").and_then(Value::as_u64);
    let max = schema.get("maxLength").and_then(Value::as_u64);
    if min.is_some() || max.is_some() {
        let len = u64::try_from(s.chars().count()).unwrap_or(u64::MAX);
        if let Some(min) = min
            && len < min
        {
            let message = if len == 0 {
                format!("must not be empty (at least {min} characters)")
            } else {
                format!(
                    "`{}` is {len} characters long; the minimum is {min}",
                    truncate(s, 60)
                )
            };
            out.push(Diagnostic::error(at, code::MIN_LENGTH, message));
        }
        if let Some(max) = max
            && len > max
        {
            out.push(Diagnostic::error(
                at,
                code::MAX_LENGTH,
                format!(
                    "`{}` is {len} characters long; the maximum is {max}",
                    truncate(s, 60)
                ),
            ));
        }
    }
    if let Some(pattern) = schema.get("pattern").and_then(Value::as_str)
        && let Some(regex) = compiled(pattern)
        && !regex.is_match(s)
    {
        out.push(Diagnostic::error(
            at,
            code::PATTERN,
            format!(
                "`{}` does not match the pattern `{pattern}`",
                truncate(s, 60)
            ),
        ));
    }
    let problem = match schema.get("format").and_then(Value::as_str) {
        Some("byte") if !is_base64(s) => Some("is not valid base64 (format: byte)"),
        Some("date-time") if !is_date_time(s) => {
            Some("is not an RFC 3339 date-time such as `2024-05-01T12:00:00Z` (format: date-time)")
        }
        Some("date") if !is_date(s) => Some("is not a date such as `2024-05-01` (format: date)"),
        _ => None,
    };
    if let Some(problem) = problem {
        out.push(Diagnostic::error(
            at,
            code::FORMAT,
            format!("`{}` {problem}", truncate(s, 60)),
        ));
    }
}

/// The compiled form of `pattern`, or `None` when it is not a valid regular expression.
fn compiled(pattern: &str) -> Option<Regex> {
    static CACHE: OnceLock<Mutex<HashMap<String, Option<Regex>>>> = OnceLock::new();
    let mut cache = CACHE
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    if let Some(regex) = cache.get(pattern) {
        return regex.clone();
    }
    if cache.len() >= MAX_CACHED_PATTERNS {
        cache.clear();
    }
    let regex = Regex::new(pattern).ok();
    cache.insert(pattern.to_owned(), regex.clone());
    regex
}

/// Whether `s` is standard, padded base64 (line breaks are ignored, as Go's decoder does).
fn is_base64(s: &str) -> bool {
    let bytes: Vec<u8> = s.bytes().filter(|b| !matches!(b, b'\r' | b'\n')).collect();
    if !bytes.len().is_multiple_of(4) {
        return false;
    }
    let data = bytes.iter().rposition(|&b| b != b'=').map_or(0, |i| i + 1);
    bytes.len() - data <= 2
        && bytes[..data]
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/'))
}

/// Parses `n` ASCII digits at the start of `s`.
fn digits(s: &[u8], n: usize) -> Option<u32> {
    let part = s.get(..n)?;
    part.iter().try_fold(0_u32, |acc, &b| {
        b.is_ascii_digit().then(|| acc * 10 + u32::from(b - b'0'))
    })
}

/// Whether `s` is an RFC 3339 `full-date` (`2024-05-01`).
fn is_date(s: &str) -> bool {
    s.len() == 10 && is_date_prefix(s.as_bytes())
}

/// Whether `s` starts with a valid `YYYY-MM-DD`.
fn is_date_prefix(s: &[u8]) -> bool {
    let (Some(year), Some(month), Some(day)) = (
        digits(s, 4),
        s.get(5..).and_then(|r| digits(r, 2)),
        s.get(8..).and_then(|r| digits(r, 2)),
    ) else {
        return false;
    };
    if s.get(4) != Some(&b'-') || s.get(7) != Some(&b'-') {
        return false;
    }
    let leap = year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400));
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&day)
}

/// Whether `s` is an RFC 3339 `date-time` (`2024-05-01T12:00:00.5+02:00`).
fn is_date_time(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() < 20 || !is_date_prefix(b) || !matches!(b[10], b'T' | b't') {
        return false;
    }
    let (Some(hour), Some(minute), Some(second)) = (
        digits(&b[11..], 2),
        digits(&b[14..], 2),
        digits(&b[17..], 2),
    ) else {
        return false;
    };
    if b[13] != b':' || b[16] != b':' || hour > 23 || minute > 59 || second > 60 {
        return false;
    }
    let mut rest = &b[19..];
    if let Some(fraction) = rest.strip_prefix(b".") {
        let n = fraction.iter().take_while(|c| c.is_ascii_digit()).count();
        if n == 0 {
            return false;
        }
        rest = &fraction[n..];
    }
    match rest {
        [b'Z' | b'z'] => true,
        [b'+' | b'-', offset @ ..] => {
            offset.len() == 5
                && offset[2] == b':'
                && digits(offset, 2).is_some_and(|h| h <= 23)
                && digits(&offset[3..], 2).is_some_and(|m| m <= 59)
        }
        _ => false,
    }
}

fn check_number(schema: &Object, n: &Number, at: &str, out: &mut Vec<Diagnostic>) {
    let mut range_error = |message: String| {
        out.push(Diagnostic::error(at, code::OUT_OF_RANGE, message));
    };
    // OpenAPI v3.0 (what Kubernetes uses): `exclusiveMinimum: true` modifies `minimum`;
    // JSON Schema 2019+: `exclusiveMinimum: <number>` is a bound of its own.
    if let Some(min) = schema.get("minimum").and_then(Value::as_number) {
        let exclusive = flag(schema, "exclusiveMinimum");
        match num_cmp(n, min) {
            Some(Ordering::Less) => range_error(format!("`{n}` is less than the minimum {min}")),
            Some(Ordering::Equal) if exclusive => {
                range_error(format!("`{n}` must be greater than {min}"));
            }
            _ => {}
        }
    }
    if let Some(min) = schema.get("exclusiveMinimum").and_then(Value::as_number)
        && num_cmp(n, min) != Some(Ordering::Greater)
    {
        range_error(format!("`{n}` must be greater than {min}"));
    }
    if let Some(max) = schema.get("maximum").and_then(Value::as_number) {
        let exclusive = flag(schema, "exclusiveMaximum");
        match num_cmp(n, max) {
            Some(Ordering::Greater) => {
                range_error(format!("`{n}` is greater than the maximum {max}"));
            }
            Some(Ordering::Equal) if exclusive => {
                range_error(format!("`{n}` must be less than {max}"));
            }
            _ => {}
        }
    }
    if let Some(max) = schema.get("exclusiveMaximum").and_then(Value::as_number)
        && num_cmp(n, max) != Some(Ordering::Less)
    {
        range_error(format!("`{n}` must be less than {max}"));
    }
    let range = match schema.get("format").and_then(Value::as_str) {
        Some("int32") => Some(("int32", i128::from(i32::MIN), i128::from(i32::MAX))),
        Some("int64") => Some(("int64", i128::from(i64::MIN), i128::from(i64::MAX))),
        _ => None,
    };
    if let Some((format, low, high)) = range
        && let Some(i) = as_integer(n)
        && !(low..=high).contains(&i)
    {
        range_error(format!(
            "`{n}` is out of range for {format} ({low} to {high})"
        ));
    }
    if let Some(divisor) = schema.get("multipleOf").and_then(Value::as_number)
        && !is_multiple(n, divisor)
    {
        out.push(Diagnostic::error(
            at,
            code::MULTIPLE_OF,
            format!("`{n}` is not a multiple of {divisor}"),
        ));
    }
}

/// Compares two JSON numbers, exactly when both are integers.
fn num_cmp(a: &Number, b: &Number) -> Option<Ordering> {
    match (exact_integer(a), exact_integer(b)) {
        (Some(a), Some(b)) => Some(a.cmp(&b)),
        _ => a.as_f64()?.partial_cmp(&b.as_f64()?),
    }
}

/// Whether `n` is a multiple of `divisor` (a zero or unusable divisor accepts everything).
fn is_multiple(n: &Number, divisor: &Number) -> bool {
    if let (Some(n), Some(d)) = (exact_integer(n), exact_integer(divisor)) {
        return d == 0 || n % d == 0;
    }
    match (n.as_f64(), divisor.as_f64()) {
        (Some(n), Some(d)) if d != 0.0 && d.is_finite() => {
            let q = n / d;
            (q - q.round()).abs() <= 1e-9 * q.abs().max(1.0)
        }
        _ => true,
    }
}

/// Whether two JSON values are equal, comparing numbers by value (`1 == 1.0`).
fn json_eq(a: &Value, b: &Value, depth: usize) -> bool {
    if depth > MAX_DEPTH {
        return false;
    }
    match (a, b) {
        (Value::Number(a), Value::Number(b)) => num_cmp(a, b) == Some(Ordering::Equal),
        (Value::Array(a), Value::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(a, b)| json_eq(a, b, depth + 1))
        }
        (Value::Object(a), Value::Object(b)) => {
            a.len() == b.len()
                && a.iter()
                    .all(|(k, a)| b.get(k).is_some_and(|b| json_eq(a, b, depth + 1)))
        }
        _ => a == b,
    }
}

// ---------------------------------------------------------------------------------------------
// Objects
// ---------------------------------------------------------------------------------------------

fn check_object<'a>(
    schema: &'a Object,
    map: &'a Object,
    at: &str,
    ctx: &Ctx<'a>,
    depth: usize,
    out: &mut Vec<Diagnostic>,
) {
    let properties = schema.get("properties").and_then(Value::as_object);
    let has_default = |name: &str| {
        [properties, ctx.outer_properties]
            .into_iter()
            .flatten()
            .any(|props| props.get(name).and_then(|p| p.get("default")).is_some())
    };
    if let Some(required) = schema.get("required").and_then(Value::as_array) {
        for name in required.iter().filter_map(Value::as_str) {
            if !map.contains_key(name) && !has_default(name) {
                out.push(Diagnostic::error(
                    at,
                    code::REQUIRED,
                    format!("missing required field `{name}`"),
                ));
            }
        }
    }
    check_count(schema, map.len(), "Properties", "fields", at, out);

    let additional = schema.get("additionalProperties");
    let preserve = flag(schema, "x-kubernetes-preserve-unknown-fields");
    let embedded = flag(schema, "x-kubernetes-embedded-resource");
    for (key, child) in map {
        let child_at = path::field(at, key);
        let is_metadata = key == "metadata" && (ctx.document_root || embedded);
        if is_metadata && (embedded || properties.is_some_and(|p| p.contains_key(key))) {
            // The API server validates ObjectMeta itself; the CRD schema only says "object".
            if !child.is_object() {
                out.push(Diagnostic::error(
                    child_at,
                    code::TYPE_MISMATCH,
                    format!("expected an object, found {}", describe(child)),
                ));
            }
        } else if let Some(child_schema) = properties.and_then(|p| p.get(key)) {
            check_node(
                child_schema,
                child,
                &child_at,
                &ctx.field(key),
                depth + 1,
                out,
            );
        } else {
            let unknown = match additional {
                Some(Value::Bool(allowed)) => !allowed,
                Some(additional) => {
                    check_node(
                        additional,
                        child,
                        &child_at,
                        &ctx.field(key),
                        depth + 1,
                        out,
                    );
                    false
                }
                None => {
                    properties.is_some()
                        && !preserve
                        && !(embedded && matches!(key.as_str(), "apiVersion" | "kind"))
                }
            };
            if unknown && !ctx.branch {
                let empty = Object::new();
                let siblings = properties.unwrap_or(&empty);
                let suggestions = suggest(key, siblings, ctx.document_root);
                out.push(Diagnostic::error(
                    &child_at,
                    code::UNKNOWN_FIELD,
                    unknown_field_message(key, siblings, &suggestions),
                ));
                // A field put at the wrong level (`spec.model` for `spec.source.ngc.model`) is
                // also checked where it belongs, so that the mistakes inside it show too.
                if let [relocated] = suggestions.as_slice()
                    && let Some(target) = resolve(siblings, relocated)
                {
                    check_node(target, child, &child_at, &ctx.field(key), depth + 1, out);
                }
            }
        }
    }
}

/// `min<what>` / `max<what>` (`Items` or `Properties`) on a collection of `len` `noun`.
fn check_count(
    schema: &Object,
    len: usize,
    what: &str,
    noun: &str,
    at: &str,
    out: &mut Vec<Diagnostic>,
) {
    let count = u64::try_from(len).unwrap_or(u64::MAX);
    let (min_code, max_code) = if what == "Items" {
        (code::MIN_ITEMS, code::MAX_ITEMS)
    } else {
        (code::MIN_PROPERTIES, code::MAX_PROPERTIES)
    };
    if let Some(min) = schema.get(&format!("min{what}")).and_then(Value::as_u64)
        && count < min
    {
        out.push(Diagnostic::error(
            at,
            min_code,
            format!("has {count} {noun}; at least {min} are required"),
        ));
    }
    if let Some(max) = schema.get(&format!("max{what}")).and_then(Value::as_u64)
        && count > max
    {
        out.push(Diagnostic::error(
            at,
            max_code,
            format!("has {count} {noun}; at most {max} are allowed"),
        ));
    }
}

fn unknown_field_message(key: &str, properties: &Object, suggestions: &[String]) -> String {
    let quoted: Vec<String> = suggestions.iter().map(|s| format!("`{s}`")).collect();
    match quoted.as_slice() {
        [] if properties.is_empty() => {
            format!("unknown field `{key}`; this object has no fields. {DROP_NOTE}")
        }
        [] => {
            let mut names: Vec<&str> = properties.keys().map(String::as_str).collect();
            names.sort_unstable();
            let mut listed = names[..names.len().min(MAX_LISTED)].join(", ");
            if names.len() > MAX_LISTED {
                let _ = write!(listed, ", … ({} more)", names.len() - MAX_LISTED);
            }
            format!("unknown field `{key}`; known fields: {listed}. {DROP_NOTE}")
        }
        [one] => format!("unknown field `{key}`; did you mean {one}? {DROP_NOTE}"),
        several => format!(
            "unknown field `{key}`; did you mean one of {}? {DROP_NOTE}",
            several.join(", ")
        ),
    }
}

/// The schema at a dotted relative path of plain property names (`source.ngc.model`) below
/// `properties`; `None` for paths through lists or quoted names.
fn resolve<'a>(properties: &'a Object, relative: &str) -> Option<&'a Value> {
    if !relative.contains('.') || relative.contains(['[', '"']) {
        return None;
    }
    let mut props = properties;
    let mut segments = relative.split('.').peekable();
    while let Some(segment) = segments.next() {
        let schema = props.get(segment)?;
        if segments.peek().is_none() {
            return Some(schema);
        }
        props = schema.get("properties").and_then(Value::as_object)?;
    }
    None
}

/// Where the author of unknown field `key` most likely meant it to go, relative to the object
/// whose schema has `properties`: the first of these that finds something.
///
/// 1. A sibling property with the same name in another case (`pullpolicy` → `pullPolicy`).
/// 2. The siblings a small edit distance away (`replica` → `replicas`): at most 1 edit for names
///    of up to 5 characters, 2 up to 9, else 3.
/// 3. The shallowest descendant properties named exactly `key`, searched breadth-first through
///    `properties` and `items` up to [`SUGGESTION_DEPTH`] levels (`model` → `source.ngc.model`,
///    `httpGet` → `probe.httpGet`, `tolerationSeconds` → `tolerations[].tolerationSeconds`).
/// 4. The siblings that contain `key` or are contained in it, the shorter name having at least
///    4 characters (`accessMode` → `volumeAccessMode`, `storageClassName` → `storageClass`),
///    the closest ones. This comes after 3 because a misplaced field's name often contains a
///    sibling's (`storageClass` put next to `storage` belongs in `storage.pvc.storageClass`).
/// 5. The sibling most similar to `key` by Jaro-Winkler, if at least 0.88
///    (`tolerance` → `tolerations`).
/// 6. The shallowest descendants with the same name in another case.
///
/// Returns up to [`MAX_ALTERNATIVES`] equally good suggestions, or none.
fn suggest(key: &str, properties: &Object, document_root: bool) -> Vec<String> {
    let lower = key.to_lowercase();
    let names: Vec<(&String, String)> = properties
        .keys()
        .map(|name| (name, name.to_lowercase()))
        .collect();
    if let Some((name, _)) = names.iter().find(|(_, name)| *name == lower) {
        return vec![(*name).clone()];
    }
    let allowed = match lower.chars().count() {
        0..=5 => 1,
        6..=9 => 2,
        _ => 3,
    };
    let close = closest(&names, |name| {
        let distance = strsim::damerau_levenshtein(&lower, name);
        (distance <= allowed).then_some(distance)
    });
    if !close.is_empty() {
        return close;
    }
    let deep = descendants(properties, document_root, |name| name == key);
    if !deep.is_empty() {
        return deep;
    }
    let containing = closest(&names, |name| {
        let shorter = lower.chars().count().min(name.chars().count());
        (shorter >= 4 && (name.contains(&lower) || lower.contains(name)))
            .then(|| strsim::damerau_levenshtein(&lower, name))
    });
    if !containing.is_empty() {
        return containing;
    }
    let similar = names
        .iter()
        .map(|(name, lowered)| (strsim::jaro_winkler(&lower, lowered), *name))
        .filter(|(score, _)| *score >= 0.88)
        .max_by(|a, b| a.0.total_cmp(&b.0));
    if let Some((_, name)) = similar {
        return vec![name.clone()];
    }
    descendants(properties, document_root, |name| {
        name.to_lowercase() == lower
    })
}

/// The names (given with their lower-cased forms) with the smallest `distance`, in order, at
/// most [`MAX_ALTERNATIVES`] of them; names whose `distance` is `None` do not count.
fn closest(names: &[(&String, String)], distance: impl Fn(&str) -> Option<usize>) -> Vec<String> {
    let scored: Vec<(usize, &String)> = names
        .iter()
        .filter_map(|(name, lowered)| distance(lowered).map(|d| (d, *name)))
        .collect();
    let Some(best) = scored.iter().map(|(d, _)| *d).min() else {
        return Vec::new();
    };
    scored
        .into_iter()
        .filter(|(d, _)| *d == best)
        .take(MAX_ALTERNATIVES)
        .map(|(_, name)| name.clone())
        .collect()
}

/// The relative paths of the shallowest properties below `properties` whose names satisfy
/// `matches`, breadth-first, at most [`MAX_ALTERNATIVES`] of them. At the document root, the
/// `status` sub-tree is skipped: nobody writes it.
fn descendants(
    properties: &Object,
    document_root: bool,
    matches: impl Fn(&str) -> bool,
) -> Vec<String> {
    let mut level: Vec<(String, &Object)> = vec![(String::new(), properties)];
    for depth in 0..SUGGESTION_DEPTH {
        let mut found = Vec::new();
        let mut next = Vec::new();
        for (prefix, props) in &level {
            for (name, schema) in *props {
                let here = path::field(prefix, name);
                if depth > 0 && matches(name) && found.len() < MAX_ALTERNATIVES {
                    found.push(here.clone());
                }
                if depth == 0 && document_root && name == "status" {
                    continue;
                }
                if let Some((suffix, child)) = child_properties(schema) {
                    next.push((format!("{here}{suffix}"), child));
                }
            }
        }
        if !found.is_empty() {
            return found;
        }
        level = next;
    }
    Vec::new()
}

/// The properties of an object schema, looking through (nested) `items`; the suffix is `[]` for
/// each list level passed.
fn child_properties(schema: &Value) -> Option<(String, &Object)> {
    let mut node = schema;
    let mut suffix = String::new();
    for _ in 0..8 {
        if let Some(props) = node.get("properties").and_then(Value::as_object) {
            return Some((suffix, props));
        }
        node = node.get("items")?;
        suffix.push_str("[]");
    }
    None
}

// ---------------------------------------------------------------------------------------------
// Arrays
// ---------------------------------------------------------------------------------------------

fn check_array<'a>(
    schema: &'a Object,
    items: &'a [Value],
    at: &str,
    ctx: &Ctx<'a>,
    depth: usize,
    out: &mut Vec<Diagnostic>,
) {
    check_count(schema, items.len(), "Items", "entries", at, out);
    let item_schema = schema.get("items").filter(|s| s.is_object());
    let uniqueness = match schema.get("x-kubernetes-list-type").and_then(Value::as_str) {
        Some("set") => Some(Uniqueness::Set),
        Some("map") => {
            let keys: Vec<&str> = schema
                .get("x-kubernetes-list-map-keys")
                .and_then(Value::as_array)
                .map(|keys| keys.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            (!keys.is_empty()).then_some(Uniqueness::Map(keys))
        }
        _ => None,
    };
    let list = ctx
        .field
        .map_or_else(|| "this list".to_owned(), |f| format!("`{f}`"));
    let entry_ctx = ctx.entry();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (i, item) in items.iter().enumerate() {
        let item_at = path::index(at, i);
        if let Some(item_schema) = item_schema {
            check_node(item_schema, item, &item_at, &entry_ctx, depth + 1, out);
        }
        let Some(uniqueness) = &uniqueness else {
            continue;
        };
        let Some(key) = uniqueness.key(item, item_schema) else {
            continue;
        };
        match seen.entry(key) {
            Entry::Vacant(vacant) => {
                vacant.insert(i);
            }
            Entry::Occupied(first) => {
                let first = *first.get();
                out.push(Diagnostic::error(
                    item_at,
                    code::DUPLICATE_ITEM,
                    uniqueness.message(item, first, &list),
                ));
            }
        }
    }
}

/// What makes two entries of a list the same.
enum Uniqueness<'a> {
    /// `x-kubernetes-list-type: set`: the whole value.
    Set,
    /// `x-kubernetes-list-type: map`: the values of these fields.
    Map(Vec<&'a str>),
}

impl Uniqueness<'_> {
    /// A string that is equal for equal entries, or `None` when `item` cannot be keyed.
    fn key(&self, item: &Value, item_schema: Option<&Value>) -> Option<String> {
        let mut key = String::new();
        match self {
            Self::Set => canonical(&mut key, item, 0)?,
            Self::Map(fields) => {
                let object = item.as_object()?;
                for field in fields {
                    let value = object
                        .get(*field)
                        .or_else(|| item_schema?.get("properties")?.get(*field)?.get("default"));
                    canonical(&mut key, value.unwrap_or(&Value::Null), 0)?;
                    key.push(',');
                }
            }
        }
        Some(key)
    }

    fn message(&self, item: &Value, first: usize, list: &str) -> String {
        match self {
            Self::Set => format!(
                "{} is already listed at [{first}]; {list} is a set (x-kubernetes-list-type: set), \
                 so its entries must be unique",
                show(item)
            ),
            Self::Map(fields) => {
                let key: Vec<String> = fields
                    .iter()
                    .map(|field| match item.get(*field) {
                        Some(value) => format!("{field}={}", show(value)),
                        None => format!("{field} unset"),
                    })
                    .collect();
                format!(
                    "the entry at [{first}] has the same {}; entries of {list} are keyed by {} \
                     (x-kubernetes-list-map-keys) and must be unique",
                    key.join(", "),
                    fields.join(", ")
                )
            }
        }
    }
}

/// Appends a canonical encoding of `value` to `buf`: equal (by [`json_eq`]) values get equal
/// encodings. `None` when `value` is nested too deeply.
fn canonical(buf: &mut String, value: &Value, depth: usize) -> Option<()> {
    if depth > MAX_DEPTH {
        return None;
    }
    match value {
        Value::Null => buf.push_str("null"),
        Value::Bool(b) => {
            let _ = write!(buf, "{b}");
        }
        Value::Number(n) => {
            let _ = match as_integer(n) {
                Some(i) => write!(buf, "{i}"),
                None => write!(buf, "{:?}", n.as_f64()),
            };
        }
        Value::String(s) => {
            let _ = write!(buf, "{s:?}");
        }
        Value::Array(items) => {
            buf.push('[');
            for item in items {
                canonical(buf, item, depth + 1)?;
                buf.push(',');
            }
            buf.push(']');
        }
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_unstable_by_key(|(k, _)| *k);
            buf.push('{');
            for (k, v) in entries {
                let _ = write!(buf, "{k:?}:");
                canonical(buf, v, depth + 1)?;
                buf.push(',');
            }
            buf.push('}');
        }
    }
    Some(())
}

// ---------------------------------------------------------------------------------------------
// allOf / anyOf / oneOf
// ---------------------------------------------------------------------------------------------

fn check_junctors<'a>(
    schema: &'a Object,
    value: &'a Value,
    at: &str,
    ctx: &Ctx<'a>,
    depth: usize,
    out: &mut Vec<Diagnostic>,
) {
    let branch_ctx = Ctx {
        branch: true,
        outer_properties: if value.is_object() {
            schema
                .get("properties")
                .and_then(Value::as_object)
                .or(ctx.outer_properties)
        } else {
            None
        },
        ..*ctx
    };
    if let Some(branches) = schema.get("allOf").and_then(Value::as_array) {
        for branch in branches {
            check_node(branch, value, at, &branch_ctx, depth + 1, out);
        }
    }
    // `x-kubernetes-int-or-string: true` comes with `anyOf: [{type: integer}, {type: string}]`,
    // which the type check has already enforced.
    let any_of = schema.get("anyOf").and_then(Value::as_array);
    if let Some(branches) = any_of
        && !(flag(schema, "x-kubernetes-int-or-string") && is_int_or_string(branches))
    {
        check_alternatives(branches, value, at, &branch_ctx, depth, out);
    }
    if let Some(branches) = schema.get("oneOf").and_then(Value::as_array) {
        check_alternatives(branches, value, at, &branch_ctx, depth, out);
    }
}

/// Whether `branches` only say "integer" or "string".
fn is_int_or_string(branches: &[Value]) -> bool {
    branches.iter().all(|branch| {
        branch.as_object().is_some_and(|branch| {
            branch.iter().all(|(k, v)| match k.as_str() {
                "type" => matches!(v.as_str(), Some("integer" | "string")),
                "description" => true,
                _ => false,
            })
        })
    })
}

/// Accepts `value` when some branch accepts it; otherwise reports the first branch's problems.
fn check_alternatives<'a>(
    branches: &'a [Value],
    value: &'a Value,
    at: &str,
    ctx: &Ctx<'a>,
    depth: usize,
    out: &mut Vec<Diagnostic>,
) {
    let mut first: Option<Vec<Diagnostic>> = None;
    for branch in branches {
        let mut found = Vec::new();
        check_node(branch, value, at, ctx, depth + 1, &mut found);
        if found.is_empty() {
            return;
        }
        first.get_or_insert(found);
    }
    out.extend(first.unwrap_or_default());
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const NIMCACHE_CRD: &str =
        include_str!("../tests/data/upstream/apps.nvidia.com_nimcaches.yaml");
    const NIMSERVICE_CRD: &str =
        include_str!("../tests/data/upstream/apps.nvidia.com_nimservices.yaml");

    const BLOG_NIMCACHE: &str = r#"
apiVersion: apps.nvidia.com/v1alpha1
kind: NIMCache
metadata: {name: llama-3-1-70b-cache, namespace: nim-prod}
spec:
  model:
    engine: vllm
    repoName: meta/llama-3.1-70b-instruct
    tag: "1.3.0"
    precision: fp8
    profiles: [vllm-fp8-tp1-pp1]
  storage:
    pvc: {create: true, storageClass: fast-parallel-fs, size: 250Gi, accessMode: ReadWriteMany}
  resources:
    limits: {nvidia.com/gpu: 1}
"#;

    const BLOG_NIMSERVICE: &str = r#"
apiVersion: apps.nvidia.com/v1alpha1
kind: NIMService
metadata: {name: llama-3-1-70b, namespace: nim-prod}
spec:
  image:
    repository: nvcr.io/nim/meta/llama-3.1-70b-instruct
    tag: "1.3.0"
    pullPolicy: IfNotPresent
    pullSecrets: [{name: ngc-registry-secret}]
  storage:
    nimCache: {name: llama-3-1-70b-cache, profile: vllm-fp8-tp1-pp1}
  replicas: 2
  resources:
    limits: {nvidia.com/gpu: 1, memory: 80Gi}
  readinessProbe:
    httpGet: {path: /v1/health/ready, port: 8000}
    initialDelaySeconds: 30
    periodSeconds: 10
    failureThreshold: 5
  startupProbe:
    httpGet: {path: /v1/health/ready, port: 8000}
    failureThreshold: 120
    periodSeconds: 10
  expose:
    service: {type: ClusterIP, port: 8000}
  metrics: {enabled: true}
"#;

    fn yaml(text: &str) -> Value {
        serde_saphyr::from_str::<Value>(text).unwrap()
    }

    fn crd_schema(crd: &str) -> Value {
        yaml(crd)
            .pointer("/spec/versions/0/schema/openAPIV3Schema")
            .cloned()
            .unwrap()
    }

    fn find<'d>(diagnostics: &'d [Diagnostic], path: &str, code: &str) -> &'d Diagnostic {
        diagnostics
            .iter()
            .find(|d| d.path == path && d.code == code)
            .unwrap_or_else(|| panic!("no {code} at {path} in {diagnostics:#?}"))
    }

    /// (path, code) of each diagnostic, sorted by path (stably), so that tests do not depend on
    /// whether `serde_json` keeps maps in document order (`preserve_order`) or sorted.
    fn codes(diagnostics: &[Diagnostic]) -> Vec<(&str, &str)> {
        let mut codes: Vec<(&str, &str)> = diagnostics
            .iter()
            .map(|d| (d.path.as_str(), d.code.as_str()))
            .collect();
        codes.sort_by_key(|(path, _)| *path);
        codes
    }

    #[test]
    fn blog_nimcache() {
        let found = check(&crd_schema(NIMCACHE_CRD), &yaml(BLOG_NIMCACHE));
        assert!(found.iter().all(Diagnostic::is_error));
        assert_eq!(
            codes(&found),
            [
                ("spec", code::REQUIRED),
                ("spec.model", code::UNKNOWN_FIELD),
                // `model` is also checked where it belongs, `source.ngc.model`.
                ("spec.model.repoName", code::UNKNOWN_FIELD),
                ("spec.model.tag", code::UNKNOWN_FIELD),
                ("spec.resources.limits", code::UNKNOWN_FIELD),
                ("spec.storage.pvc.accessMode", code::UNKNOWN_FIELD),
            ],
            "{found:#?}"
        );
        let message = |path, code| find(&found, path, code).message.as_str();
        assert_eq!(
            message("spec", code::REQUIRED),
            "missing required field `source`"
        );
        let model = message("spec.model", code::UNKNOWN_FIELD);
        assert!(
            model.starts_with("unknown field `model`; did you mean `source.ngc.model`?"),
            "{model}"
        );
        assert!(model.contains("API server would drop"), "{model}");
        let limits = message("spec.resources.limits", code::UNKNOWN_FIELD);
        assert!(
            limits.starts_with("unknown field `limits`; known fields: cpu, memory."),
            "{limits}"
        );
        let access_mode = message("spec.storage.pvc.accessMode", code::UNKNOWN_FIELD);
        assert!(
            access_mode.starts_with("unknown field `accessMode`; did you mean `volumeAccessMode`?"),
            "{access_mode}"
        );
    }

    #[test]
    fn blog_nimservice() {
        let found = check(&crd_schema(NIMSERVICE_CRD), &yaml(BLOG_NIMSERVICE));
        let secret = find(&found, "spec.image.pullSecrets[0]", code::TYPE_MISMATCH);
        assert!(
            secret
                .message
                .starts_with("expected a string, found an object with keys [name]; `pullSecrets` entries are strings"),
            "{}",
            secret.message
        );
        assert!(secret.message.contains("`- ngc-registry-secret`"));
        for probe in ["readinessProbe", "startupProbe"] {
            let http_get = find(
                &found,
                &format!("spec.{probe}.httpGet"),
                code::UNKNOWN_FIELD,
            );
            assert!(
                http_get
                    .message
                    .starts_with("unknown field `httpGet`; did you mean `probe.httpGet`?"),
                "{}",
                http_get.message
            );
            let period = find(
                &found,
                &format!("spec.{probe}.periodSeconds"),
                code::UNKNOWN_FIELD,
            );
            assert!(
                period
                    .message
                    .contains("did you mean `probe.periodSeconds`?")
            );
        }
        assert_eq!(found.len(), 8, "{found:#?}");
    }

    #[test]
    fn corrected_blog_objects_are_valid() {
        let cache = yaml(
            r#"
apiVersion: apps.nvidia.com/v1alpha1
kind: NIMCache
metadata: {name: llama-3-1-70b-cache, namespace: nim-prod, labels: {a: b}}
spec:
  source:
    ngc:
      modelPuller: nvcr.io/nim/meta/llama-3.1-70b-instruct:1.3.0
      authSecret: ngc-api-secret
      model: {engine: vllm, precision: fp8, profiles: [vllm-fp8-tp1-pp1]}
  storage:
    pvc: {create: true, storageClass: fast-parallel-fs, size: 250Gi, volumeAccessMode: ReadWriteMany}
  resources: {cpu: 4, memory: 16Gi}
  tolerations: [{key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}]
"#,
        );
        assert_eq!(check(&crd_schema(NIMCACHE_CRD), &cache), []);
        let service = yaml(
            r#"
apiVersion: apps.nvidia.com/v1alpha1
kind: NIMService
metadata: {name: llama-3-1-70b, namespace: nim-prod}
spec:
  image:
    repository: nvcr.io/nim/meta/llama-3.1-70b-instruct
    tag: "1.3.0"
    pullPolicy: IfNotPresent
    pullSecrets: [ngc-registry-secret]
  authSecret: ngc-api-secret
  storage:
    nimCache: {name: llama-3-1-70b-cache, profile: vllm-fp8-tp1-pp1}
  replicas: 2
  resources:
    limits: {nvidia.com/gpu: 1, memory: 80Gi}
  readinessProbe:
    enabled: true
    probe:
      httpGet: {path: /v1/health/ready, port: 8000}
      initialDelaySeconds: 30
  expose:
    service: {type: ClusterIP, port: 8000}
  metrics: {enabled: true}
"#,
        );
        assert_eq!(check(&crd_schema(NIMSERVICE_CRD), &service), []);
    }

    #[test]
    fn check_at_prefixes_paths() {
        let schema = json!({"type": "object", "properties": {"a": {"type": "string"}}});
        let found = check_at(&schema, &json!({"a": 1, "b": 2}), "spec.x");
        assert_eq!(
            codes(&found),
            [
                ("spec.x.a", code::TYPE_MISMATCH),
                ("spec.x.b", code::UNKNOWN_FIELD)
            ]
        );
        assert!(
            found[0].message.contains("quote the value"),
            "{}",
            found[0].message
        );
    }

    #[test]
    fn types() {
        let cases = [
            ("integer", json!(3), true),
            ("integer", json!(3.0), true),
            ("integer", json!(3.5), false),
            ("integer", json!("3"), false),
            ("number", json!(3), true),
            ("number", json!(3.5), true),
            ("string", json!("x"), true),
            ("string", json!(1.5), false),
            ("boolean", json!(true), true),
            ("boolean", json!("true"), false),
            ("object", json!({}), true),
            ("object", json!([]), false),
            ("array", json!([]), true),
            ("array", json!("x"), false),
        ];
        for (ty, value, ok) in cases {
            let found = check(&json!({"type": ty}), &value);
            assert_eq!(found.is_empty(), ok, "{ty} {value}: {found:?}");
            if !ok {
                assert_eq!(found[0].code, code::TYPE_MISMATCH);
            }
        }
        // No `type`: anything goes, but other keywords still apply.
        assert_eq!(check(&json!({}), &json!({"a": [1]})), []);
        let found = check(&json!({"maxLength": 2}), &json!("abc"));
        assert_eq!(codes(&found), [("", code::MAX_LENGTH)]);

        let found = check(&json!({"type": "integer"}), &json!("30"));
        assert_eq!(
            found[0].message,
            "expected an integer, found the string \"30\"; remove the quotes around the number"
        );
        let schema = json!({"type": "object", "properties": {"pvc": {"type": "object"}}});
        let found = check(&schema, &json!({"pvc": [{"name": "x"}]}));
        assert!(
            found[0].message.contains("`pvc` is an object, not a list"),
            "{found:?}"
        );
    }

    #[test]
    fn int_or_string() {
        let schema = json!({
            "anyOf": [{"type": "integer"}, {"type": "string"}],
            "x-kubernetes-int-or-string": true,
            "pattern": "^[0-9]+(Gi|Mi)?$",
        });
        for ok in [json!(1), json!("1"), json!("80Gi"), json!(2.0)] {
            assert_eq!(check(&schema, &ok), [], "{ok}");
        }
        let found = check(&schema, &json!(true));
        assert_eq!(codes(&found), [("", code::TYPE_MISMATCH)]);
        assert!(
            found[0]
                .message
                .starts_with("expected an integer or a string, found the boolean `true`")
        );
        assert_eq!(
            codes(&check(&schema, &json!(1.5))),
            [("", code::TYPE_MISMATCH)]
        );
        assert_eq!(
            codes(&check(&schema, &json!("eighty"))),
            [("", code::PATTERN)]
        );
    }

    #[test]
    fn required_and_defaults() {
        let schema = json!({
            "type": "object",
            "required": ["minReplicas", "maxReplicas", "port"],
            "properties": {
                "minReplicas": {"type": "integer"},
                "maxReplicas": {"type": "integer"},
                "port": {"type": "integer", "default": 8000},
            },
        });
        let found = check(&schema, &json!({"minReplicas": 1}));
        assert_eq!(codes(&found), [("", code::REQUIRED)]);
        assert_eq!(found[0].message, "missing required field `maxReplicas`");
        assert_eq!(
            check(&schema, &json!({"minReplicas": 1, "maxReplicas": 2})),
            []
        );
    }

    #[test]
    fn enums() {
        let schema = json!({"type": "string", "enum": ["Always", "IfNotPresent", "Never"]});
        assert_eq!(check(&schema, &json!("Never")), []);
        let found = check(&schema, &json!("foo"));
        assert_eq!(found[0].code, code::ENUM);
        assert_eq!(
            found[0].message,
            "`foo` is not one of: Always, IfNotPresent, Never"
        );
        let found = check(&schema, &json!("ifnotpresent"));
        assert!(found[0].message.ends_with("; did you mean `IfNotPresent`?"));
        assert_eq!(check(&json!({"enum": [1, 2]}), &json!(2.0)), []);
        assert_eq!(
            codes(&check(&json!({"enum": [1, 2]}), &json!(3))),
            [("", code::ENUM)]
        );
    }

    #[test]
    fn patterns_and_lengths() {
        let schema =
            json!({"type": "string", "pattern": "^https?://.*$", "minLength": 9, "maxLength": 12});
        assert_eq!(check(&schema, &json!("http://abc")), []);
        assert_eq!(
            codes(&check(&schema, &json!("ftp://a"))),
            [("", code::MIN_LENGTH), ("", code::PATTERN)]
        );
        assert_eq!(
            codes(&check(&schema, &json!("https://abcdef"))),
            [("", code::MAX_LENGTH)]
        );
        // Lengths count characters, not bytes.
        assert_eq!(check(&json!({"maxLength": 3}), &json!("äöü")), []);
        assert_eq!(
            codes(&check(&json!({"minLength": 1}), &json!(""))),
            [("", code::MIN_LENGTH)]
        );
        // An invalid pattern is skipped, not a panic; patterns only apply to strings.
        assert_eq!(check(&json!({"pattern": "(["}), &json!("x")), []);
        assert_eq!(check(&json!({"pattern": "^a$"}), &json!(5)), []);
    }

    #[test]
    fn formats() {
        let byte = json!({"type": "string", "format": "byte"});
        for ok in ["", "aGVsbG8=", "aGk=", "aGVs\nbG8h"] {
            assert_eq!(check(&byte, &json!(ok)), [], "{ok}");
        }
        for bad in ["hello", "aGk", "a===", "aG=k", "aGk*"] {
            assert_eq!(
                codes(&check(&byte, &json!(bad))),
                [("", code::FORMAT)],
                "{bad}"
            );
        }
        let date_time = json!({"type": "string", "format": "date-time"});
        for ok in [
            "2024-05-01T12:00:00Z",
            "2024-02-29T23:59:60.123+05:30",
            "2024-05-01t00:00:00-00:00",
        ] {
            assert_eq!(check(&date_time, &json!(ok)), [], "{ok}");
        }
        for bad in [
            "2024-05-01",
            "2023-02-29T00:00:00Z",
            "2024-05-01T24:00:00Z",
            "2024-05-01T12:00:00",
            "2024-05-01T12:00:00.Z",
            "yesterday",
        ] {
            assert_eq!(
                codes(&check(&date_time, &json!(bad))),
                [("", code::FORMAT)],
                "{bad}"
            );
        }
        assert_eq!(check(&json!({"format": "date"}), &json!("2024-12-31")), []);
        assert_eq!(
            codes(&check(&json!({"format": "date"}), &json!("2024-13-01"))),
            [("", code::FORMAT)]
        );
    }

    #[test]
    fn numeric_bounds_and_int_formats() {
        let port = json!({"type": "integer", "format": "int32", "minimum": 1, "maximum": 65535});
        assert_eq!(check(&port, &json!(8000)), []);
        let found = check(&port, &json!(0));
        assert_eq!(found[0].message, "`0` is less than the minimum 1");
        assert_eq!(
            codes(&check(&port, &json!(70000))),
            [("", code::OUT_OF_RANGE)]
        );
        let int32 = json!({"type": "integer", "format": "int32"});
        assert_eq!(check(&int32, &json!(2_147_483_647)), []);
        let found = check(&int32, &json!(2_147_483_648_i64));
        assert_eq!(codes(&found), [("", code::OUT_OF_RANGE)]);
        assert!(found[0].message.contains("int32"));
        assert_eq!(
            codes(&check(&int32, &json!(-2_147_483_649_i64))),
            [("", code::OUT_OF_RANGE)]
        );
        let int64 = json!({"type": "integer", "format": "int64"});
        assert_eq!(check(&int64, &json!(i64::MAX)), []);
        assert_eq!(
            codes(&check(&int64, &json!(u64::MAX))),
            [("", code::OUT_OF_RANGE)]
        );
        assert_eq!(
            codes(&check(&int64, &json!(1e30))),
            [("", code::OUT_OF_RANGE)]
        );

        let exclusive =
            json!({"minimum": 0, "exclusiveMinimum": true, "maximum": 1, "exclusiveMaximum": true});
        assert_eq!(check(&exclusive, &json!(0.5)), []);
        assert_eq!(
            codes(&check(&exclusive, &json!(0))),
            [("", code::OUT_OF_RANGE)]
        );
        assert_eq!(
            codes(&check(&exclusive, &json!(1.0))),
            [("", code::OUT_OF_RANGE)]
        );
        assert_eq!(
            codes(&check(&json!({"exclusiveMaximum": 10}), &json!(10))),
            [("", code::OUT_OF_RANGE)]
        );
        assert_eq!(
            codes(&check(&json!({"multipleOf": 5}), &json!(12))),
            [("", code::MULTIPLE_OF)]
        );
        assert_eq!(check(&json!({"multipleOf": 0.5}), &json!(1.5)), []);
    }

    #[test]
    fn items_and_counts() {
        let schema = json!({
            "type": "object",
            "minProperties": 1,
            "maxProperties": 2,
            "properties": {
                "a": {"type": "array", "minItems": 1, "maxItems": 2, "items": {"type": "string"}},
                "b": {"type": "string"},
                "c": {"type": "string"},
            },
        });
        assert_eq!(check(&schema, &json!({"a": ["x"]})), []);
        assert_eq!(
            codes(&check(&schema, &json!({}))),
            [("", code::MIN_PROPERTIES)]
        );
        assert_eq!(
            codes(&check(
                &schema,
                &json!({"a": ["x", 1, "y"], "b": "", "c": ""})
            )),
            [
                ("", code::MAX_PROPERTIES),
                ("a", code::MAX_ITEMS),
                ("a[1]", code::TYPE_MISMATCH)
            ]
        );
        assert_eq!(
            codes(&check(&schema, &json!({"a": []}))),
            [("a", code::MIN_ITEMS)]
        );
    }

    #[test]
    fn duplicate_list_entries() {
        let map = json!({
            "type": "array",
            "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": ["name", "protocol"],
            "items": {
                "type": "object",
                "required": ["name"],
                "properties": {
                    "name": {"type": "string"},
                    "protocol": {"type": "string", "default": "TCP"},
                    "port": {"type": "integer"},
                },
            },
        });
        let ports = json!([
            {"name": "http", "port": 80},
            {"name": "http", "protocol": "UDP", "port": 80},
            {"name": "http", "protocol": "TCP", "port": 8080},
        ]);
        let found = check(&map, &ports);
        assert_eq!(codes(&found), [("[2]", code::DUPLICATE_ITEM)]);
        assert!(found[0].message.contains("[0]"), "{}", found[0].message);
        let schema = json!({"type": "object", "properties": {"ports": map}});
        let found = check(&schema, &json!({"ports": [{"name": "a"}, {"name": "a"}]}));
        assert_eq!(codes(&found), [("ports[1]", code::DUPLICATE_ITEM)]);
        assert!(found[0].message.contains("`ports`"), "{}", found[0].message);

        let set = json!({"type": "array", "x-kubernetes-list-type": "set", "items": {}});
        assert_eq!(check(&set, &json!(["a", "b", 1, 2.5])), []);
        assert_eq!(
            codes(&check(&set, &json!(["a", "b", "a", 1, 1.0]))),
            [("[2]", code::DUPLICATE_ITEM), ("[4]", code::DUPLICATE_ITEM)]
        );
        let atomic = json!({"type": "array", "items": {}});
        assert_eq!(check(&atomic, &json!(["a", "a"])), []);
    }

    #[test]
    fn nulls() {
        let schema = json!({
            "type": "object",
            "properties": {
                "a": {"type": "string"},
                "b": {"type": "string", "nullable": true},
                "c": {"type": "array", "items": {"type": "integer"}},
            },
        });
        assert_eq!(check(&schema, &json!({"b": null})), []);
        // A non-nullable `null` field is dropped as the API server drops it; list entries stay.
        let found = check(&schema, &json!({"a": null, "c": [1, null]}));
        assert_eq!(codes(&found), [("c[1]", code::TYPE_MISMATCH)]);
        assert!(
            found[0]
                .message
                .starts_with("null is not allowed here (expected an integer)"),
            "{}",
            found[0].message
        );
        // Dropped, a required field is missing; with a default, it takes the default.
        let required = json!({
            "type": "object",
            "required": ["a", "d"],
            "properties": {
                "a": {"type": "string"},
                "d": {"type": "integer", "default": 1, "minimum": 1},
            },
        });
        let found = check(&required, &json!({"a": null, "d": null}));
        assert_eq!(codes(&found), [("", code::REQUIRED)]);
        assert_eq!(found[0].message, "missing required field `a`");
    }

    #[test]
    fn unknown_fields_and_additional_properties() {
        let schema = json!({
            "type": "object",
            "properties": {
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                "closed": {"type": "object", "additionalProperties": false},
                "open": {"type": "object", "x-kubernetes-preserve-unknown-fields": true, "properties": {"a": {"type": "string"}}},
                "anything": {"x-kubernetes-preserve-unknown-fields": true},
                "tolerations": {"type": "array", "items": {"type": "object"}},
                "replicas": {"type": "integer"},
                "pullPolicy": {"type": "string"},
            },
        });
        let value = json!({
            "labels": {"app": "x", "n": 1},
            "closed": {"x": 1},
            "open": {"a": 1, "b": 2},
            "anything": {"deep": [{"x": null}]},
            "tolerance": [],
            "replica": 2,
            "pullpolicy": "Always",
            "zzz": 1,
        });
        let found = check(&schema, &value);
        assert_eq!(
            codes(&found),
            [
                ("closed.x", code::UNKNOWN_FIELD),
                ("labels.n", code::TYPE_MISMATCH),
                ("open.a", code::TYPE_MISMATCH),
                ("pullpolicy", code::UNKNOWN_FIELD),
                ("replica", code::UNKNOWN_FIELD),
                ("tolerance", code::UNKNOWN_FIELD),
                ("zzz", code::UNKNOWN_FIELD),
            ]
        );
        let message = |path| find(&found, path, code::UNKNOWN_FIELD).message.as_str();
        assert!(message("closed.x").contains("this object has no fields"));
        assert!(message("pullpolicy").contains("did you mean `pullPolicy`?"));
        assert!(message("replica").contains("did you mean `replicas`?"));
        assert!(message("tolerance").contains("did you mean `tolerations`?"));
        assert!(message("zzz").contains(
            "known fields: anything, closed, labels, open, pullPolicy, replicas, tolerations."
        ));
    }

    #[test]
    fn suggestions_search_descendants() {
        let schema = crd_schema(NIMSERVICE_CRD);
        // Several equally deep places are all offered.
        let found = check_at(
            &schema["properties"]["spec"],
            &json!({"image": {"repository": "r", "tag": "t"}, "httpGet": {}}),
            "spec",
        );
        assert_eq!(codes(&found), [("spec.httpGet", code::UNKNOWN_FIELD)]);
        assert!(
            found[0].message.contains(
                "did you mean one of `livenessProbe.probe.httpGet`, `readinessProbe.probe.httpGet`, `startupProbe.probe.httpGet`?"
            ),
            "{}",
            found[0].message
        );
        // At the document root, `status` is not offered; `spec` is.
        let cache = crd_schema(NIMCACHE_CRD);
        let found = check(&cache, &json!({"pvc": {}}));
        assert!(
            found[0]
                .message
                .contains("did you mean `spec.storage.pvc`?"),
            "{}",
            found[0].message
        );
        // Through list items.
        let found = check_at(
            &cache["properties"]["spec"],
            &json!({"tolerationSeconds": 1}),
            "spec",
        );
        let unknown = find(&found, "spec.tolerationSeconds", code::UNKNOWN_FIELD);
        assert!(
            unknown
                .message
                .contains("did you mean `tolerations[].tolerationSeconds`?"),
            "{}",
            unknown.message
        );
        // A misplaced field beats a sibling whose name it contains ...
        let found = check_at(
            &cache["properties"]["spec"],
            &json!({"storageClass": "x"}),
            "spec",
        );
        let unknown = find(&found, "spec.storageClass", code::UNKNOWN_FIELD);
        assert!(
            unknown
                .message
                .contains("did you mean `storage.pvc.storageClass`?"),
            "{}",
            unknown.message
        );
        // ... which is found when there is no such field below.
        let pvc = &cache["properties"]["spec"]["properties"]["storage"]["properties"]["pvc"];
        let found = check(
            pvc,
            &json!({"storageClassName": "x", "name": "y", "nme": "z"}),
        );
        let unknown = find(&found, "storageClassName", code::UNKNOWN_FIELD);
        assert!(
            unknown.message.contains("did you mean `storageClass`?"),
            "{}",
            unknown.message
        );
        let unknown = find(&found, "nme", code::UNKNOWN_FIELD);
        assert!(
            unknown.message.contains("did you mean `name`?"),
            "{}",
            unknown.message
        );
        let found = check(
            &cache["properties"]["spec"]["properties"]["source"]["properties"]["hf"],
            &json!({"name": "x"}),
        );
        let unknown = find(&found, "name", code::UNKNOWN_FIELD);
        assert!(
            unknown
                .message
                .contains("did you mean one of `modelName`, `namespace`?"),
            "{}",
            unknown.message
        );
        // Objects with many fields list a bounded number of them.
        let found = check(&schema["properties"]["spec"], &json!({"qqqqqq": 1}));
        let unknown = find(&found, "qqqqqq", code::UNKNOWN_FIELD);
        assert!(
            unknown.message.contains(", … (19 more). The API server"),
            "{}",
            unknown.message
        );
    }

    #[test]
    fn metadata_at_the_root_is_only_type_checked() {
        let schema = json!({
            "type": "object",
            "properties": {"metadata": {"type": "object"}, "spec": {"type": "object", "properties": {"metadata": {"type": "object", "properties": {}}}}},
        });
        assert_eq!(
            check(
                &schema,
                &json!({"metadata": {"name": "x", "labels": {"a": "b"}}})
            ),
            []
        );
        assert_eq!(
            codes(&check(&schema, &json!({"metadata": "x"}))),
            [("metadata", code::TYPE_MISMATCH)]
        );
        // Elsewhere `metadata` is an ordinary field.
        assert_eq!(
            codes(&check(
                &schema,
                &json!({"spec": {"metadata": {"name": "x"}}})
            )),
            [("spec.metadata.name", code::UNKNOWN_FIELD)]
        );
        let embedded = json!({"type": "object", "x-kubernetes-embedded-resource": true, "properties": {"spec": {}}});
        assert_eq!(
            check_at(
                &embedded,
                &json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"x": 1}}),
                "t"
            ),
            []
        );
    }

    #[test]
    fn junctors() {
        let one_of = json!({
            "type": "object",
            "properties": {"a": {"type": "string"}, "b": {"type": "string"}},
            "oneOf": [{"required": ["a"]}, {"required": ["b"]}],
        });
        assert_eq!(check(&one_of, &json!({"b": "x"})), []);
        assert_eq!(codes(&check(&one_of, &json!({}))), [("", code::REQUIRED)]);
        let all_of = json!({
            "type": "object",
            "properties": {"a": {"type": "integer"}},
            "allOf": [{"properties": {"a": {"minimum": 1}}}, {"properties": {"a": {"maximum": 5}}}],
        });
        assert_eq!(check(&all_of, &json!({"a": 3})), []);
        assert_eq!(
            codes(&check(&all_of, &json!({"a": 9}))),
            [("a", code::OUT_OF_RANGE)]
        );
        // Branches do not prune: no unknown fields from a branch's partial `properties`.
        let any_of = json!({
            "type": "object",
            "properties": {"a": {"type": "string"}, "b": {"type": "string"}},
            "anyOf": [{"properties": {"a": {"pattern": "^x"}}}, {"properties": {"b": {"pattern": "^y"}}}],
        });
        assert_eq!(check(&any_of, &json!({"a": "q", "b": "y"})), []);
        assert_eq!(
            codes(&check(&any_of, &json!({"a": "q", "b": "q"}))),
            [("a", code::PATTERN)]
        );
        // A required field with a default in the main schema is not missing in a branch.
        let defaulted = json!({
            "type": "object",
            "properties": {"a": {"type": "string", "default": "x"}},
            "anyOf": [{"required": ["a"]}],
        });
        assert_eq!(check(&defaulted, &json!({})), []);
    }

    /// `{"a": {"a": ... leaf}}` `depth` levels deep, with the matching schema. Built by hand:
    /// `json!` serializes interpolated values, which recurses.
    fn nested(depth: usize, leaf_schema: Value, leaf: Value) -> (Value, Value) {
        let wrap =
            |key: &str, inner: Value| Value::Object(Map::from_iter([(key.to_owned(), inner)]));
        let (mut schema, mut value) = (leaf_schema, leaf);
        for _ in 0..depth {
            let mut object = wrap("properties", wrap("a", schema));
            object["type"] = json!("object");
            schema = object;
            value = wrap("a", value);
        }
        (schema, value)
    }

    /// Drops a deeply nested value without recursion: `serde_json`'s own (recursive) drop of a
    /// 1000-deep value needs megabytes of stack in debug builds.
    fn dismantle(value: Value) {
        let mut stack = vec![value];
        while let Some(mut value) = stack.pop() {
            match &mut value {
                Value::Object(map) => stack.extend(std::mem::take(map).into_iter().map(|(_, v)| v)),
                Value::Array(items) => stack.append(items),
                _ => {}
            }
        }
    }

    #[test]
    fn deep_nesting_does_not_overflow() {
        let (schema, value) = nested(1000, json!({"type": "string"}), json!(1));
        let found = check(&schema, &value);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].code, code::TOO_DEEP);
        assert_eq!(found[0].path.matches('.').count(), MAX_DEPTH);
        dismantle(schema);

        // Deep values under a schema that stops early are not walked at all.
        let found = check(
            &json!({"x-kubernetes-preserve-unknown-fields": true}),
            &value,
        );
        assert_eq!(found, []);
        // Deep set entries are compared without unbounded recursion.
        let (other_schema, other) = nested(1000, json!({}), json!(1));
        dismantle(other_schema);
        let set = json!({"type": "array", "x-kubernetes-list-type": "set"});
        let list = Value::Array(vec![value, other]);
        assert_eq!(check(&set, &list), []);
        dismantle(list);
        // Deep anyOf chains stop too.
        let mut schema = json!({"type": "string"});
        for _ in 0..1000 {
            schema = Value::Object(Map::from_iter([(
                "anyOf".to_owned(),
                Value::Array(vec![schema]),
            )]));
        }
        assert_eq!(codes(&check(&schema, &json!("x"))), [("", code::TOO_DEEP)]);
        dismantle(schema);
    }

    #[test]
    fn odd_schemas_do_not_panic() {
        let schemas = [
            json!(true),
            json!(null),
            json!({"type": 5, "properties": 3, "required": "a", "items": "x", "enum": {}}),
            json!({"type": "object", "properties": {"a": 1}, "required": [1, null]}),
            json!({"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": [1]}),
            json!({"minimum": "a", "maxLength": -1, "format": "int32", "multipleOf": 0}),
            json!({"anyOf": [], "oneOf": [1, 2], "allOf": {}}),
        ];
        let values = [
            json!(null),
            json!(1),
            json!(-1.5),
            json!("x"),
            json!([1, {"a": 1}]),
            json!({"a": [null]}),
        ];
        for schema in &schemas {
            for value in &values {
                let _ = check(schema, value);
            }
        }
    }
}
