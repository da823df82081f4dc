//! Compact binary encodings of positions (see [`position`] for the layout).

pub(crate) mod position;
pub(crate) mod varint;

pub(crate) use position::{
    content_key, decode_records, encode_records, fnv1a64, merge_dedup, quantize, Record,
};

/// Why a blob could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum CodecError {
    #[error("blob truncated")]
    Truncated,
    #[error("varint overflows")]
    VarintOverflow,
    #[error("unknown blob version {0}")]
    Version(u8),
    #[error("invalid {0}")]
    Invalid(&'static str),
    #[error("trailing bytes after last record")]
    Trailing,
}
