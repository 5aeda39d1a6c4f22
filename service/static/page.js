// The page at /: draws forecasts and starts training jobs through the same /v1 API anyone can call.
// No framework, no outside requests: the charts are the server's own /v1/models/{name}/plot.svg.
"use strict";

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

let MODELS = JSON.parse(document.getElementById("models-data").textContent);
const HISTORY = "gru-forecast-history:";  // + a model's name: the tail of the CSV it was trained on here

function chosen() {
  return MODELS.find((m) => m.name === $("model").value);
}

function storedHistory(name) {
  try {
    return localStorage.getItem(HISTORY + name);
  } catch (e) {
    return null;
  }
}

// The bundled history (the defaults), a panel model's series picked by id (series.js), else the CSV this
// browser trained the model on, else what to do.
async function drawHistory() {
  const model = chosen();
  if (!model) return;
  showPicker();
  if (model.panel) {
    await drawSeries();
    return;
  }
  if (model.bundled) {
    await drawBundled(model);
    return;
  }
  const stored = storedHistory(model.name);
  if (stored) {
    await drawCsvText(stored, "the end of the CSV it was trained on (kept by this browser)");
    return;
  }
  say("forecast-status", `${model.name} has no bundled history: paste its last ${model.input_size} values ` +
    `(or more) above, or drop a CSV of recent values with a column ${[...model.targets, ...model.covariates]
      .join(", ")}, then forecast`);
}

async function drawBundled(model) {
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

async function drawBody(body, what, hint = "") {
  const model = chosen();
  say("forecast-status", `forecasting ${model.name}...`);
  try {
    const response = await call(`/v1/models/${encodeURIComponent(model.name)}/plot.svg`, {
      method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body),
    });
    showChart(await response.text());
    say("forecast-status", `${model.name}: ${what}`);
  } catch (e) {
    say("forecast-status", e.message + hint, true);
  }
}

// A blank cell is a missing value, never 0 (Number("") is 0): null, which the API refuses, or filled.
const BLANK = /^(|na|n\/a|nan|null|none)$/i;

function cell(text) {
  return text === undefined || BLANK.test(text.trim()) ? null : Number(text);
}

// Linear between the known neighbours, the nearest known value at the ends (as training's interpolate).
function interpolate(values) {
  const known = values.map((v, i) => (v === null ? -1 : i)).filter((i) => i >= 0);
  if (!known.length) return values;
  return values.map((v, i) => {
    if (v !== null) return v;
    const after = known.find((k) => k > i);
    const before = known.filter((k) => k < i).pop();
    if (before === undefined) return values[after];
    if (after === undefined) return values[before];
    return values[before] + (values[after] - values[before]) * (i - before) / (after - before);
  });
}

// Blank cells: filled when "interpolate" is ticked (and said so), else sent as null for the API's 422.
function fillBlanks(columns, places) {
  const blank = [...new Set(Object.values(columns).flatMap((c) => c.flatMap((v, i) => (v === null ? [i] : []))))];
  if (!blank.length) return { note: "", hint: "" };
  const where = `${blank.length} blank cell${blank.length > 1 ? "s" : ""} ` +
    `(${blank.slice(0, 5).map((i) => places[i]).join(", ")}${blank.length > 5 ? ", ..." : ""})`;
  if (!$("interpolate").checked) {
    return { note: "", hint: `. The data has ${where}: fill them, or tick "fill blank cells by linear interpolation"` };
  }
  for (const name of Object.keys(columns)) columns[name] = interpolate(columns[name]);
  return { note: `; ${where} filled by linear interpolation`, hint: "" };
}

function pastedValues() {
  // Two separators with nothing between them are a blank value; runs of spaces or new lines are not.
  const cells = $("values").value.replace(/^[\s,;]+|[\s,;]+$/g, "").split(/\s*[,;\n]\s*|\s+/);
  return cells.length === 1 && cells[0] === "" ? [] : cells.map(cell);
}

function drawValues() {
  const columns = { values: pastedValues() };
  if (columns.values.some((v) => v !== null && !Number.isFinite(v))) {
    say("forecast-status", "the values must be numbers, separated by commas, spaces or new lines", true);
    return;
  }
  const { note, hint } = fillBlanks(columns, columns.values.map((_, i) => `value ${i + 1}`));
  const values = columns.values;
  drawBody({ series: [{ values }], levels: [80, 95] }, `${values.length} pasted values${note}`, hint);
}

function parseCsv(text) {
  const all = text.replace(/^\uFEFF/, "").split(/\r?\n/);
  const numbered = all.map((l, i) => [l, i + 1]).filter(([l]) => l.trim() !== "");
  const sep = [",", ";", "\t"].sort((a, b) => numbered[0][0].split(b).length - numbered[0][0].split(a).length)[0];
  const header = numbered[0][0].split(sep).map((h) => h.trim().replace(/^"|"$/g, ""));
  const rows = numbered.slice(1).map(([l]) => l.split(sep).map((c) => c.trim().replace(/^"|"$/g, "")));
  const lines = numbered.slice(1).map(([, n]) => n);  // the file's line number of each row
  const column = (name) => rows.map((r) => r[header.indexOf(name)]);
  return { header, rows, lines, column };
}

function csvBody(text, model) {
  const csv = parseCsv(text);
  const find = (name) => csv.header.find((h) => h.toLowerCase() === name.toLowerCase());
  const numeric = csv.header.filter((h) => csv.column(h).every((v) => Number.isFinite(cell(v)) || cell(v) === null));
  const target = find(model.targets[0]) || numeric[numeric.length - 1];
  if (!target) throw new Error("the CSV has no numeric column to forecast");
  const columns = { [target]: csv.column(target).map(cell) };
  for (const name of model.covariates) {
    const col = find(name);
    if (!col) throw new Error(`the model needs the column ${name}`);
    columns[col] = csv.column(col).map(cell);
  }
  const { note, hint } = fillBlanks(columns, csv.lines.map((n) => `line ${n}`));
  const series = { values: columns[target] };
  if (model.covariates.length) {
    series.covariates = Object.fromEntries(model.covariates.map((name) => [name, columns[find(name)]]));
  }
  const time = csv.header.find((h) => !numeric.includes(h));
  if (time && model.frequency) series.timestamps = csv.column(time);
  return { body: { series: [series], levels: [80, 95] }, hint,
    what: `column ${target} of the CSV (${csv.rows.length} rows)${note}` };
}

async function drawCsvText(text, label) {
  try {
    const { body, what, hint } = csvBody(text, chosen());
    await drawBody(body, `${label}: ${what}`, hint);
  } catch (e) {
    say("forecast-status", e.message, true);
  }
}

async function drawCsv(file) {
  await drawCsvText(await file.text(), file.name);
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
  if ($("train-interpolate").checked) options.interpolate = true;
  const form = new FormData();
  form.append("file", file);
  form.append("name", $("train-name").value.trim());
  form.append("options", JSON.stringify(options));
  try {
    const job = await (await call("/v1/train/csv", { method: "POST", body: form })).json();
    say("train-status", `job ${job.id} queued`);
    watch(job.id, await file.text());
  } catch (e) {
    const hint = /interpolation/.test(e.message) && !$("train-interpolate").checked ?
      ' (tick "interpolate blanks and skipped times")' : "";
    say("train-status", e.message + hint, true);
  }
}

function describe(job) {
  const loss = (v) => (v === null || v === undefined ? "-" : Number(v).toPrecision(4));
  return `${job.name}: ${job.status}, epoch ${job.epoch}/${job.epochs}, train loss ${loss(job.train_loss)}, ` +
    `validation loss ${loss(job.val_loss)}` + (job.note ? `. ${job.note}` : "") + (job.error ? `. ${job.error}` : "");
}

// The end of a training CSV, kept so that the model's Forecast button has history to start from.
function remember(name, text) {
  const lines = text.replace(/^\uFEFF/, "").split(/\r?\n/).filter((l) => l.trim() !== "");
  let tail = [lines[0], ...lines.slice(Math.max(1, lines.length - 5000))].join("\n");
  if (tail.length > 1_000_000) tail = [lines[0], ...lines.slice(Math.max(1, lines.length - 500))].join("\n");
  try {
    localStorage.setItem(HISTORY + name, tail);
  } catch (e) { /* storage full or off: the Forecast button then says what to do */ }
}

async function watch(id, csvText) {
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
    if (job.status === "succeeded") {
      remember(job.name, csvText);
      await refreshCards();
    }
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

// ---- models: versions, promotion, deletion --------------------------------------------------------

// The cards and the model list again from /, which shows what the store says now.
async function refreshCards() {
  const page = new DOMParser().parseFromString(await (await call("/")).text(), "text/html");
  $("models").innerHTML = page.getElementById("models").innerHTML;
  MODELS = JSON.parse(page.getElementById("models-data").textContent);
  const current = $("model").value;
  $("model").innerHTML = page.getElementById("model").innerHTML;
  if (MODELS.some((m) => m.name === current)) $("model").value = current;
  showPicker();
}

async function promote(name) {
  const version = document.querySelector(`[data-versions="${CSS.escape(name)}"]`).value;
  say("models-status", `promoting ${name} ${version}...`);
  try {
    await call(`/v1/models/${encodeURIComponent(name)}/promote`, {
      method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ version }),
    });
    await refreshCards();
    say("models-status", `${name}: ${version} is live`);
  } catch (e) {
    say("models-status", `${name}: ${e.message}`, true);
  }
}

async function remove(name) {
  if (!window.confirm(`Delete the model ${name} with all its versions? This cannot be undone.`)) return;
  try {
    await call(`/v1/models/${encodeURIComponent(name)}`, { method: "DELETE" });
    try {
      localStorage.removeItem(HISTORY + name);
    } catch (e) { /* storage off */ }
    if ($("model").value === name) {  // its chart and status no longer describe a model
      $("chart").innerHTML = "";
      say("forecast-status", "");
    }
    await refreshCards();
    say("models-status", `${name} deleted`);
  } catch (e) {
    say("models-status", `${name}: ${e.message}`, true);
  }
}

function onCardClick(event) {
  const button = event.target.closest("button");
  if (!button) return;
  if (button.dataset.forecast) {
    $("model").value = button.dataset.forecast;
    drawHistory();
    $("forecast").scrollIntoView();
  } else if (button.dataset.promote) {
    promote(button.dataset.promote);
  } else if (button.dataset.delete) {
    remove(button.dataset.delete);
  }
}

// ---- wiring -------------------------------------------------------------------------------------

function init() {
  $("api-key").value = localStorage.getItem("gru-forecast-api-key") || "";
  $("api-key").addEventListener("change", () => localStorage.setItem("gru-forecast-api-key", apiKey()));
  $("run-bundled").addEventListener("click", drawHistory);
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
  $("models").addEventListener("click", onCardClick);  // one listener: the cards are replaced on refresh
  $("train-form").addEventListener("submit", startTraining);
  initSeries();
  refreshJobs();
  setInterval(refreshJobs, 2000);
  // The first forecaster with history to draw (a user model sorting first has none bundled).
  const first = MODELS.find((m) => m.bundled || m.panel || storedHistory(m.name));
  if (first) {
    $("model").value = first.name;
    drawHistory();
  } else {
    showPicker();
  }
}

init();
