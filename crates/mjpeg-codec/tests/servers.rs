//! One test per real server or camera firmware: captures from `testdata/` and synthetic
//! streams written byte for byte the way each server writes them.
#![allow(clippy::unwrap_used)]

mod support;

use bytes::Bytes;
use mjpeg_codec::{jpeg, DecoderConfig, MjpegDecoder, Part, Timestamp};
use support::*;

/// Checks the three parts of a capture: complete JPEGs of the size the README states, body
/// `Content-Length` bytes less `padding` (VLC counts a CRLF after the EOI), indexes 0..3.
fn check_capture(parts: &[Part], dims: (u16, u16), padding: usize) {
    assert_eq!(parts.len(), 3);
    for (i, part) in parts.iter().enumerate() {
        assert_eq!(part.index(), i as u64);
        assert!(jpeg::is_complete(part.body()), "part {i}");
        assert_eq!(jpeg::dimensions(part.body()), Some(dims), "part {i}");
        assert_eq!(
            part.headers().content_length(),
            Some(part.body().len() + padding),
            "part {i}"
        );
    }
}

fn decode_capture(file: &str) -> (HttpCapture, MjpegDecoder) {
    let capture = HttpCapture::parse(&testdata(file));
    let content_type = capture.header("content-type").unwrap().to_owned();
    let decoder = MjpegDecoder::from_content_type(&content_type, DecoderConfig::default());
    (capture, decoder)
}

#[test]
fn vlc_3_0_mpjpeg() {
    let (capture, decoder) = decode_capture("vlc-3.0-mpjpeg.bin");
    assert_eq!(
        capture.header("content-type"),
        Some("application/octet-stream")
    );
    assert!(
        capture.body.starts_with(b"\r\n--"),
        "body starts with a blank line"
    );
    let parts: Vec<Part> = decode_all(decoder, &capture.body)
        .into_iter()
        .map(Result::unwrap)
        .collect();
    check_capture(&parts, (640, 480), 2);
    assert_eq!(parts[0].headers().get("content-type"), Some("image/jpeg"));
    assert_eq!(
        parts[1].body().len(),
        18516,
        "the CRLF counted in Content-Length is trimmed"
    );
}

#[test]
fn vlc_boundary_is_learned() {
    let (capture, mut decoder) = decode_capture("vlc-3.0-mpjpeg.bin");
    assert_eq!(decoder.boundary(), None);
    let mut buf = bytes::BytesMut::from(&capture.body[..]);
    let first = tokio_util::codec::Decoder::decode(&mut decoder, &mut buf)
        .unwrap()
        .unwrap();
    assert_eq!(decoder.boundary(), Some("7b3cc56e5f51db803f790dad720ed50a"));
    // The blank line and the delimiter line come before the part's headers.
    assert_eq!(first.offset(), 2 + 34 + 2);
}

#[test]
fn motion_4_5_stream() {
    let (capture, decoder) = decode_capture("motion-4.5-stream.bin");
    assert_eq!(decoder.boundary(), Some("BoundaryString"));
    let parts: Vec<Part> = decode_all(decoder, &capture.body)
        .into_iter()
        .map(Result::unwrap)
        .collect();
    check_capture(&parts, (640, 480), 0);
    for part in &parts {
        assert_eq!(
            part.body().len(),
            42016,
            "Content-Length with several spaces"
        );
        assert_eq!(part.headers().get("CONTENT-TYPE"), Some("image/jpeg"));
        assert!(memchr::memmem::find(&part.body()[..64], b"Exif").is_some());
    }
}

#[test]
fn ffmpeg_5_1_mpjpeg() {
    let (capture, decoder) = decode_capture("ffmpeg-5.1-mpjpeg.bin");
    let parts: Vec<Part> = decode_all(decoder, &capture.body)
        .into_iter()
        .map(Result::unwrap)
        .collect();
    check_capture(&parts, (320, 240), 0);
    assert_eq!(parts[0].headers().get("Content-Length"), Some("9059"));
    assert_eq!(
        parts.iter().map(|p| p.body().len()).collect::<Vec<_>>(),
        [9059, 9080, 9072]
    );
}

/// The `esp32-camera` CameraWebServer example (`app_httpd.cpp`): the response is chunked
/// (hyper removes that); each part is `\r\n--BOUNDARY\r\n`, then the part header with
/// `Content-Length` and `X-Timestamp: %d.%06d`, then the JPEG.
#[test]
fn esp32_cam_firmware() {
    const BOUNDARY: &str = "123456789000000000000987654321";
    let frames = [
        photos()[0].clone(),
        photos()[1].clone(),
        photos()[0].clone(),
    ];
    let stream = build(
        &frames,
        "\r\n",
        |_| format!("\r\n--{BOUNDARY}\r\n"),
        |i, jpeg| {
            vec![
                "Content-Type: image/jpeg".into(),
                format!("Content-Length: {}", jpeg.len()),
                format!("X-Timestamp: {}.{:06}", 1_732_500_000 + i, 4200 * i),
            ]
        },
    );
    let content_type = format!("multipart/x-mixed-replace;boundary={BOUNDARY}");
    let decoder = MjpegDecoder::from_content_type(&content_type, DecoderConfig::default());
    let parts: Vec<Part> = decode_all(decoder, &stream)
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(parts.len(), 3);
    for (i, part) in parts.iter().enumerate() {
        assert_eq!(part.body(), &frames[i]);
        assert_eq!(
            part.timestamp(),
            Some(Timestamp {
                secs: 1_732_500_000 + i as u64,
                micros: 4200 * i as u32
            })
        );
    }
    assert_eq!(
        jpeg::dimensions(parts[0].body()),
        jpeg::dimensions(&frames[0])
    );
}

/// mjpg-streamer `output_http`: the delimiter goes out with the response head, then each
/// frame is followed by `\r\n--boundarydonotcross\r\n`.
#[test]
fn mjpg_streamer() {
    let frames = photos();
    let mut stream = b"--boundarydonotcross\r\n".to_vec();
    for (i, jpeg) in frames.iter().enumerate() {
        stream.extend_from_slice(
            format!(
                "Content-Type: image/jpeg\r\nContent-Length: {}\r\nX-Timestamp: {}.{:06}\r\n\r\n",
                jpeg.len(),
                1000 + i,
                999_999
            )
            .as_bytes(),
        );
        stream.extend_from_slice(jpeg);
        stream.extend_from_slice(b"\r\n--boundarydonotcross\r\n");
    }
    let decoder = MjpegDecoder::from_content_type(
        "multipart/x-mixed-replace;boundary=boundarydonotcross",
        DecoderConfig::default(),
    );
    let parts: Vec<Part> = decode_all(decoder, &stream)
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(parts.len(), 2);
    assert_eq!(parts[1].body(), &frames[1]);
    assert_eq!(
        parts[1].timestamp(),
        Some(Timestamp {
            secs: 1001,
            micros: 999_999
        })
    );
}

/// PiKVM ustreamer: delimiter at the start of each part, many `X-UStreamer-*` headers,
/// `X-Timestamp: %.06Lf`, `\r\n` after each JPEG.
#[test]
fn ustreamer() {
    let frames = photos();
    let stream = build(
        &frames,
        "\r\n",
        |i| {
            if i == 0 {
                "--boundarydonotcross\r\n".into()
            } else {
                "\r\n--boundarydonotcross\r\n".into()
            }
        },
        |i, jpeg| {
            vec![
                "Content-Type: image/jpeg".into(),
                format!("Content-Length: {}", jpeg.len()),
                format!("X-Timestamp: 1732500000.{:06}", 250_000 * i),
                "X-UStreamer-Online: true".into(),
                "X-UStreamer-Width: 451".into(),
                "X-UStreamer-Height: 300".into(),
                "X-UStreamer-Client-FPS: 30".into(),
                "X-UStreamer-Grab-Time: 1732500000.000000".into(),
            ]
        },
    );
    let decoder = MjpegDecoder::from_content_type(
        "multipart/x-mixed-replace;boundary=boundarydonotcross",
        DecoderConfig::default(),
    );
    let parts: Vec<Part> = decode_all(decoder, &stream)
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        bodies(parts.iter().cloned().map(Ok).collect()),
        frames.to_vec()
    );
    assert_eq!(parts[1].headers().get("x-ustreamer-online"), Some("true"));
    assert_eq!(parts[1].headers().len(), 8);
    assert_eq!(parts[1].timestamp().map(|t| t.micros), Some(250_000));
}

/// Axis-style header with a quoted boundary that repeats the leading `--`.
#[test]
fn axis_quoted_boundary() {
    let frames = photos();
    let stream = build(
        &frames,
        "\r\n",
        |_| "--myboundary\r\n".into(),
        |_, jpeg| {
            vec![
                "Content-Type: image/jpeg".into(),
                format!("Content-Length: {}", jpeg.len()),
            ]
        },
    );
    let decoder = MjpegDecoder::from_content_type(
        "multipart/x-mixed-replace; boundary=\"--myboundary\"",
        DecoderConfig::default(),
    );
    assert_eq!(decoder.boundary(), Some("myboundary"));
    assert_eq!(bodies(decode_all(decoder, &stream)), frames.to_vec());
}

/// The classic Flask/OpenCV `video_feed`: `--frame\r\nContent-Type: image/jpeg\r\n\r\n` +
/// JPEG + `\r\n`, no `Content-Length`; the last part ends at the end of the stream.
#[test]
fn flask_opencv_without_content_length() {
    let frames = [
        photos()[0].clone(),
        photos()[1].clone(),
        photos()[0].clone(),
    ];
    let mut stream = Vec::new();
    for jpeg in &frames {
        stream.extend_from_slice(b"--frame\r\nContent-Type: image/jpeg\r\n\r\n");
        stream.extend_from_slice(jpeg);
        stream.extend_from_slice(b"\r\n");
    }
    let parts = decode_all(decoder(Some("frame")), &stream);
    assert_eq!(bodies(parts), frames.to_vec());
}

/// A shell-script server (`printf` + `cat`, no CR): LF-only line ends, no `Content-Length`.
#[test]
fn shell_script_lf_only() {
    let frames = photos();
    let stream = build(
        &frames,
        "\n",
        |i| {
            if i == 0 {
                "preamble text\n--shellcam\n".into()
            } else {
                "\n--shellcam\n".into()
            }
        },
        |_, _| vec!["Content-Type: image/jpeg".into()],
    );
    let mut with_close = stream.clone();
    with_close.extend_from_slice(b"\n--shellcam--\nepilogue");
    assert_eq!(
        bodies(decode_all(decoder(Some("shellcam")), &stream)),
        frames.to_vec()
    );
    assert_eq!(
        bodies(decode_all(decoder(Some("shellcam")), &with_close)),
        frames.to_vec()
    );
    // Learned, too.
    assert_eq!(
        bodies(decode_all(decoder(None), &with_close)),
        frames.to_vec()
    );
}

/// Foscam quirks: doubled delimiter lines and header lines without a colon.
#[test]
fn foscam_doubled_delimiters() {
    let frames = photos();
    let stream = build(
        &frames,
        "\r\n",
        |_| "\r\n--ipcamera\r\n--ipcamera\r\n".into(),
        |_, jpeg| {
            vec![
                "Content-Type: image/jpeg".into(),
                "garbage line without colon".into(),
                format!("Content-Length: {}", jpeg.len()),
            ]
        },
    );
    let parts = decode_all(decoder(Some("ipcamera")), &stream);
    let parts: Vec<Part> = parts.into_iter().map(Result::unwrap).collect();
    assert_eq!(parts.len(), 2);
    assert_eq!(parts[0].headers().len(), 2);
    assert_eq!(parts[1].body(), &frames[1]);
}

/// Older ESP32 sketches: no delimiter before the first part, one after each JPEG.
#[test]
fn esp32_fork_without_first_delimiter() {
    let frames = photos();
    let mut stream = Vec::new();
    for jpeg in &frames {
        stream.extend_from_slice(
            format!(
                "Content-Type: image/jpeg\r\nContent-Length: {}\r\n\r\n",
                jpeg.len()
            )
            .as_bytes(),
        );
        stream.extend_from_slice(jpeg);
        stream.extend_from_slice(b"\r\n--frame\r\n");
    }
    assert_eq!(
        bodies(decode_all(decoder(Some("frame")), &stream)),
        frames.to_vec()
    );
}

/// Our own writer, read back (what a camrelay downstream of camrelay sees).
#[test]
fn camrelay_writer() {
    let writer = mjpeg_codec::MultipartWriter::default();
    let frames = photos();
    let mut stream = writer.preamble().to_vec();
    for (i, jpeg) in frames.iter().enumerate() {
        let head = mjpeg_codec::PartHead {
            content_length: jpeg.len(),
            frame_id: Some(i as u64),
            timestamp: Some(Timestamp { secs: 5, micros: 6 }),
            extra: &[("X-Camera", "door")],
        };
        for bytes in writer.part(&head, jpeg) {
            stream.extend_from_slice(&bytes);
        }
    }
    let decoder = MjpegDecoder::from_content_type(writer.content_type(), DecoderConfig::default());
    let parts: Vec<Part> = decode_all(decoder, &stream)
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(parts.len(), 2);
    assert_eq!(parts[1].headers().get("x-camera"), Some("door"));
    assert_eq!(parts[1].headers().get("x-frame-id"), Some("1"));
    assert_eq!(parts[0].body(), &Bytes::clone(&frames[0]));
}
