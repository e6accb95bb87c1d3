//! The product's error codes and the error every action returns.
//!
//! An [`ApiError`] is a code from the product's lists (`seed-api.md` §6)
//! and a message for people. Messages name the parameter as the caller
//! wrote it (`Targets.0.Port`) and, for a value out of range, the allowed
//! range. Clients must branch on the code only, as the product says.

use std::fmt;

use super::sign::AuthError;
use crate::config::ConfigError;
use crate::runtime::RuntimeError;

/// One of the product's error codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    /// `AuthFailure.*` and the other codes of the signature check.
    Auth(&'static str),
    /// `InvalidAction`: no such action.
    InvalidAction,
    /// `NoSuchVersion`: the API version is not 2018-03-17.
    NoSuchVersion,
    /// `MissingParameter`: a required parameter is absent.
    MissingParameter,
    /// `UnknownParameter`: a parameter the action does not take.
    UnknownParameter,
    /// `InvalidParameter`: a parameter that cannot be used as given.
    InvalidParameter,
    /// `InvalidParameter.FormatError`: wrong type or shape.
    FormatError,
    /// `InvalidParameter.LBIdNotFound`.
    LbIdNotFound,
    /// `InvalidParameter.ListenerIdNotFound`.
    ListenerIdNotFound,
    /// `InvalidParameter.LocationNotFound`: no rule matches.
    LocationNotFound,
    /// `InvalidParameter.PortCheckFailed`: port in use, reserved or unbindable.
    PortCheckFailed,
    /// `InvalidParameter.ProtocolCheckFailed`.
    ProtocolCheckFailed,
    /// `InvalidParameter.RewriteAlreadyExist`.
    RewriteAlreadyExist,
    /// `InvalidParameter.SomeRewriteNotFound`.
    SomeRewriteNotFound,
    /// `InvalidParameterValue`: a value outside the allowed set or range.
    InvalidParameterValue,
    /// `InvalidParameterValue.Length`.
    Length,
    /// `InvalidParameterValue.Duplicate`.
    Duplicate,
    /// `InvalidParameterValue.InvalidFilter`.
    InvalidFilter,
    /// `LimitExceeded`: a quota.
    LimitExceeded,
    /// `ResourceNotFound`.
    ResourceNotFound,
    /// `ResourceInUse`: still referenced.
    ResourceInUse,
    /// `FailedOperation`.
    FailedOperation,
    /// `UnsupportedOperation`: the product has it, stgw does not.
    UnsupportedOperation,
    /// `InternalError`.
    InternalError,
}

impl Code {
    /// The code as the product spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Code::Auth(code) => code,
            Code::InvalidAction => "InvalidAction",
            Code::NoSuchVersion => "NoSuchVersion",
            Code::MissingParameter => "MissingParameter",
            Code::UnknownParameter => "UnknownParameter",
            Code::InvalidParameter => "InvalidParameter",
            Code::FormatError => "InvalidParameter.FormatError",
            Code::LbIdNotFound => "InvalidParameter.LBIdNotFound",
            Code::ListenerIdNotFound => "InvalidParameter.ListenerIdNotFound",
            Code::LocationNotFound => "InvalidParameter.LocationNotFound",
            Code::PortCheckFailed => "InvalidParameter.PortCheckFailed",
            Code::ProtocolCheckFailed => "InvalidParameter.ProtocolCheckFailed",
            Code::RewriteAlreadyExist => "InvalidParameter.RewriteAlreadyExist",
            Code::SomeRewriteNotFound => "InvalidParameter.SomeRewriteNotFound",
            Code::InvalidParameterValue => "InvalidParameterValue",
            Code::Length => "InvalidParameterValue.Length",
            Code::Duplicate => "InvalidParameterValue.Duplicate",
            Code::InvalidFilter => "InvalidParameterValue.InvalidFilter",
            Code::LimitExceeded => "LimitExceeded",
            Code::ResourceNotFound => "ResourceNotFound",
            Code::ResourceInUse => "ResourceInUse",
            Code::FailedOperation => "FailedOperation",
            Code::UnsupportedOperation => "UnsupportedOperation",
            Code::InternalError => "InternalError",
        }
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why an API call failed: the product's code and a message naming the
/// parameter.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ApiError {
    /// The product's error code.
    pub code: Code,
    /// What is wrong, for people.
    pub message: String,
}

impl ApiError {
    /// An error with `code` and `message`.
    pub fn new(code: Code, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            message: message.into(),
        }
    }

    /// `MissingParameter` naming `field`.
    pub fn missing(field: &str) -> ApiError {
        ApiError::new(
            Code::MissingParameter,
            format!("The request is missing a required parameter `{field}`."),
        )
    }

    /// `InvalidParameterValue`: `field` has a value outside what is allowed.
    pub fn value(field: &str, message: impl fmt::Display) -> ApiError {
        ApiError::new(Code::InvalidParameterValue, format!("{field}: {message}"))
    }

    /// `InvalidParameterValue`: `value` of `field` is outside `min..=max`.
    pub fn range(field: &str, value: i64, min: i64, max: i64) -> ApiError {
        ApiError::value(
            field,
            format_args!("{value} is out of range: allowed {min}-{max}"),
        )
    }

    /// `InvalidParameter`: `field` cannot be used as given.
    pub fn invalid(field: &str, message: impl fmt::Display) -> ApiError {
        ApiError::new(Code::InvalidParameter, format!("{field}: {message}"))
    }

    /// `InvalidParameter.LBIdNotFound`.
    pub fn lb_not_found(field: &str, id: &str) -> ApiError {
        ApiError::new(
            Code::LbIdNotFound,
            format!("{field}: no load balancer has id {id:?}"),
        )
    }

    /// `InvalidParameter.ListenerIdNotFound`.
    pub fn listener_not_found(field: &str, id: &str, lb: &str) -> ApiError {
        ApiError::new(
            Code::ListenerIdNotFound,
            format!("{field}: load balancer {lb} has no listener with id {id:?}"),
        )
    }

    /// `InvalidParameter.LocationNotFound`.
    pub fn location_not_found(field: &str, what: impl fmt::Display) -> ApiError {
        ApiError::new(Code::LocationNotFound, format!("{field}: {what}"))
    }

    /// `InternalError` (details are logged, not shown).
    pub fn internal(message: impl fmt::Display) -> ApiError {
        tracing::error!("admin API internal error: {message}");
        ApiError::new(
            Code::InternalError,
            "Internal error; the server log has the details. Nothing was changed.",
        )
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> ApiError {
        ApiError::new(Code::Auth(e.code()), e.message())
    }
}

impl From<RuntimeError> for ApiError {
    fn from(e: RuntimeError) -> ApiError {
        match e {
            RuntimeError::Config(c) => ApiError::from(c),
            RuntimeError::Bind { addr, source } => ApiError::new(
                Code::PortCheckFailed,
                format!("cannot listen on {addr}: {source}"),
            ),
            other => ApiError::internal(other),
        }
    }
}

impl From<ConfigError> for ApiError {
    /// A configuration the edit produced was refused by validation. The
    /// action handlers check their own parameters first with the API's
    /// names; this is the backstop, naming the file's field instead.
    fn from(e: ConfigError) -> ApiError {
        let ConfigError::Invalid { issues, .. } = &e else {
            return ApiError::internal(e);
        };
        let Some(first) = issues.first() else {
            return ApiError::internal(e);
        };
        let message = issues
            .iter()
            .map(|i| format!("{}: {}", i.field, i.message))
            .collect::<Vec<_>>()
            .join("; ");
        let port_conflict = (first.field.ends_with("port")
            && (first.message.contains("already") || first.message.contains("reserved")))
            || first.message.contains("already bound");
        let code = if first.message.contains("quota") {
            Code::LimitExceeded
        } else if port_conflict {
            Code::PortCheckFailed
        } else {
            Code::InvalidParameterValue
        };
        ApiError::new(code, message)
    }
}
