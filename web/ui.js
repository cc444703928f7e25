// Small DOM helpers. Everything a job or a user wrote goes in as text
// (textContent, never innerHTML): a job that prints HTML shows its source.

export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export function replace(el, ...children) {
  el.replaceChildren(...children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false));
}

// Kudu's times have 7 fraction digits; "0001-01-01T00:00:00" means none.
export function parseTime(iso) {
  if (!iso || iso.startsWith('0001-')) return null;
  const t = Date.parse(iso.replace(/(\.\d{3})\d+/, '$1'));
  return Number.isNaN(t) ? null : new Date(t);
}

export function relative(d, now = Date.now()) {
  const s = Math.round((d.getTime() - now) / 1000);
  const a = Math.abs(s);
  let text;
  if (a < 5) return 'just now';
  if (a < 60) text = `${a} s`;
  else if (a < 3600) text = `${Math.round(a / 60)} min`;
  else if (a < 86400 * 2) text = `${Math.round(a / 3600)} h`;
  else text = `${Math.round(a / 86400)} d`;
  return s < 0 ? `${text} ago` : `in ${text}`;
}

// A <time> showing a relative time, the absolute one (browser's zone) on
// hover and focus.
export function timeEl(iso) {
  const d = parseTime(iso);
  if (!d) return h('span', { class: 'muted' }, '—');
  return h('time', { datetime: d.toISOString(), title: d.toLocaleString(), tabindex: 0 },
    relative(d));
}

// "00:00:01.2345678" -> "1.2 s"
export function duration(text) {
  const m = /^(?:(\d+)\.)?(\d+):(\d+):(\d+(?:\.\d+)?)$/.exec(text || '');
  if (!m) return text || '';
  const s = (+(m[1] || 0)) * 86400 + (+m[2]) * 3600 + (+m[3]) * 60 + parseFloat(m[4]);
  if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
  return `${Math.floor(s / 3600)} h ${Math.round((s % 3600) / 60)} min`;
}

export function badge(status) {
  const s = status || 'none';
  return h('span', { class: `badge s-${s.toLowerCase().replace(/[^a-z]/g, '')}` }, s);
}

export function button(label, onclick, props) {
  return h('button', { type: 'button', onclick, ...(props || {}) }, label);
}

// A modal question; resolves true when confirmed.
export function confirmDialog(question, yes) {
  return new Promise((resolve) => {
    const dlg = h('dialog', { class: 'confirm' },
      h('p', {}, question),
      h('form', { method: 'dialog' },
        h('button', { value: 'no', autofocus: true }, 'Cancel'),
        h('button', { value: 'yes', class: 'danger' }, yes)));
    dlg.addEventListener('close', () => {
      resolve(dlg.returnValue === 'yes');
      dlg.remove();
    });
    document.body.append(dlg);
    dlg.showModal();
  });
}

// A scrolling log box that follows new text until the user scrolls up.
export function logBox(label) {
  const pre = h('pre', { class: 'log', tabindex: 0, 'aria-label': label });
  const text = document.createTextNode('');
  pre.append(text);
  return {
    el: pre,
    append(t) {
      if (!t) return;
      const stick = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 8;
      text.appendData(t);
      if (stick) pre.scrollTop = pre.scrollHeight;
    },
    set(t) {
      text.data = t;
      pre.scrollTop = pre.scrollHeight;
    },
    get length() { return text.length; },
  };
}
