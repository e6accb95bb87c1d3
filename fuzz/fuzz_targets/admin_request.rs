//! The management API's request decoding, without a network: signature
//! checking (TC3 and v1) of arbitrary requests, the round trip of requests
//! signed by the crate's own signers, and the decoding of the parameters
//! into an action's typed input.

#![no_main]

use std::collections::HashMap;

use arbitrary::Arbitrary;
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use libfuzzer_sys::fuzz_target;
use stgw::admin::actions::decode;
use stgw::admin::server::action_params;
use stgw::admin::sign::{
    self, AuthError, Authenticated, Params, SignedRequest, Tc3Request, V1Method,
};

const SECRET_ID: &str = "AKIDfuzz";
const SECRET_KEY: &str = "fuzz-secret-key";
/// A fixed server clock (2024-06-01), near which signed requests are dated.
const NOW: i64 = 1_717_200_000;

#[derive(Arbitrary, Debug)]
enum Input {
    /// Anything on the wire.
    Raw {
        post: bool,
        query: String,
        headers: Vec<(String, Vec<u8>)>,
        body: Vec<u8>,
        skew: i16,
    },
    /// A TC3 request signed with the right key.
    Tc3 {
        get: bool,
        host: String,
        content_type: String,
        query: String,
        payload: Vec<u8>,
        action: u8,
        version: bool,
        region: Option<String>,
        skew: i16,
    },
    /// A v1 request signed with the right key.
    V1 {
        post: bool,
        sha256: bool,
        host: String,
        action: u8,
        params: Vec<(String, String)>,
        skew: i16,
    },
}

/// The action names signed requests carry (a byte picks one; the last is
/// unknown). Every name is decoded by the library's own table,
/// [`stgw::admin::actions::decode`].
const ACTIONS: [&str; 14] = [
    "DescribeTaskStatus",
    "DescribeLoadBalancers",
    "CreateLoadBalancer",
    "ModifyLoadBalancerAttributes",
    "CreateListener",
    "ModifyListener",
    "CreateRule",
    "ModifyDomainAttributes",
    "RegisterTargets",
    "BatchModifyTargetWeight",
    "ManualRewrite",
    "UpLoadCert",
    "ReplaceCert",
    "NoSuchAction",
];

fn action_name(i: u8) -> &'static str {
    ACTIONS[usize::from(i) % ACTIONS.len()]
}

/// Authenticates, then decodes the parameters into the action's input with
/// the dispatcher's own [`decode`], as the server would.
fn serve(
    method: &Method,
    query: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Authenticated, AuthError> {
    let creds = HashMap::from([(SECRET_ID.to_owned(), SECRET_KEY.to_owned())]);
    let req = SignedRequest {
        method,
        query,
        headers,
        body,
    };
    let auth = sign::authenticate(&req, &creds, NOW)?;
    assert_eq!(auth.secret_id, SECRET_ID);
    if let Ok(params) = action_params(auth.params.clone(), method, body) {
        let _ = decode(&auth.action, params);
    }
    Ok(auth)
}

fuzz_target!(|input: Input| match input {
    Input::Raw {
        post,
        query,
        headers,
        body,
        skew,
    } => {
        let method = if post { Method::POST } else { Method::GET };
        let mut map = HeaderMap::new();
        for (name, value) in headers.iter().take(16) {
            if let (Ok(n), Ok(v)) = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_bytes(value),
            ) {
                map.append(n, v);
            }
        }
        let _ = serve(&method, &query, &map, &body).map_err(|e| {
            assert!(!e.code().is_empty());
            e.message()
        });
        let _ = skew;
    }
    Input::Tc3 {
        get,
        host,
        content_type,
        query,
        payload,
        action,
        version,
        region,
        skew,
    } => {
        let method = if get { Method::GET } else { Method::POST };
        let action = action_name(action);
        let request = Tc3Request {
            method: &method,
            host: &host,
            content_type: &content_type,
            query: &query,
            payload: &payload,
            action,
            version: if version { "2018-03-17" } else { "2017-03-12" },
            region: region.as_deref(),
            timestamp: NOW + i64::from(skew) % 300,
            extra_signed_headers: &[],
        };
        let headers = sign::sign_tc3_request(SECRET_ID, SECRET_KEY, &request);
        let body = if get { &[][..] } else { &payload[..] };
        let signed = headers.contains_key(http::header::AUTHORIZATION);
        match serve(&method, &query, &headers, body) {
            Ok(auth) => {
                assert!(signed);
                assert_eq!(auth.action, action);
                assert_eq!(auth.version, request.version);
                assert_eq!(auth.params == Params::Json, !get);
            }
            // What the signer signs, the verifier must accept: only an
            // unusable value (a bad query string, a non-ASCII region) may
            // still be refused.
            Err(e) if signed => {
                assert!(
                    matches!(e, AuthError::InvalidParameter { .. }),
                    "a signed TC3 request was refused: {e:?}"
                );
            }
            Err(_) => {}
        }
    }
    Input::V1 {
        post,
        sha256,
        host,
        action,
        params,
        skew,
    } => {
        let method = if post { Method::POST } else { Method::GET };
        let action = action_name(action);
        let timestamp = (NOW + i64::from(skew) % 300).to_string();
        let own: Vec<(String, String)> = params
            .into_iter()
            .take(32)
            .filter(|(k, _)| !sign::COMMON_PARAMS.contains(&k.as_str()))
            .collect();
        let mut all: Vec<(&str, &str)> = vec![
            ("Action", action),
            ("Version", "2018-03-17"),
            ("Region", "ap-guangzhou"),
            ("SecretId", SECRET_ID),
            ("Timestamp", &timestamp),
            ("Nonce", "1234"),
        ];
        all.extend(own.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let signature = if sha256 {
            V1Method::HmacSha256
        } else {
            V1Method::HmacSha1
        };
        let encoded = sign::sign_v1(&method, &host, SECRET_KEY, signature, &all);
        let mut headers = HeaderMap::new();
        let Ok(host_value) = HeaderValue::from_str(&host) else {
            return;
        };
        // The server reads a Host of visible ASCII only.
        let visible = |b: u8| (0x20..0x7f).contains(&b) || b == b'\t';
        if host.trim().is_empty() || !host.bytes().all(visible) {
            return;
        }
        headers.insert(http::header::HOST, host_value);
        let (query, body) = if post {
            headers.insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static("application/x-www-form-urlencoded"),
            );
            ("", encoded.as_bytes())
        } else {
            (encoded.as_str(), &[][..])
        };
        let auth = match serve(&method, query, &headers, body) {
            Ok(auth) => auth,
            Err(e) => panic!("a signed v1 request was refused: {e:?}"),
        };
        assert_eq!(auth.action, action);
        // The action's own pairs come back exactly, in order.
        assert_eq!(auth.params, Params::Form(own));
    }
});
