//! Operator accounts of the admin console: a name and an argon2id-hashed password, signed in to
//! sessions kept in the database (so every `iris serve` process sharing it honours them), with a
//! lockout that backs off after repeated failures. `iris admin user …` and the console both go
//! through [`AccountService`].

use std::sync::Arc;

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use iris_scim::ScimError;
use rand::Rng;
use subtle::ConstantTimeEq;
use time::{Duration, OffsetDateTime};

use crate::clock;
use crate::error::{CoreError, CoreResult, StoreError};
use crate::store::{AccountRow, SessionRow, Store};
use crate::tokens::hash_secret;

/// Failed sign-ins in a row an account may have before it is locked.
pub const FAILURES_BEFORE_LOCKOUT: i64 = 5;
/// The first lockout; each further failure doubles it, up to [`MAX_LOCKOUT`].
pub const FIRST_LOCKOUT: Duration = Duration::seconds(30);
pub const MAX_LOCKOUT: Duration = Duration::minutes(15);
/// A session ends after this long without a request…
pub const SESSION_IDLE: Duration = Duration::hours(1);
/// …and at the latest this long after sign-in.
pub const SESSION_MAX: Duration = Duration::hours(12);
/// How often a session's `last_seen` is written at most (each write extends its idle deadline).
const SESSION_TOUCH_INTERVAL: Duration = Duration::minutes(1);
/// The shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 12;
/// The longest (argon2 accepts more, but hashing megabytes on request is a denial of service).
pub const MAX_PASSWORD_BYTES: usize = 1024;

const SESSION_SECRET_BYTES: usize = 32;

/// An account name: 1–64 of `a-z 0-9 . _ @ -`, compared without case (stored lowercased).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountName(String);

impl AccountName {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let name = raw.trim().to_lowercase();
        let ok = !name.is_empty()
            && name.len() <= 64
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._@-".contains(&b));
        if ok {
            Ok(Self(name))
        } else {
            Err(format!(
                "'{raw}' is not an account name: use 1 to 64 of a-z, 0-9, '.', '_', '@' and '-'"
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A password good enough to store: at least [`MIN_PASSWORD_CHARS`] characters. Never printed.
pub struct Password(String);

impl Password {
    pub fn parse(raw: &str) -> Result<Self, String> {
        if raw.chars().count() < MIN_PASSWORD_CHARS {
            return Err(format!(
                "the password must have at least {MIN_PASSWORD_CHARS} characters"
            ));
        }
        if raw.len() > MAX_PASSWORD_BYTES {
            return Err(format!(
                "the password must have at most {MAX_PASSWORD_BYTES} bytes"
            ));
        }
        Ok(Self(raw.to_owned()))
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(…)")
    }
}

/// An account's public facts (never its password hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub name: String,
    pub created: String,
    pub last_sign_in: Option<String>,
    pub locked_until: Option<String>,
}

impl From<AccountRow> for Account {
    fn from(row: AccountRow) -> Self {
        Self {
            name: row.name,
            created: row.created,
            last_sign_in: row.last_sign_in,
            locked_until: row.locked_until,
        }
    }
}

/// Why a sign-in was refused. Deliberately coarse: a wrong name and a wrong password look alike.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignInRefusal {
    /// The name or the password is wrong.
    Invalid,
    /// Too many failures: sign-ins are refused until then (the stored time format).
    LockedUntil(String),
}

/// A new session: the secret goes into the cookie and is never stored.
pub struct NewSession {
    pub secret: String,
    pub account: String,
}

impl std::fmt::Debug for NewSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewSession")
            .field("account", &self.account)
            .finish_non_exhaustive()
    }
}

/// A live session a request presented.
#[derive(Debug, Clone)]
pub struct Session {
    pub account: String,
    id_hash: String,
    /// The token every state-changing form must carry (derived from the secret).
    csrf_token: String,
}

impl Session {
    pub fn csrf_token(&self) -> &str {
        &self.csrf_token
    }

    /// Whether a submitted form's token is this session's (in constant time).
    pub fn csrf_matches(&self, presented: &str) -> bool {
        presented
            .as_bytes()
            .ct_eq(self.csrf_token.as_bytes())
            .into()
    }
}

/// The CSRF token of a session: a hash of its secret under a label of its own, so it is stable
/// for the session, needs no storage, and reveals nothing that opens the session.
fn csrf_token_of(secret: &str) -> String {
    hash_secret(&format!("iris-console-csrf:{secret}"))
}

#[derive(Clone)]
pub struct AccountService {
    store: Arc<dyn Store>,
}

impl AccountService {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self { store }
    }

    /// Creates an account; 409 `uniqueness` if one of that name exists.
    pub async fn create(&self, name: &AccountName, password: Password) -> CoreResult<Account> {
        let row = AccountRow {
            id: uuid::Uuid::now_v7().to_string(),
            name: name.as_str().to_owned(),
            password_hash: hash_password(password).await?,
            created: clock::now(),
            failed_sign_ins: 0,
            locked_until: None,
            last_sign_in: None,
        };
        match self.store.insert_account(&row).await {
            Ok(()) => Ok(row.into()),
            Err(StoreError::Conflict) => Err(ScimError::uniqueness(format!(
                "an account named '{}' exists",
                name.as_str()
            ))
            .into()),
            Err(e) => Err(e.into()),
        }
    }

    /// Every account, by name.
    pub async fn list(&self) -> CoreResult<Vec<Account>> {
        let rows = self.store.accounts().await?;
        Ok(rows.into_iter().map(Account::from).collect())
    }

    /// Sets a new password, lifts a lockout and ends the account's sessions.
    pub async fn set_password(&self, name: &AccountName, password: Password) -> CoreResult<()> {
        let hash = hash_password(password).await?;
        if self
            .store
            .set_account_password(name.as_str(), &hash)
            .await?
        {
            Ok(())
        } else {
            Err(no_such_account(name))
        }
    }

    /// Deletes an account and ends its sessions.
    pub async fn delete(&self, name: &AccountName) -> CoreResult<()> {
        if self.store.delete_account(name.as_str()).await? {
            Ok(())
        } else {
            Err(no_such_account(name))
        }
    }

    /// Checks a name and password and opens a session. A locked account is refused without
    /// looking at the password; an unknown name costs the same hashing as a known one.
    pub async fn sign_in(
        &self,
        name: &str,
        password: &str,
    ) -> CoreResult<Result<NewSession, SignInRefusal>> {
        let now = OffsetDateTime::now_utc();
        let account = match AccountName::parse(name) {
            Ok(name) => self.store.account_by_name(name.as_str()).await?,
            Err(_) => None,
        };
        let Some(account) = account else {
            // Spend the time a real check takes, so the answer's timing tells no names.
            let dummy = tokio::task::spawn_blocking(dummy_hash)
                .await
                .unwrap_or_default();
            verify_password(password.to_owned(), dummy).await?;
            return Ok(Err(SignInRefusal::Invalid));
        };
        let now_text = clock::format(now);
        if let Some(until) = &account.locked_until
            && until.as_str() > now_text.as_str()
        {
            return Ok(Err(SignInRefusal::LockedUntil(until.clone())));
        }
        let password = password.get(..MAX_PASSWORD_BYTES).unwrap_or(password);
        if !verify_password(password.to_owned(), account.password_hash.clone()).await? {
            let failures = self.store.count_failed_sign_in(&account.id).await?;
            if let Some(lockout) = lockout_after(failures) {
                let until = clock::format(now + lockout);
                self.store.lock_account(&account.id, &until).await?;
                tracing::warn!(
                    account = %account.name,
                    failures,
                    until = %until,
                    "console account locked after repeated failed sign-ins"
                );
                return Ok(Err(SignInRefusal::LockedUntil(until)));
            }
            return Ok(Err(SignInRefusal::Invalid));
        }
        self.store.record_sign_in(&account.id, &now_text).await?;
        let secret = new_secret();
        let session = SessionRow {
            id_hash: hash_secret(&secret),
            account_id: account.id.clone(),
            created: now_text.clone(),
            last_seen: now_text,
            expires_at: clock::format(now + SESSION_IDLE),
        };
        self.store.insert_session(&session).await?;
        Ok(Ok(NewSession {
            secret,
            account: account.name,
        }))
    }

    /// The live session whose cookie carries `secret`, extending its idle deadline (at most once
    /// a minute); `None` for an unknown, signed-out or expired one.
    pub async fn session(&self, secret: &str) -> CoreResult<Option<Session>> {
        let id_hash = hash_secret(secret);
        let Some((row, account)) = self.store.session(&id_hash).await? else {
            return Ok(None);
        };
        let now = OffsetDateTime::now_utc();
        let now_text = clock::format(now);
        if row.expires_at.as_str() <= now_text.as_str() {
            self.store.delete_session(&id_hash).await?;
            return Ok(None);
        }
        let touched_long_ago =
            parse_time(&row.last_seen).is_none_or(|seen| now - seen >= SESSION_TOUCH_INTERVAL);
        if touched_long_ago {
            let latest = parse_time(&row.created).map_or(now, |created| created + SESSION_MAX);
            let expires = (now + SESSION_IDLE).min(latest);
            self.store
                .touch_session(&id_hash, &now_text, &clock::format(expires))
                .await?;
        }
        Ok(Some(Session {
            account,
            id_hash,
            csrf_token: csrf_token_of(secret),
        }))
    }

    /// Whether a session is still open (not signed out, not expired), for long-lived requests.
    pub async fn still_live(&self, session: &Session) -> CoreResult<bool> {
        let now = clock::now();
        Ok(self
            .store
            .session(&session.id_hash)
            .await?
            .is_some_and(|(row, _)| row.expires_at.as_str() > now.as_str()))
    }

    /// Ends a session in every process.
    pub async fn sign_out(&self, session: &Session) -> CoreResult<()> {
        self.store.delete_session(&session.id_hash).await?;
        Ok(())
    }

    /// Deletes expired sessions (what `iris serve` does periodically); how many.
    pub async fn purge_expired_sessions(&self) -> CoreResult<u64> {
        Ok(self.store.delete_expired_sessions(&clock::now()).await?)
    }
}

fn no_such_account(name: &AccountName) -> CoreError {
    ScimError::not_found(format!("no account named '{}'", name.as_str())).into()
}

/// How long an account is locked after its `failures`-th failure in a row, if at all: from the
/// fifth on, 30 s, then doubling up to 15 minutes.
pub fn lockout_after(failures: i64) -> Option<Duration> {
    let beyond = failures - FAILURES_BEFORE_LOCKOUT;
    if beyond < 0 {
        return None;
    }
    let factor = 1i32 << beyond.min(10);
    Some((FIRST_LOCKOUT * factor).min(MAX_LOCKOUT))
}

fn parse_time(stored: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(stored, &time::format_description::well_known::Rfc3339).ok()
}

fn new_secret() -> String {
    let mut secret = [0u8; SESSION_SECRET_BYTES];
    rand::rng().fill_bytes(&mut secret);
    URL_SAFE_NO_PAD.encode(secret)
}

/// An argon2id hash of a random password nobody has, made once per process and checked against
/// when the name is unknown, so that both cases cost the same.
fn dummy_hash() -> String {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY
        .get_or_init(|| {
            Argon2::default()
                .hash_password(new_secret().as_bytes())
                .map(|hash| hash.to_string())
                .unwrap_or_default()
        })
        .clone()
}

/// Hashes off the async workers: argon2 takes tens of milliseconds of CPU by design.
async fn hash_password(password: Password) -> CoreResult<String> {
    tokio::task::spawn_blocking(move || {
        Argon2::default()
            .hash_password(password.0.as_bytes())
            .map(|hash| hash.to_string())
    })
    .await
    .map_err(|e| StoreError::Database(format!("password hashing task: {e}")))?
    .map_err(|e| StoreError::Database(format!("password hashing: {e}")).into())
}

async fn verify_password(password: String, stored: String) -> CoreResult<bool> {
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&stored).is_ok_and(|hash| {
            Argon2::default()
                .verify_password(password.as_bytes(), &hash)
                .is_ok()
        })
    })
    .await
    .map_err(|e| StoreError::Database(format!("password check task: {e}")).into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_names_are_lowercased_and_restricted() {
        assert_eq!(AccountName::parse(" Alice ").unwrap().as_str(), "alice");
        assert!(AccountName::parse("ops@example.com").is_ok());
        for bad in ["", "a b", "x/y", &"a".repeat(65)] {
            assert!(AccountName::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn short_passwords_are_refused() {
        assert!(Password::parse("short").is_err());
        assert!(Password::parse("twelve chars").is_ok());
        assert!(Password::parse(&"x".repeat(MAX_PASSWORD_BYTES + 1)).is_err());
    }

    #[test]
    fn lockout_starts_at_the_fifth_failure_and_backs_off_to_a_ceiling() {
        assert_eq!(lockout_after(4), None);
        assert_eq!(lockout_after(5), Some(Duration::seconds(30)));
        assert_eq!(lockout_after(6), Some(Duration::seconds(60)));
        assert_eq!(lockout_after(7), Some(Duration::seconds(120)));
        assert_eq!(lockout_after(50), Some(MAX_LOCKOUT));
    }

    #[test]
    fn the_dummy_hash_is_a_valid_argon2id_hash() {
        let dummy = dummy_hash();
        let hash = PasswordHash::new(&dummy).unwrap();
        assert_eq!(hash.algorithm.as_str(), "argon2id");
        assert!(
            Argon2::default()
                .verify_password(b"anything", &hash)
                .is_err()
        );
    }

    #[test]
    fn csrf_tokens_differ_per_session_and_from_the_secret() {
        let (a, b) = (new_secret(), new_secret());
        assert_ne!(csrf_token_of(&a), csrf_token_of(&b));
        assert_ne!(csrf_token_of(&a), hash_secret(&a));
        assert!(!csrf_token_of(&a).contains(&a));
    }
}
