//! Where the lake's files live: a local folder or a bucket in object storage (any
//! S3-compatible service, Google Cloud Storage, Azure Blob Storage), seen the same way:
//! an `ObjectStore` the lake lists to find its tables and DataFusion's scans read from.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::execution::runtime_env::RuntimeEnv;
use futures::TryStreamExt;
use object_store::aws::AmazonS3Builder;
use object_store::azure::MicrosoftAzureBuilder;
use object_store::gcp::GoogleCloudStorageBuilder;
use object_store::local::LocalFileSystem;
use object_store::path::Path as StorePath;
use object_store::{ObjectMeta, ObjectStore, ObjectStoreExt};

use crate::config::{LakeConfig, S3Config};

/// The lake's root: a store and a prefix in it.
#[derive(Debug, Clone)]
pub struct LakeStore {
    /// What scans name the store by (`file:///`, `s3://bucket`).
    url: ObjectStoreUrl,
    store: Arc<dyn ObjectStore>,
    /// The root inside the store.
    prefix: StorePath,
    /// The root as a user names it, for logs and messages.
    shown: String,
    /// The folder of a local lake (watched; an object store is polled).
    folder: Option<PathBuf>,
}

impl LakeStore {
    /// A local folder.
    ///
    /// # Errors
    /// The folder does not exist.
    pub fn folder(path: &Path) -> Result<Self, String> {
        let folder = std::fs::canonicalize(path)
            .map_err(|e| format!("lake.root = {:?}: {e}", path.display()))?;
        let prefix = StorePath::from_filesystem_path(&folder)
            .map_err(|e| format!("lake.root = {:?}: {e}", path.display()))?;
        Ok(Self {
            url: ObjectStoreUrl::local_filesystem(),
            store: Arc::new(LocalFileSystem::new()),
            prefix,
            shown: folder.display().to_string(),
            folder: Some(folder),
        })
    }

    /// The configured root: a folder, or `s3://`, `gs://`, `az://` with the bucket (or
    /// container) as host and the prefix as path.
    ///
    /// # Errors
    /// The root is not a valid URL of a supported store, or the store cannot be set up
    /// (a missing region, a malformed endpoint).
    pub fn open(config: &LakeConfig) -> Result<Self, String> {
        let Some(scheme) = config.object_store_scheme() else {
            return Self::folder(Path::new(&config.root));
        };
        let root = &config.root;
        let url = url::Url::parse(root).map_err(|e| format!("lake.root = {root:?}: {e}"))?;
        let bucket = url
            .host_str()
            .filter(|b| !b.is_empty())
            .ok_or_else(|| format!("lake.root = {root:?}: no bucket"))?;
        let store: Arc<dyn ObjectStore> = match scheme {
            "s3" => {
                Arc::new(s3(bucket, &config.s3).map_err(|e| format!("lake.root = {root:?}: {e}"))?)
            }
            "gs" => Arc::new(
                GoogleCloudStorageBuilder::from_env()
                    .with_bucket_name(bucket)
                    .build()
                    .map_err(|e| format!("lake.root = {root:?}: {e}"))?,
            ),
            "az" => Arc::new(
                MicrosoftAzureBuilder::from_env()
                    .with_container_name(bucket)
                    .build()
                    .map_err(|e| format!("lake.root = {root:?}: {e}"))?,
            ),
            other => return Err(format!("lake.root = {root:?}: {other}:// is not supported")),
        };
        let prefix = StorePath::from_url_path(url.path())
            .map_err(|e| format!("lake.root = {root:?}: {e}"))?;
        let base = format!("{scheme}://{bucket}");
        Ok(Self {
            url: ObjectStoreUrl::parse(&base).map_err(|e| format!("lake.root = {root:?}: {e}"))?,
            store,
            prefix,
            shown: root.trim_end_matches('/').to_owned(),
            folder: None,
        })
    }

    /// Makes the store known to the engine's scans.
    pub fn register(&self, runtime: &RuntimeEnv) {
        if self.folder.is_none() {
            runtime.register_object_store(self.url.as_ref(), Arc::clone(&self.store));
        }
    }

    pub fn url(&self) -> &ObjectStoreUrl {
        &self.url
    }

    pub fn store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    pub fn prefix(&self) -> &StorePath {
        &self.prefix
    }

    /// The root as a user names it: the folder, or the URL.
    pub fn shown(&self) -> &str {
        &self.shown
    }

    /// The folder of a local lake.
    pub fn local_folder(&self) -> Option<&Path> {
        self.folder.as_deref()
    }

    /// Every object under the root, in one listing.
    ///
    /// # Errors
    /// The store cannot be listed (unreachable, wrong credentials, no such bucket).
    pub async fn list(&self) -> Result<Vec<ObjectMeta>, String> {
        self.store
            .list(Some(&self.prefix))
            .try_collect()
            .await
            .map_err(|e| format!("cannot list {}: {e}", self.shown))
    }
}

/// An S3 (or S3-compatible) bucket: the environment's AWS settings, then the
/// configured keys over them.
fn s3(bucket: &str, config: &S3Config) -> object_store::Result<object_store::aws::AmazonS3> {
    let mut builder = AmazonS3Builder::from_env().with_bucket_name(bucket);
    if !config.endpoint.is_empty() {
        builder = builder.with_endpoint(&config.endpoint);
    }
    if !config.region.is_empty() {
        builder = builder.with_region(&config.region);
    }
    if config.allow_http {
        builder = builder.with_allow_http(true);
    }
    if !config.access_key_id.is_empty() {
        builder = builder.with_access_key_id(&config.access_key_id);
    }
    if !config.secret_access_key.is_empty() {
        builder = builder.with_secret_access_key(&config.secret_access_key);
    }
    builder.build()
}

/// The whole of one object (a table format's log, metadata or delete file).
///
/// # Errors
/// It cannot be read; the message names it.
pub async fn read_object(
    store: &dyn ObjectStore,
    path: &StorePath,
) -> Result<bytes::Bytes, String> {
    let read = async { store.get(path).await?.bytes().await };
    read.await.map_err(|e| format!("{path}: {e}"))
}
