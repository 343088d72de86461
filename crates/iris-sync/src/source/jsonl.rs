//! A JSON Lines export: one JSON object per line, a key per attribute. Strings stay strings,
//! booleans become `"True"`/`"False"` (Entra's form), numbers their decimal text, arrays
//! multi-valued attributes, and `null` an absent attribute.

use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::PathBuf;

use super::{Objects, Source, SourceError, object_from};
use crate::expr::Value;

pub struct JsonlSource {
    path: PathBuf,
}

impl JsonlSource {
    pub fn new(path: PathBuf) -> Self {
        Self { path }
    }
}

fn scalar(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Bool(b) => Some(if *b { "True" } else { "False" }.into()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::Null => None,
        other => Some(other.to_string()),
    }
}

impl Source for JsonlSource {
    fn describe(&self) -> String {
        format!("JSONL {}", self.path.display())
    }

    fn objects(&self) -> Result<Objects, SourceError> {
        let path = self.path.clone();
        let file = std::fs::File::open(&path).map_err(|e| SourceError::Open {
            path: path.display().to_string(),
            detail: e.to_string(),
        })?;
        let lines = std::io::BufReader::new(file).lines();
        let iter = lines.enumerate().filter_map(move |(i, line)| {
            let line_no = i as u64 + 1;
            let bad = |detail: String| SourceError::Record {
                path: path.display().to_string(),
                line: line_no,
                detail,
            };
            let text = match line {
                Ok(t) => t,
                Err(e) => return Some(Err(bad(e.to_string()))),
            };
            if text.trim().is_empty() {
                return None;
            }
            let map = match serde_json::from_str::<serde_json::Value>(&text) {
                Ok(serde_json::Value::Object(m)) => m,
                Ok(_) => return Some(Err(bad("not a JSON object".into()))),
                Err(e) => return Some(Err(bad(format!("not JSON: {e}")))),
            };
            let mut attributes = BTreeMap::new();
            for (k, v) in map {
                let value = match &v {
                    serde_json::Value::Array(items) => {
                        Value::Multi(items.iter().filter_map(scalar).collect())
                    }
                    other => match scalar(other) {
                        Some(s) if !s.is_empty() => Value::Str(s),
                        _ => continue,
                    },
                };
                attributes.insert(k.to_lowercase(), value);
            }
            Some(object_from(attributes, &path, line_no))
        });
        Ok(Box::new(iter))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::ObjectKind;

    #[test]
    fn lines_become_objects_with_entra_style_booleans() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dir.jsonl");
        std::fs::write(
            &path,
            "{\"objectId\":\"u1\",\"userPrincipalName\":\"a@b\",\"accountEnabled\":false,\"employeeId\":42,\"title\":null}\n\
             \n\
             {\"objectId\":\"g1\",\"objectType\":\"group\",\"displayName\":\"Eng\",\"members\":[\"u1\"]}\n\
             [1]\n",
        )
        .unwrap();
        let items: Vec<_> = JsonlSource::new(path).objects().unwrap().collect();
        let u = items[0].as_ref().unwrap();
        assert_eq!(u.attributes["accountenabled"], Value::Str("False".into()));
        assert_eq!(u.attributes["employeeid"], Value::Str("42".into()));
        assert!(!u.attributes.contains_key("title"));
        let g = items[1].as_ref().unwrap();
        assert_eq!(g.kind, ObjectKind::Group);
        assert_eq!(g.members, vec!["u1"]);
        let err = items[2].as_ref().unwrap_err().to_string();
        assert!(err.contains("line 4"), "{err}");
    }
}
