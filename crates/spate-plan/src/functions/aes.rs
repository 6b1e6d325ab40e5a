//! `aes_encrypt(input, key[, mode[, padding[, iv[, aad]]]])`, `aes_decrypt` and
//! `try_aes_decrypt` with Spark's layout of the bytes: AES-128/192/256 by the key's length
//! (16, 24 or 32 bytes); `GCM` (the default; padding `NONE`) writes the 12-byte IV, the
//! ciphertext and the 16-byte tag, and takes additional authenticated data; `CBC` (padding
//! `PKCS`) writes the 16-byte IV and the ciphertext; `ECB` (padding `PKCS`) the ciphertext
//! only. An IV not given is random. Bad keys, modes or data are Spark's errors
//! (`INVALID_PARAMETER_VALUE.AES_KEY_LENGTH`, `UNSUPPORTED_FEATURE.AES_MODE`,
//! `INVALID_PARAMETER_VALUE.AES_CRYPTO_ERROR`); `try_aes_decrypt` gives null instead.

use std::sync::Arc;

use aes::cipher::block_padding::Pkcs7;
use aes::cipher::{BlockDecryptMut, BlockEncryptMut, KeyInit, KeyIvInit};
use aes_gcm::aead::{Aead, Payload};
use datafusion::arrow::array::{Array, AsArray, BinaryBuilder};
use datafusion::arrow::datatypes::DataType;
use datafusion::error::Result as DfResult;
use datafusion::logical_expr::{
    ColumnarValue, Expr, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility, cast,
    lit,
};
use spate_common::{Error, Result};

use super::{Arg, CallContext, default_name, wrong_args};

/// The functions this module resolves, for SQL planning (see `crate::sql_functions`).
pub(super) const SQL_NAMES: &[&str] = &["aes_encrypt", "aes_decrypt", "try_aes_decrypt"];

/// Resolves the AES functions, filling in Spark's defaults (mode `GCM`, padding `DEFAULT`,
/// no IV, no AAD), which also name the call.
pub(super) fn resolve(
    name: &str,
    args: &[Arg],
    _cx: &CallContext<'_>,
) -> Result<Option<(Expr, String)>> {
    let encrypt = match name {
        "aes_encrypt" => true,
        "aes_decrypt" | "try_aes_decrypt" => false,
        _ => return Ok(None),
    };
    let most = if encrypt { 6 } else { 5 };
    if !(2..=most).contains(&args.len()) {
        return Err(wrong_args(
            name,
            &format!("between 2 and {most}"),
            args.len(),
        ));
    }
    let defaults = [("GCM", "GCM"), ("DEFAULT", "DEFAULT"), ("", ""), ("", "")];
    let mut full: Vec<Arg> = args.to_vec();
    for (value, label) in defaults.iter().skip(args.len() - 2).take(most - args.len()) {
        full.push(Arg {
            expr: lit(*value),
            name: (*label).to_string(),
        });
    }
    let types = if encrypt {
        vec![
            DataType::Binary,
            DataType::Binary,
            DataType::Utf8,
            DataType::Utf8,
            DataType::Binary,
            DataType::Binary,
        ]
    } else {
        vec![
            DataType::Binary,
            DataType::Binary,
            DataType::Utf8,
            DataType::Utf8,
            DataType::Binary,
        ]
    };
    let exprs = full
        .iter()
        .zip(types)
        .map(|(a, t)| cast(a.expr.clone(), t))
        .collect::<Vec<_>>();
    let udf = ScalarUDF::new_from_impl(Aes {
        name: name.to_string(),
        encrypt,
        fail: name != "try_aes_decrypt",
        signature: Signature::any(exprs.len(), Volatility::Volatile),
    });
    Ok(Some((udf.call(exprs), default_name(name, &full, false))))
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct Aes {
    name: String,
    encrypt: bool,
    /// Whether a failure is an error (else null).
    fail: bool,
    signature: Signature,
}

/// The cipher modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Ecb,
    Cbc,
    Gcm,
}

fn crypto_error(function: &str, detail: impl std::fmt::Display) -> Error {
    Error::Runtime {
        exception: "org.apache.spark.SparkRuntimeException",
        class: "INVALID_PARAMETER_VALUE.AES_CRYPTO_ERROR".into(),
        message: format!(
            "The value of parameter(s) `expr`, `key` in `{function}` is invalid: detail message: {detail}"
        ),
    }
}

fn mode_of(function: &str, mode: &str, padding: &str) -> Result<Mode> {
    let (m, p) = (mode.to_ascii_uppercase(), padding.to_ascii_uppercase());
    match (m.as_str(), p.as_str()) {
        ("ECB", "PKCS" | "DEFAULT") => Ok(Mode::Ecb),
        ("CBC", "PKCS" | "DEFAULT") => Ok(Mode::Cbc),
        ("GCM", "NONE" | "DEFAULT") => Ok(Mode::Gcm),
        _ => Err(Error::Runtime {
            exception: "org.apache.spark.SparkRuntimeException",
            class: "UNSUPPORTED_FEATURE.AES_MODE".into(),
            message: format!("AES-{mode} with the padding {padding} by the `{function}` function."),
        }),
    }
}

fn random_bytes(n: usize) -> Vec<u8> {
    use rand::RngCore;
    let mut bytes = vec![0u8; n];
    rand::rng().fill_bytes(&mut bytes);
    bytes
}

/// Runs `$body` with `$c` the AES block cipher of `$key`'s length (16, 24 or 32 bytes), or
/// gives Spark's `INVALID_PARAMETER_VALUE.AES_KEY_LENGTH`.
macro_rules! with_cipher {
    ($f:expr, $key:expr, $c:ident => $body:expr) => {
        match $key.len() {
            16 => {
                type $c = aes::Aes128;
                Ok($body)
            }
            24 => {
                type $c = aes::Aes192;
                Ok($body)
            }
            32 => {
                type $c = aes::Aes256;
                Ok($body)
            }
            n => Err(key_length_error($f, n)),
        }
    };
}

type Gcm<C> = aes_gcm::AesGcm<C, aes_gcm::aead::consts::U12>;

fn key_length_error(f: &str, n: usize) -> Error {
    Error::Runtime {
        exception: "org.apache.spark.SparkRuntimeException",
        class: "INVALID_PARAMETER_VALUE.AES_KEY_LENGTH".into(),
        message: format!(
            "The value of parameter(s) `key` in `{f}` is invalid: expects a binary value with 16, 24 or 32 bytes, but got {n} bytes."
        ),
    }
}

/// Encrypts `input` as Spark lays the bytes out.
fn encrypt(
    f: &str,
    mode: Mode,
    key: &[u8],
    input: &[u8],
    iv: &[u8],
    aad: &[u8],
) -> Result<Vec<u8>> {
    let bad_iv = |want: usize| Error::Runtime {
        exception: "org.apache.spark.SparkRuntimeException",
        class: "INVALID_PARAMETER_VALUE.AES_IV_LENGTH".into(),
        message: format!(
            "The value of parameter(s) `iv` in `{f}` is invalid: supports {want}-byte IVs, but got {} bytes.",
            iv.len()
        ),
    };
    // the key's length was checked by `with_cipher!`, the IV's just before
    let failed = |e: &dyn std::fmt::Display| crypto_error(f, e);
    match mode {
        Mode::Ecb => {
            if !iv.is_empty() {
                return Err(bad_iv(0));
            }
            with_cipher!(f, key, C => ecb::Encryptor::<C>::new_from_slice(key)
                .map_err(|e| failed(&e))?
                .encrypt_padded_vec_mut::<Pkcs7>(input))
        }
        Mode::Cbc => {
            let iv = if iv.is_empty() {
                random_bytes(16)
            } else {
                iv.to_vec()
            };
            if iv.len() != 16 {
                return Err(bad_iv(16));
            }
            let body: Vec<u8> = with_cipher!(f, key, C => cbc::Encryptor::<C>::new_from_slices(key, &iv)
                .map_err(|e| failed(&e))?
                .encrypt_padded_vec_mut::<Pkcs7>(input))?;
            Ok([iv, body].concat())
        }
        Mode::Gcm => {
            let iv = if iv.is_empty() {
                random_bytes(12)
            } else {
                iv.to_vec()
            };
            if iv.len() != 12 {
                return Err(bad_iv(12));
            }
            let payload = Payload { msg: input, aad };
            let nonce = aes_gcm::Nonce::from_slice(&iv);
            let body: Vec<u8> = with_cipher!(f, key, C => Gcm::<C>::new_from_slice(key)
                .map_err(|e| failed(&e))?
                .encrypt(nonce, payload)
                .map_err(|e| failed(&e))?)?;
            Ok([iv, body].concat())
        }
    }
}

/// Decrypts bytes Spark's layout wrote.
fn decrypt(f: &str, mode: Mode, key: &[u8], input: &[u8], aad: &[u8]) -> Result<Vec<u8>> {
    let failed = |e: &dyn std::fmt::Display| crypto_error(f, e);
    match mode {
        Mode::Ecb => with_cipher!(f, key, C => ecb::Decryptor::<C>::new_from_slice(key)
            .map_err(|e| failed(&e))?
            .decrypt_padded_vec_mut::<Pkcs7>(input)
            .map_err(|e| failed(&e))?),
        Mode::Cbc => {
            if input.len() < 16 {
                return Err(failed(&"the input is shorter than its IV"));
            }
            let (iv, body) = input.split_at(16);
            with_cipher!(f, key, C => cbc::Decryptor::<C>::new_from_slices(key, iv)
                .map_err(|e| failed(&e))?
                .decrypt_padded_vec_mut::<Pkcs7>(body)
                .map_err(|e| failed(&e))?)
        }
        Mode::Gcm => {
            if input.len() < 12 + 16 {
                return Err(failed(&"the input is shorter than its IV and tag"));
            }
            let (iv, body) = input.split_at(12);
            let nonce = aes_gcm::Nonce::from_slice(iv);
            let payload = Payload { msg: body, aad };
            with_cipher!(f, key, C => Gcm::<C>::new_from_slice(key)
                .map_err(|e| failed(&e))?
                .decrypt(nonce, payload)
                .map_err(|e| failed(&e))?)
        }
    }
}

impl ScalarUDFImpl for Aes {
    fn name(&self) -> &str {
        &self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> DfResult<DataType> {
        Ok(DataType::Binary)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let n = args.number_rows;
        let arrays = super::arg_arrays(&args)?;
        let bin = |i: usize| arrays[i].as_binary::<i32>();
        let text = |i: usize| arrays[i].as_string::<i32>();
        let (input, key, modes, paddings) = (bin(0), bin(1), text(2), text(3));
        let mut out = BinaryBuilder::new();
        for i in 0..n {
            if arrays.iter().any(|a| a.is_null(i)) {
                out.append_null();
                continue;
            }
            let result = mode_of(&self.name, modes.value(i), paddings.value(i)).and_then(|mode| {
                if self.encrypt {
                    let (iv, aad) = (bin(4).value(i), bin(5).value(i));
                    encrypt(&self.name, mode, key.value(i), input.value(i), iv, aad)
                } else {
                    decrypt(
                        &self.name,
                        mode,
                        key.value(i),
                        input.value(i),
                        bin(4).value(i),
                    )
                }
            });
            match result {
                Ok(bytes) => out.append_value(bytes),
                Err(_) if !self.fail => out.append_null(),
                Err(e) => return Err(e.into()),
            }
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encrypts_as_spark_documents() {
        // Spark's example: GCM, a 32-byte key, a zero IV and an AAD
        let key = b"abcdefghijklmnop12345678ABCDEFGH";
        let aad = b"This is an AAD mixed into the input";
        let out = encrypt("aes_encrypt", Mode::Gcm, key, b"Spark", &[0; 12], aad);
        use base64::Engine;
        let expected = base64::engine::general_purpose::STANDARD
            .decode("AAAAAAAAAAAAAAAAQiYi+sTLm7KD9UcZ2nlRdYDe/PX4")
            .unwrap_or_default();
        assert_eq!(out.ok().as_deref(), Some(&expected[..]));
        let back = decrypt("aes_decrypt", Mode::Gcm, key, &expected, aad);
        assert_eq!(back.ok().as_deref(), Some(&b"Spark"[..]));
        // the AAD is authenticated: another one fails
        assert!(decrypt("aes_decrypt", Mode::Gcm, key, &expected, b"other").is_err());
    }

    #[test]
    fn round_trips_every_mode() {
        for mode in [Mode::Ecb, Mode::Cbc, Mode::Gcm] {
            for key in [&[7u8; 16][..], &[7; 24], &[7; 32]] {
                let sealed = encrypt("aes_encrypt", mode, key, b"Spark SQL", &[], &[]);
                let opened = sealed.and_then(|s| decrypt("aes_decrypt", mode, key, &s, &[]));
                assert_eq!(opened.ok().as_deref(), Some(&b"Spark SQL"[..]));
            }
        }
        assert!(encrypt("aes_encrypt", Mode::Ecb, &[1; 15], b"x", &[], &[]).is_err());
    }
}
