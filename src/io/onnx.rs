//! ONNX export: a model's eval-mode computation as an ONNX file (opset 17)
//! that ONNX Runtime, Triton or a browser runs.
//!
//! ```
//! use kindling::nn::models::Arch;
//! let model = Arch::Mlp.build();
//! let bytes = kindling::io::onnx::to_bytes(&model, &[1, 28, 28])?;
//! assert!(bytes.len() > 109_386 * 4); // every parameter once, as float32
//! # Ok::<(), kindling::Error>(())
//! ```
//!
//! The graph is generated from the modules: each layer adds its own nodes
//! ([`Module::onnx`]: `Linear` a `Gemm`, `Conv2d` a `Conv`, `BatchNorm2d` a
//! `BatchNormalization` with its running statistics, dropout nothing, ...),
//! `Sequential` chains its children, and a model with a hand-written
//! `forward` (the reference CNNs) writes the same steps as nodes. Parameters
//! become initializers named by their `state_dict` keys, each stored once.
//! The batch dimension is dynamic (`batch`).
//!
//! NOTE(onnx-protobuf): ONNX files are protocol buffers. kindling writes the
//! few messages it needs (model, graph, node, attribute, tensor, value info)
//! with a hand-written encoder of about 60 lines instead of `prost` and the
//! generated code for `onnx.proto`: protobuf's wire format is small and
//! stable, and `prost` would add its derive macros and the generated code of
//! every ONNX message to every build, for writing only.

use std::collections::HashSet;
use std::path::Path;

use crate::error::{Error, Result};
use crate::nn::Module;
use crate::tensor::{DType, Tensor};

/// The ONNX operator set written.
pub const OPSET: i64 = 17;
/// The IR version matching [`OPSET`].
const IR_VERSION: i64 = 8;

/// A node's attribute value.
#[derive(Clone, Debug)]
pub enum Attr {
    /// An integer.
    Int(i64),
    /// A list of integers.
    Ints(Vec<i64>),
    /// A float.
    Float(f32),
}

struct Node {
    op: String,
    name: String,
    inputs: Vec<String>,
    output: String,
    attrs: Vec<(String, Attr)>,
}

/// An ONNX graph being built: what [`Module::onnx`] adds nodes to.
pub struct Graph {
    prefix: Vec<String>,
    nodes: Vec<Node>,
    initializers: Vec<(String, Tensor)>,
    names: HashSet<String>,
}

impl Graph {
    fn new() -> Graph {
        Graph {
            prefix: Vec::new(),
            nodes: Vec::new(),
            initializers: Vec::new(),
            names: HashSet::new(),
        }
    }

    /// Adds child module `m`, named `name` in its parent (its parameters are
    /// `name.weight`, ...), applied to `x`; returns its output's name.
    pub fn child(&mut self, name: &str, m: &dyn Module, x: &str) -> Result<String> {
        self.prefix.push(name.to_string());
        let out = m.onnx(self, x);
        self.prefix.pop();
        out
    }

    fn scoped(&self, local: &str) -> String {
        let mut parts = self.prefix.clone();
        parts.push(local.to_string());
        parts.join(".")
    }

    /// Adds parameter or buffer `t` under `local` (prefixed with the module's
    /// path, so `layers.0.weight`), once, as float32; returns its name.
    pub fn param(&mut self, local: &str, t: &Tensor) -> Result<String> {
        let name = self.scoped(local);
        if t.dtype() != DType::F32 {
            return Err(Error::Value(format!(
                "ONNX export writes float32 models; {name} is {}",
                t.dtype()
            )));
        }
        if self.names.insert(name.clone()) {
            self.initializers.push((name.clone(), t.detach()));
        }
        Ok(name)
    }

    /// Adds a node `op` on `inputs` with `attrs`; returns its output's name.
    pub fn node(&mut self, op: &str, inputs: &[&str], attrs: Vec<(&str, Attr)>) -> String {
        let name = if self.prefix.is_empty() {
            format!("/{op}_{}", self.nodes.len())
        } else {
            format!("/{}/{op}_{}", self.prefix.join("."), self.nodes.len())
        };
        let output = format!("{name}_output");
        self.nodes.push(Node {
            op: op.to_string(),
            name,
            inputs: inputs.iter().map(|s| s.to_string()).collect(),
            output: output.clone(),
            attrs: attrs.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
        });
        output
    }
}

/// Writes `model` (in eval mode, as `torch.onnx.export` of a model in
/// `eval()`) for inputs of shape `[batch, input...]` to an ONNX file,
/// atomically. `model.eval()` is called first.
pub fn export(model: &dyn Module, input: &[usize], path: impl AsRef<Path>) -> Result<()> {
    super::write_atomic(path.as_ref(), &to_bytes(model, input)?)
}

/// The bytes [`export`] writes.
///
/// # Errors
/// A module with no ONNX form (a user's `forward` without
/// [`Module::onnx`]), or parameters that are not float32.
pub fn to_bytes(model: &dyn Module, input: &[usize]) -> Result<Vec<u8>> {
    model.eval();
    // The output's shape, from one image.
    let mut one = vec![1];
    one.extend_from_slice(input);
    let out_shape = crate::no_grad(|| model.forward(&Tensor::zeros(one)))?
        .shape()
        .to_vec();
    let mut g = Graph::new();
    let last = model.onnx(&mut g, "input")?;
    // The last node's output is the graph's output (a model that adds no
    // node, an Identity, still gets one).
    let output = "output".to_string();
    match g.nodes.iter_mut().rev().find(|n| n.output == last) {
        Some(n) => n.output = output.clone(),
        None => {
            g.nodes.push(Node {
                op: "Identity".into(),
                name: "/Identity".into(),
                inputs: vec![last.clone()],
                output: output.clone(),
                attrs: Vec::new(),
            });
        }
    }
    let mut graph = Vec::new();
    for n in &g.nodes {
        pb::message(&mut graph, 1, &node_proto(n));
    }
    pb::string(&mut graph, 2, "main_graph");
    for (name, t) in &g.initializers {
        pb::message(&mut graph, 5, &tensor_proto(name, t));
    }
    let mut in_dims: Vec<Dim> = vec![Dim::Batch];
    in_dims.extend(input.iter().map(|&d| Dim::Fixed(d)));
    pb::message(&mut graph, 11, &value_info("input", &in_dims));
    let mut out_dims: Vec<Dim> = vec![Dim::Batch];
    out_dims.extend(out_shape[1..].iter().map(|&d| Dim::Fixed(d)));
    pb::message(&mut graph, 12, &value_info(&output, &out_dims));

    let mut model_proto = Vec::new();
    pb::int(&mut model_proto, 1, IR_VERSION);
    pb::string(&mut model_proto, 2, "kindling");
    pb::string(&mut model_proto, 3, env!("CARGO_PKG_VERSION"));
    pb::message(&mut model_proto, 7, &graph);
    let mut opset = Vec::new();
    pb::string(&mut opset, 1, "");
    pb::int(&mut opset, 2, OPSET);
    pb::message(&mut model_proto, 8, &opset);
    Ok(model_proto)
}

enum Dim {
    Batch,
    Fixed(usize),
}

fn value_info(name: &str, dims: &[Dim]) -> Vec<u8> {
    let mut shape = Vec::new();
    for d in dims {
        let mut dim = Vec::new();
        match d {
            Dim::Batch => pb::string(&mut dim, 2, "batch"),
            Dim::Fixed(n) => pb::int(&mut dim, 1, *n as i64),
        }
        pb::message(&mut shape, 1, &dim);
    }
    let mut tensor_type = Vec::new();
    pb::int(&mut tensor_type, 1, 1); // FLOAT
    pb::message(&mut tensor_type, 2, &shape);
    let mut type_proto = Vec::new();
    pb::message(&mut type_proto, 1, &tensor_type);
    let mut out = Vec::new();
    pb::string(&mut out, 1, name);
    pb::message(&mut out, 2, &type_proto);
    out
}

fn tensor_proto(name: &str, t: &Tensor) -> Vec<u8> {
    let mut out = Vec::new();
    for &d in t.shape() {
        pb::int(&mut out, 1, d as i64);
    }
    pb::int(&mut out, 2, 1); // FLOAT
    pb::string(&mut out, 8, name);
    let raw: Vec<u8> = t
        .to_vec::<f32>()
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    pb::bytes(&mut out, 9, &raw);
    out
}

fn node_proto(n: &Node) -> Vec<u8> {
    let mut out = Vec::new();
    for i in &n.inputs {
        pb::string(&mut out, 1, i);
    }
    pb::string(&mut out, 2, &n.output);
    pb::string(&mut out, 3, &n.name);
    pb::string(&mut out, 4, &n.op);
    for (name, value) in &n.attrs {
        let mut a = Vec::new();
        pb::string(&mut a, 1, name);
        match value {
            Attr::Float(f) => {
                pb::float(&mut a, 2, *f);
                pb::int(&mut a, 20, 1);
            }
            Attr::Int(i) => {
                pb::int(&mut a, 3, *i);
                pb::int(&mut a, 20, 2);
            }
            Attr::Ints(v) => {
                for &i in v {
                    pb::int(&mut a, 8, i);
                }
                pb::int(&mut a, 20, 7);
            }
        }
        pb::message(&mut out, 5, &a);
    }
    out
}

/// Protocol buffers' wire format, for writing (NOTE(onnx-protobuf)).
mod pb {
    fn varint(out: &mut Vec<u8>, mut v: u64) {
        while v >= 0x80 {
            out.push((v as u8) | 0x80);
            v >>= 7;
        }
        out.push(v as u8);
    }

    fn key(out: &mut Vec<u8>, field: u32, wire: u8) {
        varint(out, ((field as u64) << 3) | wire as u64);
    }

    /// A varint field (int32, int64, enum), negative numbers as 10 bytes.
    pub fn int(out: &mut Vec<u8>, field: u32, v: i64) {
        key(out, field, 0);
        varint(out, v as u64);
    }

    /// A 32-bit float field.
    pub fn float(out: &mut Vec<u8>, field: u32, v: f32) {
        key(out, field, 5);
        out.extend_from_slice(&v.to_le_bytes());
    }

    /// A length-delimited field: bytes, a string, or an encoded message.
    pub fn bytes(out: &mut Vec<u8>, field: u32, data: &[u8]) {
        key(out, field, 2);
        varint(out, data.len() as u64);
        out.extend_from_slice(data);
    }

    pub fn string(out: &mut Vec<u8>, field: u32, s: &str) {
        bytes(out, field, s.as_bytes());
    }

    pub fn message(out: &mut Vec<u8>, field: u32, m: &[u8]) {
        bytes(out, field, m);
    }

    #[cfg(test)]
    mod tests {
        #[test]
        fn varints_are_protobufs() {
            let mut out = Vec::new();
            super::int(&mut out, 1, 150);
            assert_eq!(out, [0x08, 0x96, 0x01]);
            out.clear();
            super::int(&mut out, 2, -1);
            assert_eq!(out.len(), 11);
            out.clear();
            super::string(&mut out, 2, "testing");
            assert_eq!(out, b"\x12\x07testing");
        }
    }
}
