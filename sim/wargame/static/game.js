// The war-game pages' script (sim/wargame/pages.py): reads the role's view, posts decisions.
"use strict";
const ROLE = document.body.dataset.role;
const TOKEN = new URLSearchParams(location.hash.slice(1)).get("token") || "";
const $ = (id) => document.getElementById(id);
const fmt = (v) => v === null || v === undefined ? "–" : typeof v === "boolean" ? (v ? "yes" : "no") :
  typeof v === "number" ? (Math.abs(v) >= 1e6 ? (v / 1e6).toFixed(2) + " M" :
    Math.abs(v) >= 1e3 ? (v / 1e3).toFixed(1) + " k" :
    Number.isInteger(v) ? String(v) : v.toFixed(Math.abs(v) < 10 ? 3 : 0))
  : String(v);
const pct = (v) => v === null || v === undefined ? "–" : (100 * v).toFixed(1) + "%";
let state = null, filled = -1;

async function api(path, body) {
  const init = {headers: {"Authorization": "Bearer " + TOKEN}};
  if (body !== undefined) {
    init.method = "POST"; init.body = JSON.stringify(body);
    init.headers["Content-Type"] = "application/json";
  }
  const r = await fetch(path, init);
  const data = (r.headers.get("Content-Type") || "").startsWith("application/json")
    ? await r.json() : await r.text();
  if (!r.ok) throw new Error(data.error || r.statusText);
  return data;
}
function say(text, ok) { const m = $("message"); m.textContent = text; m.className = ok ? "ok" : "error"; }
function table(rows, columns, labels) {
  if (!rows || !rows.length) return "<p class='note'>nothing yet</p>";
  const head = columns.map((c, i) => `<th>${labels ? labels[i] : c}</th>`).join("");
  const body = rows.map(r => "<tr>" + columns.map(c => `<td>${fmt(r[c])}</td>`).join("") + "</tr>").join("");
  return `<table><thead><tr>${head}</tr></thead><tbody>${body}</tbody></table>`;
}
function chart(rows, columns, title, unit, names, colours) {
  // an SVG line chart of weekly rows: x = week, one line per column; labelled axes
  if (!rows || !rows.length) return "";
  const W = 900, H = 300, L = 80, B = 40, T = 30, R = 160;
  const xs = rows.map(r => r.week), all = rows.flatMap(r => columns.map(c => r[c] || 0));
  const x0 = Math.min(...xs), x1 = Math.max(x0 + 1, ...xs), y1 = Math.max(1, ...all), y0 = Math.min(0, ...all);
  const X = (x) => L + (W - L - R) * (x - x0) / (x1 - x0), Y = (y) => H - B - (H - B - T) * (y - y0) / (y1 - y0);
  colours = colours || ["#0072B2", "#E69F00", "#CC79A7", "#009E73", "#555555"];
  let s = `<svg viewBox="0 0 ${W} ${H}" width="100%" role="img" aria-label="${title}">`;
  s += `<text x="${L}" y="18">${title}</text>`;
  s += `<line x1="${L}" y1="${H - B}" x2="${W - R}" y2="${H - B}" stroke="#333"/><line x1="${L}" y1="${T}" x2="${L}" y2="${H - B}" stroke="#333"/>`;
  s += `<text x="${(L + W - R) / 2}" y="${H - 6}" text-anchor="middle">Week</text>`;
  s += `<text transform="translate(16 ${(T + H - B) / 2}) rotate(-90)" text-anchor="middle">${unit}</text>`;
  s += `<text x="${L - 6}" y="${Y(y1) + 4}" text-anchor="end">${fmt(y1)}</text><text x="${L - 6}" y="${Y(y0) + 4}" text-anchor="end">${fmt(y0)}</text>`;
  s += `<text x="${X(x0)}" y="${H - B + 16}" text-anchor="middle">${x0}</text><text x="${X(x1)}" y="${H - B + 16}" text-anchor="middle">${x1}</text>`;
  columns.forEach((c, i) => {
    const pts = rows.map(r => `${X(r.week).toFixed(1)},${Y(r[c] || 0).toFixed(1)}`).join(" ");
    s += `<polyline fill="none" stroke="${colours[i % 5]}" stroke-width="2.5" points="${pts}"/>`;
    s += `<text x="${W - R + 8}" y="${T + 16 * (i + 1)}" fill="${colours[i % 5]}">${names ? names[i] : c.replaceAll("_", " ")}</text>`;
  });
  return s + "</svg>";
}
function header(s) {
  const left = s.deadline ? Math.round((new Date(s.deadline) - Date.now()) / 60000) : null;
  const clock = s.deadline ? `deadline ${new Date(s.deadline).toLocaleTimeString()} ` +
    (left > 0 ? `(${left} min left)` : "(time is up)") : "no deadline";
  const next = s.finished ? "the game is over" : `next: round ${s.round + 1} (weeks ${s.next_weeks[0]}–${s.next_weeks[1]})`;
  $("status").innerHTML = `<p class="clock">Round ${s.round} of ${s.rounds} played · ${next} · ${clock}</p>`;
}
function num(id) { const v = $(id).value.trim(); return v === "" ? null : Number(v); }
function choice(id) { const v = $(id).value; return v === "" ? null : v === "true"; }
function text(id) { const v = $(id).value.trim(); return v === "" ? null : v; }
// a distributor's empty field is its model rule's; the firm's and the competitor's levers stay
const EMPTY = ROLE.startsWith("distributor") ? "the model decides" : "stays as it is";
function field(id, label, help, input) {
  const empty = id === "announcement" ? "nothing said" : EMPTY;
  return `<label for="${id}">${label}${input}<span class="help">${help || ""} (empty: ${empty})</span></label>`;
}
function yesno(id, yes, no) {
  return `<select id="${id}"><option value="">${EMPTY}</option><option value="true">${yes}</option><option value="false">${no}</option></select>`;
}
function setValue(id, v) { if ($(id) && v !== undefined && v !== null) $(id).value = String(v); }

// ---------------------------------------------------------------- role pages
const render = {
  "distributor": (s) => {
    $("facts").innerHTML = `<h2>Your business (distributor ${s.distributor})</h2>
      <p>Status: <strong>${s.status}</strong> · markup ${pct(s.markup)} · effort ${pct(s.effort)} ·
      our line is ${pct(s.dependence_on_our_line)} of your sales</p>
      <h3>Your profit by round</h3>${table(s.rounds_pnl, ["round", "line_profit", "total_profit"], ["Round", "Profit on the manufacturer's line", "Profit, whole portfolio"])}
      ${chart(s.weekly, ["total_profit", "line_profit"], "Your weekly profit", "currency units a week")}
      ${chart(s.weekly, ["accounts"], "Your active accounts (demand trend below)", "accounts")}
      ${chart(s.weekly, ["demand_units"], "Units your accounts asked you for", "units a week")}
      <h3>The manufacturer's terms and plan</h3>
      <p>Wholesale price ${pct(s.our_terms.wholesale_price_share_of_list)} of list · referral fee ${pct(s.our_terms.distributor_referral_fee)} · deal registration ${s.our_terms.deal_registration ? "on" : "off"}</p>
      ${table(s.our_terms.channel_plan, ["product", "segment", "to", "start_week", "ramp_weeks", "share"], ["Product", "Segment", "Moved to", "From week", "Over weeks", "Share moved"])}
      <h3>The manufacturer's announcements</h3>${table(s.announcements, ["round", "text"], ["Round", "Announcement"])}
      <h3>The competitor line's offer</h3><p>Its margin at list ${pct(s.competitor_offer.alternative_margin)}; at your resale price ${pct(s.competitor_offer.its_margin_at_your_price)}</p>`;
    if (filled === s.round) return;
    $("form").innerHTML = field("markup", "Markup over our wholesale price", s.fields.markup, `<input id="markup" type="number" step="0.01" min="0" max="2">`)
      + field("effort", "Effort for our line (0–1)", s.fields.effort, `<input id="effort" type="number" step="0.05" min="0" max="1">`)
      + `<fieldset><legend>Push to the competitor's line</legend><label><input type="checkbox" id="push_set"> decide which lines (else the model decides)</label>`
      + s.products.map(p => `<label><input type="checkbox" class="push" value="${p}"> ${p}</label>`).join("") + `</fieldset>`
      + field("exit", "Our line", s.fields.exit, yesno("exit", "drop the line", "keep the line"))
      + field("announcement", "Announcement to the manufacturer", "", `<textarea id="announcement" rows="2"></textarea>`);
    const p = s.pending || {};
    setValue("markup", p.markup); setValue("effort", p.effort); setValue("exit", p.exit); setValue("announcement", p.announcement);
    if (p.push_to_competitor) { $("push_set").checked = true;
      document.querySelectorAll(".push").forEach(b => b.checked = p.push_to_competitor.includes(b.value)); }
    filled = s.round;
  },
  "manufacturer": (s) => {
    $("facts").innerHTML = `<h2>Our channel P&L so far</h2>${table(s.channel_pnl, ["channel", "revenue", "cost_to_serve", "referral_fees", "contribution_margin"], ["Channel", "Revenue", "Cost to serve", "Referral fees", "Contribution margin"])}
      ${chart(s.weekly, ["contribution_margin", "revenue"], "Our weekly revenue and margin", "currency units a week")}
      <h3>Our terms in force</h3><p>Wholesale price ${pct(s.levers.wholesale_price_share_of_list)} of list · referral fee ${pct(s.levers.distributor_referral_fee)} · deal registration ${s.levers.deal_registration ? "on" : "off"}</p>
      <h3>The distributors</h3>${table(s.distributors.map(d => ({...d, resale: pct(d.resale_price)})), ["distributor", "carries_our_line", "resale"], ["Distributor", "Carries our line", "Resale price (share of list)"])}
      <h3>What the distributors announce</h3>${table(s.announcements, ["round", "role", "text"], ["Round", "Distributor", "Announcement"])}`;
    if (filled === s.round) return;
    $("form").innerHTML = field("distributor_referral_fee", "Referral fee to distributors", s.fields.distributor_referral_fee, `<input id="distributor_referral_fee" type="number" step="0.01" min="0" max="1">`)
      + field("deal_registration", "Deal registration", s.fields.deal_registration, yesno("deal_registration", "on", "off"))
      + field("distributor_margin", "Distributors' margin off list (wholesale price = 1 − margin)", s.fields.distributor_margin, `<input id="distributor_margin" type="number" step="0.01" min="0" max="0.99">`)
      + `<fieldset><legend>The plan's moves</legend><p class="note">Change a row, remove it or add one; a new move starts in week ${s.next_weeks ? s.next_weeks[0] : 1} or later (unchanged: the plan stays).</p>
         <table id="plan"><thead><tr><th>Product</th><th>Segment</th><th>From</th><th>To</th><th>From week</th><th>Over weeks</th><th>Share moved</th><th>Remove</th></tr></thead><tbody></tbody></table>
         <button type="button" id="add_move" onclick="addMove()">Add a move</button></fieldset>`
      + field("announcement", "Announcement to the distributors", "", `<textarea id="announcement" rows="2"></textarea>`);
    const p = s.pending || {};
    setValue("distributor_referral_fee", p.distributor_referral_fee); setValue("deal_registration", p.deal_registration);
    setValue("distributor_margin", p.distributor_margin); setValue("announcement", p.announcement);
    PLAN = {held: JSON.stringify(s.channel_plan), choices: s.plan_choices, next: s.next_weeks ? s.next_weeks[0] : 1};
    (p.channel_plan || s.channel_plan).forEach(addMove);
    filled = s.round;
  },
  "competitor": (s) => {
    $("facts").innerHTML = `<h2>Your line</h2><p>Distributors' margin on your line at list: ${pct(s.offer.alternative_margin)}</p>
      ${chart(s.weekly, ["lost_to_competitor_units"], "Units of the manufacturer's demand your line won", "units a week", ["won from it"])}`;
    if (filled === s.round) return;
    $("form").innerHTML = field("alternative_margin", "What your line pays distributors (their margin at list)", s.fields.alternative_margin, `<input id="alternative_margin" type="number" step="0.01" min="0" max="1">`)
      + field("announcement", "Announcement", "", `<textarea id="announcement" rows="2"></textarea>`);
    setValue("alternative_margin", (s.pending || {}).alternative_margin);
    filled = s.round;
  },
  "facilitator": (s) => {
    $("facts").innerHTML = `<h2>Teams</h2>${table(s.teams.map(t => ({team: t, decided: s.finished ? "game over" : s.submitted.includes(t) ? "yes" : "not yet (model decides)"})), ["team", "decided"], ["Team", "Decided this round"])}
      <p><a href="/projector#token=${TOKEN}" target="_blank">Projector view</a></p>`;
    projector(s);
  },
  "projector": (s) => projector(s),
};
function projector(s) {
  // channel names and colours are the report's (sim.channels, passed in by the page)
  const names = Object.keys(CHANNEL_STYLE);
  $("market").innerHTML = (ROLE === "projector" ? "" : `<h2>The market</h2>`)
    + chart(s.market.weeks, names.map(c => "revenue_" + c), "Our revenue by channel, week by week", "currency units a week",
            names.map(c => CHANNEL_STYLE[c].label), names.map(c => CHANNEL_STYLE[c].colour))
    + chart(s.market.weeks, ["distributors_active"], "Distributors carrying our line", "distributors");
}
const decide = {
  "distributor": () => ({markup: num("markup"), effort: num("effort"), exit: choice("exit"), announcement: text("announcement"),
    push_to_competitor: $("push_set").checked ? [...document.querySelectorAll(".push")].filter(b => b.checked).map(b => b.value) : null}),
  "manufacturer": () => {
    const rows = planRows();
    return {distributor_referral_fee: num("distributor_referral_fee"), deal_registration: choice("deal_registration"),
      distributor_margin: num("distributor_margin"), channel_plan: JSON.stringify(rows) === PLAN.held ? null : rows,
      announcement: text("announcement")};
  },
  "competitor": () => ({alternative_margin: num("alternative_margin"), announcement: text("announcement")}),
};
// ---------------------------------------------------------------- the plan's moves, as a table
let PLAN = null;
const PLAN_KEYS = ["product", "segment", "from", "to", "start_week", "ramp_weeks", "share"];
function addMove(row) {
  row = row || {product: PLAN.choices.products[0], segment: PLAN.choices.segments[0], from: "distributor",
                to: "ecommerce", start_week: PLAN.next, ramp_weeks: 13, share: 0.5};
  const pick = (key, options) => `<select data-key="${key}">` + options.map(o =>
    `<option${o === row[key] ? " selected" : ""}>${o}</option>`).join("") + "</select>";
  const number = (key, step) => `<input data-key="${key}" type="number" step="${step}" value="${row[key]}">`;
  const tr = document.createElement("tr");
  tr.className = "move";
  tr.innerHTML = `<td>${pick("product", PLAN.choices.products)}</td><td>${pick("segment", PLAN.choices.segments)}</td>`
    + `<td>${pick("from", PLAN.choices.channels)}</td><td>${pick("to", PLAN.choices.channels)}</td>`
    + `<td>${number("start_week", 1)}</td><td>${number("ramp_weeks", 1)}</td><td>${number("share", 0.05)}</td>`
    + `<td><input type="checkbox" class="remove"></td>`;
  document.querySelector("#plan tbody").appendChild(tr);
}
function planRows() {
  // rows in the scenario file's form, in the table's order; numbers as numbers
  return [...document.querySelectorAll("#plan tr.move")].filter(tr => !tr.querySelector(".remove").checked)
    .map(tr => Object.fromEntries(PLAN_KEYS.map(k => {
      const v = tr.querySelector(`[data-key=${k}]`).value;
      return [k, ["start_week", "ramp_weeks", "share"].includes(k) ? Number(v) : v];
    })));
}
async function refresh() {
  try {
    state = await api("/api/state" + (ROLE === "projector" ? "" : "?role=" + encodeURIComponent(ROLE)));
    header(state);
    render[ROLE.split(":")[0]](state);
  } catch (e) { say(e.message, false); }
}
async function submit() {
  try { const r = await api("/api/decision?role=" + encodeURIComponent(ROLE), decide[ROLE.split(":")[0]]());
        say("decision saved for round " + (r.round + 1), true); }
  catch (e) { say(e.message, false); }
}
async function facilitate(what) {
  try {
    if (what === "start") { const r = await api("/api/start", {minutes: $("minutes").value || null}); say("round open" + (r.deadline ? ", deadline " + r.deadline : ""), true); }
    if (what === "advance") { say("playing the round…", true); const r = await api("/api/advance", {}); say(`round ${r.round} played` + (r.finished ? ": the game is over" : ""), true); filled = -1; }
    if (what === "report") { const page = await api("/api/report"); const url = URL.createObjectURL(new Blob([page], {type: "text/html"})); window.open(url, "_blank"); }
  } catch (e) { say(e.message, false); }
  refresh();
}
window.addEventListener("load", () => { refresh(); setInterval(refresh, 5000); });
