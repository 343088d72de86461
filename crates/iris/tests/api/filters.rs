//! Filters (RFC 7644 §3.4.2.2) on a seeded tenant, in the forms Entra and the validators send
//! (entra-compat §3.2, Q9), compiled to SQL on both backends. Every assertion is an exact id set.

use std::collections::BTreeSet;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::{ENTERPRISE, TestApp, id_set};

/// The seeded users' ids, by the name used in the assertions.
struct Seed {
    alice: String,
    bob: String,
    emile: String,
    omega: String,
    crafted: String,
    dora: String,
    xavier: String,
    /// `meta.lastModified` of `crafted`, the fifth user created.
    crafted_modified: String,
}

/// Created one by one, a few milliseconds apart, so `meta.lastModified` orders them.
async fn create_in_order(app: &TestApp, body: Value) -> String {
    tokio::time::sleep(Duration::from_millis(5)).await;
    app.create_user(&body).await
}

async fn seed(app: &TestApp) -> Seed {
    let alice = create_in_order(
        app,
        json!({
            "userName": "alice.anders@example.com", "externalId": "Ext-Alice", "displayName": "Alice Anders",
            "name": {"givenName": "Alice", "familyName": "Anders", "formatted": "Alice Anders"},
            "active": true, "title": "Engineer",
            "emails": [{"type": "work", "value": "alice@work.example", "primary": true},
                       {"type": "home", "value": "alice@home.example"}],
            "phoneNumbers": [{"type": "work", "value": "+1 555 0100"}, {"type": "mobile", "value": "+1 555 0101"}],
            ENTERPRISE: {"department": "R&D", "employeeNumber": "1001"}
        }),
    )
    .await;
    let bob = create_in_order(
        app,
        json!({
            "userName": "bob.brown@example.com", "externalId": "ext-bob", "displayName": "Bob Brown",
            "name": {"givenName": "Bob", "familyName": "Brown"}, "active": false,
            "emails": [{"type": "work", "value": "bob@work.example"},
                       {"type": "home", "value": "bob@home.example", "primary": true}],
            "phoneNumbers": [{"type": "mobile", "value": "+1 555 0201"}],
            ENTERPRISE: {"department": "Sales", "manager": {"value": alice}}
        }),
    )
    .await;
    let emile = create_in_order(
        app,
        json!({
            "userName": "Émile.Zola@example.com", "externalId": "EXT-EMILE", "displayName": "Émile Zola",
            "name": {"givenName": "Émile", "familyName": "Zola"}, "active": true,
            "emails": [{"type": "work", "value": "emile@work.example"}],
            ENTERPRISE: {"department": "r&d"}
        }),
    )
    .await;
    let omega = create_in_order(
        app,
        json!({
            "userName": "Ωmega@example.com", "name": {"givenName": "Ωmega"}, "active": true,
            ENTERPRISE: {"manager": alice.clone()}
        }),
    )
    .await;
    let crafted = create_in_order(
        app,
        json!({
            "userName": "crafted@example.com", "active": true,
            "emails": [{"type": "work", "value": "plain@work.example"}, {"type": "home", "value": "xmarks@home.example"}]
        }),
    )
    .await;
    let crafted_modified = app.get(&format!("/Users/{crafted}")).await.body["meta"]["lastModified"]
        .as_str()
        .unwrap()
        .to_owned();
    let dora = create_in_order(
        app,
        json!({
            "userName": "dora@example.com", "externalId": "ext-dora", "active": false,
            "name": {"givenName": "Dora"},
            "emails": [{"type": "work", "value": "dora@work.example", "primary": true}],
            "phoneNumbers": [{"type": "work", "value": "+1 555 0600"}]
        }),
    )
    .await;
    // No `active` at all.
    let xavier = create_in_order(
        app,
        json!({"userName": "xavier@example.com", "emails": [{"type": "work", "value": "xmarks@work.example"}]}),
    )
    .await;
    Seed {
        alice,
        bob,
        emile,
        omega,
        crafted,
        dora,
        xavier,
        crafted_modified,
    }
}

/// Asserts that `filter` selects exactly `expected`, by GET and by POST `/.search`.
async fn assert_selects(app: &TestApp, filter: &str, expected: &BTreeSet<String>) {
    let got = app.filter_users(filter).await;
    assert_eq!(got.status, StatusCode::OK, "{filter}: {}", got.text);
    assert_eq!(&got.ids(), expected, "GET filter {filter}");
    assert_eq!(got.body["totalResults"], expected.len(), "{filter}");
    assert_eq!(got.body["itemsPerPage"], expected.len(), "{filter}");
    let searched = app.post("/Users/.search", &json!({"filter": filter})).await;
    assert_eq!(
        searched.status,
        StatusCode::OK,
        "{filter}: {}",
        searched.text
    );
    assert_eq!(&searched.ids(), expected, "POST .search filter {filter}");
}

async fn equality_filters_follow_each_attributes_case_rules(app: TestApp) -> TestApp {
    let s = seed(&app).await;
    let none = BTreeSet::new();
    // userName is case-insensitive, with Unicode case folding.
    assert_selects(
        &app,
        "userName eq \"ALICE.ANDERS@EXAMPLE.COM\"",
        &id_set(&[&s.alice]),
    )
    .await;
    assert_selects(
        &app,
        "userName eq \"émile.zola@example.com\"",
        &id_set(&[&s.emile]),
    )
    .await;
    assert_selects(
        &app,
        "userName eq \"ΩMEGA@EXAMPLE.COM\"",
        &id_set(&[&s.omega]),
    )
    .await;
    assert_selects(
        &app,
        "USERNAME EQ \"dora@example.com\"",
        &id_set(&[&s.dora]),
    )
    .await;
    // externalId is caseExact (RFC 7643 §3.1).
    assert_selects(&app, "externalId eq \"Ext-Alice\"", &id_set(&[&s.alice])).await;
    assert_selects(&app, "externalId eq \"ext-alice\"", &none).await;
    assert_selects(&app, "externalId eq \"EXT-BOB\"", &none).await;
    // id.
    assert_selects(&app, &format!("id eq \"{}\"", s.bob), &id_set(&[&s.bob])).await;
    assert_selects(&app, &format!("id eq \"{}\"", uuid::Uuid::now_v7()), &none).await;
    // displayName is case-insensitive.
    assert_selects(&app, "displayName eq \"bob brown\"", &id_set(&[&s.bob])).await;
    assert_selects(&app, "displayName eq \"ÉMILE ZOLA\"", &id_set(&[&s.emile])).await;
    // name.givenName is case-insensitive.
    assert_selects(&app, "name.givenName eq \"ALICE\"", &id_set(&[&s.alice])).await;
    assert_selects(&app, "name.givenName eq \"émile\"", &id_set(&[&s.emile])).await;
    assert_selects(&app, "name.givenName eq \"ωmega\"", &id_set(&[&s.omega])).await;
    // The enterprise extension, by its full URN; department is case-insensitive.
    let department = format!("{ENTERPRISE}:department eq \"R&D\"");
    assert_selects(&app, &department, &id_set(&[&s.alice, &s.emile])).await;
    assert_selects(
        &app,
        &format!("{ENTERPRISE}:employeeNumber eq \"1001\""),
        &id_set(&[&s.alice]),
    )
    .await;
    app
}

async fn multi_valued_filters_match_per_element_in_entra_forms(app: TestApp) -> TestApp {
    let s = seed(&app).await;
    let none = BTreeSet::new();
    assert_selects(
        &app,
        "emails.value eq \"ALICE@home.example\"",
        &id_set(&[&s.alice]),
    )
    .await;
    assert_selects(&app, "emails eq \"bob@work.example\"", &id_set(&[&s.bob])).await;
    // Entra's matching form: the value must be in an element of the right type.
    assert_selects(
        &app,
        "emails[type eq \"work\"].value eq \"bob@work.example\"",
        &id_set(&[&s.bob]),
    )
    .await;
    assert_selects(
        &app,
        "emails[type eq \"work\"].value eq \"Alice@Work.Example\"",
        &id_set(&[&s.alice]),
    )
    .await;
    assert_selects(
        &app,
        "emails[type eq \"work\"].value eq \"bob@home.example\"",
        &none,
    )
    .await;
    assert_selects(
        &app,
        "emails[type eq \"home\"].value eq \"bob@home.example\"",
        &id_set(&[&s.bob]),
    )
    .await;
    // The primary variant; Entra may send the boolean as a string.
    assert_selects(
        &app,
        "emails[primary eq true].value eq \"bob@home.example\"",
        &id_set(&[&s.bob]),
    )
    .await;
    assert_selects(
        &app,
        "emails[primary eq \"True\"].value eq \"bob@home.example\"",
        &id_set(&[&s.bob]),
    )
    .await;
    assert_selects(
        &app,
        "emails[primary eq true].value eq \"bob@work.example\"",
        &none,
    )
    .await;
    assert_selects(
        &app,
        "emails[primary eq true]",
        &id_set(&[&s.alice, &s.bob, &s.dora]),
    )
    .await;
    // Phone numbers by type.
    assert_selects(
        &app,
        "phoneNumbers[type eq \"mobile\"].value eq \"+1 555 0201\"",
        &id_set(&[&s.bob]),
    )
    .await;
    assert_selects(
        &app,
        "phoneNumbers[type eq \"work\"].value eq \"+1 555 0201\"",
        &none,
    )
    .await;
    assert_selects(
        &app,
        "phoneNumbers[type eq \"mobile\"]",
        &id_set(&[&s.alice, &s.bob]),
    )
    .await;
    assert_selects(
        &app,
        "phoneNumbers.type eq \"work\"",
        &id_set(&[&s.alice, &s.dora]),
    )
    .await;
    app
}

async fn a_value_filter_matches_within_one_element_unlike_dotted_paths(app: TestApp) -> TestApp {
    let s = seed(&app).await;
    // `crafted` has a work email and a different email containing "xmarks"; only `xavier` has a
    // work email containing it.
    let bracket = "emails[type eq \"work\" and value co \"xmarks\"]";
    let dotted = "emails.type eq \"work\" and emails.value co \"xmarks\"";
    assert_selects(&app, bracket, &id_set(&[&s.xavier])).await;
    assert_selects(&app, dotted, &id_set(&[&s.crafted, &s.xavier])).await;
    assert_selects(
        &app,
        "emails[type eq \"home\" and value co \"xmarks\"]",
        &id_set(&[&s.crafted]),
    )
    .await;
    assert_selects(
        &app,
        &format!("not ({bracket})"),
        &id_set(&[&s.alice, &s.bob, &s.emile, &s.omega, &s.crafted, &s.dora]),
    )
    .await;
    app
}

async fn booleans_logic_and_presence_select_exact_sets(app: TestApp) -> TestApp {
    let s = seed(&app).await;
    assert_selects(&app, "active eq false", &id_set(&[&s.bob, &s.dora])).await;
    assert_selects(
        &app,
        "active eq true",
        &id_set(&[&s.alice, &s.emile, &s.omega, &s.crafted]),
    )
    .await;
    // `not` is two-valued: a user without `active` is "not active eq true".
    assert_selects(
        &app,
        "not (active eq true)",
        &id_set(&[&s.bob, &s.dora, &s.xavier]),
    )
    .await;
    assert_selects(
        &app,
        "active ne true",
        &id_set(&[&s.bob, &s.dora, &s.xavier]),
    )
    .await;
    assert_selects(
        &app,
        "active pr",
        &id_set(&[&s.alice, &s.bob, &s.emile, &s.omega, &s.crafted, &s.dora]),
    )
    .await;
    // A filter that matches a disabled user (Entra must find disabled users to re-enable them).
    assert_selects(
        &app,
        "userName eq \"bob.brown@example.com\"",
        &id_set(&[&s.bob]),
    )
    .await;
    assert_selects(
        &app,
        "active eq false and emails[type eq \"work\"].value eq \"dora@work.example\"",
        &id_set(&[&s.dora]),
    )
    .await;
    // and / or / grouping / precedence (and binds tighter than or).
    let rnd = format!("{ENTERPRISE}:department eq \"r&d\"");
    assert_selects(
        &app,
        &format!("{rnd} and active eq true"),
        &id_set(&[&s.alice, &s.emile]),
    )
    .await;
    assert_selects(
        &app,
        &format!("{rnd} and active eq false"),
        &BTreeSet::new(),
    )
    .await;
    assert_selects(
        &app,
        "userName eq \"dora@example.com\" or externalId eq \"ext-bob\"",
        &id_set(&[&s.bob, &s.dora]),
    )
    .await;
    assert_selects(
        &app,
        "userName eq \"dora@example.com\" or userName eq \"crafted@example.com\" and active eq false",
        &id_set(&[&s.dora]),
    )
    .await;
    assert_selects(
        &app,
        "(userName eq \"dora@example.com\" or userName eq \"crafted@example.com\") and active eq true",
        &id_set(&[&s.crafted]),
    )
    .await;
    assert_selects(
        &app,
        "not (userName sw \"a\" or userName sw \"b\") and active eq false",
        &id_set(&[&s.dora]),
    )
    .await;
    // Presence.
    assert_selects(
        &app,
        "externalId pr",
        &id_set(&[&s.alice, &s.bob, &s.emile, &s.dora]),
    )
    .await;
    assert_selects(
        &app,
        "phoneNumbers pr",
        &id_set(&[&s.alice, &s.bob, &s.dora]),
    )
    .await;
    assert_selects(&app, "title pr", &id_set(&[&s.alice])).await;
    assert_selects(
        &app,
        "name.familyName pr",
        &id_set(&[&s.alice, &s.bob, &s.emile]),
    )
    .await;
    assert_selects(
        &app,
        &format!("{ENTERPRISE}:manager pr"),
        &id_set(&[&s.bob, &s.omega]),
    )
    .await;
    assert_selects(&app, "not (emails pr)", &id_set(&[&s.omega])).await;
    app
}

async fn substring_operators_are_case_insensitive_on_case_insensitive_attributes(
    app: TestApp,
) -> TestApp {
    let s = seed(&app).await;
    assert_selects(&app, "userName co \"ANDERS\"", &id_set(&[&s.alice])).await;
    assert_selects(&app, "userName sw \"D\"", &id_set(&[&s.dora])).await;
    assert_selects(&app, "userName sw \"émile\"", &id_set(&[&s.emile])).await;
    assert_selects(&app, "displayName ew \"ZOLA\"", &id_set(&[&s.emile])).await;
    assert_selects(
        &app,
        "emails.value co \"@HOME.\"",
        &id_set(&[&s.alice, &s.bob, &s.crafted]),
    )
    .await;
    assert_selects(
        &app,
        "emails[type eq \"work\"].value sw \"x\"",
        &id_set(&[&s.xavier]),
    )
    .await;
    // externalId is caseExact: substring matching respects case.
    assert_selects(&app, "externalId sw \"ext-\"", &id_set(&[&s.bob, &s.dora])).await;
    assert_selects(&app, "externalId co \"EMILE\"", &id_set(&[&s.emile])).await;
    // LIKE metacharacters in the value are literal.
    assert_selects(&app, "userName co \"%\"", &BTreeSet::new()).await;
    assert_selects(&app, "userName co \"_\"", &BTreeSet::new()).await;
    assert_selects(
        &app,
        &format!("{ENTERPRISE}:department co \"&\""),
        &id_set(&[&s.alice, &s.emile]),
    )
    .await;
    app
}

async fn manager_filters_work_in_the_current_and_the_legacy_form(app: TestApp) -> TestApp {
    let s = seed(&app).await;
    let none = BTreeSet::new();
    assert_selects(
        &app,
        &format!("{ENTERPRISE}:manager eq \"{}\"", s.alice),
        &id_set(&[&s.bob, &s.omega]),
    )
    .await;
    assert_selects(
        &app,
        &format!("{ENTERPRISE}:manager.value eq \"{}\"", s.alice),
        &id_set(&[&s.bob, &s.omega]),
    )
    .await;
    // Legacy bare name (entra-compat §3.2), quoted.
    assert_selects(
        &app,
        &format!("manager eq \"{}\"", s.alice),
        &id_set(&[&s.bob, &s.omega]),
    )
    .await;
    assert_selects(&app, &format!("manager eq \"{}\"", s.bob), &none).await;

    // The legacy reference check: unquoted values, `and`, `attributes=id`.
    let legacy = |user: &str, manager: &str| format!("id eq {user} and manager eq {manager}");
    let reply = app
        .list_users(&[("filter", &legacy(&s.bob, &s.alice)), ("attributes", "id")])
        .await
        .expect(StatusCode::OK);
    assert_eq!(reply.body["totalResults"], 1);
    let resource = &reply.resources()[0];
    assert_eq!(resource["id"], s.bob.as_str());
    let keys: BTreeSet<&str> = resource
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    // `id` and `meta` are returned always (meta keeps the version for ETag-aware clients).
    assert_eq!(
        keys,
        ["id", "meta", "schemas"].into_iter().collect(),
        "attributes=id returns only id: {resource}"
    );
    // Not (or no longer) the manager: 200 and an empty list.
    for (user, manager) in [(&s.emile, &s.alice), (&s.bob, &s.emile)] {
        let reply = app
            .list_users(&[("filter", &legacy(user, manager)), ("attributes", "id")])
            .await;
        let reply = reply.expect(StatusCode::OK);
        assert_eq!(reply.body["totalResults"], 0);
        assert_eq!(reply.body["Resources"], json!([]));
    }
    app
}

async fn last_modified_filters_compare_instants(app: TestApp) -> TestApp {
    let s = seed(&app).await;
    let pivot = s.crafted_modified.clone();
    assert_selects(
        &app,
        &format!("meta.lastModified gt \"{pivot}\""),
        &id_set(&[&s.dora, &s.xavier]),
    )
    .await;
    assert_selects(
        &app,
        &format!("meta.lastModified ge \"{pivot}\""),
        &id_set(&[&s.crafted, &s.dora, &s.xavier]),
    )
    .await;
    assert_selects(
        &app,
        &format!("meta.lastModified lt \"{pivot}\""),
        &id_set(&[&s.alice, &s.bob, &s.emile, &s.omega]),
    )
    .await;
    // An update moves lastModified forward.
    tokio::time::sleep(Duration::from_millis(5)).await;
    let patch = json!({"Operations": [{"op": "replace", "path": "title", "value": "Lead"}]});
    app.patch(&format!("/Users/{}", s.alice), &patch)
        .await
        .expect(StatusCode::OK);
    assert_selects(
        &app,
        &format!("meta.lastModified gt \"{pivot}\""),
        &id_set(&[&s.alice, &s.dora, &s.xavier]),
    )
    .await;
    // Far past and far future, in other offsets.
    let all = id_set(&[
        &s.alice, &s.bob, &s.emile, &s.omega, &s.crafted, &s.dora, &s.xavier,
    ]);
    assert_selects(
        &app,
        "meta.lastModified gt \"2000-01-01T00:00:00+02:00\"",
        &all,
    )
    .await;
    assert_selects(
        &app,
        "meta.lastModified gt \"2999-01-01T00:00:00-05:00\"",
        &BTreeSet::new(),
    )
    .await;
    assert_selects(&app, "meta.created lt \"2999-01-01T00:00:00Z\"", &all).await;
    app
}

async fn filter_results_are_whole_resources(app: TestApp) -> TestApp {
    let s = seed(&app).await;
    let reply = app
        .filter_users("userName eq \"bob.brown@example.com\"")
        .await
        .expect(StatusCode::OK);
    let by_id = app.get_user(&s.bob).await;
    assert_eq!(reply.resources(), &vec![by_id]);
    app
}

async fn string_literals_with_escapes_match_exactly(app: TestApp) -> TestApp {
    let tricky = app
        .create_user(
            &json!({"userName": "o\"brien\\x@example.com", "displayName": "O'Brien (ops) [eu]"}),
        )
        .await;
    let unicode = app
        .create_user(&json!({"userName": "zoë@example.com"}))
        .await;
    assert_selects(
        &app,
        r#"userName eq "O\"BRIEN\\X@example.com""#,
        &id_set(&[&tricky]),
    )
    .await;
    assert_selects(
        &app,
        r#"displayName eq "o'brien (ops) [eu]""#,
        &id_set(&[&tricky]),
    )
    .await;
    assert_selects(&app, r#"displayName co "(ops) [""#, &id_set(&[&tricky])).await;
    assert_selects(
        &app,
        r#"userName eq "zo\u00EB@example.com""#,
        &id_set(&[&unicode]),
    )
    .await;
    assert_selects(
        &app,
        r#"userName eq "ZOË@EXAMPLE.COM""#,
        &id_set(&[&unicode]),
    )
    .await;
    // Entra's wire encoding: `+` for spaces, %22 for quotes, %40 for `@`.
    let reply = app
        .get("/Users?filter=userName+eq+%22ZO%C3%AB%40example.com%22")
        .await;
    assert_eq!(reply.expect(StatusCode::OK).id_list(), vec![unicode]);
    app
}

crate::on_both_backends!(
    equality_filters_follow_each_attributes_case_rules,
    multi_valued_filters_match_per_element_in_entra_forms,
    a_value_filter_matches_within_one_element_unlike_dotted_paths,
    booleans_logic_and_presence_select_exact_sets,
    substring_operators_are_case_insensitive_on_case_insensitive_attributes,
    manager_filters_work_in_the_current_and_the_legacy_form,
    last_modified_filters_compare_instants,
    filter_results_are_whole_resources,
    string_literals_with_escapes_match_exactly,
);
