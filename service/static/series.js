// The series picker of a panel model: its ids from /v1/models/{name}/series (searched by prefix as the
// person types), one series' stored tail from /v1/models/{name}/series/{id}, drawn with its forecast by
// page.js's drawBody (POST plot.svg), as every forecast on the page. Loaded before page.js, which calls
// these only once both scripts have run.
"use strict";

const SERIES_LISTED = 50;  // ids offered at a time: typing more of an id narrows the list
let pickerModel = null;  // the model the picker's id and list belong to
let searches = 0;  // the latest search: an answer that arrives after a newer one is dropped
let drawnSeries = null;  // the series last drawn, so a change event after a pick does not draw it twice

function seriesPath(model, rest) {
  return `/v1/models/${encodeURIComponent(model.name)}/series${rest}`;
}

// The picker shows for a panel model, with its ids listed; it hides for any other model.
async function showPicker() {
  const model = chosen();
  const panel = Boolean(model && model.panel);
  $("series-row").hidden = !panel;
  if (!panel || pickerModel === model.name) return;
  pickerModel = model.name;
  drawnSeries = null;
  $("series-id").value = "";
  await searchSeries();
}

async function searchSeries() {
  const model = chosen();
  const ticket = ++searches;
  const prefix = $("series-id").value.trim();
  try {
    const query = `?limit=${SERIES_LISTED}&prefix=${encodeURIComponent(prefix)}`;
    const page = await (await call(seriesPath(model, query))).json();
    if (ticket !== searches) return null;
    $("series-ids").replaceChildren(...page.ids.map((id) => Object.assign(document.createElement("option"), { value: id })));
    const which = prefix ? `starting with "${prefix}"` : `by ${page.id_column}`;
    $("series-count").textContent = `${page.total.toLocaleString()} series ${which}` +
      (page.next ? `: the first ${page.ids.length} listed, type more of an id to narrow them` : "");
    return page;
  } catch (e) {
    say("forecast-status", e.message, true);
    return null;
  }
}

// The series whose id is typed or picked (the first one when none is): its stored tail and forecast.
async function drawSeries() {
  await showPicker();
  const model = chosen();
  let id = $("series-id").value.trim();
  if (!id) {
    const page = await searchSeries();
    if (!page) return;
    if (!page.ids.length) {
      say("forecast-status", `${model.name} has no series`, true);
      return;
    }
    id = $("series-id").value = page.ids[0];
  }
  drawnSeries = id;
  say("forecast-status", `reading series ${id} of ${model.name}...`);
  let series;
  try {
    series = await (await call(seriesPath(model, `/${encodeURIComponent(id)}`))).json();
  } catch (e) {
    say("forecast-status", e.message + ` (pick an id from the list: ${$("series-count").textContent})`, true);
    return;
  }
  await drawBody({ series: [series], levels: [80, 95] }, `series ${id}: its last ${series.values.length} ` +
    `points as the model kept them, the next ${model.horizon} steps with 80% and 95% intervals`);
}

function onSeriesInput() {
  const typed = $("series-id").value.trim();
  const listed = [...$("series-ids").options].some((o) => o.value === typed);
  if (listed && typed !== drawnSeries) {
    drawSeries();  // an id picked from the list (or typed in full)
    return;
  }
  clearTimeout(onSeriesInput.timer);
  onSeriesInput.timer = setTimeout(searchSeries, 200);  // one search per pause in typing
}

function initSeries() {
  $("series-id").addEventListener("input", onSeriesInput);
  $("series-id").addEventListener("change", () => {  // Enter or leaving the box: an id typed in full
    const typed = $("series-id").value.trim();
    if (typed && typed !== drawnSeries) drawSeries();
  });
  $("run-series").addEventListener("click", drawSeries);
  $("model").addEventListener("change", showPicker);
}
