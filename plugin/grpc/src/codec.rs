//! The protobuf codec of every generated service: prost's, with request
//! decoding that answers with the codes the API documents instead of tonic's
//! defaults. A malformed message (including a `string` field that is not
//! UTF-8) is the caller's fault, so INVALID_ARGUMENT rather than prost's
//! INTERNAL; a message over `--max-message-bytes` (measured after
//! decompression, which is what costs memory) is RESOURCE_EXHAUSTED, naming
//! the limit. Generated code builds codecs with `Default`, so the limit is a
//! process-wide setting made once by [`crate::serve`].

use std::marker::PhantomData;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Buf;
use tonic::codec::{DecodeBuf, Decoder};
use tonic::Status;
use tonic_prost::ProstEncoder;

/// Default `--max-message-bytes`: 16 MiB, room for Vector's default batch of
/// 1000 events or 16 000 lines of 1 KiB.
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 16 << 20;

/// HTTP/2 stream window of the server and of the relay's downstream
/// connection. Batches of a thousand lines are hundreds of KiB each way:
/// HTTP/2's default 64 KiB windows would cost several round trips per batch.
/// (Here, beside the message limit, because both size the transport of one
/// message and both the server and the relay use it.)
pub(crate) const WINDOW: u32 = 2 << 20;

static MAX_MESSAGE_BYTES: AtomicUsize = AtomicUsize::new(DEFAULT_MAX_MESSAGE_BYTES);

/// Sets the largest decoded message accepted by every codec of this process.
pub fn set_max_message_bytes(n: usize) {
    MAX_MESSAGE_BYTES.store(n, Ordering::Relaxed);
}

/// The current limit.
pub fn max_message_bytes() -> usize {
    MAX_MESSAGE_BYTES.load(Ordering::Relaxed)
}

/// Prost encoding, checked decoding (see the module doc).
#[derive(Debug, Clone)]
pub struct Codec<T, U>(PhantomData<(T, U)>);

impl<T, U> Default for Codec<T, U> {
    fn default() -> Self {
        Codec(PhantomData)
    }
}

impl<T, U> tonic::codec::Codec for Codec<T, U>
where
    T: prost::Message + Send + 'static,
    U: prost::Message + Default + Send + 'static,
{
    type Encode = T;
    type Decode = U;
    type Encoder = ProstEncoder<T>;
    type Decoder = CheckedDecoder<U>;

    fn encoder(&mut self) -> Self::Encoder {
        ProstEncoder::default()
    }

    fn decoder(&mut self) -> Self::Decoder {
        CheckedDecoder(PhantomData)
    }
}

/// Decodes `U`, refusing oversized and malformed messages with proper codes.
#[derive(Debug)]
pub struct CheckedDecoder<U>(PhantomData<U>);

impl<U: prost::Message + Default> Decoder for CheckedDecoder<U> {
    type Item = U;
    type Error = Status;

    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<U>, Status> {
        let len = buf.remaining();
        let limit = max_message_bytes();
        if len > limit {
            return Err(Status::resource_exhausted(format!(
                "message is {len} bytes, over the limit of {limit} bytes (--max-message-bytes)"
            )));
        }
        U::decode(buf)
            .map(Some)
            .map_err(|e| Status::invalid_argument(format!("malformed message: {e}")))
    }
}
