// The page at /: draws forecasts and starts training jobs through the same /v1 API anyone can call.
// No framework, no outside requests: the charts are the server's own /v1/models/{name}/plot.svg.
"use strict";

const MODELS = JSON.parse(document.getElementById("models-data").textContent);
const $ = (id) => document.getElementById(id);

function apiKey() {
  return $("api-key").value.trim();
}

async function call(path, options = {}) {
  const headers = Object.assign({}, options.headers || {});
  if (apiKey()) headers["X-API-Key"] = apiKey();
  const response = await fetch(path, Object.assign({}, options, { headers }));
  if (!response.ok) {
    let detail = response.statusText;
    try {
      const problem = await response.json();
      detail = problem.detail || problem.error || detail;
    } catch (e) { /* not JSON */ }
    throw new Error(`${response.status}: ${detail}`);
  }
  return response;
}

function say(id, text, error = false) {
  const el = $(id);
  el.textContent = text;
  el.classList.toggle("error", error);
}

function showChart(svgText) {
  // The SVG comes from this server's plot.svg, which escapes every text it draws.
  $("chart").innerHTML = svgText;
}

// ---- forecasts ----------------------------------------------------------------------------------

function chosen() {
  return MODELS.find((m) => m.name === $("model").value);
}

async function drawBundled() {
  const model = chosen();
  say("forecast-status", `forecasting ${model.name} from its bundled history...`);
  try {
    const response = await call(`/v1/models/${encodeURIComponent(model.name)}/plot.svg`);
    showChart(await response.text());
    say("forecast-status", `${model.name}: the last ${model.input_size} points of its bundled data, ` +
      `the next ${model.horizon} steps with 80% and 95% intervals`);
  } catch (e) {
    say("forecast-status", e.message, true);
  }
}

async function drawBody(body, what) {
  const model = chosen();
  say("forecast-status", `forecasting ${model.name}...`);
  try {
    const response = await call(`/v1/models/${encodeURIComponent(model.name)}/plot.svg`, {
      method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body),
    });
    showChart(await response.text());
    say("forecast-status", `${model.name}: ${what}`);
  } catch (e) {
    say("forecast-status", e.message, true);
  }
}

function drawValues() {
  const values = $("values").value.split(/[\s,;]+/).filter((v) => v !== "").map(Number);
  if (values.some((v) => !Number.isFinite(v))) {
    say("forecast-status", "the values must be numbers, separated by commas, spaces or new lines", true);
    return;
  }
  drawBody({ series: [{ values }], levels: [80, 95] }, `${values.length} pasted values`);
}

function parseCsv(text) {
  const lines = text.replace(/^\uFEFF/, "").split(/\r?\n/).filter((l) => l.trim() !== "");
  const sep = [",", ";", "\t"].sort((a, b) => lines[0].split(b).length - lines[0].split(a).length)[0];
  const header = lines[0].split(sep).map((h) => h.trim().replace(/^"|"$/g, ""));
  const rows = lines.slice(1).map((l) => l.split(sep).map((c) => c.trim().replace(/^"|"$/g, "")));
  const column = (name) => rows.map((r) => r[header.indexOf(name)]);
  return { header, rows, column };
}

function csvBody(text, model) {
  const csv = parseCsv(text);
  const find = (name) => csv.header.find((h) => h.toLowerCase() === name.toLowerCase());
  const numeric = csv.header.filter((h) => csv.column(h).every((v) => v === "" || Number.isFinite(Number(v))));
  const target = find(model.targets[0]) || numeric[numeric.length - 1];
  if (!target) throw new Error("the CSV has no numeric column to forecast");
  const series = { values: csv.column(target).map(Number) };
  const covariates = {};
  for (const name of model.covariates) {
    const col = find(name);
    if (!col) throw new Error(`the model needs the column ${name}`);
    covariates[name] = csv.column(col).map(Number);
  }
  if (model.covariates.length) series.covariates = covariates;
  const time = csv.header.find((h) => !numeric.includes(h));
  if (time && model.frequency) series.timestamps = csv.column(time);
  return { body: { series: [series], levels: [80, 95] }, what: `column ${target} of the CSV (${csv.rows.length} rows)` };
}

async function drawCsv(file) {
  try {
    const { body, what } = csvBody(await file.text(), chosen());
    await drawBody(body, `${file.name}: ${what}`);
  } catch (e) {
    say("forecast-status", e.message, true);
  }
}

// ---- training -----------------------------------------------------------------------------------

async function startTraining(event) {
  event.preventDefault();
  const file = $("train-file").files[0];
  if (!file) {
    say("train-status", "choose a CSV file first", true);
    return;
  }
  const options = {
    targets: [$("train-target").value.trim()],
    input_size: Number($("train-input").value),
    horizon: Number($("train-horizon").value),
    epochs: Number($("train-epochs").value),
  };
  if ($("train-time").value.trim()) options.time_column = $("train-time").value.trim();
  if ($("train-frequency").value.trim()) options.frequency = $("train-frequency").value.trim();
  const form = new FormData();
  form.append("file", file);
  form.append("name", $("train-name").value.trim());
  form.append("options", JSON.stringify(options));
  try {
    const job = await (await call("/v1/train/csv", { method: "POST", body: form })).json();
    say("train-status", `job ${job.id} queued`);
    watch(job.id);
  } catch (e) {
    say("train-status", e.message, true);
  }
}

function describe(job) {
  const loss = (v) => (v === null || v === undefined ? "-" : Number(v).toPrecision(4));
  return `${job.name}: ${job.status}, epoch ${job.epoch}/${job.epochs}, train loss ${loss(job.train_loss)}, ` +
    `validation loss ${loss(job.val_loss)}` + (job.note ? `. ${job.note}` : "") + (job.error ? `. ${job.error}` : "");
}

async function watch(id) {
  const bar = $("train-progress");
  for (;;) {
    let job;
    try {
      job = await (await call(`/v1/jobs/${id}`)).json();
    } catch (e) {
      say("train-status", e.message, true);
      return;
    }
    bar.max = Math.max(job.epochs, 1);
    bar.value = job.epoch;
    say("train-status", describe(job), job.status === "failed");
    $("train-status").dataset.status = job.status;
    if (!["queued", "running"].includes(job.status)) return;
    await new Promise((r) => setTimeout(r, 1000));
  }
}

async function refreshJobs() {
  try {
    const jobs = await (await call("/v1/jobs")).json();
    const rows = jobs.slice(0, 8).map((j) =>
      `<tr><td>${j.created.slice(0, 19).replace("T", " ")}</td><td>${escapeHtml(j.name)}</td><td>${j.status}</td>` +
      `<td>${j.epoch}/${j.epochs}</td><td>${j.val_loss === null ? "-" : Number(j.val_loss).toPrecision(4)}</td>` +
      `<td>${j.version || ""}</td><td>${escapeHtml(j.note || j.error || "")}</td></tr>`);
    $("jobs-body").innerHTML = rows.join("") || '<tr><td colspan="7">no training jobs yet</td></tr>';
  } catch (e) { /* the next refresh tries again */ }
}

function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
}

// ---- wiring -------------------------------------------------------------------------------------

function init() {
  $("api-key").value = localStorage.getItem("gru-forecast-api-key") || "";
  $("api-key").addEventListener("change", () => localStorage.setItem("gru-forecast-api-key", apiKey()));
  $("run-bundled").addEventListener("click", drawBundled);
  $("run-values").addEventListener("click", drawValues);
  $("csv").addEventListener("change", () => $("csv").files[0] && drawCsv($("csv").files[0]));
  const drop = $("drop");
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    if (e.dataTransfer.files[0]) drawCsv(e.dataTransfer.files[0]);
  });
  document.querySelectorAll("[data-forecast]").forEach((button) => button.addEventListener("click", () => {
    $("model").value = button.dataset.forecast;
    drawBundled();
    $("forecast").scrollIntoView();
  }));
  $("train-form").addEventListener("submit", startTraining);
  refreshJobs();
  setInterval(refreshJobs, 2000);
  if ($("model").value) drawBundled();
}

init();
