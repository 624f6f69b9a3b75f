//! A deliberately small HTTP/1.1 client over a raw `TcpStream`, so the tests see the exact
//! bytes the emulator writes (status line, header names, chunk layout, multipart framing).
#![allow(dead_code)]

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use mock_camera::{MockCamera, MockConfig, STREAM_DELIMITER};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// Small, fast settings for tests: QVGA, short loop, 50 fps.
pub fn test_config() -> MockConfig {
    MockConfig {
        width: 320,
        height: 240,
        fps: 50.0,
        loop_frames: 4,
        ..MockConfig::default()
    }
}

pub async fn start(config: MockConfig) -> MockCamera {
    MockCamera::start("127.0.0.1:0".parse().unwrap(), config)
        .await
        .unwrap()
}

/// Anything taking longer than this in a test is a hang.
pub const PATIENCE: Duration = Duration::from_secs(20);

/// A response whose head has been read; the body is read on demand.
pub struct RawResponse {
    pub status: u16,
    /// The head exactly as received, status line included, up to the blank line.
    pub head: String,
    pub headers: Vec<(String, String)>,
    reader: BufReader<TcpStream>,
}

impl RawResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The next chunk of a chunked body; `None` at the terminating zero chunk.
    pub async fn chunk(&mut self) -> io::Result<Option<Vec<u8>>> {
        let mut line = String::new();
        if self.reader.read_line(&mut line).await? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        let size = usize::from_str_radix(line.trim_end(), 16).map_err(|_| {
            io::Error::new(io::ErrorKind::InvalidData, format!("chunk size {line:?}"))
        })?;
        let mut data = vec![0; size + 2];
        self.reader.read_exact(&mut data).await?;
        if !data.ends_with(b"\r\n") {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "chunk not followed by CRLF",
            ));
        }
        data.truncate(size);
        Ok((size > 0).then_some(data))
    }

    /// The whole body (Content-Length or chunked).
    pub async fn body(&mut self) -> Vec<u8> {
        if let Some(len) = self.header("content-length") {
            let mut body = vec![0; len.parse().unwrap()];
            self.reader.read_exact(&mut body).await.unwrap();
            body
        } else {
            let mut body = Vec::new();
            while let Some(chunk) = self.chunk().await.unwrap() {
                body.extend(chunk);
            }
            body
        }
    }

    /// Whether the server closed the connection (reads EOF or an error).
    pub async fn closed(&mut self) -> bool {
        let mut byte = [0u8; 1];
        !matches!(self.reader.read(&mut byte).await, Ok(n) if n > 0)
    }
}

/// Sends `GET path` and reads the response head.
pub async fn get(addr: SocketAddr, path: &str) -> RawResponse {
    let mut socket = TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n");
    socket.write_all(request.as_bytes()).await.unwrap();
    let mut reader = BufReader::new(socket);
    let mut head = String::new();
    loop {
        let mut line = String::new();
        let n = tokio::time::timeout(PATIENCE, reader.read_line(&mut line))
            .await
            .unwrap()
            .unwrap();
        assert!(
            n > 0,
            "connection closed inside the response head: {head:?}"
        );
        head.push_str(&line);
        if line == "\r\n" {
            break;
        }
    }
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap();
    let status = status_line.split(' ').nth(1).unwrap().parse().unwrap();
    let headers = lines
        .filter(|l| !l.is_empty())
        .map(|l| {
            let (n, v) = l.split_once(':').unwrap();
            (n.to_owned(), v.trim().to_owned())
        })
        .collect();
    RawResponse {
        status,
        head,
        headers,
        reader,
    }
}

/// One multipart part.
#[derive(Debug)]
pub struct Part {
    /// The part's header block exactly as sent, up to and including the blank line.
    pub head: String,
    pub content_length: usize,
    pub timestamp: String,
    pub body: Vec<u8>,
}

/// Reads the firmware's multipart framing by hand: delimiter, headers, `Content-Length` bytes.
pub struct MultipartReader {
    pub response: RawResponse,
    buf: Vec<u8>,
    ended: bool,
}

impl MultipartReader {
    pub fn new(response: RawResponse) -> Self {
        MultipartReader {
            response,
            buf: Vec::new(),
            ended: false,
        }
    }

    async fn fill(&mut self, want: usize) -> io::Result<bool> {
        while self.buf.len() < want {
            if self.ended {
                return Ok(false);
            }
            match self.response.chunk().await? {
                Some(chunk) => self.buf.extend(chunk),
                None => self.ended = true,
            }
        }
        Ok(true)
    }

    /// The next part; `Ok(None)` when the body ended cleanly between parts.
    pub async fn next_part(&mut self) -> io::Result<Option<Part>> {
        tokio::time::timeout(PATIENCE, self.read_part()).await?
    }

    async fn read_part(&mut self) -> io::Result<Option<Part>> {
        if !self.fill(1).await? {
            return Ok(None);
        }
        let bad = |what: String| io::Error::new(io::ErrorKind::InvalidData, what);
        if !self.fill(STREAM_DELIMITER.len()).await? || !self.buf.starts_with(STREAM_DELIMITER) {
            let start = String::from_utf8_lossy(&self.buf[..self.buf.len().min(60)]).into_owned();
            return Err(bad(format!(
                "part does not start with the delimiter: {start:?}"
            )));
        }
        self.buf.drain(..STREAM_DELIMITER.len());
        let head_len = loop {
            if let Some(i) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            let want = self.buf.len() + 1;
            if want > 1024 || !self.fill(want).await? {
                return Err(bad("no end of part headers".into()));
            }
        };
        let head = String::from_utf8(self.buf.drain(..head_len).collect())
            .map_err(|_| bad("part headers are not UTF-8".into()))?;
        let field = |name: &str| {
            head.split("\r\n")
                .find_map(|l| l.strip_prefix(name).and_then(|v| v.strip_prefix(": ")))
                .map(str::to_owned)
        };
        let content_length: usize = field("Content-Length")
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| bad(format!("no Content-Length in {head:?}")))?;
        let timestamp = field("X-Timestamp").ok_or_else(|| bad("no X-Timestamp".into()))?;
        if !self.fill(content_length).await? {
            return Err(bad("body ended inside a part".into()));
        }
        let body = self.buf.drain(..content_length).collect();
        Ok(Some(Part {
            head,
            content_length,
            timestamp,
            body,
        }))
    }
}

/// Opens `/stream` and checks that it was accepted.
pub async fn open_stream(camera: &MockCamera) -> MultipartReader {
    let response = get(camera.addr(), "/stream").await;
    assert_eq!(response.status, 200, "{}", response.head);
    MultipartReader::new(response)
}

/// Width and height from a JPEG's SOF0/SOF1/SOF2 segment, read by hand.
pub fn sof_dimensions(jpeg: &[u8]) -> Option<(u32, u32)> {
    let mut i = 2;
    while i + 9 < jpeg.len() {
        if jpeg[i] != 0xFF {
            return None;
        }
        let marker = jpeg[i + 1];
        let len = usize::from(u16::from_be_bytes([jpeg[i + 2], jpeg[i + 3]]));
        if matches!(marker, 0xC0..=0xC2) {
            let h = u16::from_be_bytes([jpeg[i + 5], jpeg[i + 6]]);
            let w = u16::from_be_bytes([jpeg[i + 7], jpeg[i + 8]]);
            return Some((u32::from(w), u32::from(h)));
        }
        i += 2 + len;
    }
    None
}

/// Seconds since the UNIX epoch now, as a float.
pub fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}
