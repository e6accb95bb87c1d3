//! Tests of the signature verification against the vendor's documented examples and captured SDK requests.

use http::{HeaderName, HeaderValue};
use sha2::{Digest, Sha256};

use super::checks::ct_eq;
use super::primitives::{percent_decode, percent_encode, utc_date};
use super::signing::put;
use super::tc3::{canonical_request, tc3_signature};
use super::v1::{v1_signature, v1_string_to_sign};
use super::*;
use crate::encoding::{base64, hex};

const ID: &str = "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE";
const KEY: &str = "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE";
const HOST: &str = "127.0.0.1:9180";
const VERSION: &str = "2018-03-17";
const TS: i64 = 1_795_698_497; // 2026-11-26T...Z

/// Credentials of the doc's examples and of the captured SDK requests.
fn creds() -> HashMap<String, String> {
    HashMap::from([
        (ID.to_owned(), KEY.to_owned()),
        (SDK_ID.to_owned(), SDK_KEY.to_owned()),
    ])
}

fn header_map(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        let name = HeaderName::from_bytes(name.as_bytes()).expect("test header name");
        let value = HeaderValue::from_str(value).expect("test header value");
        map.append(name, value);
    }
    map
}

fn auth(
    method: &Method,
    query: &str,
    headers: &HeaderMap,
    body: &[u8],
    now: i64,
) -> Result<Authenticated, AuthError> {
    let req = SignedRequest {
        method,
        query,
        headers,
        body,
    };
    authenticate(&req, &creds(), now)
}

fn set(headers: &mut HeaderMap, name: &'static str, value: &str) {
    headers.insert(
        name,
        HeaderValue::from_str(value).expect("test header value"),
    );
}

fn form(pairs: &[(&str, &str)]) -> Params {
    Params::Form(
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    )
}

fn is_signature_failure(result: Result<Authenticated, AuthError>) -> bool {
    matches!(result, Err(AuthError::SignatureFailure(_)))
}

const BODY: &[u8] = br#"{"LoadBalancerIds":["lb-12345678"],"Limit":20}"#;

fn signed_post() -> HeaderMap {
    sign_tc3(
        ID,
        KEY,
        HOST,
        "DescribeLoadBalancers",
        VERSION,
        Some("ap-guangzhou"),
        TS,
        BODY,
    )
}

fn signed_with(method: &Method, content_type: &str, query: &str, extra: &[&str]) -> HeaderMap {
    let request = Tc3Request {
        method,
        host: HOST,
        content_type,
        query,
        payload: BODY,
        action: "DescribeLoadBalancers",
        version: VERSION,
        region: Some("ap-guangzhou"),
        timestamp: TS,
        extra_signed_headers: extra,
    };
    sign_tc3_request(ID, KEY, &request)
}

// ----- the product doc's worked examples -------------------------------------------------

fn doc_v1_pairs(region: &str) -> Vec<(String, String)> {
    [
        ("Action", "DescribeInstances"),
        ("SecretId", ID),
        ("Timestamp", "1465185768"),
        ("Nonce", "11886"),
        ("Region", region),
        ("InstanceIds.0", "ins-09dx96dg"),
        ("Offset", "0"),
        ("Limit", "20"),
        ("Version", "2017-03-12"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect()
}

#[test]
fn v1_doc_example_string_to_sign_is_exactly_the_docs() {
    let s = v1_string_to_sign(
        "GET",
        "cvm.finance.cloud.tencent.com",
        &doc_v1_pairs("shjr"),
    );
    assert_eq!(
        s,
        "GETcvm.finance.cloud.tencent.com/?Action=DescribeInstances&InstanceIds.0=ins-09dx96dg&Limit=20&Nonce=11886&Offset=0&Region=shjr&SecretId=AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE&Timestamp=1465185768&Version=2017-03-12"
    );
}

/// The doc prints `EliP9YW3pW28FpsEdkXt/+WcGeI=` for its finance-zone string, but that value
/// belongs to the same request sent to `cvm.tencentcloudapi.com` in `ap-guangzhou` (the public
/// doc it was adapted from). Both values were cross-checked with Python's `hmac` module.
#[test]
fn v1_doc_signature_is_reproduced_for_the_host_and_region_it_was_computed_with() {
    let upstream = v1_string_to_sign(
        "GET",
        "cvm.tencentcloudapi.com",
        &doc_v1_pairs("ap-guangzhou"),
    );
    let sig = v1_signature(KEY, &upstream, V1Method::HmacSha1);
    assert_eq!(sig.as_deref(), Some("EliP9YW3pW28FpsEdkXt/+WcGeI="));
}

#[test]
fn v1_doc_string_to_sign_as_printed_gives_a_signature_other_than_the_docs() {
    let printed = v1_string_to_sign(
        "GET",
        "cvm.finance.cloud.tencent.com",
        &doc_v1_pairs("shjr"),
    );
    let sig = v1_signature(KEY, &printed, V1Method::HmacSha1);
    assert_eq!(sig.as_deref(), Some("8UAj5grJNx3uGNuyi0M6Gd1f5gY="));
}

#[test]
fn v1_doc_request_authenticates_with_upper_or_lower_case_percent_encoded_signature() {
    let headers = header_map(&[("host", "cvm.tencentcloudapi.com")]);
    for encoded in [
        "EliP9YW3pW28FpsEdkXt%2F%2BWcGeI%3D",
        "EliP9YW3pW28FpsEdkXt%2f%2bWcGeI%3d",
    ] {
        let query = format!(
            "Action=DescribeInstances&InstanceIds.0=ins-09dx96dg&Limit=20&Nonce=11886&Offset=0&Region=ap-guangzhou&SecretId={ID}&Signature={encoded}&Timestamp=1465185768&Version=2017-03-12"
        );
        let ok = auth(&Method::GET, &query, &headers, b"", 1_465_185_768).expect("doc request");
        assert_eq!(ok.action, "DescribeInstances");
        assert_eq!(ok.version, "2017-03-12");
        assert_eq!(ok.region.as_deref(), Some("ap-guangzhou"));
        assert_eq!(
            ok.style,
            Style::V1 {
                method: V1Method::HmacSha1
            }
        );
        assert_eq!(
            ok.params,
            form(&[
                ("InstanceIds.0", "ins-09dx96dg"),
                ("Limit", "20"),
                ("Offset", "0")
            ])
        );
    }
}

fn doc_tc3_canonical(host: &str) -> Vec<u8> {
    let headers = header_map(&[
        ("content-type", "application/x-www-form-urlencoded"),
        ("host", host),
    ]);
    let signed = ["content-type".to_owned(), "host".to_owned()];
    canonical_request("GET", "Limit=10&Offset=0", &headers, &signed, b"").expect("canonical")
}

#[test]
fn tc3_doc_canonical_request_is_laid_out_as_the_doc_shows() {
    let canonical = doc_tc3_canonical("cvm.finance.cloud.tencent.com");
    assert_eq!(
        String::from_utf8(canonical).expect("utf-8"),
        "GET\n/\nLimit=10&Offset=0\ncontent-type:application/x-www-form-urlencoded\nhost:cvm.finance.cloud.tencent.com\n\ncontent-type;host\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
}

/// The doc prints the empty-payload hash and the canonical-request hash each with one `f`
/// missing (63 digits), and both hashes and the signature `5da7a33f…` were computed for host
/// `cvm.tencentcloudapi.com`, not the `cvm.finance.cloud.tencent.com` it shows.
#[test]
fn tc3_doc_signature_is_reproduced_for_the_host_it_was_computed_with() {
    let canonical = doc_tc3_canonical("cvm.tencentcloudapi.com");
    assert_eq!(
        hex(&Sha256::digest(&canonical)),
        "91c9c192c14460df6c1ffc69e34e6c5e90708de2a6d282cccf957dbf1aa7f3a7"
    );
    let sig = tc3_signature(KEY, "2018-10-09", "cvm", "1539084154", &canonical);
    assert_eq!(
        sig.as_deref(),
        Some("5da7a33f6993f0614b047e5df4582db9e9bf4672ba50567dba16c6ccf174c474")
    );
}

#[test]
fn tc3_doc_example_with_the_finance_host_signs_to_the_python_computed_value() {
    let canonical = doc_tc3_canonical("cvm.finance.cloud.tencent.com");
    let sig = tc3_signature(KEY, "2018-10-09", "cvm", "1539084154", &canonical);
    assert_eq!(
        sig.as_deref(),
        Some("e58ba76f0ad56875e1ef9f67e4930f28ba11e300c6f055aace641b06f433ff1b")
    );
}

#[test]
fn utc_dates_are_computed_in_utc_including_the_docs_midnight_example() {
    assert_eq!(utc_date(1_551_113_065), "2019-02-25");
    assert_eq!(utc_date(1_539_084_154), "2018-10-09");
    assert_eq!(utc_date(0), "1970-01-01");
    assert_eq!(utc_date(951_782_400), "2000-02-29");
    assert_eq!(utc_date(-1), "1969-12-31");
    assert_eq!(utc_date(TS), "2026-11-26");
}

// ----- requests captured from tencentcloud-sdk-python-clb 3.1.194 (common 3.1.195) ------
// Endpoint 127.0.0.1:9180, protocol http, region ap-guangzhou, DescribeLoadBalancers with
// LoadBalancerIds ["lb-12345678","lb-abcdefgh"], Limit 20, LoadBalancerName "a b+c/д".

const SDK_ID: &str = "AKIDstgwTEST00000000000000000000";
const SDK_KEY: &str = "stgwTESTsecretKey000000000000000";
const SDK_QUERY: &str = "LoadBalancerIds.0=lb-12345678&LoadBalancerIds.1=lb-abcdefgh&LoadBalancerName=a+b%2Bc%2F%D0%B4&Limit=20";

fn sdk_params() -> Params {
    form(&[
        ("LoadBalancerIds.0", "lb-12345678"),
        ("LoadBalancerIds.1", "lb-abcdefgh"),
        ("LoadBalancerName", "a b+c/д"),
        ("Limit", "20"),
    ])
}

fn sdk_tc3_headers(content_type: &str, signature: &str) -> HeaderMap {
    let authorization = format!(
        "TC3-HMAC-SHA256 Credential={SDK_ID}/2026-11-26/clb/tc3_request, SignedHeaders=content-type;host, Signature={signature}"
    );
    header_map(&[
        ("User-Agent", "python-requests/2.34.2"),
        ("Accept-Encoding", "gzip, deflate"),
        ("Accept", "*/*"),
        ("Connection", "keep-alive"),
        ("X-TC-TraceId", "25905627-ff43-4240-959a-0ee1df17e51c"),
        ("Content-Type", content_type),
        ("Host", "127.0.0.1:9180"),
        ("X-TC-Action", "DescribeLoadBalancers"),
        ("X-TC-RequestClient", "SDK_PYTHON_3.1.194"),
        ("X-TC-Timestamp", "1795698497"),
        ("X-TC-Version", "2018-03-17"),
        ("X-TC-Region", "ap-guangzhou"),
        ("X-TC-Language", "zh-CN"),
        ("Authorization", &authorization),
    ])
}

#[test]
fn python_sdk_tc3_post_json_request_authenticates() {
    let headers = sdk_tc3_headers(
        "application/json",
        "7b9b9da7ee0aeee611ab28bb11ec1810e536206de331d94ac06a3c5021af8e02",
    );
    let body = br#"{"LoadBalancerIds": ["lb-12345678", "lb-abcdefgh"], "LoadBalancerName": "a b+c/\u0434", "Limit": 20}"#;
    let ok = auth(&Method::POST, "", &headers, body, TS).expect("sdk request");
    assert_eq!(
        ok,
        Authenticated {
            action: "DescribeLoadBalancers".into(),
            version: VERSION.into(),
            region: Some("ap-guangzhou".into()),
            secret_id: SDK_ID.into(),
            style: Style::Tc3,
            params: Params::Json,
            payload_signed: true,
        }
    );
}

#[test]
fn python_sdk_tc3_get_request_authenticates_with_decoded_query_params() {
    let headers = sdk_tc3_headers(
        "application/x-www-form-urlencoded",
        "f7c36631572bb6029a85c176c4b8929b9c77bfd2382d668a7a6bbc9231e9c939",
    );
    let ok = auth(&Method::GET, SDK_QUERY, &headers, b"", TS).expect("sdk request");
    assert_eq!(ok.style, Style::Tc3);
    assert_eq!(ok.params, sdk_params());
}

#[test]
fn python_sdk_v1_hmac_sha1_form_post_authenticates() {
    let headers = header_map(&[
        ("Content-Type", "application/x-www-form-urlencoded"),
        ("Host", "127.0.0.1:9180"),
    ]);
    let body = format!(
        "{SDK_QUERY}&Action=DescribeLoadBalancers&RequestClient=SDK_PYTHON_3.1.194&Nonce=9126213784810372709&Timestamp=1795698497&Version=2018-03-17&Region=ap-guangzhou&SecretId={SDK_ID}&SignatureMethod=HmacSHA1&Language=zh-CN&Signature=EapFQTXGjw7s0gfzVnj5Gx7Ee4A%3D"
    );
    let ok = auth(&Method::POST, "", &headers, body.as_bytes(), TS).expect("sdk request");
    assert_eq!(
        ok.style,
        Style::V1 {
            method: V1Method::HmacSha1
        }
    );
    assert_eq!(ok.action, "DescribeLoadBalancers");
    assert_eq!(ok.region.as_deref(), Some("ap-guangzhou"));
    assert_eq!(ok.params, sdk_params());
}

#[test]
fn python_sdk_v1_hmac_sha256_get_authenticates() {
    let headers = header_map(&[
        ("Content-Type", "application/x-www-form-urlencoded"),
        ("Host", "127.0.0.1:9180"),
    ]);
    let query = format!(
        "{SDK_QUERY}&Action=DescribeLoadBalancers&RequestClient=SDK_PYTHON_3.1.194&Nonce=7473310158499079191&Timestamp=1795698497&Version=2018-03-17&Region=ap-guangzhou&SecretId={SDK_ID}&SignatureMethod=HmacSHA256&Language=zh-CN&Signature=xB2yG7278Q0LkJGrHre%2Bt9XWR02Y5lmUXN1O%2BcRJqGw%3D"
    );
    let ok = auth(&Method::GET, &query, &headers, b"", TS).expect("sdk request");
    assert_eq!(
        ok.style,
        Style::V1 {
            method: V1Method::HmacSha256
        }
    );
    assert_eq!(ok.params, sdk_params());
}

#[test]
fn python_sdk_tc3_request_sent_to_another_host_fails() {
    let mut headers = sdk_tc3_headers(
        "application/json",
        "7b9b9da7ee0aeee611ab28bb11ec1810e536206de331d94ac06a3c5021af8e02",
    );
    set(&mut headers, "host", "127.0.0.1:9181");
    let body = br#"{"LoadBalancerIds": ["lb-12345678", "lb-abcdefgh"], "LoadBalancerName": "a b+c/\u0434", "Limit": 20}"#;
    assert!(is_signature_failure(auth(
        &Method::POST,
        "",
        &headers,
        body,
        TS
    )));
}

// ----- TC3 round trips and failures ------------------------------------------------------

#[test]
fn sign_tc3_headers_look_like_the_python_sdks() {
    let headers = signed_post();
    let get = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).unwrap_or("");
    assert_eq!(get("content-type"), "application/json");
    assert_eq!(get("host"), HOST);
    assert_eq!(get("x-tc-timestamp"), "1795698497");
    assert!(get("authorization").starts_with(
        "TC3-HMAC-SHA256 Credential=AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE/2026-11-26/clb/tc3_request, SignedHeaders=content-type;host, Signature="
    ));
}

#[test]
fn post_json_round_trip_authenticates() {
    let ok = auth(&Method::POST, "", &signed_post(), BODY, TS).expect("round trip");
    assert_eq!(ok.action, "DescribeLoadBalancers");
    assert_eq!(ok.version, VERSION);
    assert_eq!(ok.region.as_deref(), Some("ap-guangzhou"));
    assert_eq!(ok.secret_id, ID);
    assert_eq!(ok.params, Params::Json);
}

#[test]
fn get_round_trip_authenticates_and_returns_the_query_params() {
    let headers = signed_with(&Method::GET, FORM_URLENCODED, "Limit=10&Offset=0", &[]);
    let ok = auth(&Method::GET, "Limit=10&Offset=0", &headers, b"", TS).expect("round trip");
    assert_eq!(ok.params, form(&[("Limit", "10"), ("Offset", "0")]));
}

#[test]
fn get_with_a_different_query_than_signed_fails() {
    let headers = signed_with(&Method::GET, FORM_URLENCODED, "Limit=10&Offset=0", &[]);
    let result = auth(&Method::GET, "Limit=10&Offset=1", &headers, b"", TS);
    assert!(is_signature_failure(result));
}

#[test]
fn content_type_with_charset_and_signed_x_tc_action_round_trips() {
    let headers = signed_with(
        &Method::POST,
        "application/json; charset=utf-8",
        "",
        &["x-tc-action"],
    );
    let signed = headers.get("authorization").and_then(|v| v.to_str().ok());
    assert!(signed.is_some_and(|a| a.contains("SignedHeaders=content-type;host;x-tc-action,")));
    let ok = auth(&Method::POST, "", &headers, BODY, TS).expect("round trip");
    assert_eq!(ok.params, Params::Json);
}

/// Public TC3 samples that sign `x-tc-action` put its value in lower case in the canonical
/// headers; the doc says values are lower-cased, and so does this verifier.
#[test]
fn signed_header_values_are_lower_cased_and_trimmed_in_the_canonical_request() {
    let headers = header_map(&[
        ("content-type", " application/json; charset=utf-8 "),
        ("host", "LB.Example:9180"),
        ("x-tc-action", "DescribeLoadBalancers"),
    ]);
    let signed: Vec<String> = ["content-type", "host", "x-tc-action"]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    let canonical = canonical_request("POST", "", &headers, &signed, b"{}").expect("ok");
    let text = String::from_utf8(canonical).expect("utf-8");
    assert!(text.contains(
        "content-type:application/json; charset=utf-8\nhost:lb.example:9180\nx-tc-action:describeloadbalancers\n\n"
    ));
}

#[test]
fn tampered_body_is_a_signature_failure() {
    let body = br#"{"LoadBalancerIds":["lb-87654321"],"Limit":20}"#;
    assert!(is_signature_failure(auth(
        &Method::POST,
        "",
        &signed_post(),
        body,
        TS
    )));
}

#[test]
fn tampered_signed_header_is_a_signature_failure() {
    let mut headers = signed_post();
    set(
        &mut headers,
        "content-type",
        "application/json; charset=utf-8",
    );
    assert!(is_signature_failure(auth(
        &Method::POST,
        "",
        &headers,
        BODY,
        TS
    )));
}

#[test]
fn tampered_timestamp_is_a_signature_failure() {
    let mut headers = signed_post();
    set(&mut headers, "x-tc-timestamp", &(TS + 1).to_string());
    assert!(is_signature_failure(auth(
        &Method::POST,
        "",
        &headers,
        BODY,
        TS
    )));
}

#[test]
fn tampered_action_is_a_signature_failure_when_x_tc_action_is_signed() {
    let mut headers = signed_with(&Method::POST, "application/json", "", &["x-tc-action"]);
    set(&mut headers, "x-tc-action", "DeleteLoadBalancer");
    assert!(is_signature_failure(auth(
        &Method::POST,
        "",
        &headers,
        BODY,
        TS
    )));
}

/// A property of the protocol, not of this code: the Python SDK signs only content-type and
/// host, so X-TC-Action, X-TC-Version and X-TC-Region are not covered by its signature.
#[test]
fn tampered_action_goes_undetected_when_only_content_type_and_host_are_signed() {
    let mut headers = signed_post();
    set(&mut headers, "x-tc-action", "DeleteLoadBalancer");
    let ok = auth(&Method::POST, "", &headers, BODY, TS).expect("not covered by signature");
    assert_eq!(ok.action, "DeleteLoadBalancer");
}

#[test]
fn tampered_signature_is_a_signature_failure() {
    let mut headers = signed_post();
    let authorization = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .replace("Signature=", "Signature=0");
    let truncated = &authorization[..authorization.len() - 1];
    set(&mut headers, "authorization", truncated);
    assert!(is_signature_failure(auth(
        &Method::POST,
        "",
        &headers,
        BODY,
        TS
    )));
}

#[test]
fn upper_case_hex_signature_is_accepted() {
    let mut headers = signed_post();
    let authorization = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let (head, sig) = authorization
        .split_once("Signature=")
        .expect("has signature");
    let upper = format!("{head}Signature={}", sig.to_ascii_uppercase());
    set(&mut headers, "authorization", &upper);
    assert!(auth(&Method::POST, "", &headers, BODY, TS).is_ok());
}

#[test]
fn unknown_secret_id_is_secret_id_not_found() {
    let headers = sign_tc3(
        "AKIDunknown",
        KEY,
        HOST,
        "DescribeLoadBalancers",
        VERSION,
        None,
        TS,
        BODY,
    );
    let err = auth(&Method::POST, "", &headers, BODY, TS).expect_err("unknown id");
    assert_eq!(err, AuthError::SecretIdNotFound("AKIDunknown".into()));
    assert_eq!(err.code(), "AuthFailure.SecretIdNotFound");
}

#[test]
fn wrong_key_is_a_signature_failure() {
    let headers = sign_tc3(ID, "not-the-key", HOST, "A", VERSION, None, TS, BODY);
    assert!(is_signature_failure(auth(
        &Method::POST,
        "",
        &headers,
        BODY,
        TS
    )));
}

#[test]
fn malformed_secret_id_is_invalid_secret_id() {
    for id in ["AKID.x", "AKID x", "", &"A".repeat(129)] {
        let mut headers = signed_post();
        let authorization = format!(
            "TC3-HMAC-SHA256 Credential={id}/2026-11-26/clb/tc3_request, SignedHeaders=content-type;host, Signature=00"
        );
        if let Ok(value) = HeaderValue::from_str(&authorization) {
            headers.insert(AUTHORIZATION, value);
        }
        let err = auth(&Method::POST, "", &headers, BODY, TS).expect_err("bad id");
        assert_eq!(err.code(), "AuthFailure.InvalidSecretId", "{id}");
    }
}

#[test]
fn timestamp_301_seconds_off_is_signature_expire_either_way() {
    for now in [TS + 301, TS - 301] {
        let err = auth(&Method::POST, "", &signed_post(), BODY, now).expect_err("expired");
        assert_eq!(err, AuthError::SignatureExpire { timestamp: TS, now });
        assert_eq!(err.code(), "AuthFailure.SignatureExpire");
    }
}

#[test]
fn timestamp_299_or_300_seconds_off_is_accepted_either_way() {
    for now in [TS + 299, TS - 299, TS + 300, TS - 300] {
        assert!(
            auth(&Method::POST, "", &signed_post(), BODY, now).is_ok(),
            "{now}"
        );
    }
}

#[test]
fn credential_date_other_than_the_timestamps_utc_date_is_a_signature_failure() {
    let mut headers = signed_post();
    let authorization = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .replace("/2026-11-26/", "/2026-11-27/");
    set(&mut headers, "authorization", &authorization);
    let err = auth(&Method::POST, "", &headers, BODY, TS).expect_err("date");
    assert!(matches!(&err, AuthError::SignatureFailure(m) if m.contains("2026-11-27")));
}

#[test]
fn credential_scope_for_another_service_is_a_signature_failure() {
    let mut headers = signed_post();
    let authorization = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .replace("/clb/", "/cvm/");
    set(&mut headers, "authorization", &authorization);
    let err = auth(&Method::POST, "", &headers, BODY, TS).expect_err("service");
    assert!(matches!(&err, AuthError::SignatureFailure(m) if m.contains("clb")));
}

#[test]
fn missing_common_headers_are_missing_parameter_naming_the_header() {
    for (name, shown) in [
        ("x-tc-action", "X-TC-Action"),
        ("x-tc-version", "X-TC-Version"),
        ("x-tc-timestamp", "X-TC-Timestamp"),
    ] {
        let mut headers = signed_post();
        headers.remove(name);
        let err = auth(&Method::POST, "", &headers, BODY, TS).expect_err("missing");
        assert_eq!(err, AuthError::MissingParameter(shown.into()));
        assert!(err.message().contains(shown));
    }
}

#[test]
fn missing_signed_host_header_is_missing_parameter_host() {
    let mut headers = signed_post();
    headers.remove("host");
    let err = auth(&Method::POST, "", &headers, BODY, TS).expect_err("missing");
    assert_eq!(err, AuthError::MissingParameter("host".into()));
}

#[test]
fn missing_region_is_allowed_and_reported_as_none() {
    let headers = sign_tc3(
        ID,
        KEY,
        HOST,
        "DescribeLoadBalancers",
        VERSION,
        None,
        TS,
        BODY,
    );
    let ok = auth(&Method::POST, "", &headers, BODY, TS).expect("no region");
    assert_eq!(ok.region, None);
}

#[test]
fn post_json_without_authorization_is_missing_parameter_authorization() {
    let mut headers = signed_post();
    headers.remove("authorization");
    let err = auth(&Method::POST, "", &headers, BODY, TS).expect_err("missing");
    assert_eq!(err, AuthError::MissingParameter("Authorization".into()));
}

#[test]
fn signed_headers_without_host_or_content_type_are_a_signature_failure() {
    for signed in ["content-type", "host", "content-type;x-tc-action"] {
        let mut headers = signed_post();
        let authorization = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .replace(
                "SignedHeaders=content-type;host",
                &format!("SignedHeaders={signed}"),
            );
        set(&mut headers, "authorization", &authorization);
        let err = auth(&Method::POST, "", &headers, BODY, TS).expect_err("required");
        assert!(matches!(&err, AuthError::SignatureFailure(m) if m.contains("must include")));
    }
}

#[test]
fn malformed_authorization_headers_are_signature_failures() {
    let good = format!("Credential={ID}/2026-11-26/clb/tc3_request");
    let cases = [
        format!("HMAC-SHA256 {good}, SignedHeaders=content-type;host, Signature=ab"),
        format!("TC3-HMAC-SHA256{good}, SignedHeaders=content-type;host, Signature=ab"),
        format!("TC3-HMAC-SHA256 {good}, SignedHeaders=content-type;host"),
        "TC3-HMAC-SHA256 SignedHeaders=content-type;host, Signature=ab".to_owned(),
        format!("TC3-HMAC-SHA256 {good}, Signature=ab"),
        format!(
            "TC3-HMAC-SHA256 Credential={ID}/2026-11-26/clb, SignedHeaders=content-type;host, Signature=ab"
        ),
        format!(
            "TC3-HMAC-SHA256 Credential={ID}/2026-11-26/clb/aws4_request, SignedHeaders=content-type;host, Signature=ab"
        ),
        format!("TC3-HMAC-SHA256 {good}, SignedHeaders=content-type;;host, Signature=ab"),
        format!("TC3-HMAC-SHA256 {good}, SignedHeaders=content-type;host, Signature=ab, Extra=1"),
        format!("TC3-HMAC-SHA256 {good} SignedHeaders=content-type;host Signature=ab"),
        String::new(),
    ];
    for case in cases {
        let mut headers = signed_post();
        set(&mut headers, "authorization", &case);
        let err = auth(&Method::POST, "", &headers, BODY, TS).expect_err("malformed");
        assert_eq!(err.code(), "AuthFailure.SignatureFailure", "{case}");
    }
}

#[test]
fn authorization_fields_in_any_order_and_spacing_are_accepted() {
    let mut headers = signed_post();
    let authorization = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let fields = authorization
        .strip_prefix("TC3-HMAC-SHA256 ")
        .expect("prefix")
        .split(", ")
        .collect::<Vec<_>>();
    let reordered = format!(
        "TC3-HMAC-SHA256  {},{} ,{}",
        fields[2], fields[0], fields[1]
    );
    set(&mut headers, "authorization", &reordered);
    assert!(auth(&Method::POST, "", &headers, BODY, TS).is_ok());
}

#[test]
fn x_tc_token_is_token_failure() {
    let mut headers = signed_post();
    set(&mut headers, "x-tc-token", "temporary");
    let err = auth(&Method::POST, "", &headers, BODY, TS).expect_err("token");
    assert_eq!(err, AuthError::TokenFailure);
    assert!(err.message().contains("not supported"));
}

#[test]
fn non_integer_timestamp_is_invalid_parameter() {
    let mut headers = signed_post();
    set(&mut headers, "x-tc-timestamp", "soon");
    let err = auth(&Method::POST, "", &headers, BODY, TS).expect_err("timestamp");
    assert_eq!(err.code(), "InvalidParameter");
}

#[test]
fn duplicated_signed_header_is_a_signature_failure() {
    let mut headers = signed_post();
    headers.append("host", HeaderValue::from_static("evil.example"));
    assert!(is_signature_failure(auth(
        &Method::POST,
        "",
        &headers,
        BODY,
        TS
    )));
}

/// `X-TC-Content-SHA256: UNSIGNED-PAYLOAD` (SDK `unsignedPayload=True`) signs the literal
/// string instead of the body; the result says the body is not covered.
#[test]
fn unsigned_payload_requests_authenticate_and_are_flagged() {
    let mut headers = HeaderMap::new();
    for (name, value) in [
        ("content-type", "application/json"),
        ("host", HOST),
        ("x-tc-action", "DescribeLoadBalancers"),
        ("x-tc-version", VERSION),
        ("x-tc-timestamp", "1795698497"),
        ("x-tc-content-sha256", UNSIGNED_PAYLOAD),
    ] {
        put(&mut headers, name, value);
    }
    let signed = ["content-type".to_owned(), "host".to_owned()];
    let canonical = canonical_request("POST", "", &headers, &signed, UNSIGNED_PAYLOAD.as_bytes())
        .expect("canonical");
    let sig = tc3_signature(KEY, "2026-11-26", SERVICE, "1795698497", &canonical).expect("sig");
    let authorization = format!(
        "TC3-HMAC-SHA256 Credential={ID}/2026-11-26/clb/tc3_request, SignedHeaders=content-type;host, Signature={sig}"
    );
    put(&mut headers, "authorization", &authorization);
    let ok = auth(&Method::POST, "", &headers, b"{\"any\":1}", TS).expect("unsigned");
    assert!(!ok.payload_signed);
}

#[test]
fn methods_other_than_get_and_post_are_unsupported_protocol() {
    for method in [Method::PUT, Method::DELETE, Method::HEAD, Method::PATCH] {
        let err = auth(&method, "", &signed_post(), BODY, TS).expect_err("method");
        assert_eq!(err.code(), "UnsupportedProtocol");
    }
}

// ----- v1 --------------------------------------------------------------------------------

fn v1_params<'a>(extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut params = vec![
        ("Action", "DescribeTargets"),
        ("Version", VERSION),
        ("Region", "ap-guangzhou"),
        ("SecretId", ID),
        ("Timestamp", "1795698497"),
        ("Nonce", "42"),
    ];
    params.extend_from_slice(extra);
    params
}

fn form_headers(content_type: &str) -> HeaderMap {
    header_map(&[("host", HOST), ("content-type", content_type)])
}

const IDS: [(&str, &str); 3] = [
    ("InstanceIds.2", "ins-two"),
    ("InstanceIds.12", "ins-twelve"),
    ("LoadBalancerId", "lb-1 2&3=4/é"),
];

#[test]
fn v1_sorts_names_bytewise_so_instance_ids_12_precede_instance_ids_2() {
    let pairs: Vec<(String, String)> = v1_params(&IDS)
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let s = v1_string_to_sign("GET", HOST, &pairs);
    assert_eq!(
        s,
        format!(
            "GET127.0.0.1:9180/?Action=DescribeTargets&InstanceIds.12=ins-twelve&InstanceIds.2=ins-two&LoadBalancerId=lb-1 2&3=4/é&Nonce=42&Region=ap-guangzhou&SecretId={ID}&Timestamp=1795698497&Version=2018-03-17"
        )
    );
}

#[test]
fn v1_signing_reads_the_host_as_the_server_does_without_surrounding_blanks() {
    // The server trims the Host value; the signer used to sign it as given.
    let query = sign_v1(
        &Method::GET,
        &format!(" {HOST}\t"),
        KEY,
        V1Method::HmacSha256,
        &v1_params(&IDS),
    );
    let headers = header_map(&[("host", &format!("{HOST}\t"))]);
    let ok = auth(&Method::GET, &query, &headers, b"", TS).expect("round trip");
    assert_eq!(ok.params, form(&IDS));
}

#[test]
fn v1_hmac_sha1_get_round_trip_authenticates() {
    let query = sign_v1(
        &Method::GET,
        HOST,
        KEY,
        V1Method::HmacSha1,
        &v1_params(&IDS),
    );
    let ok = auth(
        &Method::GET,
        &query,
        &form_headers(FORM_URLENCODED),
        b"",
        TS,
    )
    .expect("round trip");
    assert_eq!(
        ok.style,
        Style::V1 {
            method: V1Method::HmacSha1
        }
    );
    assert_eq!(ok.action, "DescribeTargets");
    assert_eq!(ok.params, form(&IDS));
}

#[test]
fn v1_hmac_sha256_form_post_with_charset_round_trip_authenticates() {
    let body = sign_v1(
        &Method::POST,
        HOST,
        KEY,
        V1Method::HmacSha256,
        &v1_params(&IDS),
    );
    assert!(body.contains("SignatureMethod=HmacSHA256"));
    let headers = form_headers("application/x-www-form-urlencoded; charset=utf-8");
    let ok = auth(&Method::POST, "", &headers, body.as_bytes(), TS).expect("round trip");
    assert_eq!(
        ok.style,
        Style::V1 {
            method: V1Method::HmacSha256
        }
    );
    assert_eq!(ok.params, form(&IDS));
}

#[test]
fn v1_signature_is_percent_encoded_with_upper_case_hex() {
    let query = sign_v1(
        &Method::GET,
        HOST,
        KEY,
        V1Method::HmacSha1,
        &v1_params(&IDS),
    );
    assert!(query.contains("LoadBalancerId=lb-1%202%263%3D4%2F%C3%A9"));
    let signature = query.rsplit("Signature=").next().unwrap_or("");
    assert!(!signature.contains(['+', '/', '=']));
    for escape in query.split('%').skip(1) {
        let digits = escape.get(..2).unwrap_or("");
        assert!(
            digits
                .bytes()
                .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase())
        );
    }
}

#[test]
fn v1_signature_sent_without_percent_encoding_still_verifies() {
    let pairs: Vec<(String, String)> = v1_params(&[])
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let s = v1_string_to_sign("GET", HOST, &pairs);
    let raw_sig = v1_signature(KEY, &s, V1Method::HmacSha1).expect("sig");
    let unencoded = sign_v1(&Method::GET, HOST, KEY, V1Method::HmacSha1, &v1_params(&[]))
        .split("&Signature=")
        .next()
        .map(|q| format!("{q}&Signature={raw_sig}"))
        .unwrap_or_default();
    let result = auth(
        &Method::GET,
        &unencoded,
        &form_headers(FORM_URLENCODED),
        b"",
        TS,
    );
    assert!(result.is_ok(), "{raw_sig}: {result:?}");
}

#[test]
fn v1_tampered_parameter_is_a_signature_failure() {
    let query = sign_v1(
        &Method::GET,
        HOST,
        KEY,
        V1Method::HmacSha1,
        &v1_params(&IDS),
    );
    let tampered = query.replace("ins-two", "ins-three");
    let result = auth(
        &Method::GET,
        &tampered,
        &form_headers(FORM_URLENCODED),
        b"",
        TS,
    );
    assert!(is_signature_failure(result));
}

#[test]
fn v1_tampered_action_is_a_signature_failure() {
    let query = sign_v1(&Method::GET, HOST, KEY, V1Method::HmacSha1, &v1_params(&[]));
    let tampered = query.replace("DescribeTargets", "DeregisterTargets");
    let result = auth(
        &Method::GET,
        &tampered,
        &form_headers(FORM_URLENCODED),
        b"",
        TS,
    );
    assert!(is_signature_failure(result));
}

#[test]
fn v1_request_signed_for_get_but_sent_as_post_is_a_signature_failure() {
    let body = sign_v1(&Method::GET, HOST, KEY, V1Method::HmacSha1, &v1_params(&[]));
    let result = auth(
        &Method::POST,
        "",
        &form_headers(FORM_URLENCODED),
        body.as_bytes(),
        TS,
    );
    assert!(is_signature_failure(result));
}

#[test]
fn v1_request_for_another_host_is_a_signature_failure() {
    let query = sign_v1(
        &Method::GET,
        "other:9180",
        KEY,
        V1Method::HmacSha1,
        &v1_params(&[]),
    );
    let result = auth(
        &Method::GET,
        &query,
        &form_headers(FORM_URLENCODED),
        b"",
        TS,
    );
    assert!(is_signature_failure(result));
}

#[test]
fn v1_signature_method_other_than_hmac_sha256_means_hmac_sha1() {
    let params = v1_params(&[("SignatureMethod", "HmacMD5")]);
    let query = sign_v1(&Method::GET, HOST, KEY, V1Method::HmacSha1, &params);
    let ok = auth(
        &Method::GET,
        &query,
        &form_headers(FORM_URLENCODED),
        b"",
        TS,
    )
    .expect("sha1");
    assert_eq!(
        ok.style,
        Style::V1 {
            method: V1Method::HmacSha1
        }
    );
    assert_eq!(ok.params, Params::Form(Vec::new()));
}

#[test]
fn v1_underscores_in_names_are_signed_as_dots_like_the_sdk() {
    let pairs = vec![("A_b".to_owned(), "1".to_owned())];
    assert_eq!(v1_string_to_sign("GET", "h", &pairs), "GETh/?A.b=1");
}

#[test]
fn v1_missing_common_parameters_are_named() {
    for name in [
        "Action",
        "Version",
        "SecretId",
        "Timestamp",
        "Nonce",
        "Signature",
    ] {
        let query = sign_v1(&Method::GET, HOST, KEY, V1Method::HmacSha1, &v1_params(&[]));
        let without: Vec<&str> = query
            .split('&')
            .filter(|p| !p.starts_with(&format!("{name}=")))
            .collect();
        let err = auth(
            &Method::GET,
            &without.join("&"),
            &form_headers(FORM_URLENCODED),
            b"",
            TS,
        )
        .expect_err("missing");
        assert_eq!(err, AuthError::MissingParameter(name.into()));
    }
}

#[test]
fn v1_without_host_header_is_missing_parameter_host() {
    let query = sign_v1(&Method::GET, HOST, KEY, V1Method::HmacSha1, &v1_params(&[]));
    let err = auth(&Method::GET, &query, &HeaderMap::new(), b"", TS).expect_err("host");
    assert_eq!(err, AuthError::MissingParameter("Host".into()));
}

#[test]
fn v1_timestamp_301_seconds_off_expires_and_299_is_accepted() {
    let query = sign_v1(
        &Method::GET,
        HOST,
        KEY,
        V1Method::HmacSha256,
        &v1_params(&[]),
    );
    let headers = form_headers(FORM_URLENCODED);
    let err = auth(&Method::GET, &query, &headers, b"", TS - 301).expect_err("expired");
    assert_eq!(err.code(), "AuthFailure.SignatureExpire");
    assert!(auth(&Method::GET, &query, &headers, b"", TS + 299).is_ok());
}

#[test]
fn v1_unknown_secret_id_is_secret_id_not_found() {
    let mut params = v1_params(&[]);
    params.retain(|(k, _)| *k != "SecretId");
    params.push(("SecretId", "AKIDnobody"));
    let query = sign_v1(&Method::GET, HOST, KEY, V1Method::HmacSha1, &params);
    let err = auth(
        &Method::GET,
        &query,
        &form_headers(FORM_URLENCODED),
        b"",
        TS,
    )
    .expect_err("unknown");
    assert_eq!(err.code(), "AuthFailure.SecretIdNotFound");
}

#[test]
fn v1_token_is_token_failure() {
    let query = sign_v1(
        &Method::GET,
        HOST,
        KEY,
        V1Method::HmacSha1,
        &v1_params(&[("Token", "t")]),
    );
    let err = auth(
        &Method::GET,
        &query,
        &form_headers(FORM_URLENCODED),
        b"",
        TS,
    )
    .expect_err("token");
    assert_eq!(err, AuthError::TokenFailure);
}

#[test]
fn v1_bad_percent_encoding_is_invalid_parameter() {
    for query in ["Action=%zz", "Action=%4", "Action=%ff", "Action=ok&Bad%"] {
        let err = auth(&Method::GET, query, &form_headers(FORM_URLENCODED), b"", TS)
            .expect_err("bad encoding");
        assert_eq!(err.code(), "InvalidParameter", "{query}");
    }
}

#[test]
fn form_post_body_that_is_not_utf8_is_invalid_parameter() {
    let err = auth(
        &Method::POST,
        "",
        &form_headers(FORM_URLENCODED),
        b"\xff\xfe",
        TS,
    )
    .expect_err("utf-8");
    assert_eq!(err.code(), "InvalidParameter");
}

#[test]
fn get_without_any_parameters_is_missing_parameter_action() {
    let err = auth(&Method::GET, "", &form_headers(FORM_URLENCODED), b"", TS).expect_err("empty");
    assert_eq!(err, AuthError::MissingParameter("Action".into()));
}

// ----- primitives and error codes --------------------------------------------------------

#[test]
fn every_error_maps_to_its_own_product_code() {
    let errors = [
        AuthError::SignatureFailure("x".into()),
        AuthError::SecretIdNotFound("x".into()),
        AuthError::SignatureExpire {
            timestamp: 0,
            now: 0,
        },
        AuthError::InvalidSecretId("x".into()),
        AuthError::TokenFailure,
        AuthError::MissingParameter("x".into()),
        AuthError::InvalidParameter {
            name: "x".into(),
            reason: "y".into(),
        },
        AuthError::UnsupportedProtocol("PUT".into()),
    ];
    let codes: Vec<&str> = errors.iter().map(AuthError::code).collect();
    assert_eq!(
        codes,
        [
            "AuthFailure.SignatureFailure",
            "AuthFailure.SecretIdNotFound",
            "AuthFailure.SignatureExpire",
            "AuthFailure.InvalidSecretId",
            "AuthFailure.TokenFailure",
            "MissingParameter",
            "InvalidParameter",
            "UnsupportedProtocol",
        ]
    );
    assert!(errors.iter().all(|e| !e.message().is_empty()));
}

#[test]
fn base64_matches_rfc_4648_test_vectors() {
    let vectors = [
        ("", ""),
        ("f", "Zg=="),
        ("fo", "Zm8="),
        ("foo", "Zm9v"),
        ("foob", "Zm9vYg=="),
        ("fooba", "Zm9vYmE="),
        ("foobar", "Zm9vYmFy"),
    ];
    for (input, output) in vectors {
        assert_eq!(base64(input.as_bytes()), output);
    }
}

#[test]
fn percent_coding_round_trips_and_plus_decodes_to_space() {
    let text = "a b+c/д~._-";
    assert_eq!(percent_encode(text), "a%20b%2Bc%2F%D0%B4~._-");
    assert_eq!(percent_decode(&percent_encode(text)).as_deref(), Ok(text));
    assert_eq!(percent_decode("a+b").as_deref(), Ok("a b"));
}

#[test]
fn constant_time_comparison_compares_contents_and_lengths() {
    assert!(ct_eq(b"abc", b"abc"));
    assert!(!ct_eq(b"abc", b"abd"));
    assert!(!ct_eq(b"abc", b"ab"));
    assert!(ct_eq(b"", b""));
}
