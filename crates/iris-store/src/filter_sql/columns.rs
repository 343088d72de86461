//! Where filter leaves read from: the dedicated columns of a kind's row, and the decisions that
//! depend on them (which filters are point lookups, how a sort attribute is read).

use iris_scim::filter::{CompValue, CompareOp, Resolved, ResolvedAttr};
use iris_scim::schema::{AttrType, Attribute, ResourceKind};

use super::Operand;
use crate::dialect::{Backend, Dialect};
use crate::tables::KindTable;

pub(super) fn ordering_symbol(op: CompareOp) -> Option<&'static str> {
    Some(match op {
        CompareOp::Eq => "=",
        CompareOp::Gt => ">",
        CompareOp::Ge => ">=",
        CompareOp::Lt => "<",
        CompareOp::Le => "<=",
        _ => return None,
    })
}

pub(super) fn present(operand: &Operand) -> String {
    match operand {
        Operand::Text { expr, .. } => format!("({expr} IS NOT NULL AND {expr} <> '')"),
        Operand::BoolColumn(expr) | Operand::BoolJson(expr) | Operand::Number(expr) => {
            format!("{expr} IS NOT NULL")
        }
    }
}

/// The text to bind for a comparison: lowercased where the stored form is, normalised for
/// dateTime so that string order is time order.
pub(super) fn text_value(leaf: &Attribute, value: &CompValue, lowered: bool) -> Option<String> {
    let raw = match value {
        CompValue::Str(s) => s.clone(),
        CompValue::Num(n) => n.to_string(),
        CompValue::Bool(b) => b.to_string(),
        CompValue::Null => return None,
    };
    if leaf.ty == AttrType::DateTime {
        return iris_core::clock::normalize(&raw);
    }
    Some(if lowered { raw.to_lowercase() } else { raw })
}

/// Columns that mirror an attribute, so the hot filters are index lookups.
pub(super) fn row_column(target: ResourceKind, attr: &ResolvedAttr) -> Option<Operand> {
    if attr.schema.id != target.core_schema() {
        return None;
    }
    let alias = target.alias();
    let text = |column: &str, lowered: bool| {
        Some(Operand::Text {
            expr: format!("{alias}.{column}"),
            lowered,
        })
    };
    match (target, attr.attr.name, attr.sub.map(|s| s.name)) {
        (_, "id", None) => text("id", false),
        (_, "externalId", None) => text("external_id", false),
        (_, "displayName", None) => text("display_name_lower", true),
        (_, "meta", Some("created")) => text("created", false),
        (_, "meta", Some("lastModified")) => text("last_modified", false),
        (ResourceKind::User, "userName", None) => text("user_name_lower", true),
        (ResourceKind::User, "active", None) => {
            Some(Operand::BoolColumn(format!("{alias}.active")))
        }
        _ => None,
    }
}

/// Whether every element matching `filter` must have a `value` (so rows of the side table, which
/// exist only for elements with a value, can answer it).
pub(super) fn requires_value(filter: &Resolved) -> bool {
    match filter {
        Resolved::And(a, b) => requires_value(a) || requires_value(b),
        Resolved::Or(a, b) => requires_value(a) && requires_value(b),
        Resolved::Compare(attr, op, value) => {
            attr.sub.is_some_and(|s| s.name == "value")
                && *op != CompareOp::Ne
                && *value != CompValue::Null
        }
        Resolved::Present(attr) => attr.sub.is_some_and(|s| s.name == "value"),
        Resolved::Not(_) | Resolved::ValuePath(..) => false,
    }
}

pub(super) fn collect_subs<'a>(filter: &'a Resolved, out: &mut Vec<&'a str>) {
    match filter {
        Resolved::And(a, b) | Resolved::Or(a, b) => {
            collect_subs(a, out);
            collect_subs(b, out);
        }
        Resolved::Not(inner) | Resolved::ValuePath(_, inner) => collect_subs(inner, out),
        Resolved::Present(attr) | Resolved::Compare(attr, _, _) => {
            out.push(attr.sub.map_or("value", |s| s.name));
        }
    }
}

/// Whether `filter` pins the result to at most a few rows through a unique or near-unique index
/// (`id`, `userName`, a group's `displayName`, `externalId` compared with `eq`, alone or in an
/// `and`): Entra's matching queries. Such a list is answered by one statement that also counts.
pub fn is_point_lookup(target: ResourceKind, filter: &Resolved) -> bool {
    match filter {
        Resolved::And(a, b) => is_point_lookup(target, a) || is_point_lookup(target, b),
        Resolved::Compare(attr, CompareOp::Eq, CompValue::Str(_)) if attr.sub.is_none() => {
            attr.schema.id == target.core_schema()
                && matches!(
                    (target, attr.attr.name),
                    (_, "id" | "externalId")
                        | (ResourceKind::User, "userName")
                        | (ResourceKind::Group, "displayName")
                )
        }
        _ => false,
    }
}

/// The ORDER BY expression for a sort attribute (RFC 7644 §3.4.2.3); multi-valued attributes sort
/// by their first element.
pub fn sort_expression(backend: Backend, target: ResourceKind, attr: &ResolvedAttr) -> String {
    let collate = backend.collate_binary();
    match row_column(target, attr) {
        Some(Operand::Text { expr, .. }) => return format!("{expr}{collate}"),
        // Collations apply to text only.
        Some(Operand::BoolColumn(expr)) => return expr,
        _ => {}
    }
    let mut path: Vec<String> = attr.json_path().iter().map(|s| (*s).to_owned()).collect();
    if attr.attr.multi_valued {
        let top = path.len() - usize::from(attr.sub.is_some());
        path.insert(top, "0".to_owned());
    }
    let refs: Vec<&str> = path.iter().map(String::as_str).collect();
    let doc = format!("{}.search_doc", target.alias());
    format!("{}{collate}", backend.json_text(&doc, &refs))
}
