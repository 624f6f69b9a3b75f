//! The camrelay relay: composes the workspace crates into an HTTP server.
