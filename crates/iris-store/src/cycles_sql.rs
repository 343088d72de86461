//! Provisioning cycles in SQL: request counts added by every process under the tenant's row
//! lock, change counts taken from the events recorded since the last addition, and the kind
//! worked out again each time (iris-core's `classify`).

use iris_core::StoreError;
use iris_core::provisioning::{
    ActivitySegment, Cycle, CycleCounts, CycleKind, CycleSettings, Operation, classify, id_bound,
};
use iris_core::store::TenantScope;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AssertSqlSafe, Row};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::dialect::Dialect;
use crate::rows::db_error;
use crate::sql_store::SqlStore;

const COLUMNS: &str = "id, kind, started, ended, requests, probes, queries, failures, unauthorized, \
     creates, updates, disables, enables, deletes, opened_with_probe, users_at_start, counted_through";

/// A cycle row and the newest event already counted in it.
struct Row_ {
    cycle: Cycle,
    counted_through: String,
}

fn count(row: &AnyRow, name: &str) -> Result<u64, StoreError> {
    let n: i64 = row.try_get(name).map_err(db_error)?;
    Ok(n.max(0) as u64)
}

fn cycle_from_row(row: &AnyRow) -> Result<Row_, StoreError> {
    let kind: String = row.try_get("kind").map_err(db_error)?;
    Ok(Row_ {
        cycle: Cycle {
            id: row.try_get("id").map_err(db_error)?,
            kind: CycleKind::parse(&kind)
                .ok_or_else(|| StoreError::Database(format!("stored cycle kind '{kind}'")))?,
            started: row.try_get("started").map_err(db_error)?,
            ended: row.try_get("ended").map_err(db_error)?,
            counts: CycleCounts {
                requests: count(row, "requests")?,
                probes: count(row, "probes")?,
                queries: count(row, "queries")?,
                failures: count(row, "failures")?,
                unauthorized: count(row, "unauthorized")?,
                creates: count(row, "creates")?,
                updates: count(row, "updates")?,
                disables: count(row, "disables")?,
                enables: count(row, "enables")?,
                deletes: count(row, "deletes")?,
            },
            opened_with_probe: count(row, "opened_with_probe")? != 0,
            users_at_start: count(row, "users_at_start")?,
        },
        counted_through: row.try_get("counted_through").map_err(db_error)?,
    })
}

fn parse_time(at: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(at, &Rfc3339).ok()
}

fn add(into: &mut CycleCounts, from: &CycleCounts) {
    into.requests += from.requests;
    into.probes += from.probes;
    into.queries += from.queries;
    into.failures += from.failures;
    into.unauthorized += from.unauthorized;
}

impl SqlStore {
    async fn newest_cycle(
        &self,
        tx: &mut AnyConnection,
        scope: &TenantScope,
    ) -> Result<Option<Row_>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM provisioning_cycles WHERE tenant_id = $1 ORDER BY id DESC LIMIT 1"
        );
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(scope.tenant_id().to_owned())
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_error)?;
        row.as_ref().map(cycle_from_row).transpose()
    }

    /// Adds the successful changes recorded since `row.counted_through` (and before `until`, the
    /// start of the next cycle) to its counts.
    async fn count_changes(
        &self,
        tx: &mut AnyConnection,
        scope: &TenantScope,
        row: &mut Row_,
        until: &str,
    ) -> Result<(), StoreError> {
        let rows = sqlx::query(
            "SELECT operation, CASE WHEN status < 400 THEN 1 ELSE 0 END AS ok, COUNT(*) AS n, MAX(id) AS newest \
             FROM provisioning_events WHERE tenant_id = $1 AND id > $2 AND id < $3 \
             GROUP BY operation, CASE WHEN status < 400 THEN 1 ELSE 0 END",
        )
        .bind(scope.tenant_id().to_owned())
        .bind(row.counted_through.clone())
        .bind(until.to_owned())
        .fetch_all(&mut *tx)
        .await
        .map_err(db_error)?;
        let c = &mut row.cycle.counts;
        for r in &rows {
            let newest: String = r.try_get("newest").map_err(db_error)?;
            if newest > row.counted_through {
                row.counted_through = newest;
            }
            let ok: i64 = r.try_get("ok").map_err(db_error)?;
            if ok == 0 {
                continue;
            }
            let n = count(r, "n")?;
            let operation: String = r.try_get("operation").map_err(db_error)?;
            match Operation::parse(&operation) {
                Some(Operation::Create) => c.creates += n,
                Some(Operation::Disable) => c.disables += n,
                Some(Operation::Enable) => c.enables += n,
                Some(Operation::Delete) => c.deletes += n,
                Some(
                    Operation::Update
                    | Operation::Rename
                    | Operation::MembersAdded
                    | Operation::MembersRemoved,
                ) => c.updates += n,
                Some(Operation::Query) | None => {}
            }
        }
        Ok(())
    }

    async fn earlier_non_probe(
        &self,
        tx: &mut AnyConnection,
        scope: &TenantScope,
        cycle_id: &str,
    ) -> Result<bool, StoreError> {
        let row = sqlx::query(
            "SELECT 1 AS one FROM provisioning_cycles WHERE tenant_id = $1 AND id < $2 \
             AND kind <> 'test-connection' LIMIT 1",
        )
        .bind(scope.tenant_id().to_owned())
        .bind(cycle_id.to_owned())
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_error)?;
        Ok(row.is_some())
    }

    async fn save_cycle(
        &self,
        tx: &mut AnyConnection,
        scope: &TenantScope,
        row: &Row_,
        insert: bool,
    ) -> Result<(), StoreError> {
        let sql = if insert {
            format!(
                "INSERT INTO provisioning_cycles (tenant_id, {COLUMNS}) VALUES \
                 ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)"
            )
        } else {
            "UPDATE provisioning_cycles SET kind = $3, started = $4, ended = $5, requests = $6, \
             probes = $7, queries = $8, failures = $9, unauthorized = $10, creates = $11, \
             updates = $12, disables = $13, enables = $14, deletes = $15, opened_with_probe = $16, \
             users_at_start = $17, counted_through = $18 WHERE tenant_id = $1 AND id = $2"
                .to_owned()
        };
        let c = &row.cycle;
        let n = |v: u64| v.min(i64::MAX as u64) as i64;
        sqlx::query(AssertSqlSafe(sql))
            .bind(scope.tenant_id().to_owned())
            .bind(c.id.clone())
            .bind(c.kind.as_str().to_owned())
            .bind(c.started.clone())
            .bind(c.ended.clone())
            .bind(n(c.counts.requests))
            .bind(n(c.counts.probes))
            .bind(n(c.counts.queries))
            .bind(n(c.counts.failures))
            .bind(n(c.counts.unauthorized))
            .bind(n(c.counts.creates))
            .bind(n(c.counts.updates))
            .bind(n(c.counts.disables))
            .bind(n(c.counts.enables))
            .bind(n(c.counts.deletes))
            .bind(i64::from(c.opened_with_probe))
            .bind(n(c.users_at_start))
            .bind(row.counted_through.clone())
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        Ok(())
    }

    async fn users_of(
        &self,
        tx: &mut AnyConnection,
        scope: &TenantScope,
    ) -> Result<u64, StoreError> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM users WHERE tenant_id = $1")
            .bind(scope.tenant_id().to_owned())
            .fetch_one(&mut *tx)
            .await
            .map_err(db_error)?;
        count(&row, "n")
    }

    pub(crate) async fn record_activity_once(
        &self,
        scope: &TenantScope,
        segments: &[ActivitySegment],
        settings: &CycleSettings,
    ) -> Result<(), StoreError> {
        let idle = time::Duration::try_from(settings.idle_gap).unwrap_or(time::Duration::MAX);
        let mut tx = self.begin_write().await?;
        // One writer per tenant at a time: processes behind one PostgreSQL take turns.
        let lock = format!(
            "SELECT id FROM tenants WHERE id = $1{}",
            self.backend.lock_row()
        );
        sqlx::query(AssertSqlSafe(lock))
            .bind(scope.tenant_id().to_owned())
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_error)?;
        let mut newest = self.newest_cycle(&mut tx, scope).await?;
        // Counted once the transaction commits (a retried attempt counts nothing).
        let mut opened = 0;
        let mut closed = Vec::new();
        for segment in segments {
            let follows = newest.as_ref().is_some_and(|row| {
                match (parse_time(&row.cycle.ended), parse_time(&segment.first_at)) {
                    (Some(ended), Some(first)) => first - ended <= idle,
                    _ => false,
                }
            });
            let mut row = match newest.take() {
                Some(row) if follows => row,
                previous => {
                    // Events are time-ordered ids: those from this run's first request on are
                    // the new cycle's, those before it the previous one's.
                    let boundary = parse_time(&segment.first_at)
                        .map(id_bound)
                        .unwrap_or_default();
                    if let Some(mut previous) = previous {
                        self.count_changes(&mut tx, scope, &mut previous, &boundary)
                            .await?;
                        self.reclassify_and_save(&mut tx, scope, &mut previous, false)
                            .await?;
                        closed.push(previous.cycle.kind);
                    }
                    opened += 1;
                    let counted_through = boundary;
                    let row = Row_ {
                        cycle: Cycle {
                            id: uuid::Uuid::now_v7().to_string(),
                            kind: CycleKind::Incremental,
                            started: segment.first_at.clone(),
                            ended: segment.last_at.clone(),
                            counts: CycleCounts::default(),
                            opened_with_probe: segment.first_was_probe,
                            users_at_start: self.users_of(&mut tx, scope).await?,
                        },
                        counted_through,
                    };
                    self.save_cycle(&mut tx, scope, &row, true).await?;
                    row
                }
            };
            add(&mut row.cycle.counts, &segment.counts);
            if segment.last_at > row.cycle.ended {
                row.cycle.ended = segment.last_at.clone();
            }
            newest = Some(row);
        }
        if let Some(mut row) = newest {
            // Events up to two seconds ago: one whose transaction is still running (its id is
            // older than its commit) is not skipped, only counted by the next flush.
            let until = id_bound(OffsetDateTime::now_utc() - time::Duration::seconds(2));
            self.count_changes(&mut tx, scope, &mut row, &until).await?;
            self.reclassify_and_save(&mut tx, scope, &mut row, false)
                .await?;
        }
        self.commit(tx).await?;
        self.metrics.cycles_opened(opened);
        for kind in closed {
            self.metrics.cycle_closed(kind);
        }
        Ok(())
    }

    async fn reclassify_and_save(
        &self,
        tx: &mut AnyConnection,
        scope: &TenantScope,
        row: &mut Row_,
        insert: bool,
    ) -> Result<(), StoreError> {
        let earlier = self.earlier_non_probe(tx, scope, &row.cycle.id).await?;
        row.cycle.kind = classify(&row.cycle, earlier);
        self.save_cycle(tx, scope, row, insert).await
    }

    pub(crate) async fn cycle_page(
        &self,
        scope: &TenantScope,
        before: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Cycle>, StoreError> {
        let sql = match before {
            Some(_) => format!(
                "SELECT {COLUMNS} FROM provisioning_cycles WHERE tenant_id = $1 AND id < $3 ORDER BY id DESC LIMIT $2"
            ),
            None => format!(
                "SELECT {COLUMNS} FROM provisioning_cycles WHERE tenant_id = $1 ORDER BY id DESC LIMIT $2"
            ),
        };
        let mut query = sqlx::query(AssertSqlSafe(sql))
            .bind(scope.tenant_id().to_owned())
            .bind(i64::from(limit));
        if let Some(before) = before {
            query = query.bind(before.to_owned());
        }
        let rows = query.fetch_all(&self.reader).await.map_err(db_error)?;
        rows.iter()
            .map(|r| cycle_from_row(r).map(|row| row.cycle))
            .collect()
    }
}
