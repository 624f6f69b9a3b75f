//! The few parts of RFC 6455 a frame server needs: unmasked server frame headers, and a parser
//! for the masked frames clients send.

use bytes::{Buf, Bytes, BytesMut};

use crate::error::Error;

/// A frame's opcode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpCode {
    /// The next fragment of a message.
    Continuation = 0x0,
    /// A UTF-8 text message.
    Text = 0x1,
    /// A binary message.
    Binary = 0x2,
    /// Closing handshake.
    Close = 0x8,
    /// Ping (answered with a pong carrying the same payload).
    Ping = 0x9,
    /// Pong.
    Pong = 0xA,
}

impl OpCode {
    fn from_bits(bits: u8) -> Option<OpCode> {
        Some(match bits {
            0x0 => OpCode::Continuation,
            0x1 => OpCode::Text,
            0x2 => OpCode::Binary,
            0x8 => OpCode::Close,
            0x9 => OpCode::Ping,
            0xA => OpCode::Pong,
            _ => return None,
        })
    }

    fn is_control(self) -> bool {
        (self as u8) & 0x8 != 0
    }
}

/// Close codes the server sends (RFC 6455, 7.4.1).
pub mod close_code {
    /// Normal closure.
    pub const NORMAL: u16 = 1000;
    /// The server is going away (shutdown, ping timeout).
    pub const AWAY: u16 = 1001;
    /// The client broke the protocol (unmasked frame, reserved bits, bad opcode).
    pub const PROTOCOL: u16 = 1002;
    /// The client sent a kind of message the server does not take.
    pub const UNSUPPORTED: u16 = 1003;
    /// The client sent a message larger than the server takes.
    pub const TOO_BIG: u16 = 1009;
}

/// The header of an unmasked server frame with `FIN` set: 2 to 10 bytes.
#[derive(Debug, Clone, Copy)]
pub struct Header {
    bytes: [u8; 10],
    len: u8,
}

impl Header {
    /// The header of a whole message of `payload_len` bytes.
    pub fn new(opcode: OpCode, payload_len: usize) -> Header {
        let mut bytes = [0u8; 10];
        bytes[0] = 0x80 | opcode as u8;
        let len = match payload_len {
            0..=125 => {
                bytes[1] = payload_len as u8;
                2
            }
            126..=0xFFFF => {
                bytes[1] = 126;
                bytes[2..4].copy_from_slice(&(payload_len as u16).to_be_bytes());
                4
            }
            _ => {
                bytes[1] = 127;
                bytes[2..10].copy_from_slice(&(payload_len as u64).to_be_bytes());
                10
            }
        };
        Header { bytes, len }
    }

    /// The header's bytes.
    pub fn as_slice(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

/// A close frame's payload: the code, then the reason (at most 123 bytes of it).
pub fn close_payload(code: u16, reason: &str) -> Vec<u8> {
    let mut payload = code.to_be_bytes().to_vec();
    let mut end = reason.len().min(123);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    payload.extend_from_slice(&reason.as_bytes()[..end]);
    payload
}

/// A frame a client sent, unmasked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientFrame {
    /// Whether this is the last fragment of its message.
    pub fin: bool,
    /// What it is.
    pub opcode: OpCode,
    /// The payload, unmasked.
    pub payload: Bytes,
}

/// Takes one whole frame off the front of `buf`, `None` while it is incomplete. Refuses
/// unmasked frames, reserved bits, unknown opcodes, fragmented or long control frames, and
/// payloads over `max_payload` bytes (before buffering them).
pub fn parse(buf: &mut BytesMut, max_payload: usize) -> Result<Option<ClientFrame>, Error> {
    let [b0, b1, ..] = buf[..] else {
        return Ok(None);
    };
    let protocol = |what: &'static str| Err(Error::Protocol(what));
    if b0 & 0x70 != 0 {
        return protocol("reserved bits set");
    }
    let Some(opcode) = OpCode::from_bits(b0 & 0x0F) else {
        return protocol("unknown opcode");
    };
    let fin = b0 & 0x80 != 0;
    if b1 & 0x80 == 0 {
        return protocol("unmasked client frame");
    }
    let (len, offset) = match b1 & 0x7F {
        126 if buf.len() >= 4 => (u64::from(u16::from_be_bytes([buf[2], buf[3]])), 4),
        127 if buf.len() >= 10 => {
            let mut be = [0u8; 8];
            be.copy_from_slice(&buf[2..10]);
            (u64::from_be_bytes(be), 10)
        }
        126 | 127 => return Ok(None),
        short => (u64::from(short), 2),
    };
    if opcode.is_control() && (!fin || len > 125) {
        return protocol("fragmented or long control frame");
    }
    if len > max_payload as u64 {
        return Err(Error::TooBig(len));
    }
    let len = len as usize;
    if buf.len() < offset + 4 + len {
        buf.reserve(offset + 4 + len - buf.len());
        return Ok(None);
    }
    let mut mask = [0u8; 4];
    mask.copy_from_slice(&buf[offset..offset + 4]);
    buf.advance(offset + 4);
    let mut payload = buf.split_to(len);
    for (i, byte) in payload.iter_mut().enumerate() {
        *byte ^= mask[i % 4];
    }
    Ok(Some(ClientFrame {
        fin,
        opcode,
        payload: payload.freeze(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn masked(first: u8, payload: &[u8]) -> BytesMut {
        let mask = [0x37, 0xFA, 0x21, 0x3D];
        let mut frame = BytesMut::from(&[first][..]);
        match payload.len() {
            n @ 0..=125 => frame.extend_from_slice(&[0x80 | n as u8]),
            n => {
                frame.extend_from_slice(&[0x80 | 126]);
                frame.extend_from_slice(&(n as u16).to_be_bytes());
            }
        }
        frame.extend_from_slice(&mask);
        frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        frame
    }

    #[test]
    fn headers_use_the_shortest_length_form() {
        assert_eq!(Header::new(OpCode::Text, 5).as_slice(), [0x81, 5]);
        assert_eq!(
            Header::new(OpCode::Binary, 300).as_slice(),
            [0x82, 126, 0x01, 0x2C]
        );
        assert_eq!(
            Header::new(OpCode::Binary, 70_000).as_slice(),
            [0x82, 127, 0, 0, 0, 0, 0, 0x01, 0x11, 0x70]
        );
        assert_eq!(Header::new(OpCode::Close, 2).as_slice(), [0x88, 2]);
    }

    #[test]
    fn a_masked_frame_is_parsed_once_whole() {
        let whole = masked(0x81, b"Hello");
        let mut buf = BytesMut::from(&whole[..4]);
        assert_eq!(parse(&mut buf, 64).expect("valid so far"), None);
        buf.extend_from_slice(&whole[4..]);
        buf.extend_from_slice(&masked(0x89, b"")); // a ping right behind it
        let frame = parse(&mut buf, 64).expect("valid").expect("whole");
        assert_eq!((frame.fin, frame.opcode), (true, OpCode::Text));
        assert_eq!(&frame.payload[..], b"Hello");
        let ping = parse(&mut buf, 64).expect("valid").expect("whole");
        assert_eq!(ping.opcode, OpCode::Ping);
        assert!(buf.is_empty());
    }

    #[test]
    fn a_medium_frame_uses_the_16_bit_length() {
        let payload = vec![7u8; 300];
        let mut buf = masked(0x82, &payload);
        let frame = parse(&mut buf, 1024).expect("valid").expect("whole");
        assert_eq!(&frame.payload[..], &payload[..]);
    }

    #[test]
    fn garbage_unmasked_and_oversized_frames_are_refused() {
        let mut unmasked = BytesMut::from(&[0x81, 0x01, b'x'][..]);
        assert!(matches!(parse(&mut unmasked, 64), Err(Error::Protocol(_))));
        let mut reserved = masked(0xC1, b"x");
        assert!(matches!(parse(&mut reserved, 64), Err(Error::Protocol(_))));
        let mut opcode = masked(0x83, b"x");
        assert!(matches!(parse(&mut opcode, 64), Err(Error::Protocol(_))));
        let mut fragmented_ping = masked(0x09, b"x");
        assert!(matches!(
            parse(&mut fragmented_ping, 64),
            Err(Error::Protocol(_))
        ));
        // Refused from its header alone: the payload is never buffered.
        let mut big = BytesMut::from(&[0x81, 0x80 | 127, 0, 0, 0, 1, 0, 0, 0, 0][..]);
        assert!(matches!(parse(&mut big, 4096), Err(Error::TooBig(_))));
    }

    #[test]
    fn close_reasons_are_cut_to_fit_a_control_frame() {
        let payload = close_payload(close_code::AWAY, &"é".repeat(100));
        assert!(payload.len() <= 125);
        assert_eq!(&payload[..2], &1001u16.to_be_bytes());
        assert!(std::str::from_utf8(&payload[2..]).is_ok());
    }
}
