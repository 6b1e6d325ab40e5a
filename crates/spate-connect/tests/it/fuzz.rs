//! Generated bad input, fed through a real session: mutated Parquet, CSV and JSON files read
//! through the lake's readers and the runner, and mutated Spark Connect plans decoded (with the
//! server's depth check) and resolved. Nothing may panic; every input ends in rows or an error.
//! `SPATE_FUZZ_INPUTS` sets how many inputs of each kind (default 300 files per format and 2000
//! plans); the count tried is printed.

use std::sync::Arc;

use datafusion::arrow::array::{Float64Array, Int64Array, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::parquet::arrow::ArrowWriter;
use prost::Message;
use spark_connect_proto::spark::connect::expression::{ExprType, Literal, UnresolvedAttribute};
use spark_connect_proto::spark::connect::relation::RelType;
use spark_connect_proto::spark::connect::{
    Expression, Filter, Limit, Project, Range, Relation, Sql, read,
};
use spate_exec::QueryScope;
use spate_plan::{ReadRequest, Resolver, Sources};
use spate_session::{Session, SessionManager};

use crate::{TestResult, session_id, settings};

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Up to `most` random changes: flipped bits, overwritten bytes, a cut, an insertion or a
/// copied block.
fn mutate(seed: &[u8], rng: &mut Rng, most: usize) -> Vec<u8> {
    let mut b = seed.to_vec();
    for _ in 0..1 + rng.below(most) {
        if b.is_empty() {
            b.push(rng.next() as u8);
            continue;
        }
        let at = rng.below(b.len());
        match rng.below(6) {
            0 => b[at] ^= 1 << rng.below(8),
            1 => {
                for i in at..(at + 1 + rng.below(16)).min(b.len()) {
                    b[i] = rng.next() as u8;
                }
            }
            2 => b.truncate(at),
            3 => {
                let junk: Vec<u8> = (0..1 + rng.below(32)).map(|_| rng.next() as u8).collect();
                b.splice(at..at, junk);
            }
            4 => b[at] = [0x00, 0xff, 0x7f, 0x80, 0xc3, 0xe2][rng.below(6)],
            _ => {
                let from = rng.below(b.len());
                let len = rng.below(64).min(b.len() - from);
                let block = b[from..from + len].to_vec();
                b.splice(at..at, block);
            }
        }
    }
    b
}

/// Counts panics, including those the read guard catches (a decoder's panic is still a bug to
/// know about, even when the query survives it).
fn count_panics() -> Arc<std::sync::atomic::AtomicUsize> {
    let count = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = Arc::clone(&count);
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        seen.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        report(info);
    }));
    count
}

fn inputs(default: usize) -> usize {
    std::env::var("SPATE_FUZZ_INPUTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn parquet_seed() -> Result<Vec<u8>, Box<dyn std::error::Error>> {
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("x", DataType::Float64, true),
        Field::new("s", DataType::Utf8, true),
    ]));
    let n = 300;
    let batch = RecordBatch::try_new(
        Arc::clone(&schema),
        vec![
            Arc::new(Int64Array::from_iter_values(0..n)),
            Arc::new(Float64Array::from_iter_values(
                (0..n).map(|i| i as f64 / 3.0),
            )),
            Arc::new(StringArray::from_iter_values(
                (0..n).map(|i| format!("s{i}")),
            )),
        ],
    )?;
    let mut out = Vec::new();
    let mut w = ArrowWriter::try_new(&mut out, schema, None)?;
    w.write(&batch)?;
    w.close()?;
    Ok(out)
}

async fn read_all(session: &Session, format: &str, path: &str, schema: bool) -> TestResult {
    let state = session.state(QueryScope::default())?;
    let mut options = std::collections::HashMap::new();
    if format == "csv" {
        options.insert("header".to_string(), "true".to_string());
    }
    let schema = schema.then(|| {
        Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, true),
            Field::new("x", DataType::Float64, true),
            Field::new("s", DataType::Utf8, true),
        ]))
    });
    let req = ReadRequest {
        format: format.to_string(),
        paths: vec![path.to_string()],
        schema,
        options,
    };
    let plan = session.catalog.read(&state, req).await?;
    spate_exec::collect(&state, &plan, "fuzz").await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutated_files_read_without_a_panic() -> TestResult {
    let panics = count_panics();
    let manager = SessionManager::new(settings())?;
    let session = manager.get_or_create(&session_id(100), "fuzz", None)?;
    let dir = std::env::temp_dir().join(format!("spate-fuzz-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let csv: Vec<u8> = (0..200)
        .map(|i| format!("{i},{},caf\u{e9} {i}\n", i as f64 / 7.0))
        .fold(b"id,x,s\n".to_vec(), |mut acc, l| {
            acc.extend(l.as_bytes());
            acc
        });
    let json: Vec<u8> = (0..200)
        .map(|i| {
            format!(
                "{{\"id\": {i}, \"x\": {}, \"s\": \"v{i}\"}}\n",
                i as f64 / 7.0
            )
        })
        .collect::<String>()
        .into_bytes();
    let seeds = [("parquet", parquet_seed()?), ("csv", csv), ("json", json)];
    let n = inputs(300);
    let mut rng = Rng(0x5eed_f00d);
    let (mut tried, mut rows, mut errors) = (0, 0, 0);
    for (format, seed) in &seeds {
        for i in 0..n {
            let path = dir.join(format!("m{i}.{format}"));
            std::fs::write(&path, mutate(seed, &mut rng, 4))?;
            let path = path.display().to_string();
            // with and without a schema: inference reads the bytes too
            match read_all(&session, format, &path, i % 2 == 0).await {
                Ok(()) => rows += 1,
                Err(_) => errors += 1,
            }
            tried += 1;
        }
    }
    std::fs::remove_dir_all(&dir)?;
    let caught = panics.load(std::sync::atomic::Ordering::Relaxed);
    println!(
        "fuzzed readers: {tried} mutated files, {rows} read, {errors} errors; {caught} panics \
         inside decoders, all caught by the read guard"
    );
    assert_eq!(tried, 3 * n);
    assert!(
        rows > 0 && errors > 0,
        "the mutations should both break and spare files"
    );
    Ok(())
}

fn column(name: &str) -> Expression {
    Expression {
        common: None,
        expr_type: Some(ExprType::UnresolvedAttribute(UnresolvedAttribute {
            unparsed_identifier: name.into(),
            plan_id: None,
            is_metadata_column: None,
        })),
    }
}

fn seed_plans() -> Vec<Relation> {
    let rel = |rt| Relation {
        common: None,
        rel_type: Some(rt),
    };
    let range = rel(RelType::Range(Range {
        start: Some(0),
        end: 50,
        step: 1,
        num_partitions: Some(2),
    }));
    let filter = rel(RelType::Filter(Box::new(Filter {
        input: Some(Box::new(range.clone())),
        condition: Some(Expression {
            common: None,
            expr_type: Some(ExprType::Literal(Literal {
                literal_type: Some(
                    spark_connect_proto::spark::connect::expression::literal::LiteralType::Boolean(
                        true,
                    ),
                ),
                data_type: None,
            })),
        }),
    })));
    let project = rel(RelType::Project(Box::new(Project {
        input: Some(Box::new(filter.clone())),
        expressions: vec![column("id")],
    })));
    let limit = rel(RelType::Limit(Box::new(Limit {
        input: Some(Box::new(project.clone())),
        limit: 7,
    })));
    let sql = rel(RelType::Sql(Sql {
        query: "SELECT id, id * 2 AS d FROM range(10) WHERE id > 3".into(),
        ..Sql::default()
    }));
    let read = rel(RelType::Read(spark_connect_proto::spark::connect::Read {
        is_streaming: false,
        read_type: Some(read::ReadType::DataSource(read::DataSource {
            format: Some("parquet".into()),
            schema: None,
            options: Default::default(),
            paths: vec!["/nonexistent/spate-fuzz".into()],
            predicates: vec![],
            source_name: None,
        })),
    }));
    vec![range, filter, project, limit, sql, read]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutated_plans_decode_and_resolve_without_a_panic() -> TestResult {
    let panics = count_panics();
    let manager = SessionManager::new(settings())?;
    let session = manager.get_or_create(&session_id(101), "fuzz", None)?;
    let seeds: Vec<Vec<u8>> = seed_plans().iter().map(|r| r.encode_to_vec()).collect();
    let n = inputs(2000);
    let mut rng = Rng(0xdec0_de00);
    let (mut tried, mut resolved, mut refused) = (0, 0, 0);
    for i in 0..n {
        let bytes = mutate(&seeds[i % seeds.len()], &mut rng, 1);
        tried += 1;
        if spate_connect::codec::nesting_depth(&bytes, 1025) > 1024 {
            refused += 1;
            continue;
        }
        let Ok(rel) = Relation::decode(bytes.as_slice()) else {
            refused += 1;
            continue;
        };
        let state = session.state(QueryScope::default())?;
        let config = session.config();
        let resolver = Resolver::new(&state, session.catalog.as_ref(), &config);
        match resolver.relation(&rel).await {
            Ok(_) => resolved += 1,
            Err(_) => refused += 1,
        }
    }
    let caught = panics.load(std::sync::atomic::Ordering::Relaxed);
    println!(
        "fuzzed the plan decoder: {tried} mutated plans, {resolved} resolved, {refused} refused, \
         {caught} panics"
    );
    assert_eq!(caught, 0);
    assert_eq!(tried, n);
    assert!(resolved > 0 && refused > 0);
    Ok(())
}
