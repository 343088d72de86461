//! `iris log` and `iris tenant status`: the provisioning log and the cycles, read through the
//! same `ProvisioningLog` service the admin API uses.

use std::io::Write;

use anyhow::{Context, anyhow, bail};
use iris_core::provisioning::{
    Cycle, EventQuery, Operation, ProvisioningEvent, StatusFilter, TenantStatus, human, id_bound,
};
use iris_core::tenants::TOKEN_EXPIRY_WARNING;
use iris_core::{CoreError, ProvisioningLog, Tenant, TenantService};
use iris_scim::provisioning_log::{self as entra_log, ModifiedProperty, Record};
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::cli::{LogArgs, LogCommand};
use crate::config::Config;
use crate::server::open_existing_store;

/// The system Iris is, in the `Target System` column.
const TARGET_SYSTEM: &str = "Iris";

fn core_error(e: CoreError) -> anyhow::Error {
    match e {
        CoreError::Scim(s) => anyhow!(s.detail),
        CoreError::Store(s) => anyhow!(s),
    }
}

async fn services(config: &Config) -> anyhow::Result<(TenantService, ProvisioningLog)> {
    let store = open_existing_store(config).await?;
    Ok((
        TenantService::new(store.clone()),
        ProvisioningLog::new(store),
    ))
}

/// A time given as RFC 3339 or as an age before now (`90s`, `15m`, `2h`, `7d`).
fn parse_time(raw: &str, now: OffsetDateTime) -> anyhow::Result<OffsetDateTime> {
    let raw = raw.trim();
    if let Ok(at) = OffsetDateTime::parse(raw, &Rfc3339) {
        return Ok(at);
    }
    let age = parse_span(raw)
        .with_context(|| format!("'{raw}' is neither an RFC 3339 time nor an age like 2h"))?;
    Ok(now - age)
}

/// A span of time: a whole number and `s`, `m`, `h` or `d` (`90s`, `15m`, `2h`, `90d`).
pub(crate) fn parse_span(raw: &str) -> anyhow::Result<time::Duration> {
    let raw = raw.trim();
    let (digits, unit) = raw.split_at(raw.find(|c: char| !c.is_ascii_digit()).unwrap_or(raw.len()));
    let n: i64 = digits
        .parse()
        .with_context(|| format!("'{raw}' is not a span like 90d or 2h"))?;
    Ok(match unit {
        "s" => time::Duration::seconds(n),
        "m" | "min" => time::Duration::minutes(n),
        "h" => time::Duration::hours(n),
        "d" => time::Duration::days(n),
        _ => bail!("'{raw}': a span ends in s, m, h or d"),
    })
}

/// The query `args` ask for. A resource's history and a time range read oldest first; otherwise
/// the newest `limit` events, printed oldest first like a tail.
fn query(args: &LogArgs, now: OffsetDateTime) -> anyhow::Result<EventQuery> {
    let operations = args
        .ops
        .iter()
        .map(|op| Operation::parse(op).ok_or_else(|| anyhow!("unknown operation '{op}'")))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let status = args
        .status
        .as_deref()
        .map(|s| {
            StatusFilter::parse(s).ok_or_else(|| {
                anyhow!("--status takes success, failure or an HTTP status, not '{s}'")
            })
        })
        .transpose()?;
    let since = args
        .since
        .as_deref()
        .map(|s| parse_time(s, now))
        .transpose()?;
    let until = args
        .until
        .as_deref()
        .map(|s| parse_time(s, now))
        .transpose()?;
    // `after_id` is exclusive; the bound of a time is below every id of that time.
    Ok(EventQuery {
        after_id: since.map(id_bound),
        before_id: until.map(id_bound),
        resource: args.user.clone(),
        operations,
        status,
        newest_first: args.user.is_none() && since.is_none(),
        limit: args.limit.clamp(1, 100_000),
    })
}

pub async fn run(config: &Config, args: LogArgs) -> anyhow::Result<()> {
    let (tenants, log) = services(config).await?;
    if let Some(LogCommand::Purge { tenant, older_than }) = &args.command {
        return purge(&tenants, &log, tenant.as_deref(), *older_than).await;
    }
    let name = args.tenant.as_deref().unwrap_or_default();
    let tenant = tenants.find(name).await.map_err(core_error)?;
    if args.cycles {
        return print_cycles(&log, &tenant, &args).await;
    }
    let query = query(&args, OffsetDateTime::now_utc())?;
    let mut events = log.events(&tenant, &query).await.map_err(core_error)?;
    if query.newest_first {
        events.reverse();
    }
    let mut out = std::io::stdout().lock();
    if args.csv {
        let cycles = log.cycles(&tenant, None, 1000).await.map_err(core_error)?;
        let records: Vec<Record> = events
            .iter()
            .map(|e| entra_record(&tenant, e, &cycles))
            .collect();
        out.write_all(entra_log::csv_header().as_bytes())?;
        for record in &records {
            out.write_all(entra_log::csv_record(record).as_bytes())?;
        }
    } else if args.json {
        for e in &events {
            writeln!(out, "{}", serde_json::to_string(e)?)?;
        }
    } else if events.is_empty() {
        writeln!(out, "no events")?;
    } else {
        for e in &events {
            writeln!(out, "{}", text_line(e))?;
        }
    }
    Ok(())
}

async fn print_cycles(
    log: &ProvisioningLog,
    tenant: &Tenant,
    args: &LogArgs,
) -> anyhow::Result<()> {
    let cycles = log
        .cycles(tenant, None, args.limit)
        .await
        .map_err(core_error)?;
    let now = OffsetDateTime::now_utc();
    let mut out = std::io::stdout().lock();
    if cycles.is_empty() && !args.json {
        writeln!(out, "no cycles")?;
    }
    for c in &cycles {
        if args.json {
            writeln!(out, "{}", serde_json::to_string(c)?)?;
        } else {
            writeln!(out, "{}", cycle_text(c, now))?;
        }
    }
    Ok(())
}

async fn purge(
    tenants: &TenantService,
    log: &ProvisioningLog,
    tenant: Option<&str>,
    older_than: Option<u32>,
) -> anyhow::Result<()> {
    let purged = match (tenant, older_than) {
        (Some(name), days) => {
            let tenant = tenants.find(name).await.map_err(core_error)?;
            let days = days.unwrap_or(tenant.log_retention_days());
            let before = OffsetDateTime::now_utc() - time::Duration::days(i64::from(days));
            log.purge(&tenant, before).await.map_err(core_error)?
        }
        (None, _) => log.purge_expired().await.map_err(core_error)?,
    };
    println!("purged {purged} events");
    Ok(())
}

/// One line a person reads: time, client, operation, resource, status, what changed.
fn text_line(e: &ProvisioningEvent) -> String {
    let mut what: Vec<String> = e
        .changes
        .iter()
        .map(|c| {
            format!(
                "{}: {} -> {}",
                c.attribute,
                shown(c.old.as_ref()),
                shown(c.new.as_ref())
            )
        })
        .collect();
    if let Some(members) = e.members_summary() {
        what.push(format!("members {members}"));
    }
    if let Some(detail) = &e.detail {
        let scim_type = e
            .scim_type
            .as_deref()
            .map(|t| format!("{t}: "))
            .unwrap_or_default();
        what.push(format!("{scim_type}{detail}"));
    }
    if !e.quirks.is_empty() {
        what.push(format!("quirks: {}", e.quirks.join(", ")));
    }
    format!(
        "{}  {:<8} {:<15} {} {} {}  {}  {}  [request {}]",
        e.at,
        e.client.as_str(),
        e.operation.as_str(),
        e.resource_type.name(),
        if e.identity.is_empty() {
            "-"
        } else {
            &e.identity
        },
        if e.resource_id.is_empty() {
            ""
        } else {
            &e.resource_id
        },
        e.status,
        what.join("; "),
        e.request_id
    )
}

fn shown(value: Option<&Value>) -> String {
    match value {
        None => "null".to_owned(),
        Some(v) => {
            let text = v.to_string();
            if text.len() > 120 {
                let cut = text.char_indices().nth(117).map_or(text.len(), |(i, _)| i);
                format!("{}…", &text[..cut])
            } else {
                text
            }
        }
    }
}

/// The event as a line of Entra's provisioning-log layout, seen from the target's side.
fn entra_record(tenant: &Tenant, e: &ProvisioningEvent, cycles: &[Cycle]) -> Record {
    let mut modified: Vec<ModifiedProperty> = e
        .changes
        .iter()
        .map(|c| {
            let text = |v: &Option<Value>| {
                v.as_ref().map(|v| match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
            };
            ModifiedProperty::new(c.attribute.clone(), text(&c.old), text(&c.new))
        })
        .collect();
    if let Some(members) = e.members_summary() {
        modified.push(ModifiedProperty::new("members", None, Some(members)));
    }
    let cycle_id = cycles
        .iter()
        .find(|c| c.started <= e.at && e.at <= c.ended)
        .map(|c| c.id.clone())
        .unwrap_or_default();
    Record {
        date: OffsetDateTime::parse(&e.at, &Rfc3339).unwrap_or(OffsetDateTime::UNIX_EPOCH),
        id: e.id.clone(),
        request_id: e.request_id.clone(),
        job_id: tenant.name().to_owned(),
        cycle_id,
        change_id: e.request_id.clone(),
        action: e.operation.entra_action(),
        source_system: e.client.display().to_owned(),
        target_system: TARGET_SYSTEM.to_owned(),
        source_identity: e.identity.clone(),
        source_identity_id: String::new(),
        target_identity: e.identity.clone(),
        target_identity_id: e.resource_id.clone(),
        status: if e.is_failure() {
            entra_log::Status::Failure
        } else {
            entra_log::Status::Success
        },
        error_code: if e.is_failure() {
            match &e.scim_type {
                Some(t) => format!("{} {t}", e.status),
                None => e.status.to_string(),
            }
        } else {
            String::new()
        },
        error_description: e.detail.clone().unwrap_or_default(),
        duration_ms: 0,
        modified_properties: modified,
    }
}

/// `iris tenant status NAME`.
pub async fn tenant_status(config: &Config, name: &str, json: bool) -> anyhow::Result<()> {
    let (tenants, log) = services(config).await?;
    let tenant = tenants.find(name).await.map_err(core_error)?;
    let now = OffsetDateTime::now_utc();
    let status = log
        .status(&tenant, &config.cycle_settings(), now)
        .await
        .map_err(core_error)?;
    let expiring = tenants
        .expiring_tokens(&tenant, TOKEN_EXPIRY_WARNING)
        .await
        .map_err(core_error)?;
    if json {
        let mut out = serde_json::to_value(&status)?;
        out["expiring_tokens"] = expiring
            .iter()
            .map(|t| serde_json::json!({"token_id": t.id, "label": t.label, "expires_at": t.expires_at}))
            .collect();
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        print!("{}", status_text(&status, now));
        for t in &expiring {
            let at = t.expires_at.as_deref().unwrap_or_default();
            let left = OffsetDateTime::parse(at, &Rfc3339)
                .map(|end| human(end - now))
                .unwrap_or_default();
            println!(
                "Warning:       token {} ({}) expires at {at}, in {left}: issue a new one and update the identity provider",
                t.id,
                t.label.as_deref().unwrap_or("no label"),
            );
        }
    }
    Ok(())
}

fn ago(at: &str, now: OffsetDateTime) -> String {
    OffsetDateTime::parse(at, &Rfc3339)
        .map(|t| format!("{} ago", human(now - t)))
        .unwrap_or_default()
}

fn cycle_text(c: &Cycle, now: OffsetDateTime) -> String {
    let n = &c.counts;
    let length = match (
        OffsetDateTime::parse(&c.started, &Rfc3339),
        OffsetDateTime::parse(&c.ended, &Rfc3339),
    ) {
        (Ok(a), Ok(b)) => human(b - a),
        _ => String::new(),
    };
    format!(
        "{} cycle, {} → {} ({length}, ended {})\n               {} requests: {} creates, {} updates, {} disables, {} enables, {} deletes, {} failures ({:.1} %){}",
        c.kind.as_str(),
        c.started,
        c.ended,
        ago(&c.ended, now),
        n.requests,
        n.creates,
        n.updates,
        n.disables,
        n.enables,
        n.deletes,
        n.failures,
        n.failure_rate() * 100.0,
        if n.unauthorized > 0 {
            format!(", {} refused for their token", n.unauthorized)
        } else {
            String::new()
        }
    )
}

fn status_text(s: &TenantStatus, now: OffsetDateTime) -> String {
    let mut out = format!("Tenant:        {}\n", s.tenant);
    out.push_str(&format!(
        "Health:        {} — {}\n",
        s.health.as_str(),
        s.reason
    ));
    match &s.last_request {
        Some(at) => out.push_str(&format!("Last request:  {at} ({})\n", ago(at, now))),
        None => out.push_str("Last request:  never\n"),
    }
    if let Some(c) = &s.last_provisioning_cycle {
        out.push_str(&format!("Last cycle:    {}\n", cycle_text(c, now)));
    }
    if let Some(c) = &s.last_cycle
        && s.last_provisioning_cycle
            .as_ref()
            .is_none_or(|p| p.id != c.id)
    {
        out.push_str(&format!("Newest:        {}\n", cycle_text(c, now)));
    }
    out.push_str(&format!(
        "Failure rate:  {:.1} % of the last cycle's requests\n",
        s.failure_rate * 100.0
    ));
    if let Some(e) = &s.last_failure {
        out.push_str(&format!(
            "Last failure:  {} {} {}/{} {} {}{}\n",
            e.at,
            e.method,
            e.resource_type.name(),
            if e.resource_id.is_empty() {
                &e.identity
            } else {
                &e.resource_id
            },
            e.status,
            e.scim_type
                .as_deref()
                .map(|t| format!("{t}: "))
                .unwrap_or_default(),
            e.detail.as_deref().unwrap_or_default()
        ));
    }
    out
}

/// `iris tenant retention NAME DAYS`.
pub async fn set_retention(config: &Config, name: &str, days: u32) -> anyhow::Result<()> {
    let (tenants, _) = services(config).await?;
    let tenant = tenants
        .set_log_retention(name, days)
        .await
        .map_err(core_error)?;
    println!(
        "tenant '{}' keeps its provisioning events for {} days",
        tenant.name(),
        tenant.log_retention_days()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_rfc_3339_or_ages() {
        let now = OffsetDateTime::parse("2026-12-02T12:00:00Z", &Rfc3339).unwrap();
        assert_eq!(
            parse_time("2h", now).unwrap(),
            now - time::Duration::hours(2)
        );
        assert_eq!(
            parse_time("7d", now).unwrap(),
            now - time::Duration::days(7)
        );
        assert_eq!(
            parse_time("2026-12-01T00:00:00Z", now).unwrap(),
            OffsetDateTime::parse("2026-12-01T00:00:00Z", &Rfc3339).unwrap()
        );
        assert!(parse_time("2 weeks", now).is_err());
        assert!(parse_time("5y", now).is_err());
    }
}
