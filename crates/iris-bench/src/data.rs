//! Entra-shaped data: tenants with known tokens, users, request bodies, and the JSON Lines file
//! `iris import` reads (see `iris-core/src/transfer.rs`).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result};
use bytes::Bytes;
use hyper::header::HeaderValue;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const ENTERPRISE_SCHEMA: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
pub const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub const PATCH_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
pub const LIST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";

/// A fixed instant for seeded rows (the stored format of `iris-core/src/clock.rs`).
pub const SEED_TIME: &str = "2026-11-01T08:00:00.000Z";

/// One tenant as both servers know it: same name, same token (the limit server ignores it).
#[derive(Debug, Clone)]
pub struct TenantRef {
    pub name: String,
    /// Number used in this tenant's user ids.
    pub index: u32,
    /// `Bearer iris_<id>_<secret>`.
    pub auth: HeaderValue,
    pub token_id: String,
    pub secret_hash: String,
    /// Users seeded into it.
    pub users: usize,
}

pub type Tenant = Arc<TenantRef>;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A small deterministic mixer (splitmix64), so runs are reproducible without an RNG crate.
pub fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

impl TenantRef {
    pub fn new(name: &str, index: u32, users: usize) -> Result<Self> {
        let token_id = format!("{:016x}", mix(u64::from(index) ^ 0xbe4c_0000));
        let secret = format!(
            "{:016x}{:016x}{:016x}",
            mix(u64::from(index) + 1),
            mix(u64::from(index) + 2),
            mix(u64::from(index) + 3)
        );
        let secret_hash = hex(&Sha256::digest(secret.as_bytes()));
        let auth = HeaderValue::from_str(&format!("Bearer iris_{token_id}_{secret}"))
            .context("token header")?;
        Ok(Self {
            name: name.to_owned(),
            index,
            auth,
            token_id,
            secret_hash,
            users,
        })
    }

    pub fn base(&self) -> String {
        format!("/scim/v2/{}", self.name)
    }

    /// Tenant ids as Iris makes them (32 hex digits).
    pub fn tenant_id(&self) -> String {
        format!(
            "{:016x}{:016x}",
            mix(u64::from(self.index) ^ 0x7e7a),
            u64::from(self.index)
        )
    }
}

/// A user's id: UUID-shaped, ordered by index (Iris's own ids are time-ordered UUIDv7s).
pub fn user_id(tenant: u32, i: u64) -> String {
    format!("0190a000-{:04x}-7000-8000-{:012x}", tenant & 0xffff, i)
}

pub fn user_name(tenant: &str, i: u64) -> String {
    format!("user{i:06}@{tenant}.example.com")
}

/// A name that no seeded user has, as Entra's Test Connection and initial cycle ask for.
pub fn missing_user_name(seed: u64) -> String {
    let a = mix(seed);
    let b = mix(seed ^ 0x5555);
    format!(
        "Test_User_{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xffff,
        b >> 48,
        b & 0xffff_ffff_ffff
    )
}

fn uuidish(seed: u64) -> String {
    let a = mix(seed ^ 0xe4e4);
    let b = mix(seed ^ 0x1d1d);
    format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        (b >> 48) & 0xfff,
        b & 0xffff_ffff_ffff
    )
}

/// The user document Entra POSTs (entra-compat §3.3), for user `user_name`.
pub fn entra_user(user_name: &str, seed: u64) -> Value {
    let given = format!("Given{}", seed % 9973);
    let family = format!("Family{}", seed % 7919);
    json!({
        "schemas": [USER_SCHEMA, ENTERPRISE_SCHEMA],
        "externalId": uuidish(seed),
        "userName": user_name,
        "active": true,
        "displayName": format!("{given} {family}"),
        "emails": [{"primary": true, "type": "work", "value": user_name}],
        "meta": {"resourceType": "User"},
        "name": {"formatted": format!("{given} {family}"), "familyName": family, "givenName": given},
        "roles": [],
        ENTERPRISE_SCHEMA: {"employeeNumber": format!("{}", 100_000 + seed), "department": format!("Department {}", seed % 40)}
    })
}

/// Entra's encoding of `filter=userName eq "…"`: spaces as `+`, quotes as `%22`, the rest
/// percent-encoded.
pub fn filter_query(attr: &str, value: &str) -> String {
    let mut out = String::from("filter=");
    out.push_str(attr);
    out.push_str("+eq+%22");
    for b in value.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out.push_str("%22");
    out
}

pub fn body(v: &Value) -> Bytes {
    Bytes::from(v.to_string())
}

/// Entra's match-path update (entra-compat §3.5.1, default job: capitalised ops, one op per
/// attribute).
pub fn patch_match_update(user_name: &str, seed: u64) -> Bytes {
    body(&json!({
        "schemas": [PATCH_SCHEMA],
        "Operations": [
            {"op": "Replace", "path": "displayName", "value": format!("Updated {seed}")},
            {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": user_name},
            {"op": "Replace", "path": "name.givenName", "value": format!("G{}", seed % 1000)},
            {"op": "Replace", "path": "name.familyName", "value": format!("F{}", seed % 1000)},
            {"op": "Replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber", "value": format!("{}", 200_000 + seed)}
        ]
    }))
}

/// The three incremental PATCHes of W3.
pub fn patch_incremental(kind: u64, user_name: &str, seed: u64) -> Bytes {
    match kind % 3 {
        0 => body(&json!({
            "schemas": [PATCH_SCHEMA],
            "Operations": [{"op": "Replace", "path": "active", "value": "False"}]
        })),
        1 => body(&json!({
            "schemas": [PATCH_SCHEMA],
            "Operations": [{"op": "Replace", "path": "displayName", "value": format!("Renamed {seed}")}]
        })),
        _ => body(&json!({
            "schemas": [PATCH_SCHEMA],
            "Operations": [{"op": "Replace", "path": "emails[type eq \"work\"].value", "value": format!("w{seed}.{user_name}")}]
        })),
    }
}

/// Entra's group create: always without members (entra-compat §4).
pub fn group_create(display_name: &str, seed: u64) -> Bytes {
    body(&json!({
        "schemas": [GROUP_SCHEMA, "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
        "externalId": uuidish(seed ^ 0x6666),
        "displayName": display_name,
        "meta": {"resourceType": "Group"}
    }))
}

/// Entra's member add / default-job member remove (value array, `$ref` null).
pub fn group_members_patch(op: &str, member_ids: &[String]) -> Bytes {
    let values: Vec<Value> = member_ids
        .iter()
        .map(|id| json!({"$ref": null, "value": id}))
        .collect();
    body(&json!({
        "schemas": [PATCH_SCHEMA],
        "Operations": [{"op": op, "path": "members", "value": values}]
    }))
}

/// Member remove as sent with `aadOptscim062020`.
pub fn group_member_remove_flag(member_id: &str) -> Bytes {
    body(&json!({
        "schemas": [PATCH_SCHEMA],
        "Operations": [{"op": "remove", "path": format!("members[value eq \"{member_id}\"]")}]
    }))
}

/// Writes a tenant export (header, tenant, token, `users` users) for `iris import`.
pub fn write_import_file(path: &Path, tenant: &TenantRef) -> Result<()> {
    let file = File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    let mut line = |v: &Value| -> Result<()> {
        serde_json::to_writer(&mut out, v)?;
        out.write_all(b"\n")?;
        Ok(())
    };
    line(&json!({"kind": "header", "format": "iris-tenant-export", "version": 1}))?;
    line(
        &json!({"kind": "tenant", "id": tenant.tenant_id(), "name": tenant.name, "created": SEED_TIME, "disabled_at": null}),
    )?;
    line(&json!({
        "kind": "token", "id": tenant.token_id, "label": "iris-bench", "secret_hash": tenant.secret_hash,
        "created": SEED_TIME, "last_used": null, "revoked_at": null
    }))?;
    for i in 0..tenant.users as u64 {
        let mut doc = entra_user(&user_name(&tenant.name, i), i);
        if let Some(obj) = doc.as_object_mut() {
            obj.remove("meta");
        }
        line(&json!({
            "kind": "user", "id": user_id(tenant.index, i), "created": SEED_TIME,
            "last_modified": SEED_TIME, "version": 1, "doc": doc
        }))?;
    }
    out.flush()?;
    Ok(())
}

/// W10's noise: a PATCH at Iris's limits — 1,000 operations, the first removing every e-mail,
/// the other 999 adding new ones (so each request rewrites 999 values and their index rows).
pub fn patch_maximal(seq: u64) -> Bytes {
    let mut ops = Vec::with_capacity(1_000);
    ops.push(json!({"op": "remove", "path": "emails"}));
    ops.extend((0..999).map(|i| {
        json!({"op": "add", "path": "emails", "value": [{"value": format!("n{seq}-{i}@noise.example")}]})
    }));
    body(&json!({"schemas": [PATCH_SCHEMA], "Operations": ops}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_are_encoded_as_entra_sends_them() {
        assert_eq!(
            filter_query("userName", "user000001@big.example.com"),
            "filter=userName+eq+%22user000001%40big.example.com%22"
        );
    }

    #[test]
    fn tokens_hash_their_secret() -> Result<()> {
        let t = TenantRef::new("big", 1, 10)?;
        let header = t.auth.to_str()?;
        let secret = header.rsplit('_').next().context("secret")?;
        assert_eq!(hex(&Sha256::digest(secret.as_bytes())), t.secret_hash);
        assert_eq!(t.token_id.len(), 16);
        Ok(())
    }
}
