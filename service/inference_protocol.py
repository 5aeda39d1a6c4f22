"""The Open Inference Protocol v2 wire format (KServe, Triton): tensors in JSON or as raw bytes.

A request is a JSON header, optionally followed by the raw bytes of its tensors: the binary tensor
extension (Triton's docs/protocol/extension_binary_data.md). The header's length is in the
`Inference-Header-Content-Length` HTTP header, each binary tensor says its byte count in
`parameters.binary_data_size`, and the bytes follow in the order of the tensors. Answers use the
same layout when the client asks for binary outputs (tritonclient does by default).

This module knows the format only: names, shapes and datatypes to NumPy and back; what the tensors
mean for a forecaster is in service/routes/v2.py.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

DTYPES: dict[str, np.dtype[Any]] = {"FP32": np.dtype("<f4"), "FP64": np.dtype("<f8"), "FP16": np.dtype("<f2"),
          "INT32": np.dtype("<i4"), "INT64": np.dtype("<i8")}
HEADER_LENGTH = "inference-header-content-length"


class ProtocolError(ValueError):
    """A request the protocol cannot read: 400 with {"error": ...}."""


@dataclass
class InferRequest:
    inputs: dict[str, np.ndarray]
    outputs: list[str] | None = None  # names asked for; None = every output of the model
    binary: set[str] = field(default_factory=set)  # outputs to answer as raw bytes
    binary_default: bool = False  # `binary_data_output`: every output as raw bytes unless it says otherwise
    json_only: set[str] = field(default_factory=set)  # outputs with binary_data false
    id: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)

    def wants_binary(self, name: str) -> bool:
        return name in self.binary or (self.binary_default and name not in self.json_only)


def _object(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ProtocolError(f"{what} must be a JSON object")
    return value


def _parameters(value: Any, what: str) -> dict[str, Any]:
    return _object(value, f"{what}.parameters") if value is not None else {}


def parse_request(body: bytes, header_length: str | None, max_elements: int) -> InferRequest:
    """Read an inference request: JSON, or a JSON header plus binary tensors."""
    if header_length is not None:
        if not header_length.isdigit() or not 0 < int(header_length) <= len(body):
            raise ProtocolError(f"Inference-Header-Content-Length {header_length!r} is not a length within the "
                                f"body of {len(body)} bytes")
        header, binary = body[: int(header_length)], memoryview(body)[int(header_length):]
    else:
        header, binary = body, memoryview(b"")
    try:
        document = json.loads(header)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProtocolError(f"malformed JSON header: {exc}") from exc
    except RecursionError as exc:  # json's decoder recurses once per nesting level
        raise ProtocolError("malformed JSON header: nested too deeply (a tensor is [series, steps, features] "
                            "at most)") from exc
    document = _object(document, "the request")
    inputs = document.get("inputs")
    if not isinstance(inputs, list) or not inputs:
        raise ProtocolError("inputs: a non-empty list of tensors is required")
    tensors: dict[str, np.ndarray] = {}
    offset = 0
    for i, tensor in enumerate(inputs):
        tensor = _object(tensor, f"inputs[{i}]")
        name, shape, datatype = tensor.get("name"), tensor.get("shape"), tensor.get("datatype")
        if not isinstance(name, str) or not name:
            raise ProtocolError(f"inputs[{i}].name: a string is required")
        if not isinstance(shape, list) or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0
                                                  for d in shape):
            raise ProtocolError(f"inputs[{i}].shape: a list of non-negative integers is required")
        if not isinstance(datatype, str) or datatype not in DTYPES:
            raise ProtocolError(f"inputs[{i}].datatype: {datatype!r} is not supported; use one of {sorted(DTYPES)}")
        dtype = DTYPES[datatype]
        count = math.prod(shape)  # Python integers: a NumPy int64 product wraps around past 2**63
        if count > max_elements:
            raise ProtocolError(f"inputs[{i}]: {count} elements; the limit is {max_elements}")
        size = _parameters(tensor.get("parameters"), f"inputs[{i}]").get("binary_data_size")
        if size is not None:
            if not isinstance(size, int) or isinstance(size, bool) or size != count * dtype.itemsize:
                raise ProtocolError(f"inputs[{i}].parameters.binary_data_size: {size!r} bytes, but shape {shape} "
                                    f"of {datatype} needs {count * dtype.itemsize}")
            if offset + size > len(binary):
                raise ProtocolError(f"inputs[{i}]: the body ends before its {size} bytes of binary data")
            array = np.frombuffer(binary[offset : offset + size], dtype=dtype).reshape(shape)
            offset += size
        else:
            if "data" not in tensor:
                raise ProtocolError(f"inputs[{i}]: give data, or parameters.binary_data_size with binary data")
            try:
                array = np.asarray(tensor["data"], dtype=np.float64)
            except (TypeError, ValueError) as exc:
                raise ProtocolError(f"inputs[{i}].data: numbers are required") from exc
            if array.size != count:
                raise ProtocolError(f"inputs[{i}].data: {array.size} values for shape {shape} ({count})")
            with np.errstate(over="ignore", invalid="ignore"):  # out-of-range values are the route's to refuse
                array = array.reshape(shape).astype(dtype)
        if name in tensors:
            raise ProtocolError(f"inputs[{i}].name: {name!r} is given twice")
        tensors[name] = array
    if offset != len(binary):
        raise ProtocolError(f"{len(binary) - offset} bytes of binary data that no input claims")
    parameters = _parameters(document.get("parameters"), "the request")
    request = InferRequest(inputs=tensors, binary_default=parameters.get("binary_data_output") is True,
                           parameters=parameters)
    request_id = document.get("id")
    request.id = request_id if isinstance(request_id, str) else None
    _read_outputs(document.get("outputs"), request)
    return request


def _read_outputs(outputs: Any, request: InferRequest) -> None:
    """The outputs asked for and, per output, whether it goes as raw bytes."""
    if outputs is None:
        return
    if not isinstance(outputs, list):
        raise ProtocolError("outputs: a list is required")
    request.outputs = []
    for i, output in enumerate(outputs):
        output = _object(output, f"outputs[{i}]")
        name = output.get("name")
        if not isinstance(name, str):
            raise ProtocolError(f"outputs[{i}].name: a string is required")
        request.outputs.append(name)
        binary_data = _parameters(output.get("parameters"), f"outputs[{i}]").get("binary_data")
        if binary_data is True:
            request.binary.add(name)
        elif binary_data is False:
            request.json_only.add(name)


def encode_response(model_name: str, model_version: str, outputs: list[tuple[str, np.ndarray]],
                    request: InferRequest) -> tuple[bytes, dict[str, str], str]:
    """The answer body, its extra headers and its media type: JSON, or a JSON header and raw bytes."""
    described: list[dict[str, Any]] = []
    chunks: list[bytes] = []
    for name, array in outputs:
        # Numbers go out as FP32, flags (GUARDED) as BOOL: one byte each in binary, true/false in JSON.
        flags = array.dtype == np.bool_
        array = np.ascontiguousarray(array, dtype=np.bool_ if flags else "<f4")
        tensor: dict[str, Any] = {"name": name, "datatype": "BOOL" if flags else "FP32", "shape": list(array.shape)}
        if request.wants_binary(name):
            data = array.tobytes()
            tensor["parameters"] = {"binary_data_size": len(data)}
            chunks.append(data)
        else:
            tensor["data"] = array.ravel().tolist()
        described.append(tensor)
    document: dict[str, Any] = {"model_name": model_name, "model_version": model_version, "outputs": described}
    if request.id is not None:
        document["id"] = request.id
    header = json.dumps(document, separators=(",", ":")).encode()
    if not chunks:
        return header, {}, "application/json"
    return header + b"".join(chunks), {"Inference-Header-Content-Length": str(len(header))}, \
        "application/octet-stream"
