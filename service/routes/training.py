"""Training jobs: start from JSON or a CSV or Parquet upload, list, get, cancel."""

from __future__ import annotations

import csv
import json
from typing import Annotated, Any

import pandas as pd
from fastapi import APIRouter, Body, File, Form, Query, Request, Response, UploadFile
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from model.config import ModelConfig, TrainConfig, check_options, split_options
from model.panel import nixtla_names, read_panel
from model.panel_train import training_min_rows
from model.store import NAME_REGEX
from model.tables import is_parquet, read_parquet_bytes
from model.windows import DataError, prepare_series, read_csv_text, split_windows
from service.deps import Auth, state
from service.errors import Problem
from service.jobs import MAX_PAGE, JobData, JobStore, UnknownCursor, verdict
from service.schemas import CSV_OPTIONS_EXAMPLE, TRAIN_EXAMPLES, JobStatus, TrainOptions, TrainRequest

router = APIRouter(tags=["training"])
MAX_JOB_VALUES = 2_000_000


def job_view(request: Request, job: dict[str, Any]) -> JobStatus:
    panel = job.get("panel") or {}
    return JobStatus(url=str(request.url_for("get_job", job_id=job["id"])), note=verdict(job["metrics"]),
                     series=panel.get("series"), short_series=panel.get("short"),
                     **{k: v for k, v in job.items() if k in JobStatus.model_fields and k not in ("url", "note")})


SHOWN_SHORT = 3  # series named in the 422 of a panel with none usable (the rest are counted)


def _check_panel(given: dict[str, Any], config: ModelConfig, train_config: TrainConfig,
                 frame: pd.DataFrame) -> dict[str, Any]:
    """A panel's options with Nixtla's names resolved (what the job stores and trains with), or a 422:
    no id column, or no series long enough to train on (the first few ids and why)."""
    config, time_column = nixtla_names(frame, config, given.get("time_column"))
    given = {**given, "targets": config.targets, "time_column": time_column}
    if config.id_column not in frame.columns:
        reason = f"no column {config.id_column!r} in the data; it has {list(map(str, frame.columns))}"
        raise Problem(422, f"options.id_column: {reason}", [{"field": "options.id_column", "reason": reason}])
    wanted = dict.fromkeys([*config.targets, *config.covariates, *([time_column] if time_column else [])])
    unknown = [c for c in wanted if c not in frame.columns]
    if unknown:  # said once here, not once per series
        raise DataError(f"unknown column(s) {unknown}; the data has {list(map(str, frame.columns))}")
    panel = read_panel(frame, config, time_column, train_config.interpolate, training_min_rows(config))
    if not panel.ids:
        shown = "; ".join(f"{key}: {why}" for key, why in list(panel.short.items())[:SHOWN_SHORT])
        more = f" (and {len(panel.short) - SHOWN_SHORT} more)" if len(panel.short) > SHOWN_SHORT else ""
        raise DataError(f"no series of the {len(panel.short)} can be used: {shown}{more}")
    return given


def _checked(options: TrainOptions, frame: pd.DataFrame) -> dict[str, Any]:
    """The job's options once the data fits them (a panel's with Nixtla's names resolved), or a 422."""
    given = options.model_dump()
    config, train_config = split_options(given)
    try:
        check_options(config, train_config)
        if config.id_column is not None:
            return _check_panel(given, config, train_config, frame)
        series = prepare_series(frame, config, options.time_column, train_config.interpolate)
        split_windows(len(series.values), config.input_size, config.horizon, train_config.val_fraction,
                      train_config.test_fraction, train_config.calibration_fraction)
    except DataError as exc:
        raise Problem(422, str(exc), [{"field": "data", "reason": str(exc)}]) from exc
    return given


async def enqueue(request: Request, name: str, options: TrainOptions, data: JobData, frame: pd.DataFrame) -> JobStatus:
    """Check the data against the options now (422 at once), then queue the job. The check reads every
    series of a panel: in a thread, so a big upload does not stall other requests."""
    given = await run_in_threadpool(_checked, options, frame)
    app_state = state(request)
    _, train_config = split_options(given)
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
    data = dict(body.data)
    id_column = body.options.model_dump().get("id_column")
    if id_column in data:  # numbers arrive as floats: series 7 stays "7" in the job, not "7.0"
        data[id_column] = [int(v) if isinstance(v, float) and v.is_integer() else v for v in data[id_column]]
    job = await enqueue(request, body.name, body.options, JobData("json", json.dumps(data)), pd.DataFrame(data))
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
             responses={400: {"description": "malformed CSV or Parquet"}, 401: {"description": "API key needed"}})
async def train_csv(
    request: Request, response: Response,
    file: Annotated[UploadFile, File(description="CSV with a header row, or Parquet")],
    name: Annotated[str, Form(pattern=NAME_REGEX)],
    options: Annotated[str, Form(description="TrainOptions as JSON", examples=[CSV_OPTIONS_EXAMPLE])] = "{}",
) -> JobStatus:
    """Train a new version from an uploaded CSV (header row; comma, semicolon or tab; a BOM is fine;
    not gzip) or Parquet file (known by its PAR1 magic bytes, a .parquet name or its content type):
    as /v1/train, with the options as a JSON form field. A panel (`id_column`) is one row per series
    and time step; `unique_id`, `ds`, `y` need no other option."""
    _refuse_unknown_fields(await request.form())
    try:
        parsed = TrainOptions.model_validate_json(options)
    except ValidationError as exc:
        raise Problem(422, f"options: {exc.errors()[0]['msg']}",
                      [{"field": "options." + ".".join(map(str, e["loc"])), "reason": e["msg"]}
                       for e in exc.errors()]) from exc
    raw = await file.read()
    job = await enqueue(request, name, parsed, *_uploaded(raw, file))
    response.headers["Location"] = job.url
    return job


def _uploaded(raw: bytes, file: UploadFile) -> tuple[JobData, pd.DataFrame]:
    """The upload as the job keeps it and as a frame: Parquet as it came, CSV as text (400 if malformed)."""
    if is_parquet(raw[:4], file.filename, file.content_type):
        try:
            return JobData("parquet", raw), read_parquet_bytes(raw)
        except DataError as exc:
            raise Problem(400, str(exc)) from exc
    try:
        text = raw.decode("utf-8-sig")  # a BOM from spreadsheet exports is not part of the header
        return JobData("csv", text), read_csv_text(text)
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError, ValueError, csv.Error) as exc:
        raise Problem(400, f"malformed CSV: {exc}") from exc


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
