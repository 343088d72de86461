//! Errors of the domain layer. Client mistakes are `ScimError`s; everything else is a store failure
//! that the HTTP edge logs and answers generically.

use iris_scim::ScimError;

/// What a storage backend can report. Constraint violations are detected by kind, not by message,
/// so both backends map them the same way.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("unique constraint violated")]
    Conflict,
    #[error("row not found")]
    NotFound,
    #[error("version changed concurrently")]
    VersionMismatch,
    /// A transaction lost to a concurrent one (deadlock, serialisation failure, a busy
    /// database) more often than the store retries it: safe to retry later.
    #[error("the database is busy: {0}")]
    Busy(String),
    /// The database cannot be reached (down, restarting, no connection in time): safe to
    /// retry once it is back.
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    #[error("database error: {0}")]
    Database(String),
}

#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    #[error(transparent)]
    Scim(#[from] ScimError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl CoreError {
    /// The client-facing form; store failures become a generic 500 (the caller logs the cause).
    pub fn to_scim(&self) -> ScimError {
        match self {
            Self::Scim(e) => e.clone(),
            Self::Store(StoreError::Conflict) => {
                ScimError::uniqueness("a resource with that value already exists")
            }
            Self::Store(StoreError::NotFound) => ScimError::not_found("resource not found"),
            Self::Store(StoreError::VersionMismatch) => {
                ScimError::precondition_failed("the resource was modified by another request")
            }
            Self::Store(StoreError::Busy(_)) => ScimError::new(
                503,
                None,
                "the database is busy with concurrent changes to the same resources; retry",
            ),
            Self::Store(StoreError::Unavailable(_)) => ScimError::new(
                503,
                None,
                "the database is unavailable at the moment; retry shortly",
            ),
            Self::Store(StoreError::Database(_)) => ScimError::internal(),
        }
    }
}

pub type CoreResult<T> = Result<T, CoreError>;
