// ccsplc dashboard: follows /api/events (server-sent events) and draws what it says.
// The API is documented in docs/dashboard.md. No libraries, no network beyond this server.
'use strict';

const model = {
  status: null,
  events: [],
  samples: [],
};
const MAX_EVENTS_SHOWN = 60;
const TOKEN_KEY = 'ccsplc.dashboard.token';

const $ = (id) => document.getElementById(id);

// The phases of a session in order (ccs_proto::session::Phase), with short labels.
const STEPS = [
  ['Handshake', 'Handshake'],
  ['SessionSetup', 'Setup'],
  ['ServiceSelection', 'Services'],
  ['Authorization', 'Authorization'],
  ['ChargeParameterDiscovery', 'Parameters'],
  ['ConnectAndLock', 'Lock'],
  ['CableCheck', 'Cable check'],
  ['PreCharge', 'Precharge'],
  ['PowerDeliveryStart', 'Power on'],
  ['Charging', 'Charging'],
  ['PowerDeliveryStop', 'Power off'],
  ['WeldingDetection', 'Welding check'],
  ['SessionStop', 'Session stop'],
  ['Finished', 'Done'],
];

function text(id, value) {
  const el = $(id);
  if (el && el.textContent !== value) el.textContent = value;
}

function num(value, digits) {
  return value === null || value === undefined || !Number.isFinite(value) ? '—' : value.toFixed(digits);
}

function clock(tMs) {
  if (!model.status) return '';
  const d = new Date(model.status.started_unix_ms + tMs);
  return d.toLocaleTimeString([], { hour12: false });
}

function yesNo(value, yes, no) {
  return value === null || value === undefined ? '—' : (value ? yes : no);
}

// ----- token: from ?token=, kept in localStorage
function token() {
  return $('token').value.trim();
}

function initToken() {
  const params = new URLSearchParams(location.search);
  let t = params.get('token');
  if (t) {
    try { localStorage.setItem(TOKEN_KEY, t); } catch (_) { /* private mode */ }
    history.replaceState(null, '', location.pathname);
  } else {
    try { t = localStorage.getItem(TOKEN_KEY); } catch (_) { t = null; }
  }
  $('token').value = t || '';
  $('token').addEventListener('change', () => {
    try { localStorage.setItem(TOKEN_KEY, token()); } catch (_) { /* private mode */ }
  });
}

// ----- rendering
function render() {
  const s = model.status;
  if (!s) return;
  text('mode', s.mode.toUpperCase());
  text('version', 'ccsplc ' + s.version);

  const session = s.session;
  text('session-number', session.number ? '#' + session.number : '');
  text('phase', session.phase ? session.phase.name : (session.state === 'idle' ? 'Waiting' : '—'));
  text('checkpoint', session.phase ? String(session.phase.checkpoint) : '');
  const pill = $('session-state');
  pill.dataset.state = session.state;
  text('session-state', session.stop_requested && session.state === 'running' ? 'stopping' : session.state);
  text('protocol', session.protocol || 'no protocol yet');
  renderSteps(session);
  const err = $('session-error');
  err.hidden = !session.error;
  text('session-error', session.error || '');

  const v = s.values;
  text('v-soc', num(v.soc, 0));
  $('soc-bar').style.width = (Number.isFinite(v.soc) ? Math.max(0, Math.min(100, v.soc)) : 0) + '%';
  text('v-present-voltage', num(v.present_voltage, 1));
  text('v-present-current', num(v.present_current, 1));
  text('v-target-voltage', num(v.target_voltage, 1));
  text('v-target-current', num(v.target_current, 1));
  text('v-power', num(v.present_power === null ? null : v.present_power / 1000, 2));
  text('v-battery-voltage', num(v.battery_voltage, 1));
  text('l-max-voltage', num(v.evse_max_voltage, 0));
  text('l-max-current', num(v.evse_max_current, 0));
  text('l-max-power', num(v.evse_max_power === null ? null : v.evse_max_power / 1000, 1));

  for (const [part, c] of [['modem', s.modem], ['slac', s.slac]]) {
    const p = $(part + '-state');
    p.dataset.state = c.state;
    text(part + '-state', c.state.replace('_', ' '));
    text(part + '-detail', c.detail || '');
  }
  text('link-text', s.link || '—');

  const h = s.hardware;
  text('h-cp', h.cp_state || '—');
  let contactors = h.contactors_request ? 'request ' + h.contactors_request : '—';
  if (h.contactors_closed !== null) contactors += ', ' + (h.contactors_closed ? 'closed' : 'open');
  text('h-contactors', contactors);
  let lock = h.lock_request || '—';
  if (h.connector_locked !== null) lock += ' (' + (h.connector_locked ? 'locked' : 'unlocked') + ')';
  if (h.plugged_in !== null) lock += h.plugged_in ? ', plugged in' : ', unplugged';
  text('h-lock', lock);
  text('h-inlet', h.inlet_voltage === null ? '—' : num(h.inlet_voltage, 1) + ' V');
  let psu = h.power_supply_enabled === null ? '—' : (h.power_supply_enabled ? 'on' : 'off');
  if (h.power_supply_enabled) psu += ' ' + num(h.power_supply_setpoint_voltage, 0) + ' V / ' + num(h.power_supply_setpoint_current, 0) + ' A';
  if (h.power_supply_voltage !== null) psu += ', measured ' + num(h.power_supply_voltage, 1) + ' V ' + num(h.power_supply_current, 1) + ' A';
  text('h-psu', psu);
  text('h-isolation', h.isolation ? h.isolation.replace('_', ' ') : '—');
  text('h-evccid', h.evcc_id || '—');

  renderControls(s);
  renderMessages(s.messages);
  $('capture-link').hidden = !s.capture;
  if (s.capture) $('capture-link').textContent = 'capture (' + s.capture + ')';
}

let stepsBuilt = false;
function renderSteps(session) {
  const list = $('steps');
  if (!stepsBuilt) {
    list.replaceChildren(...STEPS.map(([name, label]) => {
      const item = document.createElement('li');
      item.textContent = label;
      item.title = name;
      return item;
    }));
    stepsBuilt = true;
  }
  const name = session.phase ? session.phase.name : null;
  let current = STEPS.findIndex(([n]) => n === name);
  const failed = name === 'SafeShutdown' || session.state === 'failed';
  if (name === 'SafeShutdown') current = STEPS.length - 1;
  Array.from(list.children).forEach((item, i) => {
    let state = 'todo';
    if (current >= 0 && i < current) state = 'done';
    if (i === current) state = failed ? 'failed' : (name === 'Finished' ? 'done' : 'current');
    item.dataset.state = state;
  });
}

function renderControls(s) {
  const c = s.controls;
  const running = s.session.state === 'running';
  const stop = $('stop');
  stop.disabled = !c.stop || !running || s.session.stop_requested;
  text('stop', s.session.stop_requested && running ? 'Stopping…' : 'Stop charging');
  $('charger-controls').hidden = !(c.authorize || c.enable);
  const auth = $('authorize');
  auth.disabled = !c.authorize;
  auth.setAttribute('aria-pressed', String(c.authorized === true));
  text('authorize', c.authorized === true ? 'Authorized ✓' : 'Authorize');
  const en = $('enable');
  en.disabled = !c.enable;
  en.setAttribute('aria-pressed', String(c.enabled !== false));
  text('enable', c.enabled === false ? 'Charging disabled' : 'Charging enabled');
  $('token-row').hidden = !c.token_required;
  if (c.disabled_reason && !$('control-message').dataset.kind) {
    text('control-message', 'Read-only: ' + c.disabled_reason);
  }
}

function li(cells) {
  const item = document.createElement('li');
  for (const [cls, content] of cells) {
    const span = document.createElement('span');
    span.className = cls;
    if (content instanceof Node) span.appendChild(content); else span.textContent = content;
    item.appendChild(span);
  }
  return item;
}

function renderMessages(messages) {
  const list = $('messages');
  const items = messages.slice().reverse().map((m) => {
    const body = document.createDocumentFragment();
    const name = document.createElement('span');
    name.className = 'msg-name';
    name.textContent = m.name;
    const summary = document.createElement('span');
    summary.className = 'msg-summary';
    summary.textContent = m.summary;
    body.append(name, summary);
    return li([
      ['time', clock(m.t_ms)],
      [m.direction === 'sent' ? 'dir-sent' : 'dir-received', m.direction === 'sent' ? '→' : '←'],
      ['msg', body],
    ]);
  });
  list.replaceChildren(...items);
  $('no-messages').hidden = messages.length > 0;
}

function describe(e) {
  switch (e.kind) {
    case 'modem': return 'Modem ' + e.state.replace('_', ' ') + (e.detail ? ': ' + e.detail : '');
    case 'slac': return 'SLAC ' + e.state + (e.detail ? ': ' + e.detail : '');
    case 'link': return e.text;
    case 'session_started': return 'Session #' + e.number + ' started';
    case 'protocol': return 'Protocol ' + e.protocol + ' (SchemaID ' + e.schema_id + ')';
    case 'phase': return 'Phase ' + e.name + ' (' + e.checkpoint + ')';
    case 'message': return (e.direction === 'sent' ? '→ ' : '← ') + e.name + ' ' + e.summary;
    case 'hardware': return 'Hardware: ' + e.text;
    case 'failing': return 'Failing, safe shutdown: ' + e.error;
    case 'finished': return e.completed ? 'Session completed' : 'Session failed: ' + (e.error || '');
    case 'control': return 'Dashboard: ' + e.control + (e.value === null ? '' : ' ' + e.value);
    case 'note': return e.text;
    default: return e.kind;
  }
}

function renderEvents() {
  const shown = model.events.filter((e) => e.kind !== 'message').slice(-MAX_EVENTS_SHOWN).reverse();
  $('events').replaceChildren(...shown.map((e) => li([['time', clock(e.t_ms)], ['event', describe(e)]])));
}

// ----- chart (canvas, drawn by hand)
let chartPending = false;
function scheduleChart() {
  if (chartPending) return;
  chartPending = true;
  requestAnimationFrame(() => { chartPending = false; drawChart(); });
}

const ROWS = 5;
// The top of an axis with ROWS grid lines at round numbers, a little above `value`.
function niceMax(value, floor) {
  const raw = Math.max(value * 1.05, floor) / ROWS;
  const magnitude = Math.pow(10, Math.floor(Math.log10(raw)));
  for (const m of [1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) if (m * magnitude >= raw) return m * magnitude * ROWS;
  return 10 * magnitude * ROWS;
}

function mmss(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  return Math.floor(s / 60) + ':' + String(s % 60).padStart(2, '0');
}

function drawChart() {
  const canvas = $('chart');
  const css = getComputedStyle(document.documentElement);
  const color = (name) => css.getPropertyValue(name).trim();
  const ratio = window.devicePixelRatio || 1;
  const w = canvas.clientWidth;
  const h = canvas.clientHeight;
  if (w === 0 || h === 0) return;
  if (canvas.width !== Math.round(w * ratio) || canvas.height !== Math.round(h * ratio)) {
    canvas.width = Math.round(w * ratio);
    canvas.height = Math.round(h * ratio);
  }
  const g = canvas.getContext('2d');
  g.setTransform(ratio, 0, 0, ratio, 0, 0);
  g.clearRect(0, 0, w, h);
  g.font = '12px system-ui, sans-serif';

  const samples = model.samples;
  const pad = { left: 44, right: 44, top: 10, bottom: 22 };
  const pw = w - pad.left - pad.right;
  const ph = h - pad.top - pad.bottom;
  const maxOf = (keys) => samples.reduce((m, s) => Math.max(m, ...keys.map((k) => s[k] || 0)), 0);
  const vMax = niceMax(Math.max(maxOf(['voltage', 'target_voltage']), 0), 50);
  const iMax = niceMax(Math.max(maxOf(['current', 'target_current']), 0), 10);
  const t0 = samples.length ? samples[0].t_ms : 0;
  const t1 = samples.length ? Math.max(samples[samples.length - 1].t_ms, t0 + 10000) : t0 + 60000;
  const x = (t) => pad.left + ((t - t0) / (t1 - t0)) * pw;
  const yV = (u) => pad.top + ph - (u / vMax) * ph;
  const yI = (i) => pad.top + ph - (i / iMax) * ph;

  // grid and axes
  g.strokeStyle = color('--line');
  g.lineWidth = 1;
  g.fillStyle = color('--muted');
  const rows = ROWS;
  for (let k = 0; k <= rows; k++) {
    const y = pad.top + (ph * k) / rows;
    g.beginPath(); g.moveTo(pad.left, y + 0.5); g.lineTo(pad.left + pw, y + 0.5); g.stroke();
    g.textAlign = 'right'; g.textBaseline = 'middle';
    g.fillStyle = color('--volt');
    g.fillText(String(+(vMax * (1 - k / rows)).toFixed(1)), pad.left - 6, y);
    g.textAlign = 'left';
    g.fillStyle = color('--amp');
    g.fillText(String(+(iMax * (1 - k / rows)).toFixed(1)), pad.left + pw + 6, y);
  }
  g.fillStyle = color('--muted');
  g.textBaseline = 'top';
  g.textAlign = 'left'; g.fillText('V', 4, pad.top - 2);
  g.textAlign = 'right'; g.fillText('A', w - 4, pad.top - 2);
  const ticks = Math.max(2, Math.floor(pw / 90));
  for (let k = 0; k <= ticks; k++) {
    const t = t0 + ((t1 - t0) * k) / ticks;
    g.textAlign = k === 0 ? 'left' : (k === ticks ? 'right' : 'center');
    g.fillText(mmss(t - t0), x(t), pad.top + ph + 5);
  }

  if (samples.length === 0) {
    g.textAlign = 'center'; g.textBaseline = 'middle';
    g.fillText('no values yet', pad.left + pw / 2, pad.top + ph / 2);
    return;
  }
  const line = (key, y, stroke, dashed) => {
    g.strokeStyle = stroke;
    g.lineWidth = dashed ? 1.5 : 2.5;
    g.setLineDash(dashed ? [6, 4] : []);
    g.beginPath();
    let open = false;
    for (const s of samples) {
      const value = s[key];
      if (value === null || value === undefined) { open = false; continue; }
      if (open) g.lineTo(x(s.t_ms), y(value)); else { g.moveTo(x(s.t_ms), y(value)); open = true; }
    }
    g.stroke();
    g.setLineDash([]);
  };
  line('target_voltage', yV, color('--volt'), true);
  line('target_current', yI, color('--amp'), true);
  line('voltage', yV, color('--volt'), false);
  line('current', yI, color('--amp'), false);
}

// ----- the event stream
function thin(samples, capacity) {
  while (samples.length > capacity) {
    const kept = samples.filter((_, i) => i % 2 === 0);
    samples.length = 0;
    samples.push(...kept);
  }
}

function applySnapshot(data) {
  model.status = data.status;
  model.events = data.history.events;
  model.samples = data.history.samples;
  render();
  renderEvents();
  scheduleChart();
}

function applyUpdate(u) {
  model.status = u.status;
  if (u.samples_reset) model.samples = [];
  if (u.event) {
    model.events.push(u.event);
    const cap = u.status.history.event_capacity;
    if (model.events.length > cap) model.events.splice(0, model.events.length - cap);
    if (u.event.kind !== 'message') renderEvents();
  }
  if (u.sample) {
    model.samples.push(u.sample);
    thin(model.samples, u.status.history.sample_capacity);
    scheduleChart();
  }
  render();
}

function setLive(state, label) {
  const el = $('live');
  el.dataset.state = state;
  text('live', label);
}

function connect() {
  const source = new EventSource('api/events');
  source.addEventListener('open', () => setLive('live', 'live'));
  source.addEventListener('error', () => {
    setLive('lost', source.readyState === EventSource.CLOSED ? 'disconnected' : 'reconnecting');
  });
  source.addEventListener('snapshot', (e) => { setLive('live', 'live'); applySnapshot(JSON.parse(e.data)); });
  source.addEventListener('update', (e) => applyUpdate(JSON.parse(e.data)));
}

// ----- controls
async function post(path, body) {
  const headers = { 'Content-Type': 'application/json' };
  if (token()) headers.Authorization = 'Bearer ' + token();
  const msg = $('control-message');
  try {
    const response = await fetch(path, { method: 'POST', headers, body: JSON.stringify(body || {}) });
    const answer = await response.json().catch(() => ({}));
    if (response.ok) {
      msg.dataset.kind = 'ok';
      msg.textContent = 'Sent: ' + path.replace('api/', '');
    } else {
      msg.dataset.kind = 'error';
      msg.textContent = answer.error || ('HTTP ' + response.status);
    }
  } catch (e) {
    msg.dataset.kind = 'error';
    msg.textContent = 'Not sent: ' + e.message;
  }
}

function initControls() {
  $('stop').addEventListener('click', () => post('api/stop'));
  $('authorize').addEventListener('click', () => {
    const c = model.status && model.status.controls;
    post('api/authorize', { authorized: !(c && c.authorized === true) });
  });
  $('enable').addEventListener('click', () => {
    const c = model.status && model.status.controls;
    post('api/enable', { enabled: c ? c.enabled === false : false });
  });
}

window.addEventListener('resize', scheduleChart);
initToken();
initControls();
connect();
scheduleChart();
