//! A small filesystem for disk-error tests: a tmpfs mounted on a temporary directory.
//!
//! As root (CI) the test mounts it directly and unmounts it when done. Otherwise it re-runs
//! itself under `unshare -rm` (a user and mount namespace, where it may mount a tmpfs). Only
//! when neither works does the test print why and pass without running its body.

use std::path::{Path, PathBuf};
use std::process::Command;

const CHILD_DIR: &str = "MJPEG_RECORD_SMALL_FS_DIR";
const CHILD_MARK: &str = "small-fs child running in its own mount namespace";

/// `mount ARGS...`; the error message when it fails.
pub fn mount(args: &[&str]) -> Result<(), String> {
    let out = Command::new("mount")
        .args(args)
        .output()
        .map_err(|e| format!("cannot run mount: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "mount {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Unmounts the tmpfs when dropped (also when the test panics).
struct Unmount(PathBuf);

impl Drop for Unmount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Runs `body` with a tmpfs of `size` (`"2m"`) mounted on a fresh directory. `test` is the
/// test's own name (for the `unshare` re-run).
pub fn with_tmpfs(test: &str, size: &str, body: impl FnOnce(&Path)) {
    let opts = format!("size={size},mode=0755");
    if let Ok(dir) = std::env::var(CHILD_DIR) {
        // The re-run under unshare: private mounts, gone when the process exits.
        println!("{CHILD_MARK}");
        let dir = PathBuf::from(dir);
        mount(&["-t", "tmpfs", "-o", &opts, "tmpfs", &dir.to_string_lossy()])
            .expect("mount tmpfs inside the namespace");
        body(&dir);
        return;
    }
    let parent = tempfile::tempdir().expect("tempdir");
    let dir = parent.path().join("small");
    std::fs::create_dir(&dir).expect("mkdir");
    let direct = mount(&["-t", "tmpfs", "-o", &opts, "tmpfs", &dir.to_string_lossy()]);
    match direct {
        Ok(()) => {
            let _unmount = Unmount(dir.clone());
            body(&dir);
        }
        Err(why) => {
            let out = Command::new("unshare")
                .args(["-rm", "--"])
                .arg(std::env::current_exe().expect("exe"))
                .args(["--exact", test, "--nocapture", "--test-threads=1"])
                .env(CHILD_DIR, &dir)
                .output();
            let out = match out {
                Ok(o) => o,
                Err(e) => {
                    eprintln!(
                        "SKIPPED {test}: cannot mount a tmpfs ({why}) and cannot run unshare ({e})"
                    );
                    return;
                }
            };
            let stdout = String::from_utf8_lossy(&out.stdout);
            let stderr = String::from_utf8_lossy(&out.stderr);
            if !stdout.contains(CHILD_MARK) {
                eprintln!(
                    "SKIPPED {test}: cannot mount a tmpfs ({why}), and `unshare -rm` failed too: {}",
                    stderr.trim()
                );
                return;
            }
            assert!(
                out.status.success(),
                "{test} under unshare -rm failed:\n{stdout}\n{stderr}"
            );
        }
    }
}
