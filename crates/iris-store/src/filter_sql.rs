//! Compiles a resolved SCIM filter into a SQL condition over the `users` table (alias `u`).
//!
//! The compiler emits only bind placeholders for values and only schema-derived identifiers, never
//! client text. Semantics follow `iris_scim::filter::eval` exactly (the in-memory evaluator):
//! every leaf is two-valued (`COALESCE(leaf, FALSE)`), so `not` over a missing attribute is true;
//! `ne` is `not eq`; `eq null` means "not present". Strings of case-insensitive attributes are
//! compared in the lowercased form the shadow columns and `search_doc` hold.

use iris_scim::filter::{CompValue, CompareOp, Resolved, ResolvedAttr};
use iris_scim::schema::{AttrType, Attribute};

use crate::dialect::{Backend, Dialect};

/// A value bound to a placeholder.
#[derive(Debug, Clone, PartialEq)]
pub enum Bind {
    Text(String),
    Int(i64),
    Float(f64),
    Bool(bool),
}

/// Multi-valued attributes whose `value`/`type`/`primary` are mirrored in `user_values`.
const SIDE_TABLE_ATTRIBUTES: [&str; 2] = ["emails", "phoneNumbers"];

/// Where a leaf is evaluated: on the user row, on one JSON element of a multi-valued attribute,
/// or on one `user_values` row.
#[derive(Clone)]
enum Scope {
    Row,
    Element(String),
    SideRow(String),
}

/// How a leaf's SQL expression reads.
enum Operand {
    /// Text; `lowered` when the stored form is lowercased (case-insensitive attribute).
    Text {
        expr: String,
        lowered: bool,
    },
    /// A SQL boolean column.
    BoolColumn(String),
    /// The JSON type name ('true'/'false') of a JSON boolean.
    BoolJson(String),
    Number(String),
}

pub struct Compiler {
    backend: Backend,
    pub binds: Vec<Bind>,
    first_param: usize,
    aliases: usize,
}

impl Compiler {
    /// `first_param` is the number of the first placeholder this compiler may use.
    pub fn new(backend: Backend, first_param: usize) -> Self {
        Self {
            backend,
            binds: Vec::new(),
            first_param,
            aliases: 0,
        }
    }

    fn param(&mut self, bind: Bind) -> String {
        self.binds.push(bind);
        format!("${}", self.first_param + self.binds.len() - 1)
    }

    fn alias(&mut self, prefix: &str) -> String {
        self.aliases += 1;
        format!("{prefix}{}", self.aliases)
    }

    /// The SQL condition for `filter` on the row `u`.
    pub fn condition(&mut self, filter: &Resolved) -> String {
        self.compile(filter, &Scope::Row)
    }

    fn compile(&mut self, filter: &Resolved, scope: &Scope) -> String {
        match filter {
            Resolved::And(a, b) => {
                format!(
                    "({} AND {})",
                    self.compile(a, scope),
                    self.compile(b, scope)
                )
            }
            Resolved::Or(a, b) => {
                format!("({} OR {})", self.compile(a, scope), self.compile(b, scope))
            }
            Resolved::Not(inner) => format!("(NOT {})", self.compile(inner, scope)),
            Resolved::Present(attr) => self.two_valued(|c| c.leaf(attr, None, scope)),
            Resolved::Compare(attr, op, value) => self.compare(attr, *op, value, scope),
            Resolved::ValuePath(attr, inner) => self.value_path(attr, inner),
        }
    }

    fn two_valued(&mut self, leaf: impl FnOnce(&mut Self) -> String) -> String {
        format!("COALESCE({}, FALSE)", leaf(self))
    }

    fn compare(
        &mut self,
        attr: &ResolvedAttr,
        op: CompareOp,
        value: &CompValue,
        scope: &Scope,
    ) -> String {
        match (op, value) {
            (CompareOp::Eq, CompValue::Null) => {
                format!("(NOT {})", self.two_valued(|c| c.leaf(attr, None, scope)))
            }
            (CompareOp::Ne, CompValue::Null) => self.two_valued(|c| c.leaf(attr, None, scope)),
            (CompareOp::Ne, _) => {
                let eq = self.two_valued(|c| c.leaf(attr, Some((CompareOp::Eq, value)), scope));
                format!("(NOT {eq})")
            }
            _ => self.two_valued(|c| c.leaf(attr, Some((op, value)), scope)),
        }
    }

    /// One leaf: `pr` when `test` is `None`, else a comparison. Multi-valued attributes compared
    /// at row scope match when any element matches.
    fn leaf(
        &mut self,
        attr: &ResolvedAttr,
        test: Option<(CompareOp, &CompValue)>,
        scope: &Scope,
    ) -> String {
        if matches!(scope, Scope::Row) && attr.attr.multi_valued {
            return self.any_element(
                attr,
                |c, inner_scope| {
                    let element_attr = ResolvedAttr {
                        schema: attr.schema,
                        attr: attr.attr,
                        sub: attr.sub,
                    };
                    c.leaf_on(&element_attr, test, inner_scope)
                },
                attr.sub.map(|s| vec![s.name]).unwrap_or_default(),
            );
        }
        self.leaf_on(attr, test, scope)
    }

    fn leaf_on(
        &mut self,
        attr: &ResolvedAttr,
        test: Option<(CompareOp, &CompValue)>,
        scope: &Scope,
    ) -> String {
        let Some(operand) = self.operand(attr, scope) else {
            return "FALSE".into();
        };
        match test {
            None => present(&operand),
            Some((op, value)) => self.test(&operand, attr.leaf(), op, value),
        }
    }

    /// `EXISTS` over the elements of a multi-valued attribute, using the indexed side table when
    /// every sub-attribute involved is mirrored there.
    fn any_element(
        &mut self,
        attr: &ResolvedAttr,
        body: impl FnOnce(&mut Self, &Scope) -> String,
        subs: Vec<&str>,
    ) -> String {
        let side = SIDE_TABLE_ATTRIBUTES.contains(&attr.attr.name)
            && subs
                .iter()
                .all(|s| matches!(*s, "value" | "type" | "primary"));
        if side {
            let v = self.alias("v");
            let name = self.param(Bind::Text(attr.attr.name.to_owned()));
            let cond = body(self, &Scope::SideRow(v.clone()));
            return format!(
                "EXISTS (SELECT 1 FROM user_values {v} WHERE {v}.tenant_id = u.tenant_id AND {v}.user_id = u.id AND {v}.attribute = {name} AND {cond})"
            );
        }
        let e = self.alias("e");
        let path = attr.json_path();
        let top: Vec<&str> = path
            .iter()
            .take(path.len() - usize::from(attr.sub.is_some()))
            .copied()
            .collect();
        let from = self.backend.json_elements("u.search_doc", &top, &e);
        let cond = body(self, &Scope::Element(self.backend.element(&e)));
        format!("EXISTS (SELECT 1 FROM {from} WHERE {cond})")
    }

    fn value_path(&mut self, attr: &ResolvedAttr, inner: &Resolved) -> String {
        if !attr.attr.multi_valued {
            // A filter on a single-valued complex attribute (`name[givenName eq "x"]`,
            // `manager[value eq "x"]`) is the inner filter on the row.
            return self.compile(inner, &Scope::Row);
        }
        let mut subs = Vec::new();
        collect_subs(inner, &mut subs);
        let whole = ResolvedAttr {
            schema: attr.schema,
            attr: attr.attr,
            sub: None,
        };
        self.any_element(&whole, |c, scope| c.compile(inner, scope), subs)
    }

    fn operand(&mut self, attr: &ResolvedAttr, scope: &Scope) -> Option<Operand> {
        let leaf = attr.leaf();
        match scope {
            Scope::SideRow(v) => Some(match attr.sub.map(|s| s.name) {
                Some("type") => Operand::Text {
                    expr: format!("{v}.type_lower"),
                    lowered: true,
                },
                Some("primary") => Operand::BoolColumn(format!("{v}.is_primary")),
                _ => Operand::Text {
                    expr: format!("{v}.value_lower"),
                    lowered: true,
                },
            }),
            Scope::Element(elem) => {
                let sub = attr.sub?;
                Some(self.json_operand(elem, &[sub.name], sub))
            }
            Scope::Row => {
                if let Some(col) = row_column(attr) {
                    return Some(col);
                }
                if attr.schema.id == iris_scim::schema::USER && attr.attr.name == "meta" {
                    return None; // meta.resourceType/location/version are not stored per row
                }
                let path = attr.json_path();
                Some(self.json_operand("u.search_doc", &path, leaf))
            }
        }
    }

    fn json_operand(&self, doc: &str, path: &[&str], leaf: &Attribute) -> Operand {
        match leaf.ty {
            AttrType::Boolean => Operand::BoolJson(self.backend.json_bool_text(doc, path)),
            AttrType::Integer | AttrType::Decimal => {
                Operand::Number(self.backend.json_number(doc, path))
            }
            _ => Operand::Text {
                expr: self.backend.json_text(doc, path),
                lowered: !leaf.case_exact,
            },
        }
    }

    fn test(
        &mut self,
        operand: &Operand,
        leaf: &Attribute,
        op: CompareOp,
        value: &CompValue,
    ) -> String {
        match operand {
            Operand::Text { expr, lowered } => {
                let Some(text) = text_value(leaf, value, *lowered) else {
                    return "FALSE".into();
                };
                self.text_test(expr, op, text)
            }
            Operand::BoolColumn(expr) => match value {
                CompValue::Bool(b) => format!("{expr} = {}", self.param(Bind::Bool(*b))),
                _ => "FALSE".into(),
            },
            Operand::BoolJson(expr) => match value {
                CompValue::Bool(b) => format!("{expr} = {}", self.param(Bind::Text(b.to_string()))),
                _ => "FALSE".into(),
            },
            Operand::Number(expr) => {
                let CompValue::Num(n) = value else {
                    return "FALSE".into();
                };
                let Some(f) = n.as_f64() else {
                    return "FALSE".into();
                };
                let sym = ordering_symbol(op).unwrap_or("=");
                format!("{expr} {sym} {}", self.param(Bind::Float(f)))
            }
        }
    }

    fn text_test(&mut self, expr: &str, op: CompareOp, text: String) -> String {
        let collate = self.backend.collate_binary();
        match op {
            CompareOp::Co => {
                let p = self.param(Bind::Text(text));
                match self.backend {
                    Backend::Sqlite => format!("instr({expr}, {p}) > 0"),
                    Backend::Postgres => format!("strpos({expr}, {p}) > 0"),
                }
            }
            CompareOp::Sw => {
                let p1 = self.param(Bind::Text(text.clone()));
                let p2 = self.param(Bind::Text(text));
                format!("substr({expr}, 1, length({p1})) = {p2}")
            }
            CompareOp::Ew => {
                let p1 = self.param(Bind::Text(text.clone()));
                let p2 = self.param(Bind::Text(text.clone()));
                let p3 = self.param(Bind::Text(text));
                format!(
                    "(length({expr}) >= length({p1}) AND substr({expr}, length({expr}) - length({p2}) + 1) = {p3})"
                )
            }
            _ => {
                let sym = ordering_symbol(op).unwrap_or("=");
                let p = self.param(Bind::Text(text));
                if sym == "=" {
                    format!("{expr} = {p}")
                } else {
                    format!("{expr}{collate} {sym} {p}")
                }
            }
        }
    }
}

fn ordering_symbol(op: CompareOp) -> Option<&'static str> {
    Some(match op {
        CompareOp::Eq => "=",
        CompareOp::Gt => ">",
        CompareOp::Ge => ">=",
        CompareOp::Lt => "<",
        CompareOp::Le => "<=",
        _ => return None,
    })
}

fn present(operand: &Operand) -> String {
    match operand {
        Operand::Text { expr, .. } => format!("({expr} IS NOT NULL AND {expr} <> '')"),
        Operand::BoolColumn(expr) | Operand::BoolJson(expr) | Operand::Number(expr) => {
            format!("{expr} IS NOT NULL")
        }
    }
}

/// The text to bind for a comparison: lowercased where the stored form is, normalised for
/// dateTime so that string order is time order.
fn text_value(leaf: &Attribute, value: &CompValue, lowered: bool) -> Option<String> {
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
fn row_column(attr: &ResolvedAttr) -> Option<Operand> {
    if attr.schema.id != iris_scim::schema::USER {
        return None;
    }
    let text = |expr: &str, lowered: bool| {
        Some(Operand::Text {
            expr: expr.to_owned(),
            lowered,
        })
    };
    match (attr.attr.name, attr.sub.map(|s| s.name)) {
        ("id", None) => text("u.id", false),
        ("userName", None) => text("u.user_name_lower", true),
        ("externalId", None) => text("u.external_id", false),
        ("displayName", None) => text("u.display_name_lower", true),
        ("active", None) => Some(Operand::BoolColumn("u.active".into())),
        ("meta", Some("created")) => text("u.created", false),
        ("meta", Some("lastModified")) => text("u.last_modified", false),
        _ => None,
    }
}

fn collect_subs<'a>(filter: &'a Resolved, out: &mut Vec<&'a str>) {
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

/// The ORDER BY expression for a sort attribute (RFC 7644 §3.4.2.3); multi-valued attributes sort
/// by their first element.
pub fn sort_expression(backend: Backend, attr: &ResolvedAttr) -> String {
    let collate = backend.collate_binary();
    if let Some(Operand::Text { expr, .. } | Operand::BoolColumn(expr)) = row_column(attr) {
        return format!("{expr}{collate}");
    }
    let mut path: Vec<String> = attr.json_path().iter().map(|s| (*s).to_owned()).collect();
    if attr.attr.multi_valued {
        let top = path.len() - usize::from(attr.sub.is_some());
        path.insert(top, "0".to_owned());
    }
    let refs: Vec<&str> = path.iter().map(String::as_str).collect();
    format!("{}{collate}", backend.json_text("u.search_doc", &refs))
}
