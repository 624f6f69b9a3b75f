//! The SIGHUP path: its own test binary (process), since it signals itself.

// libc::kill to send SIGHUP to this test process; nothing else is unsafe.
#![allow(unsafe_code)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{fetch, self_signed, serve, temp_dir, write_pair};
use relay_auth::tls::{spawn_reload_on_sighup, ReloadableTls, TlsFiles};

#[tokio::test]
async fn sighup_reloads_the_certificate() {
    let dir = temp_dir("sighup");
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let first = self_signed();
    write_pair(&cert, &key, &first);
    let tls = Arc::new(ReloadableTls::load(TlsFiles::new(&cert, &key)).expect("load"));
    let addr = serve(tls.clone()).await;
    let reloader = spawn_reload_on_sighup(tls.clone()).expect("signal handler");

    let second = self_signed();
    write_pair(&cert, &key, &second);
    // SAFETY: kill(2) with our own pid and a valid signal number has no memory effects; the
    // SIGHUP handler is installed (spawn_reload_on_sighup returned), so it does not end us.
    let rc = unsafe { libc::kill(libc::getpid(), libc::SIGHUP) };
    assert_eq!(rc, 0, "kill(getpid(), SIGHUP) failed");
    tokio::time::timeout(Duration::from_secs(30), async {
        while tls.generation() < 2 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("no reload after SIGHUP");
    assert_eq!(tls.generation(), 2);
    let seen = fetch(addr, &[&second.2]).await.expect("after SIGHUP");
    assert_eq!(seen.leaf, second.2);
    reloader.abort();
    let _ = std::fs::remove_dir_all(&dir);
}
