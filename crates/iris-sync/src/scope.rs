//! Who is provisioned: Entra's scoping filters (clauses on source attributes, AND within a
//! filter, OR across filters) and "sync only assigned users and groups" (a list of groups:
//! their direct members and the groups themselves are in scope).
//!
//! As in Entra, a clause on a null or empty attribute is false, except `IS NULL`.

use std::collections::HashSet;

use serde::Deserialize;

use crate::expr::Value;
use crate::source::SourceObject;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    Equals,
    NotEquals,
    IsTrue,
    IsFalse,
    IsNull,
    IsNotNull,
    RegexMatch,
    NotRegexMatch,
    GreaterThan,
    GreaterThanOrEquals,
    LessThan,
    LessThanOrEquals,
    Includes,
    EndsWith,
}

impl Operator {
    /// Entra's names, in any case, with spaces or underscores: `NOT EQUALS`, `Greater_Than`…
    pub fn parse(s: &str) -> Option<Self> {
        let norm: String = s
            .trim()
            .to_ascii_uppercase()
            .chars()
            .map(|c| if c == '_' { ' ' } else { c })
            .collect();
        Some(match norm.as_str() {
            "EQUALS" => Self::Equals,
            "NOT EQUALS" => Self::NotEquals,
            "IS TRUE" => Self::IsTrue,
            "IS FALSE" => Self::IsFalse,
            "IS NULL" => Self::IsNull,
            "IS NOT NULL" => Self::IsNotNull,
            "REGEX MATCH" => Self::RegexMatch,
            "NOT REGEX MATCH" => Self::NotRegexMatch,
            "GREATER THAN" => Self::GreaterThan,
            "GREATER THAN OR EQUALS" => Self::GreaterThanOrEquals,
            "LESS THAN" => Self::LessThan,
            "LESS THAN OR EQUALS" => Self::LessThanOrEquals,
            "INCLUDES" => Self::Includes,
            "ENDS WITH" => Self::EndsWith,
            _ => return None,
        })
    }

    fn needs_value(self) -> bool {
        !matches!(
            self,
            Self::IsTrue | Self::IsFalse | Self::IsNull | Self::IsNotNull
        )
    }
}

/// A clause as written in the scope file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClauseSpec {
    pub attribute: String,
    pub operator: String,
    #[serde(default)]
    pub value: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilterSpec {
    #[serde(default)]
    pub title: Option<String>,
    pub clauses: Vec<ClauseSpec>,
}

/// The scope file: `assigned_groups`, `[[filter]]` for users, `[[group_filter]]` for groups.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScopeSpec {
    /// "Sync only assigned users and groups": the source ids of the assigned groups.
    #[serde(default)]
    pub assigned_groups: Option<Vec<String>>,
    #[serde(default, rename = "filter")]
    pub filters: Vec<FilterSpec>,
    #[serde(default, rename = "group_filter")]
    pub group_filters: Vec<FilterSpec>,
}

#[derive(Debug, Clone)]
pub struct Clause {
    attribute: String,
    operator: Operator,
    value: String,
    regex: Option<regex::Regex>,
    number: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct Filter {
    pub title: String,
    clauses: Vec<Clause>,
}

#[derive(Debug, Clone, Default)]
pub struct Scope {
    assigned_groups: Option<HashSet<String>>,
    user_filters: Vec<Filter>,
    group_filters: Vec<Filter>,
}

#[derive(Debug, thiserror::Error)]
#[error("{location}: {detail}")]
pub struct ScopeError {
    pub location: String,
    pub detail: String,
}

fn compile(filters: &[FilterSpec], section: &str) -> Result<Vec<Filter>, ScopeError> {
    let mut out = Vec::new();
    for (i, f) in filters.iter().enumerate() {
        let title = f
            .title
            .clone()
            .unwrap_or_else(|| format!("{section} {}", i + 1));
        let mut clauses = Vec::new();
        for (j, c) in f.clauses.iter().enumerate() {
            let err = |detail: String| ScopeError {
                location: format!("{section}[{i}].clauses[{j}] ({})", c.attribute),
                detail,
            };
            let operator = Operator::parse(&c.operator)
                .ok_or_else(|| err(format!("unknown operator {:?}", c.operator)))?;
            let value = c.value.clone().unwrap_or_default();
            if operator.needs_value() && c.value.is_none() {
                return Err(err(format!("operator {:?} needs a value", c.operator)));
            }
            let regex = match operator {
                Operator::RegexMatch | Operator::NotRegexMatch => {
                    Some(regex::Regex::new(&value).map_err(|e| err(format!("bad regex: {e}")))?)
                }
                _ => None,
            };
            let number = match operator {
                Operator::GreaterThan
                | Operator::GreaterThanOrEquals
                | Operator::LessThan
                | Operator::LessThanOrEquals => Some(value.trim().parse().map_err(|_| {
                    err(format!(
                        "{:?} needs an integer value, not {value:?}",
                        c.operator
                    ))
                })?),
                _ => None,
            };
            clauses.push(Clause {
                attribute: c.attribute.to_lowercase(),
                operator,
                value,
                regex,
                number,
            });
        }
        out.push(Filter { title, clauses });
    }
    Ok(out)
}

impl Clause {
    fn matches(&self, object: &SourceObject) -> bool {
        let value = object
            .attributes
            .get(&self.attribute)
            .cloned()
            .unwrap_or(Value::Null);
        let text = value.as_text().unwrap_or_default();
        if self.operator == Operator::IsNull {
            return text.is_empty();
        }
        if text.is_empty() {
            return false;
        }
        let int = || text.trim().parse::<i64>().ok();
        match self.operator {
            Operator::Equals => text == self.value,
            Operator::NotEquals => text != self.value,
            Operator::IsTrue => text.eq_ignore_ascii_case("true"),
            Operator::IsFalse => text.eq_ignore_ascii_case("false"),
            Operator::IsNotNull => true,
            Operator::IsNull => false,
            Operator::RegexMatch => self.regex.as_ref().is_some_and(|r| r.is_match(text)),
            Operator::NotRegexMatch => self.regex.as_ref().is_some_and(|r| !r.is_match(text)),
            Operator::GreaterThan => int().zip(self.number).is_some_and(|(a, b)| a > b),
            Operator::GreaterThanOrEquals => int().zip(self.number).is_some_and(|(a, b)| a >= b),
            Operator::LessThan => int().zip(self.number).is_some_and(|(a, b)| a < b),
            Operator::LessThanOrEquals => int().zip(self.number).is_some_and(|(a, b)| a <= b),
            Operator::Includes => text.contains(self.value.as_str()),
            Operator::EndsWith => text.ends_with(self.value.as_str()),
        }
    }
}

fn passes(filters: &[Filter], object: &SourceObject) -> bool {
    filters.is_empty()
        || filters
            .iter()
            .any(|f| f.clauses.iter().all(|c| c.matches(object)))
}

impl Scope {
    pub fn compile(spec: &ScopeSpec) -> Result<Self, ScopeError> {
        Ok(Self {
            assigned_groups: spec
                .assigned_groups
                .as_ref()
                .map(|g| g.iter().cloned().collect()),
            user_filters: compile(&spec.filters, "filter")?,
            group_filters: compile(&spec.group_filters, "group_filter")?,
        })
    }

    /// Whether only assigned users and groups are in scope.
    pub fn assignment_required(&self) -> bool {
        self.assigned_groups.is_some()
    }

    pub fn is_assigned_group(&self, id: &str) -> bool {
        self.assigned_groups.as_ref().is_none_or(|g| g.contains(id))
    }

    /// A user is in scope when assigned (a direct member of an assigned group, when assignment
    /// is required) and it passes the filters. `memberships` are the user's groups.
    pub fn user_in_scope<'a>(
        &self,
        user: &SourceObject,
        mut memberships: impl Iterator<Item = &'a String>,
    ) -> bool {
        let assigned = match &self.assigned_groups {
            None => true,
            Some(groups) => memberships.any(|g| groups.contains(g)),
        };
        assigned && passes(&self.user_filters, user)
    }

    pub fn group_in_scope(&self, group: &SourceObject) -> bool {
        self.is_assigned_group(&group.id) && passes(&self.group_filters, group)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::source::ObjectKind;

    fn user(attrs: &[(&str, &str)]) -> SourceObject {
        SourceObject {
            kind: ObjectKind::User,
            id: "u1".into(),
            attributes: attrs
                .iter()
                .map(|(k, v)| (k.to_lowercase(), Value::Str((*v).into())))
                .collect::<BTreeMap<_, _>>(),
            members: vec![],
            modified: None,
        }
    }

    fn clause(attribute: &str, operator: &str, value: Option<&str>) -> ClauseSpec {
        ClauseSpec {
            attribute: attribute.into(),
            operator: operator.into(),
            value: value.map(str::to_owned),
        }
    }

    fn scope(filters: Vec<Vec<ClauseSpec>>) -> Scope {
        Scope::compile(&ScopeSpec {
            assigned_groups: None,
            filters: filters
                .into_iter()
                .map(|clauses| FilterSpec {
                    title: None,
                    clauses,
                })
                .collect(),
            group_filters: vec![],
        })
        .unwrap()
    }

    #[test]
    fn each_operator_behaves_as_entra_documents() {
        let u = user(&[
            ("state", "New York"),
            ("department", "Engineering"),
            ("employeeId", "1500000"),
            ("isManager", "True"),
            ("contractor", "false"),
            ("userPrincipalName", "ann@contoso.com"),
        ]);
        let cases = [
            (clause("state", "EQUALS", Some("New York")), true),
            (clause("state", "EQUALS", Some("new york")), false),
            (clause("state", "NOT EQUALS", Some("Ohio")), true),
            (clause("missing", "NOT EQUALS", Some("Ohio")), false),
            (clause("isManager", "IS TRUE", None), true),
            (clause("contractor", "IS FALSE", None), true),
            (clause("contractor", "IS TRUE", None), false),
            (clause("title", "IS NULL", None), true),
            (clause("title", "IS NOT NULL", None), false),
            (clause("state", "IS NOT NULL", None), true),
            (
                clause("userPrincipalName", "REGEX MATCH", Some(r".*@contoso\.com")),
                true,
            ),
            (
                clause(
                    "userPrincipalName",
                    "NOT REGEX MATCH",
                    Some(r".*@contoso\.com"),
                ),
                false,
            ),
            (clause("missing", "NOT REGEX MATCH", Some("x")), false),
            (clause("employeeId", "Greater_Than", Some("1000000")), true),
            (clause("employeeId", "LESS_THAN", Some("2000000")), true),
            (clause("employeeId", "GREATER_THAN", Some("1500000")), false),
            (
                clause("employeeId", "GREATER_THAN_OR_EQUALS", Some("1500000")),
                true,
            ),
            (clause("department", "INCLUDES", Some("gineer")), true),
            (clause("department", "Includes", Some("GINEER")), false),
            (
                clause("userPrincipalName", "ENDS_WITH", Some("contoso.com")),
                true,
            ),
        ];
        for (c, expected) in cases {
            let text = format!("{} {} {:?}", c.attribute, c.operator, c.value);
            assert_eq!(
                scope(vec![vec![c]]).user_in_scope(&u, [].iter()),
                expected,
                "{text}"
            );
        }
    }

    #[test]
    fn clauses_and_within_a_filter_and_filters_or() {
        let ny_eng = vec![
            clause("state", "EQUALS", Some("New York")),
            clause("department", "EQUALS", Some("Engineering")),
        ];
        let sales = vec![clause("department", "EQUALS", Some("Sales"))];
        let s = scope(vec![ny_eng, sales]);
        assert!(s.user_in_scope(
            &user(&[("state", "New York"), ("department", "Engineering")]),
            [].iter()
        ));
        assert!(!s.user_in_scope(
            &user(&[("state", "Ohio"), ("department", "Engineering")]),
            [].iter()
        ));
        assert!(s.user_in_scope(
            &user(&[("state", "Ohio"), ("department", "Sales")]),
            [].iter()
        ));
        assert!(scope(vec![]).user_in_scope(&user(&[]), [].iter()));
    }

    #[test]
    fn assignment_puts_members_of_assigned_groups_in_scope() {
        let s = Scope::compile(&ScopeSpec {
            assigned_groups: Some(vec!["g-app".into()]),
            ..ScopeSpec::default()
        })
        .unwrap();
        let u = user(&[]);
        let member = ["g-other".to_owned(), "g-app".to_owned()];
        assert!(s.user_in_scope(&u, member.iter()));
        assert!(!s.user_in_scope(&u, member[..1].iter()));
        assert!(s.is_assigned_group("g-app"));
        assert!(!s.is_assigned_group("g-other"));
    }

    #[test]
    fn bad_clauses_are_refused_with_their_location() {
        let bad = [
            (clause("a", "LIKE", Some("x")), "unknown operator"),
            (clause("a", "EQUALS", None), "needs a value"),
            (clause("a", "REGEX MATCH", Some("(")), "bad regex"),
            (clause("a", "GREATER_THAN", Some("ten")), "integer"),
        ];
        for (c, message) in bad {
            let spec = ScopeSpec {
                filters: vec![FilterSpec {
                    title: None,
                    clauses: vec![clause("ok", "IS NULL", None), c],
                }],
                ..ScopeSpec::default()
            };
            let err = Scope::compile(&spec).unwrap_err().to_string();
            assert!(err.contains("filter[0].clauses[1] (a)"), "{err}");
            assert!(err.contains(message), "{err}");
        }
    }
}
