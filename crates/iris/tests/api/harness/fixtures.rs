//! What clients send, written out as they send it: the SCIM URNs, and the typical bodies of
//! Entra (entra-compat §3.3, §4), the SCIM Validator (§7.2) and RFC 7643's full user.

use serde_json::{Value, json};

pub const SCIM_JSON: &str = "application/scim+json";

pub const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
pub const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
pub const LIST_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
pub const SEARCH_REQUEST: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";
pub const ERROR: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

/// The discovery endpoints (RFC 7644 §4) under a Tenant URL, with one resource of each list.
pub fn discovery_paths() -> [String; 5] {
    [
        "/ServiceProviderConfig".to_owned(),
        "/Schemas".to_owned(),
        format!("/Schemas/{USER}"),
        "/ResourceTypes".to_owned(),
        "/ResourceTypes/User".to_owned(),
    ]
}

/// A PatchOp request with these operations.
pub fn patch_body(ops: Value) -> Value {
    json!({"schemas": [PATCH_OP], "Operations": ops})
}

/// The user Entra creates in entra-compat §3.3, verbatim.
pub fn entra_user() -> Value {
    json!({
        "schemas": [USER, ENTERPRISE],
        "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
        "userName": "Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee",
        "active": true,
        "emails": [{"primary": true, "type": "work",
                    "value": "Test_User_11bb11bb-cc22-dd33-ee44-55ff55ff55ff@testuser.com"}],
        "meta": {"resourceType": "User"},
        "name": {"formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName"},
        "roles": []
    })
}

/// The group Entra creates in entra-compat §4, verbatim: no members, an extra schema URN and a
/// `meta` echo.
pub fn entra_group() -> Value {
    json!({"schemas": [GROUP, "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
           "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
           "displayName": "displayName",
           "meta": {"resourceType": "Group"}})
}

/// A user with a bit of everything, so "nothing else was touched" means something.
pub fn rich_user(user_name: &str) -> Value {
    json!({
        "schemas": [USER, ENTERPRISE],
        "userName": user_name,
        "externalId": "ext-rich",
        "displayName": "Rich User",
        "title": "Engineer",
        "active": true,
        "name": {"givenName": "Rich", "familyName": "User", "formatted": "Rich User"},
        "emails": [
            {"value": "rich@work.example", "type": "work", "primary": true},
            {"value": "rich@home.example", "type": "home"}
        ],
        "phoneNumbers": [{"value": "+1 555 0100", "type": "work"}],
        "addresses": [{"type": "work", "streetAddress": "1 Main St", "locality": "Springfield"}],
        ENTERPRISE: {"department": "R&D", "employeeNumber": "42"}
    })
}

/// A user the SCIM Validator might generate: many optional attributes, string booleans included.
pub fn validator_user(user_name: &str) -> Value {
    json!({
        "schemas": [USER, ENTERPRISE],
        "userName": user_name,
        "active": true,
        "displayName": "Ford Purdy",
        "title": "Analyst",
        "nickName": "Fordy",
        "locale": "en-US",
        "timezone": "Europe/Paris",
        "profileUrl": "https://example.com/ford",
        "userType": "Employee",
        "preferredLanguage": "en",
        "externalId": "ext-ford",
        "name": {"givenName": "Ford", "familyName": "Purdy", "formatted": "Ford Purdy"},
        "emails": [{"type": "work", "value": "ford@work.example", "primary": true}],
        "phoneNumbers": [{"type": "work", "value": "+1 555 0101", "primary": true}],
        "addresses": [{"type": "work", "streetAddress": "2 Elm St", "locality": "Town",
                       "region": "CA", "postalCode": "90001", "country": "US", "primary": true}],
        "roles": [{"primary": "True", "display": "Admin", "value": "admin", "type": "WindowsAzureActiveDirectoryRole"}],
        ENTERPRISE: {"employeeNumber": "77", "department": "Finance", "costCenter": "CC1",
                     "organization": "Org", "division": "Div"}
    })
}

/// RFC 7643 §8.2's full user (Barbara Jensen), every attribute set, reporting to `manager`.
pub fn full_user(manager: &str) -> Value {
    json!({
        "schemas": [USER, ENTERPRISE],
        "userName": "Barbara.Jensen@example.com",
        "externalId": "bjensen-0001",
        "name": {
            "formatted": "Ms. Barbara J Jensen, III",
            "familyName": "Jensen",
            "givenName": "Barbara",
            "middleName": "Jane",
            "honorificPrefix": "Ms.",
            "honorificSuffix": "III"
        },
        "displayName": "Babs Jensen",
        "nickName": "Babs",
        "profileUrl": "https://login.example.com/bjensen",
        "title": "Tour Guide",
        "userType": "Employee",
        "preferredLanguage": "en-US",
        "locale": "en-US",
        "timezone": "America/Los_Angeles",
        "active": true,
        "emails": [
            {"value": "bjensen@example.com", "type": "work", "primary": true, "display": "Work mail"},
            {"value": "babs@jensen.org", "type": "home"}
        ],
        "phoneNumbers": [
            {"value": "+1 555 555 5555", "type": "work"},
            {"value": "+1 555 555 4444", "type": "mobile"}
        ],
        "ims": [{"value": "someaimhandle", "type": "aim"}],
        "photos": [{"value": "https://photos.example.com/profilephoto/72930000000Ccne/F", "type": "photo"}],
        "addresses": [{
            "type": "work",
            "streetAddress": "100 Universal City Plaza",
            "locality": "Hollywood",
            "region": "CA",
            "postalCode": "91608",
            "country": "USA",
            "formatted": "100 Universal City Plaza\nHollywood, CA 91608 USA",
            "primary": true
        }],
        "entitlements": [{"value": "Standard"}],
        "roles": [{"value": "Tour Guide", "type": "WindowsAzureActiveDirectoryRole", "primary": true}],
        "x509Certificates": [{"value": "MIIDQzCCAqygAwIBAgICEAAwDQYJKoZIhvcNAQEFBQAwTjELMAkGA1UEBhMCVVMx"}],
        ENTERPRISE: {
            "employeeNumber": "701984",
            "costCenter": "4130",
            "organization": "Universal Studios",
            "division": "Theme Park",
            "department": "Tour Operations",
            "manager": {"value": manager}
        }
    })
}
