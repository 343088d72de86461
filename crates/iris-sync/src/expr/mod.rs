//! Entra's expression language for attribute mappings: parse once ([`Expression::parse`]),
//! evaluate per object against its source attributes ([`Expression::evaluate`]).
//!
//! Values are strings, multi-valued strings, or null (an absent attribute), as in Entra: booleans
//! are the strings `"True"` and `"False"`, numbers are decimal strings.

mod datetime;
mod diacritics;
pub mod functions;
pub mod parse;

use std::fmt;

pub use functions::Function;
pub use parse::{Comparison, Expr, ParseError};

#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(untagged)]
pub enum Value {
    Null,
    Str(String),
    Multi(Vec<String>),
}

impl Value {
    pub fn bool(b: bool) -> Self {
        Self::Str(if b { "True" } else { "False" }.to_owned())
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Self::Null)
    }

    /// Not null and not empty.
    pub fn is_present(&self) -> bool {
        match self {
            Self::Null => false,
            Self::Str(s) => !s.is_empty(),
            Self::Multi(v) => !v.is_empty(),
        }
    }

    /// `"True"`, any case (Entra's booleans are strings).
    pub fn is_true(&self) -> bool {
        matches!(self, Self::Str(s) if s.eq_ignore_ascii_case("true"))
    }

    /// The single string (the first of a multi-value), or `None` for null.
    pub fn into_text(self) -> Option<String> {
        match self {
            Self::Null => None,
            Self::Str(s) => Some(s),
            Self::Multi(v) => v.into_iter().next(),
        }
    }

    pub fn as_text(&self) -> Option<&str> {
        match self {
            Self::Null => None,
            Self::Str(s) => Some(s),
            Self::Multi(v) => v.first().map(String::as_str),
        }
    }

    /// Every string of the value (none for null).
    pub fn items(&self) -> Vec<String> {
        match self {
            Self::Null => vec![],
            Self::Str(s) => vec![s.clone()],
            Self::Multi(v) => v.clone(),
        }
    }

    pub fn as_int(&self) -> Option<i64> {
        self.as_text().and_then(|s| s.trim().parse().ok())
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Null => f.write_str("null"),
            Self::Str(s) => f.write_str(s),
            Self::Multi(v) => f.write_str(&v.join(", ")),
        }
    }
}

/// Where an expression reads `[attribute]` from. Names are matched case-insensitively.
pub trait Attributes {
    fn get(&self, name: &str) -> Value;
}

impl Attributes for std::collections::BTreeMap<String, Value> {
    fn get(&self, name: &str) -> Value {
        self.get(&name.to_lowercase())
            .or_else(|| std::collections::BTreeMap::get(self, name))
            .cloned()
            .unwrap_or(Value::Null)
    }
}

/// A parsed expression and the text it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Expression {
    text: String,
    expr: Expr,
}

impl Expression {
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        Ok(Self {
            text: text.to_owned(),
            expr: parse::parse(text)?,
        })
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn expr(&self) -> &Expr {
        &self.expr
    }

    /// The attributes it reads, lowercased.
    pub fn attributes(&self) -> Vec<String> {
        let mut out = Vec::new();
        self.expr.attributes(&mut out);
        out
    }

    pub fn evaluate(&self, attrs: &dyn Attributes) -> Value {
        eval(&self.expr, attrs)
    }
}

fn eval(expr: &Expr, attrs: &dyn Attributes) -> Value {
    match expr {
        Expr::Missing => Value::Null,
        Expr::Attribute(a) => attrs.get(a),
        Expr::Str(s) => Value::Str(s.clone()),
        Expr::Number(n) => Value::Str(n.to_string()),
        Expr::Compare { op, left, right } => {
            compare(*op, &eval(left, attrs), &eval(right, attrs)).map_or(Value::Null, Value::bool)
        }
        // IIF evaluates only the branch it returns.
        Expr::Call {
            function: Function::IIF,
            args,
        } => {
            if eval(&args[0], attrs).is_true() {
                eval(&args[1], attrs)
            } else {
                eval(&args[2], attrs)
            }
        }
        Expr::Call { function, args } => {
            let values: Vec<Value> = args.iter().map(|a| eval(a, attrs)).collect();
            functions::apply(*function, &values)
        }
    }
}

/// A comparison in IIF's condition. A null operand makes the condition fail (Entra: "If the
/// source attribute used within the IIF function is empty or null, the condition check fails").
fn compare(op: Comparison, left: &Value, right: &Value) -> Option<bool> {
    let (l, r) = (left.as_text()?, right.as_text()?);
    if l.is_empty() {
        return None;
    }
    let ordering = match (l.trim().parse::<f64>(), r.trim().parse::<f64>()) {
        (Ok(a), Ok(b)) => a.partial_cmp(&b)?,
        _ => l.cmp(r),
    };
    Some(match op {
        Comparison::Eq => l == r,
        Comparison::Ne => l != r,
        Comparison::Gt => ordering.is_gt(),
        Comparison::Ge => ordering.is_ge(),
        Comparison::Lt => ordering.is_lt(),
        Comparison::Le => ordering.is_le(),
    })
}

#[cfg(test)]
mod tests;
