//! `/ServiceProviderConfig`, `/Schemas` and `/ResourceTypes` (RFC 7643 §5–§7, RFC 7644 §4), in the
//! shape Entra's schema discovery needs (entra-compat §7.1: a ListResponse, camelCase
//! characteristic values, no null values anywhere).

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::harness::{Reply, SCIM_JSON, TestApp};

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const LIST_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
const SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";
const RESOURCE_TYPE: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
const SPC: &str = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";

/// Asserts that no value anywhere in `v` is JSON `null` (Entra rejects them).
#[track_caller]
fn assert_no_nulls(v: &Value, at: &str) {
    match v {
        Value::Null => panic!("null value at {at}"),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                assert_no_nulls(item, &format!("{at}[{i}]"));
            }
        }
        Value::Object(fields) => {
            for (k, item) in fields {
                assert_no_nulls(item, &format!("{at}.{k}"));
            }
        }
        _ => {}
    }
}

async fn get_ok(app: &TestApp, path: &str) -> Value {
    let reply = app.get(path).await.expect(StatusCode::OK);
    assert_eq!(reply.content_type(), SCIM_JSON, "{path}");
    assert_no_nulls(&reply.body, path);
    reply.body
}

async fn service_provider_config_describes_what_iris_supports(app: TestApp) -> TestApp {
    let spc = get_ok(&app, "/ServiceProviderConfig").await;
    assert_eq!(spc["schemas"], json!([SPC]));
    assert_eq!(spc["patch"], json!({"supported": true}));
    assert_eq!(spc["filter"]["supported"], true);
    let max = spc["filter"]["maxResults"]
        .as_u64()
        .expect("filter.maxResults is an integer");
    assert!(max >= 100, "maxResults {max}");
    assert_eq!(spc["bulk"]["supported"], false);
    assert!(
        spc["bulk"]["maxOperations"].is_u64() && spc["bulk"]["maxPayloadSize"].is_u64(),
        "{spc}"
    );
    assert_eq!(spc["changePassword"], json!({"supported": false}));
    assert_eq!(spc["sort"], json!({"supported": true}));
    assert_eq!(spc["etag"], json!({"supported": true}));
    let schemes = spc["authenticationSchemes"]
        .as_array()
        .expect("authenticationSchemes");
    assert_eq!(schemes.len(), 1);
    assert_eq!(schemes[0]["type"], "oauthbearertoken");
    assert!(schemes[0]["name"].as_str().is_some_and(|n| !n.is_empty()));
    assert!(
        schemes[0]["description"]
            .as_str()
            .is_some_and(|n| !n.is_empty())
    );
    assert_eq!(spc["meta"]["resourceType"], "ServiceProviderConfig");
    assert_eq!(
        spc["meta"]["location"],
        format!("{}/ServiceProviderConfig", app.tenant_url)
    );
    app
}

const TYPES: [&str; 8] = [
    "string",
    "boolean",
    "decimal",
    "integer",
    "dateTime",
    "binary",
    "reference",
    "complex",
];
const MUTABILITY: [&str; 4] = ["readOnly", "readWrite", "immutable", "writeOnly"];
const RETURNED: [&str; 4] = ["always", "never", "default", "request"];
const UNIQUENESS: [&str; 3] = ["none", "server", "global"];

/// Checks one attribute definition (RFC 7643 §7) and its sub-attributes.
#[track_caller]
fn check_attribute(attr: &Value, at: &str) {
    let name = attr["name"]
        .as_str()
        .unwrap_or_else(|| panic!("{at}: no name in {attr}"));
    let at = format!("{at}.{name}");
    let ty = attr["type"].as_str().unwrap_or_default();
    assert!(TYPES.contains(&ty), "{at}: type {ty:?}");
    for flag in ["multiValued", "required", "caseExact"] {
        assert!(
            attr[flag].is_boolean(),
            "{at}: {flag} is not a boolean: {attr}"
        );
    }
    let s = |k: &str| attr[k].as_str().unwrap_or_default().to_owned();
    assert!(
        MUTABILITY.contains(&s("mutability").as_str()),
        "{at}: mutability {:?}",
        attr["mutability"]
    );
    assert!(
        RETURNED.contains(&s("returned").as_str()),
        "{at}: returned {:?}",
        attr["returned"]
    );
    assert!(
        UNIQUENESS.contains(&s("uniqueness").as_str()),
        "{at}: uniqueness {:?}",
        attr["uniqueness"]
    );
    assert!(
        attr["description"].as_str().is_some_and(|d| !d.is_empty()),
        "{at}: description"
    );
    if ty == "reference" {
        let types = attr["referenceTypes"]
            .as_array()
            .unwrap_or_else(|| panic!("{at}: no referenceTypes"));
        assert!(
            !types.is_empty() && types.iter().all(Value::is_string),
            "{at}: referenceTypes {types:?}"
        );
    }
    if ty == "complex" {
        let subs = attr["subAttributes"]
            .as_array()
            .unwrap_or_else(|| panic!("{at}: no subAttributes"));
        assert!(!subs.is_empty(), "{at}: empty subAttributes");
        for sub in subs {
            assert!(
                sub.get("subAttributes").is_none(),
                "{at}: sub-attributes cannot be complex"
            );
            check_attribute(sub, &at);
        }
    } else {
        assert!(
            attr.get("subAttributes").is_none(),
            "{at}: subAttributes on a simple attribute"
        );
    }
    if let Some(values) = attr.get("canonicalValues") {
        assert!(
            values
                .as_array()
                .is_some_and(|v| v.iter().all(Value::is_string)),
            "{at}: canonicalValues"
        );
    }
}

fn attribute<'a>(schema: &'a Value, name: &str) -> &'a Value {
    schema["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == name)
        .unwrap_or_else(|| panic!("no attribute {name} in {}", schema["id"]))
}

fn sub_names(attr: &Value) -> Vec<&str> {
    attr["subAttributes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect()
}

async fn schemas_is_a_list_response_of_user_and_enterprise_user_without_nulls(
    app: TestApp,
) -> TestApp {
    let list = get_ok(&app, "/Schemas").await;
    assert_eq!(list["schemas"], json!([LIST_RESPONSE]));
    let resources = list["Resources"].as_array().expect("Resources");
    assert_eq!(list["totalResults"], resources.len());
    assert_eq!(list["itemsPerPage"], resources.len());
    assert_eq!(list["startIndex"], 1);
    let ids: Vec<&str> = resources
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&USER) && ids.contains(&ENTERPRISE), "{ids:?}");
    for schema in resources {
        let id = schema["id"].as_str().unwrap();
        assert_eq!(schema["schemas"], json!([SCHEMA]), "{id}");
        assert!(
            schema["name"].as_str().is_some_and(|n| !n.is_empty()),
            "{id}"
        );
        assert_eq!(schema["meta"]["resourceType"], "Schema", "{id}");
        assert_eq!(
            schema["meta"]["location"],
            format!("{}/Schemas/{id}", app.tenant_url)
        );
        let attrs = schema["attributes"].as_array().expect("attributes");
        assert!(!attrs.is_empty(), "{id}");
        for attr in attrs {
            check_attribute(attr, id);
        }
        // Names are unique within a schema (case-insensitively, as clients match them).
        let mut names: Vec<String> = attrs
            .iter()
            .map(|a| a["name"].as_str().unwrap().to_lowercase())
            .collect();
        names.sort();
        let count = names.len();
        names.dedup();
        assert_eq!(names.len(), count, "{id}: duplicate attribute names");
    }

    let user = resources.iter().find(|s| s["id"] == USER).unwrap();
    assert_eq!(user["name"], "User");
    let user_name = attribute(user, "userName");
    assert_eq!(user_name["type"], "string");
    assert_eq!(user_name["uniqueness"], "server");
    assert_eq!(user_name["caseExact"], false);
    assert_eq!(user_name["required"], true);
    assert_eq!(user_name["mutability"], "readWrite");
    let id = attribute(user, "id");
    assert_eq!(
        (&id["mutability"], &id["returned"]),
        (&json!("readOnly"), &json!("always"))
    );
    let external_id = attribute(user, "externalId");
    assert_eq!(external_id["caseExact"], true);
    assert_eq!(attribute(user, "active")["type"], "boolean");
    let password = attribute(user, "password");
    assert_eq!(
        (&password["mutability"], &password["returned"]),
        (&json!("writeOnly"), &json!("never"))
    );
    let emails = attribute(user, "emails");
    assert_eq!(emails["type"], "complex");
    assert_eq!(emails["multiValued"], true);
    let subs = sub_names(emails);
    for sub in ["value", "type", "primary", "display"] {
        assert!(subs.contains(&sub), "emails lacks {sub}: {subs:?}");
    }
    let email_type = emails["subAttributes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "type")
        .unwrap();
    assert!(
        email_type["canonicalValues"]
            .as_array()
            .unwrap()
            .contains(&json!("work"))
    );
    let primary = emails["subAttributes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "primary")
        .unwrap();
    assert_eq!(primary["type"], "boolean");
    let name = attribute(user, "name");
    for sub in ["givenName", "familyName", "formatted"] {
        assert!(sub_names(name).contains(&sub), "name lacks {sub}");
    }
    let phones = attribute(user, "phoneNumbers");
    assert_eq!(phones["multiValued"], true);
    let phone_type = phones["subAttributes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "type")
        .unwrap();
    for t in ["work", "mobile"] {
        assert!(
            phone_type["canonicalValues"]
                .as_array()
                .unwrap()
                .contains(&json!(t)),
            "phone type {t}"
        );
    }
    for simple in [
        "displayName",
        "nickName",
        "title",
        "userType",
        "preferredLanguage",
        "locale",
        "timezone",
    ] {
        assert_eq!(attribute(user, simple)["type"], "string", "{simple}");
    }
    for multi in [
        "addresses",
        "ims",
        "photos",
        "roles",
        "entitlements",
        "x509Certificates",
        "groups",
    ] {
        assert_eq!(attribute(user, multi)["multiValued"], true, "{multi}");
    }
    assert_eq!(attribute(user, "groups")["mutability"], "readOnly");

    let enterprise = resources.iter().find(|s| s["id"] == ENTERPRISE).unwrap();
    for simple in [
        "employeeNumber",
        "costCenter",
        "organization",
        "division",
        "department",
    ] {
        let a = attribute(enterprise, simple);
        assert_eq!(
            (&a["type"], &a["multiValued"]),
            (&json!("string"), &json!(false)),
            "{simple}"
        );
    }
    let manager = attribute(enterprise, "manager");
    assert_eq!(manager["type"], "complex");
    assert_eq!(manager["multiValued"], false);
    let subs = sub_names(manager);
    for sub in ["value", "$ref", "displayName"] {
        assert!(subs.contains(&sub), "manager lacks {sub}: {subs:?}");
    }
    app
}

async fn a_schema_is_served_by_its_urn_and_an_unknown_urn_is_404(app: TestApp) -> TestApp {
    let list = get_ok(&app, "/Schemas").await;
    for urn in [USER, ENTERPRISE] {
        let one = get_ok(&app, &format!("/Schemas/{urn}")).await;
        let listed = list["Resources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["id"] == urn)
            .unwrap();
        assert_eq!(&one, listed, "{urn}");
    }
    for unknown in [
        "urn:ietf:params:scim:schemas:core:2.0:Nope",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0User",
        "User",
        "nope",
    ] {
        app.get(&format!("/Schemas/{unknown}"))
            .await
            .expect_error(StatusCode::NOT_FOUND, None);
    }
    app
}

async fn resource_types_list_user_with_the_optional_enterprise_extension(app: TestApp) -> TestApp {
    let list = get_ok(&app, "/ResourceTypes").await;
    assert_eq!(list["schemas"], json!([LIST_RESPONSE]));
    let resources = list["Resources"].as_array().expect("Resources");
    assert_eq!(list["totalResults"], resources.len());
    assert_eq!(list["startIndex"], 1);
    let user = resources
        .iter()
        .find(|r| r["id"] == "User")
        .expect("a User resource type");
    assert_eq!(user["schemas"], json!([RESOURCE_TYPE]));
    assert_eq!(user["name"], "User");
    assert_eq!(user["endpoint"], "/Users");
    assert_eq!(user["schema"], USER);
    assert_eq!(
        user["schemaExtensions"],
        json!([{"schema": ENTERPRISE, "required": false}])
    );
    assert_eq!(user["meta"]["resourceType"], "ResourceType");
    assert_eq!(
        user["meta"]["location"],
        format!("{}/ResourceTypes/User", app.tenant_url)
    );
    // Every advertised schema is served.
    for rt in resources {
        get_ok(
            &app,
            &format!("/Schemas/{}", rt["schema"].as_str().unwrap()),
        )
        .await;
        for ext in rt["schemaExtensions"].as_array().unwrap() {
            get_ok(
                &app,
                &format!("/Schemas/{}", ext["schema"].as_str().unwrap()),
            )
            .await;
        }
    }

    let one = get_ok(&app, "/ResourceTypes/User").await;
    assert_eq!(&one, user);
    app.get("/ResourceTypes/Nope")
        .await
        .expect_error(StatusCode::NOT_FOUND, None);
    app
}

async fn discovery_needs_the_tenants_token(app: TestApp) -> TestApp {
    let (_, other_token) = app.other_tenant("globex").await;
    for path in [
        "/ServiceProviderConfig".to_owned(),
        "/Schemas".to_owned(),
        format!("/Schemas/{USER}"),
        "/ResourceTypes".to_owned(),
        "/ResourceTypes/User".to_owned(),
    ] {
        let url = format!("{}{path}", app.tenant_url);
        let none = Reply::from(app.http.request(Method::GET, &url).send().await.unwrap()).await;
        let none = none.expect_error(StatusCode::UNAUTHORIZED, None);
        assert!(
            none.header("www-authenticate")
                .unwrap()
                .starts_with("Bearer"),
            "{path}"
        );
        let foreign = Reply::from(
            app.http
                .get(&url)
                .bearer_auth(&other_token)
                .send()
                .await
                .unwrap(),
        )
        .await;
        foreign.expect_error(StatusCode::UNAUTHORIZED, None);
        let garbage = Reply::from(
            app.http
                .get(&url)
                .bearer_auth("garbage")
                .send()
                .await
                .unwrap(),
        )
        .await;
        garbage.expect_error(StatusCode::UNAUTHORIZED, None);
    }
    app
}

/// What `/Schemas` calls writable is what PUT/POST keep: every simple readWrite User attribute
/// that is returned by default round-trips.
async fn every_advertised_writable_string_attribute_round_trips(app: TestApp) -> TestApp {
    let user = get_ok(&app, &format!("/Schemas/{USER}")).await;
    let enterprise = get_ok(&app, &format!("/Schemas/{ENTERPRISE}")).await;
    let writable = |schema: &Value| -> Vec<String> {
        schema["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["type"] == "string" && a["multiValued"] == false)
            .filter(|a| a["mutability"] == "readWrite" && a["returned"] == "default")
            .map(|a| a["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let mut body = json!({"userName": "discovered@example.com"});
    let core = writable(&user);
    assert!(core.len() >= 8, "{core:?}");
    for name in &core {
        if name != "userName" {
            body[name.as_str()] = json!(format!("value of {name}"));
        }
    }
    let ext = writable(&enterprise);
    assert_eq!(ext.len(), 5, "{ext:?}");
    body[ENTERPRISE] = Value::Object(
        ext.iter()
            .map(|n| (n.clone(), json!(format!("value of {n}"))))
            .collect(),
    );
    let id = app.create_user(&body).await;
    let got = app
        .get(&format!("/Users/{id}"))
        .await
        .expect(StatusCode::OK)
        .body;
    for name in &core {
        assert_eq!(got[name.as_str()], body[name.as_str()], "{name}");
    }
    assert_eq!(got[ENTERPRISE], body[ENTERPRISE]);
    app
}

crate::on_both_backends!(
    service_provider_config_describes_what_iris_supports,
    schemas_is_a_list_response_of_user_and_enterprise_user_without_nulls,
    a_schema_is_served_by_its_urn_and_an_unknown_urn_is_404,
    resource_types_list_user_with_the_optional_enterprise_extension,
    discovery_needs_the_tenants_token,
    every_advertised_writable_string_attribute_round_trips,
);
