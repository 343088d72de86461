//! Group commit for SQLite: one `fsync` of the write-ahead log makes every transaction committed
//! before it durable, so concurrent writers share the cost of a disk flush instead of queueing for
//! one each.
//!
//! The writer connection runs with `synchronous=NORMAL`: a commit appends its frames to the WAL
//! and returns without flushing. Before Iris acknowledges a write, [`WalSync::sync_through`]
//! ensures an `fsync` of the WAL that *started after the commit returned* has completed; that is
//! exactly the guarantee `synchronous=FULL` gives (it syncs the WAL at every commit), with the
//! flushes of concurrent commits merged. `fsync` acts on the file, not the descriptor, so syncing
//! through our own handle covers frames SQLite wrote through its own. Checkpoints stay safe: under
//! `NORMAL`, SQLite syncs the WAL before a checkpoint and the database file after it.

use std::fs::File;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use iris_core::StoreError;
use tokio::sync::Mutex;

use crate::store_metrics::GroupCommitMetrics;

pub struct WalSync {
    wal_path: PathBuf,
    /// Commits whose durability has been asked for so far (tickets are handed out in order).
    committed: AtomicU64,
    /// Every ticket up to this one is durable.
    synced: AtomicU64,
    /// Held while one flush runs; the WAL handle is reopened if SQLite recreated the file.
    flusher: Mutex<Option<File>>,
    /// Flushes performed, for tests and diagnostics.
    flushes: AtomicU64,
    /// Flushes and the writes each made durable, for `/metrics`.
    metrics: GroupCommitMetrics,
}

impl WalSync {
    /// The group-commit syncer for the SQLite database at `url`, or `None` for one that lives in
    /// memory (nothing to make durable).
    pub fn for_url(url: &str) -> Option<Arc<Self>> {
        let path = sqlite_path(url)?;
        let mut wal = path.into_os_string();
        wal.push("-wal");
        Some(Arc::new(Self {
            wal_path: PathBuf::from(wal),
            committed: AtomicU64::new(0),
            synced: AtomicU64::new(0),
            flusher: Mutex::new(None),
            flushes: AtomicU64::new(0),
            metrics: GroupCommitMetrics::register(),
        }))
    }

    /// Call after a write transaction committed; returns once that commit is on disk.
    pub async fn sync_through_now(&self) -> Result<(), StoreError> {
        let ticket = self.committed.fetch_add(1, Ordering::SeqCst) + 1;
        let mut handle = self.flusher.lock().await;
        if self.synced.load(Ordering::SeqCst) >= ticket {
            // A flush that started after this commit has completed meanwhile.
            return Ok(());
        }
        // Every commit with a ticket up to here returned before this flush starts.
        let upto = self.committed.load(Ordering::SeqCst);
        // Only a flush (under this lock) moves `synced`: what lies between is this flush's.
        let already = self.synced.load(Ordering::SeqCst);
        let file = match handle.take() {
            Some(file) if same_file(&file, &self.wal_path) => file,
            _ => match File::open(&self.wal_path) {
                Ok(file) => file,
                // SQLite removes the WAL only when the last connection closes, after checkpointing
                // it into the database file and syncing that: the commit is on disk already.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    self.synced.fetch_max(upto, Ordering::SeqCst);
                    return Ok(());
                }
                Err(e) => return Err(flush_error(&self.wal_path, &e)),
            },
        };
        let (file, outcome) = tokio::task::spawn_blocking(move || {
            let outcome = file.sync_data();
            (file, outcome)
        })
        .await
        .map_err(|e| StoreError::Database(format!("the WAL flush did not finish: {e}")))?;
        outcome.map_err(|e| flush_error(&self.wal_path, &e))?;
        *handle = Some(file);
        self.flushes.fetch_add(1, Ordering::Relaxed);
        self.metrics.flushed(upto.saturating_sub(already));
        self.synced.fetch_max(upto, Ordering::SeqCst);
        Ok(())
    }

    /// Flushes performed so far.
    pub fn flushes(&self) -> u64 {
        self.flushes.load(Ordering::Relaxed)
    }
}

fn flush_error(path: &std::path::Path, e: &std::io::Error) -> StoreError {
    StoreError::Database(format!("flushing {}: {e}", path.display()))
}

/// Whether `file` is still the file at `path` (SQLite deletes the WAL when the last connection to
/// the database closes and creates a new one on the next open).
fn same_file(file: &File, path: &std::path::Path) -> bool {
    match (file.metadata(), std::fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.ino() == b.ino() && a.dev() == b.dev(),
        _ => false,
    }
}

/// The file path of a `sqlite:` URL, unless it names an in-memory database.
fn sqlite_path(url: &str) -> Option<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    if path.is_empty() || path == ":memory:" || query.contains("mode=memory") {
        return None;
    }
    Some(PathBuf::from(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_come_from_file_urls_only() {
        assert_eq!(
            sqlite_path("sqlite:///var/lib/iris/iris.db?mode=rwc"),
            Some(PathBuf::from("/var/lib/iris/iris.db"))
        );
        assert_eq!(
            sqlite_path("sqlite://iris.db"),
            Some(PathBuf::from("iris.db"))
        );
        assert_eq!(
            sqlite_path("sqlite:iris.db"),
            Some(PathBuf::from("iris.db"))
        );
        assert_eq!(sqlite_path("sqlite::memory:"), None);
        assert_eq!(sqlite_path("sqlite://x.db?mode=memory"), None);
        assert_eq!(sqlite_path("postgres://h/db"), None);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_commits_share_flushes_and_each_waits_for_one_after_it() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("t.db");
        std::fs::write(dir.path().join("t.db-wal"), b"frames").unwrap();
        let sync = WalSync::for_url(&format!("sqlite://{}", db.display())).unwrap();
        let mut tasks = Vec::new();
        for _ in 0..64 {
            let sync = sync.clone();
            tasks.push(tokio::spawn(async move {
                sync.sync_through_now().await.unwrap();
                // Whatever ticket this commit got, a completed flush covers it.
                assert!(sync.synced.load(Ordering::SeqCst) >= 1);
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let flushes = sync.flushes();
        assert!((1..=64).contains(&flushes), "{flushes}");
        assert_eq!(
            sync.synced.load(Ordering::SeqCst),
            64,
            "every commit is covered"
        );
        // A later commit always gets a flush of its own.
        sync.sync_through_now().await.unwrap();
        assert_eq!(sync.flushes(), flushes + 1);
        assert_eq!(sync.synced.load(Ordering::SeqCst), 65);
    }

    #[tokio::test]
    async fn a_recreated_wal_is_reopened() {
        let dir = tempfile::tempdir().unwrap();
        let wal = dir.path().join("t.db-wal");
        std::fs::write(&wal, b"a").unwrap();
        let sync =
            WalSync::for_url(&format!("sqlite://{}", dir.path().join("t.db").display())).unwrap();
        sync.sync_through_now().await.unwrap();
        let flushes = sync.flushes();
        std::fs::remove_file(&wal).unwrap();
        // Gone: SQLite checkpointed and synced it into the database before removing it.
        sync.sync_through_now().await.unwrap();
        assert_eq!(sync.flushes(), flushes);
        std::fs::write(&wal, b"b").unwrap();
        sync.sync_through_now().await.unwrap();
        assert_eq!(
            sync.flushes(),
            flushes + 1,
            "the new file is opened and flushed"
        );
    }
}
