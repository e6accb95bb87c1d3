//! The product's JSON envelope: `{"Response": {…, "RequestId": "…"}}` on
//! success, `{"Response": {"Error": {"Code", "Message"}, "RequestId"}}` on
//! failure, always with HTTP 200 and `Content-Type: application/json` (the
//! vendor's SDKs read errors only from such an answer).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::error::ApiError;

/// A new request id: UUID-shaped (8-4-4-4-12 lower-case hex), unique per
/// process and very unlikely to repeat across restarts (time, process id
/// and a counter are hashed).
pub(crate) fn request_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let mut h = Sha256::new();
    h.update(nanos.to_be_bytes());
    h.update(std::process::id().to_be_bytes());
    h.update(COUNTER.fetch_add(1, Ordering::Relaxed).to_be_bytes());
    let d = h.finalize();
    let hex: String = d[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// The success envelope: `output`'s members (an object; anything else is
/// dropped) plus `RequestId`.
pub(crate) fn success(output: Value, request_id: &str) -> Value {
    let mut members = match output {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    members.insert("RequestId".into(), Value::String(request_id.to_owned()));
    json!({ "Response": members })
}

/// The error envelope for `error`.
pub(crate) fn failure(error: &ApiError, request_id: &str) -> Value {
    json!({
        "Response": {
            "Error": { "Code": error.code.as_str(), "Message": error.message },
            "RequestId": request_id,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admin::error::Code;

    #[test]
    fn request_ids_are_uuid_shaped_and_distinct() {
        let a = request_id();
        let b = request_id();
        assert_ne!(a, b);
        let groups: Vec<usize> = a.split('-').map(str::len).collect();
        assert_eq!(groups, [8, 4, 4, 4, 12]);
    }

    #[test]
    fn errors_use_the_products_envelope() {
        let e = ApiError::new(Code::InvalidAction, "no");
        let v = failure(&e, "r-1");
        assert_eq!(v["Response"]["Error"]["Code"], "InvalidAction");
        assert_eq!(v["Response"]["RequestId"], "r-1");
        let v = success(json!({"TotalCount": 0}), "r-2");
        assert_eq!(v["Response"]["TotalCount"], 0);
        assert_eq!(v["Response"]["RequestId"], "r-2");
    }
}
