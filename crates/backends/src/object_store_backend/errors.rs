//! From `object_store` errors to Cairn's [`Error`].
//!
//! `object_store` already retried what it considers retryable (5xx,
//! connection errors, timeouts of idempotent requests) per its `RetryConfig`
//! before an error reaches us. Whether the *caller* may try again later is
//! decided here: network trouble, timeouts, throttling and server errors are
//! transient; authentication, permission, missing-bucket and other 4xx
//! answers are permanent.

use std::error::Error as StdError;

// `object_store::client` exists only with a cloud store compiled in.
#[cfg(feature = "s3")]
use object_store::client::{HttpError, HttpErrorKind};

use crate::Error;

/// What a failed operation was doing; decides how `NotFound` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Op {
    /// An operation on one object: a 404 means the object is missing,
    /// unless the store says the bucket is.
    Object,
    /// A listing: a 404 can only mean the bucket (or container) is missing.
    List,
}

/// Maps `err`, raised while working on `key`, to a Cairn error.
/// `timeout_ms` is the request timeout configured for the store (0 if unknown).
pub(super) fn map_error(key: &str, err: object_store::Error, op: Op, timeout_ms: u64) -> Error {
    use object_store::Error as E;
    let key = key.to_owned();
    let permanent = |key: String, message: String| Error::Backend {
        key,
        message,
        transient: false,
    };
    match err {
        E::NotFound { .. } if op == Op::List || mentions(&err, "NoSuchBucket") => {
            permanent(key, format!("the bucket does not exist: {err}"))
        }
        E::NotFound { .. } => Error::NotFound { key },
        // `object_store` maps an HTTP 409 to `AlreadyExists`, but for S3 a 409
        // (ConditionalRequestConflict) means another conditional write to the
        // key is still in flight: nothing says ours, or any, landed. Callers
        // take `AlreadyExists` as "stored", so a 409 must be a transient
        // failure to retry, never a success.
        E::AlreadyExists { .. } if is_conflict_409(&err) => Error::Backend {
            key,
            message: format!("conditional write conflict (HTTP 409), try again: {err}"),
            transient: true,
        },
        // S3 answers a failed `If-None-Match: *` with 412 (or 304 on some
        // stores): the key is taken.
        E::AlreadyExists { .. } | E::Precondition { .. } | E::NotModified { .. } => {
            Error::AlreadyExists { key }
        }
        E::InvalidPath { .. } => Error::InvalidKey {
            key,
            reason: "not a valid object store path (control character?)",
        },
        E::NotSupported { .. } | E::NotImplemented => Error::Unsupported {
            key,
            what: "operation not supported by this object store",
        },
        E::PermissionDenied { .. } | E::Unauthenticated { .. } => {
            permanent(key, format!("access denied: {err}"))
        }
        _ => classify(key, &err, timeout_ms),
    }
}

/// Decides transient vs permanent for errors `object_store` leaves generic.
///
/// `object_store` keeps the HTTP status and its `HttpErrorKind` in types that
/// are private or hidden from the source chain (a `transparent` wrapper
/// skips the `HttpError`), so this reads what the chain shows: a status code
/// printed as "status code: NNN" (a response came back), or else a transport
/// failure (no response: refused, reset, timed out), which is transient.
fn classify(key: String, err: &object_store::Error, timeout_ms: u64) -> Error {
    let message = err.to_string();
    let (mut status, mut transport, mut timed_out) = (None, false, false);
    let mut source: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(e) = source {
        #[cfg(feature = "s3")]
        if let Some(http) = e.downcast_ref::<HttpError>() {
            match http.kind() {
                HttpErrorKind::Timeout => timed_out = true,
                HttpErrorKind::Unknown => {}
                _ => transport = true,
            }
        }
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            match io.kind() {
                std::io::ErrorKind::TimedOut => timed_out = true,
                _ => transport = true,
            }
        }
        let text = e.to_string();
        status = status.or_else(|| status_code(&text));
        transport |= text.starts_with("HTTP error") || text.contains(" - HTTP error: ");
        timed_out |= text.contains("operation timed out");
        source = e.source();
    }
    let transient = match status {
        Some(code) => code >= 500 || code == 429 || code == 408,
        None if timed_out => {
            return Error::Timeout {
                key,
                millis: timeout_ms,
            }
        }
        None => transport,
    };
    Error::Backend {
        key,
        message,
        transient: transient || mentions(err, "SlowDown") || mentions(err, "RequestTimeout"),
    }
}

/// Whether an `AlreadyExists` from `object_store` came from an HTTP 409
/// rather than from a failed precondition (412/304, which `object_store`
/// wraps as the source): its chain names status 409 or S3's conflict code,
/// and no precondition error.
fn is_conflict_409(err: &object_store::Error) -> bool {
    let mut source: Option<&(dyn StdError + 'static)> = Some(err);
    let mut conflict = false;
    while let Some(e) = source {
        if let Some(
            object_store::Error::Precondition { .. } | object_store::Error::NotModified { .. },
        ) = e.downcast_ref::<object_store::Error>()
        {
            return false;
        }
        let text = e.to_string();
        conflict |= status_code(&text) == Some(409) || text.contains("ConditionalRequestConflict");
        source = e.source();
    }
    conflict
}

/// Whether `err` or any of its sources mentions `needle` (an S3 error code).
fn mentions(err: &object_store::Error, needle: &str) -> bool {
    let mut source: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(e) = source {
        if e.to_string().contains(needle) {
            return true;
        }
        source = e.source();
    }
    false
}

/// The HTTP status in an error message of the form "... status code: 503 ...".
fn status_code(message: &str) -> Option<u16> {
    let (_, rest) = message.split_once("status code: ")?;
    let digits = rest.get(..3)?;
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn generic(msg: &str) -> object_store::Error {
        object_store::Error::Generic {
            store: "S3",
            source: msg.to_owned().into(),
        }
    }

    #[test]
    fn status_codes_decide_transience() {
        let cases = [
            (
                "Server returned non-2xx status code: 503 Service Unavailable: ",
                true,
            ),
            (
                "Server returned non-2xx status code: 500 Internal Server Error",
                true,
            ),
            (
                "Server returned non-2xx status code: 429 Too Many Requests",
                true,
            ),
            (
                "Server returned non-2xx status code: 400 Bad Request: x",
                false,
            ),
            ("something else entirely", false),
            ("<Code>SlowDown</Code>", true),
            (
                "Error performing GET http://h/b/k in 1ms - HTTP error: error sending request",
                true,
            ),
        ];
        for (msg, transient) in cases {
            let e = map_error("k", generic(msg), Op::Object, 0);
            assert_eq!(e.is_transient(), transient, "{msg}: {e}");
            assert_eq!(e.key(), "k");
        }
    }

    #[test]
    fn typed_variants_map_to_typed_errors() {
        let src = || -> Box<dyn StdError + Send + Sync> { "x".into() };
        let nf = object_store::Error::NotFound {
            path: "p".into(),
            source: src(),
        };
        assert!(map_error("k", nf, Op::Object, 0).is_not_found());
        let nf = object_store::Error::NotFound {
            path: "p".into(),
            source: src(),
        };
        let e = map_error("k", nf, Op::List, 0);
        assert!(
            matches!(
                e,
                Error::Backend {
                    transient: false,
                    ..
                }
            ),
            "{e}"
        );
        let nsb = object_store::Error::NotFound {
            path: "p".into(),
            source: "<Code>NoSuchBucket</Code>".into(),
        };
        assert!(!map_error("k", nsb, Op::Object, 0).is_not_found());
        let pre = object_store::Error::Precondition {
            path: "p".into(),
            source: src(),
        };
        assert!(map_error("k", pre, Op::Object, 0).is_already_exists());
        // What `object_store` builds for a 409: AlreadyExists over the status.
        let conflict = object_store::Error::AlreadyExists {
            path: "p".into(),
            source: "Server returned non-2xx status code: 409 Conflict: \
                     <Code>ConditionalRequestConflict</Code>"
                .into(),
        };
        let e = map_error("k", conflict, Op::Object, 0);
        assert!(!e.is_already_exists() && e.is_transient(), "{e}");
        // What it builds for a failed If-None-Match: AlreadyExists over Precondition.
        let taken = object_store::Error::AlreadyExists {
            path: "p".into(),
            source: Box::new(object_store::Error::Precondition {
                path: "p".into(),
                source: "Server returned non-2xx status code: 412 Precondition Failed".into(),
            }),
        };
        assert!(map_error("k", taken, Op::Object, 0).is_already_exists());
        let e = map_error("k", object_store::Error::NotImplemented, Op::Object, 0);
        assert!(matches!(e, Error::Unsupported { .. }), "{e}");
        let denied = object_store::Error::Unauthenticated {
            path: "p".into(),
            source: src(),
        };
        let e = map_error("k", denied, Op::Object, 0);
        assert!(
            matches!(
                e,
                Error::Backend {
                    transient: false,
                    ..
                }
            ),
            "{e}"
        );
    }
}
