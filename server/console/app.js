// The ATOTA web console: a client of the management API (docs/server-api.md), nothing more.
// Plain JavaScript, no framework, no build step. The page's Content-Security-Policy is
// default-src 'self', so there is no inline script or style, and every piece of text from the
// server reaches the page through textContent, never as HTML.
'use strict';

(function () {
  const MAX_UPLOAD = 16 * 1024 * 1024; // docs/server-api.md: uploads are limited to 16 MiB
  const FILE_NAME = /^[a-z0-9_]{1,16}\.bin$/; // docs/server-api.md: names of files

  // The CSRF token lives in memory only: a reload asks GET /api/v1/session for it again.
  const state = { csrf: null, account: null, productId: null, product: null };

  const $ = (id) => document.getElementById(id);

  // ---- talking to the server ------------------------------------------------------------

  class ApiError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  // method, path under /api/v1, body: an object (sent as JSON), a Blob (sent raw) or undefined.
  // Resolves to the parsed JSON answer (null when empty); rejects with an ApiError that carries
  // the server's {"error"} text.
  async function api(method, path, body) {
    const headers = { Accept: 'application/json' };
    let payload;
    if (body instanceof Blob) {
      headers['Content-Type'] = 'application/octet-stream';
      payload = body;
    } else if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      payload = JSON.stringify(body);
    }
    if (method !== 'GET' && method !== 'HEAD' && state.csrf) headers['X-CSRF-Token'] = state.csrf;
    let res;
    try {
      res = await fetch('/api/v1' + path, {
        method, headers, body: payload, credentials: 'same-origin', cache: 'no-store',
      });
    } catch (e) {
      throw new ApiError(0, 'the server cannot be reached (' + e.message + ')');
    }
    const text = await res.text();
    let data = null;
    if (text) {
      try {
        data = JSON.parse(text);
      } catch (e) {
        data = null;
      }
    }
    if (!res.ok) {
      let msg = data && typeof data.error === 'string' ? data.error
        : ('the server answered ' + res.status + ' ' + res.statusText).trim();
      if (res.status === 413) msg = 'the file is too large for the server (' + msg + ')';
      throw new ApiError(res.status, msg);
    }
    return data;
  }

  // Runs an action of the user; shows its failure as "<what>: <the server's reason>". A quiet
  // action (a reload of what is shown) leaves an earlier message in place.
  async function act(what, fn, quiet) {
    if (!quiet) clearError();
    try {
      return await fn();
    } catch (e) {
      if (e instanceof ApiError && e.status === 401 && state.account) {
        signedOut('Your session has ended: sign in again.');
        return undefined;
      }
      showError(what + ': ' + (e.message || String(e)));
      return undefined;
    }
  }

  // ---- small helpers ----------------------------------------------------------------------

  // el('td', {class: 'x', 'data-testid': 'y'}, 'text', child, ...)
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'onclick' || k === 'onsubmit' || k === 'onchange') e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v === true ? '' : String(v));
    }
    for (const c of children) {
      if (c === undefined || c === null || c === false) continue;
      e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return e;
  }

  function fmtTime(t) {
    if (!t) return 'never';
    const d = new Date(t * 1000);
    const p = (n) => String(n).padStart(2, '0');
    return d.getFullYear() + '-' + p(d.getMonth() + 1) + '-' + p(d.getDate()) + ' ' +
      p(d.getHours()) + ':' + p(d.getMinutes()) + ':' + p(d.getSeconds());
  }

  function fmtSize(n) {
    const bytes = Number(n).toLocaleString('en-US') + ' bytes';
    if (n < 1024) return bytes;
    const units = ['KiB', 'MiB', 'GiB'];
    let v = n;
    let u = -1;
    while (v >= 1024 && u < units.length - 1) {
      v /= 1024;
      u++;
    }
    return bytes + ' (' + v.toFixed(1) + ' ' + units[u] + ')';
  }

  function showError(msg) {
    $('error-text').textContent = msg;
    $('error').hidden = false;
  }

  function clearError() {
    $('error').hidden = true;
    $('error-text').textContent = '';
  }

  let noticeTimer = null;
  function notice(msg) {
    $('notice').textContent = msg;
    clearTimeout(noticeTimer);
    noticeTimer = setTimeout(() => { $('notice').textContent = ''; }, 6000);
  }

  async function copyText(text, what) {
    try {
      if (navigator.clipboard && window.isSecureContext) {
        await navigator.clipboard.writeText(text);
      } else {
        const t = el('textarea', { 'aria-hidden': 'true', class: 'offscreen' }, text);
        document.body.append(t);
        t.select();
        const ok = document.execCommand('copy');
        t.remove();
        if (!ok) throw new Error('the browser refused');
      }
      notice(what + ' copied.');
    } catch (e) {
      showError('Copy ' + what + ': ' + e.message + '. Select the text and copy it by hand.');
    }
  }

  function copyButton(text, what, testid) {
    return el('button', {
      type: 'button', class: 'small', 'data-testid': testid, 'aria-label': 'Copy ' + what,
      onclick: () => copyText(text, what),
    }, 'Copy');
  }

  // ---- session ----------------------------------------------------------------------------

  function signedIn(answer) {
    state.csrf = answer.csrf_token;
    state.account = answer.account;
    $('account-name').textContent = answer.account.name + (answer.account.is_admin ? ' (admin)' : '');
    $('account').hidden = false;
    $('signin').hidden = true;
    $('app').hidden = false;
    route();
  }

  function signedOut(msg) {
    state.csrf = null;
    state.account = null;
    state.product = null;
    $('account').hidden = true;
    $('app').hidden = true;
    $('product').hidden = true;
    $('signin').hidden = false;
    $('signin-password').value = '';
    $('new-device').hidden = true;
    if (msg) showError(msg);
    $('signin-name').focus();
  }

  $('signin-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    act('Sign in', async () => {
      const answer = await api('POST', '/session', {
        name: $('signin-name').value, password: $('signin-password').value,
      });
      $('signin-password').value = '';
      signedIn(answer);
    });
  });

  $('signout').addEventListener('click', () => {
    act('Sign out', async () => {
      await api('DELETE', '/session');
      signedOut();
      notice('Signed out.');
    });
  });

  $('password-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    act('Change password', async () => {
      await api('PUT', '/accounts/me/password', {
        old_password: $('password-old').value, new_password: $('password-new').value,
      });
      $('password-old').value = '';
      $('password-new').value = '';
      $('password-form').closest('details').open = false;
      notice('Password changed.');
    });
  });

  $('error-close').addEventListener('click', clearError);

  // ---- products ---------------------------------------------------------------------------

  // The selected product is in the address (#product/<id>), so a reload keeps it.
  function route() {
    const m = /^#product\/(\d+)$/.exec(location.hash);
    state.productId = m ? Number(m[1]) : null;
    loadProducts();
    if (state.productId) loadProduct();
    else $('product').hidden = true;
  }
  window.addEventListener('hashchange', () => { if (state.account) route(); });

  async function loadProducts() {
    await act('List products', async () => {
      const { products } = await api('GET', '/products');
      const list = $('product-list');
      list.replaceChildren(...products.map((p) => el('li', {},
        el('a', {
          href: '#product/' + p.id, 'data-testid': 'product-link', 'data-product-name': p.name,
          'aria-current': p.id === state.productId ? 'page' : undefined,
        }, p.name))));
      $('product-empty').hidden = products.length > 0;
    }, true);
  }

  $('product-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    act('Create product', async () => {
      const p = await api('POST', '/products', { name: $('product-name').value });
      $('product-name').value = '';
      notice('Product ' + p.name + ' created.');
      if (location.hash === '#product/' + p.id) route();
      else location.hash = '#product/' + p.id;
    });
  });

  async function loadProduct() {
    const id = state.productId;
    await act('Open product', async () => {
      const p = await api('GET', '/products/' + id);
      if (id !== state.productId) return; // another product was chosen meanwhile
      state.product = p;
      renderProduct(p);
    }, true);
  }

  function renderProduct(p) {
    $('product').hidden = false;
    $('product-title').textContent = p.name;
    const rec = (p.versions || []).find((v) => v.recommended);
    $('product-recommended').textContent = p.recommended_version || (rec && rec.version) || 'none';
    $('device-api-url').textContent = location.origin + '/v1/device/rom/';
    renderDevices(p.devices || []);
    renderVersions(p.versions || []);
  }

  // ---- devices ----------------------------------------------------------------------------

  function renderDevices(devices) {
    $('device-rows').replaceChildren(...devices.map((d) => {
      const q = d.last_query;
      const dl = d.last_download;
      return el('tr', { 'data-testid': 'device-row', 'data-device-name': d.name },
        el('th', { scope: 'row', 'data-testid': 'device-name' }, d.name),
        el('td', {}, d.key ? el('code', { 'data-testid': 'device-key' }, d.key) : '—', ' ',
          d.key ? copyButton(d.key, 'the key of ' + d.name, 'device-key-copy') : null),
        el('td', { 'data-testid': 'device-last-seen' }, fmtTime(d.last_seen_at)),
        el('td', { 'data-testid': 'device-last-query' },
          q ? fmtTime(q.at) + ' — answered ' + (q.version || 'no version') : 'never'),
        el('td', { 'data-testid': 'device-last-download' },
          dl ? fmtTime(dl.at) + ' — ' + dl.file + ' of ' + dl.version : 'never'));
    }));
    $('device-empty').hidden = devices.length > 0;
  }

  $('device-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const pid = state.productId;
    act('Create device', async () => {
      const d = await api('POST', '/products/' + pid + '/devices', { name: $('device-name').value });
      $('device-name').value = '';
      $('new-device-name').textContent = d.name;
      $('new-device-key').textContent = d.key;
      $('new-device').hidden = false;
      notice('Device ' + d.name + ' created.');
      await loadProduct();
    });
  });

  $('new-device-key-copy').addEventListener('click', () => {
    copyText($('new-device-key').textContent, 'The device key');
  });

  $('devices-refresh').addEventListener('click', () => loadProduct());

  // ---- versions and files -----------------------------------------------------------------

  $('version-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const pid = state.productId;
    act('Create version', async () => {
      const v = await api('POST', '/products/' + pid + '/versions', {
        version: $('version-version').value, corename: $('version-corename').value,
      });
      $('version-version').value = '';
      notice('Version ' + v.version + ' created.');
      await loadProduct();
    });
  });

  function renderVersions(versions) {
    $('version-empty').hidden = versions.length > 0;
    // Newest first: the one being prepared is the one a person works on.
    const sorted = versions.slice().sort((a, b) => b.id - a.id);
    $('versions').replaceChildren(...sorted.map(renderVersion));
  }

  function renderVersion(v) {
    const pid = state.productId;
    const headingId = 'version-' + v.id + '-title';
    const head = el('div', { class: 'row-between' },
      el('h4', { id: headingId },
        v.version, ' ', v.corename ? el('span', { class: 'meta' }, '(' + v.corename + ')') : null,
        ' ', v.recommended ? el('span', { class: 'badge', 'data-testid': 'version-current' }, 'current') : null),
      v.recommended ? null : el('button', {
        type: 'button', 'data-testid': 'version-make-current',
        onclick: () => act('Make ' + v.version + ' current', async () => {
          await api('POST', '/products/' + pid + '/versions/' + v.id + '/current');
          notice(v.version + ' is now the version devices are offered.');
          await loadProduct();
        }),
      }, 'Make current'));

    const files = (v.files || []).slice().sort((a, b) =>
      (a.name === 'ota.bin' ? -1 : b.name === 'ota.bin' ? 1 : a.name.localeCompare(b.name)));
    const table = files.length === 0 ? el('p', { class: 'hint' }, 'No file yet: upload ota.bin (the app image) and any <label>.bin.')
      : el('div', { class: 'scroll' }, el('table', { class: 'files' },
        el('caption', { class: 'sr-only' }, 'Files of ' + v.version),
        el('thead', {}, el('tr', {},
          el('th', { scope: 'col' }, 'File'), el('th', { scope: 'col' }, 'Chip'),
          el('th', { scope: 'col' }, 'App version'), el('th', { scope: 'col' }, 'Size'),
          el('th', { scope: 'col' }, 'SHA-256'), el('th', { scope: 'col' }, 'Download URL'),
          el('th', { scope: 'col' }, el('span', { class: 'sr-only' }, 'Actions')))),
        el('tbody', {}, ...files.map((f) => renderFile(v, f)))));

    return el('section', {
      class: 'version' + (v.recommended ? ' current' : ''), 'data-testid': 'version',
      'data-version': v.version, 'aria-labelledby': headingId,
    }, head, table, uploadForm(v));
  }

  function renderFile(v, f) {
    const pid = state.productId;
    const url = f.url || '';
    // docs/userota.md: AT+USEROTA=<url len>, then the URL after the '>' prompt.
    const userota = f.name === 'ota.bin' && url
      ? el('div', { class: 'meta' }, 'AT+USEROTA: ',
        el('code', { 'data-testid': 'file-userota' }, 'AT+USEROTA=' + new TextEncoder().encode(url).length),
        ', then send the URL')
      : null;
    return el('tr', { 'data-testid': 'file-row', 'data-file': f.name },
      el('th', { scope: 'row', 'data-testid': 'file-name' }, f.name),
      el('td', { 'data-testid': 'file-chip' }, f.chip || '—'),
      el('td', { 'data-testid': 'file-app-version' }, f.app_version || '—',
        f.project ? el('div', { class: 'meta' }, f.project) : null),
      el('td', { 'data-testid': 'file-size', 'data-bytes': f.size }, fmtSize(f.size)),
      el('td', {}, el('code', { class: 'hash', 'data-testid': 'file-sha256' }, f.sha256)),
      el('td', {},
        url ? el('a', { href: url, 'data-testid': 'file-url', class: 'url' }, url) : '—', ' ',
        url ? copyButton(url, 'the URL of ' + f.name, 'file-url-copy') : null, userota),
      el('td', {}, el('button', {
        type: 'button', class: 'small danger', 'data-testid': 'file-delete',
        'aria-label': 'Delete ' + f.name + ' of ' + v.version,
        onclick: () => {
          if (!window.confirm('Delete ' + f.name + ' of ' + v.version + '?')) return;
          act('Delete ' + f.name, async () => {
            await api('DELETE', '/products/' + pid + '/versions/' + v.id + '/files/' + encodeURIComponent(f.name));
            notice(f.name + ' deleted.');
            await loadProduct();
          });
        },
      }, 'Delete')));
  }

  function uploadForm(v) {
    const pid = state.productId;
    const fileId = 'upload-file-' + v.id;
    const nameId = 'upload-name-' + v.id;
    const input = el('input', { id: fileId, type: 'file', 'data-testid': 'file-input', required: true });
    const name = el('input', {
      id: nameId, 'data-testid': 'file-name-input', list: 'file-names', required: true,
      pattern: '[a-z0-9_]{1,16}\\.bin', placeholder: 'ota.bin', autocomplete: 'off',
      title: 'ota.bin for the app image, or <partition label>.bin',
    });
    let named = false; // the person typed a name: a chosen file no longer changes it
    name.addEventListener('input', () => { named = name.value !== ''; });
    input.addEventListener('change', () => {
      const f = input.files[0];
      if (!f || named) return;
      // A file already called like a partition keeps its name; anything else is most likely the
      // app image (esp-at.bin, a build's <project>.bin).
      name.value = FILE_NAME.test(f.name) ? f.name : 'ota.bin';
    });
    const button = el('button', { type: 'submit', 'data-testid': 'file-upload' }, 'Upload');
    const form = el('form', { class: 'inline upload', 'aria-label': 'Upload a file to ' + v.version },
      el('label', { for: fileId }, 'File'), input,
      el('label', { for: nameId }, 'Upload as'), name, button);
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const f = input.files[0];
      const as = name.value.trim();
      act('Upload ' + (as || 'file') + ' to ' + v.version, async () => {
        if (!f) throw new Error('choose a file first');
        if (!FILE_NAME.test(as)) {
          throw new Error('"' + as + '" is not a file name the server takes: ota.bin, or ' +
            '<label>.bin with a label of 1 to 16 characters a-z, 0-9 and _');
        }
        if (f.size > MAX_UPLOAD) throw new Error(f.name + ' is ' + fmtSize(f.size) + ': uploads are limited to 16 MiB');
        button.disabled = true;
        notice('Uploading ' + as + ' (' + fmtSize(f.size) + ')…');
        try {
          const answer = await api('PUT', '/products/' + pid + '/versions/' + v.id + '/files/' +
            encodeURIComponent(as), f);
          if (answer && answer.warning) showError('Uploaded ' + as + ', with a warning: ' + answer.warning);
          notice(as + ' uploaded to ' + v.version + '.');
        } finally {
          button.disabled = false;
        }
        await loadProduct();
      });
    });
    return form;
  }

  // ---- start ------------------------------------------------------------------------------

  (async function start() {
    try {
      signedIn(await api('GET', '/session'));
    } catch (e) {
      signedOut(e instanceof ApiError && (e.status === 401 || e.status === 403) ? null
        : 'Could not ask the server for a session: ' + e.message);
    }
  })();
})();
