// The lookalike web page: search the served index by an image (drop or choose), by text when
// the model has a text tower, or by clicking a result. Talks to the JSON API of the same server.
const $ = (id) => document.getElementById(id);
const state = { info: null };

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

function k() {
  return Number($('k').value);
}

function render(res, label, selfId) {
  const list = $('results');
  list.replaceChildren();
  for (const h of res.results) {
    const li = document.createElement('li');
    if (h.id === selfId) li.className = 'self';
    const b = document.createElement('button');
    b.className = 'hit';
    b.type = 'button';
    b.title = `search with ${h.id}`;
    b.dataset.id = h.id;
    const img = document.createElement('img');
    img.src = h.thumbnail;
    img.alt = h.id;
    img.loading = 'lazy';
    const meta = document.createElement('div');
    meta.className = 'meta';
    meta.innerHTML = '<span class="rank"></span><span class="score"></span>';
    meta.children[0].textContent = `#${h.rank}`;
    meta.children[1].textContent = h.score.toFixed(3);
    const id = document.createElement('div');
    id.className = 'id';
    // The file name shows; the full id (folders included) is the tooltip.
    id.textContent = h.id.split('/').pop();
    id.title = h.id;
    b.append(img, meta, id);
    b.addEventListener('click', () => searchById(h.id));
    li.append(b);
    list.append(li);
  }
  $('status').textContent = `${res.results.length} results for ${label} · ${res.took_ms.toFixed(1)} ms`;
}

async function run(label, request, selfId) {
  showError('');
  $('status').textContent = `searching ${label}…`;
  try {
    const t0 = performance.now();
    const res = await request();
    res.took_ms ??= performance.now() - t0;
    render(res, label, selfId);
  } catch (e) {
    $('status').textContent = '';
    showError(e.message);
  }
}

function searchById(id) {
  $('preview').src = `/items/${encodeURIComponent(id)}/thumbnail`;
  $('preview').hidden = false;
  $('drop-text').textContent = id;
  history.replaceState(null, '', `#id=${encodeURIComponent(id)}`);
  return run(id, () => api(`/search?id=${encodeURIComponent(id)}&k=${k()}`), id);
}

function searchByFile(file) {
  if (!file) return;
  if (!file.type.startsWith('image/')) return showError(`${file.name}: not an image`);
  const limit = state.info?.limits?.upload_bytes;
  if (limit && file.size > limit) return showError(`${file.name}: ${(file.size / 1e6).toFixed(1)} MB, the limit is ${(limit / 1e6).toFixed(0)} MB`);
  $('preview').src = URL.createObjectURL(file);
  $('preview').hidden = false;
  $('drop-text').textContent = file.name;
  history.replaceState(null, '', location.pathname);
  const body = new FormData();
  body.append('image', file, file.name);
  return run(file.name, () => api(`/search?k=${k()}`, { method: 'POST', body }));
}

function searchByText(text) {
  if (!text.trim()) return;
  $('preview').hidden = true;
  $('drop-text').innerHTML = '<strong>Drop an image</strong> or click to choose one';
  return run(`“${text}”`, () => api(`/search?text=${encodeURIComponent(text)}&k=${k()}`));
}

async function init() {
  const drop = $('drop');
  $('file').addEventListener('change', (e) => searchByFile(e.target.files[0]));
  drop.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' || e.key === ' ') $('file').click();
  });
  for (const ev of ['dragenter', 'dragover']) drop.addEventListener(ev, (e) => { e.preventDefault(); drop.classList.add('over'); });
  for (const ev of ['dragleave', 'drop']) drop.addEventListener(ev, () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    searchByFile(e.dataTransfer.files[0]);
  });
  $('text-form').addEventListener('submit', (e) => {
    e.preventDefault();
    searchByText($('text').value);
  });
  try {
    const info = await api('/info');
    state.info = info;
    const model = info.model.split(/[\\/]/).pop();
    $('info').textContent = `${info.count.toLocaleString()} images · ${info.dim}-d · model ${model}${info.head ? ` + head ${info.head.file}` : ''}`;
    $('text-form').hidden = !info.text;
    const m = /^#id=(.+)$/.exec(location.hash);
    if (m) searchById(decodeURIComponent(m[1]));
  } catch (e) {
    $('info').textContent = '';
    showError(`cannot reach the server: ${e.message}`);
  }
}

init();
