//! A CSV export: a header row naming the attributes, one object per row, read as a stream.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::{FileOptions, Objects, Source, SourceError, object_from};
use crate::expr::Value;

pub struct CsvSource {
    path: PathBuf,
    options: FileOptions,
}

impl CsvSource {
    pub fn new(path: PathBuf, options: FileOptions) -> Self {
        Self { path, options }
    }
}

impl Source for CsvSource {
    fn describe(&self) -> String {
        format!("CSV {}", self.path.display())
    }

    fn objects(&self) -> Result<Objects, SourceError> {
        let path = self.path.clone();
        let open_err = |e: &dyn std::fmt::Display| SourceError::Open {
            path: path.display().to_string(),
            detail: e.to_string(),
        };
        let mut reader = ::csv::ReaderBuilder::new()
            .trim(::csv::Trim::Headers)
            .flexible(false)
            .from_path(&path)
            .map_err(|e| open_err(&e))?;
        let headers: Vec<String> = reader
            .headers()
            .map_err(|e| open_err(&e))?
            .iter()
            .map(str::to_lowercase)
            .collect();
        if !headers.iter().any(|h| h == "objectid") {
            return Err(open_err(&"the header has no objectId column"));
        }
        let multi: Vec<String> = self
            .options
            .multi_valued
            .iter()
            .map(|m| m.to_lowercase())
            .collect();
        let separator = self.options.separator.clone();
        let mut row = ::csv::StringRecord::new();
        let iter = std::iter::from_fn(move || {
            let line = reader.position().line() + 1;
            match reader.read_record(&mut row) {
                Ok(false) => None,
                Err(e) => Some(Err(SourceError::Record {
                    path: path.display().to_string(),
                    line: e.position().map_or(line, |p| p.line()),
                    detail: e.to_string(),
                })),
                Ok(true) => {
                    let line = row.position().map_or(line, |p| p.line());
                    let mut attributes = BTreeMap::new();
                    for (name, cell) in headers.iter().zip(row.iter()) {
                        if cell.is_empty() {
                            continue;
                        }
                        let value = if multi.contains(name) {
                            Value::Multi(
                                cell.split(separator.as_str())
                                    .map(|s| s.trim().to_owned())
                                    .filter(|s| !s.is_empty())
                                    .collect(),
                            )
                        } else {
                            Value::Str(cell.to_owned())
                        };
                        attributes.insert(name.clone(), value);
                    }
                    Some(object_from(attributes, &path, line))
                }
            }
        });
        Ok(Box::new(iter))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::ObjectKind;

    #[test]
    fn rows_become_users_and_groups_with_members_and_absent_empty_cells() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hr.csv");
        std::fs::write(
            &path,
            "objectId,objectType,userPrincipalName,department,members,modified\n\
             u1,user,alice@contoso.com,Sales,,2026-01-01T00:00:00Z\n\
             u2,,bob@contoso.com,,,\n\
             g1,group,,,u1;u2,\n",
        )
        .unwrap();
        let source = CsvSource::new(path, FileOptions::default());
        let objects: Vec<_> = source.objects().unwrap().map(Result::unwrap).collect();
        assert_eq!(objects.len(), 3);
        assert_eq!(objects[0].kind, ObjectKind::User);
        assert_eq!(objects[0].modified.as_deref(), Some("2026-01-01T00:00:00Z"));
        assert_eq!(
            objects[0].attributes["department"],
            Value::Str("Sales".into())
        );
        assert!(!objects[1].attributes.contains_key("department"));
        assert_eq!(objects[2].kind, ObjectKind::Group);
        assert_eq!(objects[2].members, vec!["u1", "u2"]);
    }

    #[test]
    fn a_bad_row_names_its_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hr.csv");
        std::fs::write(&path, "objectId,objectType\nu1,user\nu2,robot\n").unwrap();
        let source = CsvSource::new(path, FileOptions::default());
        let errors: Vec<String> = source
            .objects()
            .unwrap()
            .filter_map(Result::err)
            .map(|e| e.to_string())
            .collect();
        assert_eq!(errors.len(), 1);
        assert!(errors[0].contains("line 3"), "{}", errors[0]);
        assert!(errors[0].contains("robot"), "{}", errors[0]);
    }

    #[test]
    fn a_file_without_an_object_id_column_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hr.csv");
        std::fs::write(&path, "mail\na@b\n").unwrap();
        let err = CsvSource::new(path, FileOptions::default())
            .objects()
            .err()
            .unwrap();
        assert!(err.to_string().contains("objectId"));
    }
}
