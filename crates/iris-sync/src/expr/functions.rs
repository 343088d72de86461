//! The functions of the expression language: names, arities, and what each computes.

use super::Value;
use super::datetime;
use super::parse::Expr;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    Append,
    Coalesce,
    FormatDateTime,
    IIF,
    IsNull,
    IsNullOrEmpty,
    IsPresent,
    Join,
    Left,
    Mid,
    NormalizeDiacritics,
    Not,
    Replace,
    SingleAppRoleAssignment,
    Split,
    StripSpaces,
    Switch,
    ToLower,
    ToUpper,
    Trim,
}

const ALL: [(Function, &str); 20] = [
    (Function::Append, "Append"),
    (Function::Coalesce, "Coalesce"),
    (Function::FormatDateTime, "FormatDateTime"),
    (Function::IIF, "IIF"),
    (Function::IsNull, "IsNull"),
    (Function::IsNullOrEmpty, "IsNullOrEmpty"),
    (Function::IsPresent, "IsPresent"),
    (Function::Join, "Join"),
    (Function::Left, "Left"),
    (Function::Mid, "Mid"),
    (Function::NormalizeDiacritics, "NormalizeDiacritics"),
    (Function::Not, "Not"),
    (Function::Replace, "Replace"),
    (Function::SingleAppRoleAssignment, "SingleAppRoleAssignment"),
    (Function::Split, "Split"),
    (Function::StripSpaces, "StripSpaces"),
    (Function::Switch, "Switch"),
    (Function::ToLower, "ToLower"),
    (Function::ToUpper, "ToUpper"),
    (Function::Trim, "Trim"),
];

impl Function {
    /// Names are case-sensitive, as in Entra ("The syntax is case-sensitive").
    pub fn from_name(name: &str) -> Option<Self> {
        ALL.iter().find(|(_, n)| *n == name).map(|(f, _)| *f)
    }

    pub fn name(self) -> &'static str {
        ALL.iter().find(|(f, _)| *f == self).map_or("?", |(_, n)| n)
    }

    /// Smallest and largest number of arguments (`None`: any number).
    pub fn arity(self) -> (usize, Option<usize>) {
        match self {
            Self::Append => (2, Some(2)),
            Self::Coalesce => (1, None),
            Self::FormatDateTime => (4, Some(4)),
            Self::IIF => (3, Some(3)),
            Self::IsNull
            | Self::IsNullOrEmpty
            | Self::IsPresent
            | Self::Not
            | Self::NormalizeDiacritics
            | Self::SingleAppRoleAssignment
            | Self::StripSpaces
            | Self::Trim => (1, Some(1)),
            Self::Join => (2, None),
            Self::Left => (2, Some(2)),
            Self::Mid => (3, Some(3)),
            Self::Replace => (7, Some(7)),
            Self::Split => (2, Some(2)),
            Self::Switch => (4, None),
            Self::ToLower | Self::ToUpper => (1, Some(2)),
        }
    }

    /// Checks that need more than a count; the message is shown with the function's column.
    pub fn check_args(self, args: &[Expr]) -> Result<(), String> {
        match self {
            Self::Switch if !args.len().is_multiple_of(2) => Err(format!(
                "Switch takes a source, a default and key/value pairs; with {} arguments a key has no value",
                args.len()
            )),
            Self::Replace => {
                if let Some(Expr::Str(pattern)) = args.get(2) {
                    regex::Regex::new(pattern)
                        .map_err(|e| format!("Replace: regexPattern is not a valid regex: {e}"))?;
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

/// Applies `function` to evaluated arguments.
pub fn apply(function: Function, args: &[Value]) -> Value {
    let arg = |i: usize| args.get(i).cloned().unwrap_or(Value::Null);
    let text = |i: usize| arg(i).into_text();
    match function {
        Function::Append => match (text(0), text(1)) {
            (None, None) => Value::Null,
            (a, b) => Value::Str(a.unwrap_or_default() + &b.unwrap_or_default()),
        },
        Function::Coalesce => args
            .iter()
            .find(|v| !v.is_null())
            .cloned()
            .unwrap_or(Value::Null),
        Function::FormatDateTime => match (text(0), text(2), text(3)) {
            (Some(source), Some(input), Some(output)) => {
                datetime::reformat(&source, &input, &output).map_or(Value::Null, Value::Str)
            }
            _ => Value::Null,
        },
        // IIF is evaluated lazily by the evaluator; reaching here means a plain value condition.
        Function::IIF => {
            if arg(0).is_true() {
                arg(1)
            } else {
                arg(2)
            }
        }
        Function::IsNull => Value::bool(arg(0).is_null()),
        Function::IsNullOrEmpty => Value::bool(!arg(0).is_present()),
        Function::IsPresent => Value::bool(arg(0).is_present()),
        Function::Join => {
            let separator = text(0).unwrap_or_default();
            let parts: Vec<String> = args[1..]
                .iter()
                .flat_map(Value::items)
                .filter(|s| !s.is_empty())
                .collect();
            if parts.is_empty() && args[1..].iter().all(Value::is_null) {
                Value::Null
            } else {
                Value::Str(parts.join(&separator))
            }
        }
        Function::Left => {
            let s = text(0).unwrap_or_default();
            match arg(1).as_int() {
                Some(n) if n < 0 => Value::Str(s),
                Some(n) => Value::Str(s.chars().take(n as usize).collect()),
                None => Value::Null,
            }
        }
        Function::Mid => match (text(0), arg(1).as_int(), arg(2).as_int()) {
            (Some(s), Some(start), Some(len)) if start >= 1 && len >= 0 => Value::Str(
                s.chars()
                    .skip(start as usize - 1)
                    .take(len as usize)
                    .collect(),
            ),
            (None, ..) => Value::Null,
            _ => Value::Str(String::new()),
        },
        Function::NormalizeDiacritics => text(0).map_or(Value::Null, |s| {
            Value::Str(super::diacritics::normalize(&s))
        }),
        Function::Not => Value::bool(!arg(0).is_true()),
        Function::Replace => replace(args),
        Function::SingleAppRoleAssignment => match arg(0) {
            Value::Multi(v) => v.into_iter().next().map_or(Value::Null, Value::Str),
            other => other,
        },
        Function::Split => match (text(0), text(1)) {
            (Some(s), Some(d)) if !d.is_empty() => {
                Value::Multi(s.split(d.as_str()).map(|p| p.trim().to_owned()).collect())
            }
            (s, _) => s.map_or(Value::Null, |s| Value::Multi(vec![s])),
        },
        Function::StripSpaces => text(0).map_or(Value::Null, |s| Value::Str(s.replace(' ', ""))),
        Function::Switch => {
            let source = text(0).unwrap_or_default();
            let mut i = 2;
            while i + 1 < args.len() {
                if args[i].clone().into_text().unwrap_or_default() == source {
                    return args[i + 1].clone();
                }
                i += 2;
            }
            arg(1)
        }
        Function::ToLower => text(0).map_or(Value::Null, |s| Value::Str(s.to_lowercase())),
        Function::ToUpper => text(0).map_or(Value::Null, |s| Value::Str(s.to_uppercase())),
        Function::Trim => text(0).map_or(Value::Null, |s| Value::Str(s.trim().to_owned())),
    }
}

/// `Replace(source, oldValue, regexPattern, regexGroupName, replacementValue,
/// replacementAttributeName, template)` in the five forms Microsoft documents.
fn replace(args: &[Value]) -> Value {
    let text = |i: usize| args.get(i).cloned().and_then(Value::into_text);
    let source = text(0);
    let (old, pattern, group, replacement, attribute, template) =
        (text(1), text(2), text(3), text(4), text(5), text(6));
    if let (Some(old), Some(template)) = (&old, &template) {
        return Value::Str(template.replace(old.as_str(), &source.unwrap_or_default()));
    }
    if let (Some(old), Some(new)) = (&old, &replacement) {
        return source.map_or(Value::Null, |s| {
            if old.is_empty() {
                Value::Str(s)
            } else {
                Value::Str(s.replace(old.as_str(), new))
            }
        });
    }
    let Some(pattern) = pattern else {
        return source.map_or(Value::Null, Value::Str);
    };
    let Ok(re) = regex::Regex::new(&pattern) else {
        return source.map_or(Value::Null, Value::Str);
    };
    if let (Some(group), None) = (&group, &replacement) {
        // The attribute form: the source if it has a value, else the group taken from the
        // other attribute.
        if let Some(s) = source.filter(|s| !s.is_empty()) {
            return Value::Str(s);
        }
        let other = attribute.unwrap_or_default();
        return re
            .captures(&other)
            .and_then(|c| c.name(group).map(|m| m.as_str().to_owned()))
            .map_or(Value::Null, Value::Str);
    }
    let Some(source) = source else {
        return Value::Null;
    };
    let replacement = replacement.unwrap_or_default();
    match group {
        None => {
            // .NET and the regex crate both write a named group as ${name}.
            Value::Str(re.replace_all(&source, replacement.as_str()).into_owned())
        }
        Some(group) => {
            let mut out = String::new();
            let mut last = 0;
            for caps in re.captures_iter(&source) {
                if let Some(m) = caps.name(&group) {
                    out.push_str(&source[last..m.start()]);
                    out.push_str(&replacement);
                    last = m.end();
                }
            }
            out.push_str(&source[last..]);
            Value::Str(out)
        }
    }
}
