//! The signature of an ONNX model — its inputs' and outputs' names, types and shapes, its opset
//! and producer — read from the file as it streams by. A protobuf scan keeps the few small
//! messages it needs and skips everything else (the weights) without holding it, so a model of
//! several gigabytes costs a read, not its size in memory.
//!
//! Field numbers are those of `onnx.proto` (ModelProto, GraphProto, ValueInfoProto, TypeProto,
//! TensorShapeProto, TensorProto, OperatorSetIdProto).

use cairn_api::{OnnxDim, OnnxSignature, OnnxTensor};
use futures::io::{AsyncRead, AsyncReadExt};

/// A message the scan keeps (an input, an output, an opset) is never larger than this.
const MAX_MESSAGE: u64 = 1 << 20;
/// Nor are there more inputs and outputs than this.
const MAX_VALUES: usize = 10_000;

#[derive(Debug, thiserror::Error, PartialEq)]
#[error("not a readable ONNX model: {0}")]
pub struct OnnxError(String);

fn bad<T>(what: impl Into<String>) -> Result<T, OnnxError> {
    Err(OnnxError(what.into()))
}

/// Reads the signature of the ONNX model `reader` yields, to its end.
pub async fn signature<R: AsyncRead + Unpin>(reader: R) -> Result<OnnxSignature, OnnxError> {
    let mut scan = Scan { reader, position: 0 };
    let mut signature = OnnxSignature::default();
    let mut graph = false;
    while let Some((field, wire)) = scan.tag().await? {
        match (field, wire) {
            (1, VARINT) => signature.ir_version = Some(scan.varint().await? as i64),
            (2, LEN) => {
                signature.producer = Some(text(scan.message().await?)?).filter(|name| !name.is_empty())
            }
            (3, LEN) => {
                let version = text(scan.message().await?)?;
                signature.producer = match signature.producer.take() {
                    Some(name) if !version.is_empty() => Some(format!("{name} {version}")),
                    other => other,
                };
            }
            (7, LEN) => {
                let end = scan.end_of_message().await?;
                scan_graph(&mut scan, end, &mut signature).await?;
                graph = true;
            }
            (8, LEN) => {
                let opset = scan.message().await?;
                let (mut domain, mut version) = (String::new(), None);
                for field in Fields(&opset) {
                    match field? {
                        (1, Field::Bytes(bytes)) => domain = text(bytes.to_vec())?,
                        (2, Field::Varint(value)) => version = Some(value as i64),
                        _ => {}
                    }
                }
                if domain.is_empty() || domain == "ai.onnx" {
                    signature.opset = version;
                }
            }
            (_, wire) => scan.skip_field(wire).await?,
        }
    }
    if !graph {
        return bad("it has no graph");
    }
    Ok(signature)
}

async fn scan_graph<R: AsyncRead + Unpin>(
    scan: &mut Scan<R>,
    end: u64,
    signature: &mut OnnxSignature,
) -> Result<(), OnnxError> {
    let mut initializers = Vec::new();
    while scan.position < end {
        let Some((field, wire)) = scan.tag().await? else {
            return bad("the file ends inside the graph");
        };
        match (field, wire) {
            // Weights: only their names, to tell them from real inputs (models before IR 4 list
            // them among the graph's inputs).
            (5, LEN) => {
                let end = scan.end_of_message().await?;
                while scan.position < end {
                    match scan.tag().await? {
                        Some((8, LEN)) => initializers.push(text(scan.message().await?)?),
                        Some((_, wire)) => scan.skip_field(wire).await?,
                        None => return bad("the file ends inside a weight"),
                    }
                }
            }
            (11, LEN) => signature.inputs.push(value_info(&scan.message().await?)?),
            (12, LEN) => signature.outputs.push(value_info(&scan.message().await?)?),
            (_, wire) => scan.skip_field(wire).await?,
        }
        if signature.inputs.len() + signature.outputs.len() > MAX_VALUES {
            return bad(format!("it declares more than {MAX_VALUES} inputs and outputs"));
        }
        if scan.position > end {
            return bad("a field runs past the end of the graph");
        }
    }
    signature.inputs.retain(|input| !initializers.contains(&input.name));
    Ok(())
}

/// ValueInfoProto: a name and a type.
fn value_info(bytes: &[u8]) -> Result<OnnxTensor, OnnxError> {
    let mut tensor = OnnxTensor { name: String::new(), r#type: "unknown".into(), shape: None };
    for field in Fields(bytes) {
        match field? {
            (1, Field::Bytes(name)) => tensor.name = text(name.to_vec())?,
            (2, Field::Bytes(type_proto)) => (tensor.r#type, tensor.shape) = type_of(type_proto, 0)?,
            _ => {}
        }
    }
    Ok(tensor)
}

/// TypeProto as ONNX Runtime writes it (`tensor(float)`, `seq(tensor(int64))`,
/// `map(string,tensor(float))`), with the shape of a tensor.
fn type_of(bytes: &[u8], depth: usize) -> Result<(String, Option<Vec<OnnxDim>>), OnnxError> {
    if depth > 16 {
        return bad("types nest too deeply");
    }
    let inner = |bytes: &[u8], field: u32| -> Result<String, OnnxError> {
        for item in Fields(bytes) {
            if let (number, Field::Bytes(type_proto)) = item?
                && number == field
            {
                return Ok(type_of(type_proto, depth + 1)?.0);
            }
        }
        Ok("unknown".into())
    };
    for field in Fields(bytes) {
        match field? {
            (1, Field::Bytes(tensor)) => {
                let (element, shape) = tensor_type(tensor)?;
                return Ok((format!("tensor({element})"), shape));
            }
            (8, Field::Bytes(tensor)) => {
                return Ok((format!("sparse_tensor({})", tensor_type(tensor)?.0), None));
            }
            (4, Field::Bytes(sequence)) => return Ok((format!("seq({})", inner(sequence, 1)?), None)),
            (9, Field::Bytes(optional)) => return Ok((format!("optional({})", inner(optional, 1)?), None)),
            (5, Field::Bytes(map)) => {
                let mut key = "unknown";
                for item in Fields(map) {
                    if let (1, Field::Varint(code)) = item? {
                        key = element_type(code);
                    }
                }
                return Ok((format!("map({key},{})", inner(map, 2)?), None));
            }
            _ => {}
        }
    }
    Ok(("unknown".into(), None))
}

/// TypeProto.Tensor: the element type and, when declared, the shape.
fn tensor_type(bytes: &[u8]) -> Result<(&'static str, Option<Vec<OnnxDim>>), OnnxError> {
    let (mut element, mut shape) = ("unknown", None);
    for field in Fields(bytes) {
        match field? {
            (1, Field::Varint(code)) => element = element_type(code),
            (2, Field::Bytes(dims)) => {
                let mut all = Vec::new();
                for dim in Fields(dims) {
                    let (1, Field::Bytes(dim)) = dim? else { continue };
                    let mut value = OnnxDim::Unknown;
                    for part in Fields(dim) {
                        match part? {
                            (1, Field::Varint(size)) => value = OnnxDim::Fixed(size as i64),
                            (2, Field::Bytes(name)) => value = OnnxDim::Named(text(name.to_vec())?),
                            _ => {}
                        }
                    }
                    all.push(value);
                }
                shape = Some(all);
            }
            _ => {}
        }
    }
    Ok((element, shape))
}

/// TensorProto.DataType by its ONNX name.
fn element_type(code: u64) -> &'static str {
    match code {
        1 => "float",
        2 => "uint8",
        3 => "int8",
        4 => "uint16",
        5 => "int16",
        6 => "int32",
        7 => "int64",
        8 => "string",
        9 => "bool",
        10 => "float16",
        11 => "double",
        12 => "uint32",
        13 => "uint64",
        14 => "complex64",
        15 => "complex128",
        16 => "bfloat16",
        17 => "float8e4m3fn",
        18 => "float8e4m3fnuz",
        19 => "float8e5m2",
        20 => "float8e5m2fnuz",
        21 => "uint4",
        22 => "int4",
        23 => "float4e2m1",
        _ => "unknown",
    }
}

fn text(bytes: Vec<u8>) -> Result<String, OnnxError> {
    String::from_utf8(bytes).or_else(|_| bad("a name is not UTF-8"))
}

const VARINT: u8 = 0;
const FIXED64: u8 = 1;
const LEN: u8 = 2;
const FIXED32: u8 = 5;

/// A forward-only protobuf reader over the stream, counting its position.
struct Scan<R> {
    reader: R,
    position: u64,
}

impl<R: AsyncRead + Unpin> Scan<R> {
    async fn byte(&mut self) -> Result<Option<u8>, OnnxError> {
        let mut byte = [0u8];
        match self.reader.read(&mut byte).await {
            Ok(0) => Ok(None),
            Ok(_) => {
                self.position += 1;
                Ok(Some(byte[0]))
            }
            Err(error) => bad(format!("reading it failed: {error}")),
        }
    }

    /// A varint, `None` at a clean end of the stream.
    async fn varint_or_end(&mut self) -> Result<Option<u64>, OnnxError> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let Some(byte) = self.byte().await? else {
                return if shift == 0 { Ok(None) } else { bad("the file ends inside a number") };
            };
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(Some(value));
            }
        }
        bad("a number is longer than ten bytes")
    }

    async fn varint(&mut self) -> Result<u64, OnnxError> {
        self.varint_or_end().await?.map_or_else(|| bad("the file ends inside a field"), Ok)
    }

    async fn tag(&mut self) -> Result<Option<(u32, u8)>, OnnxError> {
        let Some(tag) = self.varint_or_end().await? else { return Ok(None) };
        let field = u32::try_from(tag >> 3).or_else(|_| bad("a field number is out of range"))?;
        if field == 0 {
            return bad("a field has number 0");
        }
        Ok(Some((field, (tag & 7) as u8)))
    }

    /// Reads a length prefix; where the message it announces ends.
    async fn end_of_message(&mut self) -> Result<u64, OnnxError> {
        let length = self.varint().await?;
        self.position.checked_add(length).map_or_else(|| bad("a length is out of range"), Ok)
    }

    /// A length-delimited field, read whole (it must be small).
    async fn message(&mut self) -> Result<Vec<u8>, OnnxError> {
        let length = self.varint().await?;
        if length > MAX_MESSAGE {
            return bad(format!("a {length}-byte field where at most {MAX_MESSAGE} are expected"));
        }
        let mut bytes = vec![0u8; length as usize];
        self.reader.read_exact(&mut bytes).await.or_else(|_| bad("the file ends inside a field"))?;
        self.position += length;
        Ok(bytes)
    }

    async fn skip(&mut self, length: u64) -> Result<(), OnnxError> {
        let skipped = futures::io::copy((&mut self.reader).take(length), &mut futures::io::sink())
            .await
            .or_else(|error| bad(format!("reading it failed: {error}")))?;
        if skipped != length {
            return bad("the file ends inside a field");
        }
        self.position += length;
        Ok(())
    }

    async fn skip_field(&mut self, wire: u8) -> Result<(), OnnxError> {
        match wire {
            VARINT => self.varint().await.map(drop),
            FIXED64 => self.skip(8).await,
            LEN => {
                let length = self.varint().await?;
                self.skip(length).await
            }
            FIXED32 => self.skip(4).await,
            other => bad(format!("unsupported wire type {other}")),
        }
    }
}

enum Field<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
    Fixed,
}

/// The fields of a message held in memory.
struct Fields<'a>(&'a [u8]);

impl<'a> Iterator for Fields<'a> {
    type Item = Result<(u32, Field<'a>), OnnxError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.0.is_empty() {
            return None;
        }
        let item = self.field();
        if item.is_err() {
            self.0 = &[];
        }
        Some(item)
    }
}

impl<'a> Fields<'a> {
    fn varint(&mut self) -> Result<u64, OnnxError> {
        let mut value = 0u64;
        for (i, &byte) in self.0.iter().enumerate().take(10) {
            value |= u64::from(byte & 0x7f) << (7 * i);
            if byte & 0x80 == 0 {
                self.0 = &self.0[i + 1..];
                return Ok(value);
            }
        }
        bad("a number is cut off or too long")
    }

    fn take(&mut self, length: u64) -> Result<&'a [u8], OnnxError> {
        let length = usize::try_from(length).ok().filter(|length| *length <= self.0.len());
        let Some(length) = length else { return bad("a field runs past the end of its message") };
        let (taken, rest) = self.0.split_at(length);
        self.0 = rest;
        Ok(taken)
    }

    fn field(&mut self) -> Result<(u32, Field<'a>), OnnxError> {
        let tag = self.varint()?;
        let field = u32::try_from(tag >> 3).ok().filter(|field| *field > 0);
        let Some(field) = field else { return bad("a field number is out of range") };
        let value = match (tag & 7) as u8 {
            VARINT => Field::Varint(self.varint()?),
            FIXED64 => self.take(8).map(|_| Field::Fixed)?,
            LEN => {
                let length = self.varint()?;
                Field::Bytes(self.take(length)?)
            }
            FIXED32 => self.take(4).map(|_| Field::Fixed)?,
            other => return bad(format!("unsupported wire type {other}")),
        };
        Ok((field, value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Protobuf encoding, for building models field by field.
    fn varint(mut value: u64, out: &mut Vec<u8>) {
        while value >= 0x80 {
            out.push((value as u8) | 0x80);
            value >>= 7;
        }
        out.push(value as u8);
    }
    fn int(field: u32, value: u64) -> Vec<u8> {
        let mut out = Vec::new();
        varint(u64::from(field) << 3, &mut out);
        varint(value, &mut out);
        out
    }
    fn bytes(field: u32, value: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        varint((u64::from(field) << 3) | 2, &mut out);
        varint(value.len() as u64, &mut out);
        out.extend_from_slice(value);
        out
    }
    /// A tensor's ValueInfoProto; a dimension is a size, a name, or (`None`) neither.
    fn tensor(name: &str, element: u64, dims: &[Option<Result<i64, &str>>]) -> Vec<u8> {
        let shape: Vec<u8> = dims
            .iter()
            .flat_map(|dim| match dim {
                Some(Ok(size)) => bytes(1, &int(1, *size as u64)),
                Some(Err(name)) => bytes(1, &bytes(2, name.as_bytes())),
                None => bytes(1, &[]),
            })
            .collect();
        let tensor_type = [int(1, element), bytes(2, &shape)].concat();
        [bytes(1, name.as_bytes()), bytes(2, &bytes(1, &tensor_type))].concat()
    }

    fn model() -> Vec<u8> {
        let weight = [bytes(8, b"W"), bytes(9, &vec![7u8; 300_000]), int(2, 1)].concat();
        let graph = [
            bytes(1, b"a node with big attributes ..."),
            bytes(5, &weight),
            bytes(11, &tensor("features", 1, &[Some(Err("batch")), Some(Ok(4))])),
            bytes(11, &tensor("W", 1, &[Some(Ok(4)), Some(Ok(1))])),
            bytes(12, &tensor("score", 11, &[Some(Err("batch")), None])),
        ]
        .concat();
        [int(1, 8), bytes(2, b"skl2onnx"), bytes(3, b"1.17"), bytes(7, &graph), bytes(8, &int(2, 17))]
            .concat()
    }

    fn read(bytes: &[u8]) -> Result<OnnxSignature, OnnxError> {
        futures::executor::block_on(signature(futures::io::Cursor::new(bytes)))
    }

    #[test]
    fn inputs_outputs_opset_and_producer_without_the_weights() {
        let signature = read(&model()).unwrap();
        assert_eq!(signature.ir_version, Some(8));
        assert_eq!(signature.opset, Some(17));
        assert_eq!(signature.producer.as_deref(), Some("skl2onnx 1.17"));
        let features = OnnxTensor {
            name: "features".into(),
            r#type: "tensor(float)".into(),
            shape: Some(vec![OnnxDim::Named("batch".into()), OnnxDim::Fixed(4)]),
        };
        assert_eq!(signature.inputs, [features], "the weight W is not an input");
        assert_eq!(signature.outputs[0].r#type, "tensor(double)");
        assert_eq!(signature.outputs[0].shape, Some(vec![OnnxDim::Named("batch".into()), OnnxDim::Unknown]));
    }

    #[test]
    fn every_truncation_is_an_error_never_a_panic() {
        let model = model();
        for cut in [0, 1, 5, 20, 40, 300_000, model.len() - 3, model.len() - 1] {
            assert!(read(&model[..cut]).is_err(), "cut at {cut}");
        }
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(data in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            let _ = read(&data);
        }
    }
}
