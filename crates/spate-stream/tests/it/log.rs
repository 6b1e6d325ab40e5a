//! Spark's metadata log format: versions, compacted files, and files that are not batches.

use spate_stream::log::{LogError, MetadataLog};

use crate::{TestResult, temp_dir};

#[test]
fn compacted_logs_read_the_last_compaction_then_the_batches_after_it() -> TestResult {
    let dir = temp_dir("compact");
    let log = MetadataLog::new(&dir);
    for (id, entry) in [(0, "a"), (1, "b")] {
        log.add(id, &[entry.to_string()])?;
    }
    // Spark's compaction of batches 0..=2 repeats their entries in 2.compact
    log.add_compact(2, &["a".into(), "b".into(), "c".into()])?;
    log.add(3, &["d".into(), "e".into()])?;
    // Hadoop's checksum files and temporary files are not batches
    std::fs::write(dir.join(".3.crc"), b"crc")?;
    std::fs::write(dir.join("4.tmp"), b"x")?;
    assert_eq!(log.ids()?, vec![0, 1, 2, 3]);
    assert_eq!(log.entries_through(3)?, vec!["a", "b", "c", "d", "e"]);
    assert_eq!(log.entries_through(1)?, vec!["a", "b"]);
    assert_eq!(log.get(2)?, Some(vec!["a".into(), "b".into(), "c".into()]));
    assert_eq!(log.latest()?, Some((3, vec!["d".into(), "e".into()])));
    log.purge_before(2)?;
    assert_eq!(log.ids()?, vec![2, 3]);
    assert_eq!(log.entries_through(3)?, vec!["a", "b", "c", "d", "e"]);
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}

#[test]
fn a_newer_log_version_or_a_file_without_one_is_refused_by_name() -> TestResult {
    let dir = temp_dir("version");
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join("0"), "v2\n{}")?;
    std::fs::write(dir.join("1"), "{\"not\":\"a log\"}")?;
    let log = MetadataLog::new(&dir);
    match log.get(0) {
        Err(e @ LogError::NewerVersion { found: 2, .. }) => {
            let text = e.to_string();
            assert!(text.starts_with("[INVALID_LOG_VERSION.MAX_SUPPORTED_VERSION]"));
            assert!(
                text.contains(&dir.join("0").display().to_string()),
                "{text}"
            );
        }
        other => return Err(format!("expected a version error, got {other:?}").into()),
    }
    match log.get(1) {
        Err(LogError::Malformed { path, .. }) => assert_eq!(path, dir.join("1")),
        other => return Err(format!("expected a malformed log, got {other:?}").into()),
    }
    assert_eq!(log.get(7)?, None);
    assert_eq!(
        MetadataLog::new(dir.join("missing")).ids()?,
        Vec::<u64>::new()
    );
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
