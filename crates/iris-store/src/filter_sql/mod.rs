//! Compiles a resolved SCIM filter into a SQL condition over the `users` table (alias `u`) or the
//! `groups` table (alias `g`), chosen by its [`ResourceKind`].
//!
//! The compiler emits only bind placeholders for values and only schema-derived identifiers, never
//! client text. Semantics follow `iris_scim::filter::eval` exactly (the in-memory evaluator):
//! every leaf is two-valued, so `not` over a missing attribute is true; `ne` is `not eq`; `eq null`
//! means "not present". Strings of case-insensitive attributes are compared in the lowercased form
//! the shadow columns and `search_doc` hold.
//!
//! Two-valued leaves: a leaf whose operand is NULL (an absent attribute) must count as false. Under
//! a `not` that takes `COALESCE(leaf, FALSE)`; everywhere else (only `and`, `or` and `EXISTS` above
//! the leaf) SQL's NULL already selects nothing, exactly like false, so the leaf is emitted bare.
//! That matters: `COALESCE(col = $1, FALSE)` cannot use an index, `col = $1` can, and the hot
//! filters (`userName eq`, `displayName eq`, Entra's `id eq "G" and members[value eq "U"]`) are
//! all positive.
//!
//! Multi-valued attributes kept in side tables compile to an `EXISTS` over their rows: `emails`
//! and `phoneNumbers` of users (`user_values`), a group's `members` and a user's `groups` (both
//! `group_members`, on its primary key and its member index respectively).

use iris_scim::filter::{CompValue, CompareOp, Resolved, ResolvedAttr};
use iris_scim::schema::{AttrType, Attribute, ResourceKind};

use crate::dialect::{Backend, Dialect};
use crate::tables::KindTable;

/// A value bound to a placeholder.
#[derive(Debug, Clone, PartialEq)]
pub enum Bind {
    Text(String),
    /// Text that may be NULL (absent).
    OptText(Option<String>),
    Int(i64),
    Float(f64),
    Bool(bool),
    /// A boolean that may be NULL (absent).
    OptBool(Option<bool>),
}

/// Multi-valued attributes whose `value`/`type`/`primary` are mirrored in `user_values`.
const SIDE_TABLE_ATTRIBUTES: [&str; 2] = ["emails", "phoneNumbers"];

/// A side table that holds the elements of a multi-valued attribute, one row each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Relation {
    /// `user_values`: a user's emails and phoneNumbers (`value`, `type`, `primary`).
    UserValues,
    /// `group_members` by group: a group's `members` (`value`, `type`).
    Members,
    /// `group_members` by member, joined to the group: a user's `groups` (`value`, `display`,
    /// `type`, always "direct").
    MemberOf,
}

/// Where a leaf is evaluated: on the resource row, on one JSON element of a multi-valued
/// attribute, or on one row of a side table (with its alias).
#[derive(Clone)]
enum Scope {
    Row,
    Element(String),
    Related(Relation, String),
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
    target: ResourceKind,
    pub binds: Vec<Bind>,
    first_param: usize,
    aliases: usize,
    /// Whether the leaf being compiled is under a `not` (within the current `EXISTS`), where a
    /// NULL would turn into true and must be made false first.
    negated: bool,
}

impl Compiler {
    /// `first_param` is the number of the first placeholder this compiler may use.
    pub fn new(backend: Backend, target: ResourceKind, first_param: usize) -> Self {
        Self {
            backend,
            target,
            binds: Vec::new(),
            first_param,
            aliases: 0,
            negated: false,
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

    /// The SQL condition for `filter` on the target's row.
    pub fn condition(&mut self, filter: &Resolved) -> String {
        self.compile(filter, &Scope::Row)
    }

    fn row(&self) -> &'static str {
        self.target.alias()
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
            Resolved::Not(inner) => {
                let outer = std::mem::replace(&mut self.negated, true);
                let sql = self.compile(inner, scope);
                self.negated = outer;
                format!("(NOT {sql})")
            }
            Resolved::Present(attr) => self.leaf_value(|c| c.leaf(attr, None, scope)),
            Resolved::Compare(attr, op, value) => self.compare(attr, *op, value, scope),
            Resolved::ValuePath(attr, inner) => self.value_path(attr, inner),
        }
    }

    /// A leaf as a condition: bare where NULL already means "not selected", made two-valued
    /// under a `not`.
    fn leaf_value(&mut self, leaf: impl FnOnce(&mut Self) -> String) -> String {
        let sql = leaf(self);
        if self.negated {
            format!("COALESCE({sql}, FALSE)")
        } else {
            sql
        }
    }

    /// A leaf that is about to be negated: always two-valued.
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
            (CompareOp::Ne, CompValue::Null) => self.leaf_value(|c| c.leaf(attr, None, scope)),
            (CompareOp::Ne, _) => {
                let eq = self.two_valued(|c| c.leaf(attr, Some((CompareOp::Eq, value)), scope));
                format!("(NOT {eq})")
            }
            _ => self.leaf_value(|c| c.leaf(attr, Some((op, value)), scope)),
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
        if matches!(scope, Scope::Row) && attr.attr.name == "schemas" {
            return self.schemas_leaf(test);
        }
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
                // Only elements with a value have a side row: usable when the leaf is on `value`.
                attr.sub.is_some_and(|s| s.name == "value"),
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
        if test.is_none()
            && attr.sub.is_none()
            && attr.attr.ty == AttrType::Complex
            && let Some(sql) = self.complex_present_in(attr, scope)
        {
            return sql;
        }
        let is_location =
            attr.attr.name == "meta" && attr.sub.is_some_and(|s| s.name == "location");
        if test.is_none() && is_location && matches!(scope, Scope::Row) {
            return "TRUE".into(); // every resource has a location
        }
        let Some(operand) = self.operand(attr, scope) else {
            return "FALSE".into();
        };
        match test {
            None => present(&operand),
            Some((op, value)) => self.test(&operand, attr.leaf(), op, value),
        }
    }

    /// The synthetic `schemas` attribute: the core schema always, an extension schema when the
    /// document holds its object. Matches when any of the row's schema URNs passes the test.
    fn schemas_leaf(&mut self, test: Option<(CompareOp, &CompValue)>) -> String {
        let Some((op, value)) = test else {
            return "TRUE".to_owned();
        };
        let rt = self.target.resource_type();
        let doc = format!("{}.search_doc", self.row());
        let reference = iris_scim::filter::schemas_attribute();
        let mut parts = Vec::new();
        for urn in rt.schema_ids() {
            // URNs compare case-insensitively, as the evaluator does.
            let constant = self.param(Bind::Text(urn.to_lowercase()));
            let operand = Operand::Text {
                expr: constant,
                lowered: true,
            };
            let matches = self.test(&operand, reference, op, value);
            if urn == rt.schema.id {
                parts.push(format!("({matches})"));
            } else {
                let held = self.backend.json_text(&doc, &[urn]);
                parts.push(format!("({held} IS NOT NULL AND {matches})"));
            }
        }
        format!("({})", parts.join(" OR "))
    }

    /// `pr` of a complex value in JSON: some sub-attribute is present (RFC 7644 §3.4.2.2: "a
    /// non-empty node"). `None` where the scope is a relation, whose rows always exist.
    fn complex_present_in(&mut self, attr: &ResolvedAttr, scope: &Scope) -> Option<String> {
        if matches!(scope, Scope::Related(..)) {
            return None;
        }
        Some(self.complex_present(attr, scope))
    }

    fn complex_present(&mut self, attr: &ResolvedAttr, scope: &Scope) -> String {
        let parts: Vec<String> = attr
            .attr
            .sub_attributes
            .iter()
            .filter_map(|sub| {
                let one = ResolvedAttr {
                    schema: attr.schema,
                    attr: attr.attr,
                    sub: Some(sub),
                };
                self.operand(&one, scope)
                    .map(|o| format!("COALESCE({}, FALSE)", present(&o)))
            })
            .collect();
        if parts.is_empty() {
            "FALSE".to_owned()
        } else {
            format!("({})", parts.join(" OR "))
        }
    }

    /// `EXISTS` over the elements of a multi-valued attribute, using the indexed side table when
    /// every sub-attribute involved is mirrored there. The body starts a new positive context:
    /// `EXISTS` itself is never NULL.
    fn any_element(
        &mut self,
        attr: &ResolvedAttr,
        body: impl FnOnce(&mut Self, &Scope) -> String,
        subs: Vec<&str>,
        requires_value: bool,
    ) -> String {
        let outer = std::mem::replace(&mut self.negated, false);
        let sql = self.any_element_positive(attr, body, &subs, requires_value);
        self.negated = outer;
        sql
    }

    fn any_element_positive(
        &mut self,
        attr: &ResolvedAttr,
        body: impl FnOnce(&mut Self, &Scope) -> String,
        subs: &[&str],
        requires_value: bool,
    ) -> String {
        let row = self.row();
        match self.relation(attr, subs, requires_value) {
            Some(Relation::UserValues) => {
                let v = self.alias("v");
                let name = self.param(Bind::Text(attr.attr.name.to_owned()));
                let cond = body(self, &Scope::Related(Relation::UserValues, v.clone()));
                return format!(
                    "EXISTS (SELECT 1 FROM user_values {v} WHERE {v}.tenant_id = {row}.tenant_id AND {v}.user_id = {row}.id AND {v}.attribute = {name} AND {cond})"
                );
            }
            Some(Relation::Members) => {
                let m = self.alias("m");
                let cond = body(self, &Scope::Related(Relation::Members, m.clone()));
                return format!(
                    "EXISTS (SELECT 1 FROM group_members {m} WHERE {m}.tenant_id = {row}.tenant_id AND {m}.group_id = {row}.id AND {cond})"
                );
            }
            Some(Relation::MemberOf) => {
                let m = self.alias("m");
                let cond = body(self, &Scope::Related(Relation::MemberOf, m.clone()));
                return format!(
                    "EXISTS (SELECT 1 FROM group_members {m} JOIN groups {m}g ON {m}g.tenant_id = {m}.tenant_id AND {m}g.id = {m}.group_id \
                     WHERE {m}.tenant_id = {row}.tenant_id AND {m}.member_id = {row}.id AND {cond})"
                );
            }
            None => {}
        }
        let e = self.alias("e");
        let path = attr.json_path();
        let top: Vec<&str> = path
            .iter()
            .take(path.len() - usize::from(attr.sub.is_some()))
            .copied()
            .collect();
        let from = self
            .backend
            .json_elements(&format!("{row}.search_doc"), &top, &e);
        let cond = body(self, &Scope::Element(self.backend.element(&e)));
        format!("EXISTS (SELECT 1 FROM {from} WHERE {cond})")
    }

    /// The side table holding the elements of multi-valued `attr`, if any. Members and groups
    /// exist only there; emails and phoneNumbers only for the sub-attributes it mirrors.
    fn relation(
        &self,
        attr: &ResolvedAttr,
        subs: &[&str],
        requires_value: bool,
    ) -> Option<Relation> {
        if attr.schema.id != self.target.core_schema() {
            return None;
        }
        match (self.target, attr.attr.name) {
            (ResourceKind::User, "groups") => Some(Relation::MemberOf),
            (ResourceKind::Group, "members") => Some(Relation::Members),
            // `user_values` has a row only for elements with a value, and cannot tell an absent
            // `primary` from `false`: it answers filters that require a value and read only
            // `value` and `type`; the rest scan the JSON elements.
            (ResourceKind::User, name)
                if SIDE_TABLE_ATTRIBUTES.contains(&name)
                    && requires_value
                    && subs.iter().all(|s| matches!(*s, "value" | "type")) =>
            {
                Some(Relation::UserValues)
            }
            _ => None,
        }
    }

    fn value_path(&mut self, attr: &ResolvedAttr, inner: &Resolved) -> String {
        let whole = ResolvedAttr {
            schema: attr.schema,
            attr: attr.attr,
            sub: None,
        };
        if !attr.attr.multi_valued {
            // A filter on a single-valued complex attribute (`name[givenName eq "x"]`,
            // `manager[value eq "x"]`) is the inner filter on the row, for a row that has the
            // attribute at all (its only "element").
            let doc = format!("{}.search_doc", self.row());
            let exists = self.backend.json_text(&doc, &whole.json_path());
            let inner = self.compile(inner, &Scope::Row);
            return format!("({exists} IS NOT NULL AND {inner})");
        }
        let mut subs = Vec::new();
        collect_subs(inner, &mut subs);
        let requires_value = requires_value(inner);
        self.any_element(
            &whole,
            |c, scope| c.compile(inner, scope),
            subs,
            requires_value,
        )
    }

    fn operand(&mut self, attr: &ResolvedAttr, scope: &Scope) -> Option<Operand> {
        let leaf = attr.leaf();
        let text = |expr: String, lowered: bool| Some(Operand::Text { expr, lowered });
        match scope {
            Scope::Related(Relation::UserValues, v) => match attr.sub.map(|s| s.name) {
                Some("type") => text(format!("{v}.type_lower"), true),
                Some("primary") => Some(Operand::BoolColumn(format!("{v}.is_primary"))),
                _ => text(format!("{v}.value_lower"), true),
            },
            // `members.value` is not caseExact (RFC 7643 §8.7.1), and the ids Iris issues are
            // lowercase UUIDs: comparing the stored id with the lowercased value is the
            // case-insensitive match, and keeps the membership check a primary-key lookup.
            Scope::Related(Relation::Members, m) => match attr.sub.map(|s| s.name) {
                None | Some("value") => text(format!("{m}.member_id"), true),
                Some("type") => text(format!("lower({m}.member_type)"), true),
                // `display` and `$ref` are not stored per membership.
                _ => None,
            },
            Scope::Related(Relation::MemberOf, m) => match attr.sub.map(|s| s.name) {
                None | Some("value") => text(format!("{m}.group_id"), true),
                Some("display") => text(format!("{m}g.display_name_lower"), true),
                Some("type") => text("'direct'".to_owned(), true),
                _ => None,
            },
            Scope::Element(elem) => {
                let sub = attr.sub?;
                Some(self.json_operand(elem, &[sub.name], sub))
            }
            Scope::Row => {
                if let Some(col) = row_column(self.target, attr) {
                    return Some(col);
                }
                if attr.schema.id == self.target.core_schema() && attr.attr.name == "meta" {
                    let row = self.row();
                    return match attr.sub.map(|s| s.name) {
                        Some("resourceType") => {
                            let name = self.target.name();
                            text(self.param(Bind::Text(name.to_owned())), false)
                        }
                        Some("version") => text(
                            format!("('W/\"' || CAST({row}.version AS TEXT) || '\"')"),
                            false,
                        ),
                        // `location`'s text depends on the public URL the server is reached at,
                        // which the store does not know (its `pr` is answered in `leaf_on`).
                        _ => None,
                    };
                }
                let path = attr.json_path();
                let doc = format!("{}.search_doc", self.row());
                Some(self.json_operand(&doc, &path, leaf))
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
            Operand::Text { expr, .. } if leaf.ty == AttrType::DateTime => {
                self.datetime_test(expr, op, value)
            }
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

    /// Stored instants have millisecond precision (fixed width, so text order is time order). A
    /// literal with a finer fraction lies strictly between two stored instants: `eq` can never
    /// hold, and the orderings compare against the next millisecond.
    fn datetime_test(&mut self, expr: &str, op: CompareOp, value: &CompValue) -> String {
        let CompValue::Str(raw) = value else {
            return "FALSE".into();
        };
        let Some((ceil_ms, exact)) = iris_core::clock::ceil_to_millis(raw) else {
            return "FALSE".into();
        };
        let op = match (op, exact) {
            (_, true) => op,
            (CompareOp::Eq, false) => return "FALSE".into(),
            (CompareOp::Gt | CompareOp::Ge, false) => CompareOp::Ge,
            (CompareOp::Lt | CompareOp::Le, false) => CompareOp::Lt,
            (other, false) => other,
        };
        self.text_test(expr, op, ceil_ms)
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

mod columns;
#[cfg(test)]
mod tests;

use columns::{collect_subs, ordering_symbol, present, requires_value, row_column, text_value};
pub use columns::{is_point_lookup, sort_expression};
