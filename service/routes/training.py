"""Training jobs: start from JSON or a CSV upload, list, get, cancel."""

from __future__ import annotations

import csv
import json
from typing import Annotated, Any

import pandas as pd
from fastapi import APIRouter, Body, File, Form, Query, Request, Response, UploadFile
from pydantic import ValidationError

from model.config import check_options, split_options
from model.store import NAME_REGEX
from model.windows import DataError, prepare_series, read_csv_text, split_windows
from service.deps import Auth, state
from service.errors import Problem
from service.jobs import MAX_PAGE, JobData, JobStore, UnknownCursor, verdict
from service.schemas import CSV_OPTIONS_EXAMPLE, TRAIN_EXAMPLES, JobStatus, TrainOptions, TrainRequest

router = APIRouter(tags=["training"])
MAX_JOB_VALUES = 2_000_000


def job_view(request: Request, job: dict[str, Any]) -> JobStatus:
    return JobStatus(url=str(request.url_for("get_job", job_id=job["id"])), note=verdict(job["metrics"]),
                     **{k: v for k, v in job.items() if k in JobStatus.model_fields and k not in ("url", "note")})


def enqueue(request: Request, name: str, options: TrainOptions, data: JobData, frame: pd.DataFrame) -> JobStatus:
    """Check the data against the options now (422 at once), then queue the job."""
    given = options.model_dump()
    config, train_config = split_options(given)
    try:
        check_options(config, train_config)
        series = prepare_series(frame, config, options.time_column, train_config.interpolate)
        split_windows(len(series.values), config.input_size, config.horizon, train_config.val_fraction,
                      train_config.test_fraction, train_config.calibration_fraction)
    except DataError as exc:
        raise Problem(422, str(exc), [{"field": "data", "reason": str(exc)}]) from exc
    app_state = state(request)
    job_id = app_state.jobs.create(name, {"name": name, "options": given}, train_config.epochs, data)
    app_state.runner.wake()
    return job_view(request, app_state.jobs.get(job_id))


@router.post("/v1/train", status_code=202, dependencies=[Auth],
             responses={401: {"description": "API key needed"}, 422: {"description": "unusable data or options"}})
async def train_json(request: Request, body: Annotated[TrainRequest, Body(openapi_examples=TRAIN_EXAMPLES)],
                     response: Response) -> JobStatus:
    """Train a new version from columns sent as JSON: 202 with the job at once, training in a worker
    process. The data is checked against the options first (422 naming what to change). The
    first version of a name goes live; later ones when `promote` is true, or `"if_better"` and
    the new version beats the live one on the same test part."""
    lengths = {len(v) for v in body.data.values()}
    if len(lengths) > 1:
        raise Problem(422, f"data columns differ in length: {sorted(lengths)}")
    if sum(len(v) for v in body.data.values()) > MAX_JOB_VALUES:
        raise Problem(413, f"training data over {MAX_JOB_VALUES} values")
    job = enqueue(request, body.name, body.options, JobData("json", json.dumps(body.data)), pd.DataFrame(body.data))
    response.headers["Location"] = job.url
    return job


CSV_FIELDS = ("file", "name", "options")


def _refuse_unknown_fields(form: Any) -> None:
    """A form field the route does not read (-F promote=if_better) would be dropped without a word."""
    unknown = [key for key in form if key not in CSV_FIELDS]
    if not unknown:
        return
    key = unknown[0]
    where = (f"options go in the options JSON field: -F 'options={{\"{key}\": ...}}'"
             if key in TrainOptions.model_fields else f"the form takes {', '.join(CSV_FIELDS)}")
    reason = f"unknown form field; {where}"
    raise Problem(422, f"{key}: {reason}", [{"field": key, "reason": reason}])


@router.post("/v1/train/csv", status_code=202, dependencies=[Auth],
             responses={400: {"description": "malformed CSV"}, 401: {"description": "API key needed"}})
async def train_csv(
    request: Request, response: Response,
    file: Annotated[UploadFile, File(description="CSV with a header row")],
    name: Annotated[str, Form(pattern=NAME_REGEX)],
    options: Annotated[str, Form(description="TrainOptions as JSON", examples=[CSV_OPTIONS_EXAMPLE])] = "{}",
) -> JobStatus:
    """Train a new version from an uploaded CSV (header row; comma, semicolon or tab; a BOM is fine;
    not gzip): as /v1/train, with the options as a JSON form field."""
    _refuse_unknown_fields(await request.form())
    try:
        parsed = TrainOptions.model_validate_json(options)
    except ValidationError as exc:
        raise Problem(422, f"options: {exc.errors()[0]['msg']}",
                      [{"field": "options." + ".".join(map(str, e["loc"])), "reason": e["msg"]}
                       for e in exc.errors()]) from exc
    raw = await file.read()
    try:
        text = raw.decode("utf-8-sig")  # a BOM from spreadsheet exports is not part of the header
        frame = read_csv_text(text)
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError, ValueError, csv.Error) as exc:
        raise Problem(400, f"malformed CSV: {exc}") from exc
    job = enqueue(request, name, parsed, JobData("csv", text), frame)
    response.headers["Location"] = job.url
    return job


@router.get("/v1/jobs", responses={422: {"description": "a limit out of bounds, or an unknown job in before="}})
async def list_jobs(
    request: Request, response: Response,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description="most jobs in the answer")] = 100,
    before: Annotated[str | None, Query(max_length=64, description="a job id: only jobs created before it "
                                        "(the id of the last job of the previous page)")] = None,
) -> list[JobStatus]:
    """Training jobs, newest first, `limit` at a time (default 100, at most 1000). A full page carries a
    `Link: <...?before=ID&limit=N>; rel="next"` header for the next, older page (the jobs after it)."""
    try:
        jobs = state(request).jobs.list(limit, before)
    except UnknownCursor as exc:
        raise Problem(422, str(exc), [{"field": "before", "reason": str(exc)}]) from exc
    if len(jobs) == limit:
        following = request.url.include_query_params(before=jobs[-1]["id"], limit=limit)
        response.headers["Link"] = f'<{following}>; rel="next"'
    return [job_view(request, j) for j in jobs]


@router.get("/v1/jobs/{job_id}", name="get_job", responses={404: {"description": "unknown job"}})
async def get_job(request: Request, job_id: str) -> JobStatus:
    """A job's status, epoch of epochs, train and validation loss, test metrics beside the baselines
    (`note` says whether it beats them) and, once saved, its version."""
    job = state(request).jobs.get(job_id)
    if job is None:
        raise Problem(404, f"unknown job {job_id!r}")
    return job_view(request, job)


@router.post("/v1/jobs/{job_id}/cancel", dependencies=[Auth],
             responses={404: {"description": "unknown job"}, 401: {"description": "API key needed"}})
async def cancel_job(request: Request, job_id: str) -> JobStatus:
    """Stop a queued or running job (a running one stops within a second or two; nothing is saved)."""
    jobs: JobStore = state(request).jobs
    if jobs.get(job_id) is None:
        raise Problem(404, f"unknown job {job_id!r}")
    jobs.request_cancel(job_id)
    job = jobs.get(job_id)
    assert job is not None
    return job_view(request, job)
