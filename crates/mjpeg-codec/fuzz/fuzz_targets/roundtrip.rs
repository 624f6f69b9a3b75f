//! Writer -> parser: arbitrary frames written by `MultipartWriter` come back byte for byte,
//! whatever the split points.
#![no_main]

use bytes::{Bytes, BytesMut};
use libfuzzer_sys::fuzz_target;
use mjpeg_codec::{DecoderConfig, MjpegDecoder, MultipartWriter, PartHead, Timestamp};
use tokio_util::codec::Decoder;

/// One frame: JPEG payload between SOI and EOI, frame id, timestamp seconds and microseconds.
type Frame = (Vec<u8>, Option<u64>, u64, u32);

fuzz_target!(|input: (Vec<Frame>, u16)| {
    let (frames, split) = input;
    let writer = MultipartWriter::default();
    let mut wire = writer.preamble().to_vec();
    let mut expected = Vec::new();
    for (data, frame_id, secs, micros) in frames {
        let mut jpeg = vec![0xFF, 0xD8];
        jpeg.extend_from_slice(&data);
        jpeg.extend_from_slice(&[0xFF, 0xD9]);
        let jpeg = Bytes::from(jpeg);
        let timestamp = Some(Timestamp {
            secs,
            micros: micros % 1_000_000,
        });
        let head = PartHead {
            content_length: jpeg.len(),
            frame_id,
            timestamp,
            extra: &[],
        };
        for bytes in writer.part(&head, &jpeg) {
            wire.extend_from_slice(&bytes);
        }
        expected.push((jpeg, timestamp));
    }
    let mut decoder =
        MjpegDecoder::from_content_type(writer.content_type(), DecoderConfig::default());
    let cut = usize::from(split).min(wire.len());
    let mut buf = BytesMut::from(&wire[..cut]);
    let mut got = Vec::new();
    while let Some(part) = decoder.decode(&mut buf).expect("decode") {
        got.push(part);
    }
    buf.extend_from_slice(&wire[cut..]);
    while let Some(part) = decoder.decode_eof(&mut buf).expect("decode_eof") {
        got.push(part);
    }
    assert_eq!(got.len(), expected.len());
    for (part, (jpeg, timestamp)) in got.iter().zip(expected) {
        assert_eq!(part.body(), &jpeg);
        assert_eq!(part.timestamp(), timestamp);
    }
});
