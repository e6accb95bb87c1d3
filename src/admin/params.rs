//! Action parameters: read from the JSON body (TC3) or from form pairs
//! (`Targets.0.Port=80`, v1 style) into typed inputs, with errors that
//! name the parameter as the caller wrote it.
//!
//! Every input type is declared with the `input!` macro of this module,
//! which lists each field with its PascalCase name and whether it is
//! required. Reading consumes the fields it knows; anything left over is
//! `UnknownParameter`, a required field that is absent is
//! `MissingParameter`, a value of the wrong type is
//! `InvalidParameter.FormatError`. Integers and booleans are also accepted
//! as strings (form values always are, and the product's own JSON examples
//! quote some numbers).

use serde_json::{Map, Value};

use super::error::{ApiError, Code};

/// A value that can be read from one parameter.
pub(crate) trait FromParam: Sized {
    /// Reads `value`, found at `path` (for errors).
    fn from_param(value: Value, path: &str) -> Result<Self, ApiError>;
}

/// An object of parameters being read.
#[derive(Debug)]
pub(crate) struct Object {
    path: String,
    members: Map<String, Value>,
}

impl Object {
    /// The object at `path` (empty for the top level), or a format error.
    pub(crate) fn new(value: Value, path: &str) -> Result<Object, ApiError> {
        match value {
            Value::Object(members) => Ok(Object {
                path: path.to_owned(),
                members,
            }),
            _ => Err(format_error(path, "an object")),
        }
    }

    fn child(&self, name: &str) -> String {
        if self.path.is_empty() {
            name.to_owned()
        } else {
            format!("{}.{name}", self.path)
        }
    }

    /// Takes the required parameter `name`.
    pub(crate) fn required<T: FromParam>(&mut self, name: &str) -> Result<T, ApiError> {
        let path = self.child(name);
        match self.members.remove(name) {
            None | Some(Value::Null) => Err(ApiError::missing(&path)),
            Some(v) => T::from_param(v, &path),
        }
    }

    /// Takes the optional parameter `name` (`null` counts as absent).
    pub(crate) fn optional<T: FromParam>(&mut self, name: &str) -> Result<Option<T>, ApiError> {
        let path = self.child(name);
        match self.members.remove(name) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => T::from_param(v, &path).map(Some),
        }
    }

    /// Succeeds when every member was taken; else `UnknownParameter`
    /// naming the first one left.
    pub(crate) fn finish(self) -> Result<(), ApiError> {
        match self.members.keys().next() {
            None => Ok(()),
            Some(name) => {
                let path = self.child(name);
                Err(ApiError::new(
                    Code::UnknownParameter,
                    format!("The parameter `{path}` is not recognized by this action."),
                ))
            }
        }
    }
}

fn format_error(path: &str, expected: &str) -> ApiError {
    let path = if path.is_empty() {
        "the parameters"
    } else {
        path
    };
    ApiError::new(Code::FormatError, format!("{path}: must be {expected}"))
}

impl FromParam for String {
    fn from_param(value: Value, path: &str) -> Result<Self, ApiError> {
        match value {
            Value::String(s) => Ok(s),
            Value::Number(n) => Ok(n.to_string()),
            _ => Err(format_error(path, "a string")),
        }
    }
}

impl FromParam for i64 {
    fn from_param(value: Value, path: &str) -> Result<Self, ApiError> {
        let parsed = match &value {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.trim().parse::<i64>().ok(),
            _ => None,
        };
        parsed.ok_or_else(|| format_error(path, "an integer"))
    }
}

impl FromParam for bool {
    fn from_param(value: Value, path: &str) -> Result<Self, ApiError> {
        match &value {
            Value::Bool(b) => Ok(*b),
            Value::String(s) if s == "true" || s == "True" => Ok(true),
            Value::String(s) if s == "false" || s == "False" => Ok(false),
            _ => Err(format_error(path, "true or false")),
        }
    }
}

/// Any value: for parameters that are accepted and have no effect on a
/// self-hosted proxy (billing, zones, tags…).
impl FromParam for Value {
    fn from_param(value: Value, _path: &str) -> Result<Self, ApiError> {
        Ok(value)
    }
}

impl<T: FromParam> FromParam for Vec<T> {
    fn from_param(value: Value, path: &str) -> Result<Self, ApiError> {
        match value {
            Value::Array(items) => items
                .into_iter()
                .enumerate()
                .map(|(i, v)| T::from_param(v, &format!("{path}.{i}")))
                .collect(),
            _ => Err(format_error(path, "an array")),
        }
    }
}

/// Declares an input structure and how to read it: each field is
/// `name: req Type = "PascalName"` or `name: opt Type = "PascalName"`
/// (an `opt` field is an `Option<Type>`).
macro_rules! input {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident {
            $( $(#[$fmeta:meta])* $field:ident : $kind:ident $ty:ty = $key:literal, )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq)]
        $vis struct $name {
            $( $(#[$fmeta])* $vis $field: $crate::admin::params::input!(@ty $kind $ty), )*
        }

        impl $crate::admin::params::FromParam for $name {
            fn from_param(
                value: serde_json::Value,
                path: &str,
            ) -> Result<Self, $crate::admin::error::ApiError> {
                let mut o = $crate::admin::params::Object::new(value, path)?;
                let out = $name {
                    $( $field: $crate::admin::params::input!(@get o $kind $key)?, )*
                };
                o.finish()?;
                Ok(out)
            }
        }
    };
    (@ty req $ty:ty) => { $ty };
    (@ty opt $ty:ty) => { Option<$ty> };
    (@get $o:ident req $key:literal) => { $o.required($key) };
    (@get $o:ident opt $key:literal) => { $o.optional($key) };
}
pub(crate) use input;

/// Reads the top-level parameters of an action.
pub(crate) fn read<T: FromParam>(params: Value) -> Result<T, ApiError> {
    T::from_param(params, "")
}

/// Most dot-separated segments in a form parameter name. The product's
/// deepest names have a handful (`Targets.0.Port`, `Certificate.CertId`);
/// the bound keeps nesting (which recurses) far from the stack's limit.
pub(crate) const MAX_NAME_DEPTH: usize = 16;

/// Turns form pairs (`Ports.0=80`, `HealthCheck.HealthSwitch=1`) into the
/// JSON shape a TC3 body has: dotted names become nested objects, and an
/// object whose keys are all indices becomes an array in index order.
/// A name given twice keeps its first value; a name with empty segments or
/// more than [`MAX_NAME_DEPTH`] of them is a `FormatError`.
pub(crate) fn form_to_json(pairs: &[(String, String)]) -> Result<Value, ApiError> {
    let mut root = Map::new();
    for (name, value) in pairs {
        if memchr::memchr_iter(b'.', name.as_bytes()).count() >= MAX_NAME_DEPTH {
            return Err(format_error(
                &name.chars().take(64).collect::<String>(),
                &format!("a parameter name of at most {MAX_NAME_DEPTH} segments"),
            ));
        }
        let segments: Vec<&str> = name.split('.').collect();
        if segments.iter().any(|s| s.is_empty()) {
            return Err(format_error(
                name,
                "a parameter name such as Targets.0.Port",
            ));
        }
        insert(&mut root, &segments, value, name)?;
    }
    Ok(arrays(Value::Object(root)))
}

fn insert(
    map: &mut Map<String, Value>,
    segments: &[&str],
    value: &str,
    full: &str,
) -> Result<(), ApiError> {
    let Some((first, rest)) = segments.split_first() else {
        return Ok(());
    };
    if rest.is_empty() {
        map.entry(first.to_string())
            .or_insert_with(|| Value::String(value.to_owned()));
        return Ok(());
    }
    let child = map
        .entry(first.to_string())
        .or_insert_with(|| Value::Object(Map::new()));
    match child {
        Value::Object(m) => insert(m, rest, value, full),
        _ => Err(format_error(
            full,
            "either a value or a structure, not both",
        )),
    }
}

fn arrays(value: Value) -> Value {
    let Value::Object(map) = value else {
        return value;
    };
    let all_indices = !map.is_empty() && map.keys().all(|k| k.parse::<usize>().is_ok());
    if all_indices {
        let mut items: Vec<(usize, Value)> = map
            .into_iter()
            .filter_map(|(k, v)| k.parse::<usize>().ok().map(|i| (i, arrays(v))))
            .collect();
        items.sort_by_key(|(i, _)| *i);
        Value::Array(items.into_iter().map(|(_, v)| v).collect())
    } else {
        Value::Object(map.into_iter().map(|(k, v)| (k, arrays(v))).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    input! {
        /// A test input.
        struct Probe {
            id: req String = "LoadBalancerId",
            ports: opt Vec<i64> = "Ports",
            inner: opt Inner = "Inner",
        }
    }

    input! {
        /// A nested test input.
        struct Inner {
            on: opt bool = "On",
        }
    }

    #[test]
    fn reads_typed_fields_and_accepts_quoted_numbers() {
        let p: Probe =
            read(json!({"LoadBalancerId": "lb-1", "Ports": [80, "81"], "Inner": {"On": true}}))
                .unwrap();
        assert_eq!(p.ports, Some(vec![80, 81]));
        assert_eq!(p.inner, Some(Inner { on: Some(true) }));
    }

    #[test]
    fn names_the_parameter_in_every_error() {
        let e = read::<Probe>(json!({})).unwrap_err();
        assert_eq!(e.code, Code::MissingParameter);
        assert!(e.message.contains("LoadBalancerId"));
        let e = read::<Probe>(json!({"LoadBalancerId": "x", "Ports": [1, "a"]})).unwrap_err();
        assert_eq!(e.code, Code::FormatError);
        assert!(e.message.contains("Ports.1"), "{}", e.message);
        let e = read::<Probe>(json!({"LoadBalancerId": "x", "Inner": {"Off": 1}})).unwrap_err();
        assert_eq!(e.code, Code::UnknownParameter);
        assert!(e.message.contains("Inner.Off"), "{}", e.message);
    }

    #[test]
    fn form_pairs_become_nested_json() {
        let pairs: Vec<(String, String)> = [
            ("LoadBalancerId", "lb-1"),
            ("Ports.1", "81"),
            ("Ports.0", "80"),
            ("Inner.On", "true"),
        ]
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
        let v = form_to_json(&pairs).unwrap();
        assert_eq!(
            v,
            json!({"LoadBalancerId": "lb-1", "Ports": ["80", "81"], "Inner": {"On": "true"}})
        );
        let p: Probe = read(v).unwrap();
        assert_eq!(p.ports, Some(vec![80, 81]));
    }

    #[test]
    fn deeply_dotted_names_are_refused_not_recursed_into() {
        // A signed v1 body may be 10 MiB: one name of 100 000 segments used
        // to nest (and drop) that deep, overflowing the stack.
        let name = vec!["a"; 100_000].join(".");
        let e = form_to_json(&[(name, "1".into())]).unwrap_err();
        assert_eq!(e.code, Code::FormatError);
        let deepest = vec!["a"; MAX_NAME_DEPTH].join(".");
        assert!(form_to_json(&[(deepest, "1".into())]).is_ok());
    }
}
