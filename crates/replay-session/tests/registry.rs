//! The session registry: ids, limits, viewers and idle end, with paused Tokio time.

mod support;

use std::time::Duration;

use replay_session::{ErrorKind, MemoryTrack, RegistryConfig, SessionConfig, SessionId, Sessions};
use support::{LogSink, T0};
use tokio::time::sleep;

fn registry(max_sessions: usize) -> Sessions<MemoryTrack<u64>> {
    Sessions::new(RegistryConfig {
        max_sessions,
        ..RegistryConfig::default()
    })
}

fn track() -> MemoryTrack<u64> {
    MemoryTrack::regular(0, T0, 100_000, 6000) // 10 minutes at 10 fps
}

#[test]
fn ids_are_random_hex_and_parse_back() {
    let a = SessionId::random();
    let b = SessionId::random();
    assert_ne!(a, b);
    let text = a.to_string();
    assert_eq!(text.len(), 32);
    assert!(text
        .bytes()
        .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
    assert_eq!(SessionId::parse(&text), Some(a));
    assert_eq!(SessionId::parse(&text.to_uppercase()), Some(a));
    for bad in [
        "",
        "xyz",
        &text[..31],
        &format!("{text}0"),
        "g0000000000000000000000000000000",
        "+f000000000000000000000000000000",
    ] {
        assert_eq!(SessionId::parse(bad), None, "{bad:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn max_sessions_is_a_typed_error_and_removing_frees_a_place() {
    let sessions = registry(2);
    let (a, _) = sessions
        .create(
            vec![track()],
            T0,
            1.0,
            SessionConfig::default(),
            LogSink::default(),
        )
        .expect("first");
    let (b, _) = sessions
        .create(
            vec![track()],
            T0,
            1.0,
            SessionConfig::default(),
            LogSink::default(),
        )
        .expect("second");
    assert_ne!(a, b);
    let err = sessions
        .create(
            vec![track()],
            T0,
            1.0,
            SessionConfig::default(),
            LogSink::default(),
        )
        .err()
        .expect("third refused");
    assert_eq!(err.kind(), ErrorKind::Full);
    assert_eq!(sessions.len(), 2);
    let handle = sessions.get(a).expect("a");
    assert!(sessions.remove(a));
    assert!(!sessions.remove(a));
    assert!(handle.is_stopped());
    assert!(sessions.get(a).is_none());
    sessions
        .create(
            vec![track()],
            T0,
            1.0,
            SessionConfig::default(),
            LogSink::default(),
        )
        .expect("a place again");
    // A refused start (bad input) registers nothing.
    let sessions = registry(4);
    let err = sessions
        .create(
            vec![track()],
            T0 - 1,
            1.0,
            SessionConfig::default(),
            LogSink::default(),
        )
        .err()
        .expect("outside");
    assert_eq!(err.kind(), ErrorKind::OutsideRecordings);
    assert!(sessions.is_empty());
}

#[tokio::test(start_paused = true)]
async fn an_unwatched_session_ends_after_the_idle_time() {
    let sessions = registry(4);
    let sink = LogSink::default();
    let (id, handle) = sessions
        .create(
            vec![track()],
            T0,
            1.0,
            SessionConfig::default(),
            sink.clone(),
        )
        .expect("create");
    sleep(Duration::from_secs(59)).await;
    assert!(sessions.get(id).is_some());
    sleep(Duration::from_secs(2)).await;
    assert!(
        sessions.get(id).is_none(),
        "ended after 60 s without viewers"
    );
    assert!(handle.is_stopped());
    let n = sink.len();
    sleep(Duration::from_secs(1)).await;
    assert_eq!(sink.len(), n, "nothing emitted after the end");
}

#[tokio::test(start_paused = true)]
async fn viewers_keep_a_session_alive_and_the_last_leaving_arms_the_timer() {
    let sessions = registry(4);
    let (id, _) = sessions
        .create(
            vec![track()],
            T0,
            1.0,
            SessionConfig::default(),
            LogSink::default(),
        )
        .expect("create");
    sleep(Duration::from_secs(30)).await;
    let v1 = sessions.viewer_joined(id).expect("known id");
    let v2 = sessions.viewer_joined(id).expect("known id");
    assert_eq!(sessions.viewers(id), Some(2));
    sleep(Duration::from_secs(300)).await;
    assert!(sessions.get(id).is_some(), "watched sessions stay");
    drop(v1);
    sleep(Duration::from_secs(120)).await;
    assert!(sessions.get(id).is_some(), "one viewer left");
    drop(v2);
    assert_eq!(sessions.viewers(id), Some(0));
    sleep(Duration::from_secs(40)).await;
    // A viewer that comes and goes restarts the idle time.
    drop(sessions.viewer_joined(id).expect("known id"));
    sleep(Duration::from_secs(40)).await;
    assert!(
        sessions.get(id).is_some(),
        "40 s since the last viewer left"
    );
    sleep(Duration::from_secs(21)).await;
    assert!(
        sessions.get(id).is_none(),
        "60 s since the last viewer left"
    );
    assert!(sessions.viewer_joined(id).is_none(), "unknown id");
    assert_eq!(sessions.viewers(id), None);
}
