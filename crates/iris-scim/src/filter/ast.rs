//! The raw filter and PATCH-path AST, exactly as the client wrote it (names are not yet checked
//! against any schema; see `resolve`).
//!
//! `Display` renders the canonical form: lower-case operators, JSON-encoded strings, single spaces
//! and only the parentheses the precedence rules need. Parsing the rendered text gives back an
//! equal AST, so the canonical form is safe to log, to put into `Location`-style links and to use
//! as a cache key.

use std::fmt;

/// An attribute reference: `[urn ":"] attr ["." sub]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttrPath {
    /// The schema URN prefix, without the `:` that separates it from `attr`.
    pub urn: Option<String>,
    pub attr: String,
    pub sub: Option<String>,
}

impl AttrPath {
    /// A bare attribute name: no URN, no sub-attribute.
    pub fn name(attr: impl Into<String>) -> Self {
        Self {
            urn: None,
            attr: attr.into(),
            sub: None,
        }
    }

    /// `attr.sub`, without URN.
    pub fn sub(attr: impl Into<String>, sub: impl Into<String>) -> Self {
        Self {
            urn: None,
            attr: attr.into(),
            sub: Some(sub.into()),
        }
    }
}

impl fmt::Display for AttrPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(urn) = &self.urn {
            write!(f, "{urn}:")?;
        }
        f.write_str(&self.attr)?;
        if let Some(sub) = &self.sub {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}

/// The attribute operators of RFC 7644 Table 3 (`pr` is [`Filter::Present`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CompareOp {
    Eq,
    Ne,
    Co,
    Sw,
    Ew,
    Gt,
    Ge,
    Lt,
    Le,
}

impl CompareOp {
    pub const ALL: [CompareOp; 9] = [
        Self::Eq,
        Self::Ne,
        Self::Co,
        Self::Sw,
        Self::Ew,
        Self::Gt,
        Self::Ge,
        Self::Lt,
        Self::Le,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Eq => "eq",
            Self::Ne => "ne",
            Self::Co => "co",
            Self::Sw => "sw",
            Self::Ew => "ew",
            Self::Gt => "gt",
            Self::Ge => "ge",
            Self::Lt => "lt",
            Self::Le => "le",
        }
    }

    /// Parses an operator keyword, case-insensitively (RFC 7644 §3.4.2.2).
    pub fn from_keyword(word: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|op| op.as_str().eq_ignore_ascii_case(word))
    }

    /// `gt`, `ge`, `lt`, `le`.
    pub fn is_ordering(self) -> bool {
        matches!(self, Self::Gt | Self::Ge | Self::Lt | Self::Le)
    }

    /// `co`, `sw`, `ew`.
    pub fn is_substring(self) -> bool {
        matches!(self, Self::Co | Self::Sw | Self::Ew)
    }
}

impl fmt::Display for CompareOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A comparison literal (RFC 7644 `compValue`).
#[derive(Debug, Clone, PartialEq)]
pub enum CompValue {
    Str(String),
    Num(serde_json::Number),
    Bool(bool),
    Null,
}

impl fmt::Display for CompValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // Serialising a `str` cannot fail; the fallback only keeps this path panic-free.
            Self::Str(s) => match serde_json::to_string(s) {
                Ok(json) => f.write_str(&json),
                Err(_) => Err(fmt::Error),
            },
            Self::Num(n) => write!(f, "{n}"),
            Self::Bool(b) => write!(f, "{b}"),
            Self::Null => f.write_str("null"),
        }
    }
}

/// A filter expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// `attrPath pr`
    Present(AttrPath),
    /// `attrPath op value`
    Compare(AttrPath, CompareOp, CompValue),
    /// `attr[filter]`: one element of `attr` must satisfy the whole inner filter. The path has no
    /// `sub`; paths inside the inner filter are relative to the element (`AttrPath { attr: sub-
    /// attribute name, urn: None, sub: None }`).
    ValuePath(AttrPath, Box<Filter>),
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
}

impl Filter {
    pub fn and(left: Filter, right: Filter) -> Self {
        Self::And(Box::new(left), Box::new(right))
    }

    pub fn or(left: Filter, right: Filter) -> Self {
        Self::Or(Box::new(left), Box::new(right))
    }

    #[allow(clippy::should_implement_trait)] // a constructor, not a `!` operator on filters
    pub fn not(inner: Filter) -> Self {
        Self::Not(Box::new(inner))
    }

    pub fn value_path(attr: AttrPath, inner: Filter) -> Self {
        Self::ValuePath(attr, Box::new(inner))
    }
}

/// Writes `operand`, parenthesised when `wrap`.
fn write_operand(f: &mut fmt::Formatter<'_>, operand: &Filter, wrap: bool) -> fmt::Result {
    if wrap {
        write!(f, "({operand})")
    } else {
        write!(f, "{operand}")
    }
}

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The parser builds left-associative chains and `and` binds tighter than `or`, so a left
        // operand needs parentheses only when it binds looser than its parent, and a right operand
        // also when it binds equally (otherwise re-parsing would re-associate it to the left).
        match self {
            Self::Present(path) => write!(f, "{path} pr"),
            Self::Compare(path, op, value) => write!(f, "{path} {op} {value}"),
            Self::ValuePath(path, inner) => write!(f, "{path}[{inner}]"),
            Self::Not(inner) => write!(f, "not ({inner})"),
            Self::And(left, right) => {
                write_operand(f, left, matches!(**left, Self::Or(..)))?;
                f.write_str(" and ")?;
                write_operand(f, right, matches!(**right, Self::Or(..) | Self::And(..)))
            }
            Self::Or(left, right) => {
                write_operand(f, left, false)?;
                f.write_str(" or ")?;
                write_operand(f, right, matches!(**right, Self::Or(..)))
            }
        }
    }
}

/// A PATCH operation path (RFC 7644 §3.5.2): `attrPath` or `valuePath ["." subAttr]`.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchPath {
    /// The target attribute. Its `sub` is set only for the plain `attr.sub` form; with a filter,
    /// the sub-attribute is in [`PatchPath::sub`].
    pub attr: AttrPath,
    /// The value filter of `attr[filter]`; paths inside are relative to the element.
    pub filter: Option<Filter>,
    /// The sub-attribute after `attr[filter]`.
    pub sub: Option<String>,
}

impl fmt::Display for PatchPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.attr)?;
        if let Some(filter) = &self.filter {
            write!(f, "[{filter}]")?;
        }
        if let Some(sub) = &self.sub {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmp(attr: &str, op: CompareOp, value: CompValue) -> Filter {
        Filter::Compare(AttrPath::name(attr), op, value)
    }

    #[test]
    fn display_parenthesises_only_where_precedence_needs_it() {
        let a = cmp("a", CompareOp::Eq, CompValue::Num(1.into()));
        let b = cmp("b", CompareOp::Eq, CompValue::Num(2.into()));
        let c = cmp("c", CompareOp::Eq, CompValue::Num(3.into()));
        let or_then_and = Filter::and(Filter::or(a.clone(), b.clone()), c.clone());
        assert_eq!(or_then_and.to_string(), "(a eq 1 or b eq 2) and c eq 3");
        let and_in_or = Filter::or(a.clone(), Filter::and(b.clone(), c.clone()));
        assert_eq!(and_in_or.to_string(), "a eq 1 or b eq 2 and c eq 3");
        let right_nested = Filter::and(a.clone(), Filter::and(b, c));
        assert_eq!(right_nested.to_string(), "a eq 1 and (b eq 2 and c eq 3)");
        assert_eq!(Filter::not(a).to_string(), "not (a eq 1)");
    }

    #[test]
    fn display_encodes_strings_as_json() {
        let f = cmp("a", CompareOp::Co, CompValue::Str("say \"hi\"\\\n".into()));
        assert_eq!(f.to_string(), r#"a co "say \"hi\"\\\n""#);
    }

    #[test]
    fn patch_path_display() {
        let path = PatchPath {
            attr: AttrPath::name("emails"),
            filter: Some(cmp("type", CompareOp::Eq, CompValue::Str("work".into()))),
            sub: Some("value".into()),
        };
        assert_eq!(path.to_string(), r#"emails[type eq "work"].value"#);
        let urn = PatchPath {
            attr: AttrPath {
                urn: Some(crate::schema::ENTERPRISE_USER.into()),
                attr: "manager".into(),
                sub: Some("value".into()),
            },
            filter: None,
            sub: None,
        };
        assert_eq!(
            urn.to_string(),
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value"
        );
    }
}
