//! `sentences(str[, language[, country]])`: the text split into sentences, each an array of
//! its words (`array<array<string>>`), as Spark's sentence and word break iterators give them:
//! Unicode's text segmentation (UAX #29, which the JDK's iterators follow), keeping only the
//! words that hold a letter or digit, so punctuation and spaces drop out. The language and
//! country choose the JDK's locale in Spark; the Unicode rules here need none, so they only
//! name the call (`sentences(s, , )` when absent, as Spark names it).

use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, ListBuilder, StringBuilder};
use datafusion::arrow::datatypes::{DataType, Field};
use datafusion::error::Result as DfResult;
use datafusion::logical_expr::{
    ColumnarValue, Expr, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility, cast,
};
use spate_common::Result;
use unicode_segmentation::UnicodeSegmentation;

use super::{Arg, CallContext, wrong_args};

/// The functions this module resolves, for SQL planning (see `crate::sql_functions`).
pub(super) const SQL_NAMES: &[&str] = &["sentences"];

/// Resolves `sentences`.
pub(super) fn resolve(
    name: &str,
    args: &[Arg],
    _cx: &CallContext<'_>,
) -> Result<Option<(Expr, String)>> {
    if name != "sentences" {
        return Ok(None);
    }
    if !(1..=3).contains(&args.len()) {
        return Err(wrong_args(name, "1, 2 or 3", args.len()));
    }
    let part = |i: usize| args.get(i).map_or("", |a| a.name.as_str());
    let label = format!("sentences({}, {}, {})", part(0), part(1), part(2));
    let udf = ScalarUDF::new_from_impl(Sentences {
        signature: Signature::any(1, Volatility::Immutable),
    });
    Ok(Some((
        udf.call(vec![cast(args[0].expr.clone(), DataType::Utf8)]),
        label,
    )))
}

/// The sentences of `text`, each as its words.
fn split(text: &str) -> Vec<Vec<&str>> {
    text.split_sentence_bounds()
        .map(|s| {
            s.split_word_bounds()
                .filter(|w| w.chars().next().is_some_and(char::is_alphanumeric))
                .collect::<Vec<_>>()
        })
        .filter(|words| !words.is_empty())
        .collect()
}

fn list_of(t: DataType) -> DataType {
    DataType::List(Arc::new(Field::new("element", t, true)))
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct Sentences {
    signature: Signature,
}

impl ScalarUDFImpl for Sentences {
    fn name(&self) -> &str {
        "sentences"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> DfResult<DataType> {
        Ok(list_of(list_of(DataType::Utf8)))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let texts = args.args[0].to_array(args.number_rows)?;
        let texts = texts.as_string::<i32>();
        let words = ListBuilder::new(StringBuilder::new()).with_field(Arc::new(Field::new(
            "element",
            DataType::Utf8,
            true,
        )));
        let mut out = ListBuilder::new(words).with_field(Arc::new(Field::new(
            "element",
            list_of(DataType::Utf8),
            true,
        )));
        for i in 0..texts.len() {
            if texts.is_null(i) {
                out.append_null();
                continue;
            }
            for sentence in split(texts.value(i)) {
                for word in sentence {
                    out.values().values().append_value(word);
                }
                out.values().append(true);
            }
            out.append(true);
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish())))
    }
}

#[cfg(test)]
mod tests {
    use super::split;

    #[test]
    fn splits_sentences_into_words() {
        // Spark's documented example
        assert_eq!(
            split("This is an example sentence."),
            vec![vec!["This", "is", "an", "example", "sentence"]]
        );
        assert_eq!(
            split("Hi there! How are you? I'm fine."),
            vec![
                vec!["Hi", "there"],
                vec!["How", "are", "you"],
                vec!["I'm", "fine"]
            ]
        );
        assert!(split("  ...  ").is_empty());
    }
}
