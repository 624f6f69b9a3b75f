//! The ISO BMFF boxes of a segment, written by hand with `bytes`.
//!
//! A segment is `ftyp` + `moov` (one video track whose `mp4v` sample entry carries an `esds`
//! with object type indication 0x6C, ISO 10918-1 JPEG, as FFmpeg, MediaMTX and retina write
//! it), then one `moof` + `mdat` fragment per frame. The track timescale is 1 MHz, so `tfdt`
//! holds the camera's capture time in Unix microseconds exactly. Every `moof` has the same
//! length ([`MOOF_LEN`]): `mfhd`, `traf` (`tfhd` with default-base-is-moof, `tfdt` v1, `trun`
//! with one sample's duration and size) and a `uuid` box with the frame id, capture and receive
//! times, so a segment alone is enough to rebuild its index.

use bytes::{BufMut, BytesMut};

/// The track timescale: microseconds.
pub const TIMESCALE: u32 = 1_000_000;
/// Length of every `moof` this crate writes.
pub const MOOF_LEN: usize = 148;
/// Length of a fragment's header: the `moof` and the `mdat` box header before the JPEG.
pub const FRAGMENT_HEADER_LEN: usize = MOOF_LEN + 8;
/// The `uuid` box's user type ("camrelay frame\0\0").
pub const FRAME_UUID: [u8; 16] = *b"camrelay-frame\0\x01";

/// What a fragment says about its frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FragmentInfo {
    /// `mfhd` sequence number.
    pub sequence: u32,
    /// The camera's frame id.
    pub frame_id: u64,
    /// Capture time, Unix µs (`tfdt`).
    pub capture_us: i64,
    /// The relay's receive time, Unix µs.
    pub receive_us: i64,
    /// Sample duration in µs.
    pub duration_us: u32,
    /// JPEG size in bytes.
    pub size: u32,
}

fn boxed(buf: &mut BytesMut, kind: &[u8; 4], body: impl FnOnce(&mut BytesMut)) {
    let start = buf.len();
    buf.put_u32(0);
    buf.put_slice(kind);
    body(buf);
    let size = (buf.len() - start) as u32;
    buf[start..start + 4].copy_from_slice(&size.to_be_bytes());
}

fn full(
    buf: &mut BytesMut,
    kind: &[u8; 4],
    version: u8,
    flags: u32,
    body: impl FnOnce(&mut BytesMut),
) {
    boxed(buf, kind, |b| {
        b.put_u32((u32::from(version) << 24) | (flags & 0x00FF_FFFF));
        body(b);
    });
}

const MATRIX: [u32; 9] = [0x0001_0000, 0, 0, 0, 0x0001_0000, 0, 0, 0, 0x4000_0000];

/// The init segment (`ftyp` + `moov`) for frames of `width` x `height`.
pub fn init_segment(width: u16, height: u16) -> BytesMut {
    let mut b = BytesMut::with_capacity(800);
    boxed(&mut b, b"ftyp", |b| {
        b.put_slice(b"iso5");
        b.put_u32(512);
        for brand in [b"iso5", b"iso6", b"isom", b"mp41"] {
            b.put_slice(brand);
        }
    });
    boxed(&mut b, b"moov", |b| {
        full(b, b"mvhd", 0, 0, |b| {
            b.put_u32(0); // creation
            b.put_u32(0); // modification
            b.put_u32(1000); // movie timescale
            b.put_u32(0); // duration: fragments carry it
            b.put_u32(0x0001_0000); // rate 1.0
            b.put_u16(0x0100); // volume 1.0
            b.put_bytes(0, 10);
            MATRIX.iter().for_each(|m| b.put_u32(*m));
            b.put_bytes(0, 24);
            b.put_u32(2); // next track id
        });
        boxed(b, b"trak", |b| {
            full(b, b"tkhd", 0, 3, |b| {
                b.put_u32(0);
                b.put_u32(0);
                b.put_u32(1); // track id
                b.put_u32(0);
                b.put_u32(0); // duration
                b.put_bytes(0, 8);
                b.put_u16(0); // layer
                b.put_u16(0); // alternate group
                b.put_u16(0); // volume
                b.put_u16(0);
                MATRIX.iter().for_each(|m| b.put_u32(*m));
                b.put_u32(u32::from(width) << 16);
                b.put_u32(u32::from(height) << 16);
            });
            boxed(b, b"mdia", |b| {
                full(b, b"mdhd", 0, 0, |b| {
                    b.put_u32(0);
                    b.put_u32(0);
                    b.put_u32(TIMESCALE);
                    b.put_u32(0);
                    b.put_u16(0x55C4); // "und"
                    b.put_u16(0);
                });
                full(b, b"hdlr", 0, 0, |b| {
                    b.put_u32(0);
                    b.put_slice(b"vide");
                    b.put_bytes(0, 12);
                    b.put_slice(b"VideoHandler\0");
                });
                boxed(b, b"minf", |b| {
                    full(b, b"vmhd", 0, 1, |b| b.put_bytes(0, 8));
                    boxed(b, b"dinf", |b| {
                        full(b, b"dref", 0, 0, |b| {
                            b.put_u32(1);
                            full(b, b"url ", 0, 1, |_| {});
                        });
                    });
                    boxed(b, b"stbl", |b| {
                        full(b, b"stsd", 0, 0, |b| {
                            b.put_u32(1);
                            mp4v(b, width, height);
                        });
                        full(b, b"stts", 0, 0, |b| b.put_u32(0));
                        full(b, b"stsc", 0, 0, |b| b.put_u32(0));
                        full(b, b"stsz", 0, 0, |b| b.put_bytes(0, 8));
                        full(b, b"stco", 0, 0, |b| b.put_u32(0));
                    });
                });
            });
        });
        boxed(b, b"mvex", |b| {
            full(b, b"trex", 0, 0, |b| {
                b.put_u32(1); // track id
                b.put_u32(1); // sample description index
                b.put_u32(0); // default duration
                b.put_u32(0); // default size
                b.put_u32(0); // default flags: every JPEG is a sync sample
            });
        });
    });
    b
}

/// The `mp4v` visual sample entry with its `esds` (ISO 14496-1 descriptors).
fn mp4v(b: &mut BytesMut, width: u16, height: u16) {
    boxed(b, b"mp4v", |b| {
        b.put_bytes(0, 6);
        b.put_u16(1); // data reference index
        b.put_bytes(0, 16); // pre_defined, reserved
        b.put_u16(width);
        b.put_u16(height);
        b.put_u32(0x0048_0000); // 72 dpi
        b.put_u32(0x0048_0000);
        b.put_u32(0);
        b.put_u16(1); // frame count
        let mut name = [0u8; 32];
        name[0] = 5;
        name[1..6].copy_from_slice(b"MJPEG");
        b.put_slice(&name);
        b.put_u16(0x0018); // depth
        b.put_i16(-1);
        full(b, b"esds", 0, 0, |b| {
            b.put_u8(0x03); // ES_DescrTag
            b.put_u8(3 + 2 + 13 + 2 + 1);
            b.put_u16(1); // ES_ID
            b.put_u8(0); // flags
            b.put_u8(0x04); // DecoderConfigDescrTag
            b.put_u8(13);
            b.put_u8(0x6C); // objectTypeIndication: Visual ISO/IEC 10918-1 (JPEG)
            b.put_u8((0x04 << 2) | 1); // streamType visual, upStream 0, reserved 1
            b.put_uint(1 << 20, 3); // bufferSizeDB
            b.put_u32(0); // maxBitrate
            b.put_u32(0); // avgBitrate
            b.put_u8(0x06); // SLConfigDescrTag
            b.put_u8(1);
            b.put_u8(0x02); // predefined: MP4
        });
    });
}

/// The `moof` and `mdat` header of one frame's fragment; the JPEG follows it. Written in place
/// (no allocation): every box has a fixed size.
pub fn fragment_header(f: &FragmentInfo) -> [u8; FRAGMENT_HEADER_LEN] {
    let mut out = [0u8; FRAGMENT_HEADER_LEN];
    let mut b: &mut [u8] = &mut out;
    let head = |b: &mut &mut [u8], size: u32, kind: &[u8; 4]| {
        b.put_u32(size);
        b.put_slice(kind);
    };
    head(&mut b, MOOF_LEN as u32, b"moof");
    head(&mut b, 16, b"mfhd");
    b.put_u32(0); // version, flags
    b.put_u32(f.sequence);
    head(&mut b, 8 + 16 + 20 + 28, b"traf");
    head(&mut b, 16, b"tfhd");
    b.put_u32(0x02_0000); // default-base-is-moof
    b.put_u32(1); // track id
    head(&mut b, 20, b"tfdt");
    b.put_u32(1 << 24); // version 1
    b.put_u64(f.capture_us.max(0) as u64);
    head(&mut b, 28, b"trun");
    b.put_u32(0x0301); // data-offset, sample-duration, sample-size present
    b.put_u32(1); // sample count
    b.put_i32(FRAGMENT_HEADER_LEN as i32);
    b.put_u32(f.duration_us);
    b.put_u32(f.size);
    head(&mut b, 8 + 16 + 4 + 24, b"uuid");
    b.put_slice(&FRAME_UUID);
    b.put_u32(0); // version
    b.put_u64(f.frame_id);
    b.put_i64(f.capture_us);
    b.put_i64(f.receive_us);
    head(&mut b, 8 + f.size, b"mdat");
    debug_assert!(b.is_empty());
    out
}

/// Reads back a fragment header written by [`fragment_header`]; `None` if it is not one.
pub fn parse_fragment_header(h: &[u8]) -> Option<FragmentInfo> {
    let h = h.get(..FRAGMENT_HEADER_LEN)?;
    let u32_at = |o: usize| u32::from_be_bytes([h[o], h[o + 1], h[o + 2], h[o + 3]]);
    let u64_at = |o: usize| (u64::from(u32_at(o)) << 32) | u64::from(u32_at(o + 4));
    if u32_at(0) as usize != MOOF_LEN
        || &h[4..8] != b"moof"
        || &h[12..16] != b"mfhd"
        || &h[100..104] != b"uuid"
        || h[104..120] != FRAME_UUID
        || &h[MOOF_LEN + 4..MOOF_LEN + 8] != b"mdat"
    {
        return None;
    }
    let mdat_len = u32_at(MOOF_LEN);
    let size = u32_at(92);
    if mdat_len.checked_sub(8) != Some(size) {
        return None;
    }
    Some(FragmentInfo {
        sequence: u32_at(20),
        frame_id: u64_at(124),
        capture_us: u64_at(132) as i64,
        receive_us: u64_at(140) as i64,
        duration_us: u32_at(88),
        size,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fragment_round_trip() {
        let f = FragmentInfo {
            sequence: 7,
            frame_id: 0x0102_0304_0506_0708,
            capture_us: 1_764_448_200_123_456,
            receive_us: 1_764_448_200_133_456,
            duration_us: 33_333,
            size: 18_575,
        };
        let h = fragment_header(&f);
        assert_eq!(&h[4..8], b"moof");
        assert_eq!(parse_fragment_header(&h), Some(f));
        let mut bad = h;
        bad[150] ^= 1;
        assert_eq!(parse_fragment_header(&bad), None);
    }

    /// The fixed-layout writer matches the generic box builder.
    #[test]
    fn fragment_header_matches_the_box_builder() {
        let f = FragmentInfo {
            sequence: 3,
            frame_id: 42,
            capture_us: 1_764_448_200_123_456,
            receive_us: 1_764_448_200_133_456,
            duration_us: 33_333,
            size: 1234,
        };
        let mut b = BytesMut::new();
        boxed(&mut b, b"moof", |b| {
            full(b, b"mfhd", 0, 0, |b| b.put_u32(f.sequence));
            boxed(b, b"traf", |b| {
                full(b, b"tfhd", 0, 0x02_0000, |b| b.put_u32(1));
                full(b, b"tfdt", 1, 0, |b| b.put_u64(f.capture_us as u64));
                full(b, b"trun", 0, 0x0301, |b| {
                    b.put_u32(1);
                    b.put_i32(FRAGMENT_HEADER_LEN as i32);
                    b.put_u32(f.duration_us);
                    b.put_u32(f.size);
                });
            });
            boxed(b, b"uuid", |b| {
                b.put_slice(&FRAME_UUID);
                b.put_u32(0);
                b.put_u64(f.frame_id);
                b.put_i64(f.capture_us);
                b.put_i64(f.receive_us);
            });
        });
        b.put_u32(8 + f.size);
        b.put_slice(b"mdat");
        assert_eq!(&fragment_header(&f)[..], &b[..]);
    }

    #[test]
    fn init_has_jpeg_esds() {
        let init = init_segment(640, 480);
        let pos = init.windows(4).position(|w| w == b"esds").expect("esds");
        assert_eq!(init[pos + 4 + 4 + 2 + 3 + 2], 0x6C);
    }
}
