"""Open Inference Protocol v2: tritonclient (binary and JSON tensors) against the real server, and the
protocol's edges through the app. A forecast through /v2 equals the /v1 forecast of the same windows."""

import json

import numpy as np
import pandas as pd
import pytest

from model.datasets import DATASETS
from service.inference_protocol import ProtocolError, parse_request

httpclient = pytest.importorskip("tritonclient.http", reason="tritonclient[http] is a dev dependency")
from tritonclient.utils import InferenceServerException  # noqa: E402

CLOSES = np.asarray(DATASETS["stock"].load()["close"], np.float32)
WEATHER = DATASETS["weather"].load()


@pytest.fixture(scope="module")
def triton(tmp_path_factory):
    from tests.service.conftest import start_server, stop_server

    url, process = start_server(tmp_path_factory.mktemp("v2") / "store")
    client = httpclient.InferenceServerClient(url.removeprefix("http://"))
    yield client, url
    client.close()
    stop_server(process)


def stock_windows(n=8, length=30):
    return np.stack([CLOSES[i * 7 : i * 7 + length] for i in range(n)])[:, :, None]


def year_columns(dates):
    """The calendar's columns, as a v2 client computes them: sin and cos of the phase in the year."""
    phase = 2 * np.pi * (pd.to_datetime(dates) - pd.Timestamp("1970-01-01")).dt.days.to_numpy() / 365.2425
    return np.column_stack([np.sin(phase), np.cos(phase)])


def v1_forecast(url, model, body):
    import httpx

    r = httpx.post(f"{url}/v1/models/{model}/forecast", json=body, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()


def infer(client, model, windows, binary=True, outputs=("FORECAST", "LOWER_80", "UPPER_80")):
    tensor = httpclient.InferInput("INPUT", list(windows.shape), "FP32")
    tensor.set_data_from_numpy(windows.astype(np.float32), binary_data=binary)
    asked = [httpclient.InferRequestedOutput(name, binary_data=binary) for name in outputs] if outputs else None
    return client.infer(model, [tensor], outputs=asked)


def test_server_and_model_metadata(triton):
    client, _ = triton
    assert client.is_server_live() and client.is_server_ready()
    assert "binary_tensor_data" in client.get_server_metadata()["extensions"]
    assert client.is_model_ready("stock") and client.is_model_ready("stock", "1")
    assert not client.is_model_ready("no-such-model")
    meta = client.get_model_metadata("stock")
    assert meta["inputs"] == [{"name": "INPUT", "datatype": "FP32", "shape": [-1, 30, 1]}]
    outputs = {o["name"]: o for o in meta["outputs"]}
    assert outputs["FORECAST"]["shape"] == [-1, 5, 1] and "LOWER_95" in outputs and "UPPER_80" in outputs
    weather = client.get_model_metadata("weather", "v1")  # reads the time of year (model/calendar.py)
    assert weather["inputs"][0]["shape"] == [-1, 28, 6]
    assert weather["parameters"]["features"] == ["temp_max", "temp_min", "precipitation", "wind",
                                                 "calendar:year_sin", "calendar:year_cos"]
    assert client.get_model_metadata("weather-type")["outputs"][0]["name"] == "PROBABILITIES"


@pytest.mark.parametrize("binary", [True, False], ids=["binary", "json"])
def test_a_forecast_through_v2_equals_v1(triton, binary):
    client, url = triton
    windows = stock_windows()
    result = infer(client, "stock", windows, binary=binary)
    v1 = v1_forecast(url, "stock", {"series": [{"values": w[:, 0].tolist()} for w in windows], "levels": [80]})
    assert result.get_response()["model_version"] == v1["version"]
    np.testing.assert_allclose(result.as_numpy("FORECAST")[:, :, 0], [f["mean"] for f in v1["forecasts"]],
                               rtol=1e-6)
    np.testing.assert_allclose(result.as_numpy("UPPER_80")[:, :, 0],
                               [f["intervals"]["80"]["upper"] for f in v1["forecasts"]], rtol=1e-6)
    assert result.as_numpy("LOWER_80").shape == (8, 5, 1)


def test_every_output_in_binary_when_none_are_named(triton):
    client, _ = triton
    result = infer(client, "stock", stock_windows(3), outputs=None)
    names = {o["name"] for o in result.get_response()["outputs"]}
    assert {"FORECAST", "LOWER_50", "UPPER_99"} <= names
    assert all("binary_data_size" in o["parameters"] for o in result.get_response()["outputs"])
    assert (result.as_numpy("UPPER_95") >= result.as_numpy("UPPER_80")).all()


@pytest.mark.parametrize("binary", [True, False], ids=["binary", "json"])
def test_guarded_says_which_series_got_no_gru_as_on_v1(triton, binary):
    client, url = triton
    assert {"name": "GUARDED", "datatype": "BOOL", "shape": [-1]} in client.get_model_metadata("stock")["outputs"]
    windows = stock_windows(2)
    windows[1, 15:] *= 100  # prices switched to cents halfway through the window
    result = infer(client, "stock", windows, binary=binary, outputs=("FORECAST", "GUARDED"))
    assert result.as_numpy("GUARDED").tolist() == [False, True]
    v1 = v1_forecast(url, "stock", {"series": [{"values": w[:, 0].tolist()} for w in windows]})
    assert [f["guarded"] for f in v1["forecasts"]] == [False, True]
    np.testing.assert_allclose(result.as_numpy("FORECAST")[:, :, 0], [f["mean"] for f in v1["forecasts"]], rtol=1e-6)
    assert infer(client, "stock", windows, binary=binary, outputs=None).as_numpy("GUARDED").tolist() == [False, True]


def test_covariates_and_classes_through_v2_equal_v1(triton):
    import httpx

    client, url = triton
    columns = ["temp_max", "temp_min", "precipitation", "wind"]
    frame = WEATHER.iloc[-40:]
    calendar = year_columns(frame["date"])
    window = np.column_stack([frame[columns].to_numpy(), calendar]).astype(np.float32)[None]
    assert window.shape == (1, 40, 6)  # longer than 28: the last 28 are used
    result = infer(client, "weather", window, outputs=["FORECAST"])
    body = {"series": [{"values": frame["temp_max"].tolist(), "timestamps": frame["date"].tolist(),
                        "covariates": {c: frame[c].tolist() for c in columns[1:]}}]}
    np.testing.assert_allclose(result.as_numpy("FORECAST")[0, :, 0], v1_forecast(url, "weather", body)
                               ["forecasts"][0]["mean"], rtol=1e-5)
    classify_columns = client.get_model_metadata("weather-type")["parameters"]["features"]
    assert classify_columns[-2:] == ["calendar:year_sin", "calendar:year_cos"]  # it reads the time of year too
    data_columns = classify_columns[:-2]
    window = np.column_stack([frame[data_columns].to_numpy(), calendar]).astype(np.float32)[-14:][None]
    probabilities = infer(client, "weather-type", window, outputs=["PROBABILITIES"]).as_numpy("PROBABILITIES")
    v1 = httpx.post(f"{url}/v1/models/weather-type/classify", json={"series": [{
        "values": [], "timestamps": frame["date"].tolist()[-14:],
        "covariates": {c: frame[c].tolist()[-14:] for c in data_columns}}]}).json()
    classes = client.get_model_metadata("weather-type")["parameters"]["classes"]
    expected = [v1["results"][0]["probabilities"][c] for c in classes]
    np.testing.assert_allclose(probabilities[0], expected, rtol=1e-4, atol=1e-6)


def test_errors_in_the_protocol_form(triton):
    client, url = triton
    with pytest.raises(InferenceServerException) as bad_shape:
        infer(client, "stock", np.zeros((2, 10, 1), np.float32))
    assert bad_shape.value.status() == "400" and "[-1, 30, 1]" in bad_shape.value.message()
    with pytest.raises(InferenceServerException) as unknown:
        infer(client, "no-such-model", stock_windows(1))
    assert unknown.value.status() == "404" and "unknown model" in unknown.value.message()
    with pytest.raises(InferenceServerException) as bad_output:
        infer(client, "stock", stock_windows(1), outputs=["FORECAST", "LOWER_81"])
    assert bad_output.value.status() == "400" and "LOWER_81" in bad_output.value.message()
    import httpx

    r = httpx.post(f"{url}/v2/models/stock/infer", content=b"{not json")
    assert r.status_code == 400 and "malformed JSON" in r.json()["error"]
    r = httpx.post(f"{url}/v1/models/stock/forecast", content=b"{not json",  # /v1 keeps its problem documents
                   headers={"content-type": "application/json"})
    assert r.status_code == 400 and r.headers["content-type"].startswith("application/problem+json")


def test_limits_and_overload_as_on_v1(make_client):
    client, _ = make_client(queue_limit=4, max_body_bytes=4096, max_series=16)
    with client:
        body = {"inputs": [{"name": "INPUT", "shape": [8, 30, 1], "datatype": "FP32",
                            "data": stock_windows(8).ravel().tolist()}]}
        r = client.post("/v2/models/stock/infer", content=json.dumps(body))
        assert r.status_code in (413, 503)  # a body of 8 x 30 numbers is near the 4 KiB limit either way
        small = {"inputs": [{"name": "INPUT", "shape": [8, 30, 1], "datatype": "FP32",
                             "data": np.round(stock_windows(8), 0).astype(int).ravel().tolist()}]}
        r = client.post("/v2/models/stock/infer", json=small)
        assert r.status_code == 503 and r.headers["retry-after"] == "1" and "overloaded" in r.json()["error"]
        r = client.post("/v2/models/stock/infer", content=b"x" * 5000)
        assert r.status_code == 413 and "limit" in r.json()["error"]
        many = {"inputs": [{"name": "INPUT", "shape": [17, 30, 1], "datatype": "FP32", "data": [1] * 510}]}
        r = client.post("/v2/models/stock/infer", json=many)
        assert r.status_code == 413 and "16" in r.json()["error"]
        nan = {"inputs": [{"name": "INPUT", "shape": [1, 30, 1], "datatype": "FP64", "data": [1e300] * 30}]}
        r = client.post("/v2/models/stock/infer", json=nan)
        assert r.status_code == 400 and "INPUT[0]" in r.json()["error"]


def test_the_api_key_is_not_needed_to_infer_as_to_forecast(make_client):
    client, _ = make_client(api_key="k")
    with client:
        body = {"inputs": [{"name": "INPUT", "shape": [1, 30, 1], "datatype": "FP32",
                            "data": CLOSES[:30].tolist()}]}
        assert client.post("/v2/models/stock/infer", json=body).status_code == 200
        assert client.get("/v2/models/stock").status_code == 200


@pytest.mark.parametrize("header, body, reason", [
    (None, b"[]", "JSON object"),
    (None, b'{"inputs": []}', "non-empty"),
    (None, b'{"inputs": [{"name": "INPUT", "shape": [2], "datatype": "BYTES", "data": [1, 2]}]}', "BYTES"),
    (None, b'{"inputs": [{"name": "INPUT", "shape": [3], "datatype": "FP32", "data": [1, 2]}]}', "2 values"),
    (None, b'{"inputs": [{"name": "INPUT", "shape": [-1], "datatype": "FP32", "data": [1]}]}', "non-negative"),
    (None, b'{"inputs": [{"name": "INPUT", "shape": [1], "datatype": "FP32", "data": ["a"]}]}', "numbers"),
    # Found by the fuzz test: a datatype that is not a string was a 500, and a shape whose product
    # passes 2**63 wrapped around under the element limit.
    (None, b'{"inputs": [{"name": "INPUT", "shape": [1], "datatype": [{}], "data": [1]}]}', "not supported"),
    (None, b'{"inputs": [{"name": "I", "shape": [15260396, 17592186044416], "datatype": "FP32", "data": [1]}]}',
     "the limit is"),
    ("999", b'{"inputs": []}', "within the body"),
    ("67", b'{"inputs":[{"name":"I","shape":[2],"datatype":"FP32","parameters":{"binary_data_size":4}}]}'
     + b"\0" * 4, "needs 8"),
    ("67", b'{"inputs":[{"name":"I","shape":[1],"datatype":"FP32","parameters":{"binary_data_size":4}}]}'
     + b"\0" * 2, "ends before"),
    ("67", b'{"inputs":[{"name":"I","shape":[1],"datatype":"FP32","parameters":{"binary_data_size":4}}]}'
     + b"\0" * 9, "no input claims"),
])
def test_unreadable_requests_name_the_reason(header, body, reason):
    if header == "67":
        header = str(body.index(b"}]}") + 3)
    with pytest.raises(ProtocolError, match=reason):
        parse_request(body, header, 10_000)


def test_binary_and_json_tensors_read_the_same():
    values = np.arange(6, dtype=np.float32).reshape(1, 3, 2)
    header = json.dumps({"inputs": [{"name": "INPUT", "shape": [1, 3, 2], "datatype": "FP32",
                                     "parameters": {"binary_data_size": 24}}]}).encode()
    binary = parse_request(header + values.tobytes(), str(len(header)), 100).inputs["INPUT"]
    plain = parse_request(json.dumps({"inputs": [{"name": "INPUT", "shape": [1, 3, 2], "datatype": "FP32",
                                                  "data": values.ravel().tolist()}]}).encode(), None, 100)
    np.testing.assert_array_equal(binary, values)
    np.testing.assert_array_equal(plain.inputs["INPUT"], values)


def test_kserve_inference_rest_client_reads_the_same_forecast(triton):
    """kserve's own client (its InferRequest, binary and JSON tensors) against the real server."""
    import asyncio

    kserve = pytest.importorskip("kserve", reason="kserve is a dev dependency")
    from kserve.protocol.infer_type import RequestedOutput

    client_t, url = triton
    windows = stock_windows(4)
    expected = infer(client_t, "stock", windows, outputs=["FORECAST"]).as_numpy("FORECAST")

    async def run():
        client = kserve.InferenceRESTClient(kserve.RESTConfig(protocol="v2"))
        try:
            assert await client.is_server_ready(url) and await client.is_model_ready(url, "stock")
            results = []
            for binary in (True, False):
                tensor = kserve.InferInput("INPUT", list(windows.shape), "FP32")
                tensor.set_data_from_numpy(windows.astype(np.float32), binary_data=binary)
                request = kserve.InferRequest(model_name="stock", infer_inputs=[tensor],
                                              request_outputs=[RequestedOutput("FORECAST", {"binary_data": binary})])
                response = await client.infer(url, request, model_name="stock")
                results.append(response.outputs[0].as_numpy())
            return results
        finally:
            await client.close()

    for result in asyncio.run(run()):
        np.testing.assert_allclose(result, expected, rtol=1e-6)


def test_deeply_nested_json_is_a_400_not_a_500(client):
    deep = b'{"inputs": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    r = client.post("/v2/models/stock/infer", content=deep, headers={"content-type": "application/json"})
    assert r.status_code == 400 and "nested too deeply" in r.json()["error"]
    with pytest.raises(ProtocolError, match="nested too deeply"):
        parse_request(b"[" * 100_000 + b"]" * 100_000, None, 10)
