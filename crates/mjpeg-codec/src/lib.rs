//! Streaming MJPEG (multipart/x-mixed-replace) parser and writer that survives real cameras and hostile bytes.
