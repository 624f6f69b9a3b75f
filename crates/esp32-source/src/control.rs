//! [`Esp32Control`]: read and change an ESP32-CAM's sensor settings over its HTTP API.

use std::time::Duration;

use bytes::Bytes;
use tokio::time::Instant;

use crate::http::{read_body, Connection};
use crate::target::Target;
use crate::{ErrorContext, SourceError};

/// Largest `/status` body accepted (the firmware sends about 1 KB of JSON).
const MAX_STATUS_BODY: usize = 64 * 1024;

/// Largest `/control` answer accepted (the firmware sends an empty body).
const MAX_CONTROL_BODY: usize = 4 * 1024;

/// Client of the ESP32-CAM firmware's control API (`/status`, `/control?var=&val=`), as in
/// arduino-esp32's `CameraWebServer`. Each call opens one short connection.
#[derive(Debug, Clone)]
pub struct Esp32Control {
    /// Scheme and host of the camera; its path is the prefix of `/status` and `/control`.
    base: Target,
    /// Limit for each whole call (connect, request, body).
    timeout: Duration,
}

impl Esp32Control {
    /// A client for the camera at `base_url`, e.g. `http://192.168.1.40` (port 80, where the
    /// firmware serves `/status` and `/control`). A path is kept as a prefix.
    pub fn new(base_url: &str) -> Result<Self, SourceError> {
        let mut base = Target::parse(base_url)?;
        let prefix = base.path.split('?').next().unwrap_or_default();
        base.path = prefix.trim_end_matches('/').to_owned();
        Ok(Esp32Control {
            base,
            timeout: Duration::from_secs(5),
        })
    }

    /// The control client for a firmware stream URL: `http://HOST:81/stream` becomes
    /// `http://HOST` (the firmware serves the control API on port 80). Other ports are kept,
    /// for emulators and proxies that serve everything on one port.
    pub fn for_stream_url(stream_url: &str) -> Result<Self, SourceError> {
        let stream = Target::parse(stream_url)?;
        let authority = if stream.port == 81 {
            if stream.host.contains(':') {
                format!("[{}]", stream.host)
            } else {
                stream.host.clone()
            }
        } else {
            stream.authority.clone()
        };
        Esp32Control::new(&format!("http://{authority}"))
    }

    /// Sets the limit for each call (default 5 s).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Reads `/status`: the sensor settings as JSON (`framesize`, `quality`, `brightness`...).
    pub async fn status(&self) -> Result<serde_json::Value, SourceError> {
        let (ctx, body) = self.fetch("/status", MAX_STATUS_BODY).await?;
        serde_json::from_slice(&body).map_err(|e| SourceError::InvalidResponse {
            ctx,
            reason: format!("/status is not JSON: {e}"),
        })
    }

    /// Sets one setting through `/control?var=VAR&val=VAL`, e.g. `set("framesize", 8)` for
    /// VGA or `set("quality", 12)`. The firmware answers 500 for an unknown variable, which
    /// comes back as [`SourceError::Status`].
    pub async fn set(&self, var: &str, val: i64) -> Result<(), SourceError> {
        let valid = !var.is_empty()
            && var.len() <= 64
            && var.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !valid {
            return Err(SourceError::InvalidInput(format!(
                "control variable `{}` must be 1-64 letters, digits or `_`",
                crate::http::shorten(var)
            )));
        }
        self.fetch(&format!("/control?var={var}&val={val}"), MAX_CONTROL_BODY)
            .await?;
        Ok(())
    }

    async fn fetch(&self, path: &str, max: usize) -> Result<(ErrorContext, Bytes), SourceError> {
        let target = self.base.with_path(&format!("{}{path}", self.base.path));
        let ctx = ErrorContext {
            camera: self.base.authority.clone(),
            url: target.url.clone(),
            attempt: 1,
        };
        let deadline = Instant::now() + self.timeout;
        let mut connection = Connection::open(
            &target,
            &ctx,
            deadline,
            self.timeout,
            crate::http::DEFAULT_READ_BUFFER,
        )
        .await?;
        let response = connection
            .get(&target, &ctx, deadline, self.timeout)
            .await?;
        let (_, body) = read_body(response, max, &ctx, deadline, self.timeout).await?;
        Ok((ctx, body))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    #[test]
    fn stream_url_maps_to_port_80() {
        let control = Esp32Control::for_stream_url("http://10.0.0.5:81/stream").unwrap();
        assert_eq!(control.base.authority, "10.0.0.5");
        assert_eq!(control.base.port, 80);
        let control = Esp32Control::for_stream_url("http://127.0.0.1:5069/stream").unwrap();
        assert_eq!(control.base.authority, "127.0.0.1:5069");
    }

    #[tokio::test]
    async fn rejects_variable_names_that_would_change_the_query() {
        let control = Esp32Control::new("http://127.0.0.1:9").unwrap();
        for var in ["", "a&b", "x=1", "a b", "ü"] {
            let err = control.set(var, 1).await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidInput, "{var}");
        }
    }
}
