//! The SQL the compiler emits for representative filters.

use iris_scim::filter::{FilterLimits, parse_filter, resolve};
use iris_scim::schema::{ResourceType, group_type, user_type};

use super::*;

fn compile(backend: Backend, target: ResourceKind, rt: &'static ResourceType, f: &str) -> String {
    let parsed = parse_filter(f, &FilterLimits::default()).unwrap();
    let resolved = resolve(&parsed, rt).unwrap();
    Compiler::new(backend, target, 2).condition(&resolved)
}

#[test]
fn the_membership_check_is_a_primary_key_lookup_without_coalesce() {
    let sql = compile(
        Backend::Postgres,
        ResourceKind::Group,
        group_type(),
        r#"id eq "G" and members[value eq "U"]"#,
    );
    assert_eq!(
        sql,
        "(g.id = $2 AND EXISTS (SELECT 1 FROM group_members m1 WHERE m1.tenant_id = g.tenant_id \
         AND m1.group_id = g.id AND m1.member_id = $3))"
    );
    let sql = compile(
        Backend::Sqlite,
        ResourceKind::Group,
        group_type(),
        r#"displayName eq "Ops""#,
    );
    assert_eq!(sql, "g.display_name_lower = $2");
}

#[test]
fn leaves_under_not_are_two_valued_and_exists_restarts_positive() {
    let sql = compile(
        Backend::Sqlite,
        ResourceKind::User,
        user_type(),
        r#"not (title eq "x" or emails[not (type eq "work")])"#,
    );
    assert!(
        sql.starts_with("(NOT (COALESCE(json_extract(u.search_doc"),
        "{sql}"
    );
    // No `value` is required, so elements without one count: the JSON elements are scanned.
    assert!(
        sql.contains("(NOT COALESCE(json_extract(e1.value, '$.\"type\"') = $3, FALSE))"),
        "{sql}"
    );
    let sql = compile(
        Backend::Sqlite,
        ResourceKind::User,
        user_type(),
        r#"userName eq "A" and groups.display eq "Ops""#,
    );
    assert!(
        sql.starts_with(
            "(u.user_name_lower = $2 AND EXISTS (SELECT 1 FROM group_members m1 JOIN groups m1g"
        ),
        "{sql}"
    );
    assert!(sql.ends_with("m1g.display_name_lower = $3))"), "{sql}");
}

#[test]
fn member_attributes_without_a_column_match_nothing() {
    let sql = compile(
        Backend::Postgres,
        ResourceKind::Group,
        group_type(),
        r#"members.display pr"#,
    );
    assert!(sql.contains("AND FALSE)"), "{sql}");
}
