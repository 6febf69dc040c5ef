//! NIM model manifests (`model_manifest.yaml`), schema v1 and v2.
//!
//! **v1** (NIM 1.x): a mapping keyed by profile id; each entry has `model`, `release`, `tags`
//! (string → string), `container_url` and `workspace`. Real manifests mark the workspace with
//! custom YAML tags (`!workspace`, `!name`); those are ignored.
//!
//! **v2**: `schema_version` (`2.0.0`), `profile_selection_criteria` and a `profiles` list of
//! `{id, tags, workspace}`. As in NVIDIA's k8s-nim-operator, a document is v2 when its
//! `schema_version` starts with `2`, and v1 otherwise.
//!
//! Only the ids, tags, `model` and `release` are read; workspaces (files to download) are not.
//! Profiles keep the manifest's order. Each profile gets the name [`crate::name::format`] derives
//! (`tensorrt_llm-l40s-fp16-tp8-pp1-throughput`); the id stays the key, because the names NIM
//! prints vary by release (see [`crate::name`]).
//!
//! ```
//! use nim_profiles::{Engine, Manifest, ManifestVersion, Qos};
//!
//! let text = "\
//! 03fdb4d11f01be10c31b00e7c0540e2835e89a0079b483ad2dd3c25c8cc29b61:
//!   model: meta/llama3-70b-instruct
//!   release: '1.0.0'
//!   tags:
//!     gpu: L40S
//!     gpu_device: 26b5:10de
//!     llm_engine: tensorrt_llm
//!     precision: fp16
//!     profile: throughput
//!     tp: '8'
//!   workspace: !workspace
//!     components:
//!       - dst: trtllm_engine
//!         src:
//!           files:
//!             - !name 'rank0.engine'
//! ";
//! let manifest = Manifest::parse("model_manifest.yaml", text)?;
//! assert_eq!(manifest.version, ManifestVersion::V1);
//! let profile = manifest.get("tensorrt_llm-l40s-fp16-tp8-pp1-throughput").unwrap();
//! assert_eq!(profile.engine, Engine::TensorrtLlm);
//! assert_eq!((profile.tp, profile.qos), (8, Some(Qos::Throughput)));
//! assert_eq!(profile.release.as_deref(), Some("1.0.0"));
//!
//! let err = Manifest::parse("bad.yaml", "abc:\n  model: x\n").unwrap_err();
//! assert_eq!(err.to_string(), "bad.yaml:1: profile `abc` has no `tags` mapping");
//! # Ok::<(), nim_profiles::Error>(())
//! ```

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::marker::PhantomData;
use std::path::Path;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;

use crate::error::{Error, Result};
use crate::name;
use crate::profile::Profile;

/// The manifest schema.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ManifestVersion {
    /// Schema v1: a mapping keyed by profile id.
    V1,
    /// Schema v2: `schema_version` and a `profiles` list.
    V2 {
        /// The `schema_version` verbatim (`2.0.0`).
        schema_version: String,
    },
}

/// A parsed model manifest.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// The schema.
    pub version: ManifestVersion,
    /// `profile_selection_criteria` (v2 only; `default`).
    pub selection_criteria: Option<String>,
    /// The profiles, in manifest order.
    pub profiles: Vec<Profile>,
}

impl Manifest {
    /// Parses one manifest document.
    ///
    /// # Errors
    ///
    /// [`Error::Parse`] naming `source_name` and the 1-based line: malformed YAML, a stream of
    /// several documents (see [`Manifest::parse_documents`]), an empty input, an entry that is
    /// not a mapping, an entry without `tags` (or a v2 entry without `id`), a tag whose value is
    /// not a scalar, a duplicate profile id, or a tag value that [`Profile::from_tags`] rejects
    /// (the line of that tag).
    pub fn parse(source_name: &str, text: &str) -> Result<Manifest> {
        let mut documents = read_documents(source_name, text)?;
        if documents.len() > 1 {
            let line = documents.get(1).map_or(0, |doc| line_of(&doc.referenced));
            return Err(Error::parse(
                source_name,
                line,
                format!(
                    "a second YAML document starts here; a manifest is one document \
                     ({} found; Manifest::parse_documents reads a stream)",
                    documents.len()
                ),
            ));
        }
        let Some(document) = documents.pop() else {
            return Err(Error::parse(
                source_name,
                if text.is_empty() { 0 } else { 1 },
                "the manifest is empty (no YAML document)",
            ));
        };
        Reader { source_name, text }.manifest(document)
    }

    /// Parses every document of a YAML stream (documents separated by `---`), each a manifest.
    /// Empty documents are skipped; an empty stream gives no manifests.
    ///
    /// # Errors
    ///
    /// As [`Manifest::parse`], for the first document that fails.
    pub fn parse_documents(source_name: &str, text: &str) -> Result<Vec<Manifest>> {
        let reader = Reader { source_name, text };
        read_documents(source_name, text)?
            .into_iter()
            .map(|document| reader.manifest(document))
            .collect()
    }

    /// Reads and parses a manifest file; the path is the source name in errors.
    ///
    /// # Errors
    ///
    /// [`Error::Parse`] at line 0 when the file cannot be read (or is not UTF-8), else as
    /// [`Manifest::parse`].
    pub fn from_file(path: &Path) -> Result<Manifest> {
        let source_name = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::parse(&source_name, 0, format!("cannot read the file: {e}")))?;
        Manifest::parse(&source_name, &text)
    }

    /// The profile with this id, else the first (in manifest order) whose derived name is
    /// exactly this text.
    pub fn get(&self, id_or_name: &str) -> Option<&Profile> {
        self.profiles
            .iter()
            .find(|profile| profile.id == id_or_name)
            .or_else(|| {
                self.profiles
                    .iter()
                    .find(|profile| profile.name.as_deref() == Some(id_or_name))
            })
    }
}

/// A YAML node with locations. Custom tags (`!workspace`) are dropped by the deserializer.
enum Node {
    Null,
    /// A string scalar, decoded.
    Text(String),
    /// A number or boolean; its source text is read back from its span, with this rendering
    /// as a fallback.
    Typed(String),
    /// A sequence (empty when deeper than [`Document`] reads).
    Seq(Vec<Spanned<Node>>),
    /// A mapping (empty when deeper than [`Document`] reads).
    Map(Entries),
}

/// The entries of a mapping, keys with their locations.
type Entries = Vec<(Spanned<String>, Spanned<Node>)>;

impl Node {
    fn kind(&self) -> &'static str {
        match self {
            Node::Null => "null",
            Node::Text(_) | Node::Typed(_) => "a scalar",
            Node::Seq(_) => "a sequence",
            Node::Map(_) => "a mapping",
        }
    }
}

/// A document read five levels deep: root, profile list (v2), entry, `tags`, tag value. Below
/// that, collections are skipped without being built, which keeps the recursion (and the
/// stack) of this reader shallow whatever the input; serde-saphyr's depth budget bounds the
/// skipping.
type Document = Level<Read<Read<Read<Read<Skip>>>>>;

/// A node whose children are read as `C` says.
struct Level<C>(Node, PhantomData<C>);

/// How a level reads its children.
trait Children<'de> {
    fn seq<A: SeqAccess<'de>>(seq: A) -> Result<Vec<Spanned<Node>>, A::Error>;
    fn map<A: MapAccess<'de>>(map: A) -> Result<Entries, A::Error>;
}

/// Children are nodes one level down.
struct Read<C>(PhantomData<C>);

/// Children are skipped.
struct Skip;

impl<'de, C: Children<'de>> Children<'de> for Read<C> {
    fn seq<A: SeqAccess<'de>>(mut seq: A) -> Result<Vec<Spanned<Node>>, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Spanned<Level<C>>>()? {
            items.push(Spanned::new(item.value.0, item.referenced, item.defined));
        }
        Ok(items)
    }

    fn map<A: MapAccess<'de>>(mut map: A) -> Result<Entries, A::Error> {
        let mut entries = Vec::new();
        while let Some((key, value)) = map.next_entry::<Spanned<String>, Spanned<Level<C>>>()? {
            entries.push((
                key,
                Spanned::new(value.value.0, value.referenced, value.defined),
            ));
        }
        Ok(entries)
    }
}

impl<'de> Children<'de> for Skip {
    fn seq<A: SeqAccess<'de>>(mut seq: A) -> Result<Vec<Spanned<Node>>, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Vec::new())
    }

    fn map<A: MapAccess<'de>>(mut map: A) -> Result<Entries, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Vec::new())
    }
}

impl<'de, C: Children<'de>> Deserialize<'de> for Level<C> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer
            .deserialize_any(NodeVisitor::<C>(PhantomData))
            .map(|node| Level(node, PhantomData))
    }
}

struct NodeVisitor<C>(PhantomData<C>);

impl<'de, C: Children<'de>> Visitor<'de> for NodeVisitor<C> {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML node")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Node, E> {
        Ok(Node::Typed(v.to_string()))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Node, E> {
        Ok(Node::Typed(v.to_string()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Node, E> {
        Ok(Node::Typed(v.to_string()))
    }

    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Node, E> {
        Ok(Node::Typed(v.to_string()))
    }

    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Node, E> {
        Ok(Node::Typed(v.to_string()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Node, E> {
        Ok(Node::Typed(format!("{v:?}")))
    }

    fn visit_char<E: de::Error>(self, v: char) -> Result<Node, E> {
        Ok(Node::Text(v.to_string()))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Node, E> {
        Ok(Node::Text(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Node, E> {
        Ok(Node::Text(v))
    }

    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Node, E> {
        Ok(Node::Text(String::from_utf8_lossy(v).into_owned()))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Node, D::Error> {
        deserializer.deserialize_any(self)
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, deserializer: D) -> Result<Node, D::Error> {
        deserializer.deserialize_any(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Node, A::Error> {
        C::seq(seq).map(Node::Seq)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Node, A::Error> {
        C::map(map).map(Node::Map)
    }
}

fn line_of(location: &serde_saphyr::Location) -> usize {
    usize::try_from(location.line()).unwrap_or(usize::MAX)
}

/// Every non-empty document of the stream, as a node tree.
fn read_documents(source_name: &str, text: &str) -> Result<Vec<Spanned<Node>>> {
    let options = serde_saphyr::options! { with_snippet: false };
    let documents = serde_saphyr::from_multiple_with_options::<Spanned<Document>>(text, options)
        .map_err(|e| {
            let line = e.location().map_or(0, |location| line_of(&location));
            Error::parse(source_name, line, format!("YAML: {}", yaml_message(&e)))
        })?;
    Ok(documents
        .into_iter()
        .map(|document| Spanned::new(document.value.0, document.referenced, document.defined))
        .collect())
}

/// serde-saphyr's message on one line, without its position (`line L column C:` before or
/// `at line L, column C` after; the line is reported separately) or its advice on parser
/// options, plus the column.
fn yaml_message(error: &serde_saphyr::Error) -> String {
    let text = error.without_snippet().to_string();
    let first = text.lines().next().unwrap_or_default().trim();
    let mut message = first.strip_prefix("error:").unwrap_or(first).trim();
    if let Some((position, rest)) = message.split_once(": ")
        && position.starts_with("line ")
        && position.contains("column")
    {
        message = rest;
    }
    if let Some((rest, position)) = message.rsplit_once(" at line ")
        && position.contains("column")
    {
        message = rest;
    }
    let message = message
        .strip_suffix(", set DuplicateKeyPolicy in Options if acceptable")
        .unwrap_or(message);
    match error.location() {
        Some(location) if location.column() > 0 => {
            format!("{message} (column {})", location.column())
        }
        _ => message.to_owned(),
    }
}

/// Turns node trees into manifests, with errors that point at lines of `text`.
struct Reader<'a> {
    source_name: &'a str,
    text: &'a str,
}

impl Reader<'_> {
    fn error(&self, line: usize, message: impl Into<String>) -> Error {
        Error::parse(self.source_name, line, message)
    }

    /// The text of a scalar: strings decoded, numbers and booleans as written in the source.
    fn scalar(&self, node: &Spanned<Node>) -> Option<String> {
        match &node.value {
            Node::Text(text) => Some(text.clone()),
            Node::Typed(rendered) => {
                let span = node.defined.span();
                let source = span
                    .byte_offset()
                    .zip(span.byte_len())
                    .and_then(|(start, len)| {
                        let start = usize::try_from(start).ok()?;
                        let end = start.checked_add(usize::try_from(len).ok()?)?;
                        self.text.get(start..end)
                    })
                    .map(str::trim)
                    .filter(|raw| !raw.is_empty() && !raw.contains(char::is_whitespace));
                Some(source.map_or_else(|| rendered.clone(), str::to_owned))
            }
            Node::Null | Node::Seq(_) | Node::Map(_) => None,
        }
    }

    fn manifest(&self, document: Spanned<Node>) -> Result<Manifest> {
        let line = line_of(&document.referenced);
        let Node::Map(entries) = document.value else {
            return Err(self.error(
                line,
                format!(
                    "expected a mapping (profile ids for schema v1, or `schema_version` and \
                     `profiles` for v2), found {}",
                    document.value.kind()
                ),
            ));
        };
        let schema_version = entries
            .iter()
            .find(|(key, _)| key.value == "schema_version")
            .and_then(|(_, value)| self.scalar(value))
            .map(|version| version.trim().to_owned());
        match schema_version {
            Some(version) if version.starts_with('2') => self.v2(version, line, entries),
            _ => self.v1(entries),
        }
    }

    fn v1(&self, entries: Entries) -> Result<Manifest> {
        let mut profiles = Vec::with_capacity(entries.len());
        for (key, value) in entries {
            if matches!(
                key.value.as_str(),
                "schema_version" | "profile_selection_criteria"
            ) {
                continue;
            }
            let line = line_of(&key.referenced);
            let Node::Map(fields) = value.value else {
                return Err(self.error(
                    line,
                    format!(
                        "profile `{}`: expected a mapping with `tags`, found {}",
                        key.value,
                        value.value.kind()
                    ),
                ));
            };
            profiles.push(self.profile(key.value, line, fields)?);
        }
        Ok(Manifest {
            version: ManifestVersion::V1,
            selection_criteria: None,
            profiles,
        })
    }

    fn v2(&self, schema_version: String, line: usize, entries: Entries) -> Result<Manifest> {
        let mut selection_criteria = None;
        let mut list = None;
        for (key, value) in entries {
            match key.value.as_str() {
                "profile_selection_criteria" => selection_criteria = self.scalar(&value),
                "profiles" => list = Some((line_of(&key.referenced), value)),
                _ => {}
            }
        }
        let Some((list_line, list)) = list else {
            return Err(self.error(
                line,
                format!("schema_version {schema_version} manifest has no `profiles` list"),
            ));
        };
        let items = match list.value {
            Node::Seq(items) => items,
            Node::Null => Vec::new(),
            other => {
                return Err(self.error(
                    list_line,
                    format!("`profiles` must be a sequence, found {}", other.kind()),
                ));
            }
        };
        let mut profiles = Vec::with_capacity(items.len());
        let mut first_line: HashMap<String, usize> = HashMap::new();
        for (index, item) in items.into_iter().enumerate() {
            let line = line_of(&item.referenced);
            let Node::Map(fields) = item.value else {
                return Err(self.error(
                    line,
                    format!(
                        "profiles[{index}]: expected a mapping with `id` and `tags`, found {}",
                        item.value.kind()
                    ),
                ));
            };
            let id = fields
                .iter()
                .find(|(key, _)| key.value == "id")
                .and_then(|(_, value)| self.scalar(value))
                .map(|id| id.trim().to_owned())
                .filter(|id| !id.is_empty())
                .ok_or_else(|| self.error(line, format!("profiles[{index}] has no `id`")))?;
            if let Some(first) = first_line.get(&id) {
                return Err(self.error(
                    line,
                    format!("duplicate profile id `{id}` (first at line {first})"),
                ));
            }
            first_line.insert(id.clone(), line);
            profiles.push(self.profile(id, line, fields)?);
        }
        Ok(Manifest {
            version: ManifestVersion::V2 { schema_version },
            selection_criteria,
            profiles,
        })
    }

    /// One profile entry (`line`: where it starts).
    fn profile(&self, id: String, line: usize, fields: Entries) -> Result<Profile> {
        let (mut model, mut release, mut tags_node) = (None, None, None);
        for (key, value) in fields {
            match key.value.as_str() {
                "model" => model = self.scalar(&value),
                "release" => release = self.scalar(&value),
                "tags" => tags_node = Some((line_of(&key.referenced), value)),
                _ => {}
            }
        }
        let Some((tags_line, tags_node)) = tags_node else {
            return Err(self.error(line, format!("profile `{id}` has no `tags` mapping")));
        };
        let entries = match tags_node.value {
            Node::Map(entries) => entries,
            Node::Null => Vec::new(),
            other => {
                return Err(self.error(
                    tags_line,
                    format!(
                        "profile `{id}`: `tags` must be a mapping, found {}",
                        other.kind()
                    ),
                ));
            }
        };
        let mut tags = BTreeMap::new();
        let mut tag_lines = HashMap::new();
        for (key, value) in entries {
            let key_line = line_of(&key.referenced);
            let text = match &value.value {
                Node::Null => String::new(),
                Node::Text(_) | Node::Typed(_) => self.scalar(&value).unwrap_or_default(),
                other => {
                    return Err(self.error(
                        key_line,
                        format!(
                            "profile `{id}`: tag `{}` must be a scalar, found {}",
                            key.value,
                            other.kind()
                        ),
                    ));
                }
            };
            tag_lines.insert(key.value.clone(), key_line);
            tags.insert(key.value, text);
        }
        let mut profile = Profile::from_tags(id.clone(), tags).map_err(|e| match e {
            Error::Invalid { field, message } => self.error(
                tag_lines.get(&field).copied().unwrap_or(line),
                format!("profile `{id}`: tag `{field}`: {message}"),
            ),
            other => other,
        })?;
        profile.model = model;
        profile.release = release;
        profile.name = name::format(&profile);
        Ok(profile)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::{Engine, Qos};

    fn parse_err(text: &str) -> (usize, String) {
        match Manifest::parse("m.yaml", text) {
            Err(Error::Parse {
                source_name,
                line,
                message,
            }) => {
                assert_eq!(source_name, "m.yaml");
                (line, message)
            }
            other => panic!("{text:?}: {other:?}"),
        }
    }

    #[test]
    fn v1_keeps_order_tags_and_typed_scalars() {
        let text = "\
bbb:
  model: m
  release: 1.10
  tags: {llm_engine: vllm, precision: BF16, tp: 2, feat_lora: true, min_vram_per_device_gb: 32.0}
aaa:
  tags:
    llm_engine: tensorrt_llm
    gpu: H100
    profile: latency
";
        let m = Manifest::parse("m.yaml", text).unwrap();
        assert_eq!(m.version, ManifestVersion::V1);
        let ids: Vec<_> = m.profiles.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(ids, ["bbb", "aaa"]);
        let p = &m.profiles[0];
        assert_eq!(p.release.as_deref(), Some("1.10"));
        assert_eq!(p.tags["tp"], "2");
        assert_eq!(p.tags["feat_lora"], "true");
        assert_eq!(p.tags["min_vram_per_device_gb"], "32.0");
        assert_eq!(p.precision.as_deref(), Some("bf16"));
        assert!(p.lora);
        assert_eq!(p.name.as_deref(), Some("vllm-bf16-tp2-pp1-lora"));
        assert_eq!(
            m.get("vllm-bf16-tp2-pp1-lora").map(|p| p.id.as_str()),
            Some("bbb")
        );
        assert_eq!(
            m.get("aaa").map(|p| p.engine.clone()),
            Some(Engine::TensorrtLlm)
        );
        assert_eq!(m.profiles[1].qos, Some(Qos::Latency));
        assert!(m.get("nothing").is_none());
    }

    #[test]
    fn v2_needs_a_two() {
        let m = Manifest::parse(
            "m.yaml",
            "schema_version: '1.5'\nabc:\n  tags: {llm_engine: vllm}\n",
        )
        .unwrap();
        assert_eq!(m.version, ManifestVersion::V1);
        assert_eq!(m.profiles.len(), 1);
        let m = Manifest::parse(
            "m.yaml",
            "profiles:\n- id: x\n  tags: {}\nschema_version: 2\n",
        )
        .unwrap();
        assert_eq!(
            m.version,
            ManifestVersion::V2 {
                schema_version: "2".to_owned()
            }
        );
        assert_eq!(m.profiles[0].engine, Engine::Other(String::new()));
        assert_eq!(m.profiles[0].name, None);
        let m = Manifest::parse("m.yaml", "schema_version: 2.1.0\nprofiles:\n").unwrap();
        assert!(m.profiles.is_empty());
    }

    #[test]
    fn errors_have_lines() {
        assert_eq!(
            parse_err("a:\n  tags: {tp: '1'}\nb:\n  model: x\n"),
            (3, "profile `b` has no `tags` mapping".to_owned())
        );
        assert_eq!(parse_err("a:\n  tags:\n    tp: [1]\n").0, 3);
        assert_eq!(parse_err("a:\n  tags: [tp]\n").0, 2);
        assert_eq!(parse_err("a: 3\n").0, 1);
        let (line, message) = parse_err("a:\n  tags:\n    llm_engine: vllm\n    tp: eight\n");
        assert_eq!(line, 4);
        assert!(message.contains("tag `tp`"), "{message}");
        assert!(message.contains("eight"), "{message}");
        let (line, message) = parse_err("a:\n  tags: {}\na:\n  tags: {}\n");
        assert_eq!(line, 3);
        assert!(message.contains("duplicate"), "{message}");
        assert_eq!(parse_err("a:\n  tags: {x: [1\n").0, 2);
        assert_eq!(parse_err("").0, 0);
        assert_eq!(parse_err("# nothing\n").0, 1);
        assert_eq!(parse_err("- 1\n- 2\n").0, 1);
        assert_eq!(parse_err("a:\n  tags: {}\n---\nb:\n  tags: {}\n").0, 4);
        let v2 = "schema_version: 2.0.0\nprofiles:\n  - id: a\n    tags: {}\n  - tags: {}\n  - id: a\n    tags: {}\n";
        assert_eq!(parse_err(v2).0, 5);
        let v2 =
            "schema_version: 2.0.0\nprofiles:\n  - id: a\n    tags: {}\n  - id: a\n    tags: {}\n";
        let (line, message) = parse_err(v2);
        assert_eq!(line, 5);
        assert!(message.contains("first at line 3"), "{message}");
        assert_eq!(parse_err("schema_version: 2.0.0\n").0, 1);
        assert_eq!(parse_err("schema_version: 2.0.0\nprofiles: 3\n").0, 2);
        assert_eq!(parse_err("schema_version: 2.0.0\nprofiles:\n  - 3\n").0, 3);
    }

    #[test]
    fn deep_nesting_is_refused_not_overflowed() {
        let deep = format!("a: {}{}", "[".repeat(5000), "]".repeat(5000));
        let _ = Manifest::parse("m.yaml", &deep);
        let deep = format!("a: {}1{}", "{b: ".repeat(3000), "}".repeat(3000));
        let _ = Manifest::parse("m.yaml", &deep);
    }

    #[test]
    fn documents() {
        let ms =
            Manifest::parse_documents("m.yaml", "---\na:\n  tags: {}\n---\n---\nb:\n  tags: {}\n")
                .unwrap();
        assert_eq!(ms.len(), 2);
        assert!(Manifest::parse_documents("m.yaml", "").unwrap().is_empty());
    }
}
