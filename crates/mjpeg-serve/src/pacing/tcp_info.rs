//! The one `getsockopt(TCP_INFO)` call (Linux), reduced to what pacing needs.

use std::io;
use std::mem::{size_of, MaybeUninit};
use std::os::fd::RawFd;

use linux_raw_sys::net::tcp_info;

use super::SocketQueues;

/// Reads the queues of the TCP socket `fd`.
///
/// Fails on a socket that is not TCP, and with `Unsupported` on a kernel older than 5.18
/// (whose `tcp_info` has no `tcpi_snd_wnd`).
pub fn socket_queues(fd: RawFd) -> io::Result<SocketQueues> {
    let mut info = MaybeUninit::<tcp_info>::zeroed();
    let mut len = libc::socklen_t::try_from(size_of::<tcp_info>()).map_err(io::Error::other)?;
    // SAFETY: `info` is a writable buffer of `len` bytes that outlives the call; the kernel
    // writes at most `len` bytes and stores the length it wrote in `len`. A stale `fd` (the
    // connection closed concurrently) makes the call fail or describe another socket; neither
    // touches memory outside `info`.
    #[allow(unsafe_code)]
    let rc = unsafe {
        libc::getsockopt(
            fd,
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            info.as_mut_ptr().cast(),
            &mut len,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    let needed = std::mem::offset_of!(tcp_info, tcpi_snd_wnd) + size_of::<u32>();
    if usize::try_from(len).unwrap_or(0) < needed {
        return Err(io::ErrorKind::Unsupported.into());
    }
    // SAFETY: zero-initialised above and every field is a plain integer, so any bytes the
    // kernel left unwritten are valid zeros.
    #[allow(unsafe_code)]
    let info = unsafe { info.assume_init() };
    let in_flight = u64::from(info.tcpi_unacked) * u64::from(info.tcpi_snd_mss);
    let path_holds = info
        .tcpi_delivery_rate
        .saturating_mul(u64::from(info.tcpi_min_rtt))
        / 1_000_000;
    Ok(SocketQueues {
        notsent: u64::from(info.tcpi_notsent_bytes),
        peer_window: u64::from(info.tcpi_snd_wnd),
        network_queue: in_flight.saturating_sub(path_holds + 2 * u64::from(info.tcpi_snd_mss)),
        delivery_rate: info.tcpi_delivery_rate,
        window_limited_us: info.tcpi_rwnd_limited,
        bytes_acked: info.tcpi_bytes_acked,
    })
}

/// Turns on TCP keepalive probes on `fd` after one idle second, every second: each probe
/// makes the peer answer with its window as it is now. (A Linux receiver announces a window
/// that grew only when it doubles, so a small frame its application read would not show
/// until the server sends again.) Ten unanswered probes close the connection.
pub fn keep_window_fresh(fd: RawFd) -> io::Result<()> {
    for (level, name, value) in [
        (libc::SOL_SOCKET, libc::SO_KEEPALIVE, 1),
        (libc::IPPROTO_TCP, libc::TCP_KEEPIDLE, 1),
        (libc::IPPROTO_TCP, libc::TCP_KEEPINTVL, 1),
        (libc::IPPROTO_TCP, libc::TCP_KEEPCNT, 10),
    ] {
        let value: libc::c_int = value;
        let len = libc::socklen_t::try_from(size_of::<libc::c_int>()).map_err(io::Error::other)?;
        // SAFETY: `value` is a readable `c_int` of `len` bytes that outlives the call; the
        // kernel only reads it. A stale `fd` makes the call fail or set another socket's
        // option, touching no memory of ours.
        #[allow(unsafe_code)]
        let rc = unsafe { libc::setsockopt(fd, level, name, (&raw const value).cast(), len) };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};
    use std::os::fd::AsRawFd;

    #[test]
    fn an_unread_peer_closes_its_window_and_the_rest_waits_unsent() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let peer =
            socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        peer.set_recv_buffer_size(32 * 1024).unwrap();
        peer.connect(&listener.local_addr().unwrap().into())
            .unwrap();
        let mut peer: TcpStream = peer.into();
        let (mut relay, _) = listener.accept().unwrap();
        let open = socket_queues(relay.as_raw_fd()).unwrap();
        assert!(open.peer_window > 0);
        assert_eq!(open.notsent, 0);

        relay.set_nonblocking(true).unwrap();
        let chunk = vec![0u8; 64 * 1024];
        let mut written = 0;
        for _ in 0..64 {
            match relay.write(&chunk) {
                Ok(n) => written += n,
                Err(_) => break,
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
        let full = socket_queues(relay.as_raw_fd()).unwrap();
        assert!(
            full.peer_window < open.peer_window,
            "{open:?} then {full:?}"
        );
        assert!(full.notsent > 0, "{full:?} after {written} bytes");

        let mut sink = vec![0u8; 1 << 20];
        let _ = peer.read(&mut sink).unwrap();
        let err = socket_queues(-1).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EBADF));
    }
}
