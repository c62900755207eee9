//! S3 and S3-compatible stores: [`S3Config`] and [`ObjectStoreBackend::s3`].

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use object_store::aws::{AmazonS3Builder, AwsCredential, S3ConditionalPut};
use object_store::{BackoffConfig, ClientOptions, RetryConfig, StaticCredentialProvider};
use zeroize::Zeroizing;

use super::{ObjectStoreBackend, ObjectStoreOptions};
use crate::{validate_key, Error, Result};

/// Where and how to reach an S3 bucket.
///
/// Credentials come from the config or, when it has none, from
/// `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` (and `AWS_SESSION_TOKEN`).
/// The endpoint and region likewise fall back to `AWS_ENDPOINT_URL` /
/// `AWS_ENDPOINT` and `AWS_REGION` / `AWS_DEFAULT_REGION`. Nothing else is
/// consulted: never the cloud instance-metadata service, never profile files.
///
/// ```
/// use cairn_backends::S3Config;
/// let config = S3Config::from_location("s3:http://127.0.0.1:8333/backups/host-a")?
///     .with_credentials("access", "secret");
/// assert_eq!(config.bucket, "backups");
/// assert_eq!(config.options.prefix, "host-a");
/// assert!(config.allow_http);
/// # Ok::<_, cairn_backends::Error>(())
/// ```
#[non_exhaustive]
#[derive(Clone)]
pub struct S3Config {
    /// The endpoint URL, e.g. `http://127.0.0.1:8333`; `None`: AWS for `region`
    /// (or `AWS_ENDPOINT_URL`).
    pub endpoint: Option<String>,
    /// The bucket (must exist; Cairn does not create buckets).
    pub bucket: String,
    /// The region; `None`: `AWS_REGION`, `AWS_DEFAULT_REGION`, else `us-east-1`.
    pub region: Option<String>,
    /// The access key id; `None`: `AWS_ACCESS_KEY_ID`.
    pub access_key_id: Option<String>,
    /// Zeroized on drop, never shown by `Debug`; set with
    /// [`with_credentials`](Self::with_credentials).
    secret_access_key: Option<Zeroizing<String>>,
    /// Send requests unsigned (public buckets) instead of requiring credentials.
    pub anonymous: bool,
    /// Allow `http://` endpoints (local test servers). Default `false`.
    pub allow_http: bool,
    /// `https://BUCKET.host/` addressing instead of `https://host/BUCKET/`.
    /// Default `false` (path style), which SeaweedFS, MinIO and Ceph expect.
    pub virtual_hosted_style: bool,
    /// Time allowed for one HTTP request, body included. Default 300 s.
    pub timeout: Duration,
    /// Time allowed to connect. Default 10 s.
    pub connect_timeout: Duration,
    /// Retries of a failed request (5xx, connection errors, timeouts) with
    /// exponential backoff, before an error is returned. Default 3.
    pub max_retries: usize,
    /// No retry starts later than this after the first attempt. Default 120 s.
    pub retry_timeout: Duration,
    /// Prefix, conditional writes and multipart settings.
    pub options: ObjectStoreOptions,
}

impl Default for S3Config {
    fn default() -> Self {
        Self {
            endpoint: None,
            bucket: String::new(),
            region: None,
            access_key_id: None,
            secret_access_key: None,
            anonymous: false,
            allow_http: false,
            virtual_hosted_style: false,
            timeout: Duration::from_secs(300),
            connect_timeout: Duration::from_secs(10),
            max_retries: 3,
            retry_timeout: Duration::from_secs(120),
            options: ObjectStoreOptions::default(),
        }
    }
}

impl fmt::Debug for S3Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Config")
            .field("endpoint", &self.endpoint)
            .field("bucket", &self.bucket)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .field(
                "secret_access_key",
                &self.secret_access_key.as_ref().map(|_| "<redacted>"),
            )
            .field("anonymous", &self.anonymous)
            .field("allow_http", &self.allow_http)
            .field("virtual_hosted_style", &self.virtual_hosted_style)
            .field("timeout", &self.timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("max_retries", &self.max_retries)
            .field("retry_timeout", &self.retry_timeout)
            .field("options", &self.options)
            .finish()
    }
}

fn config_error(key: &str, message: impl Into<String>) -> Error {
    Error::Backend {
        key: key.to_owned(),
        message: message.into(),
        transient: false,
    }
}

impl S3Config {
    /// A config for `bucket`, everything else default.
    pub fn new(bucket: impl Into<String>) -> Self {
        Self {
            bucket: bucket.into(),
            ..Self::default()
        }
    }

    /// Parses a restic-style location: `s3:http://HOST[:PORT]/BUCKET[/PREFIX]`,
    /// `s3:https://...`, or `s3:HOST/BUCKET[/PREFIX]` (https). `http://` sets
    /// [`allow_http`](Self::allow_http).
    pub fn from_location(location: &str) -> Result<Self> {
        let bad = |what: &str| {
            config_error(
                location,
                format!("not an S3 location ({what}); expected s3:http[s]://HOST[:PORT]/BUCKET[/PREFIX]"),
            )
        };
        let rest = location
            .strip_prefix("s3:")
            .ok_or_else(|| bad("no s3: scheme"))?;
        let (scheme, rest) = if let Some(r) = rest.strip_prefix("http://") {
            ("http", r)
        } else if let Some(r) = rest.strip_prefix("https://") {
            ("https", r)
        } else if rest.contains("://") {
            return Err(bad("unknown URL scheme"));
        } else {
            ("https", rest)
        };
        let (host, path) = rest.split_once('/').ok_or_else(|| bad("no bucket"))?;
        let (name, port) = match host.rsplit_once(':') {
            Some((name, port)) => (name, Some(port)),
            None => (host, None),
        };
        let host_ok = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_');
        if name.is_empty() || !name.chars().all(host_ok) {
            return Err(bad("bad host"));
        }
        if let Some(port) = port {
            if port.parse::<u16>().map_or(true, |p| p == 0) {
                return Err(bad("bad port"));
            }
        }
        let path = path.trim_end_matches('/');
        let (bucket, prefix) = path.split_once('/').unwrap_or((path, ""));
        let bucket_ok = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_');
        if bucket.is_empty() || !bucket.chars().all(bucket_ok) {
            return Err(bad("bad bucket name"));
        }
        if !prefix.is_empty() {
            validate_key(prefix).map_err(|_| bad("bad prefix"))?;
        }
        let mut config = Self::new(bucket).with_endpoint(format!("{scheme}://{host}"));
        config.allow_http = scheme == "http";
        config.options.prefix = prefix.to_owned();
        Ok(config)
    }

    /// Sets [`endpoint`](Self::endpoint).
    pub fn with_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.endpoint = Some(endpoint.into());
        self
    }
    /// Sets [`bucket`](Self::bucket).
    pub fn with_bucket(mut self, bucket: impl Into<String>) -> Self {
        self.bucket = bucket.into();
        self
    }
    /// Sets the key prefix inside the bucket ([`ObjectStoreOptions::prefix`]).
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.options.prefix = prefix.into();
        self
    }
    /// Sets [`region`](Self::region).
    pub fn with_region(mut self, region: impl Into<String>) -> Self {
        self.region = Some(region.into());
        self
    }
    /// Sets the access key id and secret access key.
    pub fn with_credentials(
        mut self,
        access_key_id: impl Into<String>,
        secret_access_key: impl Into<String>,
    ) -> Self {
        self.access_key_id = Some(access_key_id.into());
        self.secret_access_key = Some(Zeroizing::new(secret_access_key.into()));
        self
    }
    /// Sets [`anonymous`](Self::anonymous).
    pub fn with_anonymous(mut self, anonymous: bool) -> Self {
        self.anonymous = anonymous;
        self
    }
    /// Sets [`allow_http`](Self::allow_http).
    pub fn with_allow_http(mut self, allow_http: bool) -> Self {
        self.allow_http = allow_http;
        self
    }
    /// Sets [`virtual_hosted_style`](Self::virtual_hosted_style).
    pub fn with_virtual_hosted_style(mut self, virtual_hosted_style: bool) -> Self {
        self.virtual_hosted_style = virtual_hosted_style;
        self
    }
    /// Sets [`timeout`](Self::timeout).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
    /// Sets [`connect_timeout`](Self::connect_timeout).
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }
    /// Sets [`max_retries`](Self::max_retries).
    pub fn with_max_retries(mut self, retries: usize) -> Self {
        self.max_retries = retries;
        self
    }
    /// Sets [`retry_timeout`](Self::retry_timeout).
    pub fn with_retry_timeout(mut self, timeout: Duration) -> Self {
        self.retry_timeout = timeout;
        self
    }
    /// Sets the storage class of every object written
    /// ([`ObjectStoreOptions::storage_class`]).
    pub fn with_storage_class(mut self, class: impl Into<String>) -> Self {
        self.options.storage_class = Some(class.into());
        self
    }
    /// Sets [`options`](Self::options).
    pub fn with_options(mut self, options: ObjectStoreOptions) -> Self {
        self.options = options;
        self
    }

    /// Builds the `object_store` client, taking what the config lacks from
    /// `env` (the process environment in [`ObjectStoreBackend::s3`]).
    fn build(&self, env: &dyn Fn(&str) -> Option<String>) -> Result<object_store::aws::AmazonS3> {
        let key = self.bucket.as_str();
        if self.bucket.is_empty() {
            return Err(config_error(key, "S3 config has no bucket"));
        }
        let first = |names: &[&str]| names.iter().find_map(|n| env(n).filter(|v| !v.is_empty()));
        let endpoint = self
            .endpoint
            .clone()
            .or_else(|| first(&["AWS_ENDPOINT_URL", "AWS_ENDPOINT"]));
        if let Some(ep) = &endpoint {
            if ep.starts_with("http://") && !self.allow_http {
                return Err(config_error(
                    key,
                    format!("endpoint {ep} is http:// but allow_http is off"),
                ));
            }
        }
        let region = self
            .region
            .clone()
            .or_else(|| first(&["AWS_REGION", "AWS_DEFAULT_REGION"]))
            .unwrap_or_else(|| "us-east-1".to_owned());
        let credential = match (&self.access_key_id, &self.secret_access_key) {
            (Some(id), Some(secret)) => Some(AwsCredential {
                key_id: id.clone(),
                secret_key: String::clone(secret),
                token: None,
            }),
            (Some(_), None) | (None, Some(_)) => {
                return Err(config_error(
                    key,
                    "S3 config has only half of the credentials",
                ))
            }
            (None, None) => match (
                first(&["AWS_ACCESS_KEY_ID"]),
                first(&["AWS_SECRET_ACCESS_KEY"]),
            ) {
                (Some(key_id), Some(secret_key)) => Some(AwsCredential {
                    key_id,
                    secret_key,
                    token: first(&["AWS_SESSION_TOKEN"]),
                }),
                _ => None,
            },
        };
        let credential = match (credential, self.anonymous) {
            (Some(c), _) => c,
            // Unsigned requests; the placeholder keeps object_store from
            // looking for credentials anywhere else (instance metadata).
            (None, true) => AwsCredential {
                key_id: String::new(),
                secret_key: String::new(),
                token: None,
            },
            (None, false) => {
                return Err(config_error(
                    key,
                    "no S3 credentials: set them in the config or in AWS_ACCESS_KEY_ID and \
                     AWS_SECRET_ACCESS_KEY (or ask for anonymous access)",
                ))
            }
        };
        let client = ClientOptions::new()
            .with_allow_http(self.allow_http)
            .with_timeout(self.timeout)
            .with_connect_timeout(self.connect_timeout);
        let retry = RetryConfig {
            backoff: BackoffConfig::default(),
            max_retries: self.max_retries,
            retry_timeout: self.retry_timeout,
        };
        let conditional = if self.options.conditional_put {
            S3ConditionalPut::ETagMatch
        } else {
            S3ConditionalPut::Disabled
        };
        let mut builder = AmazonS3Builder::new()
            .with_bucket_name(&self.bucket)
            .with_region(region)
            .with_credentials(Arc::new(StaticCredentialProvider::new(credential)))
            .with_skip_signature(self.anonymous)
            .with_virtual_hosted_style_request(self.virtual_hosted_style)
            .with_client_options(client)
            .with_retry(retry)
            .with_conditional_put(conditional);
        if let Some(ep) = endpoint {
            builder = builder.with_endpoint(ep);
        }
        builder
            .build()
            .map_err(|e| config_error(key, format!("invalid S3 configuration: {e}")))
    }
}

impl ObjectStoreBackend {
    /// A backend for the S3 bucket `config` describes; what the config leaves
    /// unset comes from the `AWS_*` environment variables listed on
    /// [`S3Config`]. Sends no request: a wrong bucket or credentials show up
    /// as typed errors on the first operation.
    pub fn s3(config: S3Config) -> Result<Self> {
        Self::s3_with_env(config, &|name| std::env::var(name).ok())
    }

    pub(super) fn s3_with_env(
        config: S3Config,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self> {
        let store = config.build(env)?;
        let mut backend = Self::with_options(Arc::new(store), config.options.clone())?;
        backend.timeout_ms = u64::try_from(config.timeout.as_millis()).unwrap_or(u64::MAX);
        Ok(backend)
    }
}

#[cfg(test)]
mod tests;
