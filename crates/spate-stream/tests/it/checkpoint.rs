//! The checkpoint real Apache Spark wrote (python/spark_reference/streaming_checkpoint.py: a
//! file source read one file per batch, three batches over two runs) read by Spate, and
//! checkpoints Spate writes in the same layout.

use std::path::PathBuf;

use spate_stream::log::MetadataLog;
use spate_stream::{Checkpoint, CommitEntry, OffsetEntry, Resume};

use crate::{TestResult, copy_tree, temp_dir};

fn spark_reference() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../python/spark_reference/streaming_checkpoint")
}

#[test]
fn a_checkpoint_spark_wrote_reads_and_resumes_after_its_last_batch() -> TestResult {
    let ckpt = Checkpoint::new(spark_reference().join("checkpoint"));
    assert_eq!(ckpt.query_id()?, "7a647680-27db-4670-95a2-bba101e6152a");
    // the file source's offset is its log's batch id; batch 1 read the second file
    let one = ckpt.offsets(1)?.ok_or("no offsets/1")?;
    assert_eq!(one.sources, vec![Some(r#"{"logOffset":1}"#.to_string())]);
    assert_eq!(one.metadata.batch_watermark_ms, 0);
    assert_eq!(
        one.metadata
            .conf
            .get("spark.sql.shuffle.partitions")
            .map(String::as_str),
        Some("2")
    );
    assert_eq!(
        ckpt.committed(2)?,
        Some(CommitEntry {
            next_batch_watermark_ms: 0
        })
    );
    match ckpt.resume()? {
        Resume::Next { batch_id, last, .. } => {
            assert_eq!(batch_id, 3);
            assert_eq!(last.sources, vec![Some(r#"{"logOffset":2}"#.to_string())]);
        }
        other => return Err(format!("expected the next batch, got {other:?}").into()),
    }
    // the source's log lists the three input files, one per batch, in order
    let files = MetadataLog::new(ckpt.source_dir(0)).entries_through(2)?;
    let names: Vec<String> = files
        .iter()
        .map(|l| -> Result<String, Box<dyn std::error::Error>> {
            let v: serde_json::Value = serde_json::from_str(l)?;
            let path = v["path"].as_str().ok_or("no path")?;
            Ok(path.rsplit('/').next().unwrap_or(path).to_string())
        })
        .collect::<Result<_, _>>()?;
    assert_eq!(names, vec!["a.json", "b.json", "c.json"]);
    // the file sink's log: one added Parquet file per batch
    let sink = MetadataLog::new(spark_reference().join("_spark_metadata")).entries_through(2)?;
    assert_eq!(sink.len(), 3);
    assert!(sink.iter().all(|l| l.contains(r#""action":"add""#)));
    Ok(())
}

#[test]
fn a_batch_planned_but_not_committed_is_run_again_with_the_same_offsets() -> TestResult {
    let dir = temp_dir("rerun");
    copy_tree(&spark_reference().join("checkpoint"), &dir)?;
    std::fs::remove_file(dir.join("commits/2"))?;
    let ckpt = Checkpoint::new(&dir);
    match ckpt.resume()? {
        Resume::Rerun {
            batch_id,
            offsets,
            previous,
        } => {
            assert_eq!(batch_id, 2);
            assert_eq!(
                offsets.sources,
                vec![Some(r#"{"logOffset":2}"#.to_string())]
            );
            let previous = previous.ok_or("no previous offsets")?;
            assert_eq!(
                previous.sources,
                vec![Some(r#"{"logOffset":1}"#.to_string())]
            );
        }
        other => return Err(format!("expected a re-run, got {other:?}").into()),
    }
    // two batches planned past the last commit: not a state one run leaves
    std::fs::remove_file(dir.join("commits/1"))?;
    let e = ckpt.resume().err().ok_or("resumed")?.to_string();
    assert!(
        e.contains("last planned batch is 2") && e.contains("last committed one is 0"),
        "{e}"
    );
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}

#[test]
fn spate_writes_spark_s_layout_and_the_first_writer_of_a_batch_wins() -> TestResult {
    let dir = temp_dir("write");
    let ckpt = Checkpoint::new(&dir);
    assert_eq!(ckpt.resume()?, Resume::Fresh);
    let id = ckpt.query_id()?;
    assert!(uuid::Uuid::parse_str(&id).is_ok());
    assert_eq!(Checkpoint::new(&dir).query_id()?, id, "the id stays");
    assert_eq!(
        std::fs::read_to_string(dir.join("metadata"))?.trim(),
        format!(r#"{{"id":"{id}"}}"#)
    );

    let entry = |watermark: i64, offset: Option<&str>| OffsetEntry {
        metadata: spate_stream::checkpoint::OffsetMetadata {
            batch_watermark_ms: watermark,
            batch_timestamp_ms: 1_700_000_000_000,
            conf: [("spark.sql.shuffle.partitions".to_string(), "2".to_string())].into(),
        },
        sources: vec![
            offset.map(str::to_string),
            Some(r#"{"a":{"0":5}}"#.to_string()),
        ],
    };
    assert!(ckpt.write_offsets(0, &entry(0, None))?);
    assert!(
        !ckpt.write_offsets(0, &entry(9, Some("7")))?,
        "a batch's offsets are written once"
    );
    // Spark's form: the version line, the metadata, one line per source, '-' for none
    assert_eq!(
        std::fs::read_to_string(dir.join("offsets/0"))?,
        "v1\n{\"batchWatermarkMs\":0,\"batchTimestampMs\":1700000000000,\
         \"conf\":{\"spark.sql.shuffle.partitions\":\"2\"}}\n-\n{\"a\":{\"0\":5}}"
    );
    assert_eq!(ckpt.offsets(0)?, Some(entry(0, None)));
    match ckpt.resume()? {
        Resume::Rerun {
            batch_id: 0,
            previous: None,
            ..
        } => {}
        other => return Err(format!("expected batch 0 again, got {other:?}").into()),
    }
    let commit = CommitEntry {
        next_batch_watermark_ms: 1000,
    };
    assert!(ckpt.commit(0, &commit)?);
    assert!(!ckpt.commit(0, &commit)?);
    assert_eq!(
        std::fs::read_to_string(dir.join("commits/0"))?,
        "v1\n{\"nextBatchWatermarkMs\":1000}"
    );
    match ckpt.resume()? {
        Resume::Next {
            batch_id: 1,
            commit: c,
            ..
        } => assert_eq!(c.next_batch_watermark_ms, 1000),
        other => return Err(format!("expected batch 1, got {other:?}").into()),
    }
    // no temporary files are left behind
    let stray: Vec<_> = std::fs::read_dir(dir.join("offsets"))?
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
        .collect();
    assert!(stray.is_empty(), "{stray:?}");
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
