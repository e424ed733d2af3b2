//! ONNX-ML export: hand-written onnx.proto messages, the shared graph, and one writer per
//! trainer.

mod graph;
pub(crate) mod linear;
mod proto;
pub(crate) mod trees;
