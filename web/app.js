// The dashboard (docs/API.md, "Dashboard"): a hash router, one view at a
// time, each refreshed with ETag requests at most every 2 s while the tab
// is visible and not at all while it is hidden.
import { ApiError, follow, getJSON, getText, jobPath, runPath, send } from './api.js';
import {
  badge, button, confirmDialog, duration, h, logBox, parseTime, replace, timeEl,
} from './ui.js';

const REFRESH_MS = 2000;
const main = document.getElementById('main');
const bannerEl = document.getElementById('banner');
let view = null; // {refresh(), stop()}
let timer = null;

// ---- the banner: errors and confirmations ----

function explain(err) {
  if (!(err instanceof ApiError)) return String(err && err.message ? err.message : err);
  if (err.status === 0) return 'The host cannot be reached; trying again every 2 seconds.';
  if (err.status === 401) return 'Not signed in (401): reload the page to sign in again.';
  return `${err.message} (${err.status})`;
}

function banner(text, kind = 'error') {
  bannerEl.className = kind;
  replace(bannerEl, h('span', {}, text),
    button('Dismiss', () => { bannerEl.hidden = true; }, { class: 'link' }));
  bannerEl.hidden = false;
}

function clearError() {
  if (bannerEl.className === 'error' && /reached|401/.test(bannerEl.textContent)) bannerEl.hidden = true;
}

// Runs an action, then refreshes the view; its error goes to the banner.
async function act(what, fn) {
  try {
    await fn();
    if (what) banner(what, 'ok');
  } catch (e) {
    banner(explain(e));
  }
  refresh();
}

// ---- refreshing ----

let inflight = null; // the view whose refresh is under way

async function refresh() {
  if (!view || document.visibilityState !== 'visible' || inflight === view) return;
  const v = view;
  inflight = v;
  try {
    await v.refresh();
    clearError();
    // When the first view was drawn, for the browser test and the bench.
    if (!document.documentElement.dataset.ready) {
      document.documentElement.dataset.ready = String(Math.round(performance.now()));
    }
  } catch (e) {
    if (v === view && e.name !== 'AbortError') banner(explain(e));
  } finally {
    if (inflight === v) inflight = null;
  }
}

function schedule() {
  clearInterval(timer);
  timer = setInterval(refresh, REFRESH_MS);
}

document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'visible') refresh();
});

// ---- shared pieces ----

// Follows a live log into box while the tab is visible. A hidden tab
// closes its stream (a browser keeps at most 6 connections to a host, and
// a dozen hidden tabs must not take them all) and opens it again when it
// is shown: pathFor(bytes) says where to start, reset() clears the box when
// the stream cannot go on from where it stopped.
function follower(pathFor, box, reset) {
  let ctl = null;
  let bytes = 0;
  let over = false;
  const halt = () => {
    if (!ctl) return;
    const c = ctl;
    ctl = null;
    c.abort();
  };
  const start = () => {
    if (ctl || over || document.visibilityState !== 'visible') return;
    const c = new AbortController();
    ctl = c;
    if (reset) reset();
    follow(pathFor(bytes), (t, n) => { box.append(t); bytes += n; }, c.signal)
      .then(() => { if (ctl === c) { over = true; ctl = null; } })
      .catch((e) => {
        if (ctl === c) ctl = null;
        if (e.name !== 'AbortError') banner(explain(e));
      });
  };
  const onVisibility = () => (document.visibilityState === 'visible' ? start() : halt());
  document.addEventListener('visibilitychange', onVisibility);
  return {
    start,
    stop() {
      document.removeEventListener('visibilitychange', onVisibility);
      over = true;
      halt();
    },
  };
}

function statusOf(job) {
  if (job.type === 'continuous') return job.status;
  return job.latest_run ? job.latest_run.status : 'Never run';
}

function jobLink(job) {
  return h('a', { href: `#/jobs/${job.type}/${encodeURIComponent(job.name)}` }, job.name);
}

function runLink(name, run, text) {
  return h('a', { href: `#/jobs/triggered/${encodeURIComponent(name)}/runs/${run.id}` }, text || run.id);
}

function inProgress(status) {
  return ['Initializing', 'Running', 'Queued'].includes(status);
}

// The run form: an arguments field and a Run button.
function runForm(name) {
  const args = h('input', { type: 'text', placeholder: 'arguments', 'aria-label': `Arguments for ${name}`, class: 'args' });
  return h('form', {
    class: 'inline',
    onsubmit: (ev) => {
      ev.preventDefault();
      act(`Run of ${name} started.`, () => send('POST', runPath(name, args.value.trim())));
    },
  }, args, h('button', { type: 'submit' }, 'Run'));
}

function actions(job) {
  const out = [];
  if (job.type === 'triggered') {
    out.push(runForm(job.name));
    out.push(button('Abort', () => act(`Abort of ${job.name} asked.`,
      () => send('POST', `${jobPath('triggered', job.name)}/abort`))));
  } else {
    const stopped = job.status === 'Stopped';
    out.push(button(stopped ? 'Start' : 'Stop', () => act(`${job.name} ${stopped ? 'started' : 'stopped'}.`,
      () => send('POST', `${jobPath('continuous', job.name)}/${stopped ? 'start' : 'stop'}`))));
  }
  out.push(button('Delete', async () => {
    if (await confirmDialog(`Delete the ${job.type} job ${job.name}? Its files and its history go too.`, 'Delete')) {
      act(`${job.name} deleted.`, () => send('DELETE', jobPath(job.type, job.name)));
      if (location.hash.startsWith(`#/jobs/${job.type}/`)) location.hash = '#/jobs';
    }
  }, { class: 'danger' }));
  return h('div', { class: 'actions' }, out);
}

// ---- the deploy form ----

function deployForm() {
  const type = h('select', { 'aria-label': 'Type' },
    h('option', { value: 'triggered' }, 'triggered'), h('option', { value: 'continuous' }, 'continuous'));
  const name = h('input', { type: 'text', placeholder: 'name (from the file when empty)', 'aria-label': 'Job name' });
  const file = h('input', { type: 'file', 'aria-label': 'Job file or zip', class: 'hidden-file' });
  const zone = h('div', { class: 'drop', tabindex: 0, role: 'button' },
    'Drop a .zip or a script here, or press Enter to choose one');
  const upload = (f) => {
    const n = name.value.trim() || f.name.replace(/\.[^.]*$/, '').replace(/[^A-Za-z0-9_-]/g, '-');
    const zip = /\.zip$/i.test(f.name);
    act(`${n} deployed.`, () => send('PUT', jobPath(type.value, n), f, {
      'Content-Disposition': `attachment; filename=${f.name.replace(/[^A-Za-z0-9._-]/g, '_')}`,
      'Content-Type': zip ? 'application/zip' : 'application/octet-stream',
    }));
    name.value = '';
  };
  zone.addEventListener('click', () => file.click());
  zone.addEventListener('keydown', (ev) => { if (ev.key === 'Enter' || ev.key === ' ') { ev.preventDefault(); file.click(); } });
  zone.addEventListener('dragover', (ev) => { ev.preventDefault(); zone.classList.add('over'); });
  zone.addEventListener('dragleave', () => zone.classList.remove('over'));
  zone.addEventListener('drop', (ev) => {
    ev.preventDefault();
    zone.classList.remove('over');
    if (ev.dataTransfer.files.length) upload(ev.dataTransfer.files[0]);
  });
  file.addEventListener('change', () => { if (file.files.length) upload(file.files[0]); file.value = ''; });
  return h('details', { class: 'deploy' }, h('summary', {}, 'Deploy a job'),
    h('div', { class: 'row' }, type, name), zone, file);
}

// ---- Overview ----

function overview() {
  const running = h('section', {}, h('p', { class: 'muted' }, 'Loading…'));
  const failures = h('section', {});
  const due = h('section', {});
  const histories = new Map(); // name -> {key, runs}
  replace(main, h('h1', {}, 'Overview'),
    h('h2', {}, 'Running now'), running,
    h('h2', {}, 'Failures in the last 24 hours'), failures,
    h('h2', {}, 'Due in the next 24 hours'), due);
  return {
    async refresh() {
      const { data: jobs } = await getJSON('/api/webjobs');
      const now = Date.now();
      const live = jobs.filter((j) => inProgress(statusOf(j)) || (j.type === 'continuous' && j.status === 'Running'));
      replace(running, live.length ? h('ul', {}, live.map((j) => h('li', {}, jobLink(j), ' ', badge(statusOf(j)),
        j.latest_run && inProgress(j.latest_run.status) ? [' since ', timeEl(j.latest_run.start_time)] : '')))
        : h('p', { class: 'muted' }, jobs.length ? 'Nothing runs right now.' : 'No jobs yet — deploy one on the Jobs page.'));
      // A job's history is read again only when its latest run changed.
      const failed = [];
      for (const j of jobs.filter((x) => x.type === 'triggered' && x.latest_run)) {
        const key = `${j.latest_run.id} ${j.latest_run.status}`;
        let hist = histories.get(j.name);
        if (!hist || hist.key !== key) {
          const { data } = await getJSON(`${jobPath('triggered', j.name)}/history`);
          hist = { key, runs: data.runs };
          histories.set(j.name, hist);
        }
        for (const r of hist.runs) {
          const t = parseTime(r.start_time);
          if (t && now - t.getTime() < 86400e3 && (r.status === 'Failed' || r.status === 'Aborted')) failed.push([j.name, r, t]);
        }
      }
      failed.sort((a, b) => b[2] - a[2]);
      replace(failures, failed.length ? h('ul', {}, failed.map(([n, r]) => h('li', {},
        h('a', { href: `#/jobs/triggered/${encodeURIComponent(n)}` }, n), ' ', badge(r.status), ' ',
        runLink(n, r, 'run'), ' ', timeEl(r.start_time))))
        : h('p', { class: 'muted' }, 'No failed run in the last 24 hours.'));
      const soon = jobs.filter((j) => j.next_run && parseTime(j.next_run) - now < 86400e3)
        .sort((a, b) => parseTime(a.next_run) - parseTime(b.next_run));
      replace(due, soon.length ? h('ul', {}, soon.map((j) => h('li', {}, jobLink(j), ' ', timeEl(j.next_run),
        h('span', { class: 'muted' }, ` (${j.settings.schedule})`))))
        : h('p', { class: 'muted' }, 'No scheduled run in the next 24 hours. A job runs on a schedule when its settings have one, such as {"schedule": "0 */5 * * * *"}.'));
    },
  };
}

// ---- Jobs ----

function jobsView() {
  const q = h('input', { type: 'search', placeholder: 'filter by name', 'aria-label': 'Filter by name' });
  const type = h('select', { 'aria-label': 'Filter by type' }, ['all types', 'triggered', 'continuous'].map((t) => h('option', { value: t }, t)));
  const status = h('select', { 'aria-label': 'Filter by status' },
    ['all statuses', 'Running', 'Success', 'Failed', 'Aborted', 'Queued', 'Stopped', 'PendingRestart', 'Never run'].map((t) => h('option', { value: t }, t)));
  const body = h('div', {}, h('p', { class: 'muted' }, 'Loading…'));
  let jobs = [];
  let dirty = true;
  const draw = () => {
    const n = q.value.trim().toLowerCase();
    const shown = jobs.filter((j) => (!n || j.name.toLowerCase().includes(n))
      && (type.selectedIndex === 0 || j.type === type.value)
      && (status.selectedIndex === 0 || statusOf(j) === status.value));
    if (!jobs.length) {
      replace(body, h('div', { class: 'empty' }, h('p', {}, 'No jobs yet — deploy one with “Deploy a job” above, or from a shell:'),
        h('pre', {}, `curl -u USER -X PUT -H 'Content-Disposition: attachment; filename=run.sh' \\\n  --data-binary @run.sh ${location.origin}/api/triggeredwebjobs/hello`)));
      return;
    }
    if (!shown.length) {
      replace(body, h('p', { class: 'muted' }, 'No job matches the filter.'));
      return;
    }
    replace(body, h('table', { class: 'jobs' },
      h('thead', {}, h('tr', {}, ['Name', 'Type', 'Status', 'Schedule', 'Latest run', ''].map((t) => h('th', {}, t)))),
      h('tbody', {}, shown.map((j) => {
        const r = j.latest_run;
        return h('tr', {},
          h('td', { 'data-label': 'Name' }, jobLink(j), j.error ? h('div', { class: 'err' }, j.error) : ''),
          h('td', { 'data-label': 'Type' }, j.type),
          h('td', { 'data-label': 'Status' }, badge(statusOf(j))),
          h('td', { 'data-label': 'Schedule' }, j.settings && j.settings.schedule
            ? [h('code', {}, j.settings.schedule), j.next_run ? [' next ', timeEl(j.next_run)] : ''] : h('span', { class: 'muted' }, '—')),
          h('td', { 'data-label': 'Latest run' }, r ? [runLink(j.name, r, r.status), ' ', timeEl(r.start_time), ' ',
            h('span', { class: 'muted' }, duration(r.duration))] : h('span', { class: 'muted' }, '—')),
          h('td', { 'data-label': 'Actions' }, actions(j)));
      }))));
  };
  for (const el of [q, type, status]) el.addEventListener('input', draw);
  replace(main, h('h1', {}, 'Jobs'), deployForm(), h('div', { class: 'row filters' }, q, type, status), body);
  return {
    async refresh() {
      const { data, changed } = await getJSON('/api/webjobs');
      const hasRunning = data.some((j) => j.latest_run && inProgress(j.latest_run.status));
      // Relative times and durations move on while runs go on; a row the
      // user is typing in is not redrawn under them.
      jobs = data;
      if (changed || hasRunning) dirty = true;
      if (dirty && !body.contains(document.activeElement)) {
        draw();
        dirty = false;
      }
    },
  };
}

// ---- a settings editor ----

function settingsBox(job) {
  const box = h('section', { class: 'settings' });
  const show = (settings) => {
    replace(box, h('pre', { class: 'json' }, JSON.stringify(settings, null, 2)),
      button('Edit settings', () => edit(settings)));
  };
  const edit = (settings) => {
    const ta = h('textarea', { rows: 8, 'aria-label': 'settings.job as JSON', spellcheck: 'false' });
    ta.value = JSON.stringify(settings, null, 2);
    const err = h('p', { class: 'err', role: 'status' });
    replace(box, ta, err, h('div', { class: 'actions' },
      button('Save', async () => {
        let v;
        try {
          v = JSON.parse(ta.value);
        } catch (e) {
          err.textContent = `Not JSON: ${e.message}`;
          return;
        }
        if (v === null || typeof v !== 'object' || Array.isArray(v)) {
          err.textContent = 'The settings must be a JSON object, such as {"schedule": "0 0 * * * *"}.';
          return;
        }
        await act('Settings saved.', () => send('PUT', `${jobPath(job.type, job.name)}/settings`, JSON.stringify(v),
          { 'Content-Type': 'application/json' }));
        show(v);
      }),
      button('Cancel', () => show(settings))));
    ta.focus();
  };
  show(job.settings || {});
  box.editing = () => box.contains(document.activeElement) && box.querySelector('textarea');
  box.show = show;
  return box;
}

// ---- a triggered job ----

function triggeredView(name) {
  const head = h('div', {});
  const settingsHolder = h('div', {});
  const filter = h('select', { 'aria-label': 'Filter runs by status' },
    ['all', 'Success', 'Failed', 'Aborted', 'Running', 'Queued', 'Initializing'].map((t) => h('option', { value: t }, t)));
  const hist = h('div', {});
  const sched = h('div', {});
  const slog = logBox('Scheduler log');
  let runs = [];
  let settings = null;
  const drawHist = () => {
    const shown = runs.filter((r) => filter.selectedIndex === 0 || r.status === filter.value);
    replace(hist, shown.length ? h('table', { class: 'runs' },
      h('thead', {}, h('tr', {}, ['Run', 'Status', 'Started', 'Duration', 'Trigger', 'Attempt'].map((t) => h('th', {}, t)))),
      h('tbody', {}, shown.map((r) => h('tr', {},
        h('td', { 'data-label': 'Run' }, runLink(name, r)),
        h('td', { 'data-label': 'Status' }, badge(r.status)),
        h('td', { 'data-label': 'Started' }, timeEl(r.start_time)),
        h('td', { 'data-label': 'Duration' }, duration(r.duration)),
        h('td', { 'data-label': 'Trigger' }, r.trigger),
        h('td', { 'data-label': 'Attempt' }, String(r.attempt || 1))))))
      : h('p', { class: 'muted' }, runs.length ? 'No run has that status.' : 'No runs yet — start one with Run above.'));
  };
  filter.addEventListener('input', drawHist);
  replace(main, head, h('h2', {}, 'Settings'), settingsHolder,
    h('h2', {}, 'History'), filter, hist, h('h2', {}, 'Schedule'), sched, h('h2', {}, 'Scheduler log'), slog.el);
  let box = null;
  return {
    async refresh() {
      const { data: job, changed } = await getJSON(jobPath('triggered', name));
      if (changed || !head.firstChild) {
        replace(head, h('h1', {}, name, ' ', h('span', { class: 'muted' }, 'triggered')),
          job.error ? h('p', { class: 'err' }, job.error) : '', actions(job));
      }
      const key = JSON.stringify(job.settings);
      if (!box || (key !== settings && !box.editing())) {
        settings = key;
        box = settingsBox(job);
        replace(settingsHolder, box);
        if (job.settings.schedule) {
          const s = await getJSON(`${jobPath('triggered', name)}/schedule`);
          replace(sched, h('p', {}, h('code', {}, s.data.schedule), ` (${s.data.timezone})`),
            s.data.error ? h('p', { class: 'err' }, s.data.error)
              : h('ol', {}, s.data.next.map((t) => h('li', {}, timeEl(t), h('span', { class: 'muted' }, ` ${t}`)))));
        } else {
          replace(sched, h('p', { class: 'muted' }, 'No schedule. Add one in the settings, such as {"schedule": "0 */5 * * * *"} (every 5 minutes).'));
        }
      }
      const hr = await getJSON(`${jobPath('triggered', name)}/history`);
      if (hr.changed || runs.some((r) => inProgress(r.status)) || !hist.firstChild) {
        runs = hr.data.runs;
        drawHist();
      }
      if (job.scheduler_logs_url) {
        const text = await getText(new URL(job.scheduler_logs_url).pathname);
        if (text !== null && text.length !== slog.length) slog.set(text);
      } else if (!slog.length) {
        slog.set('(no schedule has fired yet)');
      }
    },
  };
}

// ---- a run ----

function runView(name, id) {
  const facts = h('dl', { class: 'facts' });
  const head = h('div', {});
  const out = logBox('Output log');
  const errBox = h('div', {});
  const links = h('p', { class: 'links' });
  const live = follower((at) => `${jobPath('triggered', name)}/history/${id}/log?offset=${at}`, out);
  let args = undefined;
  let ended = false;
  replace(main, head, facts, links, h('h2', {}, 'Output'), out.el, h('h2', {}, 'Errors'), errBox);
  return {
    stop() { live.stop(); },
    async refresh() {
      const { data: run, changed } = await getJSON(`${jobPath('triggered', name)}/history/${id}`);
      if (args === undefined) {
        // The arguments are in the run's record (not in Kudu's run JSON).
        const rec = await getText(`/vfs/data/jobs/triggered/${encodeURIComponent(name)}/${id}/status`);
        try { args = rec ? (JSON.parse(rec).Arguments || '') : ''; } catch (e) { args = ''; }
      }
      live.start();
      if (!changed && ended) return;
      ended = !inProgress(run.status);
      replace(head, h('h1', {}, h('a', { href: `#/jobs/triggered/${encodeURIComponent(name)}` }, name), ' / run ', id),
        inProgress(run.status) ? button('Abort this run', () => act('Abort asked.',
          () => send('POST', `${jobPath('triggered', name)}/history/${id}/abort`))) : '');
      const row = (k, v) => [h('dt', {}, k), h('dd', {}, v)];
      replace(facts, row('Status', badge(run.status)), row('Started', [timeEl(run.start_time), h('span', { class: 'muted' }, ` ${run.start_time}`)]),
        row('Ended', timeEl(run.end_time)), row('Duration', duration(run.duration)), row('Trigger', run.trigger),
        row('Attempt', String(run.attempt || 1)), row('Arguments', args ? h('code', {}, args) : h('span', { class: 'muted' }, 'none')));
      replace(links, run.output_url ? h('a', { href: new URL(run.output_url).pathname, download: `${name}-${id}-output_log.txt` }, 'Download the output log') : '',
        run.error_url ? [' · ', h('a', { href: new URL(run.error_url).pathname, download: `${name}-${id}-error_log.txt` }, 'Download the error log')] : '');
      if (run.error_url) {
        const text = await getText(new URL(run.error_url).pathname);
        replace(errBox, h('pre', { class: 'log err-log', tabindex: 0 }, text || ''));
      } else {
        replace(errBox, h('p', { class: 'muted' }, 'Nothing on stderr.'));
      }
    },
  };
}

// ---- a continuous job ----

function continuousView(name) {
  const head = h('div', {});
  const inst = h('div', {});
  const settingsHolder = h('div', {});
  const log = logBox('Job log');
  // Shown again, it starts over from the last 200 lines.
  const live = follower(() => `${jobPath('continuous', name)}/log?tail=200`, log, () => log.set(''));
  let box = null;
  let settings = null;
  replace(main, head, h('h2', {}, 'Instances'), inst, h('h2', {}, 'Settings'), settingsHolder, h('h2', {}, 'Log'), log.el);
  return {
    stop() { live.stop(); },
    async refresh() {
      const { data: job, changed } = await getJSON(jobPath('continuous', name));
      live.start();
      if (changed || !head.firstChild) {
        replace(head, h('h1', {}, name, ' ', h('span', { class: 'muted' }, 'continuous'), ' ', badge(job.status)),
          job.error ? h('p', { class: 'err' }, job.error) : '', actions(job));
        const lines = (job.detailed_status || '').split('\n').filter(Boolean);
        replace(inst, lines.length ? h('ul', {}, lines.map((l) => {
          const [id, st] = l.split(' - ');
          return h('li', {}, h('code', {}, id), ' ', badge(st));
        })) : h('p', { class: 'muted' }, 'No instance has started it yet.'));
      }
      const key = JSON.stringify(job.settings);
      if (!box || (key !== settings && !box.editing())) {
        settings = key;
        box = settingsBox(job);
        replace(settingsHolder, box);
      }
    },
  };
}

// ---- routing ----

function route() {
  if (view && view.stop) view.stop();
  const parts = location.hash.replace(/^#\/?/, '').split('/').map(decodeURIComponent);
  document.querySelectorAll('nav a').forEach((a) => a.removeAttribute('aria-current'));
  if (parts[0] === 'jobs' && parts[1] === 'triggered' && parts[2] && parts[3] === 'runs' && parts[4]) {
    view = runView(parts[2], parts[4]);
  } else if (parts[0] === 'jobs' && parts[1] === 'triggered' && parts[2]) {
    view = triggeredView(parts[2]);
  } else if (parts[0] === 'jobs' && parts[1] === 'continuous' && parts[2]) {
    view = continuousView(parts[2]);
  } else if (parts[0] === 'jobs') {
    view = jobsView();
    document.querySelector('nav a[href="#/jobs"]').setAttribute('aria-current', 'page');
  } else {
    view = overview();
    document.querySelector('nav a[href="#/"]').setAttribute('aria-current', 'page');
  }
  bannerEl.hidden = true;
  main.focus({ preventScroll: true });
  refresh();
  schedule();
}

window.addEventListener('hashchange', route);
route();
