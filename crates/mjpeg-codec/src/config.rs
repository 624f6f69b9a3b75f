//! Decoder limits.

/// Limits of a [`MjpegDecoder`](crate::MjpegDecoder): the read buffer never holds more than
/// one part's headers and body within these (plus one read's worth of bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecoderConfig {
    /// Largest accepted part body, in bytes (default 8 MiB). A larger `Content-Length`, or more
    /// bytes than this without a delimiter, is [`ErrorKind::PartTooLarge`](crate::ErrorKind).
    pub max_part_size: usize,
    /// Largest accepted header block, in bytes (default 16 KiB). A header block that does not
    /// end within it is [`ErrorKind::HeadersTooLarge`](crate::ErrorKind).
    pub max_header_size: usize,
}

impl Default for DecoderConfig {
    fn default() -> Self {
        Self {
            max_part_size: 8 * 1024 * 1024,
            max_header_size: 16 * 1024,
        }
    }
}
