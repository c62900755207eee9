//! Location parsing and configuration checks (no server needed).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;

#[test]
fn parses_restic_style_locations() {
    let c = S3Config::from_location("s3:http://127.0.0.1:8333/bucket/some/prefix/").unwrap();
    assert_eq!(c.endpoint.as_deref(), Some("http://127.0.0.1:8333"));
    assert_eq!(c.bucket, "bucket");
    assert_eq!(c.options.prefix, "some/prefix");
    assert!(c.allow_http);

    let c = S3Config::from_location("s3:https://s3.example.com/b-1").unwrap();
    assert_eq!(c.endpoint.as_deref(), Some("https://s3.example.com"));
    assert_eq!((c.bucket.as_str(), c.options.prefix.as_str()), ("b-1", ""));
    assert!(!c.allow_http);

    let c = S3Config::from_location("s3:s3.amazonaws.com/b.x/p").unwrap();
    assert_eq!(c.endpoint.as_deref(), Some("https://s3.amazonaws.com"));
    assert_eq!((c.bucket.as_str(), c.options.prefix.as_str()), ("b.x", "p"));
}

#[test]
fn refuses_malformed_locations() {
    for bad in [
        "",
        "http://h/b",
        "s3:",
        "s3:http://",
        "s3:http://host",
        "s3:http://host/",
        "s3:http://:80/b",
        "s3:http://host:0/b",
        "s3:http://host:99999/b",
        "s3:http://host:port/b",
        "s3:ftp://host/b",
        "s3:http://us er@host/b",
        "s3:http://host/b/../etc",
        "s3:http://host/b//p",
        "s3:http://host/bu cket/p",
    ] {
        let e = S3Config::from_location(bad).unwrap_err();
        assert!(
            matches!(
                e,
                Error::Backend {
                    transient: false,
                    ..
                }
            ),
            "{bad:?}: {e}"
        );
        assert_eq!(e.key(), bad);
    }
}

fn no_env(_: &str) -> Option<String> {
    None
}

#[test]
fn credentials_come_from_config_or_env_and_never_elsewhere() {
    let base = S3Config::new("b")
        .with_endpoint("http://127.0.0.1:1")
        .with_allow_http(true);
    // Nothing anywhere: a typed error, not a lookup of instance metadata.
    let e = ObjectStoreBackend::s3_with_env(base.clone(), &no_env).unwrap_err();
    assert!(e.to_string().contains("no S3 credentials"), "{e}");
    // From the environment.
    let env = |n: &str| match n {
        "AWS_ACCESS_KEY_ID" => Some("id".to_owned()),
        "AWS_SECRET_ACCESS_KEY" => Some("secret".to_owned()),
        _ => None,
    };
    ObjectStoreBackend::s3_with_env(base.clone(), &env).unwrap();
    // From the config; anonymous needs none.
    ObjectStoreBackend::s3_with_env(base.clone().with_credentials("i", "s"), &no_env).unwrap();
    ObjectStoreBackend::s3_with_env(base.clone().with_anonymous(true), &no_env).unwrap();
    // Half a credential is refused.
    let mut half = base.clone();
    half.access_key_id = Some("i".into());
    assert!(ObjectStoreBackend::s3_with_env(half, &env).is_err());
}

#[test]
fn configuration_mistakes_are_typed_errors() {
    let creds = |c: S3Config| c.with_credentials("i", "s");
    let cases = [
        creds(S3Config::new("")),
        creds(S3Config::new("b").with_endpoint("http://127.0.0.1:1")),
        creds(S3Config::new("b").with_prefix("../x")),
    ];
    for config in cases {
        let shown = format!("{config:?}");
        assert!(
            ObjectStoreBackend::s3_with_env(config, &no_env).is_err(),
            "{shown}"
        );
    }
}

#[test]
fn debug_never_shows_the_secret() {
    let c = S3Config::new("b").with_credentials("AKIDEXAMPLE", "very-secret-value");
    let shown = format!("{c:?}");
    assert!(
        shown.contains("AKIDEXAMPLE") && shown.contains("<redacted>"),
        "{shown}"
    );
    assert!(!shown.contains("very-secret-value"), "{shown}");
}

#[test]
fn endpoint_and_region_fall_back_to_the_environment() {
    let env = |n: &str| match n {
        "AWS_ACCESS_KEY_ID" => Some("id".to_owned()),
        "AWS_SECRET_ACCESS_KEY" => Some("secret".to_owned()),
        "AWS_ENDPOINT_URL" => Some("http://127.0.0.1:9".to_owned()),
        "AWS_DEFAULT_REGION" => Some("eu-west-3".to_owned()),
        _ => None,
    };
    // The env endpoint is http://, so allow_http decides.
    assert!(ObjectStoreBackend::s3_with_env(S3Config::new("b"), &env).is_err());
    ObjectStoreBackend::s3_with_env(S3Config::new("b").with_allow_http(true), &env).unwrap();
}
