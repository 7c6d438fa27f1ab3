//! Blob storage for large artifacts, through `object_store`: a directory
//! under the data directory by default, S3-compatible storage when
//! `blob_url` is `s3://bucket/prefix` (with the `s3` feature; credentials
//! and endpoint from the usual `AWS_*` variables).

use std::path::Path;
use std::sync::Arc;

use object_store::ObjectStore;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;

/// Where blobs go.
#[derive(Debug, Clone)]
pub struct Blobs {
    store: Arc<dyn ObjectStore>,
    describe: String,
}

/// Blob storage could not be set up or reached.
#[derive(Debug, thiserror::Error)]
#[error("blobs ({at}): {reason}")]
pub struct BlobError {
    at: String,
    reason: String,
}

impl Blobs {
    /// A directory on the local disk, created if needed.
    pub fn local(dir: &Path) -> Result<Self, BlobError> {
        let fail = |reason: String| BlobError {
            at: dir.display().to_string(),
            reason,
        };
        std::fs::create_dir_all(dir).map_err(|error| fail(error.to_string()))?;
        let store =
            LocalFileSystem::new_with_prefix(dir).map_err(|error| fail(error.to_string()))?;
        Ok(Self {
            store: Arc::new(store),
            describe: dir.display().to_string(),
        })
    }

    /// The store named by `url` (`s3://bucket/prefix`).
    pub fn from_url(url: &str) -> Result<Self, BlobError> {
        let fail = |reason: String| BlobError {
            at: url.to_owned(),
            reason,
        };
        #[cfg(feature = "s3")]
        {
            let parsed = url::Url::parse(url).map_err(|error| fail(error.to_string()))?;
            let options = std::env::vars()
                .filter(|(name, _)| name.starts_with("AWS_"))
                .map(|(name, value)| (name.to_ascii_lowercase(), value));
            let (store, _prefix) = object_store::parse_url_opts(&parsed, options)
                .map_err(|error| fail(error.to_string()))?;
            Ok(Self {
                store: Arc::from(store),
                describe: url.to_owned(),
            })
        }
        #[cfg(not(feature = "s3"))]
        {
            Err(fail(
                "this collector was built without S3 support: build it with `--features s3`"
                    .to_owned(),
            ))
        }
    }

    /// The store, for the endpoints that keep artifacts.
    #[must_use]
    pub fn store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    /// Whether the store answers (a missing probe object counts as an
    /// answer).
    pub async fn check(&self) -> Result<(), BlobError> {
        match self.store.head(&ObjectPath::from("collector/probe")).await {
            Ok(_) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(error) => Err(BlobError {
                at: self.describe.clone(),
                reason: error.to_string(),
            }),
        }
    }
}
