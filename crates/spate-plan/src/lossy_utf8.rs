//! Text files with bytes that are not UTF-8, read as Spark reads them: each malformed sequence
//! becomes U+FFFD, the replacement character (Java's decoder, one per maximal malformed
//! subpart — `\xff\xfe` gives two, a truncated `\xe2\x82` one).
//!
//! Schema inference reads whole files, so it uses the store's other form ([`INFER_URL`]),
//! which puts U+FFFD itself in place (JSON inference refuses control characters).
//!
//! DataFusion's CSV and JSON readers refuse such bytes, and they read files by byte ranges, so
//! the replacement cannot change lengths. [`LossyUtf8Store`] serves local files under the
//! `lossy://` scheme with each malformed subpart of n bytes replaced by SUB (0x1A) followed by
//! n-1 DEL (0x7F) — valid UTF-8 of the same length, so ranges and line boundaries stay where
//! they were; [`restore_replacements`] then turns each `SUB DEL*` in the strings read into
//! U+FFFD. Only files that failed to decode are read this way (see `read_guard`), so a SUB
//! followed by DELs that was really in such a file would read as U+FFFD too.

use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, RecordBatch, StringArray};
use datafusion::arrow::datatypes::DataType;
use datafusion::error::Result as DfResult;
use datafusion::object_store::local::LocalFileSystem;
use datafusion::object_store::path::Path;
use datafusion::object_store::{
    CopyOptions, GetOptions, GetResult, GetResultPayload, ListResult, MultipartUpload, ObjectMeta,
    ObjectStore, PutMultipartOptions, PutOptions, PutPayload, PutResult,
};
use futures::StreamExt;
use futures::stream::BoxStream;

/// The URL of the store that keeps lengths (for scans by byte range).
pub const LOSSY_URL: &str = "lossy://";
/// The URL of the store that writes U+FFFD (for schema inference, which reads whole files).
pub const INFER_URL: &str = "lossyinfer://";

const SUB: u8 = 0x1a;
const DEL: u8 = 0x7f;

/// Local files with malformed UTF-8 replaced: length for length with markers, or by U+FFFD.
#[derive(Debug)]
pub struct LossyUtf8Store {
    inner: LocalFileSystem,
    keep_lengths: bool,
}

impl LossyUtf8Store {
    /// A store over the local file system; `keep_lengths` picks the markers over U+FFFD.
    pub fn new(keep_lengths: bool) -> Self {
        Self {
            inner: LocalFileSystem::new(),
            keep_lengths,
        }
    }
}

impl fmt::Display for LossyUtf8Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LossyUtf8Store")
    }
}

type StoreResult<T> = datafusion::object_store::Result<T>;

#[async_trait::async_trait]
impl ObjectStore for LossyUtf8Store {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> StoreResult<PutResult> {
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> StoreResult<Box<dyn MultipartUpload>> {
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> StoreResult<GetResult> {
        let result = self.inner.get_opts(location, options).await?;
        let meta = result.meta.clone();
        let range = result.range.clone();
        let attributes = result.attributes.clone();
        let mut fixer = Replacer {
            held: Vec::new(),
            keep_lengths: self.keep_lengths,
        };
        // an empty chunk closes the stream, releasing a sequence held at the end as malformed
        let fixed = result
            .into_stream()
            .chain(futures::stream::once(async { Ok(bytes::Bytes::new()) }))
            .map(move |chunk| chunk.map(|b| bytes::Bytes::from(fixer.chunk(&b, b.is_empty()))))
            .filter(|chunk| std::future::ready(!matches!(chunk, Ok(b) if b.is_empty())))
            .boxed();
        Ok(GetResult {
            payload: GetResultPayload::Stream(fixed),
            meta,
            range,
            attributes,
        })
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, StoreResult<Path>>,
    ) -> BoxStream<'static, StoreResult<Path>> {
        self.inner.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, StoreResult<ObjectMeta>> {
        self.inner.list(prefix)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> StoreResult<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> StoreResult<()> {
        self.inner.copy_opts(from, to, options).await
    }

    async fn get_ranges(
        &self,
        location: &Path,
        ranges: &[Range<u64>],
    ) -> StoreResult<Vec<bytes::Bytes>> {
        let mut out = Vec::with_capacity(ranges.len());
        for r in ranges {
            let got = self
                .get_opts(
                    location,
                    GetOptions {
                        range: Some(r.clone().into()),
                        ..GetOptions::default()
                    },
                )
                .await?;
            out.push(got.bytes().await?);
        }
        Ok(out)
    }
}

/// Replaces malformed UTF-8 across chunk boundaries: bytes held back at a chunk's end (a
/// sequence that may continue in the next chunk) come out with the next chunk; at the end, a
/// held sequence is malformed.
#[derive(Debug, Default)]
pub struct Replacer {
    held: Vec<u8>,
    keep_lengths: bool,
}

impl Replacer {
    /// A replacer writing markers (`keep_lengths`) or U+FFFD.
    pub fn new(keep_lengths: bool) -> Self {
        Self {
            held: Vec::new(),
            keep_lengths,
        }
    }

    fn replace(&self, n: usize, out: &mut Vec<u8>) {
        if self.keep_lengths {
            out.push(SUB);
            out.extend(std::iter::repeat_n(DEL, n - 1));
        } else {
            out.extend_from_slice("\u{fffd}".as_bytes());
        }
    }
}

impl Replacer {
    /// The replaced bytes of the next chunk; `last` says no chunk follows.
    pub fn chunk(&mut self, chunk: &[u8], last: bool) -> Vec<u8> {
        let mut data = std::mem::take(&mut self.held);
        data.extend_from_slice(chunk);
        let mut out = Vec::with_capacity(data.len());
        let mut rest: &[u8] = &data;
        loop {
            match std::str::from_utf8(rest) {
                Ok(_) => {
                    out.extend_from_slice(rest);
                    break;
                }
                Err(e) => {
                    let good = e.valid_up_to();
                    out.extend_from_slice(&rest[..good]);
                    match e.error_len() {
                        Some(n) => {
                            self.replace(n, &mut out);
                            rest = &rest[good + n..];
                        }
                        None if last => {
                            // the input ends inside a sequence
                            self.replace(rest.len() - good, &mut out);
                            break;
                        }
                        None => {
                            self.held = rest[good..].to_vec();
                            break;
                        }
                    }
                }
            }
        }
        out
    }
}

/// Replaces each `SUB DEL*` in the batch's string columns with U+FFFD.
pub fn restore_replacements(batch: RecordBatch) -> DfResult<RecordBatch> {
    let columns = batch
        .columns()
        .iter()
        .map(|c| restore_column(c))
        .collect::<DfResult<Vec<_>>>()?;
    Ok(RecordBatch::try_new(batch.schema(), columns)?)
}

fn restore_column(c: &ArrayRef) -> DfResult<ArrayRef> {
    let strings: Option<StringArray> = match c.data_type() {
        DataType::Utf8 => Some(c.as_string::<i32>().clone()),
        DataType::LargeUtf8 | DataType::Utf8View => {
            let cast = datafusion::arrow::compute::cast(c, &DataType::Utf8)?;
            Some(cast.as_string::<i32>().clone())
        }
        _ => None,
    };
    let Some(strings) = strings else {
        return Ok(Arc::clone(c));
    };
    if !strings.values().contains(&SUB) {
        return Ok(Arc::clone(c));
    }
    let fixed: StringArray = strings.iter().map(|v| v.map(restore_text)).collect();
    Ok(datafusion::arrow::compute::cast(&fixed, c.data_type())?)
}

/// `text` with each `SUB DEL*` as U+FFFD.
pub fn restore_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == SUB as char {
            out.push('\u{fffd}');
            while chars.peek() == Some(&(DEL as char)) {
                chars.next();
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lossy(parts: &[&[u8]]) -> String {
        let mut r = Replacer::new(true);
        let mut out = Vec::new();
        for p in parts {
            out.extend(r.chunk(p, false));
        }
        out.extend(r.chunk(&[], true));
        let text = String::from_utf8(out.clone()).unwrap_or_default();
        let total: usize = parts.iter().map(|p| p.len()).sum();
        assert_eq!(out.len(), total, "lengths are kept");
        restore_text(&text)
    }

    #[test]
    fn malformed_subparts_become_one_replacement_each_as_java_decodes() {
        let input: &[u8] = b"caf\xe9,\xff\xfe x,\xe2\x82,ok \xe2\x82\xac";
        assert_eq!(lossy(&[input]), String::from_utf8_lossy(input));
        assert_eq!(
            lossy(&[input]),
            "caf\u{fffd},\u{fffd}\u{fffd} x,\u{fffd},ok \u{20ac}"
        );
    }

    #[test]
    fn sequences_cut_by_chunk_boundaries_are_not_malformed() {
        let euro = "€ and é".as_bytes();
        for cut in 0..=euro.len() {
            assert_eq!(lossy(&[&euro[..cut], &euro[cut..]]), "€ and é");
        }
        // a sequence that never finishes is malformed at the end
        assert_eq!(lossy(&[b"ab\xe2", b"\x82"]), "ab\u{fffd}");
    }

    #[test]
    fn the_inference_form_writes_the_replacement_character() {
        let mut r = Replacer::new(false);
        let mut out = r.chunk(b"caf\xe9 \xe2", false);
        out.extend(r.chunk(b"\x82", true));
        assert_eq!(
            String::from_utf8(out).unwrap_or_default(),
            "caf\u{fffd} \u{fffd}"
        );
    }
}
