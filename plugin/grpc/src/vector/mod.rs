//! stub
pub mod wire;
