//! The class labels of a classifier's ZipMap outputs, in the order the model declares them.
//! ONNX Runtime hands a ZipMap's maps back sorted by key and has no API for a node's attributes,
//! so the model's bytes are scanned for ZipMap nodes (`ai.onnx.ml`) and their
//! `classlabels_int64s` / `classlabels_strings`. The scan runs after ONNX Runtime has accepted
//! the model; anything it cannot read only means no labels (the first map's keys then).
//!
//! Field numbers are those of `onnx.proto`: ModelProto.graph = 7, GraphProto.node = 1,
//! NodeProto.output = 2, .op_type = 4, .attribute = 5, .domain = 7, AttributeProto.name = 1,
//! .ints = 8, .strings = 9.

use std::collections::HashMap;
use std::sync::Arc;

use crate::ClassLabels;

/// Each output a ZipMap node of the main graph writes, with the node's class labels.
pub(crate) fn class_labels(model: &[u8]) -> HashMap<String, ClassLabels> {
    let mut labels = HashMap::new();
    for graph in fields(model).filter_map(|(number, field)| bytes(7, number, field)) {
        for node in fields(graph).filter_map(|(number, field)| bytes(1, number, field)) {
            if let Some((output, classes)) = zipmap(node) {
                labels.insert(output, classes);
            }
        }
    }
    labels
}

fn zipmap(node: &[u8]) -> Option<(String, ClassLabels)> {
    let (mut output, mut op_type, mut domain, mut classes) = (None, None, "", None);
    for (number, field) in fields(node) {
        match (number, field) {
            (2, Field::Bytes(name)) if output.is_none() => output = Some(text(name)?),
            (4, Field::Bytes(name)) => op_type = Some(name),
            (7, Field::Bytes(name)) => domain = std::str::from_utf8(name).ok()?,
            (5, Field::Bytes(attribute)) => classes = classes.or(labels(attribute)),
            _ => {}
        }
    }
    (op_type == Some(b"ZipMap".as_slice()) && domain == "ai.onnx.ml").then_some(())?;
    Some((output?, classes?))
}

fn labels(attribute: &[u8]) -> Option<ClassLabels> {
    let name = fields(attribute).find_map(|(number, field)| bytes(1, number, field))?;
    match name {
        b"classlabels_int64s" => {
            let mut ints = Vec::new();
            for (number, field) in fields(attribute) {
                match (number, field) {
                    // Two's complement, as protobuf encodes int64.
                    (8, Field::Varint(value)) => ints.push(value as i64),
                    (8, Field::Bytes(mut packed)) => {
                        while !packed.is_empty() {
                            ints.push(varint(&mut packed)? as i64);
                        }
                    }
                    _ => {}
                }
            }
            Some(ClassLabels::Int64(Arc::from(ints)))
        }
        b"classlabels_strings" => {
            let strings = fields(attribute)
                .filter_map(|(number, field)| bytes(9, number, field))
                .map(text)
                .collect::<Option<Vec<_>>>()?;
            Some(ClassLabels::Bytes(Arc::from(strings)))
        }
        _ => None,
    }
}

#[derive(Clone, Copy)]
enum Field<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
    Fixed,
}

fn bytes(wanted: u64, number: u64, field: Field<'_>) -> Option<&[u8]> {
    match field {
        Field::Bytes(bytes) if number == wanted => Some(bytes),
        _ => None,
    }
}

fn text(bytes: &[u8]) -> Option<String> {
    String::from_utf8(bytes.to_vec()).ok()
}

/// A message's fields in order; the iteration ends early at bytes that are not protobuf.
fn fields(mut message: &[u8]) -> impl Iterator<Item = (u64, Field<'_>)> {
    std::iter::from_fn(move || {
        if message.is_empty() {
            return None;
        }
        let tag = varint(&mut message)?;
        let field = match tag & 7 {
            0 => Field::Varint(varint(&mut message)?),
            1 => Field::Fixed.skip(&mut message, 8)?,
            2 => {
                let len = usize::try_from(varint(&mut message)?).ok()?;
                let (bytes, rest) = message.split_at_checked(len)?;
                message = rest;
                Field::Bytes(bytes)
            }
            5 => Field::Fixed.skip(&mut message, 4)?,
            _ => {
                message = &[];
                return None;
            }
        };
        Some((tag >> 3, field))
    })
}

impl Field<'_> {
    fn skip(self, message: &mut &[u8], len: usize) -> Option<Self> {
        *message = message.get(len..)?;
        Some(self)
    }
}

fn varint(bytes: &mut &[u8]) -> Option<u64> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let (&byte, rest) = bytes.split_first()?;
        *bytes = rest;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(number: u64, wire: u64) -> Vec<u8> {
        encode(number << 3 | wire)
    }

    fn encode(mut value: u64) -> Vec<u8> {
        let mut out = Vec::new();
        loop {
            let byte = (value & 0x7f) as u8;
            value >>= 7;
            if value == 0 {
                out.push(byte);
                return out;
            }
            out.push(byte | 0x80);
        }
    }

    fn message(number: u64, body: &[u8]) -> Vec<u8> {
        let mut out = tag(number, 2);
        out.extend(encode(body.len() as u64));
        out.extend(body);
        out
    }

    fn node(op_type: &str, output: &str, attribute: &[u8]) -> Vec<u8> {
        [
            message(1, b"input"),
            message(2, output.as_bytes()),
            message(4, op_type.as_bytes()),
            message(7, b"ai.onnx.ml"),
            message(5, attribute),
        ]
        .concat()
    }

    fn model(nodes: &[Vec<u8>]) -> Vec<u8> {
        let graph: Vec<u8> = nodes.iter().flat_map(|node| message(1, node)).collect();
        [tag(1, 0), encode(8), message(7, &graph)].concat()
    }

    #[test]
    fn reads_int_labels_packed_or_not_in_declared_order() {
        let packed =
            [message(1, b"classlabels_int64s"), message(8, &[encode(7), encode(u64::MAX)].concat())].concat();
        let unpacked =
            [message(1, b"classlabels_int64s"), tag(8, 0), encode(3), tag(8, 0), encode(1)].concat();
        let labels = class_labels(&model(&[node("ZipMap", "a", &packed), node("ZipMap", "b", &unpacked)]));
        assert_eq!(labels["a"], ClassLabels::Int64(Arc::from([7, -1])));
        assert_eq!(labels["b"], ClassLabels::Int64(Arc::from([3, 1])));
    }

    #[test]
    fn reads_string_labels_and_ignores_other_nodes() {
        let strings = [message(1, b"classlabels_strings"), message(9, b"yes"), message(9, b"no")].concat();
        let labels = class_labels(&model(&[
            node("Identity", "x", &strings),
            node("ZipMap", "probabilities", &strings),
        ]));
        assert_eq!(labels.len(), 1);
        assert_eq!(
            labels["probabilities"],
            ClassLabels::Bytes(Arc::from(["yes".to_owned(), "no".to_owned()]))
        );
    }

    #[test]
    fn bytes_that_are_not_protobuf_give_no_labels() {
        assert!(class_labels(b"\xff\xff\xff").is_empty());
        assert!(class_labels(&[]).is_empty());
        let strings = [message(1, b"classlabels_strings"), message(9, b"yes")].concat();
        let mut truncated = model(&[node("ZipMap", "p", &strings)]);
        truncated.truncate(truncated.len() - 2);
        assert!(class_labels(&truncated).is_empty());
    }
}
