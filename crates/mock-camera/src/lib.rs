//! A byte-faithful ESP32-CAM emulator (stream, capture, status, control) for tests and demos.
