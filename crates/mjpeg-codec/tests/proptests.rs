//! Property tests: split points never change the result; writer -> parser round trips;
//! arbitrary bytes never panic.
#![allow(clippy::unwrap_used)]

mod support;

use bytes::Bytes;
use mjpeg_codec::{
    CodecError, DecoderConfig, MjpegDecoder, MultipartWriter, Part, PartHead, Timestamp,
};
use proptest::prelude::*;
use support::*;

/// What a decode produced, comparable across runs.
#[derive(Debug, PartialEq)]
enum Outcome {
    Part {
        index: u64,
        offset: u64,
        body: Bytes,
        headers: Vec<(String, String)>,
    },
    Error(String),
}

fn outcomes(results: Vec<Result<Part, CodecError>>) -> Vec<Outcome> {
    results
        .into_iter()
        .map(|r| match r {
            Ok(p) => Outcome::Part {
                index: p.index(),
                offset: p.offset(),
                headers: p
                    .headers()
                    .iter()
                    .map(|(n, v)| (n.to_owned(), v.to_owned()))
                    .collect(),
                body: p.into_body(),
            },
            Err(e) => Outcome::Error(e.to_string()),
        })
        .collect()
}

/// The bodies of the three captures and two synthetic streams, with their boundary.
fn corpus() -> Vec<(Option<&'static str>, Vec<u8>)> {
    let [a, b] = photos();
    let mut no_length = Vec::new();
    for jpeg in [&a, &b] {
        no_length.extend_from_slice(b"\n--x\nContent-Type: image/jpeg\n\n");
        no_length.extend_from_slice(jpeg);
    }
    let mut garbage = b"junk\r\n--x\r\n\r\n".to_vec();
    garbage.extend_from_slice(&a[..1000]);
    garbage.extend_from_slice(b"\r\n--x\r\n--x\r\nContent-Length: 1000\r\n\r\n");
    garbage.extend_from_slice(&b[..1000]);
    garbage.extend_from_slice(b"junk--x--");
    vec![
        (
            None,
            HttpCapture::parse(&testdata("vlc-3.0-mpjpeg.bin")).body,
        ),
        (
            Some("BoundaryString"),
            HttpCapture::parse(&testdata("motion-4.5-stream.bin")).body,
        ),
        (
            None,
            HttpCapture::parse(&testdata("ffmpeg-5.1-mpjpeg.bin")).body,
        ),
        (Some("x"), no_length),
        (Some("x"), garbage),
    ]
}

proptest! {
    // 256 cases by default; `PROPTEST_CASES=5000 cargo test ...` for a longer run.
    #![proptest_config(ProptestConfig::default())]

    #[test]
    fn split_points_do_not_matter(which in 0usize..5, splits in prop::collection::vec(any::<prop::sample::Index>(), 0..40)) {
        let corpus = corpus();
        let (boundary, input) = &corpus[which];
        let splits: Vec<usize> = splits.iter().map(|i| i.index(input.len() + 1)).collect();
        let whole = outcomes(decode_all(decoder(*boundary), input));
        let split = outcomes(decode_with_splits(decoder(*boundary), input, &splits));
        prop_assert_eq!(whole, split);
    }

    #[test]
    fn byte_by_byte_matches_on_a_small_stream(cut in 0usize..400) {
        let mut input = b"\r\n--q\r\nA: 1\r\n\r\n\xff\xd8abc\xff\xd9\r\n--q\r\nContent-Length: 4\r\n\r\n\xff\xd8\xff\xd9\r\n--q--".to_vec();
        input.truncate(cut.min(input.len()));
        let every: Vec<usize> = (0..input.len()).collect();
        prop_assert_eq!(
            outcomes(decode_all(decoder(None), &input)),
            outcomes(decode_with_splits(decoder(None), &input, &every))
        );
    }

    #[test]
    fn writer_parser_round_trip(
        frames in prop::collection::vec((prop::collection::vec(any::<u8>(), 0..3000), any::<Option<u64>>(), any::<Option<(u64, u32)>>(), "[ -~]{0,40}"), 1..8),
        boundary in "[A-Za-z0-9'()+_,./:=?-]{1,70}",
        splits in prop::collection::vec(any::<prop::sample::Index>(), 0..20),
    ) {
        let writer = MultipartWriter::new(&boundary);
        let mut wire = writer.preamble().to_vec();
        let mut expected = Vec::new();
        for (data, frame_id, ts, extra_value) in &frames {
            let mut jpeg = vec![0xFF, 0xD8];
            jpeg.extend_from_slice(data);
            jpeg.extend_from_slice(&[0xFF, 0xD9]);
            let jpeg = Bytes::from(jpeg);
            let timestamp = ts.map(|(secs, micros)| Timestamp { secs, micros: micros % 1_000_000 });
            let extra = [("X-Extra", extra_value.as_str())];
            let head = PartHead { content_length: jpeg.len(), frame_id: *frame_id, timestamp, extra: &extra };
            for bytes in writer.part(&head, &jpeg) {
                wire.extend_from_slice(&bytes);
            }
            expected.push((jpeg, *frame_id, timestamp, extra_value.trim().to_owned()));
        }
        let splits: Vec<usize> = splits.iter().map(|i| i.index(wire.len() + 1)).collect();
        let decoder = MjpegDecoder::from_content_type(writer.content_type(), DecoderConfig::default());
        let parts: Vec<Part> = decode_with_splits(decoder, &wire, &splits).into_iter().map(Result::unwrap).collect();
        prop_assert_eq!(parts.len(), expected.len());
        for (part, (jpeg, frame_id, timestamp, extra)) in parts.iter().zip(expected) {
            prop_assert_eq!(part.body(), &jpeg);
            prop_assert_eq!(part.frame_id(), frame_id);
            prop_assert_eq!(part.timestamp(), timestamp);
            prop_assert_eq!(part.headers().get("x-extra"), Some(extra.as_str()));
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(
        input in prop::collection::vec(prop_oneof![any::<u8>(), Just(b'-'), Just(b'\n'), Just(b'\r'), Just(b'x'), Just(0xFF), Just(0xD8), Just(0xD9)], 0..2000),
        learn in any::<bool>(),
        splits in prop::collection::vec(any::<prop::sample::Index>(), 0..10),
    ) {
        let config = DecoderConfig { max_part_size: 500, max_header_size: 100 };
        let boundary = if learn { None } else { Some("x") };
        let splits: Vec<usize> = splits.iter().map(|i| i.index(input.len() + 1)).collect();
        let _ = decode_with_splits(MjpegDecoder::new(boundary, config), &input, &splits);
    }
}
