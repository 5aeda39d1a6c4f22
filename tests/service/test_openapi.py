"""The OpenAPI document a newcomer reads: every operation described, every body with an example that
works against the real app, every error response with a real problem document, path parameters filled."""

EXAMPLE_MODEL = {"weather": "weather", "ecg": "ecg", "sf-temps": "sf-temps"}  # forecast examples per model


def test_every_operation_has_a_summary_a_description_and_error_examples(client):
    schema = client.get("/openapi.json").json()
    for path, operations in schema["paths"].items():
        for method, op in operations.items():
            assert op.get("summary") and op.get("description"), (method, path)
            for code, response in op["responses"].items():
                if code >= "400" and path.startswith("/v2"):  # the Open Inference Protocol's error form
                    assert response["content"]["application/json"]["example"]["error"], (method, path, code)
                elif code >= "400":
                    example = response["content"]["application/problem+json"]["example"]
                    assert example["status"] == int(code) and example["detail"], (method, path, code)
            for parameter in op.get("parameters", []):
                if parameter["in"] == "path":
                    assert parameter.get("example"), (method, path, parameter["name"])
    csv = schema["components"]["schemas"]["Body_train_csv_v1_train_csv_post"]["properties"]["options"]
    assert "time_column" in csv["examples"][0]


def test_every_body_example_works_as_written(client):
    schema = client.get("/openapi.json").json()
    tried = 0
    for path, operations in schema["paths"].items():
        for method, op in operations.items():
            content = op.get("requestBody", {}).get("content", {}).get("application/json", {})
            examples = content.get("examples") or ({"example": {"value": content["example"]}}
                                                     if "example" in content else {})
            for name, example in examples.items():
                url = path
                for parameter in op.get("parameters", []):
                    if parameter["in"] == "path":
                        value = EXAMPLE_MODEL.get(name, parameter["example"])
                        url = url.replace("{" + parameter["name"] + "}", value)
                r = client.request(method.upper(), url, json=example["value"])
                assert r.status_code < 300, (method, url, name, r.text)
                tried += 1
    assert tried >= 14  # forecast x4, plot.svg x4, classify, evaluate, train x2, promote, infer x2
