//! Bearer tokens: `iris_<id>_<secret>` for a tenant, `irisop_<id>_<secret>` for an operator. The
//! id locates the row; the 256-bit secret is stored only as its SHA-256 and compared in constant
//! time. The whole string is shown once, at issue time. The two kinds never parse as each other,
//! so a tenant token cannot even be looked up as an operator token, nor the other way round.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::Rng;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Which kind of bearer token: the prefix tells them apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// A tenant's token, for its SCIM endpoints.
    Tenant,
    /// An operator's token, for the admin API.
    Operator,
    /// An OAuth client's secret: it only obtains access tokens at `/oauth/token`, and is never
    /// itself a bearer token.
    ClientSecret,
}

impl TokenKind {
    fn prefix(self) -> &'static str {
        match self {
            Self::Tenant => "iris_",
            Self::Operator => "irisop_",
            Self::ClientSecret => "iriscs_",
        }
    }
}
const ID_BYTES: usize = 8;
const SECRET_BYTES: usize = 32;

/// The public identifier of a token (16 hex characters), safe to show and log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenId(String);

impl TokenId {
    pub fn parse(raw: &str) -> Option<Self> {
        let ok = raw.len() == ID_BYTES * 2
            && raw
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase());
        ok.then(|| Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A freshly generated token: the full secret string (shown once) and what is stored.
pub struct IssuedToken {
    pub id: TokenId,
    pub token: String,
    pub secret_hash: String,
    /// When it stops working (stored format); `None` if it never does.
    pub expires_at: Option<String>,
}

impl std::fmt::Debug for IssuedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the secret, even in debug output.
        f.debug_struct("IssuedToken")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// A fresh random public id (16 hex characters).
pub fn random_id() -> TokenId {
    let mut id = [0u8; ID_BYTES];
    rand::rng().fill_bytes(&mut id);
    TokenId(hex(&id))
}

/// A new tenant token.
pub fn generate() -> IssuedToken {
    generate_kind(TokenKind::Tenant)
}

/// A new token of `kind`.
pub fn generate_kind(kind: TokenKind) -> IssuedToken {
    let mut rng = rand::rng();
    let mut id = [0u8; ID_BYTES];
    let mut secret = [0u8; SECRET_BYTES];
    rng.fill_bytes(&mut id);
    rng.fill_bytes(&mut secret);
    let id = TokenId(hex(&id));
    let secret = URL_SAFE_NO_PAD.encode(secret);
    let token = format!("{}{}_{secret}", kind.prefix(), id.0);
    IssuedToken {
        id,
        secret_hash: hash_secret(&secret),
        token,
        expires_at: None,
    }
}

/// Splits a presented bearer token into its id and secret; `None` if it is not a tenant token.
pub fn split(token: &str) -> Option<(TokenId, &str)> {
    split_kind(TokenKind::Tenant, token)
}

/// Splits a presented bearer token of `kind`; `None` if it is not one.
pub fn split_kind(kind: TokenKind, token: &str) -> Option<(TokenId, &str)> {
    let rest = token.strip_prefix(kind.prefix())?;
    let (id, secret) = rest.split_once('_')?;
    Some((TokenId::parse(id)?, secret))
}

pub fn hash_secret(secret: &str) -> String {
    hex(&Sha256::digest(secret.as_bytes()))
}

/// Constant-time comparison of a presented secret with a stored hash.
pub fn secret_matches(secret: &str, stored_hash: &str) -> bool {
    let presented = hash_secret(secret);
    presented.as_bytes().ct_eq(stored_hash.as_bytes()).into()
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_tokens_split_back_and_verify() {
        let issued = generate();
        let (id, secret) = split(&issued.token).unwrap();
        assert_eq!(id, issued.id);
        assert!(secret_matches(secret, &issued.secret_hash));
        assert!(!secret_matches("nope", &issued.secret_hash));
        assert!(!issued.secret_hash.contains(secret));
    }

    #[test]
    fn foreign_strings_are_not_tokens() {
        for raw in [
            "",
            "Bearer x",
            "iris_",
            "iris_zz_abc",
            "iris_0123456789ABCDEF_x",
            "scim_0123456789abcdef_x",
        ] {
            assert!(split(raw).is_none(), "{raw}");
        }
    }

    #[test]
    fn tenant_and_operator_tokens_never_parse_as_each_other() {
        let tenant = generate_kind(TokenKind::Tenant);
        let operator = generate_kind(TokenKind::Operator);
        assert!(operator.token.starts_with("irisop_"));
        assert!(split_kind(TokenKind::Operator, &tenant.token).is_none());
        assert!(split_kind(TokenKind::Tenant, &operator.token).is_none());
        let (id, secret) = split_kind(TokenKind::Operator, &operator.token).unwrap();
        assert_eq!(id, operator.id);
        assert!(secret_matches(secret, &operator.secret_hash));
    }

    #[test]
    fn client_secrets_are_never_bearer_tokens() {
        let secret = generate_kind(TokenKind::ClientSecret);
        assert!(secret.token.starts_with("iriscs_"));
        assert!(split(&secret.token).is_none());
        assert!(split_kind(TokenKind::Operator, &secret.token).is_none());
        let (id, raw) = split_kind(TokenKind::ClientSecret, &secret.token).unwrap();
        assert_eq!(id, secret.id);
        assert!(secret_matches(raw, &secret.secret_hash));
    }

    #[test]
    fn tokens_are_unique() {
        assert_ne!(generate().token, generate().token);
    }
}
