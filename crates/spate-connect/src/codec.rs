//! The wire codec: prost messages under Spark Connect's limits. Requests may be as large as
//! `spark.connect.grpc.maxInboundMessageSize` (set on the gRPC service) and nest as deep as
//! `spark.connect.grpc.marshallerRecursionLimit` (1024, where prost alone stops at 100: a
//! DataFrame of a hundred chained `withColumn` calls nests about two hundred levels).
//!
//! prost's own limit cannot be raised, so it is lifted (its `no-recursion-limit` feature) and
//! the depth is checked here before decoding: [`nesting_depth`] walks the protobuf wire format
//! without the schema, counting a length-delimited field as a nested message when its bytes
//! parse as one. Strings that happen to parse as messages can only make the count larger, so
//! nothing deeper than the limit reaches the decoder (whose recursion would otherwise be
//! bounded by nothing but the stack).

use std::marker::PhantomData;

use bytes::Buf;
use prost::Message;
use tonic::codec::{BufferSettings, Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::{Code, Status};

/// A prost codec whose decoder refuses messages nested deeper than a limit.
#[derive(Debug, Clone, Copy)]
pub struct SparkCodec<E, D> {
    depth_limit: usize,
    _types: PhantomData<(E, D)>,
}

impl<E, D> SparkCodec<E, D> {
    /// A codec accepting up to `depth_limit` levels of nesting.
    pub fn new(depth_limit: usize) -> Self {
        Self {
            depth_limit,
            _types: PhantomData,
        }
    }
}

impl<E, D> Codec for SparkCodec<E, D>
where
    E: Message + Send + 'static,
    D: Message + Default + Send + 'static,
{
    type Encode = E;
    type Decode = D;
    type Encoder = MessageEncoder<E>;
    type Decoder = DepthCheckedDecoder<D>;

    fn encoder(&mut self) -> Self::Encoder {
        MessageEncoder(PhantomData)
    }

    fn decoder(&mut self) -> Self::Decoder {
        DepthCheckedDecoder {
            depth_limit: self.depth_limit,
            _type: PhantomData,
        }
    }
}

/// Encodes prost messages.
#[derive(Debug)]
pub struct MessageEncoder<E>(PhantomData<E>);

impl<E: Message> Encoder for MessageEncoder<E> {
    type Item = E;
    type Error = Status;

    fn encode(&mut self, item: E, buf: &mut EncodeBuf<'_>) -> Result<(), Status> {
        item.encode(buf)
            .map_err(|e| Status::internal(format!("bug: cannot encode a response: {e}")))
    }

    fn buffer_settings(&self) -> BufferSettings {
        BufferSettings::default()
    }
}

/// Decodes prost messages after checking how deep they nest.
#[derive(Debug)]
pub struct DepthCheckedDecoder<D> {
    depth_limit: usize,
    _type: PhantomData<D>,
}

impl<D: Message + Default> Decoder for DepthCheckedDecoder<D> {
    type Item = D;
    type Error = Status;

    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<D>, Status> {
        let bytes = buf.copy_to_bytes(buf.remaining());
        let depth = nesting_depth(&bytes, self.depth_limit + 1);
        if depth > self.depth_limit {
            return Err(Status::new(
                Code::InvalidArgument,
                format!(
                    "the request nests more than {} levels deep, the most Spark Connect accepts \
                     (spark.connect.grpc.marshallerRecursionLimit); build the DataFrame in \
                     steps (cache or checkpoint an intermediate result)",
                    self.depth_limit
                ),
            ));
        }
        D::decode(bytes)
            .map(Some)
            .map_err(|e| Status::invalid_argument(format!("malformed request: {e}")))
    }

    fn buffer_settings(&self) -> BufferSettings {
        BufferSettings::default()
    }
}

/// How deep `buf` nests as a protobuf message, counting up to `stop` (where it gives up).
pub fn nesting_depth(buf: &[u8], stop: usize) -> usize {
    message_depth(buf, 0, stop).unwrap_or(0)
}

/// The depth of the deepest message inside `buf` (itself at `depth`), or `None` if `buf` is
/// not a message.
fn message_depth(buf: &[u8], depth: usize, stop: usize) -> Option<usize> {
    if depth >= stop {
        return Some(depth);
    }
    let mut deepest = depth;
    let mut i = 0;
    while i < buf.len() {
        let (key, n) = varint(&buf[i..])?;
        i += n;
        if key >> 3 == 0 {
            return None;
        }
        match key & 7 {
            0 => i += varint(&buf[i..])?.1,
            1 => i = skip(buf, i, 8)?,
            5 => i = skip(buf, i, 4)?,
            2 => {
                let (len, n) = varint(&buf[i..])?;
                i += n;
                let end = skip(buf, i, usize::try_from(len).ok()?)?;
                if let Some(d) = message_depth(&buf[i..end], depth + 1, stop) {
                    deepest = deepest.max(d);
                    if deepest >= stop {
                        return Some(deepest);
                    }
                }
                i = end;
            }
            _ => return None,
        }
    }
    Some(deepest)
}

fn skip(buf: &[u8], at: usize, len: usize) -> Option<usize> {
    let end = at.checked_add(len)?;
    (end <= buf.len()).then_some(end)
}

fn varint(buf: &[u8]) -> Option<(u64, usize)> {
    let mut value: u64 = 0;
    for (i, b) in buf.iter().take(10).enumerate() {
        value |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Some((value, i + 1));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use spark_connect_proto::spark::connect::relation::RelType;
    use spark_connect_proto::spark::connect::{Limit, Range, Relation};

    use super::*;

    fn chain(levels: usize) -> Relation {
        let mut rel = Relation {
            common: None,
            rel_type: Some(RelType::Range(Range {
                start: Some(0),
                end: 10,
                step: 1,
                num_partitions: None,
            })),
        };
        for _ in 0..levels {
            rel = Relation {
                common: None,
                rel_type: Some(RelType::Limit(Box::new(Limit {
                    input: Some(Box::new(rel)),
                    limit: 5,
                }))),
            };
        }
        rel
    }

    #[test]
    fn depth_counts_each_nested_message() {
        // Limit: Relation > Limit > Relation ... > Range (two levels per Limit)
        assert_eq!(nesting_depth(&chain(0).encode_to_vec(), 5000), 1);
        assert_eq!(nesting_depth(&chain(3).encode_to_vec(), 5000), 7);
        assert_eq!(nesting_depth(&chain(600).encode_to_vec(), 5000), 1201);
        assert_eq!(nesting_depth(&chain(600).encode_to_vec(), 1025), 1025);
    }

    #[test]
    fn deep_plans_decode_once_the_depth_is_allowed() -> std::thread::Result<()> {
        // decoding recurses once per level: run it on a stack as large as the server's threads
        std::thread::Builder::new()
            .stack_size(32 << 20)
            .spawn(|| {
                let bytes = chain(500).encode_to_vec();
                assert!(nesting_depth(&bytes, 1025) <= 1024);
                let back = Relation::decode(bytes.as_slice());
                assert!(back.is_ok_and(|r| r == chain(500)));
            })
            .map_err(|e| Box::new(e) as Box<dyn std::any::Any + Send>)?
            .join()
    }

    #[test]
    fn garbage_is_not_a_message() {
        assert_eq!(nesting_depth(&[0xff, 0xff, 0xff, 0xff, 0x10], 100), 0);
        assert_eq!(nesting_depth(&[], 100), 0);
    }
}
