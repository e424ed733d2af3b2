-- The signature of a version's ONNX model (inputs, outputs, opset, producer) as JSON, read from
-- the file when the version is created; NULL when it holds no ONNX model, or for versions
-- created before signatures were read.
ALTER TABLE model_versions ADD COLUMN signature TEXT;
