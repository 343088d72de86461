//! Directory sources: where users and groups come from. A source is a trait so that LDAP (or an
//! HR API) can be added beside the two file formats; the engine only needs a stream of objects
//! it can read twice per cycle (groups first, to know memberships, then users).
//!
//! Every format has the same reserved attributes (case-insensitive names):
//! - `objectId`: the object's immutable id in the source (required);
//! - `objectType`: `user` (the default) or `group`;
//! - `modified`: when the object last changed (RFC 3339), the watermark of incremental cycles;
//! - `members`: a group's members, as the `objectId`s of users or groups.
//!
//! Every other column or key is an attribute, readable by mappings as `[name]`. Empty values are
//! absent values (Entra does not flow nulls).

mod csv;
mod jsonl;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

pub use self::csv::CsvSource;
pub use self::jsonl::JsonlSource;
use crate::expr::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ObjectKind {
    User,
    Group,
}

impl ObjectKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Group => "group",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "" | "user" => Some(Self::User),
            "group" => Some(Self::Group),
            _ => None,
        }
    }

    /// The SCIM resource endpoint.
    pub fn endpoint(self) -> &'static str {
        match self {
            Self::User => "/Users",
            Self::Group => "/Groups",
        }
    }
}

/// One user or group as the source has it.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceObject {
    pub kind: ObjectKind,
    pub id: String,
    /// Lowercased attribute names; absent attributes are not in the map.
    pub attributes: BTreeMap<String, Value>,
    /// A group's members (source ids), in source order.
    pub members: Vec<String>,
    /// The `modified` value as written in the source.
    pub modified: Option<String>,
}

impl SourceObject {
    /// A hash of everything a mapping could read, to notice changes without a `modified` column.
    pub fn content_hash(&self) -> String {
        let mut h = Sha256::new();
        h.update(self.kind.as_str());
        h.update([0]);
        h.update(&self.id);
        for (k, v) in &self.attributes {
            h.update([1]);
            h.update(k);
            for item in v.items() {
                h.update([2]);
                h.update(item);
            }
        }
        let mut members = self.members.clone();
        members.sort();
        for m in &members {
            h.update([3]);
            h.update(m);
        }
        let digest = h.finalize();
        digest.iter().take(16).map(|b| format!("{b:02x}")).collect()
    }

    /// A readable name for logs: the first of userPrincipalName, displayName, mail, objectId.
    pub fn display_name(&self) -> String {
        ["userprincipalname", "displayname", "mail"]
            .iter()
            .find_map(|k| self.attributes.get(*k).and_then(|v| v.as_text()))
            .unwrap_or(&self.id)
            .to_owned()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("{path}: {detail}")]
    Open { path: String, detail: String },
    #[error("{path} line {line}: {detail}")]
    Record {
        path: String,
        line: u64,
        detail: String,
    },
}

pub type Objects = Box<dyn Iterator<Item = Result<SourceObject, SourceError>> + Send>;

/// A directory to provision from.
pub trait Source: Send + Sync {
    /// How the provisioning log names the source system, e.g. `CSV hr.csv`.
    fn describe(&self) -> String;
    /// A fresh stream over every object, read lazily.
    fn objects(&self) -> Result<Objects, SourceError>;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Csv,
    Jsonl,
}

impl Format {
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "csv" => Some(Self::Csv),
            "jsonl" | "ndjson" | "json" => Some(Self::Jsonl),
            _ => None,
        }
    }
}

/// Options of the file sources.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FileOptions {
    /// CSV columns holding several values, separated by `separator`.
    #[serde(default = "default_multi_valued")]
    pub multi_valued: Vec<String>,
    #[serde(default = "default_separator")]
    pub separator: String,
}

fn default_multi_valued() -> Vec<String> {
    vec![
        "members".into(),
        "proxyAddresses".into(),
        "appRoleAssignments".into(),
    ]
}

fn default_separator() -> String {
    ";".into()
}

impl Default for FileOptions {
    fn default() -> Self {
        Self {
            multi_valued: default_multi_valued(),
            separator: default_separator(),
        }
    }
}

/// The source a job names.
pub fn open(format: Format, path: &Path, options: &FileOptions) -> Box<dyn Source> {
    match format {
        Format::Csv => Box::new(CsvSource::new(PathBuf::from(path), options.clone())),
        Format::Jsonl => Box::new(JsonlSource::new(PathBuf::from(path))),
    }
}

/// Builds an object from reserved and ordinary attributes (shared by both formats).
pub(crate) fn object_from(
    mut attributes: BTreeMap<String, Value>,
    path: &Path,
    line: u64,
) -> Result<SourceObject, SourceError> {
    let bad = |detail: String| SourceError::Record {
        path: path.display().to_string(),
        line,
        detail,
    };
    let kind_text = attributes
        .remove("objecttype")
        .and_then(Value::into_text)
        .unwrap_or_default();
    let kind = ObjectKind::parse(&kind_text).ok_or_else(|| {
        bad(format!(
            "objectType {kind_text:?} is neither \"user\" nor \"group\""
        ))
    })?;
    let id = attributes
        .get("objectid")
        .and_then(Value::as_text)
        .map(str::to_owned)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| bad("objectId is missing".into()))?;
    let modified = attributes.remove("modified").and_then(Value::into_text);
    if let Some(m) = &modified
        && time::OffsetDateTime::parse(m, &time::format_description::well_known::Rfc3339).is_err()
    {
        return Err(bad(format!("modified {m:?} is not an RFC 3339 date-time")));
    }
    let members = attributes
        .get("members")
        .map(Value::items)
        .unwrap_or_default()
        .into_iter()
        .filter(|m| !m.is_empty())
        .collect();
    Ok(SourceObject {
        kind,
        id,
        attributes,
        members,
        modified,
    })
}
