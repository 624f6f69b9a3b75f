//! Resilient camera source adapter: ESP32-CAM and any MJPEG stream or snapshot URL, with reconnects.
