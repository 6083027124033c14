// The abrec operator dashboard: plain ES module, no framework, no build step, nothing loaded
// from elsewhere. Every datum comes from the admin API with the admin key the operator pasted;
// the key lives in this tab's sessionStorage only, travels as the x-admin-key header, and is
// never put in a URL or logged. Pages are built with textContent (never innerHTML), and a
// report page is shown in a sandboxed srcdoc iframe that runs no script.

const KEY_STORAGE = 'abrec.adminKey';
const $ = (id) => document.getElementById(id);

/** A refusal of the API: its status and the JSON error it sent. */
class ApiError extends Error {
  constructor(status, error) {
    super(error?.message ?? `HTTP ${status}`);
    this.status = status;
    this.code = error?.code ?? 'http_error';
    this.details = Array.isArray(error?.details) ? error.details : [];
  }
}

const adminKey = () => sessionStorage.getItem(KEY_STORAGE);

/** Calls the admin API; resolves with the parsed body (or text for HTML), throws ApiError on a refusal. */
async function api(method, path, { body, key = adminKey(), accept = 'json' } = {}) {
  const headers = { 'x-admin-key': key ?? '' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    cache: 'no-store',
    credentials: 'omit',
    referrerPolicy: 'no-referrer',
  });
  const text = await response.text();
  const isJson = (response.headers.get('content-type') ?? '').includes('json');
  let parsed = text;
  if (isJson && text !== '') {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
  }
  if (!response.ok) {
    const error = new ApiError(response.status, isJson ? parsed?.error : undefined);
    // A key the API stopped accepting (restart with a new key): back to the sign-in form.
    if ((response.status === 401 || response.status === 403) && key === adminKey() && key !== null) signOut(`${describeError(error)} Sign in again.`);
    throw error;
  }
  return accept === 'json' && !isJson ? undefined : parsed;
}

/** `409 conflict: message` and every field problem the message does not already say, for the refusal messages. */
function describeError(error) {
  if (!(error instanceof ApiError)) return `The request failed: ${error?.message ?? error}`;
  const details = error.details
    .filter((d) => !error.message.includes(d.message))
    .map((d) => `${d.field}: ${d.message}`)
    .join('; ');
  return `${error.status} ${error.code}: ${error.message}${details ? ` (${details})` : ''}`;
}

// ---------------------------------------------------------------- DOM helpers

/** createElement with attributes / properties and children (strings become text nodes). */
function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === 'class') element.className = value;
    else if (name.startsWith('on')) element.addEventListener(name.slice(2), value);
    else element.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children.flat())
    if (child !== undefined && child !== null && child !== false) element.append(child instanceof Node ? child : String(child));
  return element;
}

const replace = (container, ...children) => container.replaceChildren(...children.flat().filter((c) => c !== undefined && c !== null));

const integer = new Intl.NumberFormat('en', { maximumFractionDigits: 0 });
const percent = new Intl.NumberFormat('en', { style: 'percent', maximumFractionDigits: 1 });
const decimal = new Intl.NumberFormat('en', { maximumSignificantDigits: 4 });
const dateTime = new Intl.DateTimeFormat('en', { dateStyle: 'medium', timeStyle: 'short', timeZone: 'UTC' });

const formatMetric = (name, value) =>
  typeof value !== 'number' ? '–' : /^(n_|count)/.test(name) || Number.isInteger(value) ? integer.format(value) : decimal.format(value);
const formatDate = (iso) => (iso ? `${dateTime.format(new Date(iso))} UTC` : '–');

function badge(kind, value) {
  return h('span', { class: `badge ${kind}-${String(value).replace(/[^a-z0-9-]/gi, '')}` }, value ?? '–');
}

function message(container, text, kind = 'error') {
  replace(container, text ? h('p', { class: kind }, text) : null);
}

function setStatus(text) {
  $('status').textContent = text;
}

// ---------------------------------------------------------------- sign in / out

function showSignedIn(signedIn) {
  $('sign-in').hidden = signedIn;
  $('app').hidden = !signedIn;
  $('sign-out').hidden = !signedIn;
}

function signOut(reason) {
  sessionStorage.removeItem(KEY_STORAGE);
  showSignedIn(false);
  for (const id of ['experiments-body', 'models-body', 'detail-summary', 'report-summary', 'history', 'results', 'action-result', 'create-result'])
    replace($(id));
  $('report-frame').removeAttribute('srcdoc');
  $('report-frame').hidden = true;
  $('detail').hidden = true;
  $('clock').hidden = true;
  if (location.hash) history.replaceState(null, '', location.pathname);
  const error = $('sign-in-error');
  error.textContent = reason ?? '';
  error.hidden = !reason;
  $('admin-key').focus();
}

async function signIn(event) {
  event.preventDefault();
  const input = $('admin-key');
  const key = input.value.trim();
  input.value = '';
  const error = $('sign-in-error');
  error.hidden = true;
  try {
    const list = await api('GET', '/experiments', { key });
    sessionStorage.setItem(KEY_STORAGE, key);
    showSignedIn(true);
    renderExperiments(list.experiments);
    // Focus moves now, not after the slower loads, so it never jumps away from where the user went.
    $('main').focus();
    await Promise.all([loadClock(), loadModels(), route()]);
  } catch (failure) {
    error.textContent = describeError(failure);
    error.hidden = false;
    input.focus();
  }
}

// ---------------------------------------------------------------- header: virtual clock

async function loadClock() {
  try {
    const clock = await api('GET', '/local/clock');
    const element = $('clock');
    element.replaceChildren(
      'Virtual date ',
      h('strong', {}, clock.day),
      clock.offset_ms ? ` (clock moved ${decimal.format(clock.offset_ms / 86_400_000)} days ahead)` : '',
    );
    element.title = clock.now;
    element.hidden = false;
  } catch {
    // No virtual clock on this runtime (404) or not readable: the header simply omits it.
    $('clock').hidden = true;
  }
}

// ---------------------------------------------------------------- experiments

let current;

function variantList(experiment) {
  return h(
    'ul',
    { class: 'variants' },
    experiment.variants.map((v) =>
      h(
        'li',
        {},
        h('strong', {}, v.name),
        v.is_control ? h('span', { class: 'tag' }, 'control') : null,
        ` ${percent.format(v.weight)} · `,
        h('code', {}, `${v.model_id}@${v.model_version}`),
        v.active === false ? h('span', { class: 'tag' }, 'inactive') : null,
      ),
    ),
  );
}

/** The schedule under an experiment's status: when it ends, or why it stopped. */
function scheduleNote(e) {
  if (e.status === 'running' && e.end_time) return h('div', { class: 'muted' }, `ends ${formatDate(e.end_time)}`);
  if (e.stop_reason && e.stop_reason !== 'manual') return h('div', { class: 'muted' }, e.stop_reason);
  return null;
}

/** A line saying a report is the final one, or nothing. */
function finalNote(document) {
  if (!document?.final) return null;
  return h(
    'p',
    { class: 'final-report' },
    h('strong', {}, 'Final report'),
    `: the experiment ended ${formatDate(document.final.ended_at)} (${document.final.reason}).`,
  );
}

function renderExperiments(list) {
  const body = $('experiments-body');
  if (list.length === 0) return replace(body, h('p', {}, 'No experiments yet.'));
  replace(
    body,
    h(
      'table',
      {},
      h('caption', { class: 'visually-hidden' }, 'Experiments with status, mode, variants, weights and pinned model versions'),
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          ['Experiment', 'Status', 'Mode', 'Variants (weight · pinned model)', 'Winner', 'Updated'].map((t) => h('th', { scope: 'col' }, t)),
        ),
      ),
      h(
        'tbody',
        {},
        list.map((e) =>
          h(
            'tr',
            {},
            h(
              'th',
              { scope: 'row' },
              h('a', { href: `#/experiments/${encodeURIComponent(e.id)}`, 'data-experiment': e.id }, e.id),
              h('div', { class: 'muted' }, e.name),
            ),
            h('td', {}, badge('status', e.status), e.final_report ? h('span', { class: 'tag final' }, 'final') : null, scheduleNote(e)),
            h('td', {}, e.mode ?? 'ab'),
            h('td', {}, variantList(e)),
            h('td', {}, e.winner ?? '–'),
            h('td', {}, formatDate(e.updated_at)),
          ),
        ),
      ),
    ),
  );
}

async function loadExperiments() {
  try {
    renderExperiments((await api('GET', '/experiments')).experiments);
  } catch (error) {
    message($('experiments-body'), describeError(error));
  }
}

function renderDetail(experiment) {
  current = experiment;
  $('detail-title').textContent = `${experiment.name} (${experiment.id})`;
  replace(
    $('detail-summary'),
    h(
      'dl',
      { class: 'facts' },
      h('dt', {}, 'Status'),
      h('dd', {}, badge('status', experiment.status)),
      h('dt', {}, 'Mode'),
      h('dd', {}, experiment.mode ?? 'ab'),
      h('dt', {}, 'Target metric'),
      h('dd', {}, experiment.target_metric?.kind ?? '–'),
      h('dt', {}, 'Minimum sample'),
      h('dd', {}, `${integer.format(experiment.min_sample_size)} users per variant`),
      h('dt', {}, 'Confidence'),
      h('dd', {}, percent.format(experiment.confidence_level)),
      h('dt', {}, 'Ends'),
      h('dd', {}, experiment.end_time ? formatDate(experiment.end_time) : 'no end_time'),
      h('dt', {}, 'Max duration'),
      h('dd', {}, experiment.max_duration_days ? `${integer.format(experiment.max_duration_days)} days from the start` : 'none'),
      experiment.stop_reason ? [h('dt', {}, 'Stopped'), h('dd', {}, experiment.stop_reason)] : null,
      experiment.final_report
        ? [
            h('dt', {}, 'Final report'),
            h('dd', {}, `${experiment.final_report.day} · ${experiment.final_report.decision ?? 'being written'} · alert ${experiment.final_report.alert}`),
          ]
        : null,
      h('dt', {}, 'Revision'),
      h('dd', {}, String(experiment.revision)),
      experiment.winner ? [h('dt', {}, 'Winner'), h('dd', {}, experiment.winner)] : null,
    ),
    variantList(experiment),
  );
  replace(
    $('ramp-fields'),
    experiment.variants.map((v) =>
      h(
        'div',
        { class: 'field' },
        h('label', { for: `ramp-${v.name}` }, v.name),
        h('input', { id: `ramp-${v.name}`, name: v.name, type: 'number', min: 0, max: 1, step: 'any', value: v.weight, required: true }),
      ),
    ),
  );
  const winner = $('promote-winner');
  replace(
    winner,
    h('option', { value: '' }, "the report's winner"),
    experiment.variants.map((v) => h('option', { value: v.name }, v.name)),
  );
}

async function openExperiment(id) {
  $('detail').hidden = false;
  replace($('action-result'));
  replace($('results'));
  setStatus(`Loading ${id}…`);
  try {
    renderDetail(await api('GET', `/experiments/${encodeURIComponent(id)}`));
    await loadReports(id);
    setStatus('');
    $('detail-title').focus();
  } catch (error) {
    $('detail-title').textContent = id;
    replace($('detail-summary'), h('p', { class: 'error' }, describeError(error)));
    setStatus('');
  }
}

// ---------------------------------------------------------------- reports

let newestDay;

async function loadReports(id) {
  const history = $('history');
  newestDay = undefined;
  let days;
  try {
    days = (await api('GET', `/experiments/${encodeURIComponent(id)}/reports`)).reports;
  } catch (error) {
    return message(history, describeError(error));
  }
  if (days.length === 0) {
    replace(history, h('p', {}, 'No daily report yet: the analysis writes one a day (03:00 UTC, or abrec analyze).'));
    replace($('report-summary'), h('p', {}, 'No report yet.'));
    $('report-frame').hidden = true;
    return;
  }
  replace(
    history,
    h(
      'ol',
      { class: 'history' },
      days.map((r) =>
        h(
          'li',
          {},
          h('button', { type: 'button', class: 'link', 'data-day': r.day, onclick: () => showReport(id, r.day) }, r.day),
          ' ',
          r.decision ? badge('decision', r.decision) : h('span', { class: 'muted' }, 'decision not read'),
          r.winner ? ` winner ${r.winner}` : '',
          r.final ? h('span', { class: 'tag final' }, 'final') : null,
        ),
      ),
    ),
  );
  newestDay = days[0].day;
  await showReport(id, newestDay);
}

async function showReport(id, day) {
  const base = `/experiments/${encodeURIComponent(id)}/reports/${encodeURIComponent(day)}`;
  $('report-title').textContent = day === newestDay ? `Latest report (${day})` : `Report of ${day}`;
  try {
    const [json, html] = await Promise.all([api('GET', base), api('GET', `${base}?format=html`, { accept: 'text' })]);
    replace(
      $('report-summary'),
      h(
        'p',
        { class: 'decision' },
        'Decision ',
        badge('decision', json.decision),
        json.winner ? ` · winner ${json.winner}` : '',
        ` · data through ${json.through ?? '–'}`,
      ),
      h('p', {}, json.decision_reason ?? json.reason ?? ''),
      finalNote(json),
    );
    const frame = $('report-frame');
    frame.srcdoc = html;
    frame.hidden = false;
  } catch (error) {
    message($('report-summary'), describeError(error));
  }
}

function renderResults(analysis) {
  const totals = Object.entries(analysis.totals ?? {});
  const columns = ['exposed_users', 'impressions', 'clicks', 'conversions'];
  replace(
    $('results'),
    h(
      'p',
      { class: 'decision' },
      'Decision ',
      badge('decision', analysis.decision),
      analysis.winner ? ` · winner ${analysis.winner}` : '',
      ` · day ${analysis.day}`,
    ),
    h('p', {}, analysis.decision_reason ?? analysis.reason ?? ''),
    finalNote(analysis),
    totals.length
      ? h(
          'table',
          {},
          h('caption', {}, 'Totals per variant'),
          h(
            'thead',
            {},
            h(
              'tr',
              {},
              h('th', { scope: 'col' }, 'Variant'),
              columns.map((c) => h('th', { scope: 'col', class: 'number' }, c.replace('_', ' '))),
            ),
          ),
          h(
            'tbody',
            {},
            totals.map(([variant, t]) =>
              h(
                'tr',
                {},
                h('th', { scope: 'row' }, variant),
                columns.map((c) => h('td', { class: 'number' }, integer.format(t[c] ?? 0))),
              ),
            ),
          ),
        )
      : null,
  );
}

// ---------------------------------------------------------------- actions

async function act(name, body) {
  const result = $('action-result');
  replace(result);
  try {
    const updated = await api('POST', `/experiments/${encodeURIComponent(current.id)}/${name}`, { body: { ...body, expected_revision: current.revision } });
    renderDetail(updated);
    message(result, `${name}: done (status ${updated.status}, revision ${updated.revision}).`, 'ok');
    await loadExperiments();
  } catch (error) {
    message(result, `${name} refused: ${describeError(error)}`);
  }
}

function onSubmit(id, handler) {
  $(id).addEventListener('submit', (event) => {
    event.preventDefault();
    handler();
  });
}

const CREATE_EXAMPLE = {
  id: 'my-experiment',
  name: 'My experiment',
  status: 'draft',
  variants: [
    { name: 'control', model_id: 'content', model_version: '<version>', weight: 0.5, is_control: true },
    { name: 'treatment', model_id: 'als', model_version: '<version>', weight: 0.5 },
  ],
  target_metric: { kind: 'click_through' },
  min_sample_size: 1000,
};

async function create() {
  const result = $('create-result');
  let body;
  try {
    body = JSON.parse($('create-json').value);
  } catch (error) {
    return message(result, `The text is not JSON: ${error.message}`);
  }
  try {
    const created = await api('POST', '/experiments', { body });
    message(result, `Created ${created.id} (${created.status}).`, 'ok');
    await loadExperiments();
  } catch (error) {
    message(result, `create refused: ${describeError(error)}`);
  }
}

// ---------------------------------------------------------------- models

async function loadModels() {
  const body = $('models-body');
  let models;
  try {
    models = (await api('GET', '/models')).models;
  } catch (error) {
    return message(body, describeError(error));
  }
  if (models.length === 0) return replace(body, h('p', {}, 'No model artifacts.'));
  const metricNames = [...new Set(models.flatMap((m) => m.versions.flatMap((v) => Object.keys(v.metrics ?? {}))))].sort();
  // Fill the example with versions that exist, so the create form starts from a valid request.
  const versionOf = (id) => models.find((m) => m.model_id === id)?.latest_version;
  const example = structuredClone(CREATE_EXAMPLE);
  for (const variant of example.variants) variant.model_version = versionOf(variant.model_id) ?? variant.model_version;
  if (!$('create-json').value) $('create-json').value = JSON.stringify(example, null, 2);
  replace(
    body,
    h(
      'div',
      { class: 'scroll' },
      h(
        'table',
        {},
        h('caption', { class: 'visually-hidden' }, 'Model versions with their offline metrics'),
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            h('th', { scope: 'col' }, 'Model'),
            h('th', { scope: 'col' }, 'Version'),
            h('th', { scope: 'col' }, 'Algorithm'),
            h('th', { scope: 'col' }, 'Created'),
            metricNames.map((n) => h('th', { scope: 'col', class: 'number' }, n)),
          ),
        ),
        h(
          'tbody',
          {},
          models.flatMap((m) =>
            m.versions.map((v) =>
              h(
                'tr',
                {},
                h('th', { scope: 'row' }, m.model_id),
                h('td', {}, h('code', {}, v.version), v.latest ? h('span', { class: 'tag latest' }, 'latest') : null),
                h('td', {}, v.error ? h('span', { class: 'error' }, v.error) : (v.algorithm ?? '–')),
                h('td', {}, formatDate(v.created_at)),
                metricNames.map((n) => h('td', { class: 'number' }, formatMetric(n, v.metrics?.[n]))),
              ),
            ),
          ),
        ),
      ),
    ),
  );
}

// ---------------------------------------------------------------- retraining notifications

async function loadRetraining() {
  const body = $('retraining-body');
  let notifications;
  try {
    notifications = (await api('GET', '/local/notifications/retraining')).notifications;
  } catch (error) {
    return message(body, describeError(error));
  }
  if (notifications.length === 0) return replace(body, h('p', {}, 'No retraining run yet.'));
  replace(
    body,
    h(
      'ul',
      { class: 'runs' },
      notifications.map((n) => {
        const m = n.message ?? {};
        const failed = m.outcome === 'failed';
        return h(
          'li',
          {},
          h('strong', {}, formatDate(n.at)),
          ' ',
          badge('run', failed ? 'failed' : 'succeeded'),
          ' ',
          h('code', {}, m.run_id ?? ''),
          failed
            ? h(
                'p',
                { class: 'error' },
                `${m.error?.Error ?? 'error'}: ${typeof m.error?.Cause === 'string' ? m.error.Cause : JSON.stringify(m.error?.Cause ?? '')}`,
              )
            : h(
                'ul',
                {},
                (m.models ?? []).map((model) =>
                  h(
                    'li',
                    {},
                    h('strong', {}, model.model_id),
                    ` ${model.decision}`,
                    model.decision === 'published' ? [' ', h('code', {}, model.candidate_version)] : null,
                    ` — ${model.reason}`,
                  ),
                ),
                m.snapshot
                  ? h(
                      'li',
                      {},
                      `snapshot: ${m.snapshot.ratings} ratings; logged since the last run: ${Object.entries(m.snapshot.logged ?? {})
                        .map(([k, v]) => `${k} ${v}`)
                        .join(', ')}`,
                    )
                  : null,
                (m.switched ?? []).map((s) =>
                  h('li', {}, `experiment ${s.experiment_id}: ${s.switched ? 'switched to the new versions' : `not switched (${s.reason})`}`),
                ),
              ),
        );
      }),
    ),
  );
}

// ---------------------------------------------------------------- routing

async function route() {
  if (!adminKey()) return;
  const match = location.hash.match(/^#\/experiments\/([^/]+)$/);
  if (match) return openExperiment(decodeURIComponent(match[1]));
  $('detail').hidden = true;
  current = undefined;
}

function start() {
  $('sign-in-form').addEventListener('submit', signIn);
  $('sign-out').addEventListener('click', () => signOut());
  $('refresh').addEventListener('click', () =>
    Promise.all([loadExperiments(), loadModels(), loadClock(), loadRetraining(), current ? openExperiment(current.id) : undefined]),
  );
  $('compute').addEventListener('click', async () => {
    try {
      renderResults(await api('GET', `/experiments/${encodeURIComponent(current.id)}/results`));
    } catch (error) {
      message($('results'), describeError(error));
    }
  });
  onSubmit('start-form', () => act('start', {}));
  onSubmit('stop-form', () => act('stop', {}));
  onSubmit('ramp-form', () => {
    const weights = Object.fromEntries([...$('ramp-fields').querySelectorAll('input')].map((input) => [input.name, Number(input.value)]));
    return act('ramp', { weights });
  });
  onSubmit('promote-form', () => {
    const winner = $('promote-winner').value;
    const force = $('promote-force').checked;
    return act('promote', { ...(winner ? { winner } : {}), ...(force ? { force: true } : {}) });
  });
  onSubmit('create-form', create);
  window.addEventListener('hashchange', route);

  if (adminKey()) {
    showSignedIn(true);
    Promise.all([loadExperiments(), loadModels(), loadClock(), loadRetraining(), route()]);
  } else {
    showSignedIn(false);
    $('admin-key').focus();
  }
}

start();
