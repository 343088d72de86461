//! A sync job's definition: where the directory is, which SCIM endpoint it provisions, how
//! attributes map, who is in scope, and how often and how hard it runs. Stored as JSON in
//! `sync_jobs.definition`; the mapping and scope files are kept as the text the operator wrote,
//! compiled again at every run so an error always names the line the operator can fix.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::mapping::{Dialect, Mapping, MappingSpec};
use crate::scope::{Scope, ScopeSpec};
use crate::source::{FileOptions, Format};
use crate::target::TargetLimits;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceConfig {
    pub path: PathBuf,
    pub format: Format,
    #[serde(default)]
    pub options: FileOptions,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetConfig {
    /// The Tenant URL; `?aadOptscim062020` selects the RFC PATCH dialect unless `dialect` says.
    pub url: String,
    /// The Secret Token. Stored in the database (the engine needs it to run), never printed.
    pub token: String,
    #[serde(default)]
    pub dialect: Option<Dialect>,
    #[serde(default)]
    pub limits: TargetLimits,
}

/// How a new object is matched against what the target already holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum MatchMode {
    /// Entra's way: query by each matching attribute before creating.
    #[default]
    Query,
    /// POST first and query only on `409 uniqueness`: one request per new object instead of two.
    /// Safe when the first matching attribute is unique in the target (e.g. `userName`).
    CreateFirst,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuarantinePolicy {
    /// The failed share of a cycle's requests above which the job is quarantined (Entra: 40 %).
    pub threshold: f64,
    /// How many requests a cycle must have made before the share counts (Entra: 5,000).
    pub min_events: u64,
}

impl Default for QuarantinePolicy {
    fn default() -> Self {
        Self {
            threshold: 0.4,
            min_events: 20,
        }
    }
}

fn default_interval() -> u64 {
    40
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobDefinition {
    pub source: SourceConfig,
    pub target: TargetConfig,
    /// The mapping file's text (TOML, or JSON when it starts with `{`); `None`: the default.
    #[serde(default)]
    pub mapping: Option<String>,
    /// The scope file's text; `None`: everything in scope.
    #[serde(default)]
    pub scope: Option<String>,
    /// Minutes between incremental cycles of `iris sync start`.
    #[serde(default = "default_interval")]
    pub interval_minutes: u64,
    /// Whether groups and memberships are provisioned.
    #[serde(default = "yes")]
    pub groups: bool,
    #[serde(default)]
    pub match_mode: MatchMode,
    #[serde(default)]
    pub quarantine: QuarantinePolicy,
}

/// A definition whose files compiled.
#[derive(Debug, Clone)]
pub struct CompiledJob {
    pub definition: JobDefinition,
    pub mapping: Mapping,
    pub scope: Scope,
    pub dialect: Dialect,
}

/// Reads a TOML or JSON configuration text.
pub fn parse_config<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, String> {
    if text.trim_start().starts_with('{') {
        serde_json::from_str(text).map_err(|e| e.to_string())
    } else {
        toml::from_str(text).map_err(|e| e.to_string())
    }
}

impl JobDefinition {
    pub fn compile(&self) -> Result<CompiledJob, String> {
        let mapping_spec: MappingSpec = match &self.mapping {
            Some(text) => parse_config(text).map_err(|e| format!("mapping file: {e}"))?,
            None => MappingSpec::default(),
        };
        let mapping = Mapping::compile(&mapping_spec).map_err(|e| format!("mapping file: {e}"))?;
        let scope_spec: ScopeSpec = match &self.scope {
            Some(text) => parse_config(text).map_err(|e| format!("scope file: {e}"))?,
            None => ScopeSpec::default(),
        };
        let scope = Scope::compile(&scope_spec).map_err(|e| format!("scope file: {e}"))?;
        if !(0.0..=1.0).contains(&self.quarantine.threshold) {
            return Err("quarantine threshold must be between 0 and 1".into());
        }
        let dialect = self
            .target
            .dialect
            .unwrap_or_else(|| Dialect::for_url(&self.target.url));
        Ok(CompiledJob {
            definition: self.clone(),
            mapping,
            scope,
            dialect,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn definition() -> JobDefinition {
        JobDefinition {
            source: SourceConfig {
                path: "hr.csv".into(),
                format: Format::Csv,
                options: FileOptions::default(),
            },
            target: TargetConfig {
                url: "http://127.0.0.1:8080/scim/v2/acme?aadOptscim062020".into(),
                token: "t".into(),
                dialect: None,
                limits: TargetLimits::default(),
            },
            mapping: None,
            scope: None,
            interval_minutes: 40,
            groups: true,
            match_mode: MatchMode::Query,
            quarantine: QuarantinePolicy::default(),
        }
    }

    #[test]
    fn the_flag_in_the_tenant_url_selects_the_rfc_dialect() {
        assert_eq!(definition().compile().unwrap().dialect, Dialect::Rfc);
    }

    #[test]
    fn mapping_and_scope_files_compile_from_toml_and_json() {
        let mut d = definition();
        d.mapping = Some(
            r#"
[[user]]
target = "userName"
source = "ToLower([userPrincipalName])"
matching = 1

[[user]]
target = "title"
source = "[jobTitle]"
apply = "on_create"
"#
            .into(),
        );
        d.scope = Some(
            r#"{"assigned_groups": ["g1"], "filter": [{"clauses": [{"attribute": "department", "operator": "EQUALS", "value": "Sales"}]}]}"#
                .into(),
        );
        let c = d.compile().unwrap();
        assert_eq!(c.mapping.users.attributes.len(), 2);
        assert!(c.scope.assignment_required());
    }

    #[test]
    fn a_bad_expression_in_the_mapping_file_names_the_mapping_and_column() {
        let mut d = definition();
        d.mapping = Some(
            "[[user]]\ntarget = \"userName\"\nsource = \"Lower([upn])\"\nmatching = 1\n".into(),
        );
        let err = d.compile().unwrap_err();
        assert_eq!(
            err,
            "mapping file: user[0] (target userName): source column 1: unknown function Lower (names are case-sensitive)"
        );
    }
}
