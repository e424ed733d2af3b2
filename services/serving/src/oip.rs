//! The Open Inference Protocol (KServe V2) REST wire format, transport-neutral: an infer
//! request's body (JSON, or JSON followed by binary tensor data) decoded into runtime tensors, a
//! response encoded back, and the metadata and health bodies. The HTTP handlers pass in the body
//! bytes and the `Inference-Header-Content-Length` header's value, and send back what comes out
//! with the headers [`Encoded`] calls for.
//!
//! It speaks what `tritonclient.http` and KServe's `InferenceRESTClient` send by default:
//! tritonclient sends binary inputs and asks for binary outputs, KServe sends JSON (nested data,
//! an extra `model_name`) or binary inputs and wants JSON outputs. Every malformed request is an
//! [`OipError`] naming the input or output at fault, never a panic; sizes are checked before
//! anything is allocated for them, and [`Limits`] bounds what a request may ask for.

mod binary;
mod decode;
mod encode;
mod json_data;
mod metadata;

#[cfg(test)]
mod cost;
#[cfg(test)]
mod fuzz;

use cairn_runtime::Tensor;

pub(crate) use decode::decode;
pub(crate) use encode::encode;
pub(crate) use metadata::{LIVE, READY, error_body, model_metadata, model_ready, server_metadata};

/// What one request may ask the server to hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Limits {
    /// Elements of all the inputs together: a request of a few bytes can declare a shape of
    /// billions of elements, and this is checked before anything is allocated.
    pub(crate) max_elements: usize,
}

impl Default for Limits {
    /// 16 Mi elements: 64 MiB of FP32.
    fn default() -> Self {
        Self { max_elements: 16 << 20 }
    }
}

/// A decoded infer request.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct InferRequest {
    /// The client's request id, echoed in the response.
    pub(crate) id: Option<String>,
    /// The inputs in request order, as [`cairn_runtime::Model::run`] takes them; names are unique.
    pub(crate) inputs: Vec<(String, Tensor)>,
    pub(crate) outputs: RequestedOutputs,
}

/// The outputs a request asks for, each either as JSON data or as binary data.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum RequestedOutputs {
    /// No `outputs` (or an empty list): every output of the model, binary when `binary` (the
    /// request's `binary_data_output` parameter, which tritonclient sets in this case).
    All { binary: bool },
    /// These outputs in this order (names unique): the response lists them so.
    Named(Vec<RequestedOutput>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RequestedOutput {
    pub(crate) name: String,
    /// The output's `binary_data` parameter, else the request's `binary_data_output`, else JSON.
    pub(crate) binary: bool,
}

/// A response to encode, borrowing the run's outputs.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct InferResponse<'a> {
    pub(crate) model_name: &'a str,
    pub(crate) model_version: Option<&'a str>,
    pub(crate) id: Option<&'a str>,
    /// In the order the request asked for them.
    pub(crate) outputs: Vec<ResponseOutput<'a>>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ResponseOutput<'a> {
    pub(crate) name: &'a str,
    pub(crate) tensor: &'a Tensor,
    pub(crate) binary: bool,
}

/// An encoded response body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Encoded {
    pub(crate) body: Vec<u8>,
    /// `Some(json bytes)` when binary data follows the JSON: send it as
    /// `Inference-Header-Content-Length` with `content-type: application/octet-stream`. `None`:
    /// the body is all JSON, `content-type: application/json`.
    pub(crate) json_len: Option<usize>,
}

/// Why a request cannot be decoded (a 400: the client's mistake) or a response encoded (a 500).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum OipError {
    /// The body as a whole: not JSON, a bad header value, binary data that does not add up.
    #[error("{0}")]
    Request(String),
    #[error("input `{name}`: {message}")]
    Input { name: String, message: String },
    /// A requested output: repeated, or with a parameter that is not supported.
    #[error("output `{name}`: {message}")]
    Output { name: String, message: String },
    /// An output holds NaN or an infinity and was asked for as JSON, which cannot carry them:
    /// the server's response cannot be written (a 500), and binary data can carry it.
    #[error("output `{name}` has non-finite values; request it as binary_data")]
    NonFinite { name: String },
    /// A BYTES output element is longer than binary data's 4-byte length prefix can say.
    #[error("output `{name}` has an element of 4 GiB or more, which binary data cannot carry")]
    TooLong { name: String },
}

impl OipError {
    pub(crate) fn input(name: &str, message: impl Into<String>) -> Self {
        Self::Input { name: name.to_owned(), message: message.into() }
    }

    pub(crate) fn output(name: &str, message: impl Into<String>) -> Self {
        Self::Output { name: name.to_owned(), message: message.into() }
    }
}

/// Appends `value`'s JSON. Writing to a vector cannot fail, and every value written here
/// serializes without error (numbers, strings, slices, structs with string keys).
#[expect(
    clippy::unwrap_used,
    reason = "serde_json fails only on I/O errors and non-string map keys; neither can happen here"
)]
fn write_json(out: &mut Vec<u8>, value: &impl serde::Serialize) {
    serde_json::to_writer(out, value).unwrap();
}
