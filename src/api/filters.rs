//! The `filters` query parameter of list and prune endpoints: JSON mapping each filter name
//! to its values, either as a list (`{"dangling":["true"]}`, old clients) or as a set
//! (`{"dangling":{"true":true}}`, what the docker CLI sends). Both sides use it: the client
//! encodes `--filter k=v`, the daemon decodes and checks.

use std::collections::BTreeMap;

/// A filter the endpoint does not know, or a value it cannot use.
#[derive(Debug, thiserror::Error)]
pub enum FilterError {
    /// Not JSON of either shape.
    #[error("invalid filters: {0}")]
    Malformed(String),
    /// A filter name the endpoint does not have.
    #[error("invalid filter '{0}'")]
    Unknown(String),
    /// A value the filter cannot take.
    #[error("invalid filter '{name}={value}'")]
    BadValue { name: String, value: String },
}

/// Decoded filters: name → values.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filters(BTreeMap<String, Vec<String>>);

impl Filters {
    /// Decodes the `filters` parameter (absent or empty: no filters).
    pub fn parse(raw: Option<&str>) -> Result<Filters, FilterError> {
        let raw = raw.map(str::trim).unwrap_or("");
        if raw.is_empty() {
            return Ok(Filters::default());
        }
        let v: serde_json::Value = serde_json::from_str(raw).map_err(|e| FilterError::Malformed(e.to_string()))?;
        let obj = v.as_object().ok_or_else(|| FilterError::Malformed("not a JSON object".into()))?;
        let mut out = BTreeMap::new();
        for (name, values) in obj {
            let list: Vec<String> = match values {
                serde_json::Value::Array(a) => a.iter().filter_map(|x| x.as_str().map(str::to_owned)).collect(),
                serde_json::Value::Object(o) => o.iter().filter(|(_, on)| on.as_bool() == Some(true)).map(|(k, _)| k.clone()).collect(),
                _ => return Err(FilterError::Malformed(format!("values of {name:?} are neither a list nor a set"))),
            };
            out.insert(name.clone(), list);
        }
        Ok(Filters(out))
    }

    /// Parses `--filter name=value` arguments (the client side).
    pub fn from_args(args: &[String]) -> Result<Filters, FilterError> {
        let mut f = Filters::default();
        for a in args {
            let (k, v) = a.split_once('=').ok_or_else(|| FilterError::Malformed(format!("bad format of filter (expected name=value): {a}")))?;
            f = f.add(k.trim(), v);
        }
        Ok(f)
    }

    /// These filters plus `name=value`.
    pub fn add(mut self, name: &str, value: &str) -> Filters {
        self.0.entry(name.to_ascii_lowercase()).or_default().push(value.to_owned());
        self
    }

    /// The set form the docker CLI sends, or None when there are no filters.
    pub fn encode(&self) -> Option<String> {
        if self.0.is_empty() {
            return None;
        }
        let obj: serde_json::Map<String, serde_json::Value> = self
            .0
            .iter()
            .map(|(k, vs)| (k.clone(), serde_json::Value::Object(vs.iter().map(|v| (v.clone(), serde_json::Value::Bool(true))).collect())))
            .collect();
        Some(serde_json::Value::Object(obj).to_string())
    }

    /// Refuses filter names not in `known`.
    pub fn only(&self, known: &[&str]) -> Result<(), FilterError> {
        match self.0.keys().find(|k| !known.contains(&k.as_str())) {
            Some(k) => Err(FilterError::Unknown(k.clone())),
            None => Ok(()),
        }
    }

    /// The values of filter `name`.
    pub fn get(&self, name: &str) -> &[String] {
        self.0.get(name).map(Vec::as_slice).unwrap_or(&[])
    }

    /// A boolean filter (`true`/`1`, `false`/`0`); None when absent.
    pub fn bool(&self, name: &str) -> Result<Option<bool>, FilterError> {
        let mut result = None;
        for v in self.get(name) {
            let b = match v.to_ascii_lowercase().as_str() {
                "true" | "1" => true,
                "false" | "0" => false,
                _ => return Err(FilterError::BadValue { name: name.to_owned(), value: v.clone() }),
            };
            // Contradicting values: the last one wins, as in Docker.
            result = Some(b);
        }
        Ok(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_and_set_forms_decode_alike_and_the_set_form_round_trips() {
        let a = Filters::parse(Some(r#"{"dangling":["true"]}"#)).ok();
        let b = Filters::parse(Some(r#"{"dangling":{"true":true}}"#)).ok();
        assert_eq!(a, b);
        let f = Filters::from_args(&["dangling=true".into()]).unwrap_or_default();
        assert_eq!(Filters::parse(f.encode().as_deref()).ok(), a);
        assert_eq!(b.and_then(|f| f.bool("dangling").ok().flatten()), Some(true));
        assert!(Filters::parse(Some(r#"{"dangling":["maybe"]}"#)).is_ok_and(|f| f.bool("dangling").is_err()));
        assert!(Filters::parse(Some(r#"{"color":["red"]}"#)).is_ok_and(|f| f.only(&["dangling"]).is_err()));
    }
}
