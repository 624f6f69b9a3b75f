//! Recording cost of a 30 fps VGA camera, side by side with the floor (a plain loop writing
//! the same JPEGs to a file, one write per frame), and export throughput.
//!
//! `cargo bench -p mjpeg-record --bench record`. Per-frame time x 30 = share of one core.

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use mjpeg_record::layout::SegmentPaths;
use mjpeg_record::segment_writer::SegmentWriter;
use mjpeg_record::{Archive, RecordConfig, RecordFrame, RecordMode};
use std::io::Write;

const VGA: &[u8] = include_bytes!("../../yolo-detect/testdata/vlc-frame-640x480.jpg");
const T0: i64 = 1_764_448_200_000_000;
const PERIOD: i64 = 33_333;
/// Frames per iteration batch: 60 s of video, one segment.
const FRAMES: i64 = 1800;

fn record(c: &mut Criterion) {
    let jpeg = Bytes::from_static(VGA);
    let mut g = c.benchmark_group("record_30fps_vga_frame");
    g.throughput(Throughput::Elements(1));
    g.sample_size(20);
    g.bench_function("floor_plain_write", |b| {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut n = 0u64;
        let mut file = std::fs::File::create(dir.path().join("floor.bin")).expect("create");
        b.iter(|| {
            file.write_all(&jpeg).expect("write");
            n += 1;
            if n.is_multiple_of(30) {
                file.sync_data().expect("sync");
            }
            if n.is_multiple_of(FRAMES as u64) {
                file = std::fs::File::create(dir.path().join(format!("floor{n}.bin")))
                    .expect("create");
            }
        });
    });
    g.bench_function("segment_writer", |b| {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut i = 0i64;
        let mut w: Option<SegmentWriter> = None;
        b.iter(|| {
            let t = T0 + i * PERIOD;
            let slot = T0 + (i / FRAMES) * 60_000_000;
            if i % FRAMES == 0 {
                let p = SegmentPaths::new(dir.path(), "cam", slot, 60_000_000);
                w = Some(SegmentWriter::open(&p, VGA, 33_333).expect("open"));
            }
            let Some(seg) = w.as_mut() else { return };
            seg.append(&RecordFrame::new(jpeg.clone(), i as u64, t, t))
                .expect("append");
            i += 1;
            if i % 30 == 0 {
                seg.sync().expect("sync");
            }
        });
    });
    g.finish();
}

fn export(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let archive = Archive::open(RecordConfig::new(dir.path())).expect("open");
    let rec = archive
        .recorder("cam", RecordMode::CONTINUOUS)
        .expect("recorder");
    let jpeg = Bytes::from_static(VGA);
    for i in 0..FRAMES * 2 {
        let t = T0 + i * PERIOD;
        while !rec.try_record(RecordFrame::new(jpeg.clone(), i as u64, t, t)) {
            rec.flush();
        }
    }
    rec.flush();
    let end = T0 + FRAMES * 2 * PERIOD;
    let mut g = c.benchmark_group("export_2min_30fps_vga");
    g.sample_size(10);
    let len = archive.export_mp4("cam", T0, end).expect("export").len();
    g.throughput(Throughput::Bytes(len));
    g.bench_function("mp4_256k_chunks", |b| {
        b.iter(|| {
            let e = archive.export_mp4("cam", T0, end).expect("export");
            let mut n = 0;
            for c in e.chunks(0..e.len(), 256 * 1024) {
                n += c.expect("chunk").len();
            }
            assert_eq!(n as u64, len);
        });
    });
    g.bench_function("mjpeg_frames", |b| {
        b.iter(|| {
            let n = archive
                .export_mjpeg("cam", T0, end)
                .expect("export")
                .map(|f| f.expect("f").jpeg.len())
                .sum::<usize>();
            assert!(n > 0);
        });
    });
    g.finish();
}

criterion_group!(benches, record, export);
criterion_main!(benches);
