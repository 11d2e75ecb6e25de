"use strict";
const LABELS = {entries: "Eintritte", exits: "Austritte", caseload: "Bestand am Quartalsende",
  registered: "angemeldet", coached: "gecoacht", placed: "vermittelt", participants: "Personen",
  placements: "Vermittlungen", results: "Ergebnisse"};
const label = (key) => LABELS[key] || key;
const shown = (cell) => cell.suppressed ? "." : String(cell.value);

function fillTable(id, table) {
  const el = document.getElementById(id);
  const head = "<tr><th></th>" + table.columns.map((c) => `<th>${label(c)}</th>`).join("") + "</tr>";
  const rows = table.rows.map((r, i) =>
    `<tr data-row="${r}"><th>${label(r)}</th>` +
    table.cells[i].map((cell, j) => `<td data-col="${table.columns[j]}">${shown(cell)}</td>`).join("") +
    "</tr>").join("");
  el.innerHTML = head + rows;
}

function bars(id, table, orientation) {
  const traces = table.columns.map((column, j) => ({
    type: "bar", name: label(column), orientation: orientation,
    x: orientation === "h" ? table.cells.map((line) => line[j].value) : table.rows.map(label),
    y: orientation === "h" ? table.rows.map(label) : table.cells.map((line) => line[j].value),
  }));
  Plotly.newPlot(id, traces, {margin: {t: 10, l: 140}, barmode: "group", showlegend: false},
    {displayModeBar: false, responsive: true});
}

const TOKEN_KEY = "durchstarten-dashboard-token";

/** The bearer token: from the address's fragment once (then removed), else this tab's. */
function token() {
  const given = new URLSearchParams(location.hash.slice(1)).get("token");
  if (given) {
    sessionStorage.setItem(TOKEN_KEY, given);
    // Out of the address bar, the history and any bookmark; fragments never reach a server.
    history.replaceState(null, "", location.pathname);
  }
  return sessionStorage.getItem(TOKEN_KEY);
}

/** Ask for a token with the page's own form; it never leaves the page as part of a URL. */
function askForToken(message) {
  const form = document.getElementById("login");
  document.getElementById("error").textContent = message || "";
  form.hidden = false;
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const field = document.getElementById("token");
    sessionStorage.setItem(TOKEN_KEY, field.value.trim());
    field.value = "";
    form.hidden = true;
    main().catch(showError);
  }, {once: true});
}

function showError(error) { document.getElementById("error").textContent = String(error); }

async function main() {
  const bearer = token();
  if (!bearer) {
    askForToken();
    return;
  }
  const response = await fetch("/v1/dashboard/data", {headers: {Authorization: "Bearer " + bearer}});
  if (response.status === 401) {
    sessionStorage.removeItem(TOKEN_KEY);
    askForToken("Der Zugangstoken ist ungültig oder abgelaufen.");
    return;
  }
  if (!response.ok) {
    document.getElementById("error").textContent = "Die Kennzahlen konnten nicht geladen werden (" + response.status + ").";
    return;
  }
  const data = await response.json();
  document.getElementById("min").textContent = data.min_cell_count;
  const q = data.quarters;
  Plotly.newPlot("chart-quarters", q.columns.map((column, j) => ({
    type: column === "caseload" ? "scatter" : "bar", name: label(column), x: q.rows,
    y: q.cells.map((line) => line[j].value)})), {margin: {t: 10}, legend: {orientation: "h", y: -0.3}},
    {displayModeBar: false, responsive: true});
  fillTable("table-quarters", q);
  bars("chart-funnel", data.funnel, "h"); fillTable("table-funnel", data.funnel);
  bars("chart-placements", data.placements_by_category, "h"); fillTable("table-placements", data.placements_by_category);
  bars("chart-exams", data.exam_results, "v"); fillTable("table-exams", data.exam_results);
  document.body.dataset.ready = "true";
}
main().catch(showError);
