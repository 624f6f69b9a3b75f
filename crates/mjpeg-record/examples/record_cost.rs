//! CPU cost of recording a 30 fps VGA camera, side by side with the floor, in one run.
//!
//! ```sh
//! cargo run --release -p mjpeg-record --example record_cost -- [ROUNDS] [PACED_SECONDS]
//! ```
//!
//! Two parts, each in alternating rounds (floor, recorder, floor, recorder... with the order
//! swapped every other round) so that machine noise hits both alike:
//!
//! - **batch**: 1800 frames (one 60 s segment) as fast as possible on one thread, timed by
//!   `getrusage(RUSAGE_THREAD)` (user + system CPU) and by the wall clock. `floor` writes the
//!   JPEG to a file with one `write` per frame; `floor+sync` also `fdatasync`s every 30 frames
//!   (the recorder's once a second); `segment_writer` is the recorder's file writer (fragment,
//!   index record, sync every 30 frames).
//! - **paced**: a real 30 fps camera for PACED_SECONDS: `floor` (one `write` per frame, one
//!   `fdatasync` at the end so its writeback is counted here) and `floor+sync` (also every
//!   second) in a paced loop versus the whole [`Recorder`] (`try_record` on the paced thread, the writer thread behind its
//!   queue), timed by `getrusage(RUSAGE_SELF)`: the whole process's CPU over the wall time is
//!   the share of one core.
//!
//! Prints the median of the rounds per frame (µs) and the ratio to the floor.
#![allow(unsafe_code)] // getrusage(2) through libc; see the SAFETY comment.

use bytes::Bytes;
use mjpeg_record::layout::SegmentPaths;
use mjpeg_record::segment_writer::SegmentWriter;
use mjpeg_record::{Archive, RecordConfig, RecordFrame, RecordMode};
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

const VGA: &[u8] = include_bytes!("../../yolo-detect/testdata/vlc-frame-640x480.jpg");
const T0: i64 = 1_764_448_200_000_000;
const PERIOD: i64 = 33_333;
const FRAMES: u64 = 1800;

/// User + system CPU time of this thread (`who = RUSAGE_THREAD`) or process (`RUSAGE_SELF`).
fn cpu(who: libc::c_int) -> Duration {
    let mut ru = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: `ru` points to writable memory the size of a `rusage`; getrusage only writes it.
    let rc = unsafe { libc::getrusage(who, ru.as_mut_ptr()) };
    assert_eq!(rc, 0, "getrusage");
    // SAFETY: getrusage returned 0, so it filled the struct (and it was zeroed before anyway).
    let ru = unsafe { ru.assume_init() };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// CPU and wall time of one round, per frame, in µs.
#[derive(Clone, Copy, Default)]
struct Cost {
    cpu_us: f64,
    wall_us: f64,
}

fn measure(who: libc::c_int, frames: u64, f: impl FnOnce()) -> Cost {
    let (c0, w0) = (cpu(who), Instant::now());
    f();
    let (c1, w1) = (cpu(who), Instant::now());
    Cost {
        cpu_us: (c1 - c0).as_secs_f64() * 1e6 / frames as f64,
        wall_us: (w1 - w0).as_secs_f64() * 1e6 / frames as f64,
    }
}

fn floor(dir: &Path, name: &str, jpeg: &Bytes, sync: bool) {
    let mut file = std::fs::File::create(dir.join(name)).expect("create");
    for n in 1..=FRAMES {
        file.write_all(jpeg).expect("write");
        if sync && n.is_multiple_of(30) {
            file.sync_data().expect("sync");
        }
    }
    file.sync_data().expect("sync");
}

fn segment_writer(dir: &Path, round: u64, jpeg: &Bytes) {
    let slot = T0 + round as i64 * 60_000_000;
    let p = SegmentPaths::new(dir, "cam", slot, 60_000_000);
    let mut w = SegmentWriter::open(&p, VGA, 33_333).expect("open");
    for i in 0..FRAMES {
        let t = slot + i as i64 * PERIOD;
        w.append(&RecordFrame::new(jpeg.clone(), i, t, t))
            .expect("append");
        if (i + 1).is_multiple_of(30) {
            w.sync().expect("sync");
        }
    }
    w.close().expect("close");
}

/// Runs `each` once per frame period (30 fps) for `frames` frames.
fn paced(frames: u64, mut each: impl FnMut(u64)) {
    let start = Instant::now();
    for i in 0..frames {
        each(i);
        let next = start + Duration::from_micros((i + 1) * PERIOD as u64);
        if let Some(d) = next.checked_duration_since(Instant::now()) {
            std::thread::sleep(d);
        }
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n.is_multiple_of(2) {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    } else {
        v[n / 2]
    }
}

fn report(name: &str, costs: &[Cost], floor: Option<&[Cost]>) {
    let cpu = median(costs.iter().map(|c| c.cpu_us).collect());
    let wall = median(costs.iter().map(|c| c.wall_us).collect());
    let all: Vec<String> = costs.iter().map(|c| format!("{:.1}", c.cpu_us)).collect();
    let ratio = floor.map_or(String::new(), |f| {
        let fc = median(f.iter().map(|c| c.cpu_us).collect());
        let fw = median(f.iter().map(|c| c.wall_us).collect());
        format!("  cpu {:.2}x  wall {:.2}x", cpu / fc, wall / fw)
    });
    println!(
        "{name:<16} cpu {cpu:7.2} µs/frame ({:.3} % of a core at 30 fps)  wall {wall:7.2} µs/frame{ratio}\n{:<16} cpu per round: {}",
        cpu * 30.0 / 1e4,
        "",
        all.join(" ")
    );
}

fn main() {
    let mut args = std::env::args().skip(1);
    let rounds: u64 = args.next().map_or(8, |a| a.parse().expect("ROUNDS"));
    let paced_s: u64 = args.next().map_or(5, |a| a.parse().expect("PACED_SECONDS"));
    let jpeg = Bytes::from_static(VGA);
    let dir = tempfile::tempdir().expect("tempdir");
    println!(
        "{} rounds; JPEG {} bytes; files in {}",
        rounds,
        VGA.len(),
        dir.path().display()
    );

    let (mut fl, mut fls, mut sw) = (Vec::new(), Vec::new(), Vec::new());
    for r in 0..rounds {
        let d = dir.path().join(format!("batch{r}"));
        std::fs::create_dir_all(&d).expect("mkdir");
        let mut run = |which: u8| match which {
            0 => fl.push(measure(libc::RUSAGE_THREAD, FRAMES, || {
                floor(&d, "floor.bin", &jpeg, false)
            })),
            1 => fls.push(measure(libc::RUSAGE_THREAD, FRAMES, || {
                floor(&d, "floor-sync.bin", &jpeg, true)
            })),
            _ => sw.push(measure(libc::RUSAGE_THREAD, FRAMES, || {
                segment_writer(&d, r, &jpeg)
            })),
        };
        let order: [u8; 3] = if r % 2 == 0 { [0, 1, 2] } else { [2, 1, 0] };
        order.into_iter().for_each(&mut run);
        std::fs::remove_dir_all(&d).expect("rm");
    }
    println!("\nbatch: {FRAMES} frames per round, one thread, RUSAGE_THREAD");
    report("floor", &fl, None);
    report("floor+sync", &fls, None);
    report("segment_writer", &sw, Some(&fls));
    println!(
        "{:<16} (ratio to floor without sync: cpu {:.2}x)",
        "",
        median(sw.iter().map(|c| c.cpu_us).collect())
            / median(fl.iter().map(|c| c.cpu_us).collect())
    );

    if paced_s == 0 {
        return;
    }
    let frames = paced_s * 30;
    let (mut pn, mut pf, mut pr) = (Vec::new(), Vec::new(), Vec::new());
    for r in 0..rounds.div_ceil(2) {
        let d = dir.path().join(format!("paced{r}"));
        std::fs::create_dir_all(&d).expect("mkdir");
        let mut run = |which: u8| match which {
            0 | 1 => {
                let sync_every_second = which == 1;
                let cost = measure(libc::RUSAGE_SELF, frames, || {
                    let mut file = std::fs::File::create(d.join("floor.bin")).expect("create");
                    paced(frames, |i| {
                        file.write_all(&jpeg).expect("write");
                        if sync_every_second && (i + 1).is_multiple_of(30) {
                            file.sync_data().expect("sync");
                        }
                    });
                    // The writeback of what is left, in this process (not a flusher thread).
                    file.sync_data().expect("sync");
                });
                if sync_every_second {
                    pf.push(cost)
                } else {
                    pn.push(cost)
                }
            }
            _ => {
                let archive = Archive::open(RecordConfig::new(d.join("rec"))).expect("archive");
                pr.push(measure(libc::RUSAGE_SELF, frames, || {
                    let rec = archive
                        .recorder("cam", RecordMode::CONTINUOUS)
                        .expect("recorder");
                    let t0 = T0 + r as i64 * 3_600_000_000;
                    paced(frames, |i| {
                        let t = t0 + i as i64 * PERIOD;
                        rec.try_record(RecordFrame::new(jpeg.clone(), i, t, t));
                    });
                    drop(rec);
                }));
            }
        };
        let order: [u8; 3] = if r % 2 == 0 { [0, 1, 2] } else { [2, 1, 0] };
        order.into_iter().for_each(&mut run);
        std::fs::remove_dir_all(&d).expect("rm");
    }
    println!("\npaced: 30 fps for {paced_s} s per round, whole process, RUSAGE_SELF");
    report("floor", &pn, None);
    report("floor+sync", &pf, None);
    report("recorder", &pr, Some(&pf));
    println!(
        "{:<16} (ratio to the paced floor without sync: cpu {:.2}x)",
        "",
        median(pr.iter().map(|c| c.cpu_us).collect())
            / median(pn.iter().map(|c| c.cpu_us).collect())
    );
}
