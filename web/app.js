// ztcore controller web UI: plain JS over the controller's JSON API (the same API as curl uses,
// with the token in the X-ZT1-Auth header). No frameworks, no network access beyond this origin.
'use strict';

const TOKEN_KEY = 'ztcoreToken';
const POLL_MS = 1500;
let pollTimer = null;
let clockSkew = 0;  // controller clock - browser clock (ms), from GET /controller

const $ = (sel, root = document) => root.querySelector(sel);
const el = (tag, props = {}, ...kids) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === 'class') e.className = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (k in e) e[k] = v;
    else e.setAttribute(k, v);
  }
  for (const k of kids) e.append(k);
  return e;
};

class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

// One API call. Resolves with the parsed JSON; rejects with ApiError carrying the API's
// {"error": "..."} text. A 401 logs out (the token is wrong or gone).
async function api(method, path, body) {
  const token = sessionStorage.getItem(TOKEN_KEY) || '';
  const opts = { method, headers: { 'X-ZT1-Auth': token }, cache: 'no-store' };
  if (body !== undefined) {
    opts.headers['Content-Type'] = 'application/json';
    opts.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, opts);
  } catch (e) {
    throw new ApiError(0, 'cannot reach the controller: ' + e.message);
  }
  let data = null;
  const text = await res.text();
  try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
  if (res.status === 401) {
    logout('The controller refused the token (HTTP 401). Log in again.');
    throw new ApiError(401, 'unauthorized');
  }
  if (!res.ok) {
    const msg = data && typeof data.error === 'string' ? data.error : (text || res.statusText);
    throw new ApiError(res.status, `HTTP ${res.status}: ${msg}`);
  }
  return data;
}

function setStatus(text) { $('#status').textContent = text; }

function stopPolling() {
  if (pollTimer) clearTimeout(pollTimer.timeout);
  pollTimer = null;
}

// Runs fn now and then every POLL_MS after each run finishes (never overlapping), until the
// page changes.
function poll(fn) {
  stopPolling();
  const token = { timeout: null };
  pollTimer = token;
  const tick = async () => {
    if (pollTimer !== token) return;
    try {
      await fn();
      setStatus('live, updated ' + new Date().toLocaleTimeString());
    } catch (e) {
      if (e.status !== 401) setStatus('update failed: ' + e.message);
    }
    if (pollTimer === token) token.timeout = setTimeout(tick, POLL_MS);
  };
  tick();
}

function show(tplId) {
  const main = $('#main');
  main.replaceChildren($(tplId).content.cloneNode(true));
  return main;
}

// ---- login ------------------------------------------------------------------------------

function logout(message) {
  stopPolling();
  sessionStorage.removeItem(TOKEN_KEY);
  renderLogin(message || '');
}

function renderLogin(message) {
  stopPolling();
  $('#logout').hidden = true;
  setStatus('');
  show('#tpl-login');
  $('#login-error').textContent = message || '';
  $('#token').focus();
  $('#login-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const token = $('#token').value.trim();
    sessionStorage.setItem(TOKEN_KEY, token);
    try {
      await checkLogin();
      route();
    } catch (e) {
      if (e.status !== 401) $('#login-error').textContent = e.message;
    }
  });
}

async function checkLogin() {
  const info = await api('GET', '/controller');
  if (typeof info.clock === 'number') clockSkew = info.clock - Date.now();
  $('#logout').hidden = false;
}

// ---- networks list ----------------------------------------------------------------------

async function renderNetworks() {
  show('#tpl-networks');
  $('#create-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    $('#networks-error').textContent = '';
    try {
      const n = await api('POST', '/controller/network', { name: $('#new-name').value });
      location.hash = '#/network/' + n.id;
    } catch (e) {
      $('#networks-error').textContent = e.message;
    }
  });
  poll(async () => {
    const ids = await api('GET', '/controller/network');
    const rows = await Promise.all(ids.map(async (id) => {
      const [n, members] = await Promise.all([
        api('GET', `/controller/network/${id}`),
        api('GET', `/controller/network/${id}/member`),
      ]);
      return { n, count: Object.keys(members || {}).length };
    }));
    const body = $('#networks tbody');
    if (!body) return;
    body.replaceChildren(...rows.map(({ n, count }) =>
      el('tr', { class: 'clickable', 'data-network': n.id, onclick: () => { location.hash = '#/network/' + n.id; } },
        el('td', {}, el('a', { href: '#/network/' + n.id }, el('code', {}, n.id))),
        el('td', {}, n.name || ''),
        el('td', {}, n.private ? 'yes' : 'no'),
        el('td', {}, String(count)))));
    $('#networks-empty').hidden = rows.length > 0;
  });
}

// ---- one network ------------------------------------------------------------------------

function poolRow(p = {}) {
  return el('tr', {},
    el('td', {}, el('input', { class: 'pool-start', value: p.ipRangeStart || '', placeholder: '10.147.17.1' })),
    el('td', {}, el('input', { class: 'pool-end', value: p.ipRangeEnd || '', placeholder: '10.147.17.254' })),
    el('td', {}, el('button', { type: 'button', class: 'small secondary', onclick: (e) => e.target.closest('tr').remove() }, 'Remove')));
}

function routeRow(r = {}) {
  return el('tr', {},
    el('td', {}, el('input', { class: 'route-target', value: r.target || '', placeholder: '10.147.17.0/24' })),
    el('td', {}, el('input', { class: 'route-via', value: r.via || '', placeholder: '' })),
    el('td', {}, el('button', { type: 'button', class: 'small secondary', onclick: (e) => e.target.closest('tr').remove() }, 'Remove')));
}

function fillNetworkForm(n) {
  $('#nw-id').textContent = n.id;
  $('#nw-name').value = n.name || '';
  $('#nw-title').textContent = n.name || '';
  $('#nw-mtu').value = n.mtu ?? 2800;
  $('#nw-mcl').value = n.multicastLimit ?? 32;
  $('#nw-private').checked = !!n.private;
  $('#nw-broadcast').checked = !!n.enableBroadcast;
  const v4 = n.v4AssignMode || {}, v6 = n.v6AssignMode || {};
  $('#v4-zt').checked = !!v4.zt;
  $('#v6-zt').checked = !!v6.zt;
  $('#v6-rfc4193').checked = !!v6.rfc4193;
  $('#v6-6plane').checked = !!v6['6plane'];
  $('#pools tbody').replaceChildren(...(n.ipAssignmentPools || []).map(poolRow));
  $('#routes tbody').replaceChildren(...(n.routes || []).map(routeRow));
  const dns = Array.isArray(n.dns) ? {} : (n.dns || {});
  $('#dns-domain').value = dns.domain || '';
  $('#dns-servers').value = (dns.servers || []).join(', ');
  $('#rules').value = n.rulesSource ? n.rulesSource : JSON.stringify(n.rules || [], null, 2);
}

const splitList = (s) => s.split(/[\s,]+/).filter(Boolean);

// The form as an API update; throws Error on input the form itself can reject.
function networkUpdate() {
  const u = {
    name: $('#nw-name').value,
    private: $('#nw-private').checked,
    enableBroadcast: $('#nw-broadcast').checked,
    v4AssignMode: { zt: $('#v4-zt').checked },
    v6AssignMode: { zt: $('#v6-zt').checked, rfc4193: $('#v6-rfc4193').checked, '6plane': $('#v6-6plane').checked },
    ipAssignmentPools: [],
    routes: [],
  };
  const mtu = $('#nw-mtu').value.trim(), mcl = $('#nw-mcl').value.trim();
  if (mtu !== '') u.mtu = Number(mtu);
  if (mcl !== '') u.multicastLimit = Number(mcl);
  for (const tr of $('#pools tbody').rows) {
    const s = $('.pool-start', tr).value.trim(), e = $('.pool-end', tr).value.trim();
    if (s || e) u.ipAssignmentPools.push({ ipRangeStart: s, ipRangeEnd: e || s });
  }
  for (const tr of $('#routes tbody').rows) {
    const t = $('.route-target', tr).value.trim(), v = $('.route-via', tr).value.trim();
    if (t) u.routes.push({ target: t, via: v || null });
  }
  const domain = $('#dns-domain').value.trim(), servers = splitList($('#dns-servers').value);
  u.dns = domain || servers.length ? { domain, servers } : [];
  const text = $('#rules').value.trim();
  if (text) {
    let parsed;
    try { parsed = JSON.parse(text); } catch (e) { parsed = undefined; }
    if (parsed !== undefined) {
      u.rules = parsed;  // rules the API cannot read are dropped (see below)
      u.rulesSource = '';  // JSON rules replace an earlier rules-language text
    }
    else u.rulesSource = $('#rules').value;
  }
  return u;
}

async function renderNetwork(nwid) {
  show('#tpl-network');
  $('#nw-id').textContent = nwid;
  let net;
  try {
    net = await api('GET', `/controller/network/${nwid}`);
  } catch (e) {
    $('#nw-error').textContent = e.message;
    return;
  }
  fillNetworkForm(net);
  $('#add-pool').addEventListener('click', () => $('#pools tbody').append(poolRow()));
  $('#add-route').addEventListener('click', () => $('#routes tbody').append(routeRow()));
  $('#nw-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    $('#nw-error').textContent = '';
    $('#save-msg').textContent = 'saving…';
    try {
      const u = networkUpdate();
      const saved = await api('POST', `/controller/network/${nwid}`, u);
      if (u.rulesSource !== undefined && saved.rulesSource !== u.rulesSource) {
        $('#save-msg').textContent = '';
        $('#nw-error').textContent = 'The controller did not store the rules text (an older controller ' +
          'without the rules compiler?): the other settings were saved, the rules were not.';
        fillNetworkForm({ ...saved, rulesSource: u.rulesSource });
        return;
      }
      fillNetworkForm(saved);
      $('#save-msg').textContent = 'saved (revision ' + saved.revision + ')';
      // Like zerotier-one, the controller drops rules it cannot read instead of refusing the
      // update: say so, or the user would believe every rule is in force.
      if (Array.isArray(u.rules) && Array.isArray(saved.rules) && saved.rules.length < u.rules.length) {
        const dropped = u.rules.length - saved.rules.length;
        $('#nw-error').textContent = `The controller dropped ${dropped} of ${u.rules.length} rules it could not ` +
          'read (unknown type or bad fields, as zerotier-one does); the rules shown are the ones in force.';
      }
    } catch (e) {
      $('#save-msg').textContent = '';
      $('#nw-error').textContent = e.message;
    }
  });
  $('#delete-network').addEventListener('click', async () => {
    if (!confirm(`Delete network ${nwid} and all its members?`)) return;
    try {
      await api('DELETE', `/controller/network/${nwid}`);
      location.hash = '#/';
    } catch (e) {
      $('#nw-error').textContent = e.message;
    }
  });
  poll(() => refreshMembers(nwid));
}

function ago(ms) {
  if (!ms) return 'never';
  const s = Math.max(0, Math.round((Date.now() + clockSkew - ms) / 1000));
  if (s < 60) return s + ' s ago';
  if (s < 3600) return Math.floor(s / 60) + ' min ago';
  if (s < 86400) return Math.floor(s / 3600) + ' h ago';
  return new Date(ms - clockSkew).toLocaleString();
}

const tagsText = (tags) => (tags || []).map((t) => `${t[0]}=${t[1]}`).join(', ');
const capsText = (caps) => (caps || []).join(', ');

function parseTags(s) {
  return splitList(s).map((p) => {
    const m = /^(\d+)=(\d+)$/.exec(p);
    if (!m) throw new Error(`tag "${p}": expected id=value (numbers)`);
    return [Number(m[1]), Number(m[2])];
  });
}

function parseCaps(s) {
  return splitList(s).map((p) => {
    if (!/^\d+$/.test(p)) throw new Error(`capability "${p}": expected a number`);
    return Number(p);
  });
}

async function writeMember(nwid, addr, update) {
  $('#members-error').textContent = '';
  try {
    await api('POST', `/controller/network/${nwid}/member/${addr}`, update);
    await refreshMembers(nwid);
  } catch (e) {
    $('#members-error').textContent = `${addr}: ${e.message}`;
  }
}

// An input that writes its field on change (Enter or leaving it) and is not overwritten by the
// live updates while it has the focus.
function memberInput(nwid, addr, cls, toUpdate) {
  return el('input', {
    class: cls,
    onchange: (ev) => {
      let u;
      try { u = toUpdate(ev.target.value); } catch (e) { $('#members-error').textContent = `${addr}: ${e.message}`; return; }
      writeMember(nwid, addr, u);
    },
    onkeydown: (ev) => { if (ev.key === 'Enter') ev.target.blur(); },
  });
}

function memberRow(nwid, addr) {
  const tr = el('tr', { 'data-member': addr });
  tr.append(
    el('td', {}, el('code', {}, addr)),
    el('td', {}, memberInput(nwid, addr, 'name', (v) => ({ name: v }))),
    el('td', {}, el('button', {
      type: 'button', class: 'auth',
      onclick: () => writeMember(nwid, addr, { authorized: tr.dataset.authorized !== 'true' }),
    })),
    el('td', {}, memberInput(nwid, addr, 'ips', (v) => ({ ipAssignments: splitList(v) }))),
    el('td', {}, memberInput(nwid, addr, 'tags', (v) => ({ tags: parseTags(v) }))),
    el('td', {}, memberInput(nwid, addr, 'caps', (v) => ({ capabilities: parseCaps(v) }))),
    el('td', { class: 'seen' }),
    el('td', {}, el('button', {
      type: 'button', class: 'small danger',
      onclick: async () => {
        if (!confirm(`Delete member ${addr}?`)) return;
        try {
          await api('DELETE', `/controller/network/${nwid}/member/${addr}`);
          tr.remove();
        } catch (e) { $('#members-error').textContent = `${addr}: ${e.message}`; }
      },
    }, 'Delete')));
  return tr;
}

function setIfIdle(input, value) {
  if (document.activeElement !== input && input.value !== value) input.value = value;
}

async function refreshMembers(nwid) {
  const r = await api('GET', `/unstable/controller/network/${nwid}/member`);
  const body = $('#members tbody');
  if (!body) return;  // the page changed meanwhile
  const members = (r.data || []).slice().sort((a, b) => a.address.localeCompare(b.address));
  const rows = new Map([...body.rows].map((tr) => [tr.dataset.member, tr]));
  const keep = [];
  for (const m of members) {
    const tr = rows.get(m.address) || memberRow(nwid, m.address);
    tr.dataset.authorized = String(!!m.authorized);
    const b = $('button.auth', tr);
    b.textContent = m.authorized ? 'Authorized ✓ (deauthorize)' : 'Authorize';
    b.classList.toggle('on', !!m.authorized);
    setIfIdle($('input.name', tr), m.name || '');
    setIfIdle($('input.ips', tr), (m.ipAssignments || []).join(', '));
    setIfIdle($('input.tags', tr), tagsText(m.tags));
    setIfIdle($('input.caps', tr), capsText(m.capabilities));
    const seen = $('td.seen', tr);
    const online = m.lastSeen && Date.now() + clockSkew - m.lastSeen < 90000;
    seen.replaceChildren(el('span', { class: 'badge ' + (online ? 'online' : 'offline') }, online ? 'online' : 'offline'),
      ' ', ago(m.lastSeen || 0));
    keep.push(tr);
  }
  // Reorder/append without recreating rows (keeps focus and half-typed values).
  keep.forEach((tr, i) => { if (body.rows[i] !== tr) body.insertBefore(tr, body.rows[i] || null); });
  while (body.rows.length > keep.length) body.rows[keep.length].remove();
  $('#members-empty').hidden = members.length > 0;
  $('#member-count').textContent = r.meta ? `(${r.meta.authorizedCount} of ${r.meta.totalCount} authorized)` : '';
}

// ---- routing ----------------------------------------------------------------------------

function route() {
  stopPolling();
  if (!sessionStorage.getItem(TOKEN_KEY)) return renderLogin('');
  const m = /^#\/network\/([0-9a-f]{16})$/.exec(location.hash);
  if (m) return renderNetwork(m[1]);
  return renderNetworks();
}

window.addEventListener('hashchange', route);
document.addEventListener('DOMContentLoaded', async () => {
  $('#logout').addEventListener('click', () => logout(''));
  if (sessionStorage.getItem(TOKEN_KEY)) {
    try { await checkLogin(); } catch (e) { if (e.status !== 401) setStatus(e.message); if (e.status === 401) return; }
  }
  route();
});
