// The lookalike page: browse the gallery with facets and filter chips, search by image, text, item
// or examples (more / less like these), view an item, explore a 2-D map, review near-duplicates.
// It calls the server's JSON API (docs/api.md); the whole view lives in the URL hash.
const $ = (id) => document.getElementById(id);
/** An element with properties and children. */
function el(tag, props = {}, ...kids) {
  const e = Object.assign(document.createElement(tag), props);
  e.append(...kids.filter((k) => k !== undefined && k !== null));
  return e;
}

// View state: everything but an uploaded image is kept in the URL.
const state = {
  tab: 'gallery',
  /** {kind: 'id'|'text'|'upload'|'like', ...} or null when browsing */
  q: null,
  /** chips: {field, values} (any of the values) or {field, min, max} (a range) */
  chips: [],
  where: '',
  /** map selection: a box in map coordinates and the ids inside it */
  box: null,
  like: [],
  unlike: [],
  page: 0,
  sort: '',
  desc: false,
  label: '',
  color: '',
};
let info = null;
let types = {};
let shown = []; // items of the grid, in order
let mapData = null;
let upload = null;

function showError(msg) {
  $('error').textContent = msg;
  $('error').hidden = !msg;
}

async function api(path, init) {
  const r = await fetch(path, init);
  const body = await r.json().catch(() => ({ error: `${r.status} ${r.statusText}` }));
  if (!r.ok) throw new Error(body.error || `${r.status} ${r.statusText}`);
  return body;
}

/** Thumbnail width for a grid slot: the slot's pixels on this screen, rounded up to a few sizes so the server's cache is shared. */
const slotSize = (css) => [128, 192, 256, 384, 512].find((s) => s >= css * (window.devicePixelRatio || 1)) ?? 512;
const thumb = (id, css = 200) => `/items/${encodeURIComponent(id)}/thumbnail?size=${slotSize(css)}`;
const quote = (v) => `"${String(v).replace(/["\\]/g, '\\$&')}"`;
/** A literal of a field's type in the filter language (docs/filters.md). */
const literal = (field, v) => (types[field] === 'number' || types[field] === 'boolean' ? String(v) : quote(v));
const per = () => Number($('per').value);

/** The filter expression of the chips, the typed expression and the map selection, joined with and. */
function filterText() {
  const parts = state.chips.map((c) => (c.values ? (c.values.length === 1 ? `${c.field} = ${literal(c.field, c.values[0])}` : `${c.field} in (${c.values.map((v) => literal(c.field, v)).join(', ')})`) : `${c.field} between ${literal(c.field, c.min)} and ${literal(c.field, c.max)}`));
  if (state.where.trim()) parts.push(`(${state.where.trim()})`);
  const sel = selectedIds();
  if (sel) parts.push(sel.length ? `id in (${sel.map(quote).join(', ')})` : 'id = ""');
  return parts.join(' and ');
}

/** Ids inside the map selection (at most 500, so the filter stays a short request), or null. */
function selectedIds() {
  if (!state.box || !mapData) return null;
  const [x0, y0, x1, y1] = state.box;
  const ids = [];
  for (let i = 0; i < mapData.ids.length && ids.length < 500; i++) if (mapData.x[i] >= x0 && mapData.x[i] <= x1 && mapData.y[i] >= y0 && mapData.y[i] <= y1) ids.push(mapData.ids[i]);
  return ids;
}

// --- URL state -------------------------------------------------------------------------------

function writeUrl() {
  const p = new URLSearchParams();
  if (state.tab !== 'gallery') p.set('tab', state.tab);
  if (state.q?.kind === 'id') p.set('id', state.q.id);
  if (state.q?.kind === 'text') p.set('text', state.q.text);
  if (state.like.length) p.set('like', JSON.stringify(state.like));
  if (state.unlike.length) p.set('unlike', JSON.stringify(state.unlike));
  if (state.chips.length) p.set('chips', JSON.stringify(state.chips));
  if (state.where) p.set('where', state.where);
  if (state.box) p.set('box', state.box.map((v) => v.toFixed(4)).join(','));
  if (state.page) p.set('page', String(state.page + 1));
  if (state.sort) p.set('sort', state.sort);
  if (state.desc) p.set('desc', '1');
  if (state.label) p.set('label', state.label);
  if (state.color) p.set('color', state.color);
  const hash = p.toString();
  if (location.hash.slice(1) !== hash) history.pushState(null, '', hash ? `#${hash}` : location.pathname);
}

function readUrl() {
  const p = new URLSearchParams(location.hash.slice(1));
  const json = (k) => {
    try {
      return JSON.parse(p.get(k) ?? '[]');
    } catch {
      return [];
    }
  };
  state.tab = ['map', 'dups'].includes(p.get('tab')) ? p.get('tab') : 'gallery';
  state.like = json('like');
  state.unlike = json('unlike');
  state.q = p.get('id') ? { kind: 'id', id: p.get('id') } : p.get('text') ? { kind: 'text', text: p.get('text') } : state.like.length ? { kind: 'like' } : null;
  state.chips = json('chips');
  state.where = p.get('where') ?? '';
  const box = (p.get('box') ?? '').split(',').map(Number);
  state.box = box.length === 4 && box.every(Number.isFinite) ? box : null;
  state.page = Math.max(0, Number(p.get('page') ?? 1) - 1) || 0;
  state.sort = p.get('sort') ?? '';
  state.desc = p.get('desc') === '1';
  state.label = p.get('label') ?? (types.label ? 'label' : '');
  state.color = p.get('color') ?? '';
}

// --- gallery -------------------------------------------------------------------------------

function card(item, i) {
  const li = el('li');
  const b = el('button', { type: 'button', className: 'hit', title: item.id });
  b.dataset.id = item.id;
  b.dataset.i = String(i);
  const name = item.id.split('/').pop();
  const label = state.label ? item.fields?.[state.label] : undefined;
  b.append(el('img', { src: thumb(item.id, gridSlot()), alt: label !== undefined ? `${label}: ${name}` : name, loading: 'lazy', decoding: 'async', width: 160, height: 160 }));
  const meta = el('div', { className: 'meta' }, el('span', { className: 'label', textContent: label !== undefined ? String(label) : name }));
  if (item.score !== undefined) meta.append(el('span', { className: 'score', textContent: item.score.toFixed(3) }));
  b.append(meta);
  b.addEventListener('click', () => openViewer(i));
  li.append(b);
  return li;
}

/** The CSS width of one grid cell now (a cell is at least 140 px wide, a third of the width on a phone). */
function gridSlot() {
  const w = $('results').clientWidth || window.innerWidth;
  const cols = window.innerWidth <= 720 ? 2 : Math.max(1, Math.floor((w + 10) / 150));
  return Math.ceil(w / cols);
}

/** What the grid shows now: a page of the gallery, or of a search's results. */
async function load() {
  showError('');
  writeUrl();
  renderChips();
  showTab();
  if (state.tab === 'map') return drawMapTab();
  if (state.tab === 'dups') return loadDups();
  const filter = filterText();
  const offset = state.page * per();
  $('status').textContent = 'loading…';
  try {
    const t0 = performance.now();
    let items;
    let total;
    let what;
    if (!state.q) {
      const qs = new URLSearchParams({ offset: String(offset), limit: String(per()) });
      if (filter) qs.set('filter', filter);
      if (state.sort) qs.set('sort', state.sort);
      if (state.desc) qs.set('desc', '1');
      const r = await api(`/items?${qs}`);
      items = r.items;
      total = r.total;
      what = `${total.toLocaleString()} items`;
    } else {
      const body = { k: per(), offset, filter: filter || undefined };
      let init;
      if (state.q.kind === 'upload') {
        const form = new FormData();
        form.append('image', upload, upload.name);
        for (const [k, v] of Object.entries(body)) if (v !== undefined) form.append(k, String(v));
        init = { method: 'POST', body: form };
        what = upload.name;
      } else {
        if (state.q.kind === 'id') Object.assign(body, { id: state.q.id, exclude_self: false }), (what = state.q.id);
        if (state.q.kind === 'text') Object.assign(body, { text: state.q.text }), (what = `“${state.q.text}”`);
        if (state.q.kind === 'like') Object.assign(body, { like: state.like, unlike: state.unlike }), (what = `${state.like.length} liked, ${state.unlike.length} disliked`);
        init = { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
      }
      const r = await api('/search', init);
      items = r.results;
      what = `${items.length} results for ${what}`;
    }
    shown = items;
    $('results').replaceChildren(...items.map(card));
    const ms = (performance.now() - t0).toFixed(0);
    $('status').textContent = `${what}${filter ? ' matching the filter' : ''} · ${ms} ms`;
    const pages = total !== undefined ? Math.max(1, Math.ceil(total / per())) : undefined;
    $('page-info').textContent = pages ? `page ${state.page + 1} of ${pages}` : `page ${state.page + 1}`;
    $('prev').disabled = state.page === 0;
    $('next').disabled = pages ? state.page + 1 >= pages : items.length < per();
  } catch (e) {
    $('status').textContent = '';
    showError(e.message);
  }
  loadFacets(filter);
}

function go(change) {
  Object.assign(state, { page: 0 }, change);
  return load();
}

function searchId(id) {
  upload = null;
  setPreview(thumb(id), id);
  return go({ q: { kind: 'id', id }, like: [], unlike: [], tab: 'gallery' });
}

function setPreview(src, text) {
  $('preview').hidden = !src;
  if (src) $('preview').src = src;
  $('drop-text').textContent = text ?? '';
  if (!text) $('drop-text').innerHTML = '<strong>Drop, paste</strong> or choose an image';
}

function searchFile(file) {
  if (!file) return;
  if (!file.type.startsWith('image/')) return showError(`${file.name}: not an image`);
  const limit = info?.limits?.upload_bytes;
  if (limit && file.size > limit) return showError(`${file.name}: ${(file.size / 1e6).toFixed(1)} MB, the limit is ${(limit / 1e6).toFixed(0)} MB`);
  upload = file;
  setPreview(URL.createObjectURL(file), file.name);
  return go({ q: { kind: 'upload' }, like: [], unlike: [], tab: 'gallery' });
}

function addExample(id, list) {
  const other = list === 'like' ? 'unlike' : 'like';
  state[other] = state[other].filter((x) => x !== id);
  if (!state[list].includes(id)) state[list] = [...state[list], id];
  setPreview(null);
  return go({ q: state.like.length ? { kind: 'like' } : null, tab: 'gallery' });
}

// --- chips and facets ----------------------------------------------------------------------

function chip(text, remove) {
  const c = el('span', { className: 'chip' }, el('span', { textContent: text }));
  c.append(el('button', { type: 'button', textContent: '×', title: `remove ${text}`, ariaLabel: `remove ${text}`, onclick: remove }));
  return c;
}

function renderChips() {
  const out = [];
  state.chips.forEach((c, i) => out.push(chip(c.values ? `${c.field}: ${c.values.join(' or ')}` : `${c.field}: ${c.min} – ${c.max}`, () => go({ chips: state.chips.filter((_, j) => j !== i) }))));
  if (state.where) out.push(chip(`where ${state.where}`, () => ((($('where').value = ''), go({ where: '' })))));
  if (state.box) out.push(chip(`map selection${mapData ? `: ${selectedIds().length} items` : ''}`, () => go({ box: null })));
  for (const id of state.like) out.push(chip(`like ${id.split('/').pop()}`, () => addOrDrop('like', id)));
  for (const id of state.unlike) out.push(chip(`unlike ${id.split('/').pop()}`, () => addOrDrop('unlike', id)));
  if (state.q?.kind === 'id' || state.q?.kind === 'text' || state.q?.kind === 'upload') out.push(chip(state.q.kind === 'text' ? `text “${state.q.text}”` : state.q.kind === 'id' ? `similar to ${state.q.id.split('/').pop()}` : `similar to ${upload?.name}`, () => (setPreview(null), go({ q: null }))));
  $('chips').replaceChildren(...out);
  $('chips').hidden = !out.length;
}

function addOrDrop(list, id) {
  state[list] = state[list].filter((x) => x !== id);
  return go({ q: state.like.length ? { kind: 'like' } : null });
}

async function loadFacets(filter) {
  try {
    const qs = new URLSearchParams({ top: '12' });
    if (filter) qs.set('filter', filter);
    const r = await api(`/facets?${qs}`);
    types = r.types;
    renderFacets(r.facets);
  } catch (e) {
    $('facets').textContent = e.message;
  }
}

function renderFacets(facets) {
  const boxes = facets.map((f) => {
    const box = el('fieldset', { className: 'facet' }, el('legend', { textContent: `${f.field} (${f.present})` }));
    box.dataset.field = f.field;
    const chosen = state.chips.find((c) => c.field === f.field && c.values)?.values ?? [];
    if (f.values) {
      for (const v of f.values) {
        const input = el('input', { type: 'checkbox', checked: chosen.includes(v.value) });
        input.addEventListener('change', () => toggleValue(f.field, v.value, input.checked));
        box.append(el('label', { className: 'value' }, input, el('span', { textContent: String(v.value) }), el('span', { className: 'count', textContent: String(v.count) })));
      }
    } else if (f.min !== undefined) {
      const lo = el('input', { type: 'text', value: String(f.min), ariaLabel: `${f.field} from`, size: 8 });
      const hi = el('input', { type: 'text', value: String(f.max), ariaLabel: `${f.field} to`, size: 8 });
      const ok = el('button', { type: 'button', className: 'secondary', textContent: 'Apply' });
      ok.addEventListener('click', () => go({ chips: [...state.chips.filter((c) => c.field !== f.field || c.values), { field: f.field, min: lo.value.trim(), max: hi.value.trim() }] }));
      box.append(el('div', { className: 'range' }, lo, el('span', { textContent: '–' }), hi, ok));
    }
    return box;
  });
  $('facets').replaceChildren(...boxes);
  fillSelect($('sort'), ['', ...Object.keys(types)], state.sort, (v) => v || 'path');
  $('desc').checked = state.desc;
  fillSelect($('label-field'), ['', ...Object.keys(types)], state.label, (v) => v || 'file name');
}

function fillSelect(select, values, current, name) {
  select.replaceChildren(...values.map((v) => el('option', { value: v, textContent: name(v), selected: v === current })));
}

function toggleValue(field, value, on) {
  const chips = state.chips.map((c) => ({ ...c }));
  let c = chips.find((x) => x.field === field && x.values);
  if (!c) chips.push((c = { field, values: [] }));
  c.values = on ? [...new Set([...c.values, value])] : c.values.filter((v) => v !== value);
  return go({ chips: chips.filter((x) => !x.values || x.values.length) });
}

// --- viewer --------------------------------------------------------------------------------

let viewing = -1;

async function openViewer(i) {
  const item = shown[i];
  if (!item) return;
  viewing = i;
  const d = $('viewer');
  $('viewer-id').textContent = item.id;
  $('viewer-img').src = `/items/${encodeURIComponent(item.id)}/image`;
  $('viewer-img').alt = item.id;
  $('viewer-fields').replaceChildren();
  $('viewer-near').replaceChildren();
  if (!d.open) d.showModal();
  try {
    const [rec, near] = await Promise.all([api(`/items/${encodeURIComponent(item.id)}`), api(`/search?id=${encodeURIComponent(item.id)}&k=8&exclude_self=1`)]);
    if (viewing !== i) return;
    $('viewer-fields').replaceChildren(...Object.entries(rec.fields).map(([k, v]) => el('tr', {}, el('th', { textContent: k }), el('td', { textContent: Array.isArray(v) ? v.join(', ') : String(v) }))));
    $('viewer-near').replaceChildren(
      ...near.results.map((h) => {
        const b = el('button', { type: 'button', title: `${h.id} · ${h.score.toFixed(3)}` }, el('img', { src: thumb(h.id, 110), alt: h.id.split('/').pop(), loading: 'lazy' }));
        b.addEventListener('click', () => {
          shown = [...shown];
          shown.splice(viewing + 1, 0, h);
          openViewer(viewing + 1);
        });
        return el('li', {}, b);
      }),
    );
  } catch (e) {
    showError(e.message);
  }
}

function closeViewer() {
  const d = $('viewer');
  if (d.open) d.close();
}

// --- map -----------------------------------------------------------------------------------

const mapView = { w: 0, h: 0, pad: 12, drag: null };

async function drawMapTab() {
  const color = state.color || (types.label ? 'label' : '');
  if (!mapData || mapData.color !== (color || null)) {
    $('map-status').textContent = 'laying out the map (once per index state)…';
    try {
      mapData = await api(`/map${color ? `?color=${encodeURIComponent(color)}` : ''}`);
    } catch (e) {
      $('map-status').textContent = '';
      return showError(e.message);
    }
  }
  fillSelect($('map-color'), ['', ...Object.keys(types)], mapData.color ?? '', (v) => v || 'none');
  $('map-legend').replaceChildren(...mapData.legend.map((l) => el('li', {}, el('span', { className: 'swatch', style: `background:${l.colour}` }), el('span', { textContent: `${l.label}${l.count !== undefined ? ` (${l.count})` : ''}` }))));
  const sel = selectedIds();
  $('map-status').textContent = `${mapData.count.toLocaleString()} items · ${mapData.method === 'umap' ? 'UMAP' : 'PCA'}${sel ? ` · ${sel.length} selected` : ''} · drag to select, click to search`;
  renderChips();
  paintMap();
}

function toScreen(i) {
  const s = Math.min(mapView.w, mapView.h) - 2 * mapView.pad;
  return [mapView.pad + mapData.x[i] * s + (mapView.w - s - 2 * mapView.pad) / 2, mapView.pad + (1 - mapData.y[i]) * s];
}

function toMap(px, py) {
  const s = Math.min(mapView.w, mapView.h) - 2 * mapView.pad;
  return [(px - mapView.pad - (mapView.w - s - 2 * mapView.pad) / 2) / s, 1 - (py - mapView.pad) / s];
}

function paintMap() {
  const c = $('map');
  const dpr = window.devicePixelRatio || 1;
  mapView.w = c.clientWidth;
  mapView.h = c.clientHeight;
  c.width = mapView.w * dpr;
  c.height = mapView.h * dpr;
  const g = c.getContext('2d');
  g.setTransform(dpr, 0, 0, dpr, 0, 0);
  g.clearRect(0, 0, mapView.w, mapView.h);
  const r = mapData.count > 5000 ? 1.5 : mapData.count > 1000 ? 2.5 : 3.5;
  const box = state.box;
  for (let i = 0; i < mapData.count; i++) {
    const [x, y] = toScreen(i);
    const inside = !box || (mapData.x[i] >= box[0] && mapData.x[i] <= box[2] && mapData.y[i] >= box[1] && mapData.y[i] <= box[3]);
    g.globalAlpha = inside ? 0.85 : 0.2;
    g.fillStyle = mapData.colours[i];
    g.beginPath();
    g.arc(x, y, r, 0, 2 * Math.PI);
    g.fill();
  }
  g.globalAlpha = 1;
  const d = mapView.drag;
  if (d?.moved) {
    g.strokeStyle = '#2f6fec';
    g.setLineDash([4, 3]);
    g.strokeRect(Math.min(d.x0, d.x1), Math.min(d.y0, d.y1), Math.abs(d.x1 - d.x0), Math.abs(d.y1 - d.y0));
  }
}

function nearestPoint(px, py) {
  let best = -1;
  let bd = 64;
  for (let i = 0; i < mapData.count; i++) {
    const [x, y] = toScreen(i);
    const d = (x - px) ** 2 + (y - py) ** 2;
    if (d < bd) (bd = d), (best = i);
  }
  return best;
}

function initMap() {
  const c = $('map');
  const pos = (e) => {
    const r = c.getBoundingClientRect();
    return [e.clientX - r.left, e.clientY - r.top];
  };
  c.addEventListener('pointerdown', (e) => {
    if (!mapData) return;
    const [x, y] = pos(e);
    mapView.drag = { x0: x, y0: y, x1: x, y1: y, moved: false };
    c.setPointerCapture(e.pointerId);
  });
  c.addEventListener('pointermove', (e) => {
    if (!mapData) return;
    const [x, y] = pos(e);
    const d = mapView.drag;
    if (d) {
      d.x1 = x;
      d.y1 = y;
      d.moved ||= Math.abs(x - d.x0) + Math.abs(y - d.y0) > 6;
      if (d.moved) paintMap();
      return;
    }
    const i = nearestPoint(x, y);
    const tip = $('map-tip');
    tip.hidden = i < 0;
    if (i < 0) return;
    tip.querySelector('img').src = thumb(mapData.ids[i], 140);
    tip.querySelector('img').alt = mapData.ids[i];
    const v = mapData.values[i];
    tip.querySelector('span').textContent = `${mapData.ids[i]}${v !== null && v !== undefined && mapData.color !== 'id' ? ` · ${v}` : ''}`;
    tip.style.left = `${Math.min(x + 12, mapView.w - 150)}px`;
    tip.style.top = `${Math.min(y + 12, mapView.h - 150)}px`;
  });
  c.addEventListener('pointerleave', () => ($('map-tip').hidden = true));
  c.addEventListener('pointerup', (e) => {
    const d = mapView.drag;
    mapView.drag = null;
    if (!d || !mapData) return;
    if (d.moved) {
      const [ax, ay] = toMap(Math.min(d.x0, d.x1), Math.max(d.y0, d.y1));
      const [bx, by] = toMap(Math.max(d.x0, d.x1), Math.min(d.y0, d.y1));
      go({ box: [ax, ay, bx, by], tab: 'gallery' });
    } else {
      const [x, y] = pos(e);
      const i = nearestPoint(x, y);
      if (i >= 0) searchId(mapData.ids[i]);
    }
  });
  $('map-color').addEventListener('change', (e) => go({ color: e.target.value || '', tab: 'map' }).then(() => undefined));
  window.addEventListener('resize', () => state.tab === 'map' && mapData && paintMap());
}

// --- duplicates ----------------------------------------------------------------------------

async function loadDups() {
  const t = $('threshold').value.trim();
  const qs = new URLSearchParams({ threshold: t || 'auto' });
  const filter = filterText();
  if (filter) qs.set('filter', filter);
  $('dups-status').textContent = 'looking for near-duplicates…';
  try {
    const r = await api(`/duplicates?${qs}`);
    if (!t) $('threshold').placeholder = r.threshold.toFixed(4);
    $('dups-status').textContent = `threshold ${r.threshold.toFixed(4)} (${r.rule === 'given' ? 'given' : 'auto'}) · ${r.groups_total} groups holding ${r.duplicates} of ${r.items} items${r.groups_total > r.groups.length ? ` · showing ${r.groups.length}` : ''}`;
    $('dups').replaceChildren(...r.groups.map(dupGroup));
  } catch (e) {
    $('dups-status').textContent = '';
    showError(e.message);
  }
}

function dupGroup(g, gi) {
  const box = el('section', { className: 'dup-group', ariaLabel: `group ${gi + 1}` }, el('h3', { textContent: `Group ${gi + 1}: ${g.members.length} items` }));
  const row = el('ol', { className: 'dup-row' });
  for (const m of g.members) {
    const keep = m.id === g.keeper;
    const f = m.fields ?? {};
    const facts = [m.size !== undefined ? `${(m.size / 1024).toFixed(1)} KB` : null, f.width && f.height ? `${f.width}×${f.height}` : null, keep ? 'keeper' : `cosine ${m.score.toFixed(4)}`].filter(Boolean).join(' · ');
    const check = el('input', { type: 'checkbox', checked: !keep, disabled: !info?.writable });
    check.dataset.id = m.id;
    const open = el('button', { type: 'button', className: 'hit', title: m.id }, el('img', { src: thumb(m.id, 180), alt: m.id.split('/').pop(), loading: 'lazy' }));
    open.addEventListener('click', () => {
      shown = g.members;
      openViewer(g.members.indexOf(m));
    });
    row.append(el('li', { className: keep ? 'keeper' : '' }, open, el('div', { className: 'id', textContent: m.id, title: m.id }), el('div', { className: 'muted small', textContent: facts }), el('label', { className: 'small' }, check, el('span', { textContent: ' remove from index' }))));
  }
  box.append(row);
  if (info?.writable) {
    const b = el('button', { type: 'button', textContent: 'Remove checked from the index' });
    b.addEventListener('click', () => removeChecked(box));
    box.append(b);
  }
  return box;
}

async function removeChecked(box) {
  const ids = [...box.querySelectorAll('input[type=checkbox]:checked')].map((c) => c.dataset.id);
  const token = $('token').value.trim();
  if (!token) return showError('removing needs the server token: type it in the token box');
  sessionStorage.setItem('lookalike-token', token);
  try {
    for (const id of ids) await api(`/items/${encodeURIComponent(id)}`, { method: 'DELETE', headers: { authorization: `Bearer ${token}` } });
    mapData = null;
    await loadDups();
    $('dups-status').textContent = `removed ${ids.length} items from the index (files on disk untouched) · ${$('dups-status').textContent}`;
  } catch (e) {
    showError(e.message);
  }
}

// --- tabs, keyboard, start -----------------------------------------------------------------

function showTab() {
  for (const b of document.querySelectorAll('.tabs button')) b.setAttribute('aria-pressed', String(b.dataset.tab === state.tab));
  $('gallery-view').hidden = state.tab !== 'gallery';
  $('map-view').hidden = state.tab !== 'map';
  $('dups-view').hidden = state.tab !== 'dups';
}

/** Arrow keys move through the grid (by a row up and down), Enter opens (the button's click). */
function gridKeys(e) {
  const b = e.target.closest?.('#results button.hit');
  if (!b) return;
  const buttons = [...document.querySelectorAll('#results button.hit')];
  const i = buttons.indexOf(b);
  const top = buttons[0].getBoundingClientRect().top;
  const cols = Math.max(1, buttons.filter((x) => x.getBoundingClientRect().top === top).length);
  const step = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: cols, ArrowUp: -cols }[e.key];
  if (step === undefined) return;
  e.preventDefault();
  buttons[Math.min(buttons.length - 1, Math.max(0, i + step))].focus();
}

function viewerKeys(e) {
  if (!$('viewer').open) return;
  if (e.key === 'ArrowRight' && viewing + 1 < shown.length) openViewer(viewing + 1);
  if (e.key === 'ArrowLeft' && viewing > 0) openViewer(viewing - 1);
}

async function init() {
  const drop = $('drop');
  $('file').addEventListener('change', (e) => searchFile(e.target.files[0]));
  drop.addEventListener('keydown', (e) => (e.key === 'Enter' || e.key === ' ') && $('file').click());
  for (const ev of ['dragenter', 'dragover']) drop.addEventListener(ev, (e) => (e.preventDefault(), drop.classList.add('over')));
  for (const ev of ['dragleave', 'drop']) drop.addEventListener(ev, () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => (e.preventDefault(), searchFile(e.dataTransfer.files[0])));
  document.addEventListener('paste', (e) => {
    const f = [...(e.clipboardData?.files ?? [])].find((x) => x.type.startsWith('image/'));
    if (f) searchFile(f);
  });
  $('text-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const text = $('text').value.trim();
    if (text) setPreview(null), go({ q: { kind: 'text', text }, like: [], unlike: [], tab: 'gallery' });
  });
  $('where-form').addEventListener('submit', (e) => (e.preventDefault(), go({ where: $('where').value.trim() })));
  $('per').addEventListener('change', () => go({}));
  $('sort').addEventListener('change', (e) => go({ sort: e.target.value }));
  $('desc').addEventListener('change', (e) => go({ desc: e.target.checked }));
  $('label-field').addEventListener('change', (e) => go({ label: e.target.value }));
  $('prev').addEventListener('click', () => {
    state.page = Math.max(0, state.page - 1);
    load();
  });
  $('next').addEventListener('click', () => {
    state.page += 1;
    load();
  });
  $('home').addEventListener('click', (e) => (e.preventDefault(), setPreview(null), go({ q: null, like: [], unlike: [], chips: [], where: '', box: null, tab: 'gallery' })));
  for (const b of document.querySelectorAll('.tabs button')) b.addEventListener('click', () => go({ tab: b.dataset.tab }));
  $('dups-form').addEventListener('submit', (e) => (e.preventDefault(), loadDups()));
  $('dups-auto').addEventListener('click', () => (($('threshold').value = ''), loadDups()));
  $('token').value = sessionStorage.getItem('lookalike-token') ?? '';
  $('results').addEventListener('keydown', gridKeys);
  document.addEventListener('keydown', viewerKeys);
  $('v-close').addEventListener('click', closeViewer);
  $('viewer').addEventListener('click', (e) => e.target === $('viewer') && closeViewer());
  $('v-search').addEventListener('click', () => (closeViewer(), searchId(shown[viewing].id)));
  $('v-like').addEventListener('click', () => (closeViewer(), addExample(shown[viewing].id, 'like')));
  $('v-unlike').addEventListener('click', () => (closeViewer(), addExample(shown[viewing].id, 'unlike')));
  window.addEventListener('popstate', () => (readUrl(), load()));
  initMap();
  if (window.innerWidth < 720) $('facets-box').open = false;
  try {
    info = await api('/info');
    const model = info.model.split(/[\\/]/).pop();
    $('info').textContent = `${info.count.toLocaleString()} images · ${info.dim}-d · model ${model}${info.head ? ` + head ${info.head.file}` : ''}`;
    $('text-form').hidden = !info.text;
    $('no-text').hidden = info.text;
    $('no-text').textContent = `Text search needs a text-image model (CLIP, SigLIP); ${model} has no text tower, so search with an image or an item.`;
    $('token-label').hidden = !info.writable;
    types = (await api('/facets?top=1')).types;
  } catch (e) {
    $('info').textContent = '';
    return showError(`cannot reach the server: ${e.message}`);
  }
  readUrl();
  if (state.q?.kind === 'id') setPreview(thumb(state.q.id), state.q.id);
  if (state.box || state.tab === 'map') {
    try {
      mapData = await api(`/map${state.color ? `?color=${encodeURIComponent(state.color)}` : ''}`);
    } catch (e) {
      showError(e.message);
    }
  }
  await load();
}

init();
