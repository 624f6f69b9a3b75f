//! Arbitrary bytes fed at arbitrary split points, with a known or learned boundary and small
//! limits: must never panic, and must never hold more than the limits allow.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use mjpeg_codec::{DecoderConfig, MjpegDecoder};
use tokio_util::codec::Decoder;

const MAX_PART: usize = 4096;
const MAX_HEADER: usize = 256;

fuzz_target!(|input: (bool, Vec<u16>, &[u8])| {
    let (learn, splits, data) = input;
    let config = DecoderConfig {
        max_part_size: MAX_PART,
        max_header_size: MAX_HEADER,
    };
    let mut decoder = MjpegDecoder::new(if learn { None } else { Some("x") }, config);
    let mut cuts: Vec<usize> = splits
        .iter()
        .map(|&s| usize::from(s).min(data.len()))
        .collect();
    cuts.push(data.len());
    cuts.sort_unstable();
    let mut buf = BytesMut::new();
    let mut from = 0;
    for cut in cuts {
        buf.extend_from_slice(&data[from..cut]);
        from = cut;
        while let Ok(Some(part)) = decoder.decode(&mut buf) {
            assert!(part.body().len() <= MAX_PART);
        }
        // Whatever is left is bounded by the limits plus the last piece fed.
        assert!(buf.len() <= MAX_PART + MAX_HEADER + usize::from(u16::MAX) + 64);
    }
    while let Ok(Some(_)) = decoder.decode_eof(&mut buf) {}
});
