// The host's API as the dashboard uses it: same origin, the browser's own
// Basic credentials, ETags so that a refresh that finds nothing new costs a
// 304 and no re-render.

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

const cache = new Map(); // path -> {etag, data}

async function fail(res) {
  let msg = `${res.status} ${res.statusText}`;
  try {
    const body = await res.json();
    if (body && body.Message) msg = body.Message;
  } catch (e) { /* not JSON */ }
  return new ApiError(res.status, msg);
}

// Marks the dashboard's requests: a 401 then comes without a login
// challenge (no browser login box over the page; the banner says what to do).
const MARK = { 'X-Webjobs-Client': 'dashboard' };

async function call(path, init) {
  try {
    return await fetch(path, { ...init, headers: { ...MARK, ...(init.headers || {}) } });
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(0, 'The host cannot be reached.');
  }
}

// GET a JSON document. Returns {data, changed}: changed is false when the
// host answered 304 (the cached data is returned).
export async function getJSON(path) {
  const old = cache.get(path);
  const headers = old ? { 'If-None-Match': old.etag } : {};
  const res = await call(path, { headers, cache: 'no-store' });
  if (res.status === 304 && old) return { data: old.data, changed: false };
  if (!res.ok) throw await fail(res);
  const data = await res.json();
  const etag = res.headers.get('ETag');
  if (etag) cache.set(path, { etag, data });
  return { data, changed: true };
}

// GET a text file (a log), or null when it does not exist.
export async function getText(path) {
  const res = await call(path, { cache: 'no-store' });
  if (res.status === 404) return null;
  if (!res.ok) throw await fail(res);
  return res.text();
}

// POST, PUT or DELETE; returns the Response (2xx) or throws ApiError.
export async function send(method, path, body, headers) {
  const res = await call(path, { method, body, headers: headers || {} });
  if (!res.ok) throw await fail(res);
  return res;
}

export function jobPath(type, name) {
  return `/api/${type}webjobs/${encodeURIComponent(name)}`;
}

// Arguments as the host reads them (docs/API.md, "Triggered runs"):
// percent-encoded, a space as %20 ('+' would stay a '+').
export function runPath(name, args) {
  const q = args ? `?arguments=${encodeURIComponent(args)}` : '';
  return `${jobPath('triggered', name)}/run${q}`;
}

// Streams a growing text (a live log) into onText(text, bytes) until it ends
// or signal aborts. Resolves when the stream ends.
export async function follow(path, onText, signal) {
  const res = await call(path, { signal, cache: 'no-store', headers: { Accept: 'text/plain' } });
  if (!res.ok) throw await fail(res);
  const reader = res.body.getReader();
  const dec = new TextDecoder();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    onText(dec.decode(value, { stream: true }), value.length);
  }
  onText(dec.decode(), 0);
}
