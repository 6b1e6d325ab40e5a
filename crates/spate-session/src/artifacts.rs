//! A session's artifacts, as the AddArtifacts RPC uploads them: `cache/<sha256>` blobs (the
//! Arrow data of a `createDataFrame` too large to inline, which `CachedLocalRelation` and
//! `ChunkedCachedLocalRelation` name by hash) and `files/`, `pyfiles/`, `archives/`, `jars/`
//! and `classes/` entries (`spark.addArtifacts`; Python UDFs will import the pyfiles). Each
//! session has its own directory, removed with the session. Every chunk carries a CRC-32 that
//! is checked on arrival; an artifact with a bad chunk is not kept, and the reply says so.

use std::fs::File;
use std::io::Write;
use std::path::{Component, Path, PathBuf};

use spate_common::{Error, Result};

/// The kinds of artifact, by the first part of their name.
pub const PREFIXES: &[&str] = &["cache", "files", "pyfiles", "archives", "jars", "classes"];

/// One session's artifacts.
#[derive(Debug)]
pub struct ArtifactStore {
    dir: PathBuf,
}

impl ArtifactStore {
    /// A store under `dir` (created when the first artifact arrives).
    pub fn new(dir: PathBuf) -> Self {
        Self { dir }
    }

    /// Where the store keeps its files.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file of artifact `name`, after checking that the name is a relative path under one
    /// of the known prefixes.
    pub fn path(&self, name: &str) -> Result<PathBuf> {
        let rel = Path::new(name);
        let mut parts = rel.components();
        let known = matches!(
            parts.next(),
            Some(Component::Normal(p)) if PREFIXES.iter().any(|k| p == *k)
        );
        let plain = parts.clone().count() > 0 && parts.all(|c| matches!(c, Component::Normal(_)));
        if !known || !plain {
            return Err(Error::IllegalArgument(format!(
                "invalid artifact name '{name}': it must be a relative path under one of {}",
                PREFIXES.join("/, ")
            )));
        }
        Ok(self.dir.join(rel))
    }

    /// Whether artifact `name` is stored.
    pub fn exists(&self, name: &str) -> bool {
        self.path(name).is_ok_and(|p| p.is_file())
    }

    /// The bytes of the cached blob with this hash.
    pub fn cached(&self, hash: &str) -> Result<bytes::Bytes> {
        let path = self.path(&format!("cache/{hash}"))?;
        std::fs::read(&path).map(bytes::Bytes::from).map_err(|_| {
            Error::analysis(
                "CACHED_LOCAL_RELATION_NOT_FOUND",
                format!(
                    "the local relation with hash '{hash}' was not uploaded to this session \
                     (AddArtifacts 'cache/{hash}')"
                ),
            )
        })
    }

    /// Starts receiving artifact `name`.
    pub fn begin(&self, name: &str) -> Result<Incoming> {
        let path = self.path(name)?;
        let parent = path.parent().unwrap_or(&self.dir);
        std::fs::create_dir_all(parent).map_err(|e| io_error(parent, e))?;
        let partial = path.with_extension(format!("partial-{}", uuid::Uuid::new_v4()));
        let file = File::create(&partial).map_err(|e| io_error(&partial, e))?;
        Ok(Incoming {
            name: name.to_string(),
            path,
            partial,
            file: Some(file),
            crc_ok: true,
        })
    }

    /// Removes every artifact (the session ended).
    pub fn clear(&self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl spate_plan::CachedBlobs for ArtifactStore {
    fn blob(&self, hash: &str) -> Result<bytes::Bytes> {
        self.cached(hash)
    }
}

fn io_error(path: &Path, e: std::io::Error) -> Error {
    Error::internal(format!("artifact file '{}': {e}", path.display()))
}

/// An artifact being received, chunk by chunk.
#[derive(Debug)]
pub struct Incoming {
    name: String,
    path: PathBuf,
    partial: PathBuf,
    file: Option<File>,
    crc_ok: bool,
}

impl Incoming {
    /// The artifact's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Appends a chunk whose CRC-32 should be `crc`.
    pub fn write(&mut self, data: &[u8], crc: i64) -> Result<()> {
        if i64::from(crc32fast::hash(data)) != crc {
            self.crc_ok = false;
        }
        if !self.crc_ok {
            return Ok(());
        }
        if let Some(f) = self.file.as_mut() {
            f.write_all(data).map_err(|e| io_error(&self.partial, e))?;
        }
        Ok(())
    }

    /// Keeps the artifact if every chunk arrived intact; whether it did.
    pub fn finish(mut self) -> Result<bool> {
        let ok = self.crc_ok;
        if let Some(f) = self.file.take() {
            drop(f);
            if ok {
                std::fs::rename(&self.partial, &self.path).map_err(|e| io_error(&self.path, e))?;
            }
        }
        Ok(ok)
    }
}

impl Drop for Incoming {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.partial);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> ArtifactStore {
        ArtifactStore::new(std::env::temp_dir().join(format!("spate-art-{}", uuid::Uuid::new_v4())))
    }

    #[test]
    fn names_stay_inside_the_store() {
        let s = store();
        assert!(s.path("cache/abc").is_ok());
        assert!(s.path("pyfiles/pkg/mod.py").is_ok());
        for bad in [
            "../etc/passwd",
            "/etc/passwd",
            "cache/../../x",
            "other/x",
            "cache",
        ] {
            assert!(s.path(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn chunks_are_kept_only_when_their_crc_matches() -> Result<()> {
        let s = store();
        let mut a = s.begin("cache/good")?;
        a.write(b"hello ", i64::from(crc32fast::hash(b"hello ")))?;
        a.write(b"world", i64::from(crc32fast::hash(b"world")))?;
        assert!(a.finish()?);
        assert_eq!(&s.cached("good")?[..], b"hello world");
        let mut b = s.begin("cache/bad")?;
        b.write(b"hello", 12345)?;
        assert!(!b.finish()?);
        assert!(!s.exists("cache/bad"));
        assert!(s.cached("bad").is_err());
        s.clear();
        Ok(())
    }
}
