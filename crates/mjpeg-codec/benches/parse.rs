//! Parse throughput on real JPEG frames (38.7 KB and 80.0 KB sample photos, alternating: 59 KB
//! on average), with and without `Content-Length`, next to a `memchr::memmem` scan and a
//! `memcpy` of the same bytes in the same run.
//!
//! `decode_*` take the whole stream from one buffer (parse cost only);
//! `decode_with_content_length_32KiB_reads` appends it in 32 KiB reads as a socket would.
//!
//! Run: `cargo bench -p mjpeg-codec --bench parse -- --warm-up-time 1 --measurement-time 3`
#![allow(clippy::unwrap_used, missing_docs)]

use std::hint::black_box;

use bytes::{Bytes, BytesMut};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use mjpeg_codec::{DecoderConfig, MjpegDecoder};
use tokio_util::codec::Decoder;

const BOUNDARY: &str = "123456789000000000000987654321";
const FRAMES: usize = 20;

fn photo(name: &str) -> Bytes {
    let path = format!("{}/testdata/{name}", env!("CARGO_MANIFEST_DIR"));
    Bytes::from(std::fs::read(path).unwrap())
}

/// An ESP32-CAM-firmware-style stream of `FRAMES` frames, with or without `Content-Length`.
fn stream(content_length: bool) -> Vec<u8> {
    let photos = [photo("chelsea.jpg"), photo("coffee.jpg")];
    let mut out = Vec::new();
    for i in 0..FRAMES {
        let jpeg = &photos[i % 2];
        out.extend_from_slice(
            format!("\r\n--{BOUNDARY}\r\nContent-Type: image/jpeg\r\n").as_bytes(),
        );
        if content_length {
            out.extend_from_slice(format!("Content-Length: {}\r\n", jpeg.len()).as_bytes());
        }
        out.extend_from_slice(format!("X-Timestamp: 1732500000.{i:06}\r\n\r\n").as_bytes());
        out.extend_from_slice(jpeg);
    }
    out.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    out
}

fn decode_all(mut buf: BytesMut) -> usize {
    let mut decoder = MjpegDecoder::new(Some(BOUNDARY), DecoderConfig::default());
    let mut frames = 0;
    while let Some(part) = decoder.decode(&mut buf).unwrap() {
        black_box(part.body());
        frames += 1;
    }
    assert_eq!(frames, FRAMES);
    frames
}

fn parse(c: &mut Criterion) {
    let with_length = stream(true);
    let without_length = stream(false);
    let mut group = c.benchmark_group("parse_59KB_frames");
    group.throughput(Throughput::Bytes(with_length.len() as u64));

    let mut dst = vec![0u8; with_length.len()];
    group.bench_function("memcpy", |b| {
        b.iter(|| dst.copy_from_slice(black_box(&with_length)));
    });
    let needle = format!("--{BOUNDARY}");
    let finder = memchr::memmem::Finder::new(needle.as_bytes());
    group.bench_function("memchr_memmem_scan", |b| {
        b.iter(|| finder.find_iter(black_box(&without_length)).count());
    });
    group.bench_function("decode_with_content_length", |b| {
        b.iter_batched(
            || BytesMut::from(&with_length[..]),
            decode_all,
            BatchSize::LargeInput,
        );
    });
    group.bench_function("decode_without_content_length", |b| {
        b.iter_batched(
            || BytesMut::from(&without_length[..]),
            decode_all,
            BatchSize::LargeInput,
        );
    });
    // As from a socket: 32 KiB reads appended to the decoder's buffer (one extra copy).
    group.bench_function("decode_with_content_length_32KiB_reads", |b| {
        b.iter(|| decode_in_reads(&with_length));
    });
    group.finish();
}

fn decode_in_reads(stream: &[u8]) -> usize {
    let mut decoder = MjpegDecoder::new(Some(BOUNDARY), DecoderConfig::default());
    let mut buf = BytesMut::with_capacity(64 * 1024);
    let mut frames = 0;
    for read in stream.chunks(32 * 1024) {
        buf.extend_from_slice(read);
        while let Some(part) = decoder.decode(&mut buf).unwrap() {
            black_box(part.body());
            frames += 1;
        }
    }
    assert_eq!(frames, FRAMES);
    frames
}

criterion_group!(benches, parse);
criterion_main!(benches);
