//! The provisioning log in Entra's layout: one record per attempt to change one object, as both
//! sides of an integration write it — the engine that drives a SCIM endpoint (`iris sync`, the
//! Entra simulator) and the SCIM service that answers it — so the two logs join on `Request Id`.
//!
//! The columns follow Microsoft Graph's `provisioningObjectSummary` resource (`activityDateTime`,
//! `id`, `jobId`, `cycleId`, `changeId`, `provisioningAction`, `sourceSystem`, `targetSystem`,
//! `sourceIdentity`, `targetIdentity`, `provisioningStatusInfo`, `durationInMilliseconds`,
//! `modifiedProperties`) plus the HTTP request id. Microsoft does not publish the header of the
//! portal's CSV download, so the column titles here are ours, in the portal's title-case style;
//! they are a contract between Iris's two provisioning logs and change only together.
//!
//! Pure: records in, CSV text out (and back, for tools that join the two logs). No IO.

use std::fmt;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// The CSV header, in this order.
pub const HEADER: [&str; 18] = [
    "Date (UTC)",
    "Id",
    "Request Id",
    "Job Id",
    "Cycle Id",
    "Change Id",
    "Action",
    "Source System",
    "Target System",
    "Source Identity",
    "Source Identity Id",
    "Target Identity",
    "Target Identity Id",
    "Status",
    "Error Code",
    "Error Description",
    "Duration (ms)",
    "Modified Properties",
];

/// What was done to the object (Graph's `provisioningAction`, capitalised).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    Create,
    Update,
    Disable,
    Enable,
    Delete,
    Other,
}

impl Action {
    pub const ALL: [Self; 6] = [
        Self::Create,
        Self::Update,
        Self::Disable,
        Self::Enable,
        Self::Delete,
        Self::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Create => "Create",
            Self::Update => "Update",
            Self::Disable => "Disable",
            Self::Enable => "Enable",
            Self::Delete => "Delete",
            Self::Other => "Other",
        }
    }

    /// The action named `s` (exactly as [`Action::as_str`] writes it).
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How the attempt ended (Graph's `provisioningStatusInfo.status`, capitalised).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    Success,
    Failure,
    Skipped,
    Warning,
}

impl Status {
    pub const ALL: [Self; 4] = [Self::Success, Self::Failure, Self::Skipped, Self::Warning];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "Success",
            Self::Failure => "Failure",
            Self::Skipped => "Skipped",
            Self::Warning => "Warning",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One attribute the attempt changed: its old and new value (`None`: absent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModifiedProperty {
    pub name: String,
    pub old_value: Option<String>,
    pub new_value: Option<String>,
}

impl ModifiedProperty {
    pub fn new(name: impl Into<String>, old: Option<String>, new: Option<String>) -> Self {
        Self {
            name: name.into(),
            old_value: old,
            new_value: new,
        }
    }
}

/// One line of the provisioning log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub date: OffsetDateTime,
    /// This record's own id.
    pub id: String,
    /// The `X-Request-Id` of the HTTP request the attempt made (empty when it made none).
    pub request_id: String,
    pub job_id: String,
    pub cycle_id: String,
    /// Groups the records of one change to one object (e.g. a create and its membership updates).
    pub change_id: String,
    pub action: Action,
    pub source_system: String,
    pub target_system: String,
    /// A readable name of the object in the source (e.g. its userPrincipalName).
    pub source_identity: String,
    pub source_identity_id: String,
    /// A readable name of the object in the target (e.g. its userName).
    pub target_identity: String,
    /// The target's `id` for the object (empty before it exists).
    pub target_identity_id: String,
    pub status: Status,
    pub error_code: String,
    pub error_description: String,
    pub duration_ms: u64,
    pub modified_properties: Vec<ModifiedProperty>,
}

/// Why a CSV text is not a provisioning log.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("not a provisioning log: the header is not {HEADER:?}")]
    Header,
    /// `record` counts from 1 after the header (a quoted field may span several lines).
    #[error("record {record}: {detail}")]
    Field { record: u64, detail: String },
    #[error("CSV: {0}")]
    Csv(#[from] csv::Error),
}

/// `name: "old" -> "new"; …`, values JSON-escaped, an absent value as `null`.
pub fn render_modified_properties(properties: &[ModifiedProperty]) -> String {
    let quoted = |v: &Option<String>| match v {
        Some(s) => serde_json::Value::String(s.clone()).to_string(),
        None => "null".to_owned(),
    };
    properties
        .iter()
        .map(|p| {
            format!(
                "{}: {} -> {}",
                p.name,
                quoted(&p.old_value),
                quoted(&p.new_value)
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The inverse of [`render_modified_properties`].
pub fn parse_modified_properties(text: &str) -> Option<Vec<ModifiedProperty>> {
    let mut out = Vec::new();
    let mut rest = text.trim_start();
    while !rest.is_empty() {
        let (name, after) = rest.split_once(": ")?;
        let (old, after) = json_value_prefix(after)?;
        let after = after.strip_prefix(" -> ")?;
        let (new, after) = json_value_prefix(after)?;
        out.push(ModifiedProperty::new(name, old, new));
        rest = match after.strip_prefix("; ") {
            Some(r) => r,
            None if after.is_empty() => after,
            None => return None,
        };
    }
    Some(out)
}

/// A leading `null` or JSON string of `s`, and what follows it.
fn json_value_prefix(s: &str) -> Option<(Option<String>, &str)> {
    if let Some(rest) = s.strip_prefix("null") {
        return Some((None, rest));
    }
    let mut stream = serde_json::Deserializer::from_str(s).into_iter::<String>();
    let value = stream.next()?.ok()?;
    let used = stream.byte_offset();
    Some((Some(value), &s[used..]))
}

fn format_date(date: OffsetDateTime) -> String {
    date.to_offset(time::UtcOffset::UTC)
        .format(&Rfc3339)
        .unwrap_or_default()
}

impl Record {
    /// The record's fields in [`HEADER`] order.
    pub fn fields(&self) -> [String; 18] {
        [
            format_date(self.date),
            self.id.clone(),
            self.request_id.clone(),
            self.job_id.clone(),
            self.cycle_id.clone(),
            self.change_id.clone(),
            self.action.as_str().to_owned(),
            self.source_system.clone(),
            self.target_system.clone(),
            self.source_identity.clone(),
            self.source_identity_id.clone(),
            self.target_identity.clone(),
            self.target_identity_id.clone(),
            self.status.as_str().to_owned(),
            self.error_code.clone(),
            self.error_description.clone(),
            self.duration_ms.to_string(),
            render_modified_properties(&self.modified_properties),
        ]
    }

    fn from_fields(record: u64, fields: &csv::StringRecord) -> Result<Self, LogError> {
        let bad = |detail: String| LogError::Field { record, detail };
        if fields.len() != HEADER.len() {
            return Err(bad(format!(
                "{} fields, expected {}",
                fields.len(),
                HEADER.len()
            )));
        }
        let f = |i: usize| fields.get(i).unwrap_or_default().to_owned();
        let date = OffsetDateTime::parse(&f(0), &Rfc3339)
            .map_err(|e| bad(format!("Date (UTC) {:?}: {e}", f(0))))?;
        let action = Action::parse(&f(6)).ok_or_else(|| bad(format!("Action {:?}", f(6))))?;
        let status = Status::parse(&f(13)).ok_or_else(|| bad(format!("Status {:?}", f(13))))?;
        let duration_ms = f(16)
            .parse()
            .map_err(|_| bad(format!("Duration (ms) {:?}", f(16))))?;
        let modified_properties = parse_modified_properties(&f(17))
            .ok_or_else(|| bad(format!("Modified Properties {:?}", f(17))))?;
        Ok(Self {
            date,
            id: f(1),
            request_id: f(2),
            job_id: f(3),
            cycle_id: f(4),
            change_id: f(5),
            action,
            source_system: f(7),
            target_system: f(8),
            source_identity: f(9),
            source_identity_id: f(10),
            target_identity: f(11),
            target_identity_id: f(12),
            status,
            error_code: f(14),
            error_description: f(15),
            duration_ms,
            modified_properties,
        })
    }
}

/// The header line of the CSV, with its line ending.
pub fn csv_header() -> String {
    csv_line(&HEADER)
}

/// One record as a CSV line, with its line ending (for appending to a log being written).
pub fn csv_record(record: &Record) -> String {
    csv_line(&record.fields())
}

fn csv_line<S: AsRef<[u8]>>(fields: &[S]) -> String {
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    // Writing into a Vec cannot fail, and the writer's output is UTF-8 because the fields are.
    if writer.write_record(fields).is_err() {
        return String::new();
    }
    String::from_utf8(writer.into_inner().unwrap_or_default()).unwrap_or_default()
}

/// A whole log: the header, then one line per record (CRLF line endings, as spreadsheets expect).
pub fn render_csv<'a>(records: impl IntoIterator<Item = &'a Record>) -> String {
    let mut out = csv_header();
    for r in records {
        out.push_str(&csv_record(r));
    }
    out
}

/// Reads a log written by [`render_csv`].
pub fn parse_csv(text: &str) -> Result<Vec<Record>, LogError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(text.as_bytes());
    let header = reader.headers()?.clone();
    if !header.iter().eq(HEADER.iter().copied()) {
        return Err(LogError::Header);
    }
    let mut out = Vec::new();
    for (i, row) in reader.records().enumerate() {
        out.push(Record::from_fields(i as u64 + 1, &row?)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn record() -> Record {
        Record {
            date: datetime!(2026-03-24 13:23:44.5 UTC),
            id: "rec-1".into(),
            request_id: "0b6f5a2e-1111-4c1d-9d4e-2a1c3e4f5a6b".into(),
            job_id: "hr-feed".into(),
            cycle_id: "cycle-7".into(),
            change_id: "change-3".into(),
            action: Action::Update,
            source_system: "CSV hr.csv".into(),
            target_system: "SCIM http://127.0.0.1:8080/scim/v2/acme".into(),
            source_identity: "alice@contoso.com".into(),
            source_identity_id: "E1001".into(),
            target_identity: "alice@contoso.com".into(),
            target_identity_id: "3f2c".into(),
            status: Status::Failure,
            error_code: "SystemForCrossDomainIdentityManagementBadRequest".into(),
            error_description: "StatusCode: BadRequest, \"detail\": \"x, y\"\nsecond line".into(),
            duration_ms: 42,
            modified_properties: vec![
                ModifiedProperty::new(
                    "displayName",
                    Some("Alice \"Al\" Smith".into()),
                    Some("Alice Jones".into()),
                ),
                ModifiedProperty::new("title", None, Some("a; b -> c".into())),
                ModifiedProperty::new("active", Some("True".into()), Some("False".into())),
            ],
        }
    }

    #[test]
    fn the_header_has_the_agreed_columns_in_order() {
        assert_eq!(
            csv_header(),
            "Date (UTC),Id,Request Id,Job Id,Cycle Id,Change Id,Action,Source System,\
             Target System,Source Identity,Source Identity Id,Target Identity,\
             Target Identity Id,Status,Error Code,Error Description,Duration (ms),\
             Modified Properties\r\n"
        );
    }

    #[test]
    fn modified_properties_render_compactly_with_json_escaped_values() {
        assert_eq!(
            render_modified_properties(&record().modified_properties),
            r#"displayName: "Alice \"Al\" Smith" -> "Alice Jones"; title: null -> "a; b -> c"; active: "True" -> "False""#
        );
        assert_eq!(render_modified_properties(&[]), "");
    }

    #[test]
    fn modified_properties_parse_back_even_with_separators_inside_values() {
        let props = record().modified_properties;
        let text = render_modified_properties(&props);
        assert_eq!(parse_modified_properties(&text), Some(props));
        assert_eq!(parse_modified_properties(""), Some(vec![]));
        assert_eq!(parse_modified_properties("title: \"a\""), None);
        assert_eq!(parse_modified_properties("title: \"a\" -> nope"), None);
    }

    #[test]
    fn a_record_renders_its_fields_in_header_order() {
        let line = csv_record(&record());
        assert!(line.starts_with(
            "2026-03-24T13:23:44.5Z,rec-1,0b6f5a2e-1111-4c1d-9d4e-2a1c3e4f5a6b,hr-feed,cycle-7,\
             change-3,Update,CSV hr.csv,"
        ));
        assert!(line.contains(",Failure,SystemForCrossDomainIdentityManagementBadRequest,"));
        assert!(line.ends_with("\r\n"));
    }

    #[test]
    fn a_log_round_trips_through_csv_with_commas_quotes_and_newlines() {
        let mut second = record();
        second.id = "rec-2".into();
        second.action = Action::Create;
        second.status = Status::Success;
        second.error_code.clear();
        second.error_description.clear();
        second.modified_properties.clear();
        let records = vec![record(), second];
        let text = render_csv(&records);
        assert_eq!(parse_csv(&text).unwrap(), records);
    }

    #[test]
    fn every_action_and_status_name_parses_back() {
        for a in Action::ALL {
            assert_eq!(Action::parse(a.as_str()), Some(a));
        }
        for s in Status::ALL {
            assert_eq!(Status::parse(s.as_str()), Some(s));
        }
        assert_eq!(Action::parse("create"), None);
    }

    #[test]
    fn a_csv_with_another_header_is_refused() {
        assert!(matches!(parse_csv("a,b\r\n1,2\r\n"), Err(LogError::Header)));
    }

    #[test]
    fn a_bad_field_names_its_record_and_column() {
        let mut second = record();
        second.action = Action::Delete;
        let mut text = render_csv(&[record(), second]);
        text = text.replace(",Delete,", ",Upsert,");
        let err = parse_csv(&text).unwrap_err().to_string();
        assert!(err.contains("record 2"), "{err}");
        assert!(err.contains("Action \"Upsert\""), "{err}");
    }
}
